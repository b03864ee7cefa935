"""netbuild: exact frames, cross-checked against scapy's own checksum computation."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chargescope.analyzer.simulate import netbuild as nb

scapy_all = pytest.importorskip("scapy.all")
Ether, IP, IPv6, TCP, UDP = (scapy_all.Ether, scapy_all.IP, scapy_all.IPv6, scapy_all.TCP,
                             scapy_all.UDP)

EV = nb.Node("02:00:00:00:00:01", nb.link_local_ipv6("02:00:00:00:00:01"))
SECC = nb.Node("02:00:00:00:00:02", nb.link_local_ipv6("02:00:00:00:00:02"))
CP = nb.Node("02:00:00:00:01:01", "10.0.0.2", vlan=20)
CSMS = nb.Node("02:00:00:00:01:02", "10.0.0.1", vlan=20)


def _rebuilt(frame: bytes) -> bytes:
    """scapy's bytes for the same packet with every checksum and length recomputed."""
    pkt = Ether(frame)
    for layer in (IP, TCP, UDP):
        if layer in pkt:
            del pkt[layer].chksum
            if layer in (IP, UDP):
                del pkt[layer].len
    if IPv6 in pkt:
        del pkt[IPv6].plen
    return bytes(pkt)


def test_link_local_is_modified_eui64():
    assert nb.link_local_ipv6("00:01:87:05:22:33") == "fe80::201:87ff:fe05:2233"
    assert nb.multicast_mac("ff02::1") == "33:33:00:00:00:01"
    assert nb.multicast_mac("224.0.0.251") == "01:00:5e:00:00:fb"


@settings(max_examples=60, deadline=None)
@given(payload=st.binary(max_size=3000), v6=st.booleans(), seed=st.integers(0, 2**32))
def test_tcp_conversation_checksums_and_numbers(payload, v6, seed):
    client, server = (EV, SECC) if v6 else (CP, CSMS)
    wire = nb.Wire(random.Random(seed))
    conv = wire.tcp(client, server, 15118, mss=536)
    t = conv.connect(1_000)
    t = conv.send(t, payload, from_client=True)
    t = conv.send(t, payload[::-1], from_client=False)
    conv.close(t)
    frames = wire.ordered()
    assert [f.ts_ns for f in frames] == sorted(f.ts_ns for f in frames)
    sent = {True: b"", False: b""}
    isn = {}
    next_seq = {}
    for f in frames:
        assert _rebuilt(f.data) == f.data
        pkt = Ether(f.data)
        tcp = pkt[TCP]
        from_client = tcp.sport == conv.client_port
        flags = int(tcp.flags)
        if flags & nb.SYN:
            isn[from_client] = tcp.seq
            next_seq[from_client] = tcp.seq + 1
            continue
        assert tcp.seq == next_seq[from_client]
        assert tcp.ack == next_seq[not from_client]
        # Ethernet padding is not TCP payload: cut at the IP length
        ip_len = pkt[IP].len - 20 - tcp.dataofs * 4 if IP in pkt else pkt[IPv6].plen - tcp.dataofs * 4
        data = bytes(tcp.payload)[:ip_len]
        assert len(data) <= 536
        sent[from_client] += data
        next_seq[from_client] += len(data) + (1 if flags & nb.FIN else 0)
    assert sent[True] == payload and sent[False] == payload[::-1]


def test_udp_multicast_and_vlan():
    wire = nb.Wire(random.Random(1))
    group = nb.Node(nb.multicast_mac("ff02::1"), "ff02::1")
    wire.udp(5, EV, 50000, group, 15118, b"\x01\xfe\x90\x00\x00\x00\x00\x02\x10\x00")
    wire.udp(6, CP, 40000, CSMS, 53, b"x")
    for f in wire.ordered():
        assert _rebuilt(f.data) == f.data
    first = Ether(wire.frames[0].data)
    assert first.dst == "33:33:00:00:00:01" and first[UDP].dport == 15118
    assert Ether(wire.frames[1].data)[scapy_all.Dot1Q].vlan == 20


def test_homeplug_frame_is_padded():
    wire = nb.Wire(random.Random(0))
    wire.homeplug(0, EV.mac, "ff:ff:ff:ff:ff:ff", b"\x01\x64\x60\x00\x00")
    data = wire.frames[0].data
    assert len(data) == 60 and data[12:14] == b"\x88\xe1" and data[14:19] == b"\x01\x64\x60\x00\x00"


def test_same_seed_same_bytes():
    def run(seed):
        wire = nb.Wire(random.Random(seed))
        conv = wire.tcp(CP, CSMS, 80)
        conv.send(conv.connect(0), b"GET / HTTP/1.1\r\n\r\n", True)
        return [(f.ts_ns, f.data) for f in wire.ordered()]
    assert run(7) == run(7)
    assert run(7) != run(8)
