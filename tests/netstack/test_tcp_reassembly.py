"""TCP reassembly: permutations, duplicates, losses, overlaps, wraparound, lifecycle."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chargescope import backends
from chargescope.analyzer import net
from chargescope.analyzer.records import (
    Frame,
    Problem,
    StreamClose,
    StreamData,
    StreamGap,
    StreamOpen,
)

from .netbuild import eth, ipv4, tcp

CLIENT, SERVER = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
SYN, ACK, FIN, RST, PSH = 0x02, 0x10, 0x01, 0x04, 0x08


class Wire:
    """Makes decoded TCP packets of one connection, numbering frames as it goes."""

    def __init__(self, isn_c: int = 1000, isn_s: int = 9000) -> None:
        self.isn = (isn_c, isn_s)
        self.number = 0
        self.frames: dict[int, Frame] = {}

    def packet(self, direction: int, rel: int, data: bytes = b"", flags: int = ACK | PSH,
               ts: int | None = None, ack: int | None = None) -> net.Packet:
        """A segment at stream offset `rel`; `ack` is absolute (default: the peer's SYN)."""
        self.number += 1
        src, dst = (CLIENT, SERVER) if direction == 0 else (SERVER, CLIENT)
        sport, dport = (40000, 15118) if direction == 0 else (15118, 40000)
        seq = self.isn[direction] + (0 if flags & SYN else 1 + rel)
        ack = (self.isn[1 - direction] + 1 if ack is None else ack) % (1 << 32)  # peer SYN
        raw = eth(0x0800, ipv4(6, tcp(data, flags=flags, sport=sport, dport=dport, seq=seq,
                                      ack=ack), src=src, dst=dst))
        frame = Frame(self.number, self.number * 1000 if ts is None else ts, 1, raw, len(raw),
                      source="w")
        self.frames[self.number] = frame
        return net.decode(frame)

    def handshake(self) -> list[net.Packet]:
        return [self.packet(0, 0, flags=SYN), self.packet(1, 0, flags=SYN | ACK),
                self.packet(0, 0, flags=ACK)]


IMPLS = [m for m in (backends.load_twin("tcpreassembly"),
                     backends.load_extension("tcpreassembly")) if m is not None]


def TcpReassembler(**options):  # noqa: N802 - stands for the class of each twin
    """A recorder that drives every built twin and requires identical events."""
    return _Both([impl.TcpReassembler(**options) for impl in IMPLS])


class _Both:
    def __init__(self, twins: list) -> None:
        self.twins = twins

    def _same(self, results: list) -> list:
        for other in results[1:]:
            assert other == results[0]
        return results[0]

    def feed(self, packet, origin=()):
        return self._same([t.feed(packet, origin) for t in self.twins])

    def finish(self, ts_ns=None):
        return self._same([t.finish(ts_ns) for t in self.twins])

    @property
    def open_connections(self) -> int:
        return self._same([t.open_connections for t in self.twins])


def run(packets: list[net.Packet], **options) -> list:
    r = TcpReassembler(**options)
    events = []
    for p in packets:
        events += r.feed(p)
    return events + r.finish()


def tiles(events: list, direction: int, frames: dict[int, Frame]) -> tuple[bytes, list]:
    """Check data and gaps tile the stream from 0 and refs map every byte; return both."""
    out = bytearray()
    gaps = []
    pos = 0
    for e in events:
        if isinstance(e, StreamData) and e.direction == direction:
            assert e.offset == pos
            assert sum(r.length for r in e.refs) == len(e.data)
            joined = b"".join(frames[r.frame].data[r.start:r.start + r.length] for r in e.refs)
            assert joined == e.data
            out += e.data
            pos += len(e.data)
        elif isinstance(e, StreamGap) and e.direction == direction:
            assert e.offset == pos and e.length > 0
            gaps.append((e.offset, e.length))
            out += b"\0" * e.length
            pos += e.length
    return bytes(out), gaps


def cut(stream: bytes, points: list[int]) -> list[tuple[int, bytes]]:
    bounds = sorted({0, len(stream), *(p % (len(stream) + 1) for p in points)})
    return [(a, stream[a:b]) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


streams = st.binary(min_size=1, max_size=400)
isns = st.integers(0, (1 << 32) - 1)


@settings(max_examples=150, deadline=None)
@given(data=streams, points=st.lists(st.integers(0, 400), max_size=12), isn=isns,
       order=st.randoms(use_true_random=False), dups=st.lists(st.integers(0, 50), max_size=6))
def test_any_permutation_with_duplicates_reassembles(data, points, isn, order, dups) -> None:
    wire = Wire(isn_c=isn, isn_s=(isn * 7) % (1 << 32))
    segments = cut(data, points)
    shuffled = segments + [segments[i % len(segments)] for i in dups]
    order.shuffle(shuffled)
    packets = wire.handshake() + [wire.packet(0, rel, chunk) for rel, chunk in shuffled]
    packets.append(wire.packet(0, len(data), flags=FIN | ACK))
    events = run(packets)
    stream, gaps = tiles(events, 0, wire.frames)
    assert stream == data and gaps == []
    assert not [e for e in events if isinstance(e, Problem)]
    closes = [e for e in events if isinstance(e, StreamClose)]
    assert closes[0].direction == 0 and closes[0].reason == "fin"


@settings(max_examples=150, deadline=None)
@given(data=streams, points=st.lists(st.integers(0, 400), min_size=1, max_size=12),
       keep=st.lists(st.booleans(), min_size=13, max_size=13), isn=isns,
       order=st.randoms(use_true_random=False), small_buffer=st.booleans(),
       acked=st.booleans())
def test_losses_become_gaps_exactly_where_bytes_are_missing(data, points, keep, isn, order,
                                                           small_buffer, acked) -> None:
    wire = Wire(isn_c=isn)
    segments = cut(data, points)
    kept = [s for s, k in zip(segments, keep, strict=False) if k]
    order.shuffle(kept)
    packets = wire.handshake() + [wire.packet(0, rel, chunk) for rel, chunk in kept]
    if acked:  # the server got it all: the capture lost the holes, declared at this ACK
        packets.append(wire.packet(1, 0, flags=ACK, ack=isn + 1 + len(data)))
    packets.append(wire.packet(0, len(data), flags=FIN | ACK))
    events = run(packets, max_buffer=40 if small_buffer else 1 << 20)
    stream, gaps = tiles(events, 0, wire.frames)
    assert len(stream) == len(data)
    covered = bytearray(len(data))
    for rel, chunk in kept:
        covered[rel:rel + len(chunk)] = b"\1" * len(chunk)
    if not small_buffer:  # every kept byte arrives; every missing byte is in a gap
        expected_gaps = []
        i = 0
        while i < len(data):
            if not covered[i]:
                j = i
                while j < len(data) and not covered[j]:
                    j += 1
                expected_gaps.append((i, j - i))
                i = j
            else:
                i += 1
        assert gaps == expected_gaps
    for offset, length in gaps:  # bytes outside gaps are the original bytes
        stream = stream[:offset] + data[offset:offset + length] + stream[offset + length:]
    assert stream == data


def test_conflicting_retransmission_first_copy_wins() -> None:
    wire = Wire()
    packets = wire.handshake() + [wire.packet(0, 0, b"abcdef"), wire.packet(0, 2, b"XY"),
                                  wire.packet(0, 10, b"klm"), wire.packet(0, 9, b"jKL"),
                                  wire.packet(0, 6, b"ghi")]
    events = run(packets)
    stream, gaps = tiles(events, 0, wire.frames)
    assert stream == b"abcdefghijklm" and gaps == []
    problems = [e for e in events if isinstance(e, Problem)]
    assert [(p.kind, p.frame, p.offset) for p in problems] == [
        ("tcp.overlap.conflict", 5, 2), ("tcp.overlap.conflict", 7, 10)]


def test_lifecycle_open_data_both_ways_fin_and_late_ack() -> None:
    wire = Wire()
    packets = wire.handshake() + [
        wire.packet(0, 0, b"req"), wire.packet(1, 0, b"resp"),
        wire.packet(0, 3, flags=FIN | ACK), wire.packet(1, 4, flags=FIN | ACK),
        wire.packet(0, 4, flags=ACK)]
    events = run(packets)
    kinds = [(type(e).__name__, getattr(e, "direction", None)) for e in events]
    assert kinds == [("StreamOpen", None), ("StreamData", 0), ("StreamData", 1),
                     ("StreamClose", 0), ("StreamClose", 1)]
    opened = events[0]
    assert opened.handshake_seen and opened.conn.index == 0
    assert (str(opened.conn.client), str(opened.conn.server)) == ("10.0.0.1:40000",
                                                                  "10.0.0.2:15118")


def test_connection_open_before_capture_and_end_of_capture_close() -> None:
    wire = Wire()
    events = run([wire.packet(1, 50, b"late"), wire.packet(0, 7, b"x")])
    opened = events[0]
    assert isinstance(opened, StreamOpen) and not opened.handshake_seen
    assert opened.conn.client.port == 40000  # the higher port
    data = [e for e in events if isinstance(e, StreamData)]
    assert [(d.direction, d.offset, d.data) for d in data] == [(1, 0, b"late"), (0, 0, b"x")]
    assert events[-1] == StreamClose(opened.conn, -1, 2000, "end-of-capture")


def test_rst_drains_with_gap_and_port_reuse_gets_new_index() -> None:
    wire = Wire()
    first = wire.handshake() + [wire.packet(0, 0, b"ab"), wire.packet(0, 5, b"fg"),
                                wire.packet(1, 0, flags=RST | ACK)]
    again = Wire(isn_c=777)
    again.number = wire.number
    again.frames = wire.frames
    events = run(first + again.handshake())
    gaps = [e for e in events if isinstance(e, StreamGap)]
    assert [(g.offset, g.length) for g in gaps] == [(2, 3)]
    closes = [e for e in events if isinstance(e, StreamClose)]
    assert [(c.conn.index, c.direction, c.reason) for c in closes] == [
        (0, 1, "rst"), (1, -1, "end-of-capture")]


def test_idle_connections_close_by_capture_time() -> None:
    wire = Wire()
    r = TcpReassembler(idle_timeout_ns=10_000)
    events = []
    for p in wire.handshake():
        events += r.feed(p)
    assert r.open_connections == 1
    other = Wire(isn_c=5)
    other.number = 100
    late = other.packet(0, 0, b"x", ts=1_000_000)
    late_frame = late.frame
    moved = net.decode(Frame(late_frame.number, late_frame.ts_ns, 1,
                             late_frame.data[:34] + b"\x9c\x41" + late_frame.data[36:],
                             len(late_frame.data), source="w"))
    events = r.feed(moved)
    assert any(isinstance(e, StreamClose) and e.reason == "idle-timeout" and e.conn.index == 0
               for e in events)
    assert r.open_connections == 1


def test_out_of_order_buffer_overflow_emits_gap_early() -> None:
    wire = Wire()
    packets = wire.handshake() + [wire.packet(0, 100 + 10 * i, b"z" * 10) for i in range(5)]
    r = TcpReassembler(max_buffer=25)
    events = []
    for p in packets:
        events += r.feed(p)
    gaps = [e for e in events if isinstance(e, StreamGap)]
    assert [(g.offset, g.length) for g in gaps] == [(0, 100)]
    assert sum(len(e.data) for e in events if isinstance(e, StreamData)) >= 20


def test_connection_limit_evicts_least_recently_active() -> None:
    r = TcpReassembler(max_connections=2)
    events = []
    for isn, port in ((1, 1000), (2, 1001), (3, 1002)):
        wire = Wire(isn_c=isn)
        p = wire.packet(0, 0, flags=SYN)
        raw = bytearray(p.frame.data)
        raw[34:36] = port.to_bytes(2, "big")
        events += r.feed(net.decode(Frame(isn, isn, 1, bytes(raw), len(raw))))
    assert r.open_connections == 2
    evicted = [e for e in events if isinstance(e, StreamClose)]
    assert [(e.conn.index, e.reason) for e in evicted] == [(0, "evicted")]


def test_keepalive_with_garbage_byte_is_not_a_conflict() -> None:
    wire = Wire()
    packets = wire.handshake() + [wire.packet(0, 0, b"abc"), wire.packet(0, 2, b"\0"),
                                  wire.packet(0, 3, b"d")]
    events = run(packets)
    assert tiles(events, 0, wire.frames) == (b"abcd", [])
    assert not [e for e in events if isinstance(e, Problem)]


def test_many_tiny_out_of_order_pieces_are_bounded_too() -> None:
    from chargescope.analyzer.reassembly.tcp import MAX_PENDING_CHUNKS

    wire = Wire()
    packets = wire.handshake() + [wire.packet(0, 10 + 2 * i, b"q")
                                  for i in range(MAX_PENDING_CHUNKS + 5)]
    r = TcpReassembler()
    events = []
    for p in packets:
        events += r.feed(p)
    assert [(g.offset, g.length) for g in events if isinstance(g, StreamGap)][:2] == [
        (0, 10), (11, 1)]
    events += r.finish()
    stream, _gaps = tiles(events, 0, wire.frames)
    assert stream.replace(b"\0", b"") == b"q" * (MAX_PENDING_CHUNKS + 5)


def test_closed_connections_are_forgotten_after_the_closed_timeout() -> None:
    wire = Wire()
    r = TcpReassembler(idle_timeout_ns=1_000_000, closed_timeout_ns=10_000)
    packets = wire.handshake() + [wire.packet(0, 0, flags=FIN | ACK),
                                  wire.packet(1, 0, flags=FIN | ACK)]
    for p in packets:
        r.feed(p)
    assert r.open_connections == 1  # closed, kept for late retransmissions
    later = Wire(isn_c=3)
    later.number = 50
    late = later.packet(0, 0, b"x", ts=30_000)
    moved = net.decode(Frame(late.frame.number, late.frame.ts_ns, 1,
                             late.frame.data[:34] + b"\x9c\x42" + late.frame.data[36:],
                             len(late.frame.data), source="w"))
    events = r.feed(moved)
    assert not [e for e in events if isinstance(e, StreamClose)]  # nothing left to close
    assert r.open_connections == 1  # only the new one


# -- holes the capture lost (PLC sniffers): declared at the ACK that proves them -------------

def _seq(wire: Wire, direction: int, rel: int) -> int:
    """The absolute sequence number of stream offset `rel` in one direction."""
    return (wire.isn[direction] + 1 + rel) % (1 << 32)


def test_hole_the_peer_acknowledged_is_declared_before_the_ackers_bytes() -> None:
    wire = Wire()
    packets = wire.handshake()
    packets.append(wire.packet(0, 4, b"BBBB", ts=10_000))  # "AAAA" at 0..4 never captured
    packets.append(wire.packet(1, 0, b"resp", ts=20_000, ack=_seq(wire, 0, 8)))
    r = TcpReassembler()
    for p in packets[:-1]:
        assert not [e for e in r.feed(p) if isinstance(e, StreamData | StreamGap)]
    events = r.feed(packets[-1])
    assert [(type(e).__name__, e.direction, e.offset, e.ts_ns) for e in events] == [
        ("StreamGap", 0, 0, 10_000), ("StreamData", 0, 4, 10_000), ("StreamData", 1, 0, 20_000)]
    assert events[0].length == 4 and events[0].frame == 4  # the frame of "BBBB"


def test_acknowledged_tail_never_seen_is_a_gap_at_the_acking_frame() -> None:
    wire = Wire()
    packets = wire.handshake() + [
        wire.packet(0, 0, b"req1", ts=10_000),
        # "resp1" (5 bytes) lost by the sniffer; the next request acknowledges it
        wire.packet(0, 4, b"req2", ts=30_000, ack=_seq(wire, 1, 5)),
    ]
    events = run(packets)
    order = [(type(e).__name__, e.direction, e.offset) for e in events
             if isinstance(e, StreamData | StreamGap)]
    assert order == [("StreamData", 0, 0), ("StreamGap", 1, 0), ("StreamData", 0, 4)]
    gap = next(e for e in events if isinstance(e, StreamGap))
    assert (gap.length, gap.frame, gap.ts_ns) == (5, 5, 30_000)


def test_acks_that_prove_nothing_declare_no_gap() -> None:
    from chargescope.analyzer.reassembly.tcp import MAX_UNSEEN_ACKED

    wire = Wire()
    packets = wire.handshake() + [
        wire.packet(1, 0, b"resp"),
        wire.packet(0, 0, b"a", ack=_seq(wire, 1, 5)),  # one beyond: the ACK of a lost FIN
        wire.packet(0, 1, b"b", ack=_seq(wire, 1, 4 + MAX_UNSEEN_ACKED + 1)),  # bogus
        wire.packet(0, 2, b"c", ack=_seq(wire, 1, 2)),  # an old ACK
    ]
    events = run(packets)
    assert not [e for e in events if isinstance(e, StreamGap)]
    stale = Wire()  # an ACK answering a SYN, left over from an older connection
    events = run([stale.packet(0, 0, flags=SYN), stale.packet(1, 0, flags=ACK, ack=12345)])
    assert not [e for e in events if isinstance(e, StreamGap)]


def test_a_hole_only_out_of_order_waits_for_its_retransmission() -> None:
    wire = Wire()
    packets = wire.handshake() + [
        wire.packet(0, 4, b"BBBB"),
        wire.packet(1, 0, b"", flags=ACK, ack=_seq(wire, 0, 0)),  # duplicate ACK at the hole
        wire.packet(0, 0, b"AAAA"),  # the retransmission
    ]
    events = run(packets)
    assert tiles(events, 0, wire.frames) == (b"AAAABBBB", [])


def test_released_pieces_keep_their_own_frame_time() -> None:
    wire = Wire()
    packets = wire.handshake() + [wire.packet(0, 10, b"x" * 5, ts=5_000),
                                  wire.packet(0, 15, b"y" * 5, ts=6_000),
                                  wire.packet(0, 30, b"z", ts=7_000)]
    events = run(packets)
    data = [(e.offset, e.ts_ns, e.refs[0].frame) for e in events if isinstance(e, StreamData)]
    assert data == [(10, 5_000, 4), (15, 6_000, 5), (30, 7_000, 6)]
    gaps = [(e.offset, e.length, e.frame, e.ts_ns) for e in events if isinstance(e, StreamGap)]
    assert gaps == [(0, 10, 4, 5_000), (20, 10, 6, 7_000)]


def test_gap_before_a_fin_names_the_last_frame() -> None:
    wire = Wire()
    packets = wire.handshake() + [wire.packet(0, 0, b"ab"), wire.packet(0, 6, flags=FIN | ACK),
                                  wire.packet(1, 0, flags=RST | ACK)]
    events = run(packets)
    gaps = [(e.offset, e.length, e.frame) for e in events if isinstance(e, StreamGap)]
    assert gaps == [(2, 4, 6)]


@settings(max_examples=150, deadline=None)
@given(sizes=st.lists(st.integers(1, 60), min_size=1, max_size=16),
       dropped=st.sets(st.integers(0, 15)), isn=isns)
def test_ping_pong_with_sniffer_losses_keeps_wire_order(sizes, dropped, isn) -> None:
    """V2G-like request/response turns, each segment acknowledging all the peer sent; the
    sniffer drops some segments. Delivered units come out in wire order with their own
    frame time, and the gaps are exactly the dropped bytes (all declared by ACKs/FINs)."""
    wire = Wire(isn_c=isn, isn_s=(isn * 3 + 11) % (1 << 32))
    packets = wire.handshake()
    sent = [0, 0]
    kept: list[tuple[int, int, int]] = []  # (direction, offset, frame) of captured units
    for turn, size in enumerate(sizes):
        direction = turn % 2
        data = bytes([turn]) * size
        packet = wire.packet(direction, sent[direction], data, ts=(turn + 10) * 1000,
                             ack=_seq(wire, 1 - direction, sent[1 - direction]))
        if turn not in dropped:
            packets.append(packet)
            kept.append((direction, sent[direction], packet.frame.number))
        sent[direction] += size
    packets += [wire.packet(0, sent[0], flags=FIN | ACK, ack=_seq(wire, 1, sent[1])),
                wire.packet(1, sent[1], flags=FIN | ACK, ack=_seq(wire, 0, sent[0] + 1)),
                wire.packet(0, sent[0] + 1, flags=ACK, ack=_seq(wire, 1, sent[1] + 1))]
    events = run(packets)
    data_events = [e for e in events if isinstance(e, StreamData)]
    assert [(e.direction, e.offset, e.refs[0].frame) for e in data_events] == kept
    assert all(e.ts_ns == wire.frames[e.refs[0].frame].ts_ns for e in data_events)
    for direction in (0, 1):
        stream, gaps = tiles(events, direction, wire.frames)
        assert len(stream) == sent[direction]
        lost = sum(size for turn, size in enumerate(sizes)
                   if turn % 2 == direction and turn in dropped)
        assert sum(length for _offset, length in gaps) == lost
