"""Resource caps (issue 14): one `Limits` record, one CLI option, one finding per cap hit.

Each cap gets a small hostile input that exceeds a lowered cap: exactly that cap's
Problem (hence finding) comes out, and the rest of the capture still decodes.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from click.testing import CliRunner

from chargescope.analyzer.analysis import analyze
from chargescope.analyzer.limits import (
    CAP_BY_CODE,
    CAPS,
    DEFAULT_LIMITS,
    LIMIT_FINDINGS,
    Limits,
    limit_finding,
    parse_limit_options,
)
from chargescope.analyzer.pipeline import Pipeline
from chargescope.analyzer.records import (
    ByteRef,
    Connection,
    Endpoint,
    Frame,
    Message,
    Problem,
    Severity,
    StreamClose,
    StreamData,
)
from chargescope.analyzer.tls.keylog import KeyLog
from chargescope.cli import cli as cli_main
from chargescope.dissectors import exi, v2gtp
from chargescope.dissectors.homeplug.mme import HomePlugDissector
from chargescope.dissectors.http.stream import HttpStream
from chargescope.dissectors.tls.stream import TlsStream
from tests.conftest import twin_params
from tests.http_feed import run as http_run
from tests.netstack.netbuild import eth, ipv4, tcp

SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01
SOURCE = "caps.pcap"
APP_HAND = {"supportedAppProtocolReq": {"AppProtocol": [{
    "ProtocolNamespace": "urn:din:70121:2012:MsgDef", "VersionNumberMajor": 2,
    "VersionNumberMinor": 0, "SchemaID": 1, "Priority": 1}]}}


# -- building captures -------------------------------------------------------------------------

class Tcp:
    """Frames of TCP connections between 10.0.0.1 (client) and 10.0.0.2, numbered in order."""

    def __init__(self) -> None:
        self.raws: list[bytes] = []

    def seg(self, cport: int, direction: int, seq: int, data: bytes = b"",
            flags: int = ACK | PSH, sport_server: int = 15118) -> None:
        client, server = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
        src, dst = (client, server) if direction == 0 else (server, client)
        sport, dport = (cport, sport_server) if direction == 0 else (sport_server, cport)
        self.raws.append(eth(0x0800, ipv4(6, tcp(data, flags=flags, sport=sport, dport=dport,
                                                 seq=seq), src=src, dst=dst)))

    def connection(self, cport: int, client_units: list[bytes], fin: bool = True) -> None:
        """Handshake, the client's data in order, FINs."""
        self.seg(cport, 0, 99, flags=SYN)
        self.seg(cport, 1, 499, flags=SYN | ACK)
        seq = 100
        for unit in client_units:
            self.seg(cport, 0, seq, unit)
            seq += len(unit)
        if fin:
            self.seg(cport, 0, seq, flags=FIN | ACK)
            self.seg(cport, 1, 500, flags=FIN | ACK)

    def frames(self) -> list[Frame]:
        return [Frame(i, 1_700_000_000_000_000_000 + i * 1000, 1, raw, len(raw), source=SOURCE)
                for i, raw in enumerate(self.raws, 1)]

    def pcap(self, path: Path) -> Path:
        out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
        for i, raw in enumerate(self.raws, 1):
            out.append(struct.pack("<IIII", 1_700_000_000, i, len(raw), len(raw)) + raw)
        path.write_bytes(b"".join(out))
        return path


def unit(payload: bytes, ptype: int = 0x8101) -> bytes:
    """A V2GTP unit; 0x8101 carries no EXI, so it decodes whatever its bytes."""
    return v2gtp.build(ptype, payload)


def run(frames: list[Frame], limits: Limits) -> tuple[list[Message], list[Problem]]:
    messages: list[Message] = []
    problems: list[Problem] = []
    for item in Pipeline(limits=limits).run(frames):
        if isinstance(item, Problem):
            problems.append(item)
        else:
            messages.append(item)
            problems.extend(item.problems)
    return messages, problems


def cap_kinds(problems: list[Problem]) -> list[str]:
    return [p.kind for p in problems if p.kind in CAP_BY_CODE]


def v2gtp_units(messages: list[Message]) -> list[tuple[int, str]]:
    """(stream, payload hex) of the V2GTP units decoded without a problem."""
    return [(m.fields["v2gtp"]["tcp_stream"], m.fields.get("payload", ""))
            for m in messages if m.protocol == "v2gtp" and "payload_type" in m.fields.get(
                "v2gtp", {}) and not m.problems]


# -- the record and the option -------------------------------------------------------------------

def test_every_cap_is_a_field_with_a_registered_warning_code() -> None:
    names = {f for f in Limits.__dataclass_fields__}
    assert {cap.field for cap in CAPS} == names
    assert {spec.code for spec in LIMIT_FINDINGS} == set(CAP_BY_CODE)
    assert all(spec.severity is Severity.WARNING for spec in LIMIT_FINDINGS)
    assert len({cap.key for cap in CAPS}) == len(CAPS)


def test_limit_options_parse_sizes_and_counts() -> None:
    limits = parse_limit_options(["tcp-buffer=64KiB", "ws-message=2m", "exi-depth=12",
                                  "http-body=1000"])
    assert (limits.tcp_buffer, limits.ws_message, limits.exi_depth, limits.http_body) == (
        64 << 10, 2 << 20, 12, 1000)
    assert limits.tls_pending == DEFAULT_LIMITS.tls_pending
    for bad in (["tcp-buffer"], ["nope=1"], ["exi-depth=3KiB"], ["tcp-buffer=lots"],
                ["tcp-buffer=0"]):
        with pytest.raises(ValueError):
            parse_limit_options(bad)
    with pytest.raises(ValueError):
        Limits(exi_depth=-1)


def test_help_lists_every_cap_with_its_default_and_bad_values_exit_2() -> None:
    runner = CliRunner()
    text = " ".join(runner.invoke(cli_main, ["analyze", "--help"]).output.split())
    for cap in CAPS:
        assert cap.key.split("-")[-1] in text
    assert "--limit KEY=VALUE" in text and "tcp-buffer=4MiB" in text.replace("- ", "-")
    result = runner.invoke(cli_main, ["info", "--limit", "tcp-buffer=huge", __file__])
    assert result.exit_code == 2


# -- TCP reassembly (hot path: both twins) --------------------------------------------------------

@pytest.mark.parametrize("impl", twin_params("tcpreassembly"))
def test_tcp_buffer_cap(impl: str, monkeypatch) -> None:
    if impl == "python":
        monkeypatch.setenv("CHARGESCOPE_PUREPYTHON", "1")
    first, lost, late = unit(b"A" * 20), unit(b"B" * 20), [unit(bytes([67 + i]) * 30)
                                                            for i in range(4)]
    cap = Tcp()
    cap.seg(40000, 0, 99, flags=SYN)
    cap.seg(40000, 1, 499, flags=SYN | ACK)
    cap.seg(40000, 0, 100, first)
    seq = 100 + len(first) + len(lost)  # `lost` never arrives: the rest waits behind it
    for u in late:
        cap.seg(40000, 0, seq, u)
        seq += len(u)
    cap.connection(40001, [unit(b"Z" * 10)])  # another connection, after the cap hit
    limits = Limits(tcp_buffer=100)
    messages, problems = run(cap.frames(), limits)
    assert cap_kinds(problems) == ["limit.tcp.buffer"]
    hit = next(p for p in problems if p.kind == "limit.tcp.buffer")
    assert (hit.source, hit.offset, hit.where) == (SOURCE, len(first), "stream")
    assert hit.frame == 6  # the third held segment pushed the buffer over the cap
    units = v2gtp_units(messages)
    assert units == [(0, (b"A" * 20).hex().upper())] + [
        (0, (bytes([67 + i]) * 30).hex().upper()) for i in range(4)] + [
        (1, (b"Z" * 10).hex().upper())]
    # with the default cap nothing is given up early (the gap is declared at the end)
    assert cap_kinds(run(cap.frames(), DEFAULT_LIMITS)[1]) == []


@pytest.mark.parametrize("impl", twin_params("tcpreassembly"))
def test_tcp_connections_cap(impl: str, monkeypatch) -> None:
    if impl == "python":
        monkeypatch.setenv("CHARGESCOPE_PUREPYTHON", "1")
    cap = Tcp()
    for port in (40000, 40001, 40002):
        cap.connection(port, [unit(bytes([port % 256]) * 8)], fin=False)
    messages, problems = run(cap.frames(), Limits(tcp_connections=2))
    assert cap_kinds(problems) == ["limit.tcp.connections"]
    hit = next(p for p in problems if p.kind == "limit.tcp.connections")
    assert (hit.frame, hit.where) == (7, "frame")  # the SYN of the third connection
    assert sorted(s for s, _ in v2gtp_units(messages)) == [0, 1, 2]
    closes = [m.fields["reason"] for m in messages if m.name == "ConnectionClosed"]
    assert closes.count("evicted") == 1


def test_ip_fragments_cap() -> None:
    cap = Tcp()
    for ident in (1, 2):  # first fragments of two datagrams that never complete
        cap.raws.append(eth(0x0800, ipv4(17, b"\x00" * 64, flags_frag=0x2000, ident=ident)))
    cap.connection(40000, [unit(b"Q" * 12)])
    messages, problems = run(cap.frames(), Limits(ip_fragments=100))
    assert cap_kinds(problems) == ["limit.ip.fragments"]
    assert next(p for p in problems if p.kind == "limit.ip.fragments").frame == 2
    assert v2gtp_units(messages) == [(0, (b"Q" * 12).hex().upper())]


# -- dissector caps -------------------------------------------------------------------------------

def test_exi_caps_in_both_codecs() -> None:
    from chargescope import backends
    from chargescope.dissectors.exi.tables import grammar

    data = exi.encode(APP_HAND, "appHand")
    for impl in filter(None, (backends.load_twin("exi"), backends.load_extension("exi"))):
        assert impl.decode(data, grammar("appHand"), 64, 1 << 18) == APP_HAND
        for depth, length, kind in ((1, 1 << 18, "limit.exi.depth"),
                                    (64, 10, "limit.exi.string")):
            with pytest.raises(exi.ExiError) as err:
                impl.decode(data, grammar("appHand"), depth, length)
            assert err.value.kind == kind
    hexbin = exi.encode({"V2G_Message": {"Header": {"SessionID": "00" * 8}, "Body": {
        "SessionStopReq": {}}}}, "din")
    with pytest.raises(exi.ExiError) as err:
        exi.decode(hexbin, "din", max_string=4)  # binary values count bytes
    assert err.value.kind == "limit.exi.string"


@pytest.mark.parametrize(("limit", "kind"), [(Limits(exi_depth=1), "limit.exi.depth"),
                                             (Limits(exi_string=10), "limit.exi.string")])
def test_exi_caps_through_the_pipeline(limit: Limits, kind: str) -> None:
    cap = Tcp()
    cap.connection(40000, [unit(exi.encode(APP_HAND, "appHand"), 0x8001), unit(b"R" * 6)])
    messages, problems = run(cap.frames(), limit)
    assert cap_kinds(problems) == [kind]
    assert v2gtp_units(messages) == [(0, (b"R" * 6).hex().upper())]
    # the default limits decode the handshake
    assert any(m.name == "supportedAppProtocolReq" for m in run(cap.frames(), DEFAULT_LIMITS)[0])


def test_http_body_and_decoded_caps() -> None:
    import gzip

    big = b"x" * 300
    bomb = gzip.compress(b"{" + b" " * 5000 + b"}")
    script = [(0, b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % len(big) + big),
              (1, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"),
              (0, b"POST /b HTTP/1.1\r\nHost: h\r\nContent-Encoding: gzip\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(bomb) + bomb),
              (1, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")]
    from tests.http_feed import CONN

    stream = HttpStream(CONN, max_body=100, max_decoded=1000)
    messages = http_run(stream, script)
    assert stream.accounting.undecodable == [200, 0]  # the body bytes beyond the cap
    kinds = [p.kind for m in messages for p in m.problems]
    assert kinds == ["http.body.too-large", "http.body.decoded-too-large"]
    assert [m.fields.get("kind") for m in messages] == ["request", "response"] * 2
    assert messages[0].fields["body_length"] == 300
    assert [p.kind for m in http_run(HttpStream(CONN), script) for p in m.problems] == []
    # the same through the pipeline: the cap reaches the HTTP/OCPI handoff
    cap = Tcp()
    cap.connection(40000, [script[0][1], script[2][1]])
    messages, problems = run(cap.frames(), Limits(http_body=100, http_decoded=1000))
    assert cap_kinds(problems) == ["http.body.too-large", "http.body.decoded-too-large"]
    assert [m.fields.get("path") for m in messages if m.protocol in ("http", "ocpi")
            and m.fields.get("kind") == "request"] == ["/a", "/b"]


def test_websocket_message_cap_through_the_pipeline() -> None:
    from tests.ws_builder import client_frame, request

    boot = '[2,"b1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'
    cap = Tcp()
    cap.connection(40000, [request(), client_frame(b"[" + b"x" * 500), client_frame(boot)])
    # the server never answered the upgrade: still WebSocket by the request (probe)
    pipeline = Pipeline(limits=Limits(ws_message=200))
    items = list(pipeline.run(cap.frames()))
    messages = [m for m in items if isinstance(m, Message)]
    problems = [p for m in messages for p in m.problems]
    assert cap_kinds(problems) == ["websocket.frame.too_large"]
    books = pipeline.stats.streams["websocket"]
    assert books.undecodable == 501 and books.balanced  # the skipped payload
    assert any(m.protocol == "ocpp" and m.fields.get("action") == "BootNotification"
               for m in messages)


def test_ocpp_pending_calls_cap_through_the_pipeline() -> None:
    from tests.ws_builder import client_frame, request, response, server_frame

    calls = [client_frame(f'[2,"c{i}","Heartbeat",{{}}]') for i in range(3)]
    cap = Tcp()
    cap.seg(40000, 0, 99, flags=SYN)
    cap.seg(40000, 1, 499, flags=SYN | ACK)
    seq_c, seq_s = 100, 500
    for direction, data in [(0, request()), (1, response()), *[(0, c) for c in calls],
                            (1, server_frame('[3,"c2",{"currentTime":"2024-01-01T00:00:00Z"}]')),
                            (1, server_frame('[3,"c0",{"currentTime":"2024-01-01T00:00:00Z"}]'))]:
        cap.seg(40000, direction, seq_c if direction == 0 else seq_s, data)
        if direction == 0:
            seq_c += len(data)
        else:
            seq_s += len(data)
    messages, problems = run(cap.frames(), Limits(ocpp_pending=2))
    assert cap_kinds(problems) == ["limit.ocpp.pending"]
    hit = next(m for m in messages if any(p.kind == "limit.ocpp.pending" for p in m.problems))
    assert hit.fields["unique_id"] == "c2"
    results = [(m.fields["unique_id"], m.fields["paired"]) for m in messages
               if m.protocol == "ocpp" and m.fields.get("message_type_id") == 3]
    assert results == [("c2", True), ("c0", False)]  # c0 was forgotten at the cap
    assert cap_kinds(run(cap.frames(), DEFAULT_LIMITS)[1]) == []


def test_homeplug_fragment_sets_cap() -> None:
    dissector = HomePlugDissector(max_fragment_sets=2)
    out: list[Message] = []
    for n in range(3):  # three first fragments (FMI: 2 fragments, index 0) of different MMEs
        mme = bytes([1]) + (0x6064 + 4 * n).to_bytes(2, "little") + bytes([0x10, n]) + b"\0" * 40
        out += dissector.feed(bytes(6) + bytes([2, 0, 0, 0, 0, n]) + b"\x88\xe1" + mme,
                              source=SOURCE, frame=n + 1)
    kinds = [p.kind for m in out for p in m.problems]
    assert kinds == ["homeplug.fragment.sequence", "limit.homeplug.fragments"]
    assert out[0].problems[-1].frame == 3
    assert len(dissector.flush()) == 2  # the two younger sets are still reported at the end
    # through the pipeline (the frame handoff table takes the cap from Limits)
    frames = [Frame(n + 1, n, 1, bytes(6) + bytes([2, 0, 0, 0, 0, n]) + b"\x88\xe1"
                    + bytes([1]) + (0x6064 + 4 * n).to_bytes(2, "little") + bytes([0x10, n])
                    + b"\0" * 40, 60, source=SOURCE) for n in range(3)]
    assert cap_kinds(run(frames, Limits(homeplug_fragments=2))[1]) == [
        "limit.homeplug.fragments"]
    assert cap_kinds(run(frames, DEFAULT_LIMITS)[1]) == []


def test_tls_pending_cap() -> None:
    conn = Connection(0, Endpoint("10.0.0.1", 40000), Endpoint("10.0.0.2", 443), SOURCE)
    stream = TlsStream(conn, KeyLog(), (), max_pending=150)
    out: list[Message] = []
    offset = 0
    for n in range(3):
        record = b"\x17\x03\x03" + (60).to_bytes(2, "big") + bytes([n]) * 60
        out += stream.on_data(StreamData(conn, 0, offset, record, n, (
            ByteRef(SOURCE, n + 1, 54, len(record)),)))
        offset += len(record)
    out += stream.on_close(StreamClose(conn, -1, 10, "end-of-capture"))
    kinds = [p.kind for m in out for p in m.problems]
    assert kinds.count("tls.pending.overflow") == 1
    assert "tls.keys.missing" in kinds  # what stayed is reported, not dropped
    # through the pipeline: a (broken) ClientHello makes it TLS, then records without keys
    hello = b"\x16\x03\x01\x00\x06\x01\x00\x00\x02\x03\x03"
    records = [b"\x17\x03\x03\x00\x3c" + bytes([n]) * 60 for n in range(3)]
    frames = Tcp()
    frames.connection(40000, [hello, *records])
    frames.connection(40001, [unit(b"T" * 9)])
    messages, problems = run(frames.frames(), Limits(tls_pending=150))
    assert cap_kinds(problems) == ["tls.pending.overflow"]
    assert v2gtp_units(messages) == [(1, (b"T" * 9).hex().upper())]


# -- findings -------------------------------------------------------------------------------------

def test_cap_hits_become_warning_findings_in_analyze(tmp_path: Path) -> None:
    cap = Tcp()
    for port in (40000, 40001, 40002):
        cap.connection(port, [unit(exi.encode(APP_HAND, "appHand"), 0x8001)], fin=False)
    path = cap.pcap(tmp_path / "caps.pcap")
    result = analyze([path], limits=Limits(tcp_connections=2, exi_depth=1))
    found = sorted(f.code for f in result.findings if f.code in CAP_BY_CODE)
    assert found == ["limit.exi.depth", "limit.tcp.connections"]  # one per code and source
    conns = next(f for f in result.findings if f.code == "limit.tcp.connections")
    assert conns.severity is Severity.WARNING
    assert conns.extra["cap"] == "tcp-connections" and conns.extra["frame"] == 7
    depth = next(f for f in result.findings if f.code == "limit.exi.depth")
    assert depth.extra["frame"] > 0 and len(depth.evidence) == 3  # the V2GTP units
    assert depth.extra["count"] == 3 and [h["frame"] for h in depth.extra["hits"]] == [
        depth.extra["frame"], *[h["frame"] for h in depth.extra["hits"][1:]]]
    assert len({h["frame"] for h in depth.extra["hits"]}) == 3
    assert not [f for f in analyze([path]).findings if f.code in CAP_BY_CODE]
    import chargescope

    assert "limit.exi.depth" in {f.code for f in chargescope.open(
        path, limits=Limits(exi_depth=1)).findings}
    # and from the command line
    out = CliRunner().invoke(cli_main, ["analyze", "--json", "--limit", "exi-depth=1",
                                        str(path)])
    assert "limit.exi.depth" in out.output


def test_limit_finding_ignores_other_problems() -> None:
    assert limit_finding(Problem("tcp.overlap.conflict", "x")) is None


def test_fuzzing_md_lists_every_cap_with_its_codes() -> None:
    text = (Path(__file__).parents[1] / "FUZZING.md").read_text(encoding="utf-8")
    for cap in CAPS:
        row = next(line for line in text.splitlines() if line.startswith(f"| `{cap.key}` |"))
        assert all(f"`{code}`" in row for code in cap.codes), row
