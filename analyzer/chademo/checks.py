"""Checks over one CHAdeMO session: registered FindingSpecs with stable codes.

Requirement references use the IEEE 2030.1.1 frame/bit numbering (H'109.5.3 = id
0x109, byte 5, bit 3). Thresholds are in `ChademoCheckConfig`; the defaults follow
the standard's text where it gives one (10 A / 5 s current deviation, H'102.4.2) and
the 100 ms frame period of every CHAdeMO frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from chargescope.analyzer.chademo.session import ChademoSession
from chargescope.analyzer.findings import FindingRegistry
from chargescope.analyzer.records import Finding, FindingSpec, Message, Severity
from chargescope.dissectors.chademo.versions import carries_value

E, W, N = Severity.ERROR, Severity.WARNING, Severity.NOTE

SPECS: tuple[FindingSpec, ...] = (
    FindingSpec("chademo.compat.voltage", E, "interop",
                "vehicle voltage above the charger's available output voltage", "H'108.1"),
    FindingSpec("chademo.compat.current", E, "interop",
                "vehicle minimum charge current above the charger's available current",
                "H'108.3"),
    FindingSpec("chademo.compat.protocol", N, "interop",
                "vehicle and charger announce different control protocol numbers",
                "H'102.0"),
    FindingSpec("chademo.compat.flagged", E, "interop",
                "charger flagged the battery as incompatible", "H'109.5.3"),
    FindingSpec("chademo.fault.vehicle", E, "protocol", "vehicle raised a fault flag",
                "H'102.4"),
    FindingSpec("chademo.fault.charger", E, "protocol", "charger raised a fault flag",
                "H'109.5.1"),
    FindingSpec("chademo.timing.period", W, "timing",
                "periodic frame later than its 100 ms period allows"),
    FindingSpec("chademo.timing.timeout", E, "timing",
                "periodic frame missing for longer than the communication timeout"),
    FindingSpec("chademo.current.overshoot", E, "interop",
                "present current above the request by more than the tolerance, sustained",
                "H'102.4.2"),
    FindingSpec("chademo.current.overshoot_transient", W, "interop",
                "present current briefly above the request by more than the tolerance",
                "H'102.4.2"),
    FindingSpec("chademo.voltage.threshold", E, "interop",
                "present voltage above the charger's threshold voltage", "H'108.4"),
    FindingSpec("chademo.sequence.no_permission", E, "sequence",
                "charger energized without the vehicle's charging enabled flag", "H'102.5.0"),
    FindingSpec("chademo.session.incomplete", W, "sequence",
                "recording ends before the session stopped"),
    FindingSpec("chademo.stop.vehicle", N, "sequence", "session stopped by the vehicle"),
    FindingSpec("chademo.stop.charger", N, "sequence", "session stopped by the charger"),
    FindingSpec("chademo.frame.malformed", W, "malformed",
                "CHAdeMO frame shorter than its layout"),
    FindingSpec("chademo.version.out_of_version", N, "interop",
                "a field, flag or frame not defined in the agreed protocol version is set",
                "H'102.0"),
)
REGISTRY = FindingRegistry(SPECS)

_VEHICLE_FAULT_REQ = {"battery_overvoltage": "H'102.4.0", "battery_undervoltage": "H'102.4.1",
                      "battery_current_deviation": "H'102.4.2",
                      "high_battery_temperature": "H'102.4.3",
                      "battery_voltage_deviation": "H'102.4.4"}
_CHARGER_FAULT_REQ = {"station_malfunction": "H'109.5.1",
                      "charging_system_malfunction": "H'109.5.4"}
PERIODIC_IDS = (0x100, 0x101, 0x102, 0x108, 0x109)


@dataclass(frozen=True, slots=True)
class ChademoCheckConfig:
    period_ns: int = 100_000_000
    period_tolerance_ns: int = 100_000_000  # late beyond period + tolerance: a violation
    timeout_ns: int = 1_000_000_000
    overshoot_a: int = 10  # H'102.4.2: "10 A (absolute value) or more"
    overshoot_ns: int = 5_000_000_000  # H'102.4.2: "5 sec or more"


def _make(code: str, text: str, message: Message | None, requirement: str = "",
          **extra) -> Finding:
    finding = REGISTRY.make(code, text, ts_ns=message.ts_ns if message else 0,
                            evidence=(message,) if message else (), link="A", **extra)
    if requirement:
        from dataclasses import replace
        finding = replace(finding, requirement=requirement)
    return finding


def _compatibility(s: ChademoSession) -> list[Finding]:
    out: list[Finding] = []
    ev_limits, ev_status, evse = s.first(0x100), s.first(0x102), s.first(0x108)
    if evse is not None:
        available = evse.fields.get("available_output_voltage", 0)
        wanted = max((ev_limits.fields.get("maximum_battery_voltage", 0) if ev_limits else 0),
                     (ev_status.fields.get("target_battery_voltage", 0) if ev_status else 0))
        if available and wanted > available:
            out.append(_make("chademo.compat.voltage", f"vehicle needs up to {wanted} V, "
                             f"charger offers {available} V", evse, wanted_v=wanted,
                             available_v=available))
        current = evse.fields.get("available_output_current", 0)
        minimum = ev_limits.fields.get("minimum_charge_current", 0) if ev_limits else 0
        if current and minimum > current:
            out.append(_make("chademo.compat.current", f"vehicle minimum {minimum} A, charger "
                             f"offers {current} A", evse, minimum_a=minimum, available_a=current))
    numbers = s.protocol
    if numbers["agreed"] is not None and numbers["vehicle"] != numbers["charger"]:
        out.append(_make("chademo.compat.protocol", f"vehicle protocol {numbers['vehicle']}, "
                         f"charger {numbers['charger']}: {numbers['agreed']} applies",
                         s.first(0x109), **numbers))
    flagged = next((m for m in s.messages if m.fields.get("can_id") == 0x109
                    and m.fields.get("status", {}).get("battery_incompatible")), None)
    if flagged is not None:
        out.append(_make("chademo.compat.flagged", "charger set battery incompatible", flagged))
    return out


def _out_of_version(s: ChademoSession) -> list[Finding]:
    """One finding per (frame, field) set although the agreed version does not define it;
    the field stays out of every other check (see dissectors/chademo/versions.py)."""
    out: list[Finding] = []
    seen: set[tuple[int, str]] = set()
    for m in s.messages:
        for name, value in m.fields.get("out_of_version", {}).items():
            key = (m.fields.get("can_id"), name)
            if key in seen or not carries_value(value):
                continue
            seen.add(key)
            out.append(_make("chademo.version.out_of_version",
                             f"0x{key[0]:03X} {name} = {value} is not defined in protocol "
                             f"{s.protocol['version']}: kept raw, not interpreted", m,
                             can_id=key[0], field=name))
    return out


def _faults(s: ChademoSession) -> list[Finding]:
    out: list[Finding] = []
    seen: set[str] = set()
    for m in s.messages:
        can_id = m.fields.get("can_id")
        if can_id == 0x102:
            raised = [n for n, v in m.fields.get("faults", {}).items() if v]
            if m.fields.get("status", {}).get("charging_system_fault"):
                raised.append("charging_system_fault")
            for name in raised:
                if name not in seen:
                    seen.add(name)
                    out.append(_make("chademo.fault.vehicle", f"vehicle raised {name}", m,
                                     _VEHICLE_FAULT_REQ.get(name, "H'102.5.2"), flag=name))
        elif can_id == 0x109:
            status = m.fields.get("status", {})
            for name, req in _CHARGER_FAULT_REQ.items():
                if status.get(name) and name not in seen:
                    seen.add(name)
                    out.append(_make("chademo.fault.charger", f"charger raised {name}", m, req,
                                     flag=name))
    return out


def _timing(s: ChademoSession, cfg: ChademoCheckConfig) -> list[Finding]:
    out: list[Finding] = []
    last: dict[int, Message] = {}
    late: dict[int, list[tuple[int, Message]]] = {}
    ended = next((p for p in s.phases if p.phase == "ended"), None)
    for m in s.messages:
        can_id = m.fields.get("can_id")
        if can_id not in PERIODIC_IDS:
            continue
        before = last.get(can_id)
        if before is not None:
            gap = m.ts_ns - before.ts_ns
            if gap > cfg.timeout_ns:
                out.append(_make("chademo.timing.timeout", f"0x{can_id:03X} missing for "
                                 f"{gap / 1e9:.3f} s", m, can_id=can_id, gap_ns=gap,
                                 silent_from_ns=before.ts_ns))
            elif gap > cfg.period_ns + cfg.period_tolerance_ns:
                late.setdefault(can_id, []).append((gap, m))
        last[can_id] = m
    # a side that fell silent while the session was live and the other side went on
    live_until = ended.message.ts_ns if ended else s.end_ns
    for can_id, m in last.items():
        silent = live_until - m.ts_ns
        if silent > cfg.timeout_ns:
            out.append(_make("chademo.timing.timeout", f"0x{can_id:03X} silent for "
                             f"{silent / 1e9:.3f} s before the session ended", m,
                             can_id=can_id, gap_ns=silent, silent_from_ns=m.ts_ns))
    for can_id, gaps in sorted(late.items()):
        worst_gap, worst = max(gaps, key=lambda g: g[0])
        out.append(_make("chademo.timing.period", f"0x{can_id:03X} late {len(gaps)} times, "
                         f"worst gap {worst_gap / 1e6:.0f} ms", worst, can_id=can_id,
                         count=len(gaps), worst_gap_ns=worst_gap))
    return out


def _electrical(s: ChademoSession, cfg: ChademoCheckConfig) -> list[Finding]:
    out: list[Finding] = []
    request: int | None = None
    threshold = 0
    over_since: Message | None = None
    over_max = 0
    threshold_hit = False

    def close(until: Message) -> None:
        nonlocal over_since, over_max
        if over_since is None:
            return
        span = until.ts_ns - over_since.ts_ns
        code = ("chademo.current.overshoot" if span >= cfg.overshoot_ns
                else "chademo.current.overshoot_transient")
        out.append(_make(code, f"present current up to {over_max} A above the request "
                         f"for {span / 1e9:.1f} s", over_since, excess_a=over_max, span_ns=span))
        over_since, over_max = None, 0

    phases = iter(s.phases)
    upcoming = next(phases, None)
    phase = "parameters"
    for m in s.messages:
        while upcoming is not None and upcoming.ts_ns <= m.ts_ns:
            phase, upcoming = upcoming.phase, next(phases, None)
        can_id = m.fields.get("can_id")
        if can_id == 0x102:
            request = m.fields.get("charging_current_request", request)
        elif can_id == 0x108:
            threshold = m.fields.get("threshold_voltage", threshold) or threshold
        elif can_id == 0x109 and request is not None and phase == "charging":
            # only while energizing: the insulation test puts test voltage on the cable
            present = m.fields.get("present_current", 0)
            excess = present - request
            if excess > cfg.overshoot_a:
                over_since = over_since or m
                over_max = max(over_max, excess)
            else:
                close(m)
            voltage = m.fields.get("present_voltage", 0)
            if threshold and voltage > threshold and not threshold_hit:
                threshold_hit = True
                out.append(_make("chademo.voltage.threshold", f"present voltage {voltage} V, "
                                 f"threshold {threshold} V", m, voltage_v=voltage,
                                 threshold_v=threshold))
    if over_since is not None:
        close(s.messages[-1])
    return out


def _sequence(s: ChademoSession) -> list[Finding]:
    out: list[Finding] = []
    for ts, event, m in s.events:
        if event == "evse.charging":
            enabled = [e for t, e, _ in s.events if t <= ts and e in ("ev.enable", "ev.disable")]
            last_ev = s.last_before(0x102, ts)
            on = last_ev is not None and last_ev.fields.get("status", {}).get("charging_enabled")
            if not on and (not enabled or enabled[-1] != "ev.enable"):
                out.append(_make("chademo.sequence.no_permission",
                                 "charger set H'109.5.0 while H'102.5.0 was 0", m))
    if s.phase != "ended":
        out.append(_make("chademo.session.incomplete", f"last phase: {s.phase}",
                         s.messages[-1], phase=s.phase))
    if s.stop_event in ("ev.disable", "ev.stop_request"):
        out.append(_make("chademo.stop.vehicle", s.stop_cause, s.phases_by("stopping")))
    elif s.stop_event in ("evse.stop_control", "evse.charging_off"):
        out.append(_make("chademo.stop.charger", s.stop_cause, s.phases_by("stopping")))
    for m in s.messages:
        if m.problems:
            out.append(_make("chademo.frame.malformed", m.problems[0].detail, m))
    return out


def _timeout_stop(s: ChademoSession, timing: list[Finding]) -> None:
    """A frame that went silent before the stop (or with no stop at all) caused it."""
    stop = next((p for p in s.phases if p.phase == "stopping"), None)
    for f in timing:
        if f.code == "chademo.timing.timeout" and (
                stop is None or f.extra["silent_from_ns"] < stop.ts_ns):
            s.stop_event = "timeout"
            return


def check_session(session: ChademoSession, config: ChademoCheckConfig | None = None
                  ) -> list[Finding]:
    """Run every check; the findings are also stored on the session, in time order."""
    cfg = config or ChademoCheckConfig()
    timing = _timing(session, cfg)
    _timeout_stop(session, timing)
    found = (_compatibility(session) + _faults(session) + timing + _out_of_version(session)
             + _electrical(session, cfg) + _sequence(session))
    found.sort(key=lambda f: f.ts_ns)
    session.findings = found
    return found
