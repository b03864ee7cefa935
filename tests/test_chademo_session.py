"""Sessions and checks: simulated scenarios (pcap and candump) and the corpus recordings."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chargescope.analyzer.chademo.analyze import analyze_recording
from chargescope.analyzer.chademo.checks import REGISTRY, SPECS
from chargescope.analyzer.chademo.session import TRANSITIONS, next_phase
from chargescope.analyzer.chademo.simulate import (
    SCENARIOS,
    scenario,
    simulate,
    write_candump,
    write_pcap,
)
from chargescope.analyzer.records import Severity
from tests.conftest import corpus_path

# scenario -> (verdict, stop event, finding codes)
EXPECTED = {
    "happy": ("ok", "ev.disable", {"chademo.stop.vehicle"}),
    "incompatible_voltage": ("failed", "evse.incompatible",
                             {"chademo.compat.voltage", "chademo.compat.flagged",
                              "chademo.session.incomplete"}),
    "vehicle_fault": ("failed", "ev.fault", {"chademo.fault.vehicle"}),
    "charger_fault": ("failed", "evse.fault", {"chademo.fault.charger"}),
    "frame_timeout": ("failed", "timeout", {"chademo.timing.timeout"}),
    "current_overshoot": ("failed", "ev.disable",
                          {"chademo.current.overshoot", "chademo.stop.vehicle"}),
}


@pytest.mark.parametrize("writer", ["pcap", "candump"])
@pytest.mark.parametrize("name", SCENARIOS)
def test_scenarios(tmp_path, name, writer):
    frames = list(simulate(scenario(name)))
    path = tmp_path / ("s.pcap" if writer == "pcap" else "s.log")
    (write_pcap if writer == "pcap" else write_candump)(path, frames)
    result = analyze_recording(path)
    assert not result.problems
    [session] = result.sessions
    verdict, stop, codes = EXPECTED[name]
    assert (session.verdict, session.stop_event) == (verdict, stop)
    assert {f.code for f in session.findings} == codes


def test_happy_session_walks_every_phase(tmp_path):
    write_pcap(tmp_path / "h.pcap", list(simulate(scenario("happy"))))
    [s] = analyze_recording(tmp_path / "h.pcap").sessions
    assert [p.phase for p in s.phases] == ["permitted", "insulation_test", "contactors_closed",
                                          "charging", "stopping", "ended"]
    assert s.protocol == {"vehicle": 2, "charger": 2, "agreed": 2, "version": "1.0"}


def test_vehicle_fault_names_the_flag(tmp_path):
    write_candump(tmp_path / "f.log", list(simulate(scenario("vehicle_fault"))))
    [s] = analyze_recording(tmp_path / "f.log").sessions
    flags = {f.extra["flag"]: f.requirement for f in s.findings
             if f.code == "chademo.fault.vehicle"}
    assert flags == {"battery_overvoltage": "H'102.4.0", "charging_system_fault": "H'102.5.2"}


def test_two_sessions_in_one_log(tmp_path):
    first = list(simulate(scenario("happy")))
    second = list(simulate(scenario("happy"), start_ns=first[-1].ts_ns + 60_000_000_000))
    write_candump(tmp_path / "two.log", first + second)
    result = analyze_recording(tmp_path / "two.log")
    assert [s.verdict for s in result.sessions] == ["ok", "ok"]


def test_transition_table():
    assert next_phase("parameters", "ev.enable") == "permitted"
    assert next_phase("charging", "evse.fault") == "stopping"
    assert next_phase("ended", "evse.fault") is None
    assert next_phase("stopping", "evse.unlock") == "ended"
    assert all(v in ("permitted", "insulation_test", "contactors_closed", "charging",
                     "stopping", "ended") for v in TRANSITIONS.values())


def test_specs_registered_once_with_codes():
    assert len({s.code for s in SPECS}) == len(SPECS)
    assert all(s.code.startswith("chademo.") for s in REGISTRY)


def test_corpus_chademo_rs_start_stop():
    result = analyze_recording(corpus_path("can", "chademo-rs_nissan-leaf-chademo-start-stop.csv"))
    [s] = result.sessions
    assert s.verdict == "ok" and s.stop_event == "evse.stop_control"
    assert [p.phase for p in s.phases] == ["permitted", "insulation_test", "contactors_closed",
                                          "charging", "stopping", "ended"]
    assert [f.code for f in s.findings] == ["chademo.stop.charger"]
    assert not result.out_of_scope  # 0x200/0x208/0x209 decoded too


def test_corpus_f1atline_start_only():
    result = analyze_recording(corpus_path("can", "F1atline_start.candump"))
    [s] = result.sessions
    assert s.phase == "permitted"
    assert {f.code for f in s.findings} == {"chademo.session.incomplete"}
    assert set(result.out_of_scope) == {0x201, 0x202, 0x700}


def test_corpus_leaf_aero3():
    result = analyze_recording(corpus_path("can", "LeafLogs_aero3.txt"))
    first = result.sessions[0]
    assert "charging" in first.reached and first.stop_event == "ev.fault"
    codes = {f.code for f in first.findings}
    assert {"chademo.fault.vehicle", "chademo.fault.charger", "chademo.compat.protocol"} <= codes
    assert first.protocol == {"vehicle": 2, "charger": 1, "agreed": 1, "version": "0.9"}
    assert max(f.severity for f in first.findings) == Severity.ERROR
    assert len(result.sessions) == 3


def test_energy_is_integrated_from_charger_reports(tmp_path):
    from chargescope.analyzer.chademo.report import energy_wh

    write_pcap(tmp_path / "h.pcap", list(simulate(scenario("happy"))))
    [s] = analyze_recording(tmp_path / "h.pcap").sessions
    expected = 0.0
    reports = [m for m in s.messages if m.fields["can_id"] == 0x109]
    for a, b in zip(reports, reports[1:], strict=False):
        expected += a.fields["present_voltage"] * a.fields["present_current"] * (
            b.ts_ns - a.ts_ns) / 3.6e12
    assert energy_wh(s) == round(expected, 3) and 40 < expected < 70  # ~38 kW for ~5 s


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0x100, 0x101, 0x102, 0x108, 0x109, 0x110, 0x7DF]),
                          st.binary(max_size=8), st.integers(0, 3_000_000_000)),
                max_size=80))
def test_any_frame_sequence_builds_and_checks(frames):
    from chargescope.analyzer.chademo.analyze import analyze_frames
    from chargescope.analyzer.chademo.can import CanFrame
    from chargescope.analyzer.chademo.report import result_json

    ts, can_frames = 0, []
    for number, (can_id, data, step) in enumerate(frames, 1):
        ts += step
        can_frames.append(CanFrame(number, ts, can_id, data))
    result = analyze_frames(can_frames, "fuzz")
    doc = result_json(result)
    assert sum(s["frames"] for s in doc["sessions"]) <= len(frames)
    for s in result.sessions:
        assert s.phase in ("parameters", "permitted", "insulation_test", "contactors_closed",
                           "charging", "stopping", "ended")
        assert all(f.code in REGISTRY for f in s.findings)
