"""The byte layouts of the CHAdeMO CAN frames, as a registration table.

Sources, per frame (cited because published summaries disagree):

- 0x100, 0x101, 0x102, 0x108, 0x109: IEEE Std 2030.1.1-2015 (CHAdeMO 1.x), frame and
  bit numbering "H'102.5.3" = id 0x102, byte 5, bit 3 (bit 0 = least significant),
  as quoted in the doc comments of rand12345/chademo-rs src/frames.rs (MIT). One
  disagreement: chademo-rs *decodes* the H'102.4 fault byte with bit 4 as battery
  overvoltage, while its own quotation of the standard (and the openinverter wiki)
  numbers H'102.4.0 as battery overvoltage; we follow the standard's numbering.
- 0x101 bytes 5-6 (rated battery capacity, 0.1 kWh/bit) exist from protocol 1.0
  (control protocol number 2) on; older vehicles send 0 there.
- 0x110, 0x118 (CHAdeMO 1.2/2.0 extended functions): byte 0 function flags as listed
  by the CHAdeMO 2.0 summaries on the openinverter wiki (bit 0 dynamic control, bit 1
  high-current control, bit 2 high-voltage control); the other bytes are given raw.
- 0x200, 0x208, 0x209 (V2H / discharge, CHAdeMO V2H guideline 1.1): chademo-rs
  src/frames.rs, including its inverted current encoding (0xFF - value) and the 0x208
  lower threshold voltage in bytes 6-7 (some summaries put it in bytes 4-5).

- 0x101 byte 1 / 0x109 byte 6 (time by 10 s): 0xFF says "not used, see the minutes
  byte" (ccs32clara-chademo chademo/chademoCharger.cpp sends 0xFF there from 60 s on); decoded
  as None rather than 2550 s.
- Which of these fields, flags and frames each protocol version defines: versions.py.

All multi-byte values are little-endian. A field is (name, kind, byte, size, scale,
unit); kinds: "u" unsigned, "inv" 0xFF minus the byte, "flags" a bit map (names by bit).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    kind: str  # "u", "inv", "flags"
    offset: int
    size: int = 1
    scale: float = 1.0
    unit: str = ""
    bits: tuple[tuple[int, str], ...] = ()  # for "flags": (bit, name)
    not_used: int | None = None  # raw value meaning "not used": decoded as None


@dataclass(frozen=True, slots=True)
class FrameLayout:
    can_id: int
    name: str
    sender: str  # "vehicle" or "charger"
    fields: tuple[FieldSpec, ...]
    source: str  # the public layout this follows


IEEE = "IEEE 2030.1.1 (as quoted in chademo-rs src/frames.rs)"
CHADEMO_RS = "rand12345/chademo-rs src/frames.rs (V2H guideline 1.1)"
OPENINVERTER = "openinverter wiki, CHAdeMO 2.0 extended functions"

VEHICLE_FAULTS = ((0, "battery_overvoltage"), (1, "battery_undervoltage"),
                  (2, "battery_current_deviation"), (3, "high_battery_temperature"),
                  (4, "battery_voltage_deviation"))
VEHICLE_STATUS = ((0, "charging_enabled"), (1, "shift_not_parking"),
                  (2, "charging_system_fault"), (3, "contactor_open"),
                  (4, "normal_stop_request"), (7, "discharge_compatible"))
CHARGER_STATUS = ((0, "charging"), (1, "station_malfunction"), (2, "connector_locked"),
                  (3, "battery_incompatible"), (4, "charging_system_malfunction"),
                  (5, "stop_control"))
EXTENDED_FUNCTIONS = ((0, "dynamic_control"), (1, "high_current_control"),
                      (2, "high_voltage_control"))

LAYOUTS: dict[int, FrameLayout] = {layout.can_id: layout for layout in (
    FrameLayout(0x100, "EV limits", "vehicle", (
        FieldSpec("minimum_charge_current", "u", 0, unit="A"),
        FieldSpec("minimum_battery_voltage", "u", 2, 2, unit="V"),
        FieldSpec("maximum_battery_voltage", "u", 4, 2, unit="V"),
        FieldSpec("charged_rate_constant", "u", 6, unit="%"),
    ), IEEE),
    FrameLayout(0x101, "EV charging time", "vehicle", (
        FieldSpec("max_charging_time_10s", "u", 1, scale=10, unit="s", not_used=0xFF),
        FieldSpec("max_charging_time_min", "u", 2, unit="min"),
        FieldSpec("estimated_charging_time", "u", 3, unit="min"),
        FieldSpec("rated_battery_capacity", "u", 5, 2, scale=0.1, unit="kWh"),
    ), IEEE),
    FrameLayout(0x102, "EV status", "vehicle", (
        FieldSpec("protocol_number", "u", 0),
        FieldSpec("target_battery_voltage", "u", 1, 2, unit="V"),
        FieldSpec("charging_current_request", "u", 3, unit="A"),
        FieldSpec("faults", "flags", 4, bits=VEHICLE_FAULTS),
        FieldSpec("status", "flags", 5, bits=VEHICLE_STATUS),
        FieldSpec("state_of_charge", "u", 6, unit="%"),
    ), IEEE),
    FrameLayout(0x108, "EVSE capability", "charger", (
        FieldSpec("welding_detection", "u", 0),
        FieldSpec("available_output_voltage", "u", 1, 2, unit="V"),
        FieldSpec("available_output_current", "u", 3, unit="A"),
        FieldSpec("threshold_voltage", "u", 4, 2, unit="V"),
    ), IEEE),
    FrameLayout(0x109, "EVSE status", "charger", (
        FieldSpec("protocol_number", "u", 0),
        FieldSpec("present_voltage", "u", 1, 2, unit="V"),
        FieldSpec("present_current", "u", 3, unit="A"),
        FieldSpec("discharge_compatible", "u", 4),
        FieldSpec("status", "flags", 5, bits=CHARGER_STATUS),
        FieldSpec("remaining_time_10s", "u", 6, scale=10, unit="s", not_used=0xFF),
        FieldSpec("remaining_time_min", "u", 7, unit="min"),
    ), IEEE),
    FrameLayout(0x110, "EV extended functions", "vehicle", (
        FieldSpec("functions", "flags", 0, bits=EXTENDED_FUNCTIONS),
    ), OPENINVERTER),
    FrameLayout(0x118, "EVSE extended functions", "charger", (
        FieldSpec("functions", "flags", 0, bits=EXTENDED_FUNCTIONS),
    ), OPENINVERTER),
    FrameLayout(0x200, "EV discharge limits", "vehicle", (
        FieldSpec("maximum_discharge_current", "inv", 0, unit="A"),
        FieldSpec("minimum_discharge_voltage", "u", 4, 2, unit="V"),
        FieldSpec("minimum_discharge_level", "inv", 6, unit="%"),
        FieldSpec("max_remaining_capacity_for_charging", "u", 7, unit="%"),
    ), CHADEMO_RS),
    FrameLayout(0x208, "EVSE discharge status", "charger", (
        FieldSpec("present_discharge_current", "inv", 0, unit="A"),
        FieldSpec("input_voltage", "u", 1, 2, unit="V"),
        FieldSpec("input_current_limit", "inv", 3, unit="A"),
        FieldSpec("lower_threshold_voltage", "u", 6, 2, unit="V"),
    ), CHADEMO_RS),
    FrameLayout(0x209, "EVSE discharge sequence", "charger", (
        FieldSpec("sequence_control_number", "u", 0),
        FieldSpec("remaining_discharge_time", "u", 1, 2, unit="min"),
    ), CHADEMO_RS),
)}
