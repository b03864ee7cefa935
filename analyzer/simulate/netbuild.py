"""An exact, deterministic frame synthesiser: Ethernet (+VLAN), IPv4/IPv6, UDP, TCP, HomePlug.

`simulate` renders protocol payloads (MMEs, SDP, V2GTP, WebSocket, HTTP) and needs them
on the wire as a real capture would hold them: correct lengths and checksums, TCP
conversations with a handshake, MSS-sized segments, consistent seq/ack numbers, ACKs
and an orderly close. Everything random (ISNs, IP ids, jitter) comes from one seeded
`random.Random`, so a seed reproduces a capture byte for byte.

Frames are collected on a `Wire` as `(ts_ns, bytes)` records for the capture writer.
"""

from __future__ import annotations

import ipaddress
import random
import struct
from dataclasses import dataclass, field

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
ETH_VLAN = 0x8100
ETH_HOMEPLUG = 0x88E1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
ETH_MIN_FRAME = 60  # without FCS: shorter frames are padded, as a NIC does on the wire

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

US = 1_000
MS = 1_000_000


def mac_bytes(mac: str) -> bytes:
    raw = bytes.fromhex(mac.replace(":", "").replace("-", ""))
    if len(raw) != 6:
        raise ValueError(f"not a MAC address: {mac!r}")
    return raw


def multicast_mac(ip: str) -> str:
    """The Ethernet group address of an IPv4/IPv6 multicast group (RFC 1112, RFC 2464)."""
    addr = ipaddress.ip_address(ip)
    if addr.version == 6:
        tail = addr.packed[-4:]
        return "33:33:" + ":".join(f"{b:02x}" for b in tail)
    low = addr.packed[1:]
    return "01:00:5e:" + ":".join(f"{b:02x}" for b in (low[0] & 0x7F, low[1], low[2]))


def link_local_ipv6(mac: str) -> str:
    """The modified EUI-64 link-local address of `mac` (RFC 4291 appendix A)."""
    b = bytearray(mac_bytes(mac))
    b[0] ^= 0x02
    iid = bytes(b[:3]) + b"\xff\xfe" + bytes(b[3:])
    return str(ipaddress.IPv6Address(b"\xfe\x80" + b"\0" * 6 + iid))


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of `data`."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ethernet(dst: str, src: str, ethertype: int, payload: bytes, vlan: int | None = None) -> bytes:
    head = mac_bytes(dst) + mac_bytes(src)
    if vlan is not None:
        head += struct.pack("!HH", ETH_VLAN, vlan & 0x0FFF)
    frame = head + struct.pack("!H", ethertype) + payload
    return frame + b"\0" * (ETH_MIN_FRAME - len(frame)) if len(frame) < ETH_MIN_FRAME else frame


def _pseudo_header(src: bytes, dst: bytes, proto: int, length: int) -> bytes:
    if len(src) == 4:
        return src + dst + struct.pack("!BBH", 0, proto, length)
    return src + dst + struct.pack("!IxxxB", length, proto)


def ip_packet(src: str, dst: str, proto: int, payload: bytes, ident: int = 0,
              ttl: int = 64) -> tuple[int, bytes]:
    """(EtherType, IPv4 or IPv6 packet) carrying `payload`; version from the addresses."""
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    if s.version != d.version:
        raise ValueError(f"mixed IP versions: {src} -> {dst}")
    if s.version == 4:
        head = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF,
                           0x4000, ttl, proto, 0, s.packed, d.packed)
        head = head[:10] + struct.pack("!H", checksum(head)) + head[12:]
        return ETH_IPV4, head + payload
    head = struct.pack("!IHBB16s16s", 6 << 28, len(payload), proto, ttl, s.packed, d.packed)
    return ETH_IPV6, head + payload


def transport_checksum(src: str, dst: str, proto: int, segment: bytes) -> int:
    s, d = ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed
    value = checksum(_pseudo_header(s, d, proto, len(segment)) + segment)
    return value if value or proto != IPPROTO_UDP else 0xFFFF  # UDP: 0 means "none"


def udp_datagram(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    return seg[:6] + struct.pack("!H", transport_checksum(src, dst, IPPROTO_UDP, seg)) + seg[8:]


def tcp_segment(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int,
                payload: bytes = b"", window: int = 64240, mss: int | None = None) -> bytes:
    options = struct.pack("!BBH", 2, 4, mss) if mss is not None else b""
    offset = (20 + len(options)) // 4
    head = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                       offset << 4, flags, window, 0, 0) + options
    seg = head + payload
    return seg[:16] + struct.pack("!H", transport_checksum(src, dst, IPPROTO_TCP, seg)) + seg[18:]


@dataclass(frozen=True, slots=True)
class Node:
    """One host on a simulated link: Ethernet address and IP address (v4 or v6)."""

    mac: str
    ip: str = ""
    vlan: int | None = None


@dataclass(frozen=True, slots=True)
class WireFrame:
    """One synthesised frame: capture timestamp (this source's own clock) and bytes."""

    ts_ns: int
    data: bytes


@dataclass(slots=True)
class Wire:
    """The frames of one capture source, and the seeded randomness that made them."""

    rng: random.Random
    frames: list[WireFrame] = field(default_factory=list)
    _ip_ids: dict[str, int] = field(default_factory=dict)

    def emit(self, ts_ns: int, data: bytes) -> None:
        self.frames.append(WireFrame(ts_ns, data))

    def jitter(self, base_ns: int, spread_ns: int) -> int:
        """`base_ns` plus a seeded delay in [0, spread_ns)."""
        return base_ns + (self.rng.randrange(spread_ns) if spread_ns > 0 else 0)

    def ordered(self) -> list[WireFrame]:
        """Frames in time order (stable: equal times keep emission order)."""
        return sorted(self.frames, key=lambda f: f.ts_ns)

    def _next_ip_id(self, ip: str) -> int:
        if ip not in self._ip_ids:
            self._ip_ids[ip] = self.rng.randrange(0x10000)
        self._ip_ids[ip] = (self._ip_ids[ip] + 1) & 0xFFFF
        return self._ip_ids[ip]

    def ip_frame(self, ts_ns: int, src: Node, dst: Node, proto: int, payload: bytes,
                 dst_mac: str | None = None, ttl: int = 64) -> None:
        ethertype, packet = ip_packet(src.ip, dst.ip, proto, payload,
                                      ident=self._next_ip_id(src.ip), ttl=ttl)
        self.emit(ts_ns, ethernet(dst_mac or dst.mac, src.mac, ethertype, packet, src.vlan))

    def udp(self, ts_ns: int, src: Node, sport: int, dst: Node, dport: int, payload: bytes,
            dst_mac: str | None = None, ttl: int = 64) -> None:
        self.ip_frame(ts_ns, src, dst, IPPROTO_UDP,
                      udp_datagram(src.ip, dst.ip, sport, dport, payload), dst_mac, ttl)

    def homeplug(self, ts_ns: int, src_mac: str, dst_mac: str, mme: bytes,
                 vlan: int | None = None) -> None:
        """One HomePlug AV/GP management message (EtherType 0x88E1), padded to 60 bytes."""
        self.emit(ts_ns, ethernet(dst_mac, src_mac, ETH_HOMEPLUG, mme, vlan))

    def tcp(self, client: Node, server: Node, server_port: int, client_port: int | None = None,
            mss: int = 1460, rtt_ns: int = 400 * US) -> TcpConversation:
        port = client_port if client_port is not None else self.rng.randrange(49152, 65535)
        return TcpConversation(self, client, server, port, server_port, mss, rtt_ns)


class TcpConversation:
    """One TCP connection on a `Wire`: handshake, data in MSS segments with ACKs, close.

    Times are in the capture source's clock. Each call takes the time its first frame
    is sent and returns the time of the last frame it emitted, so a timeline can chain
    calls. The receiver acknowledges every segment after half the round-trip time.
    """

    def __init__(self, wire: Wire, client: Node, server: Node, client_port: int,
                 server_port: int, mss: int, rtt_ns: int) -> None:
        self.wire, self.client, self.server = wire, client, server
        self.client_port, self.server_port = client_port, server_port
        self.mss, self.rtt_ns = mss, rtt_ns
        self._seq = {True: wire.rng.randrange(1 << 32), False: wire.rng.randrange(1 << 32)}
        self.open = False

    def _ends(self, from_client: bool) -> tuple[Node, int, Node, int]:
        if from_client:
            return self.client, self.client_port, self.server, self.server_port
        return self.server, self.server_port, self.client, self.client_port

    def _send(self, ts_ns: int, from_client: bool, flags: int, payload: bytes = b"",
              mss: int | None = None) -> None:
        src, sport, dst, dport = self._ends(from_client)
        ack = self._seq[not from_client] if flags & ACK else 0
        seg = tcp_segment(src.ip, dst.ip, sport, dport, self._seq[from_client], ack, flags,
                          payload, mss=mss)
        self.wire.ip_frame(ts_ns, src, dst, IPPROTO_TCP, seg)
        self._seq[from_client] += len(payload) + (1 if flags & (SYN | FIN) else 0)

    def _half_rtt(self) -> int:
        return self.wire.jitter(self.rtt_ns // 2, max(1, self.rtt_ns // 10))

    def connect(self, ts_ns: int) -> int:
        self._send(ts_ns, True, SYN, mss=self.mss)
        ts_ns += self._half_rtt()
        self._send(ts_ns, False, SYN | ACK, mss=self.mss)
        ts_ns += self._half_rtt()
        self._send(ts_ns, True, ACK)
        self.open = True
        return ts_ns

    def send(self, ts_ns: int, data: bytes, from_client: bool) -> int:
        """`data` from one side in MSS-sized segments (PSH on the last), each ACKed."""
        if not self.open:
            raise RuntimeError("send on a TCP conversation that is not open")
        chunks = [data[i:i + self.mss] for i in range(0, len(data), self.mss)] or [b""]
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            self._send(ts_ns, from_client, ACK | (PSH if last else 0), chunk)
            ts_ns += self.wire.jitter(12 * US, 8 * US) if not last else 0
        ack_ts = ts_ns + self._half_rtt()
        self._send(ack_ts, not from_client, ACK)
        return ack_ts

    def close(self, ts_ns: int, from_client: bool = True) -> int:
        """Orderly close: FIN from one side, FIN+ACK from the other, final ACK."""
        self._send(ts_ns, from_client, FIN | ACK)
        ts_ns += self._half_rtt()
        self._send(ts_ns, not from_client, FIN | ACK)
        ts_ns += self._half_rtt()
        self._send(ts_ns, from_client, ACK)
        self.open = False
        return ts_ns

    def reset(self, ts_ns: int, from_client: bool = True) -> int:
        """Abortive close: one RST+ACK."""
        self._send(ts_ns, from_client, RST | ACK)
        self.open = False
        return ts_ns
