"""Per-version CHAdeMO layouts: simulated sessions for protocol 0.9, 1.0 and 2.0 (and a
mixed pair), decoded for the agreed protocol number; fields a version does not define
are kept raw under `out_of_version`, never misread."""

from __future__ import annotations

import dataclasses

import pytest

from chargescope.analyzer.chademo.analyze import analyze_recording
from chargescope.analyzer.chademo.can import CanFrame
from chargescope.analyzer.chademo.simulate import SCENARIOS, scenario, simulate, write_pcap
from chargescope.dissectors.chademo import decode_can
from chargescope.dissectors.chademo.versions import (
    VERSION_NUMBERS,
    apply_version,
    defined,
    version_name,
)


def _session(tmp_path, sc):
    write_pcap(tmp_path / "v.pcap", list(simulate(sc)))
    [s] = analyze_recording(tmp_path / "v.pcap").sessions
    return s


def _by_id(s, can_id):
    return [m for m in s.messages if m.fields["can_id"] == can_id]


@pytest.mark.parametrize("version", ["0.9", "1.0", "2.0"])
@pytest.mark.parametrize("name", SCENARIOS)
def test_every_scenario_keeps_its_verdict_in_every_version(tmp_path, name, version):
    s = _session(tmp_path, scenario(name, VERSION_NUMBERS[version]))
    assert s.protocol["version"] == version
    baseline = _session(tmp_path, scenario(name))
    assert (s.verdict, s.stop_event) == (baseline.verdict, baseline.stop_event)
    # each side sends only what its version defines: nothing is out of version
    assert not [f for f in s.findings if f.code == "chademo.version.out_of_version"]


def test_0_9_session_has_no_1_0_fields_and_no_contactor_phase(tmp_path):
    s = _session(tmp_path, scenario("happy", 1))
    assert "contactors_closed" not in s.reached and s.verdict == "ok"
    limits = _by_id(s, 0x100)[0].fields
    assert "minimum_charge_current" not in limits and "minimum_battery_voltage" not in limits
    assert limits["out_of_version"] == {"minimum_charge_current": 0, "minimum_battery_voltage": 0}
    status = _by_id(s, 0x102)[0].fields["status"]
    assert "contactor_open" not in status and "charging_enabled" in status
    assert s.protocol["version"] == "0.9" and s.version_applied


def test_1_0_session_reads_every_1_0_field(tmp_path):
    s = _session(tmp_path, scenario("happy", 2))
    assert "contactors_closed" in s.reached
    assert _by_id(s, 0x101)[0].fields["rated_battery_capacity"] == 40.0
    assert not any("out_of_version" in m.fields for m in s.messages)
    assert not _by_id(s, 0x110) and not _by_id(s, 0x118)


def test_2_0_session_extended_functions_and_energizing(tmp_path):
    s = _session(tmp_path, scenario("happy", 3))
    ev, evse = _by_id(s, 0x110), _by_id(s, 0x118)
    assert ev and evse
    assert ev[0].fields["functions"] == {"dynamic_control": True, "high_current_control": True,
                                         "high_voltage_control": True}
    status = _by_id(s, 0x109)[-1].fields["status"]
    assert "energizing" in status and "connector_locked" not in status  # 2.0 name of H'109.5.2
    assert s.verdict == "ok" and "insulation_test" in s.reached


def test_2_0_vehicle_with_0_9_charger_reports_out_of_version(tmp_path):
    sc = dataclasses.replace(scenario("happy", 3), charger_protocol=1)
    s = _session(tmp_path, sc)
    assert s.protocol == {"vehicle": 3, "charger": 1, "agreed": 1, "version": "0.9"}
    ext = _by_id(s, 0x110)[0].fields
    assert set(ext) == {"can_id", "raw", "out_of_version"}
    assert ext["out_of_version"]["functions"]["high_voltage_control"] is True
    flagged = {(f.extra["can_id"], f.extra["field"]) for f in s.findings
               if f.code == "chademo.version.out_of_version"}
    assert {(0x110, "functions"), (0x100, "minimum_battery_voltage"),
            (0x101, "rated_battery_capacity"), (0x102, "status.contactor_open")} <= flagged
    # the 0.9 rules also keep the vehicle's contactor flag out of the phases
    assert "contactors_closed" not in s.reached


def test_1_0_charger_hides_2_0_bits_but_keeps_dynamic_control():
    frame = CanFrame(1, 0, 0x110, bytes([0b111, 0, 0, 0, 0, 0, 0, 0]))
    m = apply_version(decode_can(frame), 2)
    assert m.fields["functions"] == {"dynamic_control": True}
    assert m.fields["out_of_version"] == {"functions.high_current_control": True,
                                          "functions.high_voltage_control": True}
    assert apply_version(m, 2) is m  # nothing left to set aside: the same object
    plain = decode_can(CanFrame(1, 0, 0x102, bytes(8)))
    assert apply_version(plain, 2) is plain  # 1.0 defines all of 0x102: no copy
    assert apply_version(decode_can(frame), None).fields == decode_can(frame).fields


def test_rules_and_names():
    assert defined(0x102, "status.contactor_open", 2) and not defined(0x102, "status.contactor_open", 1)
    assert not defined(0x200, "maximum_discharge_current", 1) and defined(0x200, "x", None)
    assert [version_name(n) for n in (0, 1, 2, 3, None, 9)] == [
        "before 0.9", "0.9", "1.0", "2.0", "unknown", "unknown (9)"]


def test_not_used_time_byte_is_none_not_2550_s():
    m = decode_can(CanFrame(1, 0, 0x109, bytes([2, 0, 0, 0, 0, 0, 0xFF, 30])))
    assert m.fields["remaining_time_10s"] is None and m.fields["remaining_time_min"] == 30
    m = decode_can(CanFrame(1, 0, 0x109, bytes([2, 0, 0, 0, 0, 0, 5, 0])))
    assert m.fields["remaining_time_10s"] == 50


@pytest.mark.parametrize("version", ["0.9", "1.0", "2.0"])
def test_cli_simulate_protocol_then_analyze(tmp_path, version):
    from click.testing import CliRunner

    from chargescope.cli.chademo import command

    out = tmp_path / f"sim-{version}.log"
    made = CliRunner().invoke(command, ["--simulate", "happy", "--protocol", version, "--out", str(out)])
    assert made.exit_code == 0, made.output
    got = CliRunner().invoke(command, [str(out), "--json"])
    assert got.exit_code == 0
    import json

    [recording] = json.loads(got.output)["recordings"]
    [session] = recording["sessions"]
    assert session["parameters"]["protocol"]["version"] == version


def test_2_0_ladder_names_h109_5_2_energizing(tmp_path):
    from chargescope.analyzer.chademo.report import session_text

    text = "\n".join(session_text(_session(tmp_path, scenario("happy", 3))))
    assert "energizing state (H'109.5.2=1)" in text and "connector locked" not in text
    text = "\n".join(session_text(_session(tmp_path, scenario("happy", 2))))
    assert "connector locked (H'109.5.2=1)" in text
