"""What each CHAdeMO control protocol number defines: fields, flags and frames per version.

`decode_can` decodes a frame with the superset layout (layouts.py), one frame at a
time: it cannot know the protocol the two sides agreed. Once a session knows it (the
lower of H'102.0 and H'109.0), `apply_version` re-reads each of its Messages for that
version: a field, flag or frame the version does not define leaves the decoded fields
and is kept, with its raw value, under `out_of_version` (never read as if it meant
something), and a flag whose meaning changed takes the version's name.

Control protocol numbers (H'102.0 vehicle, H'109.0 charger): 0 before 0.9, 1 for
0.9/0.9.1, 2 for 1.0.0/1.0.1, 3 for 2.0 -- osexpert/ccs32clara-chademo
chademo/chademoCharger.h (`enum ProtocolNumber`, `CarData.ProtocolNumber`).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

from chargescope.analyzer.records import Message

PROTOCOL_VERSIONS: dict[int, str] = {0: "before 0.9", 1: "0.9", 2: "1.0", 3: "2.0"}
VERSION_NUMBERS: dict[str, int] = {"0.9": 1, "1.0": 2, "2.0": 3}

CCS32CLARA = "osexpert/ccs32clara-chademo chademo/chademoCharger.h"
V2H = "CHAdeMO V2H guideline 1.1 (rand12345/chademo-rs src/frames.rs), built on 1.0"
EXTENDED = "CHAdeMO 2.0 extended functions (openinverter wiki; ccs32clara ExtendedFunction1)"


@dataclass(frozen=True, slots=True)
class VersionRule:
    """`field` of frame `can_id` ("group.flag" for a flag bit) exists from `since` on."""

    can_id: int
    field: str
    since: int
    source: str


RULES: tuple[VersionRule, ...] = (
    # msg100: "MinCurrent // added in cha 1.0", "MinVoltage // added in cha 1.0"
    VersionRule(0x100, "minimum_charge_current", 2, CCS32CLARA),
    VersionRule(0x100, "minimum_battery_voltage", 2, CCS32CLARA),
    # msg101: "EstimatedChargingTimeMinutes // added in cha 1.0", "BatteryCapacity // added
    # in cha 1.0"
    VersionRule(0x101, "estimated_charging_time", 2, CCS32CLARA),
    VersionRule(0x101, "rated_battery_capacity", 2, CCS32CLARA),
    # CarStatus 102.5.3: "If charger >= chademo 1.0, car changes to 1 (open) as soon as it
    # discovers. If charger say it is < chademo 1.0, car keep this flag as 0"
    VersionRule(0x102, "status.contactor_open", 2, CCS32CLARA),
    # discharge (V2H) capability flags belong to the V2H guideline on top of 1.0
    VersionRule(0x102, "status.discharge_compatible", 2, V2H),
    VersionRule(0x109, "discharge_compatible", 2, V2H),
    VersionRule(0x110, "functions.high_current_control", 3, EXTENDED),
    VersionRule(0x110, "functions.high_voltage_control", 3, EXTENDED),
    VersionRule(0x118, "functions.high_current_control", 3, EXTENDED),
    VersionRule(0x118, "functions.high_voltage_control", 3, EXTENDED),
)

# Whole frames. The extended-function frames came after 1.0 (dynamic control in 1.1, high
# current / high voltage control in 2.0); the public sources give 1.1/1.2 no protocol
# number of their own, so the frames and dynamic control are accepted from number 2 on
# and only the 2.0 high-power bits need 3. The V2H frames exist from 1.0.
FRAME_SINCE: dict[int, tuple[int, str]] = {
    0x110: (2, EXTENDED), 0x118: (2, EXTENDED),
    0x200: (2, V2H), 0x208: (2, V2H), 0x209: (2, V2H),
}

# ChargerStatus 109.5.2: "connector is currently locked. In later spec, it is only
# referred to as Energizing state (OutputVoltage > 10 volt)" -- the 2.0 name.
RENAMED: dict[tuple[int, str], tuple[int, str, str]] = {
    (0x109, "status.connector_locked"): (3, "energizing", CCS32CLARA),
}

_KEEP = ("can_id", "raw")


def version_name(protocol: int | None) -> str:
    if protocol is None:
        return "unknown"
    return PROTOCOL_VERSIONS.get(protocol, f"unknown ({protocol})")


def defined(can_id: int, path: str, protocol: int | None) -> bool:
    """Whether `protocol` defines field/flag `path` of frame `can_id` (unknown: assume so)."""
    if protocol is None:
        return True
    since = FRAME_SINCE.get(can_id)
    if since is not None and protocol < since[0]:
        return False
    return not any(r.can_id == can_id and r.field == path and protocol < r.since for r in RULES)


def _take(fields: dict[str, Any], path: str) -> tuple[bool, Any]:
    """Remove `path` ("name" or "group.flag") from fields (copying a group it edits)."""
    if "." not in path:
        if path in fields:
            return True, fields.pop(path)
        return False, None
    group, flag = path.split(".", 1)
    flags = fields.get(group)
    if not isinstance(flags, dict) or flag not in flags:
        return False, None
    flags = dict(flags)
    value = flags.pop(flag)
    fields[group] = flags
    return True, value


@functools.cache
def _actions(can_id: int, protocol: int) -> tuple[bool, tuple[str, ...], tuple[tuple[str, str], ...]]:
    """(whole frame out of version, paths to set aside, (path, new name) renames)."""
    since = FRAME_SINCE.get(can_id)
    if since is not None and protocol < since[0]:
        return True, (), ()
    removals = tuple(r.field for r in RULES if r.can_id == can_id and protocol < r.since)
    renames = tuple((path, new) for (rule_id, path), (first, new, _src) in RENAMED.items()
                    if rule_id == can_id and protocol >= first)
    return False, removals, renames


def apply_version(message: Message, protocol: int | None) -> Message:
    """`message` as the agreed `protocol` defines it: the same object when the version
    changes nothing in it (or is unknown), else a copy with `out_of_version` set aside
    and renamed flags. Apply once per message (ChademoSession.apply_version does)."""
    if protocol is None or message.protocol != "chademo":
        return message
    whole, removals, renames = _actions(message.fields.get("can_id"), protocol)
    if not (whole or removals or renames):
        return message  # the common case: a frame this version defines as decoded
    fields = dict(message.fields)
    outside: dict[str, Any] = {}
    if whole:
        outside = {k: v for k, v in fields.items() if k not in _KEEP}
        fields = {k: fields[k] for k in _KEEP if k in fields}
    for path in removals:
        found, value = _take(fields, path)
        if found:
            outside[path] = value
    renamed = False
    for path, new_name in renames:
        found, value = _take(fields, path)
        if found:
            group = path.split(".", 1)[0]
            fields[group] = {**fields[group], new_name: value}
            renamed = True
    if not outside and not renamed:
        return message
    if outside:
        fields["out_of_version"] = outside
    return dataclasses.replace(message, fields=fields)


def carries_value(value: Any) -> bool:
    """An out-of-version field matters when it is set: non-zero, or a flag raised."""
    if isinstance(value, dict):
        return any(carries_value(v) for v in value.values())
    return bool(value)
