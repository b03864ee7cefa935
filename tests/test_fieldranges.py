"""Per-field byte ranges: the bytes at a field's range decode to that field's value.

Checked protocol by protocol on the demo captures (V2GTP, EXI, SDP, HomePlug, WebSocket
upgrade, OCPP-J, OCPI/HTTP), a corpus TLS capture and CHAdeMO frames; plus the JSON
position scanner against `json.loads`, and hostile bytes that must never raise.
"""

from __future__ import annotations

import base64
import ipaddress
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chargescope.analyzer.analysis import analyze
from chargescope.analyzer.chademo.can import CanFrame
from chargescope.analyzer.correlate import SiteMap
from chargescope.analyzer.fieldranges import (
    FINDERS,
    NoPositions,
    UnitBytes,
    field_ranges,
    to_refs,
)
from chargescope.analyzer.fieldranges.jsonspans import json_spans
from chargescope.analyzer.fieldranges.ocpp import ocpp_spans
from chargescope.analyzer.records import ByteRef, Link, Message
from chargescope.dissectors.chademo import decode_can
from chargescope.dissectors.exi.tables import DT_ENUM, grammar
from chargescope.dissectors.websocket.frames import build_frame, parse_header
from chargescope.tui.data import FrameStore
from tests.conftest import REPO, corpus_path

DEMO = REPO / "captures" / "demo"


@pytest.fixture(scope="module")
def demo():
    paths = sorted(p for p in DEMO.iterdir() if p.suffix in (".pcap", ".pcapng"))
    analysis = analyze(paths, SiteMap.load(DEMO / "site.toml"), keep_messages=True)
    return analysis.messages, FrameStore()


def at(store: FrameStore, refs: tuple[ByteRef, ...]) -> bytes:
    return b"".join(store.get(r.source, r.frame)[r.start:r.start + r.length] for r in refs)


def value_at(fields: dict, path: tuple):
    for key in path:
        fields = fields[key]
    return fields


def leaves(value, path=()):
    """(path, value) of every scalar inside a fields dict."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path, value


def of_protocol(messages, protocol):
    found = [m for m in messages if m.protocol == protocol and m.refs]
    assert found, protocol
    return found


# ---- JSON scanner ------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=4),
    max_leaves=20)


@settings(max_examples=150, deadline=None)
@given(JSON_VALUES, st.sampled_from([None, 1, 3]), st.booleans())
def test_json_spans_cover_exactly_what_json_reads(value, indent, ascii_only):
    data = json.dumps(value, indent=indent, ensure_ascii=ascii_only).encode()
    spans = json_spans(data)
    for path, leaf in leaves(value):
        start, length = spans[path]
        assert json.loads(data[start:start + length]) == leaf
    for path, (start, length) in spans.items():
        assert json.loads(data[start:start + length]) == value_at(value, path)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_json_spans_on_hostile_bytes_raise_only_value_error(data):
    try:
        json_spans(data)
    except ValueError:
        pass


def test_json_spans_bound_nesting():
    with pytest.raises(ValueError):
        json_spans(b"[" * 5000 + b"]" * 5000)


# ---- link A ------------------------------------------------------------------------------

def test_v2gtp_header_fields_decode_from_their_bytes(demo):
    messages, store = demo
    for m in of_protocol(messages, "exi") + of_protocol(messages, "sdp"):
        ranges = field_ranges(m, store.get)
        assert not ranges.note, ranges.note
        header = m.fields["v2gtp"]
        assert at(store, ranges.of(("v2gtp", "version")))[0] == header["version"]
        assert at(store, ranges.of(("v2gtp", "inverse_version")))[0] == header["inverse_version"]
        for name in ("payload_type", "payload_length"):
            raw = at(store, ranges.of(("v2gtp", name)))
            assert int.from_bytes(raw, "big") == header[name]


def _bits(data: bytes) -> str:
    return "".join(f"{b:08b}" for b in data)


def _encodings(value: str) -> list[bytes]:
    """The octets a string value may be sent as: text, hexBinary or base64Binary."""
    out = [value.encode()]
    if len(value) % 2 == 0 and all(c in "0123456789ABCDEF" for c in value):
        out.append(bytes.fromhex(value))
    try:
        out.append(base64.b64decode(value, validate=True))
    except ValueError:
        pass
    return out


def _enum_values(schema: str) -> set[str]:
    return {v for dt in grammar(schema).datatypes if dt[0] == DT_ENUM for v in dt[1]}


def test_exi_elements_span_the_bits_of_their_values(demo):
    """A string is its code points (one octet each for ASCII), a hexBinary its octets: the
    bits of the highlighted bytes must contain them (enumerations are indexes: skipped)."""
    messages, store = demo
    checked = 0
    for m in of_protocol(messages, "exi"):
        ranges = field_ranges(m, store.get)
        whole = at(store, m.refs)
        root = next(k for k in m.fields if k not in ("v2gtp", "stream_offset", "schema",
                                                     "schema_guessed"))
        root_bytes = at(store, ranges.of((root,)))
        assert whole.endswith(root_bytes) and len(root_bytes) >= len(whole) - 9
        for path, value in leaves(m.fields[root], (root,)):
            assert path in ranges.ranges, path
            inside = _bits(at(store, ranges.ranges[path]))
            parent = _bits(at(store, ranges.of(path[:-1])))
            assert inside in parent
            if isinstance(value, str) and value.isascii() and value and \
                    value not in _enum_values(m.fields["schema"]):
                assert any(_bits(octets) in inside for octets in _encodings(value)), \
                    (m.name, path, value)
                checked += 1
    assert checked > 100


def test_sdp_fields_decode_from_their_bytes(demo):
    messages, store = demo
    for m in of_protocol(messages, "sdp"):
        ranges = field_ranges(m, store.get)
        codes = {"TLS": 0x00, "NoTLS": 0x10, "TCP": 0x00, "UDP": 0x10}
        assert at(store, ranges.of(("Security",)))[0] == codes[m.fields["Security"]]
        assert at(store, ranges.of(("TransportProtocol",)))[0] == \
            codes[m.fields["TransportProtocol"]]
        if "SECCPort" in m.fields:
            assert int.from_bytes(at(store, ranges.of(("SECCPort",))), "big") == \
                m.fields["SECCPort"]
            assert str(ipaddress.IPv6Address(at(store, ranges.of(("SECCIPAddress",))))) == \
                m.fields["SECCIPAddress"]


def _homeplug_value(raw: bytes, value):
    if isinstance(value, int):
        return int.from_bytes(raw, "little")
    if value.count(":") == 5 and len(raw) == 6:
        return raw.hex(":")
    return raw.hex()


def test_homeplug_fields_decode_from_their_bytes(demo):
    messages, store = demo
    checked = 0
    for m in of_protocol(messages, "homeplug"):
        ranges = field_ranges(m, store.get)
        assert not ranges.note, ranges.note
        for path, value in leaves(m.fields):
            if path[0] in ("oui", "vendor") or path[:1] == ("fmi",) or value is None or \
                    str(value).startswith("<redacted"):
                continue
            assert path in ranges.ranges, (m.name, path)
            raw = at(store, ranges.ranges[path])
            if path == ("mmtype",):
                assert int.from_bytes(raw, "little") == value
            else:
                assert _homeplug_value(raw, value) == value, (m.name, path)
            checked += 1
    assert checked > 500


def test_chademo_fields_decode_from_their_bytes():
    data = bytes.fromhex("0273010A0A1C0B00")
    frame = CanFrame(3, 1_000, 0x102, data, source="log", offset=0)
    m = decode_can(frame)
    ranges = field_ranges(m, lambda source, number: data)
    assert int.from_bytes(at_bytes(data, ranges.of(("target_battery_voltage",))), "little") \
        == m.fields["target_battery_voltage"]
    assert at_bytes(data, ranges.of(("state_of_charge",)))[0] == m.fields["state_of_charge"]
    flags = at_bytes(data, ranges.of(("status", "charging_enabled")))[0]
    assert bool(flags & 1) == m.fields["status"]["charging_enabled"]
    assert ranges.of(("raw",))[0].length == 8


def at_bytes(data: bytes, refs) -> bytes:
    return b"".join(data[r.start:r.start + r.length] for r in refs)


def test_tls_hello_fields_and_record_header():
    path = corpus_path("pcaps", "dspace-group+dsV2Gshark",
                       "ISO-2_DC_PnC_TLS_Contract_DS5366_RiseV2G.pcapng")
    from chargescope.analyzer.capture import open_capture
    from chargescope.analyzer.pipeline import Pipeline
    from chargescope.analyzer.tls.sources import frames_with_secrets, load_key_logs

    keylog = load_key_logs(())
    with open_capture(path) as capture:
        messages = [i for i in Pipeline(keylog=keylog).run(frames_with_secrets(capture, keylog))
                    if isinstance(i, Message)]
    store = FrameStore()
    hello = next(m for m in messages if m.name == "ClientHello")
    ranges = field_ranges(hello, store.get)
    assert at(store, ranges.of(("tls", "random"))).hex() == hello.fields["tls"]["random"]
    assert at(store, ranges.of(("tls", "legacy_version"))) == b"\x03\x03"  # "TLS 1.2"
    record = at(store, ranges.of(("tls",)))
    assert record[0] == 0x16 and int.from_bytes(record[3:5], "big") == len(record) - 5
    # decrypted V2G messages: their refs are ciphertext, so no field is placed, and we say so
    inner = next(m for m in messages if m.protocol == "exi")
    assert "TLS" in field_ranges(inner, store.get).note


# ---- link B ------------------------------------------------------------------------------

def _unmasked(store: FrameStore, message: Message, refs: tuple[ByteRef, ...]) -> bytes:
    """Field bytes with the WebSocket mask removed (single-frame messages)."""
    (unit,) = message.refs
    frame = store.get(unit.source, unit.frame)
    head = parse_header(frame, unit.start)
    payload_start = unit.start + head.header_len
    out = bytearray()
    for ref in refs:
        for i in range(ref.start, ref.start + ref.length):
            key = head.mask_key[(i - payload_start) % 4] if head.masked else 0
            out.append(frame[i] ^ key)
    return bytes(out)


def test_ocpp_values_decode_from_their_bytes(demo):
    messages, store = demo
    checked = 0
    for m in of_protocol(messages, "ocpp"):
        ranges = field_ranges(m, store.get)
        assert not ranges.note, ranges.note
        for name in ("message_type_id", "unique_id", "action", "payload"):
            if name == "action" and m.fields["message_type_id"] != 2:
                continue
            raw = _unmasked(store, m, ranges.ranges[(name,)])
            assert json.loads(raw) == m.fields[name]
        for path, value in leaves(m.fields["payload"], ("payload",)):
            assert json.loads(_unmasked(store, m, ranges.ranges[path])) == value
            checked += 1
    assert checked > 100


def test_websocket_upgrade_headers(demo):
    messages, store = demo
    request = next(m for m in of_protocol(messages, "websocket")
                   if m.fields.get("http") == "request")
    ranges = field_ranges(request, store.get)
    assert at(store, ranges.of(("websocket_key",))).decode() == request.fields["websocket_key"]
    assert at(store, ranges.of(("method",))) == b"GET"
    assert at(store, ranges.of(("path",))).decode() == request.fields["path"]


def test_deflated_message_falls_back_to_the_whole_message_with_a_note():
    frame = build_frame(b"\x00compressed", rsv1=True)
    message = Message(Link.B, "ocpp", "x", 0, "", "", {"websocket": {"compressed": True},
                                                        "message_type_id": 2},
                      (ByteRef("s", 1, 0, len(frame)),))
    with pytest.raises(NoPositions, match="deflate"):
        ocpp_spans(message, UnitBytes(frame))
    ranges = field_ranges(message, lambda source, number: frame)
    assert "deflate" in ranges.note and ranges.of(("payload", "x")) == message.refs


def test_a_field_split_across_frames_maps_to_both():
    refs = (ByteRef("s", 4, 60, 10), ByteRef("s", 5, 54, 20))
    assert to_refs(refs, 6, 8) == (ByteRef("s", 4, 66, 4), ByteRef("s", 5, 54, 4))
    assert to_refs(refs, -5, 7) == (ByteRef("s", 4, 55, 5), ByteRef("s", 4, 60, 2))


# ---- link C ------------------------------------------------------------------------------

def test_ocpi_body_values_and_headers_decode_from_their_bytes(demo):
    messages, store = demo
    checked = 0
    for m in of_protocol(messages, "ocpi"):
        ranges = field_ranges(m, store.get)
        assert not ranges.note, ranges.note
        for name, value in m.fields.get("headers", {}).items():
            assert at(store, ranges.ranges[("headers", name)]).decode() == value
        for key in ("body", "data"):
            if isinstance(m.fields.get(key), dict | list):
                for path, value in leaves(m.fields[key], (key,)):
                    assert json.loads(at(store, ranges.ranges[path])) == value
                    checked += 1
        if "status_code" in m.fields and m.fields.get("kind") == "response":
            assert json.loads(at(store, ranges.of(("status_code",)))) == m.fields["status_code"]
        assert at(store, ranges.of(("method",))).decode() == m.fields["method"] or \
            m.fields.get("kind") == "response"
    assert checked > 50


# ---- hostile bytes -----------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(FINDERS)), st.binary(max_size=120),
       st.dictionaries(st.sampled_from(["v2gtp", "schema", "mmtype", "oui", "http", "tls",
                                        "can_id", "message_type_id", "websocket"]),
                       st.one_of(st.integers(-2, 300), st.text(max_size=4),
                                 st.just({"compressed": False}), st.just("din")), max_size=4))
def test_hostile_bytes_never_raise(protocol, data, fields):
    message = Message(Link.A, protocol, "x", 0, "", "", fields,
                      (ByteRef("s", 1, 0, len(data)),))
    ranges = field_ranges(message, lambda source, number: data)
    assert ranges.whole == message.refs
    for refs in ranges.ranges.values():
        assert all(r.start + r.length <= len(data) for r in refs)


def test_a_missing_frame_is_a_note_not_an_error():
    message = Message(Link.A, "exi", "x", 0, "", "", {}, (ByteRef(str(Path("gone")), 1, 0, 9),))
    assert field_ranges(message, lambda source, number: None).note == "frame bytes not available"
