"""TCP byte streams held whole, so that an identifier split over two segments, an EXI
message spanning several, or a WebSocket frame header cut in two is still rewritten.

Pass one (`add`) collects every segment's payload at its stream offset; `rewrite`
applies a same-length transformation to each whole stream; pass two (`segment`) hands
each segment its rewritten bytes back by offset, so retransmissions get the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from chargescope.analyzer import net

FlowKey = tuple[str, str, int, str, int]
_SEQ_MOD = 1 << 32
_MAX_STREAM = 256 * 1024 * 1024  # a stream longer than this is rewritten segment by segment


@dataclass(slots=True)
class _Stream:
    base: int
    data: bytearray = field(default_factory=bytearray)
    oversize: bool = False


def flow_key(source: str, pkt: net.Packet) -> FlowKey:
    return (source, pkt.ip_src, pkt.sport, pkt.ip_dst, pkt.dport)


@dataclass(slots=True)
class TcpStreams:
    _streams: dict[FlowKey, _Stream] = field(default_factory=dict)

    def add(self, source: str, pkt: net.Packet) -> None:
        key = flow_key(source, pkt)
        stream = self._streams.get(key)
        syn = bool(pkt.tcp_flags & 0x02)
        if stream is None:
            stream = self._streams[key] = _Stream((pkt.tcp_seq + syn) % _SEQ_MOD)
        if pkt.payload_length <= 0 or stream.oversize:
            return
        at = (pkt.tcp_seq - stream.base) % _SEQ_MOD
        end = at + pkt.payload_length
        if end > _MAX_STREAM:
            stream.oversize = True
            stream.data = bytearray()
            return
        if end > len(stream.data):
            stream.data.extend(bytes(end - len(stream.data)))
        stream.data[at:end] = pkt.payload

    def rewrite(self, transform: Callable[[bytes], bytes]) -> None:
        for stream in self._streams.values():
            if stream.data:
                new = transform(bytes(stream.data))
                if len(new) != len(stream.data):
                    raise ValueError("stream rewrite changed the length")
                stream.data = bytearray(new)

    def payloads(self) -> list[bytes]:
        """Every stream held whole, as collected (before `rewrite`)."""
        return [bytes(s.data) for s in self._streams.values() if s.data]

    def segment(self, source: str, pkt: net.Packet) -> bytes | None:
        """The rewritten payload of this segment; None when the stream was not held."""
        stream = self._streams.get(flow_key(source, pkt))
        if stream is None or stream.oversize:
            return None
        at = (pkt.tcp_seq - stream.base) % _SEQ_MOD
        return bytes(stream.data[at:at + pkt.payload_length])
