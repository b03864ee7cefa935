"""HAR and JSON-lines inputs: same Messages as captures, hostile files never crash."""

from __future__ import annotations

import base64
import json

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from chargescope.analyzer.ocpi.sources import is_har, is_http_log, read_http_file
from chargescope.analyzer.ocpi.state import OcpiAnalysis
from chargescope.cli import cli
from chargescope.dissectors.http.logs import har_messages

SESSION_PUT = {"country_code": "NL", "party_id": "CPO", "id": "S1", "status": "ACTIVE",
               "kwh": 1.0, "last_updated": "2026-11-25T10:00:00Z"}


def _har(entries):
    return {"log": {"version": "1.2", "creator": {"name": "test"}, "entries": entries}}


def _entry(method, url, body=None, status=200, resp=None, b64=False):
    text = json.dumps(resp if resp is not None else {"status_code": 1000,
                                                     "timestamp": "2026-11-25T10:00:01Z"})
    content = {"size": len(text), "mimeType": "application/json", "text": text}
    if b64:
        content.update(text=base64.b64encode(text.encode()).decode(), encoding="base64")
    request = {"method": method, "url": url, "httpVersion": "HTTP/1.1",
               "headers": [{"name": "Authorization", "value": "Token c2VjcmV0"}],
               "queryString": []}
    if body is not None:
        request["postData"] = {"mimeType": "application/json", "text": json.dumps(body)}
    return {"startedDateTime": "2026-11-25T10:00:00.000Z", "time": 120.5, "request": request,
            "response": {"status": status, "statusText": "OK", "httpVersion": "HTTP/1.1",
                         "headers": [], "content": content}}


def test_har_is_decoded_as_ocpi(tmp_path):
    path = tmp_path / "session.har"
    path.write_text(json.dumps(_har([
        _entry("PUT", "https://emsp.example/ocpi/emsp/2.2.1/sessions/NL/CPO/S1", SESSION_PUT),
        _entry("GET", "https://cpo.example/ocpi/cpo/2.2.1/locations?offset=0&limit=10",
               resp={"status_code": 2001, "timestamp": "2026-11-25T10:00:01Z"}, b64=True),
        _entry("GET", "https://cpo.example/ocpi/versions", status=0),
    ])))
    assert is_har(path) and not is_http_log(path)
    messages = list(read_http_file(path))
    assert [m.name for m in messages] == ["PUT sessions", "PUT sessions response",
                                          "GET locations", "GET locations response",
                                          "GET versions"]
    assert messages[3].fields["status_code"] == 2001
    assert messages[1].ts_ns - messages[0].ts_ns == 120_500_000
    assert "c2VjcmV0" not in json.dumps([m.fields for m in messages])
    analysis = OcpiAnalysis()
    for m in messages:
        analysis.add(m)
    found = {f.code for f in analysis.finish().findings}
    assert {"ocpi.auth.failed", "ocpi.session.not-completed", "ocpi.http.unanswered"} <= found


JSONL = [
    {"ts": "2026-11-25T10:00:00Z", "type": "request", "id": "1", "method": "PUT",
     "url": "https://emsp.example/ocpi/emsp/2.2.1/sessions/NL/CPO/S1",
     "headers": {"Authorization": "Token c2VjcmV0", "X-Request-ID": "a",
                 "X-Correlation-ID": "b"}, "body": SESSION_PUT},
    {"ts": 1795600000.5, "type": "response", "id": "1", "status": 200,
     "body": {"status_code": 1000, "timestamp": "2026-11-25T10:00:00Z"}},
]


def test_jsonl_log_and_hostile_lines(tmp_path):
    path = tmp_path / "gateway.jsonl"
    lines = [json.dumps(e) for e in JSONL] + ["# comment", "", "{not json", "[1, 2]",
                                               json.dumps({"type": "request"}),
                                               json.dumps({"type": "response", "status": "x"})]
    path.write_text("\n".join(lines) + "\n")
    assert is_http_log(path)
    messages = list(read_http_file(path))
    assert [m.name for m in messages[:2]] == ["PUT sessions", "PUT sessions response"]
    assert messages[1].fields["status_code"] == 1000
    assert [p.kind for m in messages[2:] for p in m.problems] == [
        "log.line.invalid-json", "log.line.invalid", "log.line.invalid", "log.line.invalid"]
    assert [m.problems[0].frame for m in messages[2:]] == [5, 6, 7, 8]


def test_cli_reads_har_and_log(tmp_path):
    har = tmp_path / "x.har"
    har.write_text(json.dumps(_har([_entry("PUT", "https://e/ocpi/emsp/2.2.1/sessions/NL/CPO/S1",
                                           SESSION_PUT)])))
    log = tmp_path / "y.jsonl"
    log.write_text("\n".join(json.dumps(e) for e in JSONL))
    result = CliRunner().invoke(cli, ["ocpi", "--json", str(har), str(log)])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert [len(s["pairs"]) for s in document["sources"]] == [1, 1]


def test_broken_har_is_a_problem(tmp_path):
    path = tmp_path / "broken.har"
    path.write_text('{"log": {"entries": [{"request": {}}, 5]}}')
    kinds = [p.kind for m in har_messages(path) for p in m.problems]
    assert kinds == ["har.entry.invalid", "har.entry.invalid"]
    path.write_text("{")
    assert [p.kind for m in har_messages(path) for p in m.problems] == ["har.file.invalid"]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=40), st.dictionaries(
    st.sampled_from(["type", "id", "method", "url", "status", "headers", "body", "ts"]),
    st.one_of(st.none(), st.integers(), st.text(max_size=10), st.sampled_from(
        ["request", "response"]), st.lists(st.text(max_size=5), max_size=3)), max_size=8)),
    max_size=10))
def test_random_log_lines_never_crash(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("fuzz") / "f.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines))
    analysis = OcpiAnalysis()
    for message in read_http_file(path):
        analysis.add(message)
    analysis.finish()


def test_logged_connect_is_named_by_its_authority(tmp_path):
    path = tmp_path / "proxy.jsonl"
    entries = [{"ts": 1, "type": "request", "id": "1", "method": "CONNECT",
                "url": "cpo.example:443"},
               {"ts": 2, "type": "response", "id": "1", "status": 200},
               {"ts": 3, "type": "request", "id": "2", "method": "CONNECT",
                "url": "https://[2001:db8::1]:8443"}]
    path.write_text("\n".join(json.dumps(e) for e in entries) + "\n")
    messages = list(read_http_file(path))
    assert [m.name for m in messages] == ["CONNECT cpo.example:443", "200",
                                          "CONNECT [2001:db8::1]:8443"]
    assert [(m.fields["host"], m.fields["port"]) for m in messages[::2]] == [
        ("cpo.example", 443), ("2001:db8::1", 8443)]
    assert messages[1].fields["request"]["target"] == "cpo.example:443"
