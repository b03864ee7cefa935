"""End to end on a real capture: extrawest-ocpi CPO + eMSP on loopback, through the pipeline.

The truth file lists what the driver sent and received (tools/make_ocpi_captures.py);
the decoded capture must show every one of those exchanges with the same HTTP status
and OCPI status_code, in order, and the findings the scenario was built to cause.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from chargescope.analyzer.ocpi.sources import read_capture
from chargescope.analyzer.ocpi.state import OcpiAnalysis
from chargescope.analyzer.records import Message
from chargescope.cli import cli

DATA = Path(__file__).resolve().parent / "data" / "ocpi"
PCAP = DATA / "ocpi221-extrawest.pcap"


@pytest.fixture(scope="module")
def messages() -> list[Message]:
    return [m for m in read_capture(PCAP) if isinstance(m, Message)]


@pytest.mark.parametrize("name", ["ocpi221-extrawest", "ocpi211-extrawest"])
def test_driver_exchanges_are_all_decoded_in_order(name):
    truth = json.loads((DATA / f"{name}.truth.json").read_text())
    messages = [m for m in read_capture(DATA / f"{name}.pcap") if isinstance(m, Message)]
    assert {m.fields.get("version") for m in messages if m.protocol == "ocpi"} >= {
        truth["ocpi_version"]}
    responses = {}
    for m in messages:
        if m.fields.get("kind") == "response":
            responses[(m.dst, m.src, m.fields["exchange"])] = m
    seen = []
    for m in messages:
        if m.fields.get("kind") != "request":
            continue
        resp = responses.get((m.src, m.dst, m.fields["exchange"]))
        status = resp.fields.get("status") if resp and not resp.problems else None
        seen.append({"method": m.fields["method"], "path": m.fields["path"], "status": status,
                     "status_code": resp.fields.get("status_code") if resp else None})
    expected = [{k: e[k] for k in ("method", "path", "status", "status_code")}
                for e in truth["driver_exchanges"]]
    it = iter(seen)
    for want in expected:  # a subsequence: the servers' own requests come in between
        assert any(got == want for got in it), want


def test_keepalive_chunked_and_gzip_bodies(messages):
    responses = [m for m in messages if m.fields.get("kind") == "response"]
    assert any(m.fields.get("chunked") and m.fields.get("content_encoding") == "gzip"
               for m in responses)
    assert any(m.fields.get("chunked") and "content_encoding" not in m.fields
               for m in responses)
    per_connection = {}
    for m in messages:
        if m.fields.get("kind") == "request":
            per_connection.setdefault((m.src, m.dst), []).append(m)
    assert max(len(v) for v in per_connection.values()) >= 10  # keep-alive


def test_business_state_and_findings(messages):
    analysis = OcpiAnalysis()
    for m in messages:
        analysis.add(m)
    report = analysis.finish()
    assert ("NL*CPO", "NL*EMS") in report.pairs
    state = report.pairs[("NL*CPO", "NL*EMS")]
    assert {"credentials", "locations", "sessions", "cdrs", "commands", "tokens",
            "versions"} <= state.modules
    statuses = {k: [s for _, _, s in v.history] for k, v in report.sessions.items()}
    assert statuses == {"NL*CPO*S1": ["ACTIVE", "COMPLETED"], "NL*CPO*S2": ["ACTIVE"],
                        "NL*CPO*S3": ["COMPLETED"]}
    assert [(c.command, c.result, c.callback) for c in state.commands] == [
        ("START_SESSION", "ACCEPTED", "ACCEPTED"), ("UNLOCK_CONNECTOR", "REJECTED", ""),
        ("START_SESSION", "REJECTED", ""), ("RESERVE_NOW", "", "")]
    assert [a["allowed"] for a in state.authorizations] == ["ALLOWED", "BLOCKED", None]
    found = {f.code for f in report.findings}
    assert {"ocpi.pagination.link-invalid", "ocpi.auth.failed", "ocpi.envelope.invalid",
            "ocpi.command.rejected", "ocpi.status.client-error", "ocpi.session.not-completed",
            "ocpi.cdr.energy-mismatch", "ocpi.token.unknown", "ocpi.token.not-allowed",
            "ocpi.schema.violation", "ocpi.command.result-missing"} <= found
    assert "ocpi.session.without-cdr" not in found


def test_cli_text_json_and_secrets():
    runner = CliRunner()
    text = runner.invoke(cli, ["ocpi", str(PCAP)])
    assert text.exit_code == 1, text.output  # error findings exist
    assert "NL*CPO <-> NL*EMS" in text.output
    result = runner.invoke(cli, ["ocpi", "--json", "--messages", str(PCAP)])
    assert result.exit_code == 1
    document = json.loads(result.output)
    (source,) = document["sources"]
    assert {p["key"] for p in source["parties"]} >= {"NL*CPO", "NL*EMS"}
    for secret in ("cpo-token-c-0001", "emsp-token-b-0001", "token-a-for-emsp",
                   "Y3BvLXRva2VuLWMtMDAwMQ=="):
        assert secret not in result.output
    shown = runner.invoke(cli, ["ocpi", "--json", "--messages", "--show-secrets", str(PCAP)])
    assert "cpo-token-c-0001" in shown.output


def test_cli_bad_input(tmp_path):
    bad = tmp_path / "nothing.pcap"
    bad.write_bytes(b"not a capture at all")
    result = CliRunner().invoke(cli, ["ocpi", str(bad)])
    assert result.exit_code == 2


def test_link_c_sessions_for_the_correlator(messages):
    from chargescope.analyzer.correlate.milestones import MILESTONES
    from chargescope.analyzer.ocpi.link import OcpiLinkAnalyzer

    analyzer = OcpiLinkAnalyzer(str(PCAP))
    for m in messages:
        analyzer.feed(m)
    result = analyzer.finish()
    by_kind: dict[str, list] = {}
    for part in result.sessions:
        by_kind.setdefault(part.kind, []).append(part)
        assert part.link == "C"
        assert all(e.name in MILESTONES for e in part.events)
    s1 = next(p for p in by_kind["ocpi.session"] if p.ident == "S1")
    assert (s1.outcome, s1.energy_wh) == ("success", 11000.0)
    assert s1.keys["evse_id"] == "NL*CPO*E1" and s1.keys["token_uid"] == "RFID1"
    assert [e.name for e in s1.events] == ["ocpi.session_active", "ocpi.session_completed",
                                           "ocpi.cdr"]
    starts = [p for p in by_kind["ocpi.command"] if p.first("ocpi.start_session")]
    assert [p.first("ocpi.start_session").detail["result"] for p in starts] == ["ACCEPTED",
                                                                                "REJECTED"]
    assert starts[0].has("ocpi.command_result")
    names = sorted(p.events[0].name for p in by_kind["ocpi.authorization"])
    assert names == ["ocpi.token_authorized", "ocpi.token_authorized", "ocpi.token_unknown"]


def test_capture_starting_mid_connection(tmp_path):
    import dpkt

    cut = tmp_path / "mid.pcap"
    with PCAP.open("rb") as src, cut.open("wb") as dst:
        reader = dpkt.pcap.Reader(src)
        writer = dpkt.pcap.Writer(dst, linktype=reader.datalink(), nano=False)
        for number, (ts, buf) in enumerate(reader, start=1):
            if number > 57:  # inside the first locations page's chunked response
                writer.writepkt(buf, ts)
    messages = [m for m in read_capture(cut) if isinstance(m, Message)]
    names = [m.name for m in messages]
    # the tail of that response precedes anything the probe claims; the next request starts
    assert names[0] == "GET /ocpi/cpo/VersionNumber.v_2_2_1/ModuleID.locations/"
    assert "GET locations" in names and "POST cdrs response" in names
    # the chunked terminator left of that response is reported, not dropped
    skipped = [m for m in messages if m.name == "HTTP skipped bytes"]
    assert [(m.fields["length"], m.problems[0].kind) for m in skipped] == [
        (5, "http.stream.skipped")]
    assert all(m.ok for m in messages
               if m.name not in ("POST commands RESERVE_NOW response", "HTTP skipped bytes"))
    analysis = OcpiAnalysis()
    for m in messages:
        analysis.add(m)
    report = analysis.finish()
    assert {"ocpi.cdr.energy-mismatch", "ocpi.session.not-completed"} <= {
        f.code for f in report.findings}


def test_ocpi_211_interop_traps():
    """Two extrawest 2.1.1 servers: raw vs Base64 tokens, a failed handshake, a CDR field."""
    analysis = OcpiAnalysis()
    for m in read_capture(DATA / "ocpi211-extrawest.pcap"):
        if isinstance(m, Message):
            analysis.add(m)
    report = analysis.finish()
    found = [(f.code, f.extra.get("status_code"), f.extra.get("path")) for f in report.findings]
    assert ("ocpi.status.server-error", 3000, None) in found  # raw token on /versions
    assert ("ocpi.status.server-error", 3002, None) in found  # handshake failed
    assert any(code == "ocpi.auth.token-encoding" for code, _, _ in found)
    assert ("ocpi.schema.violation", None, "body.stop_date_time") in found
    session = report.sessions["NL*CPO*S21"]
    assert ([s for _, _, s in session.history], session.cdrs) == (["ACTIVE", "COMPLETED"],
                                                                  ["CDR21"])
    assert "ocpi.session.without-cdr" not in {code for code, _, _ in found}


def test_cli_directory_of_captures_and_har(tmp_path):
    import shutil as sh

    sh.copy(PCAP, tmp_path / "a.pcap")
    (tmp_path / "b.har").write_text(json.dumps({"log": {"entries": []}}))
    result = CliRunner().invoke(cli, ["ocpi", "--json", str(tmp_path)])
    assert result.exit_code == 1
    sources = [s["source"] for s in json.loads(result.output)["sources"]]
    assert [Path(s).name for s in sources] == ["a.pcap", "b.har"]
