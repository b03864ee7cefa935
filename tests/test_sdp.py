"""SDP: layouts both ways, malformed datagrams, and the real exchanges in the corpus."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from v2g_helpers import CORPUS, ipv6_segments

from chargescope.dissectors import sdp


def test_request_bytes_and_fields():
    raw = sdp.build_request(security=0x10, transport=0x00)
    assert raw == bytes.fromhex("01FE9000000000021000")
    m = sdp.decode(sdp.Datagram(raw, 5, "[fe80::2]:50000", "[ff02::1]:15118", "x.pcap", 7, 62))
    assert m.name == "SDPRequest" and m.ok
    assert (m.fields["Security"], m.fields["TransportProtocol"]) == ("NoTLS", "TCP")
    assert [(r.frame, r.start, r.length) for r in m.refs] == [(7, 62, 10)]


def test_response_round_trip():
    raw = sdp.build_response("fe80::1234:5678", 60123, security=0x00)
    m = sdp.decode(sdp.Datagram(raw))
    assert m.name == "SDPResponse" and m.ok
    assert m.fields["SECCIPAddress"] == "fe80::1234:5678"
    assert m.fields["SECCPort"] == 60123 and m.fields["Security"] == "TLS"


@pytest.mark.parametrize(("raw", "kind"), [
    ("01FE9000", "sdp.truncated"),
    ("01FE900000000002", "sdp.truncated"),
    ("02FD9000000000021000", "v2gtp.header.version"),
    ("01FE8001000000021000", "sdp.payload_type"),
    ("01FE9000000000032000", "sdp.length"),
])
def test_malformed_datagrams_become_problems(raw, kind):
    m = sdp.decode(sdp.Datagram(bytes.fromhex(raw)))
    assert kind in [p.kind for p in m.problems]


def test_reserved_values_are_named():
    m = sdp.decode(sdp.Datagram(bytes.fromhex("01FE9000000000022011")))
    assert m.fields["Security"] == "reserved(0x20)"
    assert [p.kind for p in m.problems] == ["sdp.value", "sdp.value"]


def test_trailing_bytes_reported():
    m = sdp.decode(sdp.Datagram(sdp.build_request() + b"\x00\x00"))
    assert [p.kind for p in m.problems] == ["sdp.trailing"]


@given(st.binary(max_size=64))
def test_hostile_datagrams_never_raise(data):
    m = sdp.decode(sdp.Datagram(data))
    assert m.protocol == "sdp"
    assert m.ok == (m.name in ("SDPRequest", "SDPResponse", "SDPRequestWireless",
                               "SDPResponseWireless") and not m.problems)


@pytest.mark.parametrize("name", [
    "uhi22+pyPLC/2024-04-20_ModelY_pyPLC_stop_in_precharge.pcapng",
    "dspace-group+dsV2Gshark/ISO-2_DC_Pause_DS5366.pcapng",
    "EVerest+logfiles/MG/MG4_electric/iso-2-DC.dump",
])
def test_real_sdp_response_announces_the_v2g_tcp_port(name):
    path = CORPUS / "pcaps" / name
    if not path.exists():
        pytest.skip("corpus not present")
    segs = list(ipv6_segments(path))
    msgs = [sdp.decode(sdp.Datagram(s.payload)) for s in segs
            if s.proto == "udp" and 15118 in (s.sport, s.dport)]
    assert msgs and all(m.ok for m in msgs)
    ports = {m.fields["SECCPort"] for m in msgs if m.name == "SDPResponse"}
    ips = {m.fields["SECCIPAddress"] for m in msgs if m.name == "SDPResponse"}
    tcp = {(s.dst, s.dport) for s in segs if s.proto == "tcp" and s.flags & 0x02
           and not s.flags & 0x10}
    # every announced (ip, port) is where the EVCC then opened its TCP connection
    assert {(ip, port) for ip in ips for port in ports} & tcp


@given(st.sampled_from([0x9000, 0x9001]), st.binary(min_size=20, max_size=20))
def test_fast_layouts_read_what_the_construct_specification_reads(ptype, payload):
    """`decode` unpacks with `struct`; the construct Structs stay the specification."""
    _name, layout = sdp.PAYLOADS[ptype]
    size, unpack = sdp._FAST[ptype]
    assert size == layout.sizeof()
    spec = layout.parse(payload[:size])
    assert unpack(payload) == tuple(v for k, v in spec.items() if not k.startswith("_"))
