"""Energy readings out of OCPP MeterValue structures (1.6 and 2.x spellings)."""

from __future__ import annotations

from typing import Any

from chargescope.analyzer.shapes import arr

ENERGY_REGISTER = "Energy.Active.Import.Register"
_SCALE = {"wh": 1.0, "kwh": 1000.0}


_last: list[Any] = [None, ()]  # one-entry memo: several trackers read the same message


def energy_wh(meter_values: Any) -> tuple[tuple[str, float], ...]:
    """(timestamp, Wh) of every Energy.Active.Import.Register sample, in order.

    1.6: `sampledValue[].value` is a string, unit `unit` (default Wh), measurand
    defaults to the import register. 2.x: `value` is a number, unit in
    `unitOfMeasure.unit` scaled by `unitOfMeasure.multiplier` (power of ten).
    Phase-specific samples are skipped (the register total is what billing uses).
    """
    if meter_values is _last[0] and meter_values is not None:
        return _last[1]
    result = tuple(_energy_wh(meter_values))
    _last[0], _last[1] = meter_values, result
    return result


def _energy_wh(meter_values: Any) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    if not isinstance(meter_values, list):
        return out
    for mv in meter_values:
        if not isinstance(mv, dict):
            continue
        ts = mv.get("timestamp", "")
        for sv in arr(mv.get("sampledValue")):
            if not isinstance(sv, dict):
                continue
            if sv.get("measurand", ENERGY_REGISTER) != ENERGY_REGISTER or sv.get("phase"):
                continue
            try:
                value = float(sv.get("value"))
            except (TypeError, ValueError):
                continue
            unit = sv.get("unit")
            multiplier = 0
            uom = sv.get("unitOfMeasure")
            if isinstance(uom, dict):
                unit = uom.get("unit", unit)
                multiplier = uom.get("multiplier", 0) if isinstance(uom.get("multiplier", 0), int) else 0
            scale = _SCALE.get(str(unit or "Wh").lower())
            if scale is None:
                continue
            out.append((ts, value * scale * (10 ** multiplier)))
    return out
