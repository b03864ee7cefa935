"""CHAdeMO sessions as a text ladder with a verdict, or as JSON-ready dicts."""

from __future__ import annotations

from typing import Any

from chargescope.analyzer.chademo.analyze import ChademoResult
from chargescope.analyzer.chademo.session import ChademoSession
from chargescope.analyzer.records import Finding

_EVENT_TEXT = {
    "ev.enable": "charging enabled (H'102.5.0=1)",
    "ev.disable": "charging enabled cleared (H'102.5.0=0)",
    "ev.contactor_closed": "EV contactors closed (H'102.5.3=0)",
    "ev.contactor_open": "EV contactors open (H'102.5.3=1)",
    "ev.stop_request": "normal stop request (H'102.5.4=1)",
    "ev.fault": "fault flag raised (H'102.4 / H'102.5.2)",
    "evse.lock": "connector locked (H'109.5.2=1), insulation test",
    "evse.unlock": "connector unlocked (H'109.5.2=0)",
    "evse.charging": "charger energizing (H'109.5.0=1)",
    "evse.charging_off": "charger not energizing (H'109.5.0=0)",
    "evse.stop_control": "stop control (H'109.5.5=1)",
    "evse.fault": "fault flag raised (H'109.5.1 / H'109.5.4)",
    "evse.incompatible": "battery incompatible (H'109.5.3=1)",
}
# CHAdeMO 2.0 names H'109.5.2 "energizing" (dissectors/chademo/versions.py RENAMED)
_EVENT_TEXT_2_0 = {
    "evse.lock": "energizing state (H'109.5.2=1), insulation test",
    "evse.unlock": "energizing state ended (H'109.5.2=0)",
}


def energy_wh(s: ChademoSession, max_step_ns: int = 1_000_000_000) -> float:
    """Energy delivered as the charger reports it: present voltage x current of each
    0x109 frame held until the next one (steps over `max_step_ns` count that long:
    a gap in the recording is not energy)."""
    total = 0.0
    previous = None
    for m in s.messages:
        if m.fields.get("can_id") != 0x109:
            continue
        if previous is not None:
            step = min(m.ts_ns - previous.ts_ns, max_step_ns)
            total += (previous.fields.get("present_voltage", 0)
                      * previous.fields.get("present_current", 0) * step)
        previous = m
    return round(total / 3.6e12, 3)  # V*A*ns -> Wh


def parameters(s: ChademoSession) -> dict[str, Any]:
    """The negotiated parameters and the current tracking summary of a session."""
    ev_limits, ev_time, evse = s.first(0x100), s.first(0x101), s.first(0x108)
    requests = [m.fields.get("charging_current_request", 0) for m in s.messages
                if m.fields.get("can_id") == 0x102]
    present = [m.fields.get("present_current", 0) for m in s.messages
               if m.fields.get("can_id") == 0x109]
    soc = [m.fields["state_of_charge"] for m in s.messages
           if m.fields.get("can_id") == 0x102 and "state_of_charge" in m.fields]
    out: dict[str, Any] = {"protocol": s.protocol}
    if ev_limits:
        out["vehicle_max_voltage_v"] = ev_limits.fields.get("maximum_battery_voltage")
        out["vehicle_min_current_a"] = ev_limits.fields.get("minimum_charge_current")
    if ev_time:
        out["battery_capacity_kwh"] = ev_time.fields.get("rated_battery_capacity")
    if evse:
        out["charger_available_voltage_v"] = evse.fields.get("available_output_voltage")
        out["charger_available_current_a"] = evse.fields.get("available_output_current")
        out["charger_threshold_voltage_v"] = evse.fields.get("threshold_voltage")
    out["max_current_request_a"] = max(requests, default=None)
    out["max_present_current_a"] = max(present, default=None)
    out["energy_wh"] = energy_wh(s)
    if soc:
        out["soc_first"], out["soc_last"] = soc[0], soc[-1]
    return out


def _finding_json(f: Finding) -> dict[str, Any]:
    return {"code": f.code, "severity": str(f.severity), "text": f.text, "ts_ns": f.ts_ns,
            "requirement": f.requirement, "extra": f.extra}


def session_json(s: ChademoSession) -> dict[str, Any]:
    return {
        "index": s.index, "start_ns": s.start_ns, "end_ns": s.end_ns,
        "frames": len(s.messages), "verdict": s.verdict, "phase": s.phase,
        "stop_cause": s.stop_cause, "parameters": parameters(s),
        "phases": [{"ts_ns": p.ts_ns, "event": p.event, "phase": p.phase} for p in s.phases],
        "events": [{"ts_ns": t, "event": e} for t, e, _m in s.events],
        "findings": [_finding_json(f) for f in s.findings],
    }


def result_json(r: ChademoResult) -> dict[str, Any]:
    return {"source": r.source, "format": r.format, "frames": r.frames,
            "out_of_scope": {f"0x{k:03X}": v for k, v in sorted(r.out_of_scope.items())},
            "sessions": [session_json(s) for s in r.sessions],
            "problems": [{"kind": p.kind, "detail": p.detail} for p in r.problems]}


def result_text(r: ChademoResult) -> list[str]:
    lines = [f"{r.source} ({r.format}): {r.frames} CAN frames, {len(r.sessions)} CHAdeMO "
             f"session(s)"]
    if r.out_of_scope:
        ids = ", ".join(f"0x{k:03X}:{v}" for k, v in sorted(r.out_of_scope.items()))
        lines.append(f"  out of scope (not CHAdeMO): {ids}")
    if r.problems:
        lines.append(f"  {len(r.problems)} unreadable line(s)/frame(s), first: {r.problems[0]}")
    for s in r.sessions:
        lines.extend(session_text(s))
    return lines


def session_text(s: ChademoSession) -> list[str]:
    p = parameters(s)
    proto = p["protocol"]
    lines = [f"session {s.index}: {(s.end_ns - s.start_ns) / 1e9:.1f} s, {len(s.messages)} "
             f"frames, protocol EV {proto['vehicle']} / EVSE {proto['charger']} "
             f"(CHAdeMO {proto['version']})"]
    lines.append(f"  EV max {p.get('vehicle_max_voltage_v')} V, capacity "
                 f"{p.get('battery_capacity_kwh')} kWh | EVSE {p.get('charger_available_voltage_v')}"
                 f" V {p.get('charger_available_current_a')} A, threshold "
                 f"{p.get('charger_threshold_voltage_v')} V")
    lines.append(f"  {'t (s)':>8}  vehicle            charger")
    texts = {**_EVENT_TEXT, **_EVENT_TEXT_2_0} if (proto["agreed"] or 0) >= 3 else _EVENT_TEXT
    for ts, event, message in s.events:
        rel = (ts - s.start_ns) / 1e9
        text = texts.get(event, event)
        arrow = f"──{text}──▶" if message.src == "vehicle" else f"◀──{text}──"
        lines.append(f"  {rel:8.3f}  {arrow}")
    lines.append(f"  current: max request {p['max_current_request_a']} A, max present "
                 f"{p['max_present_current_a']} A, {p['energy_wh']} Wh"
                 + (f", SoC {p['soc_first']} -> {p['soc_last']} %" if "soc_first" in p else ""))
    lines.append(f"  stop: {s.stop_cause}")
    lines.append(f"  verdict: {s.verdict}")
    for f in s.findings:
        req = f" {f.requirement}" if f.requirement else ""
        lines.append(f"    [{f.severity}] {f.code}{req}: {f.text}")
    return lines
