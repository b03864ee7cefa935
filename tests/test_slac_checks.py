"""SLAC run builder and checks: synthetic runs (one deviation each) and real corpus captures."""

from __future__ import annotations

import pytest
from conftest import corpus_path
from hypothesis import given, settings
from hypothesis import strategies as st
from slac_scenario import (
    BCAST,
    EV,
    EVSE_A,
    EVSE_B,
    LOCAL_MODEM,
    MATCH_CNF,
    NID,
    NMK,
    PARM_REQ,
    RUN,
    SET_KEY_REQ,
    SOUND,
    Scenario,
    nominal,
)

from chargescope.analyzer.capture import open_capture
from chargescope.analyzer.slac import (
    REGISTRY,
    SPECS,
    SlacCheckConfig,
    SlacRunBuilder,
    Traffic,
    check_run,
)
from chargescope.analyzer.slac.frames import slac_inputs
from chargescope.analyzer.slac.runs import JOINED, MATCHED, TRANSITIONS
from chargescope.dissectors.homeplug.mme import HomePlugDissector


def test_nominal_run_is_clean_and_joined():
    ((run, findings),) = nominal().analyze()
    assert findings == []
    assert run.state == JOINED and not run.partial
    assert run.ev_mac == EV and run.run_id == RUN
    assert run.matched_leg.mac == EVSE_A
    assert len(run.sounds) == 10 and len(run.start_atten) == 3 and len(run.profiles) == 10


def test_nominal_multi_evse_picks_lowest_attenuation():
    ((run, findings),) = nominal(evses={EVSE_A: 30, EVSE_B: 18}).analyze()
    assert findings == []
    assert run.matched_leg.mac == EVSE_B
    assert {leg.mac for leg in run.evses} == {EVSE_A, EVSE_B}


def test_validation_success_is_clean():
    assert nominal(validate=(1, 2)).codes() == set()


# (code, scenario): each scenario bends the nominal run in one way
POSITIVE = [
    ("slac.run.incomplete", lambda: nominal(stop_after="atten")),
    ("slac.parm.unanswered", lambda: nominal(evses={}, stop_after="parm")),
    ("slac.parm.retry", lambda: nominal(parm_reqs=2, parm_cnf_at=300, start_at=350)),
    ("slac.retries.exhausted", lambda: nominal(evses={}, parm_reqs=3, stop_after="parm")),
    ("slac.response.late", lambda: nominal(parm_cnf_at=300, start_at=350)),
    ("slac.sequence.late", lambda: nominal(start_at=600, atten_at=1300, match_at=1500)),
    ("slac.start_atten.count", lambda: nominal(start_count=2)),
    ("slac.sounds.missing", lambda: nominal(sounds=7)),
    ("slac.sounds.window", lambda: nominal(sound_gap=60, atten_at=1100, match_at=1300)),
    ("slac.batch.interval", lambda: nominal(sound_gap=5)),
    ("slac.atten_results.timeout", lambda: nominal(atten_at=1500, match_at=1700)),
    ("slac.runid.mismatch", lambda: nominal(cnf_run_id="ffeeddccbbaa9988")),
    ("slac.attenuation.high", lambda: nominal(evses={EVSE_A: 62})),
    ("slac.match.not_lowest", lambda: nominal(evses={EVSE_A: 30, EVSE_B: 18}, choose=EVSE_A)),
    ("slac.validate.skipped", lambda: nominal(validate=(1,))),
    ("slac.validate.failed", lambda: nominal(validate=(1, 3))),
    ("slac.match.unanswered", lambda: nominal(match_cnf=False, traffic_at=None)),
    ("slac.match.session_timeout", lambda: nominal(match_at=12_000, traffic_at=14_000)),
    ("slac.match.no_key", lambda: nominal(nmk="00" * 16)),
    ("slac.join.none", lambda: nominal(traffic_at=None)),
    ("slac.join.late", lambda: nominal(traffic_at=14_000)),
]


@pytest.mark.parametrize(("code", "scenario"), POSITIVE, ids=[c for c, _ in POSITIVE])
def test_each_finding_fires_on_its_deviation(code, scenario):
    assert code in REGISTRY
    assert code in scenario().codes()


@pytest.mark.parametrize("code", sorted(spec.code for spec in SPECS))
def test_nominal_runs_fire_no_finding(code):
    for scenario in (nominal(), nominal(evses={EVSE_A: 30, EVSE_B: 18}), nominal(validate=(1, 2))):
        assert code not in scenario.codes()


def test_nmk_changed_mid_session():
    s = nominal(end_at=30_000)
    s.mme(5_000, EV, LOCAL_MODEM, SET_KEY_REQ, key_type=1, pid=4, nid=NID, new_eks=1,
          new_key="33" * 16)
    s.traffic(6_000, EV, EVSE_A, "tcp")
    assert "slac.nmk.changed" in s.codes()
    # the same reset after the EV's last V2G traffic is the end-of-session key reset
    late = nominal(end_at=30_000)
    late.mme(20_000, EVSE_A, LOCAL_MODEM, SET_KEY_REQ, key_type=1, pid=4, nid=NID, new_eks=1,
             new_key="33" * 16)
    assert "slac.nmk.changed" not in late.codes()


def test_unexpected_message_is_noted_and_builder_goes_on():
    s = nominal()
    s.mme(3_500, EV, BCAST, SOUND, cnt=0, run_id=RUN)
    ((run, findings),) = s.analyze()
    assert "slac.sequence.unexpected" in {f.code for f in findings}
    assert run.state == JOINED
    assert any(step.unexpected for step in run.steps)


def test_duplicate_frames_are_not_retries():
    s = nominal()
    s.mme(0, EV, BCAST, PARM_REQ, run_id=RUN)  # the sniffer saw the first frame twice
    codes = s.codes()
    assert "slac.capture.duplicates" in codes and "slac.parm.retry" not in codes


def test_same_run_id_after_a_match_is_a_new_run():
    s = nominal(end_at=10_000)
    s.offset_ms = 40_000
    nominal(s)  # the EV comes back with the same RUN_ID
    runs = s.analyze()
    assert len(runs) == 2 and all(run.state == JOINED for run, _ in runs)


def test_capture_starting_mid_run_is_partial_not_failed():
    s = Scenario()
    s.mme(0, EVSE_A, EV, MATCH_CNF, mvf_length=86, pev_mac=EV, evse_mac=EVSE_A, run_id=RUN,
          nid=NID, nmk=NMK)
    s.traffic(500, EV, EVSE_A, "sdp")
    ((run, findings),) = s.analyze()
    assert run.partial and run.state == JOINED
    assert findings == []


def test_attenuation_limit_is_configurable():
    s = nominal(evses={EVSE_A: 40})
    assert "slac.attenuation.high" not in s.codes()
    assert "slac.attenuation.high" in s.codes(SlacCheckConfig(attenuation_limit_db=35))


def test_every_state_has_transitions_and_codes_are_stable_format():
    assert set(TRANSITIONS) >= {MATCHED, JOINED}
    for spec in SPECS:
        assert spec.code.startswith("slac.") and spec.code == spec.code.lower()
        assert spec.summary


# -- real captures ----------------------------------------------------------------------
def _corpus_runs(*parts: str):
    path = corpus_path("pcaps", *parts)
    builder = SlacRunBuilder()
    with open_capture(path) as capture:
        for item in slac_inputs(capture.frames(), HomePlugDissector()):
            if isinstance(item, Traffic):
                builder.feed_traffic(item)
            else:
                builder.feed(item)
                builder.mark_time(item.ts_ns)
    return [(run, {f.code for f in check_run(run)}) for run in builder.runs()]


def test_corpus_taycan_slac_fail_is_a_run_id_mismatch():
    runs = _corpus_runs("uhi22+pyPLC", "2023-05-03_TaycanLeftside_slacFail.pcapng")
    assert runs and all(run.state not in (MATCHED, JOINED) for run, _ in runs)
    assert any("slac.runid.mismatch" in codes for _, codes in runs)
    assert any("slac.retries.exhausted" in codes for _, codes in runs)


def test_corpus_multi_evse_matches_lowest_attenuation():
    ((run, codes),) = _corpus_runs("dspace-group+dsV2Gshark",
                                   "ISO-2_DC_multi_EVSE_SLAC_DS5366_Josev.pcapng")
    assert run.state == JOINED and len(run.evses) == 2
    chosen = run.matched_leg
    assert chosen.average_attenuation == min(leg.average_attenuation for leg in run.evses)
    assert "slac.match.not_lowest" not in codes
    assert "slac.capture.duplicates" in codes


def test_corpus_audi_session_joins_cleanly():
    ((run, codes),) = _corpus_runs("EVerest+logfiles", "Audi", "Q4", "ac_iso2-1.dump")
    assert run.state == JOINED and not run.partial
    assert not any(REGISTRY[code].severity >= 2 for code in codes)


def _cp(s: Scenario, ms: float, state: int, duty: int) -> None:
    s.mme(ms, EVSE_A, LOCAL_MODEM, 0xA22E, oui=0x0080E1, cp_state=state, pwm_duty=duty,
          cp_voltage=9000)


def test_slac_init_late_after_cp_b_5_percent():
    s = Scenario()
    _cp(s, -60_000, 0x03, 100)
    _cp(s, -55_000, 0x03, 5)  # HLC asked for 55 s before the EV's first CM_SLAC_PARM.REQ
    nominal(s)
    ((run, findings),) = s.analyze()
    assert len(run.cp_states) == 2
    assert "slac.init.late" in {f.code for f in findings}
    prompt = Scenario()
    _cp(prompt, -3_000, 0x03, 5)
    nominal(prompt)
    assert "slac.init.late" not in prompt.codes()


def test_join_without_v2g_traffic():
    s = nominal(traffic_at=None)
    s.traffic(2_000, EV, BCAST, "ipv6")  # neighbour discovery only: no SDP, no TCP
    codes = s.codes()
    assert "slac.join.no_v2g" in codes and "slac.join.none" not in codes


def test_sniffer_gaps_advance_the_run_and_are_noted():
    s = Scenario()
    s.mme(0, EVSE_A, EV, 0x6065, m_sound_target=BCAST, num_sounds=10, time_out=6, resp_type=1,
          forwarding_sta=EV, run_id=RUN)
    s.mme(500, EVSE_A, EV, MATCH_CNF, pev_mac=EV, evse_mac=EVSE_A, run_id=RUN, nid=NID, nmk=NMK)
    s.traffic(800, EV, EVSE_A, "sdp")
    ((run, findings),) = s.analyze()
    assert run.state == JOINED
    codes = {f.code for f in findings}
    assert "slac.capture.gaps" in codes and "slac.sequence.unexpected" not in codes
    assert "slac.run.incomplete" not in codes


def test_every_corpus_capture_analyzes_with_verdicts():
    from homeplug_corpus import corpus_captures

    from chargescope.analyzer.slac.capture import analyze_capture
    from chargescope.analyzer.slac.report import verdict

    captures = corpus_captures()
    if not captures:
        pytest.skip("corpus not present")
    runs = 0
    for path in captures:
        result = analyze_capture(path)
        for run, findings in result.runs:
            runs += 1
            assert verdict(run, list(findings))
            assert all(f.code in REGISTRY for f in findings)
            assert all(f.evidence for f in findings)  # every finding points at messages
    assert runs > 80


_SLAC_TYPES = [0x6064, 0x6065, 0x606A, 0x6076, 0x6086, 0x606E, 0x606F, 0x6078, 0x6079, 0x607C,
               0x607D, 0x6008, 0x6009]
_MACS = [EV, EVSE_A, EVSE_B, LOCAL_MODEM, BCAST]
_RUN_IDS = [RUN, "ffeeddccbbaa9988", "0000000000000000"]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_SLAC_TYPES), st.sampled_from(_MACS),
                          st.sampled_from(_MACS), st.sampled_from(_RUN_IDS),
                          st.integers(0, 3000), st.integers(0, 255)), max_size=40),
       st.lists(st.tuples(st.integers(0, 60_000), st.sampled_from(_MACS),
                          st.sampled_from(["sdp", "tcp", "ipv6"])), max_size=5))
def test_any_slac_sequence_builds_and_checks_without_error(steps, traffic):
    """The builder and every check take any order of SLAC MMEs: findings, never exceptions."""
    s = Scenario()
    now = 0
    for mmtype, src, dst, run_id, gap, value in steps:
        now += gap
        s.mme(now, src, dst, mmtype, run_id=run_id, pev_mac=src, source_address=dst,
              forwarding_sta=src, num_sounds=value % 12, result=value % 5, aag=[value] * 58,
              nid=NID, nmk=NMK if value % 2 else "00" * 16, new_key=NMK, key_type=1)
    for ts, src, what in traffic:
        s.traffic(ts, src, EVSE_A, what)
    for run, findings in s.analyze():
        assert run.state in TRANSITIONS
        assert all(f.code in REGISTRY and f.evidence for f in findings)


def test_capture_ending_within_the_timers_gives_no_verdict():
    s = nominal(stop_after="atten", end_at=1_000)  # capture stops 0.3 s after ATTEN_CHAR.RSP
    codes = s.codes()
    assert "slac.capture.ends_mid_run" in codes and "slac.run.incomplete" not in codes
    gave_up = nominal(evses={}, parm_reqs=3, stop_after="parm", end_at=800)
    assert "slac.run.incomplete" in gave_up.codes()  # retries exhausted: decided, however short
