"""The pipeline: handoff dispatch, held events for heuristics, accounting, IP reassembly."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from chargescope.analyzer import net
from chargescope.analyzer.handoff import FrameHandoff, StreamHandoff
from chargescope.analyzer.pipeline import Pipeline, Reassembled, iter_stream_events
from chargescope.analyzer.reassembly import IpDefragmenter
from chargescope.analyzer.records import (
    Frame,
    Link,
    Message,
    Problem,
    StreamClose,
    StreamData,
)

from .netbuild import eth, ipv4, tcp, udp

CLIENT, SERVER = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])


def frames_of(raws: list[bytes]) -> list[Frame]:
    return [Frame(i, i * 1000, 1, raw, len(raw), source="p") for i, raw in enumerate(raws, 1)]


def conversation(dport: int, c_data: bytes, s_data: bytes) -> list[bytes]:
    def seg(client: bool, flags: int, seq: int, data: bytes = b"") -> bytes:
        src, dst = (CLIENT, SERVER) if client else (SERVER, CLIENT)
        sport, port = (40000, dport) if client else (dport, 40000)
        return eth(0x0800, ipv4(6, tcp(data, flags=flags, sport=sport, dport=port, seq=seq),
                                src=src, dst=dst))
    return [seg(True, 0x02, 99), seg(False, 0x12, 499), seg(True, 0x10, 100),
            seg(True, 0x18, 100, c_data), seg(False, 0x18, 500, s_data),
            seg(True, 0x11, 100 + len(c_data)), seg(False, 0x11, 500 + len(s_data))]


def message(name: str, ts: int) -> Message:
    return Message(Link.A, "test", name, ts, "", "", {})


class Recorder:
    """A stream dissector that turns every event into a Message naming it."""

    def __init__(self, conn) -> None:
        self.conn = conn

    def on_data(self, event: StreamData) -> list[Message]:
        return [message(f"data{event.direction}:{event.data.decode()}", event.ts_ns)]

    def on_gap(self, event) -> list[Message]:
        return [message("gap", event.ts_ns)]

    def on_close(self, event: StreamClose) -> list[Message]:
        return [message(f"close{event.direction}:{event.reason}", event.ts_ns)]


def test_frame_handoffs_by_ethertype_and_udp_port_and_accounting() -> None:
    raws = [eth(0x88E1, b"\x01\x60\x60" + b"\x00" * 40),
            eth(0x0800, ipv4(17, udp(b"\x01\xfe\x90\x00"))),
            eth(0x0806, b"\x00" * 28),
            eth(0x0800, b"\x45\x00")]
    seen = []
    handoffs = [
        FrameHandoff("homeplug", 0x88E1, None,
                     lambda p: [message(f"hp:{p.payload[:3].hex()}", p.frame.ts_ns)]),
        FrameHandoff("sdp", None, 15118, lambda p: seen.append(p.sport) or []),
    ]
    pipeline = Pipeline(handoffs, [])
    out = list(pipeline.run(frames_of(raws)))
    assert [getattr(o, "name", None) or o.kind for o in out] == ["hp:016060", "net.ipv4.short"]
    assert seen == [15118]
    stats = pipeline.stats.as_dict()
    assert (stats["frames"], stats["decoded"], stats["malformed"], stats["out_of_scope"]) == (
        4, 2, 1, 1)
    assert stats["protocols"]["homeplug"] == 1 and stats["protocols"]["udp"] == 1
    assert stats["protocols"]["ethertype:0x0806"] == 1


def test_stream_handoff_by_port() -> None:
    pipeline = Pipeline([], [StreamHandoff("rec", (15118,), None, Recorder)])
    names = [m.name for m in pipeline.run(frames_of(conversation(15118, b"hi", b"yo")))]
    assert names == ["data0:hi", "data1:yo", "close0:fin", "close1:fin"]
    assert pipeline.stats.connections == 1


def test_heuristic_probe_gets_held_events_replayed_in_order() -> None:
    probed = []

    def probe(first: bytes, direction: int) -> bool:
        probed.append((first, direction))
        return first.startswith(b"yo")  # decides on the server's first bytes

    pipeline = Pipeline([], [StreamHandoff("rec", (), probe, Recorder)])
    names = [m.name for m in pipeline.run(frames_of(conversation(8080, b"hi", b"yo")))]
    assert probed == [(b"hi", 0), (b"yo", 1)]
    assert names == ["data0:hi", "data1:yo", "close0:fin", "close1:fin"]


def test_undecided_connection_is_counted_not_dissected() -> None:
    pipeline = Pipeline([], [StreamHandoff("rec", (), lambda b, d: False, Recorder)])
    assert list(pipeline.run(frames_of(conversation(8080, b"hi", b"yo")))) == []


def test_raising_dissector_becomes_problem_and_run_goes_on() -> None:
    class Broken(Recorder):
        def on_data(self, event):
            raise ValueError("bug")

    pipeline = Pipeline([], [StreamHandoff("broken", (15118,), None, Broken)])
    out = list(pipeline.run(frames_of(conversation(15118, b"hi", b"yo"))))
    assert [o.kind for o in out if isinstance(o, Problem)] == ["pipeline.dissector.error"]
    assert pipeline.stats.frames == 7


def _fragments(payload: bytes, ident: int, size: int) -> list[bytes]:
    body = udp(payload)
    out = []
    for off in range(0, len(body), size):
        more = 0x2000 if off + size < len(body) else 0
        out.append(eth(0x0800, ipv4(17, body[off:off + size], ident=ident,
                                    flags_frag=more | (off // 8))))
    return out


def test_ipv4_fragments_reassemble_out_of_order_and_reach_udp_handoff() -> None:
    got = []
    handoff = FrameHandoff("sdp", None, 15118, lambda p: got.append(p.payload) or [])
    raws = _fragments(b"S" * 100, 5, 32)
    items = list(iter_stream_events(frames_of(raws[::-1])))
    rebuilt = [i for i in items if isinstance(i, Reassembled)]
    assert len(rebuilt) == 1 and rebuilt[0].packet.frame.number == len(raws)
    list(Pipeline([handoff], []).run(frames_of(raws[::-1])))
    assert got == [b"S" * 100]


def test_fragment_overlap_conflict_and_incomplete_at_end() -> None:
    raws = _fragments(b"T" * 60, 6, 32)
    bad = bytearray(raws[1])
    bad[-1] ^= 0xFF
    defrag = IpDefragmenter(net.decode)
    problems = []
    for f in frames_of([raws[1], bytes(bad)]):
        whole, found = defrag.feed(net.decode(f))
        assert whole is None
        problems += found
    assert [p.kind for p in problems] == ["ip.fragment.overlap_conflict"]
    assert [(p.kind, p.frame) for p in defrag.finish()] == [("ip.fragment.incomplete", 1)]


def test_fragment_timeout_by_capture_time() -> None:
    raws = _fragments(b"U" * 60, 8, 32)
    defrag = IpDefragmenter(net.decode, timeout_ns=500)
    first = Frame(1, 0, 1, raws[0], len(raws[0]))
    later = Frame(2, 10_000, 1, raws[1], len(raws[1]))
    assert defrag.feed(net.decode(first)) == (None, [])
    whole, problems = defrag.feed(net.decode(later))
    assert whole is None and [p.kind for p in problems] == ["ip.fragment.incomplete"]


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 600), fragsize=st.sampled_from([8, 16, 64, 256]),
       order=st.randoms(use_true_random=False), dups=st.lists(st.integers(0, 80), max_size=5))
def test_any_fragment_order_with_duplicates_rebuilds_the_datagram(size, fragsize, order,
                                                                  dups) -> None:
    assume(8 + size > fragsize)  # else it is one whole datagram, not fragments
    payload = bytes(range(256)) * 3
    raws = _fragments(payload[:size], 11, fragsize)
    raws += [raws[i % len(raws)] for i in dups]
    order.shuffle(raws)
    defrag = IpDefragmenter(net.decode)
    rebuilt = []
    for f in frames_of(raws):
        whole, problems = defrag.feed(net.decode(f))
        assert problems == []
        if whole is not None:
            rebuilt.append(whole)
    # duplicates arriving after completion may complete the datagram a second time
    assert len(rebuilt) >= 1 and (len(rebuilt) == 1 or dups)
    frames = {f.number: f for f in frames_of(raws)}
    for r in rebuilt:
        assert r.packet.status == net.DECODED and r.packet.payload == payload[:size]
        mapped = b"".join(frames[o.frame].data[o.start:o.start + o.length] for o in r.origin)
        assert mapped == udp(payload[:size])  # origin maps the IP payload to the fragments


def test_every_problem_kind_in_the_sources_is_registered() -> None:
    import re
    from pathlib import Path

    from chargescope.analyzer import pipeline

    root = Path(pipeline.__file__).resolve().parent
    sources = [root / "net.py", root / "pipeline.py", *sorted((root / "reassembly").glob("*.py")),
               *(root.parent / "ext").glob("_netdecode.pyx")]
    used = set()
    for path in sources:
        used |= set(re.findall(r'"((?:net|ip|tcp|pipeline)\.[a-z0-9_]+\.[a-z0-9_]+)"',
                               path.read_text()))
    assert used and used <= set(pipeline.PROBLEM_KINDS)


_segments = st.builds(
    lambda client, flags, seq, data, frag: (client, flags, seq, data, frag),
    st.booleans(), st.integers(0, 0x3F), st.sampled_from([0, 1, 2, 100, 2**31, 2**32 - 3]),
    st.binary(max_size=12), st.sampled_from([0, 0, 0, 0x2000, 0x0001, 0x2002]))


@settings(max_examples=200, deadline=None)
@given(segments=st.lists(_segments, max_size=30), junk=st.lists(st.binary(max_size=60),
                                                                 max_size=5))
def test_hostile_tcp_and_fragments_never_break_the_pipeline(segments, junk) -> None:
    raws = []
    for client, flags, seq, data, frag in segments:
        src, dst = (CLIENT, SERVER) if client else (SERVER, CLIENT)
        sport, dport = (40000, 15118) if client else (15118, 40000)
        raws.append(eth(0x0800, ipv4(6, tcp(data, flags=flags, sport=sport, dport=dport,
                                            seq=seq), src=src, dst=dst, flags_frag=frag)))
    raws += junk
    frames = frames_of(raws)
    pipeline = Pipeline([], [StreamHandoff("rec", (15118,), None, Recorder)],
                        tcp_max_buffer=16)
    out = list(pipeline.run(frames))
    stats = pipeline.stats
    assert stats.frames == len(frames) == stats.decoded + stats.malformed + stats.out_of_scope
    assert all(isinstance(o, (Message, Problem)) for o in out)
    # stream offsets never go backwards and data never overlaps within a direction
    ends: dict[tuple[int, int], int] = {}
    for item in iter_stream_events(frames_of(raws), tcp_max_buffer=16):
        if isinstance(item, (StreamData,)) or type(item).__name__ == "StreamGap":
            key = (item.conn.index, item.direction)
            length = len(item.data) if isinstance(item, StreamData) else item.length
            assert item.offset == ends.get(key, 0)
            ends[key] = item.offset + length
