"""From captured Ethernet frames to SLAC input: HomePlug Messages and link Traffic.

Until the shared pipeline hands frames to dissectors by EtherType, `slac` drives the
HomePlug dissector itself: 0x88E1 frames go to `HomePlugDissector`; any other frame
becomes a `Traffic` record (what the EV does on the logical network after matching),
named "sdp" for UDP port 15118 and "ipv6"/"ipv4"/"ethertype 0x...." otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from chargescope.analyzer.records import Frame, Message
from chargescope.analyzer.slac.runs import Traffic
from chargescope.dissectors.homeplug.mme import HomePlugDissector, split_ethernet
from chargescope.dissectors.homeplug.registry import ETHERTYPE_HOMEPLUG

LINKTYPE_ETHERNET = 1
SDP_PORT = 15118
_UDP, _TCP = 17, 6


def _traffic_kind(data: bytes, ethertype: int, offset: int) -> str:
    if ethertype == 0x86DD and len(data) >= offset + 44:
        next_header = data[offset + 6]
        ports = data[offset + 40:offset + 44]
        if next_header == _UDP and SDP_PORT in (int.from_bytes(ports[:2], "big"),
                                                int.from_bytes(ports[2:], "big")):
            return "sdp"
        return "tcp" if next_header == _TCP else "ipv6"
    if ethertype == 0x0800:
        return "ipv4"
    return f"ethertype 0x{ethertype:04x}"


def slac_inputs(frames: Iterable[Frame], dissector: HomePlugDissector) -> Iterator[Message | Traffic]:
    """Messages and Traffic in capture order (fragment leftovers flushed at the end)."""
    for frame in frames:
        if frame.linktype != LINKTYPE_ETHERNET:
            continue
        split = split_ethernet(frame.data)
        if split is None:
            continue
        dst, src, ethertype, offset = split
        if ethertype == ETHERTYPE_HOMEPLUG:
            yield from dissector.feed(frame.data, ts_ns=frame.ts_ns, source=frame.source,
                                      frame=frame.number)
        else:
            yield Traffic(frame.ts_ns, src, dst, _traffic_kind(frame.data, ethertype, offset),
                          frame=frame.number, source=frame.source)
    yield from dissector.flush()
