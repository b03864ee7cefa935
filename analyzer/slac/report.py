"""SLAC runs as a short text ladder with a verdict, or as plain JSON-ready dicts."""

from __future__ import annotations

from typing import Any

from chargescope.analyzer.records import Finding, Message, Severity
from chargescope.analyzer.slac.capture import SlacCaptureResult
from chargescope.analyzer.slac.runs import JOINED, MATCHED, SlacRun, Step
from chargescope.analyzer.slac.timing import (
    C_EV_MATCH_MNBC,
    C_EV_MATCH_RETRY,
    C_EV_START_ATTEN_CHAR_INDS,
    TIMERS,
)
from chargescope.dissectors.homeplug.registry import CP_STATES


def verdict(run: SlacRun, findings: list[Finding]) -> str:
    if run.state == JOINED:
        text = "matched, joined"
    elif run.state == MATCHED:
        text = "matched, no traffic after" if any(
            f.code == "slac.join.none" for f in findings) else "matched"
    elif any(f.code == "slac.capture.ends_mid_run" for f in findings):
        text = f"capture ends during {run.state}"
    else:
        text = f"FAILED in {run.state}"
    return ("partial (capture starts mid-run), " if run.partial else "") + text


def _detail(step: Step) -> str:
    if step.message is None:
        return ""
    f = step.message.fields
    name = step.name
    if name == "CM_SLAC_PARM.CNF":
        return f"sounds={f.get('num_sounds')} time_out={f.get('time_out', 0) * 100} ms"
    if name == "CM_ATTEN_CHAR.IND":
        aag = f.get("aag") or []
        avg = f"{sum(aag) / len(aag):.1f} dB" if aag else "-"
        return f"avg {avg} over {len(aag)} groups, {f.get('num_sounds')} sounds"
    if name == "CM_SLAC_MATCH.CNF":
        return f"NID {f.get('nid')}"
    if name.startswith("CM_VALIDATE"):
        return f"result={f.get('result')}" + (
            f" toggles={f['toggle_num']}" if "toggle_num" in f else "")
    if name == "CM_ATTEN_CHAR.RSP":
        return f"result={f.get('result')}"
    return ""


_BATCH = ("CM_START_ATTEN_CHAR.IND", "CM_MNBC_SOUND.IND", "CM_ATTEN_PROFILE.IND",
          "VS_ATTEN_CHAR.IND")


def _collapsed(steps: tuple[Step, ...]) -> list[tuple[Step, int]]:
    """Batches (start-atten, sounds, profiles, interleaved) shown once each, with a count."""
    out: list[tuple[Step, int]] = []
    for step in steps:
        if step.name in _BATCH and not step.unexpected:
            match = None
            for i in range(len(out) - 1, -1, -1):
                seen = out[i][0]
                if seen.name not in _BATCH:
                    break
                if seen.name == step.name and seen.src_role == step.src_role:
                    match = i
                    break
            if match is not None:
                out[match] = (out[match][0], out[match][1] + 1)
                continue
        out.append((step, 1))
    return out


def _step_line(step: Step, count: int, t0: int) -> str:
    mark = " !" if step.unexpected else (" >" if step.skipped else "  ")
    times = f" x{count}" if count > 1 else ""
    return (f" {mark}{(step.ts_ns - t0) / 1e9:+9.3f}s  {step.src_role:>5} -> "
            f"{step.dst_role:<5} {step.name}{times}  {_detail(step)}").rstrip()


def _cp_line(cp: Message, t0: int) -> str:
    f = cp.fields
    state = CP_STATES.get(f.get("cp_state", -1), f"0x{f.get('cp_state', 0):02x}")
    return (f"   {(cp.ts_ns - t0) / 1e9:+9.3f}s   --- CP state {state}, PWM {f.get('pwm_duty')} %,"
            f" {f.get('cp_voltage', 0) / 1000:.1f} V ---")


def ladder_text(index: int, run: SlacRun, findings: list[Finding]) -> list[str]:
    lines = [f"SLAC run {index}  EV {run.ev_mac}  RUN_ID {run.run_id or '?'}  "
             f"verdict: {verdict(run, findings)}"]
    t0 = run.started_ns
    rows = [(step.ts_ns, _step_line(step, count, t0)) for step, count in _collapsed(run.steps)]
    rows += [(cp.ts_ns, _cp_line(cp, t0)) for cp in run.cp_states]
    lines.extend(line for _ts, line in sorted(rows, key=lambda row: row[0]))
    for leg in run.evses:
        avg = leg.average_attenuation
        lines.append(f"    EVSE {leg.mac}: " + (f"avg attenuation {avg:.1f} dB" if avg is not None
                                                  else "no attenuation result")
                     + ("  <- matched" if leg.match_cnf else ""))
    for finding in findings:
        lines.append(f"    {str(finding.severity):<7} {finding.code}  {finding.text}"
                     + (f"  {finding.requirement}" if finding.requirement else ""))
    return lines


def run_json(run: SlacRun, findings: list[Finding]) -> dict[str, Any]:
    t0 = run.started_ns
    return {
        "ev_mac": run.ev_mac,
        "run_id": run.run_id,
        "state": run.state,
        "verdict": verdict(run, findings),
        "partial": run.partial,
        "started_ns": t0,
        "evses": [{
            "mac": leg.mac,
            "average_attenuation_db": None if leg.average_attenuation is None
            else round(leg.average_attenuation, 2),
            "sounds_received": leg.atten_char[-1].fields.get("num_sounds") if leg.atten_char else None,
            "validated": [m.fields.get("result") for m in leg.validate_cnf],
            "matched": bool(leg.match_cnf),
            "nid": leg.match_cnf[-1].fields.get("nid") if leg.match_cnf else None,
        } for leg in run.evses],
        "ladder": [{
            "ts_ns": step.ts_ns, "t_ms": round((step.ts_ns - t0) / 1e6, 3),
            "src_role": step.src_role, "dst_role": step.dst_role, "name": step.name,
            "count": count, "unexpected": step.unexpected, "skipped": step.skipped,
            "frame": step.message.refs[0].frame if step.message and step.message.refs
            else (step.traffic.frame if step.traffic else 0),
            "src": step.message.src if step.message else step.traffic.src,
            "dst": step.message.dst if step.message else step.traffic.dst,
            "fields": step.message.fields if step.message else {"what": step.traffic.what},
        } for step, count in _collapsed(run.steps)],
        "cp_states": [{"ts_ns": cp.ts_ns, "t_ms": round((cp.ts_ns - t0) / 1e6, 3),
                       "state": CP_STATES.get(cp.fields.get("cp_state", -1)),
                       **{k: cp.fields.get(k) for k in ("cp_state", "pwm_duty", "cp_voltage")}}
                      for cp in run.cp_states],
        "findings": [finding_json(f) for f in findings],
    }


def finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "code": finding.code, "severity": str(finding.severity), "text": finding.text,
        "ts_ns": finding.ts_ns, "requirement": finding.requirement, "extra": finding.extra,
        "evidence": [{"name": m.name, "source": m.refs[0].source if m.refs else "",
                      "frame": m.refs[0].frame if m.refs else 0} for m in finding.evidence],
    }


def worst(findings: list[Finding]) -> Severity | None:
    return max((f.severity for f in findings), default=None)


def capture_json(result: SlacCaptureResult) -> dict[str, Any]:
    return {
        "capture": result.capture,
        "mmes": result.mmes,
        "runs": [run_json(run, list(findings)) for run, findings in result.runs],
        "unattributed_mmes": [{"name": m.name, "frame": m.refs[0].frame if m.refs else 0}
                              for m in result.unattributed],
        "problems": [str(p) for p in result.problems],
    }


def capture_text(result: SlacCaptureResult) -> list[str]:
    lines = [f"{result.capture}: {result.mmes} HomePlug MMEs, {len(result.runs)} SLAC run(s)"]
    for index, (run, findings) in enumerate(result.runs, start=1):
        lines.extend(ladder_text(index, run, list(findings)))
    if result.unattributed:
        lines.append(f"  {len(result.unattributed)} SLAC MME(s) naming no EV seen in a run")
    return lines


def timers_json() -> dict[str, Any]:
    """The ISO 15118-3 timers and constants the checks used (provenance for the reader)."""
    out: dict[str, Any] = {timer.key: timer.ns / 1e6 for timer in TIMERS}
    out.update(C_EV_match_retry=C_EV_MATCH_RETRY, C_EV_start_atten_char_inds=C_EV_START_ATTEN_CHAR_INDS,
               C_EV_match_MNBC=C_EV_MATCH_MNBC)
    return out
