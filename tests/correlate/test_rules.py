"""Every cross-link rule, tested positive and negative."""

import pytest

from chargescope.analyzer.correlate import build_sessions
from chargescope.analyzer.correlate.checks import RULES, SPECS

from .helpers import a_part, b_part, c_part, part


def codes(*parts, site=None):
    corr = build_sessions(list(parts), site)
    return sorted({f.code for f in corr.all_findings})


# code -> (parts that must trigger it, parts that must not)
CASES = {
    "xlink.auth.a_failed_b_accepted": (
        [a_part(events=[(120, "v2g.auth_ongoing")]),
         b_part(events=[(119, "ocpp.authorize_accepted")])],
        [a_part(events=[(120, "v2g.auth_ongoing"), (125, "v2g.auth_ok")]),
         b_part(events=[(119, "ocpp.authorize_accepted")])],
    ),
    "xlink.auth.a_waiting_no_authorize": (
        [a_part(events=[(120, "v2g.auth_ongoing")]), b_part()],
        [a_part(events=[(120, "v2g.auth_ongoing")]),
         b_part(events=[(121, "ocpp.authorize_rejected")])],
    ),
    "xlink.auth.b_rejected_a_authorized": (
        [a_part(events=[(122, "v2g.auth_ok")]),
         b_part(events=[(121, "ocpp.authorize_rejected")])],
        [a_part(events=[(122, "v2g.auth_failed")]),
         b_part(events=[(121, "ocpp.authorize_rejected")])],
    ),
    "xlink.auth.b_rejected_c_allowed": (
        [b_part(events=[(121, "ocpp.authorize_rejected")]),
         c_part(events=[(120, "ocpi.token_authorized", {"allowed": "ALLOWED"})])],
        [b_part(events=[(121, "ocpp.authorize_rejected")]),
         c_part(events=[(120, "ocpi.token_authorized", {"allowed": "BLOCKED"})])],
    ),
    "xlink.auth.token_unknown_on_c": (
        [b_part(events=[(121, "ocpp.authorize_accepted")]),
         c_part(events=[(120, "ocpi.token_unknown")])],
        [b_part(events=[(121, "ocpp.authorize_accepted")]),
         c_part(events=[(120, "ocpi.token_known", {"valid": True})])],
    ),
    "xlink.pnc.certificate_failure": (
        [a_part(events=[(130, "v2g.cert_failed")]),
         b_part(events=[(129, "ocpp.cert_failed", {"action": "Get15118EVCertificate"})])],
        [a_part(events=[(130, "v2g.cert_failed")]), b_part()],
    ),
    "xlink.slac.matched_no_v2g": (
        [a_part(events=[(100, "slac.matched")]),
         b_part(events=[(99, "ocpp.status", {"status": "Preparing"})])],
        [a_part(events=[(100, "slac.matched"), (103, "v2g.session_setup")]),
         b_part(events=[(99, "ocpp.status", {"status": "Preparing"})])],
    ),
    "xlink.tx.open_after_v2g_stop": (
        [a_part(end=300, events=[(300, "v2g.stop")]),
         b_part(end=500, events=[(150, "ocpp.tx_started")])],
        [a_part(end=300, events=[(300, "v2g.stop")]),
         b_part(end=500, events=[(150, "ocpp.tx_started"), (302, "ocpp.tx_ended")])],
    ),
    "xlink.tx.ended_while_charging": (
        [a_part(events=[(200, "v2g.charging_loop"), (260, "v2g.charging_loop")]),
         b_part(events=[(210, "ocpp.tx_ended")])],
        [a_part(events=[(200, "v2g.charging_loop"), (209, "v2g.charging_loop")]),
         b_part(events=[(210, "ocpp.tx_ended")])],
    ),
    "xlink.energy.a_b_mismatch": (
        [a_part(energy_wh=10_000.0), b_part(energy_wh=12_000.0)],
        [a_part(energy_wh=10_000.0), b_part(energy_wh=10_040.0)],
    ),
    "xlink.energy.b_c_mismatch": (
        [b_part(energy_wh=10_000.0), c_part(energy_wh=7_500.0)],
        [b_part(energy_wh=10_000.0), c_part(energy_wh=10_100.0)],
    ),
    "xlink.stop_reason.mismatch": (
        [a_part(stop_reason="ev"), b_part(stop_reason="remote")],
        [a_part(stop_reason="ev"), b_part(stop_reason="ev")],
    ),
    "xlink.ocpi.start_no_transaction": (
        [b_part(start=90, end=400, keys={"id_token": "RFID01"}),
         c_part(start=100, events=[(100, "ocpi.start_session", {"result": "ACCEPTED"})])],
        [b_part(start=90, end=400, keys={"id_token": "RFID01"},
                events=[(130, "ocpp.tx_started")]),
         c_part(start=100, events=[(100, "ocpi.start_session", {"result": "ACCEPTED"})])],
    ),
    "xlink.ocpi.start_no_v2g": (
        [a_part(start=0, end=500, keys={"evse_id": "X"}, events=[(10, "slac.parm")]),
         b_part(events=[(130, "ocpp.tx_started")]),
         c_part(events=[(110, "ocpi.start_session", {"result": "ACCEPTED"})])],
        [a_part(events=[(120, "v2g.session_setup")]),
         b_part(events=[(130, "ocpp.tx_started")]),
         c_part(events=[(110, "ocpi.start_session", {"result": "ACCEPTED"})])],
    ),
    "xlink.ocpi.active_after_tx_end": (
        [b_part(events=[(400, "ocpp.tx_ended")]),
         c_part(end=1200, events=[(150, "ocpi.session_active")])],
        [b_part(events=[(400, "ocpp.tx_ended")]),
         c_part(end=1200, events=[(150, "ocpi.session_active"),
                                  (405, "ocpi.session_completed"), (410, "ocpi.cdr")])],
    ),
    "xlink.ocpi.cdr_missing": (
        [b_part(events=[(400, "ocpp.tx_ended")]),
         c_part(end=1200, events=[(405, "ocpi.session_completed")])],
        [b_part(events=[(400, "ocpp.tx_ended")]),
         c_part(end=1200, events=[(405, "ocpi.session_completed"), (900, "ocpi.cdr")])],
    ),
    "xlink.evse_id.mismatch": (
        [a_part(keys={"evse_id": "DE*ABC*E0001*1", "emaid": "E1"}),
         c_part(keys={"evse_id": "DE*ABC*E0002*1", "contract_id": "", "token_uid": "E1"})],
        [a_part(keys={"evse_id": "DE*ABC*E0001*1", "emaid": "E1"}),
         c_part(keys={"evse_id": "DEABCE00011", "token_uid": "E1"})],
    ),
    "xlink.identity.mismatch": (
        [a_part(keys={"emaid": "DE-ABC-C1", "evccid": "01"}),
         b_part(keys={"id_token": "OTHER", "evccid": "01"})],
        [a_part(keys={"emaid": "DE-ABC-C1", "evccid": "01"}),
         b_part(keys={"id_token": "DEABCC1", "evccid": "01"})],
    ),
    "xlink.emaid.mismatch": (
        [a_part(keys={"emaid": "DE-ABC-C12345678-9", "evccid": "01"}),
         b_part(keys={"id_token": "DEABCC87654321", "evccid": "01"})],
        # the same contract spelt without separators, in lower case, without check digit
        [a_part(keys={"emaid": "DE-ABC-C12345678-9", "evccid": "01"}),
         b_part(keys={"id_token": "deabcc12345678", "evccid": "01"})],
    ),
    "xlink.pnc.certificate_hash_mismatch": (
        [a_part(keys={"emaid": "DE-ABC-C12345678-9", "contract_serial": "1D3C5E7F01"}),
         b_part(keys={"id_token": "DEABCC12345678", "contract_serial": "5ca0002,1d3c5e7f02"})],
        # the same serial with a leading zero and in upper case, among the sub-CAs' serials
        [a_part(keys={"emaid": "DE-ABC-C12345678-9", "contract_serial": "1d3c5e7f01"}),
         b_part(keys={"id_token": "DEABCC12345678", "contract_serial": "5CA0002,01D3C5E7F01"})],
    ),
    "xlink.join.unmatched": (
        [a_part(keys={}), b_part(keys={}),
         part("B", "ocpp.transaction", "43", 100, 400, keys={})],
        [a_part(), b_part()],
    ),
    "xlink.clock.offset": (
        [a_part(keys={"emaid": "E1"}, events=[(150, "v2g.auth_ok")]),
         b_part(start=200, end=500, keys={"id_token": "E1"},
                events=[(170, "ocpp.authorize_accepted")])],
        [a_part(keys={"emaid": "E1"}, events=[(150, "v2g.auth_ok")]),
         b_part(keys={"id_token": "E1"}, events=[(151, "ocpp.authorize_accepted")])],
    ),
}


def test_catalogue_has_every_rule_covered_by_a_case():
    assert len(SPECS) >= 15
    assert {s.code for s in SPECS} == set(CASES)
    assert len({s.code for s in SPECS}) == len(SPECS)
    assert len(RULES) == len(SPECS) - 1  # the clock rule runs once per correlation


@pytest.mark.parametrize("code", sorted(CASES))
def test_rule_positive(code):
    positive, _ = CASES[code]
    assert code in codes(*positive)


@pytest.mark.parametrize("code", sorted(CASES))
def test_rule_negative(code):
    _, negative = CASES[code]
    assert code not in codes(*negative)


def test_emaid_on_link_c_is_compared_too_and_reported_once():
    a = a_part(keys={"evse_id": "DE*ABC*E0001*1", "emaid": "DE-ABC-C12345678-9"})
    b = b_part(keys={"id_token": "DE*ABC*C12345678", "transaction_id": "42"})
    c_ok = c_part(keys={"evse_id": "DEABCE00011", "emaid": "DEABCC123456789",
                        "ocpi_session_id": "42"})
    c_bad = c_part(keys={"evse_id": "DEABCE00011", "emaid": "DE-ABC-C00000001-2",
                         "token_uid": "DEABCC123456789", "ocpi_session_id": "42"})
    assert "xlink.emaid.mismatch" not in codes(a, b, c_ok)
    corr = build_sessions([a, b, c_bad])
    assert len(corr.sessions) == 1  # joined by EVSEID and transaction id, not by contract
    found = [f for f in corr.all_findings if f.code == "xlink.emaid.mismatch"]
    assert len(found) == 1 and "DE-ABC-C00000001-2" in found[0].text


def test_an_emaid_token_on_b_is_not_also_an_identity_mismatch():
    found = codes(a_part(keys={"emaid": "DE-ABC-C12345678-9", "evccid": "01"}),
                  b_part(keys={"id_token": "DEABCC87654321", "evccid": "01"}))
    assert "xlink.identity.mismatch" not in found
    rfid = codes(a_part(keys={"emaid": "DE-ABC-C12345678-9", "evccid": "01"}),
                 b_part(keys={"id_token": "04A1B2C3D4E5F6", "evccid": "01"}))
    assert "xlink.identity.mismatch" in rfid and "xlink.emaid.mismatch" not in rfid
