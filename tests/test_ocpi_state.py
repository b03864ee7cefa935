"""OCPI business state and its findings, from exchanges played through the dissector."""

from __future__ import annotations

import pytest
from ocpi_helpers import analyse, codes, request, response

from chargescope.analyzer.ocpi import checks
from chargescope.analyzer.ocpi.findings import FINDINGS, registry
from chargescope.analyzer.ocpi.state import SESSION_TRANSITIONS

NOW = "2026-11-25T10:00:00Z"
S = "/ocpi/emsp/2.2.1/sessions/NL/CPO/S1"
CDR_PATH = "/ocpi/emsp/2.2.1/cdrs"


def session_body(status, kwh=0.0):
    return {"country_code": "NL", "party_id": "CPO", "id": "S1", "start_date_time": NOW,
            "kwh": kwh, "cdr_token": {"country_code": "NL", "party_id": "EMS", "uid": "U",
                                      "type": "RFID", "contract_id": "C"},
            "auth_method": "WHITELIST", "location_id": "L", "evse_uid": "E",
            "connector_id": "1", "currency": "EUR", "status": status, "last_updated": NOW}


def cdr_body(total_energy=10.0, periods=((5.0, 0.5), (5.0, 0.5)), **extra):
    return {"country_code": "NL", "party_id": "CPO", "id": "CDR1", "session_id": "S1",
            "start_date_time": "2026-11-25T09:00:00Z", "end_date_time": NOW,
            "charging_periods": [{"start_date_time": NOW, "dimensions": [
                {"type": "ENERGY", "volume": e}, {"type": "TIME", "volume": h}]}
                for e, h in periods],
            "total_cost": {"excl_vat": 3.0, "incl_vat": 3.63}, "total_energy": total_energy,
            "total_time": 1.0, **extra}


def test_finding_codes_are_registered_once():
    assert len({f.code for f in FINDINGS}) == len(FINDINGS)
    assert all(f.code.startswith("ocpi.") for f in registry())


def test_session_lifecycle_with_cdr_is_clean():
    report = analyse([(request("PUT", S, session_body("ACTIVE")), response()),
                      (request("PATCH", S, {"kwh": 5.0, "last_updated": NOW}), response()),
                      (request("PATCH", S, {"kwh": 10.0, "status": "COMPLETED",
                                            "last_updated": NOW}), response()),
                      (request("POST", CDR_PATH, cdr_body()), response())])
    session = report.sessions["NL*CPO*S1"]
    assert [s for _, _, s in session.history] == ["ACTIVE", "COMPLETED"]
    assert (session.kwh, session.cdrs) == (10.0, ["CDR1"])
    assert [c for c in codes(report) if not c.startswith("ocpi.schema")] == []


def test_session_left_pending_and_completed_without_cdr():
    report = analyse([(request("PUT", S, session_body("PENDING")), response())])
    assert codes(report) == ["ocpi.session.not-completed"]
    report = analyse([(request("PUT", S, session_body("COMPLETED", 3.0)), response())])
    assert codes(report) == ["ocpi.session.without-cdr"]


def test_forbidden_transition_and_kwh_going_down():
    report = analyse([(request("PUT", S, session_body("COMPLETED", 5.0)), response()),
                      (request("PATCH", S, {"status": "ACTIVE", "kwh": 4.0,
                                            "last_updated": NOW}), response())])
    assert "ocpi.session.transition" in codes(report)
    assert "ocpi.session.kwh-decreased" in codes(report)


def test_transition_table_is_closed():
    targets = set().union(*SESSION_TRANSITIONS.values())
    assert targets <= {k for k in SESSION_TRANSITIONS if k}


@pytest.mark.parametrize(("cdr", "expected"), [
    (cdr_body(), []),
    (cdr_body(total_energy=20.0), ["ocpi.cdr.energy-mismatch"]),
    (cdr_body(total_time=3.0), ["ocpi.cdr.time-mismatch", "ocpi.cdr.time-mismatch"]),
    (cdr_body(total_parking_time=1.0, charging_periods=[
        {"start_date_time": NOW, "dimensions": [{"type": "PARKING_TIME", "volume": 0.25}]}]),
     ["ocpi.cdr.parking-mismatch"]),
    (cdr_body(total_cost={"excl_vat": 3.0, "incl_vat": 2.0}), ["ocpi.cdr.cost-inconsistent"]),
    (cdr_body(total_energy_cost={"excl_vat": 2.5}, total_time_cost={"excl_vat": 1.5}),
     ["ocpi.cdr.cost-inconsistent"]),
])
def test_cdr_checks(cdr, expected):
    assert [code for code, _, _ in checks.check_cdr(cdr)] == expected


@pytest.mark.parametrize("broken", [
    {"charging_periods": True}, {"charging_periods": 5}, {"charging_periods": [{"dimensions": 1}]},
    {"charging_periods": [{"dimensions": True}]}, {"total_cost": {"before_taxes": 1, "taxes": True}},
    {"total_cost": {"before_taxes": 1, "taxes": 7}}])
def test_cdr_checks_take_any_json_shape(broken):
    # a CDR is checked whatever its shape (hypothesis found `charging_periods: true`)
    assert checks.check_cdr(cdr_body(**broken)) == []


def test_cdr_against_its_session():
    report = analyse([(request("PUT", S, session_body("COMPLETED", 12.0)), response()),
                      (request("POST", CDR_PATH, cdr_body()), response())])
    assert "ocpi.cdr.session-mismatch" in codes(report)


def test_versions_2_1_and_empty_credentials():
    versions = [{"version": "2.1", "url": "http://x/ocpi/2.1"},
                {"version": "2.2.1", "url": "http://x/ocpi/2.2.1"}]
    report = analyse([(request("GET", "/ocpi/versions"), response(versions)),
                      (request("POST", "/ocpi/2.2.1/credentials", {}), response(status_code=2001,
                                                                                status=401))])
    found = codes(report)
    assert found.count("ocpi.version.malformed") == 1
    assert "ocpi.credentials.incomplete" in found
    assert "ocpi.auth.failed" in found


def test_token_encoding_per_version_and_missing_auth():
    report = analyse([(request("GET", "/ocpi/cpo/2.2.1/tariffs/NL/CPO/T1", token="raw-token",
                               base64_token=False), response()),
                      (request("GET", "/ocpi/cpo/2.1.1/tariffs/NL/CPO/T1", token="raw-token"),
                       response()),
                      (request("GET", "/ocpi/cpo/2.1.1/tariffs/NL/CPO/T1", token=None),
                       response())])
    assert codes(report).count("ocpi.auth.token-encoding") == 2
    assert "ocpi.auth.missing" in codes(report)


def test_status_code_classes():
    report = analyse([(request("GET", "/ocpi/cpo/2.2.1/sessions/NL/CPO/S1"),
                       response(status_code=c)) for c in (1000, 1001, 2003, 3001, 4001, 9000)])
    assert [c for c in codes(report) if c.startswith("ocpi.status")] == [
        "ocpi.status.client-error", "ocpi.status.server-error", "ocpi.status.hub-error",
        "ocpi.status.unknown"]


def _page(offset, count, total, link="", limit=2):
    headers = {"X-Total-Count": str(total), "X-Limit": str(limit)}
    if link:
        headers["Link"] = f'<{link}>; rel="next"'
    items = [{"id": f"T{offset + i}"} for i in range(count)]
    return (request("GET", f"/ocpi/cpo/2.2.1/tariffs?offset={offset}&limit={limit}"),
            response(items, headers=headers))


NEXT = "http://cpo.example:8080/ocpi/cpo/2.2.1/tariffs?offset={}&limit=2"


def _pagination_codes(pages):
    return sorted(c for c in codes(analyse(pages)) if c.startswith("ocpi.pagination"))


def test_pagination_walk_that_is_fine():
    pages = [_page(0, 2, 5, NEXT.format(2)), _page(2, 2, 5, NEXT.format(4)), _page(4, 1, 5)]
    assert _pagination_codes(pages) == []


def test_pagination_problems():
    assert _pagination_codes([_page(0, 2, 5)]) == ["ocpi.pagination.incomplete",
                                                   "ocpi.pagination.link-missing"]
    assert _pagination_codes([_page(0, 2, 5, NEXT.format(2)), _page(2, 2, 6, NEXT.format(4)),
                              _page(4, 2, 6)]) == ["ocpi.pagination.total-changed"]
    assert _pagination_codes([_page(0, 2, 4, NEXT.format(2)), _page(2, 2, 4, NEXT.format(2)),
                              _page(2, 2, 4)]) == ["ocpi.pagination.loop"]
    assert _pagination_codes([_page(0, 2, 4, "http://x/ocpi/cpo/2.2.1/tariffs?offset=2"),
                              _page(2, 2, 4)]) == ["ocpi.pagination.link-limit-missing"]
    assert _pagination_codes([_page(0, 2, 4, "http://x/ocpi/cpo/2.2.1/Module.tariffs?offset=2"
                                                 "&limit=2"), _page(2, 2, 4)]) == [
        "ocpi.pagination.link-invalid"]
    assert _pagination_codes([_page(0, 3, 3)]) == ["ocpi.pagination.limit-exceeded"]
    no_headers = [(request("GET", "/ocpi/cpo/2.2.1/tariffs?offset=0"), response([]))]
    assert _pagination_codes(no_headers) == ["ocpi.pagination.headers-missing"]


START = {"response_url": "http://emsp.example/ocpi/emsp/2.2.1/commands/START_SESSION/1",
         "location_id": "L1", "token": {"uid": "U"}}


def test_command_accepted_with_result():
    report = analyse([(request("POST", "/ocpi/cpo/2.2.1/commands/START_SESSION", START),
                       response({"result": "ACCEPTED", "timeout": 30})),
                      (request("POST", "/ocpi/emsp/2.2.1/commands/START_SESSION/1",
                               {"result": "ACCEPTED"}), response())])
    (pair_state,) = report.pairs.values()
    (command,) = pair_state.commands
    assert (command.result, command.callback) == ("ACCEPTED", "ACCEPTED")
    assert [c for c in codes(report) if c.startswith("ocpi.command")] == []


def test_command_without_result_pending_or_missing():
    exchange = [(request("POST", "/ocpi/cpo/2.2.1/commands/START_SESSION", START),
                 response({"result": "ACCEPTED", "timeout": 30}))]
    assert "ocpi.command.result-pending" in codes(analyse(exchange))
    exchange[0] = (exchange[0][0], response({"result": "ACCEPTED", "timeout": 0}))
    assert "ocpi.command.result-missing" in codes(analyse(exchange))


def test_command_rejected_and_failed_result():
    report = analyse([(request("POST", "/ocpi/cpo/2.2.1/commands/START_SESSION", START),
                       response({"result": "REJECTED", "timeout": 0}))])
    assert "ocpi.command.rejected" in codes(report)
    report = analyse([(request("POST", "/ocpi/cpo/2.2.1/commands/START_SESSION", START),
                       response({"result": "ACCEPTED", "timeout": 30})),
                      (request("POST", "/ocpi/emsp/2.2.1/commands/START_SESSION/1",
                               {"result": "EVSE_OCCUPIED"}), response())])
    assert "ocpi.command.result-failed" in codes(report)


def test_token_authorization_outcomes():
    auth = "/ocpi/emsp/2.2.1/tokens/{}/authorize"
    report = analyse([(request("POST", auth.format("A")), response({"allowed": "ALLOWED"})),
                      (request("POST", auth.format("B")), response({"allowed": "BLOCKED"})),
                      (request("POST", auth.format("C")), response(status_code=2004)),
                      (request("POST", auth.format("D")), response(raw=b"{}", status=404))])
    found = codes(report)
    assert found.count("ocpi.token.not-allowed") == 1
    assert found.count("ocpi.token.unknown") == 2
    (state,) = report.pairs.values()
    assert [a["allowed"] for a in state.authorizations] == ["ALLOWED", "BLOCKED", None, None]


def test_unanswered_request():
    report = analyse([(request("GET", "/ocpi/cpo/2.2.1/locations/L1"), None)])
    assert codes(report) == ["ocpi.http.unanswered"]


def test_report_json_has_no_secrets():
    creds = {"token": "tok-b-secret", "url": "http://emsp.example:9/ocpi/versions",
             "roles": [{"role": "EMSP", "party_id": "EMS", "country_code": "NL",
                        "business_details": {"name": "E"}}]}
    answer = dict(creds, token="tok-c-secret", url="http://cpo.example:8080/ocpi/versions",
                  roles=[dict(creds["roles"][0], role="CPO", party_id="CPO")])
    report = analyse([(request("POST", "/ocpi/2.2.1/credentials", creds, token="tok-a"),
                       response(answer)),
                      (request("GET", "/ocpi/cpo/2.2.1/locations/L1", token="tok-c-secret"),
                       response())])
    document = str(report.to_json())
    assert "secret" not in document and "tok-a" not in document
    assert ("NL*CPO", "NL*EMS") in report.pairs
    assert report.parties["NL*CPO"].role == "CPO"


def test_response_must_echo_request_ids():
    path = "/ocpi/cpo/2.2.1/locations/L1"
    assert "ocpi.header.not-echoed" not in codes(analyse([(request("GET", path), response())]))
    report = analyse([(request("GET", path), response(headers={"X-Request-ID": "other"},
                                                      echo=False))])
    assert [f.extra["header"] for f in report.findings
            if f.code == "ocpi.header.not-echoed"] == ["x-request-id", "x-correlation-id"]
    old = analyse([(request("GET", "/ocpi/cpo/2.1.1/locations/L1", base64_token=False),
                    response())])
    assert "ocpi.header.not-echoed" not in codes(old)


def test_push_that_changes_only_last_updated():
    later = "2026-11-25T11:00:00Z"
    report = analyse([(request("PUT", S, session_body("ACTIVE")), response()),
                      (request("PUT", S, dict(session_body("ACTIVE"), last_updated=later)),
                       response()),
                      (request("PATCH", S, {"last_updated": later}), response()),
                      (request("PATCH", S, {"kwh": 2.0, "last_updated": later}), response()),
                      (request("PATCH", S, {"kwh": 2.0, "last_updated": later}), response())])
    assert codes(report).count("ocpi.object.touched") == 2  # the identical PUT, the bare PATCH


def test_token_exchange_is_listed_per_pair():
    token = {"country_code": "NL", "party_id": "EMS", "uid": "RFID7", "type": "RFID",
             "contract_id": "NL-EMS-C7", "issuer": "E", "valid": False, "whitelist": "NEVER",
             "last_updated": NOW}
    report = analyse([(request("PUT", "/ocpi/cpo/2.2.1/tokens/NL/EMS/RFID7", token), response()),
                      (request("GET", "/ocpi/emsp/2.2.1/tokens?offset=0&limit=5"),
                       response([dict(token, uid="RFID8", valid=True)],
                                headers={"X-Total-Count": "1", "X-Limit": "5"}))])
    (state,) = report.pairs.values()
    assert [(t["uid"], t["valid"]) for t in state.tokens] == [("RFID7", False), ("RFID8", True)]


def test_230_cdr_costs_with_taxes():
    ok = cdr_body(total_cost={"before_taxes": 3.0, "taxes": [{"name": "VAT", "amount": 0.63}]})
    assert checks.check_cdr(ok) == []
    bad = cdr_body(total_cost={"before_taxes": 3.0, "taxes": [{"name": "VAT", "amount": -1}]})
    assert [c for c, _, _ in checks.check_cdr(bad)] == ["ocpi.cdr.cost-inconsistent"]
