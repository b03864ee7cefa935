"""Link/IP/transport decode: both twins, hand-made frames, hostile bytes, corpus equality."""

from __future__ import annotations

import struct

import pytest
from conftest import corpus_path, load_impl, twin_params
from hypothesis import given, settings
from hypothesis import strategies as st

from chargescope import backends
from chargescope.analyzer import net
from chargescope.analyzer.records import Frame

from .frames import read_frames
from .netbuild import eth, ipv4, ipv6, tcp, udp

LINKTYPES = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147]


@pytest.fixture(params=twin_params("netdecode"))
def decode(request):
    return load_impl("netdecode", request.param).decode


def frame(data: bytes, linktype: int = 1, wirelen: int | None = None) -> Frame:
    return Frame(7, 1_000, linktype, data, len(data) if wirelen is None else wirelen,
                 source="t.pcap")


def test_ethernet_ipv4_tcp_with_options_and_padding(decode) -> None:
    data = eth(0x0800, ipv4(6, tcp(b"hello", offset_words=8), ihl=6)) + b"\x00" * 6
    p = decode(frame(data))
    assert (p.status, p.problem) == (net.DECODED, None)
    assert (p.eth_src, p.eth_dst) == ("02:00:00:00:00:01", "02:00:00:00:00:02")
    assert (p.ip_version, p.ip_src, p.ip_dst, p.ip_proto) == (4, "10.0.0.1", "10.0.0.2", 6)
    assert (p.sport, p.dport, p.tcp_seq, p.tcp_ack, p.tcp_flags, p.tcp_window) == (
        40000, 15118, 0xFFFFFFF0, 7, 0x18, 512)
    assert p.payload == b"hello"  # Ethernet padding excluded by the IP length


def test_stacked_vlans_and_ipv6_extension_headers(decode) -> None:
    hop = bytes([60, 0]) + b"\x01\x04\x00\x00\x00\x00"  # hop-by-hop -> dest opts
    dest = bytes([17, 1]) + b"\x00" * 14  # dest opts (16 bytes) -> UDP
    data = eth(0x86DD, ipv6(0, hop + dest + udp(b"sdp")), tags=((0x88A8, 0x2064), (0x8100, 5)))
    p = decode(frame(data))
    assert p.status == net.DECODED
    assert p.vlans == (100, 5)
    assert (p.ip_src, p.ip_dst) == ("fe80::1", "2001:db8::2")
    assert (p.ip_proto, p.sport, p.dport, p.payload) == (17, 15118, 49152, b"sdp")


def test_fragments_keep_identity_and_data(decode) -> None:
    first = decode(frame(eth(0x0800, ipv4(17, udp(b"a" * 16), flags_frag=0x2000, ident=9))))
    assert first.frag == (9, 0, True) and first.l4_offset == -1
    later = decode(frame(eth(0x0800, ipv4(17, b"b" * 8, flags_frag=3, ident=9))))
    assert later.frag == (9, 24, False) and later.payload == b"b" * 8
    frag6 = bytes([17, 0]) + struct.pack(">HI", (2 << 3) | 1, 0xDEADBEEF)
    p6 = decode(frame(eth(0x86DD, ipv6(44, frag6 + b"c" * 8))))
    assert p6.frag == (0xDEADBEEF, 16, True) and p6.ip_proto == 17


@pytest.mark.parametrize("linktype,data,ethertype,l2_src", [
    (113, bytes.fromhex("0000000100060200000000010000") + b"\x08\x00", 0x0800, 6),
    (276, b"\x08\x00\x00\x00" + b"\x00" * 4 + b"\x00\x01\x00\x06" + b"\x02" * 6 + b"\x00\x00",
     0x0800, 12),
    (0, b"\x02\x00\x00\x00", 0x0800, -1),
    (108, b"\x00\x00\x00\x1e", 0x86DD, -1),
    (101, b"", 0x0800, -1),
    (228, b"", 0x0800, -1),
])
def test_link_types(decode, linktype: int, data: bytes, ethertype: int, l2_src: int) -> None:
    body = ipv4(6, tcp(b"x")) if ethertype == 0x0800 else ipv6(6, tcp(b"x"))
    p = decode(frame(data + body, linktype))
    assert (p.status, p.ethertype, p.l2_src_offset, p.payload) == (
        net.DECODED, ethertype, l2_src, b"x")


def test_homeplug_in_scope_arp_and_unknown_out_of_scope(decode) -> None:
    hp = decode(frame(eth(0x88E1, b"\x01\x60\x60\x00\x00")))
    assert (hp.status, hp.ethertype, hp.l3_offset, hp.payload) == (
        net.DECODED, 0x88E1, 14, b"\x01\x60\x60\x00\x00")
    arp = decode(frame(eth(0x0806, b"\x00" * 28)))
    assert (arp.status, arp.problem, arp.ethertype) == (net.OUT_OF_SCOPE, None, 0x0806)
    unknown = decode(frame(b"\x00" * 30, 147))
    assert unknown.status == net.OUT_OF_SCOPE


@pytest.mark.parametrize("data,linktype,kind,offset", [
    (b"\x00" * 10, 1, "net.ethernet.short", 0),
    (eth(0x8100, b"\x00"), 1, "net.vlan.short", 14),
    (eth(0x0800, b"\x45" + b"\x00" * 10), 1, "net.ipv4.short", 14),
    (eth(0x0800, b"\x65" + b"\x00" * 30), 1, "net.ipv4.version", 14),
    (eth(0x0800, ipv4(6, tcp(), ihl=4)), 1, "net.ipv4.header_length", 14),
    (eth(0x0800, ipv4(6, tcp(), total=200)), 1, "net.ipv4.total_length", 14),
    (eth(0x0800, ipv4(6, tcp(), total=10)), 1, "net.ipv4.total_length", 14),
    (eth(0x86DD, ipv6(6, b"")[:30]), 1, "net.ipv6.short", 14),
    (eth(0x86DD, ipv6(0, b"\x06\x05" + b"\x00" * 6)), 1, "net.ipv6.extension", 54),
    (eth(0x86DD, ipv6(44, b"\x06\x00\x00")), 1, "net.ipv6.extension", 54),
    (eth(0x0800, ipv4(6, tcp()[:12])), 1, "net.tcp.short", 34),
    (eth(0x0800, ipv4(6, tcp(offset_words=2))), 1, "net.tcp.header_length", 34),
    (eth(0x0800, ipv4(17, udp(b"ab", length=30))), 1, "net.udp.length", 34),
    (eth(0x0800, ipv4(17, b"\x00" * 4)), 1, "net.udp.short", 34),
    (b"\x75" + b"\x00" * 30, 101, "net.raw.version", 0),
    (b"\x02\x00", 0, "net.null.short", 0),
    (b"\x00" * 12, 113, "net.sll.short", 0),
    (b"\x00" * 12, 276, "net.sll2.short", 0),
])
def test_malformed_names_kind_frame_and_offset(decode, data: bytes, linktype: int, kind: str,
                                               offset: int) -> None:
    p = decode(frame(data, linktype))
    assert p.status == net.MALFORMED and kind in net.PROBLEM_KINDS
    assert (p.problem.kind, p.problem.frame, p.problem.offset, p.problem.source) == (
        kind, 7, offset, "t.pcap")


def test_snaplen_cut_frame_is_decoded_with_what_was_captured(decode) -> None:
    data = eth(0x0800, ipv4(6, tcp(b"z" * 100)))
    p = decode(frame(data[:80], wirelen=len(data)))
    assert p.status == net.DECODED and p.payload == b"z" * 26


@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=120), linktype=st.sampled_from(LINKTYPES),
       cut=st.integers(0, 64))
def test_hostile_bytes_never_raise_and_twins_agree(data: bytes, linktype: int, cut: int) -> None:
    f = Frame(1, 0, linktype, data, len(data) + cut)
    expected = backends.load_twin("netdecode").decode(f)
    assert expected.status in (net.DECODED, net.MALFORMED, net.OUT_OF_SCOPE)
    assert (expected.problem is None) == (expected.status != net.MALFORMED)
    if expected.problem is not None:
        assert expected.problem.kind in net.PROBLEM_KINDS
    ext = backends.load_extension("netdecode")
    if ext is not None:
        assert ext.decode(f) == expected


@settings(max_examples=300, deadline=None)
@given(prefix=st.sampled_from([
    eth(0x0800, b""), eth(0x86DD, b""), eth(0x8100, b"\x00\x05\x08\x00"),
    eth(0x0800, ipv4(6, b"")[:20]), eth(0x86DD, ipv6(44, b"")[:40]),
    eth(0x86DD, ipv6(0, b"")[:40]), eth(0x0800, ipv4(17, b"")[:20])]),
    tail=st.binary(max_size=80))
def test_structured_hostile_bytes_twins_agree(prefix: bytes, tail: bytes) -> None:
    f = Frame(1, 0, 1, prefix + tail, len(prefix + tail))
    expected = backends.load_twin("netdecode").decode(f)
    ext = backends.load_extension("netdecode")
    if ext is not None:
        assert ext.decode(f) == expected
    if expected.status == net.DECODED and expected.payload_offset >= 0:
        assert expected.payload_offset + expected.payload_length <= len(f.data)


def test_corpus_twins_agree() -> None:
    ext = backends.load_extension("netdecode")
    if ext is None:
        pytest.skip("netdecode extension not built")
    twin = backends.load_twin("netdecode")
    for name in ("uhi22+pyPLC/2023-04-19_westparkAlpi_pyPlc_lightbulb_1fail_1ok.pcapng",
                 "dspace-group+dsV2Gshark/ISO-20_TLS13_DC_DS5366_Josev.pcapng"):
        for f in read_frames(corpus_path("pcaps", *name.split("/"))):
            assert ext.decode(f) == twin.decode(f)
