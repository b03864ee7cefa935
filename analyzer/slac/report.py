"""SLAC runs as a short text ladder with a verdict, or as plain JSON-ready dicts."""

from __future__ import annotations

from typing import Any

from chargescope.analyzer.records import Finding, Severity
from chargescope.analyzer.slac.runs import JOINED, MATCHED, SlacRun, Step


def verdict(run: SlacRun, findings: list[Finding]) -> str:
    if run.state == JOINED:
        text = "matched, joined"
    elif run.state == MATCHED:
        text = "matched, no traffic after" if any(
            f.code == "slac.join.none" for f in findings) else "matched"
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


def ladder_text(index: int, run: SlacRun, findings: list[Finding]) -> list[str]:
    lines = [f"SLAC run {index}  EV {run.ev_mac}  RUN_ID {run.run_id or '?'}  "
             f"verdict: {verdict(run, findings)}"]
    t0 = run.started_ns
    for step, count in _collapsed(run.steps):
        mark = " !" if step.unexpected else "  "
        times = f" x{count}" if count > 1 else ""
        lines.append(f" {mark}{(step.ts_ns - t0) / 1e9:+9.3f}s  {step.src_role:>5} -> "
                     f"{step.dst_role:<5} {step.name}{times}  {_detail(step)}".rstrip())
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
            "count": count, "unexpected": step.unexpected,
            "frame": step.message.refs[0].frame if step.message and step.message.refs
            else (step.traffic.frame if step.traffic else 0),
            "src": step.message.src if step.message else step.traffic.src,
            "dst": step.message.dst if step.message else step.traffic.dst,
            "fields": step.message.fields if step.message else {"what": step.traffic.what},
        } for step, count in _collapsed(run.steps)],
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
