"""HTTP -> OCPI Messages: names, envelope, validation, learned routes, masked secrets."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from ocpi_helpers import play, request, response

from chargescope.dissectors.ocpi.decode import OcpiContext, token_of

CREDS_221 = {"token": "secret-token-b", "url": "http://emsp.example/ocpi/versions",
             "roles": [{"role": "EMSP", "party_id": "EMS", "country_code": "NL",
                        "business_details": {"name": "EMSP"}}]}


def test_names_and_route_fields():
    msgs = play([(request("PUT", "/ocpi/emsp/2.2.1/sessions/NL/CPO/S1",
                          {"kwh": 1, "last_updated": "2026-11-25T10:00:00Z"}),
                  response())])
    req, resp = msgs
    assert (req.protocol, req.name, resp.name) == ("ocpi", "PUT sessions", "PUT sessions response")
    for m in msgs:
        f = m.fields
        assert (f["module"], f["version"], f["interface"], f["server_role"]) == (
            "sessions", "2.2.1", "RECEIVER", "EMSP")
        assert (f["country_code"], f["party_id"], f["session_id"]) == ("NL", "CPO", "S1")
    assert resp.fields["status_code"] == 1000 and resp.fields["status"] == 200
    # a PUT must carry the whole Session: the missing fields are named
    assert {v["path"] for v in req.fields["violations"]} >= {"body.id", "body.status"}


def test_envelope_violations():
    msgs = play([(request("GET", "/ocpi/cpo/2.2.1/locations"), response(raw=b'{"detail": "x"}',
                                                                         status=404)),
                 (request("GET", "/ocpi/cpo/2.2.1/locations"),
                  response(raw=b'{"status_code": "1000", "timestamp": "now"}')),
                 (request("GET", "/ocpi/cpo/2.2.1/locations"), response(raw=b"not json"))])
    first, second, third = msgs[1], msgs[3], msgs[5]
    assert [v["rule"] for v in first.fields["violations"]] == ["envelope"]
    assert sorted(v["rule"] for v in second.fields["violations"]) == ["format", "type"]
    assert [p.kind for p in third.problems] == ["ocpi.body.invalid-json"]


def test_list_data_is_validated_per_item():
    good = {"country_code": "NL", "party_id": "CPO", "id": "T1", "currency": "EUR",
            "elements": [{"price_components": [{"type": "ENERGY", "price": 0.3,
                                                "step_size": 1}]}],
            "last_updated": "2026-11-25T10:00:00Z"}
    bad = dict(good, currency=None, elements=[])
    resp = play([(request("GET", "/ocpi/cpo/2.2.1/tariffs?offset=0"), response([good, bad]))])[1]
    assert resp.fields["data_count"] == 2
    assert sorted((v["path"], v["rule"]) for v in resp.fields["violations"]) == [
        ("data[1].currency", "required"), ("data[1].elements", "empty")]


def test_secrets_are_fingerprinted_unless_asked():
    exchange = [(request("POST", "/ocpi/2.2.1/credentials", CREDS_221, token="token-a"),
                 response(dict(CREDS_221, token="secret-token-c")))]
    masked = play(exchange)
    text = json.dumps([m.fields for m in masked])
    for secret in ("secret-token-b", "secret-token-c", "token-a", "dG9rZW4tYQ=="):
        assert secret not in text
    assert masked[0].fields["body"]["token_fingerprint"]
    assert masked[0].fields["authorization"].startswith("Token <redacted ")
    shown = play(exchange, show_secrets=True)
    assert shown[0].fields["body"]["token"] == "secret-token-b"
    assert shown[1].fields["data"]["token"] == "secret-token-c"


def test_token_fingerprint_is_the_same_raw_or_base64():
    raw = play([(request("GET", "/ocpi/2.1.1/locations", token="abc", base64_token=False),
                 None)])[0]
    b64 = play([(request("GET", "/ocpi/2.2.1/locations", token="abc"), None)])[0]
    assert raw.fields["token_fingerprint"] == b64.fields["token_fingerprint"]
    assert (raw.fields["token_base64"], b64.fields["token_base64"]) == (False, True)
    assert token_of("Token not-base64!") == ("not-base64!", False)


def test_details_teach_custom_endpoint_urls():
    details = {"version": "2.2.1", "endpoints": [
        {"identifier": "sessions", "role": "RECEIVER",
         "url": "http://emsp.example/api/s-receiver"}]}
    context = OcpiContext()
    msgs = play([(request("GET", "/ocpi/2.2.1/details"), response(details)),
                 (request("PUT", "/api/s-receiver/NL/CPO/S9", {"last_updated": "x"}),
                  response())], context=context)
    put = msgs[2]
    assert (put.protocol, put.name, put.fields["version"]) == ("ocpi", "PUT sessions", "2.2.1")
    assert put.fields["session_id"] == "S9"


def test_response_url_routes_the_command_result():
    start = {"response_url": "http://emsp.example/callbacks/xyz", "location_id": "L1",
             "token": {"uid": "U"}}
    msgs = play([(request("POST", "/ocpi/cpo/2.2.1/commands/START_SESSION", start),
                  response({"result": "ACCEPTED", "timeout": 30})),
                 (request("POST", "/callbacks/xyz", {"result": "ACCEPTED"}), response())])
    result = msgs[2]
    assert result.name == "POST commands result"
    assert result.fields["command"] == "START_SESSION"
    assert result.fields["violations"] == []


def test_non_ocpi_http_stays_http_and_masked():
    msgs = play([(request("GET", "/favicon.ico", token="zzz"), response(raw=b"", status=404))])
    assert [m.protocol for m in msgs] == ["http", "http"]
    assert all("enp6eg==" not in json.dumps(m.fields) for m in msgs)


JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                       lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.sampled_from(
                           ["data", "status_code", "timestamp", "token", "roles", "url",
                            "response_url", "result", "allowed", "id", "status", "kwh",
                            "charging_periods", "endpoints", "version"]), inner, max_size=5),
                       max_leaves=20)
PATHS = ["/ocpi/versions", "/ocpi/2.2.1/details", "/ocpi/2.1.1/credentials",
         "/ocpi/emsp/2.2.1/sessions/NL/CPO/S1", "/ocpi/emsp/2.2.1/cdrs",
         "/ocpi/cpo/2.2.1/commands/START_SESSION", "/ocpi/emsp/2.2.1/tokens/T/authorize",
         "/ocpi/cpo/2.3.0/locations/L/E/C", "/ocpi/cpo/2.2.1/tariffs"]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]), st.sampled_from(PATHS),
       JSONISH, JSONISH, st.sampled_from([200, 404, 500]))
def test_any_json_through_decoder_and_analysis(method, path, body, answer, status):
    from chargescope.analyzer.ocpi.state import OcpiAnalysis

    raw = json.dumps(answer).encode()
    messages = play([(request(method, path, body), response(raw=raw, status=status))])
    analysis = OcpiAnalysis()
    for m in messages:
        json.dumps(m.fields)  # fields stay plain JSON
        analysis.add(m)
    json.dumps(analysis.finish().to_json(), default=str)


def test_non_ascii_token_is_not_base64():
    assert token_of("Token \xe4bcd") == ("\xe4bcd", False)


def test_connect_passes_through_named_by_its_authority():
    connect = b"CONNECT cpo.example:443 HTTP/1.1\r\nHost: cpo.example:443\r\n\r\n"
    refused = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"
    msgs = play([(connect, refused),
                 (request("GET", "/ocpi/cpo/2.2.1/locations"), response([]))])
    assert [(m.protocol, m.name) for m in msgs] == [
        ("http", "CONNECT cpo.example:443"), ("http", "403 Forbidden"),
        ("ocpi", "GET locations"), ("ocpi", "GET locations response")]
    assert (msgs[0].fields["host"], msgs[0].fields["port"]) == ("cpo.example", 443)
