"""V2GTP: header layout, stream reassembly (whole / byte by byte / split anywhere), resync after
gaps and bad headers, EXI context per connection, hostile input, and real captures."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from v2g_helpers import CONN, CORPUS, OracleDecoder, data_events, tcp_events, vector

from chargescope.analyzer.records import ByteRef, StreamClose, StreamData, StreamGap
from chargescope.dissectors import v2gtp


def unit(schema: str, message: str, variant: str = "min", ptype: int = 0x8001) -> bytes:
    return v2gtp.build(ptype, bytes.fromhex(vector(schema, message, variant)["hex"]))


HANDSHAKE_REQ = unit("appHand", "supportedAppProtocolReq", "max")
HANDSHAKE_RES = unit("appHand", "supportedAppProtocolRes", "max")


def feed(stream: v2gtp.V2gtpStream, events) -> list:
    out = []
    for ev in events:
        if isinstance(ev, StreamData):
            out += stream.on_data(ev)
        elif isinstance(ev, StreamGap):
            out += stream.on_gap(ev)
        else:
            out += stream.on_close(ev)
    return out


def test_header_layout_builds_and_parses():
    raw = v2gtp.build(0x8001, b"\x80\x00")
    assert raw == bytes.fromhex("01FE8001000000028000")
    h = v2gtp.parse_header(raw)
    assert (h.version, h.inverse_version, h.payload_type, h.payload_length) == (1, 0xFE, 0x8001, 2)
    assert v2gtp.header_problem(h, tcp=True) is None


@pytest.mark.parametrize(("raw", "kind"), [
    ("02FD800100000002", "v2gtp.header.version"),
    ("01FF800100000002", "v2gtp.header.version"),
    ("01FE9000000000020000", "v2gtp.header.payload_type"),
    ("01FE7777000000020000", "v2gtp.header.payload_type"),
    ("01FE8001FFFFFFFF", "v2gtp.header.length"),
])
def test_bad_headers_are_named(raw, kind):
    h = v2gtp.parse_header(bytes.fromhex(raw))
    assert v2gtp.header_problem(h, tcp=True)[0] == kind


@given(st.binary(min_size=8, max_size=8))
def test_fast_header_parse_agrees_with_the_construct_spec(raw):
    spec = v2gtp.HEADER.parse(raw)
    assert v2gtp.parse_header(raw) == v2gtp.Header(spec.version, spec.inverse_version,
                                                   spec.payload_type, spec.payload_length)


def test_payload_type_table_names_every_range():
    assert v2gtp.payload_type_name(0x8004) == "ISO 15118-20 DC main stream"
    assert v2gtp.payload_type_name(0xA14E) == "manufacturer specific"
    assert v2gtp.payload_type_name(0x1234) == "reserved"


def test_probe_accepts_v2gtp_and_rejects_tls():
    assert v2gtp.probe(HANDSHAKE_REQ[:8], 0)
    assert not v2gtp.probe(bytes.fromhex("160303003a020000"), 0)  # TLS record
    assert not v2gtp.probe(b"\x01\xfe\x80", 0)


def _names(msgs):
    return [(m.name, tuple(p.kind for p in m.problems)) for m in msgs]


class HandshakeDecoder(OracleDecoder):
    """The oracle, plus a realistic handshake: DIN offered as SchemaID 1, ISO-2 as 2."""

    REQ = {"supportedAppProtocolReq": {"AppProtocol": [
        {"ProtocolNamespace": "urn:din:70121:2012:MsgDef", "VersionNumberMajor": 2,
         "VersionNumberMinor": 0, "SchemaID": 1, "Priority": 2},
        {"ProtocolNamespace": "urn:iso:15118:2:2013:MsgDef", "VersionNumberMajor": 2,
         "VersionNumberMinor": 0, "SchemaID": 2, "Priority": 1}]}}

    def __init__(self, agreed: int) -> None:
        super().__init__()
        self.table[(b"\x80REQ", "appHand")] = self.REQ
        self.table[(b"\x80RES", "appHand")] = {"supportedAppProtocolRes": {
            "ResponseCode": "OK_SuccessfulNegotiation", "SchemaID": agreed}}


@pytest.mark.parametrize("split", ["whole", "bytes", "pairs"])
@pytest.mark.parametrize(("agreed", "schema"), [(1, "din"), (2, "iso2")])
def test_handshake_selects_the_schema_for_the_connection(split, agreed, schema):
    decoder = HandshakeDecoder(agreed)
    stream = v2gtp.V2gtpStream(CONN, decoder)
    req = v2gtp.build(0x8001, b"\x80REQ")
    client = unit(schema, "SessionSetupReq", "max") + unit(schema, "SessionStopReq", "max")
    if split == "whole":
        chunks = [client]
    elif split == "bytes":
        chunks = [client[i:i + 1] for i in range(len(client))]
    else:
        chunks = [client[i:i + 2] for i in range(0, len(client), 2)]
    out = feed(stream, data_events([req], 0))
    out += feed(stream, data_events([v2gtp.build(0x8001, b"\x80RES")], 1))
    decoder.calls.clear()
    out += feed(stream, data_events(chunks, 0, start=len(req)))
    assert [m.name for m in out] == ["supportedAppProtocolReq", "supportedAppProtocolRes",
                                     "SessionSetupReq", "SessionStopReq"]
    assert all(m.ok for m in out)
    assert stream.agreed_namespace == HandshakeDecoder.REQ["supportedAppProtocolReq"][
        "AppProtocol"][agreed - 1]["ProtocolNamespace"]
    # after the handshake only the agreed grammar is used, never a guess
    assert set(decoder.calls) == {schema}
    assert out[2].fields["schema"] == schema and "schema_guessed" not in out[2].fields
    assert out[2].src == str(CONN.client) and out[1].src == str(CONN.server)


def test_several_units_per_segment_and_refs_cover_each_unit():
    a, b = unit("din", "SessionSetupReq"), unit("din", "ServiceDiscoveryReq")
    stream = v2gtp.V2gtpStream(CONN, OracleDecoder())
    # one segment holds a, then b split over two segments
    chunks = [a + b[:5], b[5:]]
    out = feed(stream, data_events(chunks, 0))
    assert [m.name for m in out] == ["SessionSetupReq", "ServiceDiscoveryReq"]
    assert [(r.frame, r.start, r.length) for r in out[0].refs] == [(1, 54, len(a))]
    assert [(r.frame, r.start, r.length) for r in out[1].refs] == [(1, 54 + len(a), 5),
                                                                  (2, 54, len(b) - 5)]
    assert out[1].fields["stream_offset"] == len(a)
    assert out[1].ts_ns == 1_001  # completed by the second frame


def test_guessing_without_handshake_reports_it():
    stream = v2gtp.V2gtpStream(CONN, OracleDecoder())
    out = feed(stream, data_events([unit("iso2", "SessionSetupReq", "max")], 0))
    assert out[0].name == "SessionSetupReq"
    assert out[0].fields["schema"] == "iso2" and out[0].fields["schema_guessed"] is True
    assert stream.agreed_schema == "iso2"


def test_iso20_payload_types_pick_their_grammar():
    stream = v2gtp.V2gtpStream(CONN, OracleDecoder())
    out = feed(stream, data_events([
        unit("iso20_CommonMessages", "SessionSetupReq", ptype=0x8002),
        unit("iso20_DC", "DC_CableCheckReq", ptype=0x8004)], 0))
    assert [(m.name, m.fields["schema"]) for m in out] == [
        ("SessionSetupReq", "iso20_CommonMessages"), ("DC_CableCheckReq", "iso20_DC")]


def test_gap_resynchronises_on_next_header_and_reports_loss():
    a, b, c = (unit("din", n) for n in ("SessionSetupReq", "ServiceDiscoveryReq",
                                        "ServicePaymentSelectionReq"))
    stream = v2gtp.V2gtpStream(CONN, OracleDecoder())
    events = [
        StreamData(CONN, 0, 0, a + b[:4], 10, ()),
        StreamGap(CONN, 0, len(a) + 4, 3, 11),
        # the rest of b arrives after the hole, then c: b can't be trusted, c must come out
        StreamData(CONN, 0, len(a) + 7, b[7:] + c, 12, ()),
    ]
    out = feed(stream, events)
    names = _names(out)
    assert names[0] == ("SessionSetupReq", ())
    assert ("V2GTP", ("v2gtp.stream.gap",)) in names
    assert names[-1] == ("ServicePaymentSelectionReq", ())
    assert ("V2GTP", ("v2gtp.stream.resync",)) in names


def test_bad_header_reported_once_then_resync():
    good = unit("din", "SessionSetupReq")
    junk = b"\x02\xfd\x80\x01\x00\x00\x00\x10" + b"\xAA" * 30
    stream = v2gtp.V2gtpStream(CONN, OracleDecoder())
    out = feed(stream, data_events([junk + good], 0))
    assert _names(out) == [("V2GTP", ("v2gtp.header.version",)),
                           ("V2GTP", ("v2gtp.stream.resync",)),
                           ("SessionSetupReq", ())]
    assert out[0].problems[0].offset == 0


def test_undecodable_payload_kept_with_problem():
    stream = v2gtp.V2gtpStream(CONN, OracleDecoder())
    out = feed(stream, data_events([v2gtp.build(0x8001, b"\x80\x98\x02\x00")], 0))
    assert out[0].protocol == "v2gtp" and out[0].fields["payload"] == "80980200"
    assert out[0].problems[0].kind == "exi.decode.failed"
    assert out[0].problems[0].offset == 8


def test_close_inside_unit_reports_truncation():
    stream = v2gtp.V2gtpStream(CONN, OracleDecoder())
    part = unit("din", "SessionSetupReq")[:-2]
    out = feed(stream, data_events([part], 0) + [StreamClose(CONN, 0, 99, "rst")])
    assert _names(out) == [("V2GTP", ("v2gtp.stream.truncated",)), ("ConnectionClosed", ())]
    assert out[1].fields["reason"] == "rst" and out[1].fields["closed_by"] == "client"


def test_non_exi_payload_types_are_reported_not_dropped():
    stream = v2gtp.V2gtpStream(CONN, OracleDecoder())
    out = feed(stream, data_events([v2gtp.build(0x8102, b"\x01\x02"),
                                    v2gtp.build(0xA001, b"\x09")], 0))
    assert [m.name for m in out] == ["ISO 15118-20 metering confirmation",
                                     "manufacturer specific"]
    assert out[1].fields["payload"] == "09"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(1, 40), max_size=20))
def test_hostile_bytes_never_crash_and_nothing_is_silent(data, cuts):
    stream = v2gtp.V2gtpStream(CONN, OracleDecoder())
    chunks, pos = [], 0
    for c in cuts:
        chunks.append(data[pos:pos + c])
        pos += c
    chunks.append(data[pos:])
    chunks = [c for c in chunks if c]
    out = feed(stream, data_events(chunks, 0) + [StreamClose(CONN, -1, 1, "end-of-capture")])
    in_units = sum(r.length for m in out if not m.problems for r in m.refs)
    header_problems = [m for m in out if m.problems and m.problems[0].kind.startswith("v2gtp.h")]
    assert in_units <= len(data)
    # every byte not inside a clean unit is named by some problem message
    if in_units < len(data):
        assert any(m.problems for m in out)
    assert len(header_problems) <= len(data) // 8 + 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["SessionSetupReq", "ServiceDiscoveryReq", "CableCheckReq",
                                 "PreChargeReq", "CurrentDemandReq"]), min_size=1, max_size=6),
       st.data())
def test_any_segmentation_gives_the_same_messages(names, data):
    raw = b"".join(unit("din", n) for n in names)
    cuts = sorted(set(data.draw(st.lists(st.integers(1, max(1, len(raw) - 1)), max_size=10))))
    chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True) if raw[a:b]]
    stream = v2gtp.V2gtpStream(CONN, OracleDecoder())
    stream.agreed_schema = "din"
    out = feed(stream, data_events(chunks, 0))
    assert [m.name for m in out] == names
    assert all(m.ok for m in out)
    assert sum(r.length for m in out for r in m.refs) == len(raw)


def _count_units(path):
    streams, units, problems = {}, 0, []
    for ev in tcp_events(path, path.name):
        s = streams.get(ev.conn.index)
        if s is None:
            s = streams[ev.conn.index] = v2gtp.V2gtpStream(ev.conn, OracleDecoder())
        for m in (s.on_data(ev) if isinstance(ev, StreamData) else s.on_gap(ev)):
            units += "v2gtp" in m.fields and m.fields.get("v2gtp", {}).get("payload_type") is not None
            problems += [p.kind for p in m.problems if p.kind.startswith("v2gtp")]
    return units, problems


@pytest.mark.parametrize(("name", "expected"), [
    # V2GTP unit counts from tshark (corpus SOURCES.md) where no segment was retransmitted
    ("uhi22+pyPLC/2024-04-20_ModelY_pyPLC_stop_in_precharge.pcapng", 274),
    ("uhi22+pyPLC/2023-03-02_SuperCharger_CableCheck_error.pcapng", 212),
    ("dspace-group+dsV2Gshark/ISO-2_DC_Pause_DS5366.pcapng", 478),
    ("dspace-group+dsV2Gshark/ISO-20_BPT_AC_DS5366_Josev.pcapng", 46),
    ("zeloscloud+zelos-extension-v2g/v2g_din_session.pcap", 974),
])
def test_real_captures_split_into_the_expected_units(name, expected):
    path = CORPUS / "pcaps" / name
    if not path.exists():
        pytest.skip("corpus not present")
    units, problems = _count_units(path)
    assert problems == []
    assert units == expected


class _BufferedOnly(v2gtp.V2gtpStream):
    """The general path alone: every segment goes through the buffer."""

    def _whole_units(self, d, event):
        return self._buffered(d, event)


def _state(stream: v2gtp.V2gtpStream):
    return ([(bytes(d.buf), d.start, d.segments, d.ts_ns, d.synced, d.skipped, d.skipped_from,
              d.last_frame) for d in stream._dirs],
            stream.accounting, stream.agreed_schema, stream.guessed, stream._offered)


_UNIT_PIECES = st.sampled_from([
    HANDSHAKE_REQ, HANDSHAKE_RES, unit("din", "SessionSetupReq"), unit("din", "CableCheckReq"),
    unit("iso2", "SessionSetupReq"), v2gtp.build(0x8001, b"\x80\x98\x02"),  # bad EXI
    v2gtp.build(0xA001, b"\x09"), v2gtp.build(0x8102, b""), bytes.fromhex("02FD800100000002"),
    bytes.fromhex("01FE9000000000020000"), bytes.fromhex("01FE8001FFFFFFFF"), b"\x01\xfe",
    b"\x00" * 3])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.lists(_UNIT_PIECES, min_size=1, max_size=4),
                          st.integers(-1, 60), st.integers(0, 3)), min_size=1, max_size=10))
def test_the_whole_unit_fast_path_equals_the_buffered_path(segments):
    # each segment: a direction, units glued together, cut at a point (-1: not cut), and
    # sometimes a gap before it; the fast path must give the same Messages and state
    events, offsets, frame = [], [0, 0], 0
    for direction, pieces, cut, gap in segments:
        raw = b"".join(pieces)
        if gap == 3:
            events.append(StreamGap(CONN, direction, offsets[direction], 5, frame, frame + 1))
            offsets[direction] += 5
        for chunk in ([raw] if cut < 0 or cut >= len(raw) else [raw[:cut], raw[cut:]]):
            if not chunk:
                continue
            frame += 1
            events.append(StreamData(CONN, direction, offsets[direction], chunk, frame,
                                     (ByteRef(CONN.source, frame, 54, len(chunk)),)))
            offsets[direction] += len(chunk)
    events.append(StreamClose(CONN, -1, frame + 1, "end-of-capture"))
    fast, general = v2gtp.V2gtpStream(CONN), _BufferedOnly(CONN)
    for n in range(len(events)):
        assert feed(fast, events[n:n + 1]) == feed(general, events[n:n + 1])
        assert _state(fast) == _state(general)
