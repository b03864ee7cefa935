"""Internet checksums of IPv4 headers and TCP/UDP segments, recomputed after a rewrite."""

from __future__ import annotations

import struct

from chargescope.analyzer.net import IPPROTO_TCP, IPPROTO_UDP, Packet
from chargescope.analyzer.simulate.netbuild import checksum as internet_checksum


def _pseudo_header(data: bytes, pkt: Packet, l4_len: int) -> bytes:
    if pkt.ip_version == 4:
        addrs = data[pkt.l3_offset + 12:pkt.l3_offset + 20]
        return addrs + struct.pack("!BBH", 0, pkt.ip_proto, l4_len)
    addrs = data[pkt.l3_offset + 8:pkt.l3_offset + 40]
    return addrs + struct.pack("!I3xB", l4_len, pkt.ip_proto)


def _l4_field(pkt: Packet) -> int:
    return pkt.l4_offset + (16 if pkt.ip_proto == IPPROTO_TCP else 6)


def l4_checksum_ok(data: bytes, pkt: Packet) -> bool:
    """True when the frame's TCP/UDP checksum verifies (False for offloaded/absent ones,
    which are then left as they were: a rewrite must not hide a capture's own faults)."""
    if pkt.frag is not None or pkt.ip_proto not in (IPPROTO_TCP, IPPROTO_UDP) or pkt.l4_offset < 0:
        return False
    end = pkt.payload_offset + pkt.payload_length
    if end > len(data):
        return False
    segment = data[pkt.l4_offset:end]
    if pkt.ip_proto == IPPROTO_UDP and segment[6:8] == b"\0\0":
        return False
    return internet_checksum(_pseudo_header(data, pkt, len(segment)) + segment) == 0


def fix_checksums(data: bytearray, pkt: Packet, l4_was_ok: bool) -> None:
    """Recompute the IPv4 header checksum, and the TCP/UDP one when it verified before."""
    if pkt.ip_version == 4 and pkt.l3_offset >= 0:
        ihl = (data[pkt.l3_offset] & 0x0F) * 4
        data[pkt.l3_offset + 10:pkt.l3_offset + 12] = b"\0\0"
        value = internet_checksum(bytes(data[pkt.l3_offset:pkt.l3_offset + ihl]))
        data[pkt.l3_offset + 10:pkt.l3_offset + 12] = struct.pack("!H", value)
    if not l4_was_ok:
        return
    at = _l4_field(pkt)
    end = pkt.payload_offset + pkt.payload_length
    data[at:at + 2] = b"\0\0"
    segment = bytes(data[pkt.l4_offset:end])
    value = internet_checksum(_pseudo_header(bytes(data), pkt, len(segment)) + segment)
    if pkt.ip_proto == IPPROTO_UDP and value == 0:
        value = 0xFFFF
    data[at:at + 2] = struct.pack("!H", value)
