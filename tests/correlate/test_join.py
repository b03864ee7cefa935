import pytest

from chargescope.analyzer.correlate import SiteMap, SiteMapError, build_sessions
from chargescope.analyzer.correlate.keys import emaid_core, normalise

from .helpers import a_part, b_part, c_part, part


def test_normalise_spellings_of_one_identity():
    assert normalise("evse_id", "DE*ABC*E0001*1") == normalise("evse_id", "deabce00011")
    assert normalise("emaid", "DE-ABC-C12345678-X") == "DEABCC12345678X"
    assert normalise("secc_mac", "02-00-00-00-00-0A") == "02:00:00:00:00:0a"


def test_emaid_core_drops_separators_case_and_check_digit_only_for_emaids():
    core = "DEABCC12345678"
    assert {emaid_core(v) for v in ("DE-ABC-C12345678-X", "de*abc*c12345678",
                                    "DEABCC12345678X", " DE ABC C12345678 ")} == {core}
    assert emaid_core("04A1B2C3D4E5F6") == ""  # an RFID uid
    assert emaid_core("RFID01") == "" and emaid_core("") == "" and emaid_core(None) == ""
    assert emaid_core("DE-ABC-C12345678-XY") == ""  # one character too many


def test_contract_join_ignores_the_check_digit():
    corr = build_sessions([a_part(keys={"emaid": "DE-ABC-C12345678-9"}),
                           b_part(keys={"id_token": "DEABCC12345678"})])
    assert len(corr.sessions) == 1
    assert {e.key for e in corr.sessions[0].joins} >= {"contract"}


def test_three_links_joined_by_identifiers_and_overlap():
    corr = build_sessions([a_part(), b_part(), c_part()])
    assert len(corr.sessions) == 1
    session = corr.sessions[0]
    assert session.links == "ABC"
    keys = {e.key for e in session.joins}
    assert {"contract", "evse_id"} <= keys  # B-C by token, A-C by EVSEID
    assert session.verdict == "success"


def test_unrelated_sessions_stay_apart_and_are_reported():
    a = a_part(start=100, end=200)
    b = b_part(start=5000, end=5100, keys={"charge_point_id": "CP9", "id_token": "X"})
    corr = build_sessions([a, b])
    assert len(corr.sessions) == 2
    assert all(len(s.parts) == 1 for s in corr.sessions)


def test_clock_offset_estimated_from_matched_events():
    # link B's clock runs 3600 s ahead; the sessions share the contract id
    a = a_part(keys={"emaid": "DE-ABC-C12345678-X"},
               events=[(150, "v2g.auth_ok"), (160, "v2g.charging"), (390, "v2g.stop")])
    b = b_part(start=3700, end=4001, source="csms.log",
               keys={"id_token": "DEABCC12345678X", "transaction_id": "7"},
               events=[(3750.5, "ocpp.authorize_accepted"), (3760.5, "ocpp.tx_started"),
                       (3990.5, "ocpp.tx_ended")])
    corr = build_sessions([a, b])
    assert len(corr.sessions) == 1
    off = corr.offsets["csms.log"]
    assert off.offset_ns == -3600_500_000_000
    assert off.samples == 1  # the authorization moment; transaction start/stop are no sync point
    assert [f.code for f in corr.findings] == ["xlink.clock.offset"]


def test_site_map_joins_what_captures_do_not_say():
    site = SiteMap.from_dict({"charger": [{
        "charge_point_id": "CP1", "secc_mac": "02:00:00:00:00:01",
        "evse": [{"connector": "1", "evse_id": "DE*ABC*E0001*1"}]}]})
    a = a_part(keys={"secc_mac": "02:00:00:00:00:01"})
    b = b_part(keys={"charge_point_id": "CP1", "connector": "1"})
    # a second, unrelated charger overlapping in time would make overlap ambiguous
    other = b_part(keys={"charge_point_id": "CP2", "connector": "1"})
    other = part("B", "ocpp.transaction", "99", 100, 400, keys=other.keys, source="B.pcap")
    corr = build_sessions([a, b, other], site)
    joined = [s for s in corr.sessions if len(s.parts) == 2][0]
    assert [e.key for e in joined.joins] == ["site"]
    assert joined.confidence == pytest.approx(0.7)


def test_ambiguous_overlap_is_not_joined_without_evidence():
    a = a_part(keys={})
    b1 = b_part(keys={"charge_point_id": "CP1"})
    b2 = part("B", "ocpp.transaction", "43", 100, 400, keys={"charge_point_id": "CP2"})
    corr = build_sessions([a, b1, b2])
    assert all(len(s.parts) == 1 for s in corr.sessions)


def test_one_group_never_holds_two_sessions_of_one_link_kind():
    a1 = a_part(keys={"emaid": "E1"})
    a2 = part("A", "v2g", "SESSION02", 120, 380, keys={"emaid": "E1"})
    b = b_part(keys={"id_token": "E1"})
    corr = build_sessions([a1, a2, b])
    for session in corr.sessions:
        kinds = [(p.link, p.kind) for p in session.parts]
        assert len(kinds) == len(set(kinds))


def test_site_map_errors_name_the_entry(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text('[[charger]]\nsecc_mac = "x"\n')
    with pytest.raises(SiteMapError, match="charger #1 has no charge_point_id"):
        SiteMap.load(path)
    path.write_text("not toml [")
    with pytest.raises(SiteMapError, match="not valid TOML"):
        SiteMap.load(path)


def test_verdict_failed_names_link_and_stage():
    a = a_part(outcome="failed", stage="CableCheck")
    corr = build_sessions([a])
    assert corr.sessions[0].verdict == "failed"
    assert "link A" in corr.sessions[0].verdict_reason
    assert "CableCheck" in corr.sessions[0].verdict_reason


def test_verdict_success_with_link_errors_and_failed_on_cross_link_error():
    from chargescope.analyzer.records import Finding, Severity

    err = Finding("v2g.dc.overcurrent", Severity.ERROR, "x", ts_ns=1, link="A")
    corr = build_sessions([a_part(findings=(err,))])
    assert corr.sessions[0].verdict == "success"
    assert "v2g.dc.overcurrent" in corr.sessions[0].verdict_reason
    # the charger let the EV charge although the CSMS rejected it: a cross-link error
    corr = build_sessions([a_part(events=[(122, "v2g.auth_ok")]),
                           b_part(events=[(121, "ocpp.authorize_rejected")])])
    assert corr.sessions[0].verdict == "failed"
    assert "xlink.auth.b_rejected_a_authorized" in corr.sessions[0].verdict_reason
