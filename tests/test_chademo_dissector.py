"""The CHAdeMO frame layouts: field values on known frames, short frames, hostile bytes."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from chargescope.analyzer.chademo.can import CanFrame
from chargescope.dissectors.chademo import LAYOUTS, decode_can


def _frame(can_id: int, hexdata: str, extended: bool = False) -> CanFrame:
    return CanFrame(7, 1_000, can_id, bytes.fromhex(hexdata), extended, source="t")


def test_vehicle_limits_from_leaf():
    # F1atline_start.candump, first frame
    m = decode_can(_frame(0x100, "06000000B301F000"))
    assert m.protocol == "chademo" and m.link == "A" and m.src == "vehicle"
    assert m.fields["minimum_charge_current"] == 6
    assert m.fields["maximum_battery_voltage"] == 435
    assert m.fields["charged_rate_constant"] == 240
    assert m.refs[0].frame == 7 and m.refs[0].length == 8


def test_vehicle_status_flags_follow_ieee_numbering():
    # chademo-rs x102_test: C9 = charging enabled + contactor open + bits 6, 7
    m = decode_can(_frame(0x102, "029A010000C95600"))
    assert m.fields["protocol_number"] == 2
    assert m.fields["target_battery_voltage"] == 410
    assert m.fields["status"]["charging_enabled"] is True
    assert m.fields["status"]["contactor_open"] is True
    assert m.fields["status"]["discharge_compatible"] is True
    assert m.fields["state_of_charge"] == 0x56
    # H'102.4.0 = battery overvoltage (the standard's numbering, not chademo-rs's decode)
    m = decode_can(_frame(0x102, "029A010001000000"))
    assert [k for k, v in m.fields["faults"].items() if v] == ["battery_overvoltage"]


def test_charger_frames():
    m = decode_can(_frame(0x108, "01F40176F4010000"))
    assert m.src == "charger" and m.dst == "vehicle"
    assert (m.fields["available_output_voltage"], m.fields["available_output_current"],
            m.fields["threshold_voltage"], m.fields["welding_detection"]) == (500, 118, 500, 1)
    m = decode_can(_frame(0x109, "0180010001050A1E"))
    st_ = m.fields["status"]
    assert st_["charging"] and st_["connector_locked"] and not st_["stop_control"]
    assert m.fields["present_voltage"] == 384
    assert m.fields["remaining_time_10s"] == 100 and m.fields["remaining_time_min"] == 30


def test_scaled_and_inverted_fields():
    m = decode_can(_frame(0x101, "00FF3C2D00900100"))
    assert m.fields["rated_battery_capacity"] == 40.0  # 400 x 0.1 kWh
    assert m.fields["max_charging_time_10s"] is None  # 0xFF: "not used, see minutes"
    m = decode_can(_frame(0x200, "F000000090011A00"))
    assert m.fields["maximum_discharge_current"] == 15  # 0xFF - 0xF0
    assert m.fields["minimum_discharge_voltage"] == 400
    assert m.fields["minimum_discharge_level"] == 0xFF - 0x1A
    m = decode_can(_frame(0x208, "FA9001F500005E01"))
    assert m.fields["present_discharge_current"] == 5
    assert m.fields["lower_threshold_voltage"] == 350


def test_extended_functions():
    m = decode_can(_frame(0x110, "0100000000000000"))
    assert m.fields["functions"] == {"dynamic_control": True, "high_current_control": False,
                                     "high_voltage_control": False}


def test_out_of_scope_ids_are_none():
    assert decode_can(_frame(0x201, "02")) is None
    assert decode_can(_frame(0x700, "")) is None
    assert decode_can(_frame(0x102, "00", extended=True)) is None


def test_short_frame_decodes_what_is_there():
    m = decode_can(_frame(0x102, "029A01"))
    assert m.fields["target_battery_voltage"] == 410
    assert "faults" not in m.fields
    assert [p.kind for p in m.problems] == ["chademo.frame.short"]
    assert m.problems[0].offset == 3 and m.problems[0].frame == 7


def test_every_layout_field_fits_eight_bytes():
    for layout in LAYOUTS.values():
        assert layout.source
        assert all(f.offset + f.size <= 8 for f in layout.fields)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(LAYOUTS)), st.binary(max_size=12))
def test_any_bytes_decode_to_json_fields(can_id, data):
    m = decode_can(CanFrame(1, 0, can_id, data))
    json.dumps(m.fields)
    assert bool(m.problems) == (len(data) < max(f.offset + f.size
                                                for f in LAYOUTS[can_id].fields))
