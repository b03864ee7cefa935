"""Generated TCP traffic for fast-path == general-path tests: several connections over
every link type the decoder reads, with handshakes, in-order and out-of-order data,
retransmissions, losses, bare and wild ACKs, FIN/RST, sequence wraparound, Ethernet
padding, offload lengths, options, fragments, snaplen cuts and flipped bytes."""

from __future__ import annotations

import struct

from hypothesis import strategies as st

from chargescope.analyzer.records import Frame

from .netbuild import eth, ipv4, tcp

SYN, ACK, FIN, RST, PSH = 0x02, 0x10, 0x01, 0x04, 0x08
V6_A = bytes.fromhex("fe800000000000000000000000000001")
V6_B = bytes.fromhex("20010db8000000000000000000000002")

# (link type, VLAN tags) the frames are wrapped in; 147 (a user DLT) only the general decode
LINKS = [(1, ())] * 6 + [(1, ((0x8100, 7),)), (1, ((0x88A8, 3), (0x8100, 9))), (113, ()),
                         (113, ((0x8100, 2),)), (101, ()), (12, ()), (276, ()), (0, ()),
                         (108, ()), (228, ()), (147, ())]


def ipv6(nxt: int, payload: bytes, src: bytes, dst: bytes, plen: int | None = None) -> bytes:
    return struct.pack(">IHBB16s16s", 0x60000000, len(payload) if plen is None else plen,
                       nxt, 64, src, dst) + payload


def link(linktype: int, tags: tuple, ethertype: int, packet: bytes) -> bytes:
    if linktype == 1:
        return eth(ethertype, packet, tags)
    if linktype == 113:
        return struct.pack(">HHH8sH", 0, 1, 6, b"\x02\0\0\0\0\x01\0\0", ethertype) + packet
    if linktype == 276:
        return struct.pack(">HHIHBB8s", ethertype, 0, 2, 1, 0, 6, b"\x02\0\0\0\0\x01\0\0") + packet
    if linktype == 0:  # host byte order
        return struct.pack("<I", 2 if ethertype == 0x0800 else 10) + packet
    if linktype == 108:
        return struct.pack(">I", 2 if ethertype == 0x0800 else 24) + packet
    if linktype == 147:
        return b"\x00\x01" + packet
    return packet  # raw IP (101, 12, 228/229)


class _Side:
    def __init__(self, isn: int) -> None:
        self.isn = isn
        self.next = 0  # stream offset the generator sends next
        self.holes: list[tuple[int, int]] = []  # (offset, length) skipped by "ahead"


step = st.tuples(
    st.sampled_from([0, 0, 0, 1, 1, 2]),  # connection
    st.booleans(),  # server side sends
    st.sampled_from(["data"] * 12 + ["ack"] * 4 + ["ahead", "fill"] * 2
                    + ["syn", "synack", "fin", "rst", "old", "wild", "flags"]),
    st.integers(0, 60),  # length
    st.sampled_from([0] * 6 + [1, 2, 3]),  # how the ACK field is set
    st.sampled_from([1, 2, 3, 700, 70000, 2**31 - 1, 2**31]),  # ACK mode 1: unseen bytes
    st.integers(0, 7),  # frame shape: 0-4 plain, 5 padding, 6 offload length, 7 options
    st.integers(0, 50),  # mutation: 0 flip a byte, 1 cut, 2 snaplen, 3 fragment; else none
    st.integers(0, 1 << 16),  # a random number for the rest
    st.sampled_from([0] * 4 + [1, 1000, 10**9, 4 * 10**9, 700 * 10**9]),  # time step
)


@st.composite
def traffic(draw) -> list[Frame]:
    """Frames of up to three TCP connections (one source), in capture order."""
    conns = []
    for i in range(3):
        conns.append({
            "link": draw(st.sampled_from(LINKS)), "v6": draw(st.booleans()),
            "ports": (40000 + i, draw(st.sampled_from([15118, 80, 9000, 40000 + i]))),
            "sides": (_Side(draw(st.sampled_from([0, 7, 2**31 - 3, 2**32 - 20, 2**32 - 1,
                                                   12345678]))),
                      _Side(draw(st.integers(0, 2**32 - 1)))),
            "addrs": (bytes([10, 0, 0, 1 + i]), bytes([10, 0, 9, 1]))})
    blob = bytes(range(256)) * 2
    frames: list[Frame] = []
    ts = 1_000_000
    calm = draw(st.booleans())  # mostly the steady state, a surprise now and then
    for conn_i, server, kind, length, ack_mode, unseen, shape, mutate, rnd, dt in draw(
            st.lists(step, min_size=8, max_size=80)):
        if calm and rnd % 16 != 5:
            kind = "ack" if kind == "ack" else "data"
            ack_mode = 1 if ack_mode == 1 and unseen < 4 else 0
            mutate = 50
            dt = min(dt, 1000)
        c = conns[conn_i]
        me, peer = c["sides"][server], c["sides"][1 - server]
        flags = ACK | PSH
        rel = me.next
        data = blob[rnd % 256:][:length]
        if kind == "syn":
            flags, data = SYN, b""
        elif kind == "synack":
            flags, data = SYN | ACK, b""
        elif kind == "ack":
            flags, data = ACK, b""
        elif kind == "fin":
            flags = FIN | ACK
        elif kind == "rst":
            flags, data = RST | ACK, b""
        elif kind == "old":
            rel = max(0, me.next - 1 - rnd % 80)
        elif kind == "ahead":  # leaves a hole a later "fill" may close
            skip = 1 + rnd % 40
            me.holes.append((me.next, skip))
            rel = me.next + skip
        elif kind == "fill" and me.holes:
            rel, size = me.holes.pop(rnd % len(me.holes))
            data = blob[rnd % 256:][:size + (rnd >> 8) % 3 - 1 if size > 1 else size]
        elif kind == "wild":
            rel = rnd * 65537
        elif kind == "flags":
            flags = rnd & 0x3F
        seq = me.isn + (0 if flags & SYN else 1 + rel)
        if ack_mode == 0:
            ack = peer.isn + 1 + peer.next
        elif ack_mode == 1:  # acknowledges bytes not sent (or lost), 1 and 2 at the edge
            ack = peer.isn + 1 + peer.next + unseen
        elif ack_mode == 2:
            ack = peer.isn + 1 + max(0, peer.next - rnd % 50)
        else:
            ack = rnd * 65599
        if kind in ("data", "fin", "ahead") and not flags & SYN:
            me.next = max(me.next, rel + len(data))
        ports = c["ports"] if not server else c["ports"][::-1]
        segment = tcp(data, flags=flags, sport=ports[0], dport=ports[1], seq=seq,
                      ack=ack % (1 << 32), offset_words=6 if shape == 7 else 5)
        src, dst = c["addrs"] if not server else c["addrs"][::-1]
        frag = 0x2000 if mutate == 3 else 0
        if c["v6"]:
            a, b = (V6_A, V6_B) if not server else (V6_B, V6_A)
            packet = ipv6(6, segment, a, b, plen=0 if shape == 6 else None)
            ethertype = 0x86DD
        else:
            packet = ipv4(6, segment, src=src, dst=dst, total=0 if shape == 6 else None,
                          ihl=6 if shape == 7 else 5, flags_frag=frag)
            ethertype = 0x0800
        linktype, tags = c["link"]
        if linktype in (12, 228) and c["v6"]:
            linktype = 229 if linktype == 228 else 12
        raw = link(linktype, tags, ethertype, packet)
        if shape == 5:
            raw += b"\0" * (1 + rnd % 20)  # Ethernet padding after the IP datagram
        wirelen = len(raw)
        if mutate == 0 and raw:
            at = rnd % len(raw)
            raw = raw[:at] + bytes([raw[at] ^ (1 + rnd % 255)]) + raw[at + 1:]
        elif mutate == 1:
            raw = raw[:rnd % (len(raw) + 1)]
            wirelen = len(raw)
        elif mutate == 2:
            raw = raw[:max(0, len(raw) - 1 - rnd % 30)]  # snaplen cut: wirelen stays
        ts += dt
        frames.append(Frame(len(frames) + 1, ts, linktype, raw, wirelen, source="t"))
    return frames
