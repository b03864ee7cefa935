"""Golden comparison against tshark: per-frame addresses/ports/TCP fields, tcp.stream, and
TCP stream bytes per direction equal to ``tshark -q -z follow,tcp,raw,N``.

Corpus captures (a varied subset, to keep the suite fast; set CHARGESCOPE_GOLDEN_ALL=1
to run every capture in the corpus) and captures generated here with scapy.
"""

from __future__ import annotations

import functools
import os

import pytest
from conftest import CORPUS, corpus_path

from chargescope import backends

from .frames import read_frames
from .tshark_golden import compare_fields, compare_follow, need_tshark, our_view

SUBSET = [
    "uhi22+pyPLC/2022-12-13_compleo_powerdelivery230_no_load.pcapng",  # 91 streams
    "uhi22+pyPLC/2022-11-25_v0.2_alpi_SDP_ok_TCP_fail.pcapng",  # SYN retries after RST
    "uhi22+pyPLC/2023-04-19_westparkAlpi_pyPlc_lightbulb_1fail_1ok.pcapng",  # IPv4+IPv6
    "uhi22+pyPLC/2026-02-08_pyPLC_FoccciCape_AudiQ4_break_after_cableCheck.pcap",
    "EVerest+logfiles/Audi/Q4/dc-iso2.dump",  # 166 streams
    "EVerest+logfiles/BYD/Atto3/2023-04-18T15:31:50.525Z-2_config-dc-iso2/ethernet-traffic.dump",
    "dspace-group+dsV2Gshark/ISO-2_DC_PnC_TLS_Contract_DS5366_RiseV2G.pcapng",
    "zeloscloud+zelos-extension-v2g/v2g_din_session.pcap",
]


def _captures() -> list[str]:
    if os.environ.get("CHARGESCOPE_GOLDEN_ALL") and CORPUS.exists():
        found = sorted(p for p in (CORPUS / "pcaps").rglob("*")
                       if p.suffix in (".pcap", ".pcapng", ".dump"))
        return [str(p.relative_to(CORPUS / "pcaps")) for p in found]
    return SUBSET


def _impls() -> list[str]:
    """Both twins when the extension is built (one tshark run serves both)."""
    return ["python"] + (["cython"] if backends.load_extension("netdecode") else [])


def _check(path) -> None:
    frames = read_frames(path)
    views = [our_view(frames, impl) for impl in _impls()]
    assert compare_fields(path, views[0]) > 0
    compare_follow(path, views[0])
    for other in views[1:]:  # the twins agree packet for packet and byte for byte
        assert other.packets == views[0].packets
        assert other.events == views[0].events


@pytest.mark.parametrize("name", _captures())
def test_corpus_matches_tshark(name: str) -> None:
    need_tshark()
    _check(corpus_path("pcaps", *name.split("/")))


# -- captures generated with scapy ------------------------------------------------------

def _tcp_session(c_data: bytes, s_data: bytes, *, seg: int = 100, isn_c: int = 1000,
                 isn_s: int = 5000, ipv6: bool = False, sport: int = 40000,
                 dport: int = 15118) -> dict[str, list]:
    """The packets of a whole TCP connection, by role, as scapy layers above Ethernet."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6

    def ip(client: bool):
        if ipv6:
            return IPv6(src="fe80::1" if client else "fe80::2:0:0:2",
                        dst="fe80::2:0:0:2" if client else "fe80::1")
        return IP(src="10.0.0.1" if client else "10.0.0.2",
                  dst="10.0.0.2" if client else "10.0.0.1")

    mod = 1 << 32
    c_next, s_next = (isn_c + 1) % mod, (isn_s + 1) % mod
    out: dict[str, list] = {"open": [
        ip(True) / TCP(sport=sport, dport=dport, flags="S", seq=isn_c),
        ip(False) / TCP(sport=dport, dport=sport, flags="SA", seq=isn_s, ack=c_next),
        ip(True) / TCP(sport=sport, dport=dport, flags="A", seq=c_next, ack=s_next)],
        "client": [], "server": []}
    for i in range(0, len(c_data), seg):
        out["client"].append(ip(True) / TCP(sport=sport, dport=dport, flags="PA",
                                            seq=(c_next + i) % mod, ack=s_next)
                             / c_data[i:i + seg])
    for i in range(0, len(s_data), seg):
        out["server"].append(ip(False) / TCP(sport=dport, dport=sport, flags="PA",
                                             seq=(s_next + i) % mod, ack=c_next)
                             / s_data[i:i + seg])
    c_fin, s_fin = (c_next + len(c_data)) % mod, (s_next + len(s_data)) % mod
    out["close"] = [
        ip(True) / TCP(sport=sport, dport=dport, flags="FA", seq=c_fin, ack=s_fin),
        ip(False) / TCP(sport=dport, dport=sport, flags="FA", seq=s_fin, ack=c_fin + 1),
        ip(True) / TCP(sport=sport, dport=dport, flags="A", seq=c_fin + 1, ack=s_fin + 1)]
    return out


def _payload(n: int, seed: int) -> bytes:
    return bytes((i * 7 + seed * 13 + (i >> 8)) & 0xFF for i in range(n))


def _write(tmp_path, name: str, packets: list, linktype: int | None = None):
    from scapy.utils import wrpcap
    path = tmp_path / name
    for i, pkt in enumerate(packets):
        pkt.time = 1_700_000_000 + i / 1000
    wrpcap(str(path), packets, linktype=linktype) if linktype is not None else wrpcap(
        str(path), packets)
    return path


@functools.cache
def _scenarios() -> dict[str, tuple[list, int | None]]:
    from scapy.layers.inet import IP, TCP, UDP, fragment
    from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, fragment6
    from scapy.layers.l2 import ARP, CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q, Ether, Loopback
    from scapy.packet import Raw

    def eth(p):
        return Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p

    s = _tcp_session(_payload(1000, 1), _payload(700, 2))
    c, sv = s["client"], s["server"]
    plain = s["open"] + [x for pair in zip(c, sv + [None] * 10, strict=False) for x in pair
                         if x is not None] + s["close"]
    reordered = s["open"] + [c[1], c[0], c[3], c[2], c[4], sv[2], sv[0], sv[1]] + c[5:] + \
        sv[3:] + s["close"]
    retrans = s["open"] + [c[0], c[1], c[0], c[2], c[1], c[2]] + c[3:] + sv + sv[:2] + \
        s["close"]
    lost = s["open"] + [c[0], c[2]] + c[3:] + sv + s["close"]
    # overlaps: a segment spanning two others, and a conflicting copy (first seen wins)
    span = c[1].copy()
    span[TCP].payload = Raw(bytes(c[1][TCP].payload) + bytes(c[2][TCP].payload)[:50])
    clash = c[2].copy()
    clash[TCP].payload = Raw(b"X" * 30)
    overlapping = s["open"] + [c[0], c[2], span, clash, c[1]] + c[3:] + sv + s["close"]
    wrap = _tcp_session(_payload(900, 3), _payload(300, 4), isn_c=(1 << 32) - 350,
                        isn_s=(1 << 32) - 5, sport=50001)
    wrapped = wrap["open"] + wrap["client"] + wrap["server"] + wrap["close"]
    v6 = _tcp_session(_payload(600, 5), _payload(400, 6), ipv6=True, sport=50002)
    ipv6 = v6["open"] + v6["client"][::-1] + v6["server"] + v6["close"]
    frag4 = fragment(IP(src="10.0.0.1", dst="10.0.0.2", id=77) / UDP(sport=15118, dport=15118)
                     / _payload(3000, 7), fragsize=1000)
    frag6 = fragment6(IPv6(src="fe80::1", dst="fe80::2") / IPv6ExtHdrFragment(id=99)
                      / UDP(sport=1234, dport=15118) / _payload(3000, 8), 1280)
    dest6 = IPv6(src="fe80::1", dst="fe80::2") / IPv6ExtHdrDestOpt() / UDP(sport=5, dport=6) / b"x"
    vlan = [Ether() / Dot1AD(vlan=100) / Dot1Q(vlan=200) / p for p in plain[:6]]
    # a TCP segment cut into IP fragments (bytes must map back to the fragments)
    tcpfrag = s["open"] + [c[0]] + fragment(c[1], fragsize=48)[::-1] + c[2:] + sv + s["close"]
    mid = s["client"][3:] + s["server"][2:] + s["close"]  # connection open before capture
    return {
        "plain.pcap": ([eth(p) for p in plain], None),
        "reordered.pcap": ([eth(p) for p in reordered], None),
        "retransmitted.pcap": ([eth(p) for p in retrans], None),
        "lost.pcap": ([eth(p) for p in lost], None),
        "overlapping.pcap": ([eth(p) for p in overlapping], None),
        "wraparound.pcap": ([eth(p) for p in wrapped], None),
        "ipv6.pcap": ([eth(p) for p in ipv6], None),
        "midstream.pcap": ([eth(p) for p in mid], None),
        "fragments.pcap": ([eth(p) for p in frag4[::-1] + frag6 + [dest6]], None),
        "vlan.pcap": (vlan + [Ether() / ARP()], None),
        "tcp-fragmented.pcap": ([eth(p) for p in tcpfrag], None),
        "sll.pcap": ([CookedLinux(lladdrlen=6, src=b"\x02\x00\x00\x00\x00\x01\x00\x00") / p for p in plain], 113),
        "sll2.pcap": ([CookedLinuxV2(lladdrlen=6, src=b"\x02\x00\x00\x00\x00\x01\x00\x00") / p
                       for p in reordered], 276),
        "raw.pcap": (list(plain), 101),
        "null.pcap": ([Loopback(type=2) / p for p in plain], 0),
    }


@pytest.mark.parametrize("name", sorted(_scenarios()))
def test_generated_matches_tshark(tmp_path, name: str) -> None:
    need_tshark()
    packets, linktype = _scenarios()[name]
    _check(_write(tmp_path, name, packets, linktype))
