"""IPv4 and IPv6 fragment reassembly: fragments in, whole datagrams (decoded again) out.

`IpDefragmenter.feed(packet)` returns ``(result, problems)``: a packet that is not a
fragment comes straight back; a fragment is held (result None) until its datagram is
complete, and the fragment that completes it returns a `Reassembled` record: the decode
of the rebuilt datagram (a raw-IP `Frame`, link type 228/229, carrying the number,
time, interface and source of the completing fragment) and `origin`, the `ByteRef`s
that map its payload back to the fragments' frames.

Overlapping fragments: the first bytes seen win (tshark's default); a later copy
with different bytes is a ``ip.fragment.overlap_conflict`` Problem. Memory is bounded:
datagrams waiting longer than `timeout_ns` of capture time, or beyond `max_bytes`
held in total, are dropped with an ``ip.fragment.incomplete`` Problem, and so are the
ones still incomplete at `finish()`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from chargescope.analyzer.net import LINKTYPE_IPV4, LINKTYPE_IPV6, Packet
from chargescope.analyzer.records import ByteRef, Frame, Problem

DEFAULT_TIMEOUT_NS = 60 * 1_000_000_000  # Linux ipfrag_time is 30 s; be generous
DEFAULT_MAX_BYTES = 16 << 20
MAX_DATAGRAM = 65535 + 40  # IPv4 limit; IPv6 without jumbograms

PROBLEM_KINDS: dict[str, str] = {
    "ip.fragment.too_long": "fragment reaching beyond the largest possible datagram",
    "ip.fragment.length_conflict": "two last fragments disagree on the datagram length",
    "ip.fragment.overlap_conflict": "overlapping fragments with different bytes (first kept)",
    "ip.fragment.incomplete": "datagram still missing fragments at timeout, limit or end",
    "limit.ip.fragments": "fragments held reached the ip-fragments cap (Limits.ip_fragments); "
                          "the oldest incomplete datagram was given up",
}


@dataclass(frozen=True, slots=True)
class Reassembled:
    """A whole IP datagram rebuilt from fragments.

    `packet` decodes the rebuilt datagram: its frame is a raw-IP rebuild carrying the
    number and time of the completing fragment. `origin` maps the datagram's payload
    (the bytes after the IP header, in order) back to the fragments' frames.
    """

    packet: Packet
    origin: tuple[ByteRef, ...]


class _Datagram:
    __slots__ = ("first", "pieces", "total", "held", "started_ns", "frames")

    def __init__(self, ts_ns: int) -> None:
        self.first: Packet | None = None  # the fragment at offset 0 (gives the header)
        # (offset, bytes, where they are in their frame), non-overlapping
        self.pieces: list[tuple[int, bytes, ByteRef]] = []
        self.total: int | None = None  # known once the last fragment arrived
        self.held = 0
        self.started_ns = ts_ns
        self.frames: list[int] = []


class IpDefragmenter:
    def __init__(self, decode: Callable[[Frame], Packet], *,
                 timeout_ns: int = DEFAULT_TIMEOUT_NS, max_bytes: int = DEFAULT_MAX_BYTES
                 ) -> None:
        self._decode = decode
        self.timeout_ns = timeout_ns
        self.max_bytes = max_bytes
        self._held = 0
        self._pending: OrderedDict[tuple, _Datagram] = OrderedDict()

    def feed(self, packet: Packet) -> tuple[Packet | Reassembled | None, list[Problem]]:
        problems: list[Problem] = []
        frame = packet.frame
        if self._pending:
            self._expire(frame.ts_ns, problems)
        if packet.frag is None:
            return packet, problems
        ident, offset, more = packet.frag
        data = frame.data
        l3 = packet.l3_offset
        if packet.ip_version == 4:
            addrs = data[l3 + 12:l3 + 20]
        else:
            addrs = data[l3 + 8:l3 + 40]
        key = (frame.source, packet.ip_version, addrs, ident, packet.ip_proto)
        dgram = self._pending.get(key)
        if dgram is None:
            dgram = _Datagram(frame.ts_ns)
            self._pending[key] = dgram
        if len(dgram.frames) < 64:
            dgram.frames.append(frame.number)
        payload = packet.payload
        end = offset + len(payload)
        if end > MAX_DATAGRAM:
            problems.append(Problem("ip.fragment.too_long",
                                    f"IP fragment ends at byte {end}, beyond the largest "
                                    f"datagram ({MAX_DATAGRAM})", frame.source, frame.number,
                                    packet.payload_offset, "frame"))
            return None, problems
        if offset == 0 and dgram.first is None:
            dgram.first = packet
        if not more:
            if dgram.total is not None and dgram.total != end:
                problems.append(Problem("ip.fragment.length_conflict",
                                        f"last IP fragment says the datagram ends at {end}, an "
                                        f"earlier one said {dgram.total}", frame.source,
                                        frame.number, packet.payload_offset, "frame"))
            if dgram.total is None:
                dgram.total = end
        self._add(dgram, offset, payload, packet, problems)
        if dgram.total is not None and dgram.first is not None and self._complete(dgram):
            del self._pending[key]
            self._held -= dgram.held
            return self._rebuild(dgram, packet), problems
        while self._held > self.max_bytes and self._pending:
            old_key, old = self._pending.popitem(last=False)
            problems.append(Problem(
                "limit.ip.fragments", f"{self._held} bytes of IP fragments held, over the "
                f"ip-fragments cap of {self.max_bytes}; the oldest incomplete datagram is "
                "given up", frame.source, frame.number, 0, "frame"))
            self._held -= old.held
            problems.append(_incomplete(old_key, old, "memory limit reached"))
        return None, problems

    def finish(self) -> list[Problem]:
        problems = [_incomplete(key, dgram, "end of capture")
                    for key, dgram in self._pending.items()]
        self._pending.clear()
        self._held = 0
        return problems

    def _add(self, dgram: _Datagram, offset: int, payload: bytes, packet: Packet,
             problems: list[Problem]) -> None:
        end = offset + len(payload)
        cur = offset
        new: list[tuple[int, bytes, ByteRef]] = []
        frame = packet.frame

        def take(lo: int, hi: int) -> tuple[int, bytes, ByteRef]:
            return (lo, payload[lo - offset:hi - offset],
                    ByteRef(frame.source, frame.number, packet.payload_offset + lo - offset,
                            hi - lo))

        for start, piece, _ref in sorted(dgram.pieces):
            p_end = start + len(piece)
            if p_end <= cur or start >= end:
                continue
            if start > cur:
                new.append(take(cur, start))
            lo, hi = max(cur, start), min(end, p_end)
            if payload[lo - offset:hi - offset] != piece[lo - start:hi - start]:
                problems.append(Problem("ip.fragment.overlap_conflict",
                                        f"IP fragment bytes {lo}..{hi} differ from an earlier "
                                        f"copy; first copy kept", frame.source, frame.number,
                                        packet.payload_offset + lo - offset, "frame"))
            cur = max(cur, p_end)
        if cur < end:
            new.append(take(cur, end))
        for item in new:
            if item[1]:
                dgram.pieces.append(item)
                dgram.held += len(item[1])
                self._held += len(item[1])

    @staticmethod
    def _complete(dgram: _Datagram) -> bool:
        cur = 0
        for start, piece, _ref in sorted(dgram.pieces):
            if start > cur:
                return False
            cur = max(cur, start + len(piece))
        return cur >= (dgram.total or 0)

    def _rebuild(self, dgram: _Datagram, last: Packet) -> Reassembled:
        pieces = sorted(dgram.pieces)
        total = dgram.total or 0
        payload = b"".join(piece for _start, piece, _ref in pieces)[:total]
        origin = tuple(ref if start + ref.length <= total else
                       ByteRef(ref.source, ref.frame, ref.start, total - start)
                       for start, _piece, ref in pieces if start < total)
        first = dgram.first
        assert first is not None
        data = first.frame.data
        l3 = first.l3_offset
        if first.ip_version == 4:
            header = bytearray(data[l3:first.payload_offset])
            total = len(header) + len(payload)
            header[2:4] = total.to_bytes(2, "big")
            header[6:8] = b"\x00\x00"
            linktype = LINKTYPE_IPV4
        else:
            header = bytearray(data[l3:l3 + 40])
            header[4:6] = len(payload).to_bytes(2, "big")
            header[6] = first.ip_proto
            linktype = LINKTYPE_IPV6
        frame = last.frame
        whole = bytes(header) + payload
        return Reassembled(self._decode(Frame(frame.number, frame.ts_ns, linktype, whole,
                                              len(whole), frame.interface, frame.source,
                                              frame.offset)), origin)

    def _expire(self, now: int, problems: list[Problem]) -> None:
        limit = now - self.timeout_ns
        while self._pending:
            key, dgram = next(iter(self._pending.items()))
            if dgram.started_ns >= limit:
                break
            del self._pending[key]
            self._held -= dgram.held
            problems.append(_incomplete(key, dgram, "reassembly timeout"))


def _incomplete(key: tuple, dgram: _Datagram, why: str) -> Problem:
    source, version, _addrs, ident, proto = key
    return Problem("ip.fragment.incomplete",
                   f"IPv{version} datagram id {ident} (protocol {proto}) incomplete ({why}): "
                   f"{dgram.held} bytes from frames {dgram.frames[:8]}",
                   source, dgram.frames[0] if dgram.frames else 0, 0, "frame")
