"""Pseudonyms keep length and shape; rewriting survives hostile bytes; streams and
WebSocket masking are followed across segment boundaries."""

from __future__ import annotations

import os
import string
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from chargescope.analyzer import net
from chargescope.analyzer.anonymize import Pseudonymizer
from chargescope.analyzer.anonymize.rewrite import FrameRewriter
from chargescope.analyzer.anonymize.streams import TcpStreams
from chargescope.analyzer.records import Frame

KEY = bytes(range(32))
PSEUDO = Pseudonymizer(KEY)
ID_CHARS = string.ascii_letters + string.digits + "-*_"


def _shape(text: str) -> list[int]:
    return [0 if c.isupper() else 1 if c.islower() else 2 if c.isdigit() else ord(c)
            for c in text]


@given(st.text(alphabet=ID_CHARS, min_size=1, max_size=40))
def test_identifier_keeps_length_shape_and_is_deterministic(text: str) -> None:
    out = PSEUDO.identifier(text)
    assert len(out) == len(text) and _shape(out) == _shape(text)
    assert Pseudonymizer(KEY).identifier(text) == out


def test_structured_ids_map_their_components_alike() -> None:
    pseudo = Pseudonymizer(KEY)
    emaid, compact = pseudo.identifier("DE-CSC-C12345602-3"), pseudo.identifier("DECSCC123456023")
    evse = pseudo.identifier("DE*CSC*E0042*1")
    assert emaid.replace("-", "") == compact
    assert emaid.split("-")[1] == evse.split("*")[1] == pseudo.identifier("CSC")
    assert emaid.split("-")[0] == "DE" and emaid != "DE-CSC-C12345602-3"


@given(st.binary(min_size=4, max_size=4), st.binary(min_size=4, max_size=4))
def test_ipv4_prefix_preserving_and_text_length_kept(a: bytes, b: bytes) -> None:
    ma, mb = PSEUDO.ipv4(a), PSEUDO.ipv4(b)
    common = next((i for i in range(4) if a[i] != b[i]), 4)
    assert ma[:common] == mb[:common]
    if ma != a:
        assert len(".".join(map(str, ma))) == len(".".join(map(str, a)))


@given(st.binary(min_size=6, max_size=6))
def test_mac_keeps_group_and_local_bits(raw: bytes) -> None:
    out = PSEUDO.mac(raw)
    assert out[0] & 3 == raw[0] & 3
    if raw[0] & 1 or raw == b"\0" * 6:
        assert out == raw
    else:
        assert out != raw


@given(st.binary(min_size=8, max_size=8))
def test_ipv6_link_local_stays_link_local(iid: bytes) -> None:
    raw = b"\xfe\x80" + b"\0" * 6 + iid
    assert PSEUDO.ipv6(raw)[:8] == raw[:8]


def test_map_file_round_trip(tmp_path) -> None:
    pseudo = Pseudonymizer(KEY)
    out = pseudo.identifier("04A1B2C3D40007")
    pseudo.save(tmp_path / "m.json")
    again = Pseudonymizer.load(tmp_path / "m.json")
    assert again.key == KEY and again.identifier("04A1B2C3D40007") == out


def _rewriter(ident: bytes) -> FrameRewriter:
    new = PSEUDO.identifier(ident.decode()).encode()
    bits = {format(int.from_bytes(ident, "big"), f"0{len(ident) * 8}b"):
            format(int.from_bytes(new, "big"), f"0{len(new) * 8}b")}
    return FrameRewriter(PSEUDO, {ident: new}, bits)


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_hostile_frames_never_crash_and_keep_length(data: bytes) -> None:
    rewriter = _rewriter(b"04A1B2C3D40007")
    frame = Frame(1, 0, 1, data, len(data))
    assert len(rewriter.rewrite(frame)) == len(data)
    assert len(rewriter.transform(data)) == len(data)


def test_exi_style_unaligned_identifier_is_replaced() -> None:
    ident = b"04A1B2C3D40007"
    value = int.from_bytes(b"\x00" + ident + b"\x00", "big") << 3  # 3 bits off alignment
    body = value.to_bytes(len(ident) + 3, "big")
    v2gtp = b"\x01\xfe\x80\x01" + struct.pack("!I", len(body)) + body
    out = _rewriter(ident).transform(v2gtp)
    shifted = int.from_bytes(out[8:], "big") >> 3
    assert ident not in shifted.to_bytes(len(ident) + 3, "big")
    assert PSEUDO.identifier(ident.decode()).encode() in shifted.to_bytes(len(ident) + 3, "big")


def _masked_ws(payload: bytes, mask: bytes) -> bytes:
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + masked


def test_masked_websocket_identifier_split_over_segments() -> None:
    ident = b"04A1B2C3D40007"
    upgrade = b"GET /ocpp/x HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"
    text = b'[2,"1","Authorize",{"idTag":"04A1B2C3D40007"}]'
    mask = os.urandom(4)
    stream = upgrade + _masked_ws(text, mask)
    cut = len(stream) - 12  # inside the identifier
    streams = TcpStreams()
    packets = [_tcp(stream[:cut], 1000), _tcp(stream[cut:], 1000 + cut)]
    for pkt in packets:
        streams.add("s", pkt)
    rewriter = _rewriter(ident)
    streams.rewrite(rewriter.transform)
    joined = b"".join(streams.segment("s", pkt) for pkt in packets)
    frame = joined[len(upgrade):]
    clear = bytes(b ^ frame[2 + i % 4] for i, b in enumerate(frame[6:]))
    assert ident not in clear and PSEUDO.identifier(ident.decode()).encode() in clear


def _tcp(payload: bytes, seq: int) -> net.Packet:
    eth = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00"
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0, 64, 6, 0,
                     bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    tcp = struct.pack("!HHIIBBHHH", 40000, 9000, seq, 0, 0x50, 0x18, 1024, 0, 0)
    data = eth + ip + tcp + payload
    return net.decode(Frame(1, 0, 1, data, len(data)))


def test_nid_derived_from_nmk_stays_derived() -> None:
    from chargescope.analyzer.live.plc import nid_from_nmk, set_key_request

    nmk = bytes(range(16))
    frame = set_key_request("02:00:00:00:00:07", nmk)
    out = _rewriter(b"04A1B2C3D40007").rewrite(Frame(1, 0, 1, frame, len(frame)))
    new_nid, new_nmk = out[33:40], out[41:57]
    assert new_nmk != nmk and new_nid == nid_from_nmk(new_nmk)


def test_eui64_link_local_follows_the_mac_pseudonym() -> None:
    mac = bytes.fromhex("dc0ea1116708")
    address = bytes.fromhex("fe80000000000000de0ea1fffe116708")
    new_mac, new = PSEUDO.mac(mac), PSEUDO.ipv6(address)
    assert new[:8] == address[:8] and new[11:13] == b"\xff\xfe"
    assert bytes([new[8] ^ 2]) + new[9:11] + new[13:] == new_mac


def test_tls_records_keep_headers_and_lose_payloads() -> None:
    from chargescope.analyzer.anonymize.tls import scrub_tls

    cert_body = b"\x00\x00\x10" + b"CN=DE*CSC*E0042" + b"!"
    hello = b"\x01\x00\x00\x02\x03\x03"
    handshake = hello + b"\x0b" + len(cert_body).to_bytes(3, "big") + cert_body
    stream = (b"\x16\x03\x03" + len(handshake).to_bytes(2, "big") + handshake
              + b"\x17\x03\x03\x00\x05" + b"secre" + b"\x17\x03\x03\x00\x04" + b"abcd")
    out = scrub_tls(stream)
    assert len(out) == len(stream)
    assert b"DE*CSC" not in out and b"secre" not in out and b"abcd" not in out
    assert out[:5] == stream[:5] and out[5:11] == hello  # headers and hello kept
    rewriter = _rewriter(b"04A1B2C3D40007")
    assert rewriter.transform(stream) == out
