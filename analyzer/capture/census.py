"""What a capture holds, per protocol of interest: counts from the link/IP/transport decode.

No dissection here: a frame is counted by what its headers and first payload bytes say
(EtherType 0x88E1, UDP/TCP port 15118, a V2GTP header, an HTTP request line, a
WebSocket upgrade, a TLS record). The dissectors decide what the bytes really are;
this is the "is it worth looking" view of `chargescope info`, and the one-line
description `chargescope frames` prints.
"""

from __future__ import annotations

from collections import Counter

from chargescope.analyzer import net
from chargescope.analyzer.capture.linktypes import linktype_name

V2G_PORT = 15118  # SDP (UDP) and, by convention of some stacks, V2GTP (TCP)
HTTP_STARTS = (b"GET ", b"POST ", b"PUT ", b"PATCH ", b"DELETE ", b"HEAD ", b"OPTIONS ",
               b"HTTP/1.")
TCP_FLAG_NAMES = ((net.TCP_SYN, "SYN"), (net.TCP_FIN, "FIN"), (net.TCP_RST, "RST"),
                  (net.TCP_PSH, "PSH"), (net.TCP_ACK, "ACK"))


def payload_kind(packet: net.Packet) -> str:
    """A guess from the first payload bytes: 'v2gtp', 'websocket', 'http', 'tls' or ''."""
    head = packet.frame.data[packet.payload_offset:packet.payload_offset + 16] \
        if packet.payload_length > 0 else b""
    if head[:2] == b"\x01\xfe":
        return "v2gtp"
    if head.startswith(HTTP_STARTS):
        whole = packet.payload
        if b"upgrade: websocket" in whole.lower():
            return "websocket"
        return "http"
    if len(head) >= 3 and head[0] in (0x14, 0x15, 0x16, 0x17) and head[1] == 0x03:
        return "tls"
    return ""


def protocol_of(packet: net.Packet) -> str:
    """The name the frame is listed under (tshark's Protocol column, coarser)."""
    if packet.status == net.MALFORMED and packet.l4_offset < 0 and packet.ip_version == 0:
        return linktype_name(packet.frame.linktype) if packet.ethertype < 0 else "Ethernet"
    if packet.ethertype == net.ETHERTYPE_HOMEPLUG:
        return "HomePlug"
    if packet.frag is not None:
        return "IPv4" if packet.ip_version == 4 else "IPv6"
    if packet.is_udp:
        return "SDP" if V2G_PORT in (packet.sport, packet.dport) else "UDP"
    if packet.is_tcp:
        kind = payload_kind(packet)
        return {"v2gtp": "V2GTP", "websocket": "HTTP", "http": "HTTP", "tls": "TLS"}.get(kind,
                                                                                       "TCP")
    if packet.ip_version:
        return "IPv4" if packet.ip_version == 4 else "IPv6"
    if packet.ethertype >= 0:
        return f"0x{packet.ethertype:04x}"
    return linktype_name(packet.frame.linktype)


def addresses(packet: net.Packet) -> tuple[str, str]:
    if packet.ip_version and packet.l3_offset >= 0:
        try:
            return packet.ip_src, packet.ip_dst
        except (ValueError, OSError):  # header cut before the addresses
            return "", ""
    if packet.l2_src_offset >= 0 and packet.l2_src_offset + 6 <= len(packet.frame.data):
        return packet.eth_src, packet.eth_dst
    return "", ""


def info_of(packet: net.Packet) -> str:
    """tshark-like Info column from the headers."""
    frame = packet.frame
    parts = []
    if packet.status == net.MALFORMED and packet.problem is not None:
        parts.append(f"[Malformed: {packet.problem.kind}]")
    if packet.ethertype == net.ETHERTYPE_HOMEPLUG and packet.l3_offset >= 0:
        mme = frame.data[packet.l3_offset:packet.l3_offset + 3]
        if len(mme) == 3:
            parts.append(f"MMV {mme[0]} MMTYPE 0x{mme[1] | mme[2] << 8:04x}")
    elif packet.frag is not None:
        ident, offset, more = packet.frag
        parts.append(f"Fragment id=0x{ident:x} offset={offset}{' MF' if more else ''} "
                     f"proto={packet.ip_proto}")
    elif packet.is_tcp:
        flags = ", ".join(name for bit, name in TCP_FLAG_NAMES if packet.tcp_flags & bit)
        parts.append(f"{packet.sport} → {packet.dport} [{flags}] Seq={packet.tcp_seq} "
                     f"Ack={packet.tcp_ack} Win={packet.tcp_window} Len={packet.payload_length}")
    elif packet.is_udp:
        parts.append(f"{packet.sport} → {packet.dport} Len={packet.payload_length}")
    if packet.vlans:
        parts.append("VLAN " + ",".join(str(v) for v in packet.vlans))
    if frame.truncated:
        parts.append(f"[cut by snaplen: {len(frame.data)} of {frame.wirelen} bytes]")
    return " ".join(parts)


class ProtocolCensus:
    """Counters over decoded packets: link/IP/transport layers and the protocols of interest.

    `counts` keys: 'homeplug' (EtherType 0x88E1), 'udp-15118' (SDP), 'tcp-15118',
    'v2gtp' (TCP payload starting with a V2GTP header), 'http', 'websocket-upgrade',
    'tls', plus 'ipv4', 'ipv6', 'udp', 'tcp', 'ip-fragment', 'vlan', and 'decoded',
    'malformed', 'out-of-scope' per frame status.
    """

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, packet: net.Packet) -> None:
        c = self.counts
        c[packet.status] += 1
        if packet.vlans:
            c["vlan"] += 1
        if packet.ethertype == net.ETHERTYPE_HOMEPLUG:
            c["homeplug"] += 1
            return
        if packet.ip_version == 4:
            c["ipv4"] += 1
        elif packet.ip_version == 6:
            c["ipv6"] += 1
        if packet.frag is not None:
            c["ip-fragment"] += 1
            return
        if packet.is_udp:
            c["udp"] += 1
            if V2G_PORT in (packet.sport, packet.dport):
                c["udp-15118"] += 1
        elif packet.is_tcp:
            c["tcp"] += 1
            if V2G_PORT in (packet.sport, packet.dport):
                c["tcp-15118"] += 1
            kind = payload_kind(packet)
            if kind:
                c["websocket-upgrade" if kind == "websocket" else kind] += 1
