"""simulate: the catalogue and the link scripts (no encoders needed).

Checks what the three links say against each other: identities, times and energy agree
except where a scenario injects a failure; OCPP payloads are valid against the official
schemas; the scripts are deterministic.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from chargescope.analyzer.simulate import linka, linkb, linkc
from chargescope.analyzer.simulate.events import Http, Mme, Ocpp, V2g
from chargescope.analyzer.simulate.facts import SECOND, Facts
from chargescope.analyzer.simulate.scenarios import SCENARIOS, Fault, forwarded_emaid

REQUIRED = {"ac-eim-happy", "dc-pnc-happy", "iso20-dc-happy", "din-dc-happy", "slac-timeout",
            "cablecheck-failure", "auth-rejected-b", "token-unknown-c", "pnc-cert-failure",
            "energy-mismatch", "ocpi-command-timeout"}
CODE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_-]+)+$")


def _run(name: str, seed: int = 0):
    scn = SCENARIOS[name]
    facts = Facts(scn)
    a = linka.script(scn, facts, random.Random(seed))
    b = linkb.script(scn, facts, random.Random(seed + 1), lambda: "gA==")
    c = linkc.script(scn, facts, random.Random(seed + 2))
    return scn, facts, a, b, c


def _calls(events, action):
    return [e.frame for e in events if isinstance(e, Ocpp) and e.frame[0] == 2
            and e.frame[2] == action]


def _result_of(events, call):
    return next(e.frame[2] for e in events if isinstance(e, Ocpp) and e.frame[0] == 3
                and e.frame[1] == call[1])


def _bodies(events, name):
    out = []
    for e in events:
        if isinstance(e, V2g):
            root = e.tree.get("V2G_Message", {}).get("Body", e.tree)
            if name in root:
                out.append(root[name])
    return out


def test_catalogue_has_the_required_scenarios():
    assert REQUIRED <= set(SCENARIOS)
    for name, scn in SCENARIOS.items():
        assert scn.name == name and scn.summary
        assert scn.protocol in ("iso2", "din", "iso20") and scn.ocpp in ("ocpp1.6", "ocpp2.0.1")
        assert all(CODE.match(code) for code in scn.expected_findings)
        assert bool(scn.faults) == bool(scn.expected_findings), name
        assert not scn.remote_start or scn.ocpp == "ocpp2.0.1"  # RequestStartTransaction
        skewed = any(abs(off) >= 5 * SECOND for _, off in scn.clock_offsets_ns)
        assert skewed == (Fault.CLOCK_SKEW in scn.faults)
        assert len({off for _, off in scn.clock_offsets_ns}) == 3  # every source its own clock


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scripts_are_deterministic_and_time_ordered(name):
    first, second = _run(name)[2:], _run(name)[2:]
    assert repr(first) == repr(second)
    for events in first:
        times = [e.ts_ns for e in events]
        assert times == sorted(times)
    assert repr(_run(name, seed=5)[2:]) != repr(first) or not any(first)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_identities_agree_across_links(name):
    """... except the one an injected fault changes: EMAID_MISMATCH's stale eMAID on B/C."""
    scn, facts, a, b, c = _run(name)
    ids = scn.ids
    contract = forwarded_emaid(scn)
    assert (contract != ids.emaid) == (Fault.EMAID_MISMATCH in scn.faults)
    setup = _bodies(a, "SessionSetupRes")
    if setup and scn.protocol != "din":
        assert setup[0]["EVSEID"] == ids.evse_id
    if setup:
        assert _bodies(a, "SessionSetupReq")[0]["EVCCID"] == ids.evccid
    for auth in _calls(b, "Authorize"):
        token = auth[3].get("idTag") or auth[3]["idToken"]["idToken"]
        assert token == (contract if scn.payment == "PnC" else ids.rfid_uid)
    for http in (e for e in c if isinstance(e, Http)):
        if "/tokens/" in http.path:
            assert ids.rfid_uid in http.path
        if http.path.endswith("/cdrs"):
            assert http.body["cdr_location"]["evse_id"] == ids.evse_id
            assert http.body["session_id"] == ids.ocpi_session_id
            assert http.body["cdr_token"]["contract_id"] == contract
    if scn.payment == "PnC" and Fault.PNC_CERT not in scn.faults:
        assert _bodies(a, "PaymentDetailsReq")[0]["eMAID"] == ids.emaid
    for mme in (e for e in a if isinstance(e, Mme) and e.name == "CM_SLAC_MATCH"):
        assert mme.fields["pev_mac"] == ids.ev_mac and mme.fields["evse_mac"] == ids.secc_mac


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_authorization_is_asked_while_the_ev_waits(name):
    scn, facts, a, b, c = _run(name)
    if facts.auth_request_ns is None:
        assert not _calls(b, "Authorize")
        return
    if scn.remote_start:  # authorized by the eMSP: START_SESSION relayed, no Authorize
        assert not _calls(b, "Authorize")
        (auth,) = _calls(b, "RequestStartTransaction")
        (start,) = [e for e in c if e.path.endswith("/commands/START_SESSION")]
        results = [e for e in c if "/commands/START_SESSION/" in e.path and e.from_cpo]
        assert start.ts_ns < facts.auth_request_ns < facts.auth_answer_ns < results[0].ts_ns
        assert str(auth[3]["remoteStartId"]) == start.body["authorization_reference"]
        assert results[0].body == {"result": "ACCEPTED"}
        return
    (auth,) = _calls(b, "Authorize")
    answer = _result_of(b, auth)
    status = answer.get("idTagInfo", answer.get("idTokenInfo"))["status"]
    assert (status == "Accepted") == (Fault.CSMS_REJECTS not in scn.faults)
    waits = [e for e in a if isinstance(e, V2g) and not e.from_ev and "Ongoing" in json.dumps(e.tree)
             and "Auth" in json.dumps(e.tree)]
    if scn.payment == "EIM":
        assert waits and waits[0].ts_ns < facts.auth_request_ns < facts.auth_answer_ns
    verdicts = [e for e in a if isinstance(e, V2g) and not e.from_ev and "Finished" in
                json.dumps(e.tree) and "Auth" in json.dumps(e.tree)]
    assert verdicts[-1].ts_ns > facts.auth_answer_ns


def _b_energy(b, scn) -> float | None:
    if scn.ocpp == "ocpp1.6":
        start, stop = _calls(b, "StartTransaction"), _calls(b, "StopTransaction")
        if start and stop:
            return stop[0][3]["meterStop"] - start[0][3]["meterStart"]
        return None
    events = _calls(b, "TransactionEvent")
    if not events:
        return None

    def register(ev):
        return next(v["value"] for v in ev[3]["meterValue"][0]["sampledValue"]
                    if v["measurand"] == "Energy.Active.Import.Register")
    return register(events[-1]) - register(events[0])


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_energy_agrees_except_where_injected(name):
    scn, facts, _a, b, c = _run(name)
    b_wh = _b_energy(b, scn)
    cdrs = [e.body for e in c if isinstance(e, Http) and e.path.endswith("/cdrs")]
    if facts.charged:
        assert b_wh is not None and abs(b_wh - facts.energy_wh) <= max(50, 0.02 * b_wh)
        assert facts.energy_wh > 100
    if cdrs and b_wh is not None:
        c_wh = cdrs[0]["total_energy"] * 1000
        mismatch = abs(c_wh - b_wh) > max(50, 0.02 * max(b_wh, c_wh))
        assert mismatch == (Fault.ENERGY_MISMATCH in scn.faults)


def test_meter_values_never_decrease():
    for name in SCENARIOS:
        scn, _facts, _a, b, _c = _run(name)
        readings = [int(v["value"]) for call in _calls(b, "MeterValues")
                    for mv in call[3]["meterValue"] for v in mv["sampledValue"]
                    if v["measurand"] == "Energy.Active.Import.Register"]
        assert readings == sorted(readings)


def _schema(version: str, action: str, response: bool) -> dict:
    ocpp = pytest.importorskip("ocpp")
    base = Path(ocpp.__file__).parent / ("v16" if version == "ocpp1.6" else "v201") / "schemas"
    name = action + ("Response" if response else ("" if version == "ocpp1.6" else "Request"))
    return json.loads((base / f"{name}.json").read_text())


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_ocpp_payloads_follow_the_official_schemas(name):
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    scn, _facts, _a, b, _c = _run(name)
    frames = [e.frame for e in b if isinstance(e, Ocpp)]
    actions = {f[1]: f[2] for f in frames if f[0] == 2}
    assert frames and all(f[0] in (2, 3) for f in frames)
    for frame in frames:
        call = frame[0] == 2
        action = frame[2] if call else actions[frame[1]]
        payload = frame[3] if call else frame[2]
        jsonschema_rs.validate(_schema(scn.ocpp, action, not call), payload)


def test_one_outstanding_call_per_direction():
    for name in SCENARIOS:
        _scn, _facts, _a, b, _c = _run(name)
        waiting: dict[bool, str | None] = {True: None, False: None}
        for e in (e for e in b if isinstance(e, Ocpp)):
            if e.frame[0] == 2:
                assert waiting[e.from_cp] is None, (name, e.frame[2])
                waiting[e.from_cp] = e.frame[1]
            else:
                assert waiting[not e.from_cp] == e.frame[1]
                waiting[not e.from_cp] = None


def test_faults_show_on_the_links_that_carry_them():
    _s, facts, a, b, c = _run("slac-timeout")
    assert facts.slac_matched_ns is None and not any(isinstance(e, V2g) for e in a) and not c
    assert [m.name for m in a if isinstance(m, Mme)].count("CM_SLAC_PARM") == 3
    _s, facts, a, b, c = _run("cablecheck-failure")
    (res,) = [r for r in _bodies(a, "CableCheckRes") if r["ResponseCode"] == "FAILED"]
    assert res["DC_EVSEStatus"]["EVSEIsolationStatus"] == "Fault" and not facts.charged
    assert _calls(b, "StopTransaction")[0][3]["reason"] == "Other"
    _s, facts, a, b, c = _run("token-unknown-c")
    (lookup,) = [e for e in c if "/tokens/" in e.path]
    assert lookup.status == 404 and lookup.response["status_code"] == 2004
    _s, facts, a, b, c = _run("pnc-cert-failure")
    (cert,) = _calls(b, "Get15118EVCertificate")
    assert _result_of(b, cert)["status"] == "Failed"
    assert _bodies(a, "CertificateInstallationRes")[0]["ResponseCode"].startswith("FAILED")
    _s, facts, a, b, c = _run("ocpi-command-timeout")
    assert not a and c[0].path.endswith("/commands/START_SESSION")
    assert not [e for e in c if "/commands/" in e.path and e.from_cpo]  # no result callback
    assert c[-1].ts_ns - c[0].ts_ns > 30 * SECOND  # C covers the command's own timeout
    assert c[0].response["data"]["result"] == "ACCEPTED"
    assert not _calls(b, "TransactionEvent") and _calls(b, "RequestStartTransaction")
    last_b = max(e.ts_ns for e in b)
    assert last_b - c[0].ts_ns > 120 * SECOND  # B covers the correlator's start timeout


def test_physical_values_fit_their_types():
    from hypothesis import given
    from hypothesis import strategies as st

    from chargescope.analyzer.simulate.v2g_trees import pv, rational

    @given(st.floats(min_value=-1e7, max_value=1e7, allow_nan=False))
    def check(value):
        for tree, exponent in ((pv(value, "W"), "Multiplier"), (rational(value), "Exponent")):
            assert -32768 <= tree["Value"] <= 32767 and -3 <= tree[exponent] <= 3
            step = 10 ** tree[exponent]  # half a step, plus float noise in value * 10**-exp
            assert abs(tree["Value"] * step - value) <= 0.5 * step + 1e-9 * max(1, abs(value))
    check()
