"""The steady-state fast paths: `TcpReassembler.feed_frame` and the pipeline loop
(hot path "pipeloop") give exactly what the general path (decode + feed, per item)
gives, for both twins, on generated and mutated traffic."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chargescope import backends
from chargescope.analyzer import net
from chargescope.analyzer.handoff import FrameHandoff, StreamHandoff
from chargescope.analyzer.pipeline import Pipeline
from chargescope.analyzer.records import Frame, Link, Message, StreamData
from tests.conftest import load_impl, twin_params

from .netbuild import eth, ipv4, tcp
from .tcp_traffic import ACK, FIN, PSH, SYN, traffic

TIMEOUTS = st.sampled_from([600 * 10**9, 5 * 10**9, 10**6])


def _general_items(reassembler, frame: Frame) -> list:
    packet = net.decode(frame)
    if packet.status is net.DECODED and packet.frag is None and packet.is_tcp:
        return reassembler.feed(packet)
    return []


def drive(impl, frames: list[Frame], fast: bool, **options) -> tuple[list, int]:
    """Per frame the events it caused, then what `finish` gives; and how many frames the
    fast path took."""
    reassembler = impl.TcpReassembler(**options)
    out: list = []
    taken = 0
    for frame in frames:
        got = reassembler.feed_frame(frame) if fast else None
        if got is None:
            out.append(_general_items(reassembler, frame))
            continue
        taken += 1
        version, event = got
        packet = net.decode(frame)  # what the fast path stood for
        assert (packet.status, packet.frag, packet.ip_proto, packet.ip_version) == (
            net.DECODED, None, net.IPPROTO_TCP, version)
        assert event is None or (event.data == packet.payload and event.refs[0].start
                                 == packet.payload_offset)
        out.append([] if event is None else [event])
    out.append(reassembler.open_connections)
    out.append(reassembler.finish())
    return out, taken


@pytest.mark.parametrize("which", twin_params("tcpreassembly"))
@settings(max_examples=300, deadline=None)
@given(frames=traffic(), idle=TIMEOUTS, max_buffer=st.sampled_from([1 << 20, 40]))
def test_feed_frame_equals_decode_and_feed(which, frames, idle, max_buffer) -> None:
    impl = load_impl("tcpreassembly", which)
    options = {"idle_timeout_ns": idle, "max_buffer": max_buffer}
    general, _ = drive(impl, frames, False, **options)
    fast, _ = drive(impl, frames, True, **options)
    assert fast == general


@settings(max_examples=150, deadline=None)
@given(frames=traffic(), idle=TIMEOUTS)
def test_feed_frame_twins_agree(frames, idle) -> None:
    cython = backends.load_extension("tcpreassembly")
    if cython is None:
        pytest.skip("tcpreassembly extension not built")
    twin = backends.load_twin("tcpreassembly")
    got = [drive(impl, frames, True, idle_timeout_ns=idle) for impl in (twin, cython)]
    assert got[0] == got[1]  # same events and the same frames taken


def _conversation(count: int, port: int = 9000) -> list[Frame]:
    def seg(client: bool, flags: int, seq: int, ack: int, data: bytes = b"") -> bytes:
        src, dst = (bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))[::1 if client else -1]
        sport, dport = (40000, port) if client else (port, 40000)
        return eth(0x0800, ipv4(6, tcp(data, flags=flags, sport=sport, dport=dport, seq=seq,
                                       ack=ack), src=src, dst=dst))
    raws = [seg(True, SYN, 99, 0), seg(False, SYN | ACK, 499, 100), seg(True, ACK, 100, 500)]
    c, s = 100, 500
    for i in range(count):
        raws.append(seg(True, ACK | PSH, c, s, b"req%d" % i))
        c += len(b"req%d" % i)
        raws.append(seg(False, ACK | PSH, s, c, b"answer%d" % i))
        s += len(b"answer%d" % i)
        raws.append(seg(True, ACK, c, s))
    return [Frame(i, i * 1000, 1, raw, len(raw), source="c") for i, raw in enumerate(raws, 1)]


@pytest.mark.parametrize("which", twin_params("tcpreassembly"))
def test_steady_state_frames_take_the_fast_path(which) -> None:
    impl = load_impl("tcpreassembly", which)
    frames = _conversation(50)
    general, _ = drive(impl, frames, False)
    fast, taken = drive(impl, frames, True)
    assert fast == general
    # only the SYN and SYN+ACK go the general way (they open the connection and its halves)
    assert taken == len(frames) - 2
    data = [e for per in fast[:-2] for e in per if isinstance(e, StreamData)]
    assert len(data) == 100


def _segment(number: int, client: bool, flags: int, seq: int, ack: int, data: bytes = b""
             ) -> Frame:
    src, dst = (bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))[::1 if client else -1]
    sport, dport = (40000, 9000) if client else (9000, 40000)
    raw = eth(0x0800, ipv4(6, tcp(data, flags=flags, sport=sport, dport=dport,
                                  seq=seq % (1 << 32), ack=ack % (1 << 32)), src=src, dst=dst))
    return Frame(number, number * 1000, 1, raw, len(raw), source="e")


@pytest.mark.parametrize("which", twin_params("tcpreassembly"))
@pytest.mark.parametrize("beyond", [0, 1, 2, 3, 65535, 65536, 2**31 - 1, 2**31, 2**32 - 1])
def test_an_ack_beyond_the_bytes_seen_takes_the_general_path(which, beyond) -> None:
    """An ACK of bytes not seen (a capture loss, `_acked`) is the general path's, except
    one byte (the FIN it may acknowledge) and what is more than half the sequence space
    ahead (an old ACK)."""
    impl = load_impl("tcpreassembly", which)
    frames = [_segment(1, True, SYN, 99, 0), _segment(2, False, SYN | ACK, 499, 100),
              _segment(3, True, ACK | PSH, 100, 500, b"hello"),
              _segment(4, False, ACK | PSH, 500, 105 + beyond, b"hi")]
    general, _ = drive(impl, frames, False)
    fast, taken = drive(impl, frames, True)
    assert fast == general
    assert taken == (2 if beyond <= 1 or beyond >= 2**31 else 1)


@pytest.mark.parametrize("which", twin_params("tcpreassembly"))
@pytest.mark.parametrize("fill", [3, 4, 5, 6])
def test_in_order_bytes_reaching_buffered_ones_take_the_general_path(which, fill) -> None:
    impl = load_impl("tcpreassembly", which)
    frames = [_segment(1, True, SYN, 99, 0), _segment(2, False, SYN | ACK, 499, 100),
              _segment(3, True, ACK | PSH, 104, 500, b"world"),  # 4 bytes ahead: buffered
              _segment(4, True, ACK | PSH, 100, 500, b"hello!"[:fill]),
              _segment(5, True, ACK | PSH, 100 + max(fill, 9), 500, b"more")]
    general, _ = drive(impl, frames, False)
    fast, taken = drive(impl, frames, True)
    assert fast == general
    assert taken == (1 if fill >= 4 else 0)  # frame 5 once the hole is closed


# -- the pipeline loop ----------------------------------------------------------------------

class Recorder:
    """A stream dissector that names every event it gets, and raises on one payload."""

    def __init__(self, conn) -> None:
        self.conn = conn

    def on_data(self, event: StreamData) -> list[Message]:
        if event.data[:1] == b"\x07":
            raise ValueError("a dissector bug")
        return [Message(Link.A, "rec", f"d{event.direction}:{event.data.hex()}", event.ts_ns,
                        "", "", {"offset": event.offset, "refs": event.refs})]

    def on_gap(self, event) -> list[Message]:
        return [Message(Link.A, "rec", f"gap{event.direction}", event.ts_ns, "", "",
                        {"length": event.length})]

    def on_close(self, event) -> list[Message]:
        return [Message(Link.A, "rec", f"close:{event.reason}", event.ts_ns, "", "", {})]


def _probe(data: bytes, direction: int) -> bool:
    return data[:1] in (b"\x05", b"\x30")


def _pipeline(frame_handoffs=()) -> Pipeline:
    return Pipeline(list(frame_handoffs),
                    [StreamHandoff("rec", (15118, 80), None, Recorder),
                     StreamHandoff("probed", (), _probe, Recorder)],
                    tcp_idle_timeout_ns=5 * 10**9, tls=False)


def run_pipeline(frames: list[Frame], loop, fast: bool, frame_handoffs=()) -> tuple:
    """Every item with the stats as read right after it, then the final stats."""
    pipeline = _pipeline(frame_handoffs)
    pipeline._loop = loop
    pipeline._fast_tcp = fast and pipeline._fast_tcp
    out = []
    for item in pipeline.run(iter(frames)):
        stats = pipeline.stats
        out.append((item, stats.frames, stats.decoded, stats.messages, stats.problems,
                    dict(stats.layers)))
    return out, pipeline.stats.as_dict(), dict(pipeline.stats.layers)


@pytest.mark.parametrize("which", twin_params("pipeloop"))
@settings(max_examples=200, deadline=None)
@given(frames=traffic())
def test_pipeline_loop_equals_the_general_path(which, frames) -> None:
    loop = load_impl("pipeloop", which)
    general = run_pipeline(frames, backends.load_twin("pipeloop"), fast=False)
    assert run_pipeline(frames, loop, fast=True) == general
    assert run_pipeline(frames, loop, fast=False) == general


@pytest.mark.parametrize("which", twin_params("pipeloop"))
def test_an_ip_frame_handoff_turns_the_fast_path_off(which) -> None:
    frames = _conversation(5)
    seen = []
    handoff = FrameHandoff("ipv4-watcher", 0x0800, None, lambda p: seen.append(p) or [])
    out = run_pipeline(frames, load_impl("pipeloop", which), True, [handoff])
    assert len(seen) == len(frames)  # every IPv4 frame reached it, as a Packet
    assert out == run_pipeline(frames, backends.load_twin("pipeloop"), False, [handoff])


def test_the_extension_reads_and_builds_records_in_place() -> None:
    """The Cython fast path reads Frame slots and fills ByteRef/StreamData slots directly;
    a change to those records' layout would silently fall back to the slower calls."""
    cython = backends.load_extension("tcpreassembly")
    if cython is None:
        pytest.skip("tcpreassembly extension not built")
    assert cython._in_place() == (True, True)


@pytest.mark.parametrize("which", twin_params("pipeloop"))
def test_stats_of_a_run_left_unfinished_are_complete(which) -> None:
    frames = _conversation(20, port=80)
    pipeline = _pipeline()
    pipeline._loop = load_impl("pipeloop", which)
    items = pipeline.run(iter(frames))
    for _ in range(10):
        next(items)
    early = pipeline.stats  # the counts so far: the frames read up to the 10th message
    assert (early.frames, early.decoded, early.messages) == (
        3 + 15 - 1, 3 + 15 - 1, 10)
    list(_pipeline().run(iter(frames)))  # another pipeline's run changes nothing here
    assert pipeline.stats.frames == early.frames


@pytest.mark.parametrize("which", twin_params("tcpreassembly"))
def test_many_connections_at_once_some_sharing_a_cache_slot(which) -> None:
    """Connections interleaved segment by segment, client ports 256 apart (the same place
    in the extension's direct-mapped cache of recent connections), some closed and their
    ports reused by a new connection while the others go on."""
    impl = load_impl("tcpreassembly", which)
    frames: list[Frame] = []

    def seg(cport: int, client: bool, flags: int, seq: int, ack: int, data: bytes = b""):
        src, dst = (bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))[::1 if client else -1]
        sport, dport = (cport, 9000) if client else (9000, cport)
        raw = eth(0x0800, ipv4(6, tcp(data, flags=flags, sport=sport, dport=dport,
                                      seq=seq % (1 << 32), ack=ack % (1 << 32)),
                               src=src, dst=dst))
        frames.append(Frame(len(frames) + 1, len(frames) * 1000, 1, raw, len(raw), source="m"))

    ports = [40000 + 256 * i for i in range(12)] + [41000 + i for i in range(12)]
    state = {}
    for generation in range(2):
        for port in ports:
            c, s = 1000 * port + generation * 7777, 5000 + port
            seg(port, True, SYN, c - 1, 0)
            seg(port, False, SYN | ACK, s - 1, c)
            state[port] = [c, s]
        for round_ in range(6):
            for port in ports:
                c, s = state[port]
                data = b"%d:%d:%d" % (generation, round_, port)
                seg(port, True, ACK | PSH, c, s, data)
                c += len(data)
                seg(port, False, ACK | PSH, s, c, data[::-1])
                s += len(data)
                seg(port, True, ACK, c, s)
                state[port] = [c, s]
        for port in ports[::2]:  # half of them close; their ports come back next time
            c, s = state[port]
            seg(port, True, FIN | ACK, c, s)
            seg(port, False, FIN | ACK, s, c + 1)
            seg(port, True, ACK, c + 1, s + 1)
    general, _ = drive(impl, frames, False)
    fast, taken = drive(impl, frames, True)
    assert fast == general
    assert taken > len(frames) * 3 // 4
