"""Link, IP and transport decode of one Frame: the `Packet` record and its pure-Python decoder.

`decode(frame) -> Packet` reads the link header (Ethernet, Linux SLL/SLL2, raw IP,
BSD null/loopback), stacked 802.1Q/802.1ad tags, IPv4 (options skipped by IHL),
IPv6 (hop-by-hop, routing, destination options, AH and fragment headers), UDP and
TCP (options skipped by data offset). It never raises on hostile bytes: every frame
comes back as a Packet whose `status` is

* ``DECODED``: the link layer was understood and, for IP, the transport header too
  (or the packet is an IP fragment, whose transport header waits for reassembly);
* ``MALFORMED``: a header is cut short or inconsistent; `problem` names the frame,
  the offset and what was expected, and the fields decoded before it stay set;
* ``OUT_OF_SCOPE``: a link type or EtherType chargescope does not analyse (ARP,
  LLDP, 802.3 length frames, ...); `ethertype` and `l3_offset` still say where the
  payload is, so a plugin's frame handoff can take it. Counted, never dropped.

Non-IP EtherTypes that chargescope dissects (HomePlug AV/GP 0x88E1) are DECODED with
`l3_offset` pointing at the MME so the HomePlug dissector can take it.

Speed: the record holds integers and offsets only; text forms of addresses
(`eth_src`, `ip_src`, ...) are computed on demand by properties. This module is the
pure-Python twin of the Cython hot path `chargescope.ext._netdecode` (hot path name
``"netdecode"``); callers use ``backends.load("netdecode").decode``. Both give
identical Packets for identical frames.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from chargescope.analyzer.records import Frame, Problem

DECODED = "decoded"
MALFORMED = "malformed"
OUT_OF_SCOPE = "out-of-scope"

# link types (pcap LINKTYPE_* values)
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW_BSD12 = 12  # DLT_RAW on OpenBSD and some BSDs
LINKTYPE_RAW_BSD14 = 14  # DLT_RAW on BSD/OS
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPE_HOMEPLUG = 0x88E1
VLAN_ETHERTYPES = (0x8100, 0x88A8, 0x9100)
# non-IP EtherTypes whose payload some chargescope dissector takes
IN_SCOPE_ETHERTYPES = frozenset({ETHERTYPE_HOMEPLUG})

IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPV6_HOP_BY_HOP = 0
IPV6_ROUTING = 43
IPV6_FRAGMENT = 44
IPV6_AH = 51
IPV6_DEST_OPTS = 60

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_PSH = 0x08
TCP_ACK = 0x10

# BSD address family values seen in null/loopback headers (Linux, BSDs, Darwin)
AF_INET_VALUES = frozenset({2})
AF_INET6_VALUES = frozenset({10, 24, 28, 30})

NO_VLANS: tuple[int, ...] = ()

# Problem kinds this decoder reports (stable codes; the detail sentence may change)
PROBLEM_KINDS: dict[str, str] = {
    "net.ethernet.short": "Ethernet header shorter than 14 bytes",
    "net.sll.short": "Linux cooked (SLL) header shorter than 16 bytes",
    "net.sll2.short": "Linux cooked v2 (SLL2) header shorter than 20 bytes",
    "net.raw.short": "raw IP frame with no bytes",
    "net.raw.version": "raw IP frame whose version nibble is neither 4 nor 6",
    "net.null.short": "BSD null/loopback header shorter than 4 bytes",
    "net.vlan.short": "802.1Q/802.1ad tag cut short",
    "net.ipv4.short": "IPv4 header shorter than 20 bytes",
    "net.ipv4.version": "IPv4 EtherType but version nibble not 4",
    "net.ipv4.header_length": "IPv4 IHL below 20 bytes or beyond the frame",
    "net.ipv4.total_length": "IPv4 total length below the header or beyond the captured bytes",
    "net.ipv6.short": "IPv6 header shorter than 40 bytes",
    "net.ipv6.version": "IPv6 EtherType but version nibble not 6",
    "net.ipv6.payload_length": "IPv6 payload length beyond the captured bytes",
    "net.ipv6.extension": "IPv6 extension header cut short",
    "net.tcp.short": "TCP header shorter than 20 bytes",
    "net.tcp.header_length": "TCP data offset below 20 bytes or beyond the segment",
    "net.udp.short": "UDP header shorter than 8 bytes",
    "net.udp.length": "UDP length below 8 or beyond the datagram",
}


@dataclass(frozen=True, slots=True)
class Packet:
    """The link/network/transport decode of one Frame; offsets index `frame.data`.

    Offsets are -1 and numbers 0 where a layer is absent. `frag` is
    ``(ident, byte_offset, more_fragments)`` for IPv4/IPv6 fragments, else None;
    `ip_proto` is the upper-layer protocol (IPv6: after extension headers).
    `payload_offset`/`payload_length` delimit the UDP/TCP payload, the fragment
    data of an IP fragment, the IP payload of other IP protocols, or the link
    payload of non-IP frames (trailing Ethernet padding excluded where the IP or UDP
    length says so).
    """

    frame: Frame
    status: str
    problem: Problem | None
    ethertype: int
    vlans: tuple[int, ...]
    l2_src_offset: int
    l2_dst_offset: int
    l3_offset: int
    ip_version: int
    ip_proto: int
    frag: tuple[int, int, bool] | None
    l4_offset: int
    sport: int
    dport: int
    tcp_seq: int
    tcp_ack: int
    tcp_flags: int
    tcp_window: int
    payload_offset: int
    payload_length: int

    @property
    def eth_src(self) -> str:
        return _mac(self.frame.data, self.l2_src_offset)

    @property
    def eth_dst(self) -> str:
        return _mac(self.frame.data, self.l2_dst_offset)

    @property
    def ip_src(self) -> str:
        return self._address(0)

    @property
    def ip_dst(self) -> str:
        return self._address(1)

    def _address(self, which: int) -> str:
        """Text form of the source (0) or destination (1) IP address; "" without IP."""
        if self.ip_version == 4:
            start = self.l3_offset + 12 + 4 * which
            return ip_text(self.frame.data[start:start + 4])
        if self.ip_version == 6:
            start = self.l3_offset + 8 + 16 * which
            return ip_text(self.frame.data[start:start + 16])
        return ""

    @property
    def payload(self) -> bytes:
        return self.frame.data[self.payload_offset:self.payload_offset + self.payload_length]

    @property
    def is_tcp(self) -> bool:
        return self.l4_offset >= 0 and self.ip_proto == IPPROTO_TCP

    @property
    def is_udp(self) -> bool:
        return self.l4_offset >= 0 and self.ip_proto == IPPROTO_UDP


def _mac(data: bytes, offset: int) -> str:
    if offset < 0:
        return ""
    return data[offset:offset + 6].hex(":")


def ip_text(raw: bytes) -> str:
    """Text form of a 4- or 16-byte address as tshark prints it (IPv6: RFC 5952 form)."""
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def _packet(frame: Frame, status: str, problem: Problem | None, ethertype: int,
            vlans: tuple[int, ...], l2_src: int, l2_dst: int, l3: int) -> Packet:
    """A Packet that ends at the link layer (non-IP, out of scope or malformed there)."""
    return Packet(frame, status, problem, ethertype, vlans, l2_src, l2_dst, l3, 0, -1, None,
                  -1, 0, 0, 0, 0, 0, 0, l3 if l3 >= 0 else -1,
                  len(frame.data) - l3 if l3 >= 0 else 0)


def _problem(frame: Frame, kind: str, detail: str, offset: int) -> Problem:
    return Problem(kind, detail, frame.source, frame.number, offset, "frame")


def decode(frame: Frame) -> Packet:
    """Decode one frame's link, IP and transport headers (never raises)."""
    data = frame.data
    n = len(data)
    linktype = frame.linktype
    vlans = NO_VLANS
    l2_src = -1
    l2_dst = -1
    if linktype == LINKTYPE_ETHERNET:
        if n < 14:
            return _packet(frame, MALFORMED, _problem(
                frame, "net.ethernet.short",
                f"Ethernet header needs 14 bytes, frame has {n}", 0),
                -1, vlans, -1, -1, -1)
        l2_dst = 0
        l2_src = 6
        ethertype = (data[12] << 8) | data[13]
        pos = 14
    elif linktype == LINKTYPE_LINUX_SLL:
        if n < 16:
            return _packet(frame, MALFORMED, _problem(
                frame, "net.sll.short", f"Linux SLL header needs 16 bytes, frame has {n}", 0),
                -1, vlans, -1, -1, -1)
        if ((data[4] << 8) | data[5]) == 6:
            l2_src = 6
        ethertype = (data[14] << 8) | data[15]
        pos = 16
    elif linktype == LINKTYPE_LINUX_SLL2:
        if n < 20:
            return _packet(frame, MALFORMED, _problem(
                frame, "net.sll2.short", f"Linux SLL2 header needs 20 bytes, frame has {n}", 0),
                -1, vlans, -1, -1, -1)
        if data[11] == 6:
            l2_src = 12
        ethertype = (data[0] << 8) | data[1]
        pos = 20
    elif linktype in (LINKTYPE_RAW, LINKTYPE_RAW_BSD12, LINKTYPE_RAW_BSD14):
        if n < 1:
            return _packet(frame, MALFORMED, _problem(
                frame, "net.raw.short", "raw IP frame is empty", 0), -1, vlans, -1, -1, -1)
        version = data[0] >> 4
        if version == 4:
            ethertype = ETHERTYPE_IPV4
        elif version == 6:
            ethertype = ETHERTYPE_IPV6
        else:
            return _packet(frame, MALFORMED, _problem(
                frame, "net.raw.version", f"raw IP frame: IP version 4 or 6 expected, got {version}",
                0), -1, vlans, -1, -1, -1)
        pos = 0
    elif linktype == LINKTYPE_IPV4:
        ethertype = ETHERTYPE_IPV4
        pos = 0
    elif linktype == LINKTYPE_IPV6:
        ethertype = ETHERTYPE_IPV6
        pos = 0
    elif linktype == LINKTYPE_NULL or linktype == LINKTYPE_LOOP:
        if n < 4:
            return _packet(frame, MALFORMED, _problem(
                frame, "net.null.short", f"null/loopback header needs 4 bytes, frame has {n}", 0),
                -1, vlans, -1, -1, -1)
        if linktype == LINKTYPE_LOOP or (data[0] == 0 and data[1] == 0):
            family = (data[0] << 24) | (data[1] << 16) | (data[2] << 8) | data[3]
        else:  # host byte order of the capturing machine: little-endian here
            family = (data[3] << 24) | (data[2] << 16) | (data[1] << 8) | data[0]
        pos = 4
        if family in AF_INET_VALUES:
            ethertype = ETHERTYPE_IPV4
        elif family in AF_INET6_VALUES:
            ethertype = ETHERTYPE_IPV6
        else:
            return _packet(frame, OUT_OF_SCOPE, None, -1, vlans, -1, -1, pos)
    else:
        return _packet(frame, OUT_OF_SCOPE, None, -1, vlans, -1, -1, -1)

    # stacked VLAN tags (802.1Q, 802.1ad, old QinQ 0x9100)
    while ethertype in VLAN_ETHERTYPES:
        if pos + 4 > n:
            return _packet(frame, MALFORMED, _problem(
                frame, "net.vlan.short", f"VLAN tag needs 4 bytes at offset {pos}, "
                f"frame has {n - pos}", pos), ethertype, vlans, l2_src, l2_dst, -1)
        vlans = (*vlans, ((data[pos] << 8) | data[pos + 1]) & 0x0FFF)
        ethertype = (data[pos + 2] << 8) | data[pos + 3]
        pos += 4

    if ethertype == ETHERTYPE_IPV4:
        return _ipv4(frame, data, n, pos, ethertype, vlans, l2_src, l2_dst)
    if ethertype == ETHERTYPE_IPV6:
        return _ipv6_packet(frame, data, n, pos, ethertype, vlans, l2_src, l2_dst)
    status = DECODED if ethertype in IN_SCOPE_ETHERTYPES else OUT_OF_SCOPE
    return _packet(frame, status, None, ethertype, vlans, l2_src, l2_dst, pos)


def _ipv4(frame: Frame, data: bytes, n: int, pos: int, ethertype: int,
          vlans: tuple[int, ...], l2_src: int, l2_dst: int) -> Packet:
    avail = n - pos
    if avail < 20:
        return _ip_problem(frame, "net.ipv4.short",
                           f"IPv4 header needs 20 bytes, {avail} left", pos, pos, ethertype, vlans,
                           l2_src, l2_dst, 0, -1)
    version = data[pos] >> 4
    if version != 4:
        return _ip_problem(frame, "net.ipv4.version", f"IPv4 version 4 expected, got {version}",
                           pos, pos, ethertype, vlans, l2_src, l2_dst, 0, -1)
    ihl = (data[pos] & 0x0F) * 4
    proto = data[pos + 9]
    if ihl < 20 or ihl > avail:
        return _ip_problem(frame, "net.ipv4.header_length",
                           f"IPv4 header length {ihl} outside 20..{avail}", pos, pos, ethertype,
                           vlans, l2_src, l2_dst, 4, proto)
    total = (data[pos + 2] << 8) | data[pos + 3]
    if total == 0:  # TCP segmentation offload: the length is left for the NIC to fill
        total = avail
    elif total < ihl:
        return _ip_problem(frame, "net.ipv4.total_length",
                           f"IPv4 total length {total} below header length {ihl}", pos, pos,
                           ethertype, vlans, l2_src, l2_dst, 4, proto)
    elif total > avail:
        if len(data) >= frame.wirelen:
            return _ip_problem(frame, "net.ipv4.total_length",
                               f"IPv4 total length {total} exceeds the {avail} bytes captured",
                               pos, pos, ethertype, vlans, l2_src, l2_dst, 4, proto)
        total = avail  # snaplen cut: decode what was captured
    flags_frag = (data[pos + 6] << 8) | data[pos + 7]
    frag_offset = (flags_frag & 0x1FFF) * 8
    more = (flags_frag & 0x2000) != 0
    start = pos + ihl
    end = pos + total
    if more or frag_offset:
        ident = (data[pos + 4] << 8) | data[pos + 5]
        return Packet(frame, DECODED, None, ethertype, vlans, l2_src, l2_dst, pos, 4, proto,
                      (ident, frag_offset, more), -1, 0, 0, 0, 0, 0, 0, start, end - start)
    return _transport(frame, data, start, end, ethertype, vlans, l2_src, l2_dst, pos, 4, proto)


def _ipv6_packet(frame: Frame, data: bytes, n: int, pos: int, ethertype: int,
                 vlans: tuple[int, ...], l2_src: int, l2_dst: int) -> Packet:
    avail = n - pos
    if avail < 40:
        return _ip_problem(frame, "net.ipv6.short", f"IPv6 header needs 40 bytes, {avail} left",
                           pos, pos, ethertype, vlans, l2_src, l2_dst, 0, -1)
    version = data[pos] >> 4
    if version != 6:
        return _ip_problem(frame, "net.ipv6.version", f"IPv6 version 6 expected, got {version}",
                           pos, pos, ethertype, vlans, l2_src, l2_dst, 0, -1)
    plen = (data[pos + 4] << 8) | data[pos + 5]
    nxt = data[pos + 6]
    if plen == 0:  # jumbogram or offload: use what was captured
        plen = avail - 40
    elif plen > avail - 40:
        if len(data) >= frame.wirelen:
            return _ip_problem(frame, "net.ipv6.payload_length",
                               f"IPv6 payload length {plen} exceeds the {avail - 40} bytes "
                               f"captured", pos, pos, ethertype, vlans, l2_src, l2_dst, 6, nxt)
        plen = avail - 40
    end = pos + 40 + plen
    cur = pos + 40
    while nxt in (IPV6_HOP_BY_HOP, IPV6_ROUTING, IPV6_DEST_OPTS, IPV6_AH, IPV6_FRAGMENT):
        if nxt == IPV6_FRAGMENT:
            if cur + 8 > end:
                return _ip_problem(frame, "net.ipv6.extension",
                                   f"IPv6 fragment header needs 8 bytes, {end - cur} left", cur, pos,
                                   ethertype, vlans, l2_src, l2_dst, 6, nxt)
            field = (data[cur + 2] << 8) | data[cur + 3]
            ident = ((data[cur + 4] << 24) | (data[cur + 5] << 16) | (data[cur + 6] << 8)
                     | data[cur + 7])
            frag_offset = field & 0xFFF8
            more = (field & 1) != 0
            nxt = data[cur]
            cur += 8
            if more or frag_offset:
                return Packet(frame, DECODED, None, ethertype, vlans, l2_src, l2_dst, pos, 6,
                              nxt, (ident, frag_offset, more), -1, 0, 0, 0, 0, 0, 0, cur,
                              end - cur)
            continue  # atomic fragment: the payload is whole
        if cur + 2 > end:
            return _ip_problem(frame, "net.ipv6.extension",
                               f"IPv6 extension header {nxt} needs 2 bytes, {end - cur} left",
                               cur, pos, ethertype, vlans, l2_src, l2_dst, 6, nxt)
        length = (data[cur + 1] + 2) * 4 if nxt == IPV6_AH else (data[cur + 1] + 1) * 8
        if cur + length > end:
            return _ip_problem(frame, "net.ipv6.extension",
                               f"IPv6 extension header {nxt} of {length} bytes, "
                               f"{end - cur} left", cur, pos, ethertype, vlans, l2_src, l2_dst, 6, nxt)
        nxt = data[cur]
        cur += length
    return _transport(frame, data, cur, end, ethertype, vlans, l2_src, l2_dst, pos, 6, nxt)


def _ip_problem(frame: Frame, kind: str, detail: str, offset: int, l3: int, ethertype: int,
                vlans: tuple[int, ...], l2_src: int, l2_dst: int, version: int,
                proto: int) -> Packet:
    return Packet(frame, MALFORMED, _problem(frame, kind, detail, offset), ethertype, vlans,
                  l2_src, l2_dst, l3, version, proto, None, -1, 0, 0, 0, 0, 0, 0, -1, 0)


def _transport(frame: Frame, data: bytes, start: int, end: int, ethertype: int,
               vlans: tuple[int, ...], l2_src: int, l2_dst: int, l3: int, version: int,
               proto: int) -> Packet:
    avail = end - start
    if proto == IPPROTO_TCP:
        if avail < 20:
            return _l4_problem(frame, "net.tcp.short", f"TCP header needs 20 bytes, {avail} left",
                               start, ethertype, vlans, l2_src, l2_dst, l3, version, proto)
        hlen = (data[start + 12] >> 4) * 4
        if hlen < 20 or hlen > avail:
            return _l4_problem(frame, "net.tcp.header_length",
                               f"TCP header length {hlen} outside 20..{avail}", start,
                               ethertype, vlans, l2_src, l2_dst, l3, version, proto)
        return Packet(
            frame, DECODED, None, ethertype, vlans, l2_src, l2_dst, l3, version, proto, None,
            start,
            (data[start] << 8) | data[start + 1],
            (data[start + 2] << 8) | data[start + 3],
            (data[start + 4] << 24) | (data[start + 5] << 16) | (data[start + 6] << 8)
            | data[start + 7],
            (data[start + 8] << 24) | (data[start + 9] << 16) | (data[start + 10] << 8)
            | data[start + 11],
            ((data[start + 12] & 0x01) << 8) | data[start + 13],
            (data[start + 14] << 8) | data[start + 15],
            start + hlen, avail - hlen)
    if proto == IPPROTO_UDP:
        if avail < 8:
            return _l4_problem(frame, "net.udp.short", f"UDP header needs 8 bytes, {avail} left",
                               start, ethertype, vlans, l2_src, l2_dst, l3, version, proto)
        ulen = (data[start + 4] << 8) | data[start + 5]
        if ulen < 8 or ulen > avail:
            if ulen < 8 or len(data) >= frame.wirelen:
                return _l4_problem(frame, "net.udp.length",
                                   f"UDP length {ulen} outside 8..{avail}", start, ethertype,
                                   vlans, l2_src, l2_dst, l3, version, proto)
            ulen = avail  # snaplen cut
        return Packet(frame, DECODED, None, ethertype, vlans, l2_src, l2_dst, l3, version, proto,
                      None, start, (data[start] << 8) | data[start + 1],
                      (data[start + 2] << 8) | data[start + 3], 0, 0, 0, 0, start + 8, ulen - 8)
    return Packet(frame, DECODED, None, ethertype, vlans, l2_src, l2_dst, l3, version, proto,
                  None, -1, 0, 0, 0, 0, 0, 0, start, avail)


def plain_tcp(frame: Frame) -> tuple[int, int, int, int, int] | None:
    """`(ip_version, l3_offset, l4_offset, payload_offset, payload_length)` of a frame that
    `decode` reads as a whole, unfragmented TCP segment with no IPv6 extension headers and
    nothing cut by the snap length; None for every other frame (of any kind or shape).

    The shape test of the TCP reassembler's steady-state fast path (`feed_frame`): when
    it answers, `decode(frame)` would give a DECODED Packet with exactly these offsets
    (the twin of the checks in `ext/_tcpreassembly.pyx`).
    """
    data = frame.data
    if type(data) is not bytes:
        return None
    n = len(data)
    linktype = frame.linktype
    if linktype == LINKTYPE_ETHERNET:
        if n < 14:
            return None
        ethertype = (data[12] << 8) | data[13]
        pos = 14
    elif linktype == LINKTYPE_LINUX_SLL:
        if n < 16:
            return None
        ethertype = (data[14] << 8) | data[15]
        pos = 16
    elif linktype == LINKTYPE_LINUX_SLL2:
        if n < 20:
            return None
        ethertype = (data[0] << 8) | data[1]
        pos = 20
    elif linktype in (LINKTYPE_RAW, LINKTYPE_RAW_BSD12, LINKTYPE_RAW_BSD14):
        if n < 1:
            return None
        version = data[0] >> 4
        ethertype = ETHERTYPE_IPV4 if version == 4 else ETHERTYPE_IPV6 if version == 6 else -1
        pos = 0
    elif linktype == LINKTYPE_IPV4 or linktype == LINKTYPE_IPV6:
        ethertype = ETHERTYPE_IPV4 if linktype == LINKTYPE_IPV4 else ETHERTYPE_IPV6
        pos = 0
    elif linktype == LINKTYPE_NULL or linktype == LINKTYPE_LOOP:
        if n < 4:
            return None
        if linktype == LINKTYPE_LOOP or (data[0] == 0 and data[1] == 0):
            family = (data[0] << 24) | (data[1] << 16) | (data[2] << 8) | data[3]
        else:
            family = (data[3] << 24) | (data[2] << 16) | (data[1] << 8) | data[0]
        ethertype = (ETHERTYPE_IPV4 if family in AF_INET_VALUES else
                     ETHERTYPE_IPV6 if family in AF_INET6_VALUES else -1)
        pos = 4
    else:
        return None
    while ethertype in VLAN_ETHERTYPES:
        if pos + 4 > n:
            return None
        ethertype = (data[pos + 2] << 8) | data[pos + 3]
        pos += 4
    avail = n - pos
    if ethertype == ETHERTYPE_IPV4:
        if avail < 20 or data[pos] >> 4 != 4 or data[pos + 9] != IPPROTO_TCP:
            return None
        ihl = (data[pos] & 0x0F) * 4
        total = (data[pos + 2] << 8) | data[pos + 3]
        if total == 0:  # segmentation offload, as `decode` reads it
            total = avail
        if ihl < 20 or total < ihl or total > avail:
            return None
        if (data[pos + 6] & 0x3F) or data[pos + 7]:  # more fragments, or an offset
            return None
        version = 4
        start = pos + ihl
        end = pos + total
    elif ethertype == ETHERTYPE_IPV6:
        if avail < 40 or data[pos] >> 4 != 6 or data[pos + 6] != IPPROTO_TCP:
            return None
        plen = (data[pos + 4] << 8) | data[pos + 5]
        if plen == 0:
            plen = avail - 40
        elif plen > avail - 40:
            return None
        version = 6
        start = pos + 40
        end = start + plen
    else:
        return None
    hlen = (data[start + 12] >> 4) * 4 if end - start >= 20 else 0
    if hlen < 20 or hlen > end - start:
        return None
    return version, pos, start, start + hlen, end - start - hlen


def _l4_problem(frame: Frame, kind: str, detail: str, offset: int, ethertype: int,
                vlans: tuple[int, ...], l2_src: int, l2_dst: int, l3: int, version: int,
                proto: int) -> Packet:
    return Packet(frame, MALFORMED, _problem(frame, kind, detail, offset), ethertype, vlans,
                  l2_src, l2_dst, l3, version, proto, None, -1, 0, 0, 0, 0, 0, 0, -1, 0)
