"""The verdict of a V2G session: how it ended and, when it failed, why.

Rules (one place): a FAILED response code ends a session by rule; any other error ends it
only if the EV did not go on from it (to a request of another stage, the shutdown sequence
aside); violations the EV tolerated (late answers, regulation deviations) stay findings when
the session still ends with an acknowledged SessionStop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chargescope.analyzer.records import Finding
from chargescope.analyzer.v2g import states
from chargescope.analyzer.v2g.protocols import STAGES
from chargescope.analyzer.v2g.records import Exchange, Outcome
from chargescope.analyzer.v2g.tree import body

SHUTDOWN_PHASE = frozenset({"WeldingDetection", "DC_WeldingDetection", "SessionStop"})
# Violations the EV put up with: when it still ends the session with an acknowledged
# SessionStop, they are findings, not the verdict.
TOLERATED = frozenset({"v2g.timing.response_timeout", "v2g.dc.overvoltage",
                       "v2g.dc.overcurrent", "v2g.dc.voltage_deviation",
                       "v2g.sequence.unexpected", "v2g.session.id_mismatch"})

# Which finding decides the verdict when several happened (earliest of the highest rank wins).
DECISIVE = (
    "v2g.handshake.failed", "v2g.response.failed", "v2g.evse.shutdown",
    "v2g.evse.isolation_fault", "v2g.ac.rcd", "v2g.ev.error",
    "v2g.timing.response_timeout", "v2g.timing.sequence_timeout",
    "v2g.timing.ongoing_timeout", "v2g.timing.cable_check_timeout",
    "v2g.timing.precharge_timeout", "v2g.dc.precharge_not_converged",
    "v2g.dc.overvoltage", "v2g.evse.stop_requested", "v2g.sequence.unexpected",
    "v2g.response.missing", "v2g.session.tcp_reset", "v2g.session.no_stop",
    "v2g.session.id_mismatch",
)


def progress_after(exchanges: Sequence[Exchange], f: Finding) -> bool:
    """Did the EV go on after `f`, to a request of another stage (the shutdown sequence —
    PowerDelivery stop, WeldingDetection, SessionStop — does not count)? Then `f` was not
    what ended the session."""
    if f.code in ("v2g.response.failed", "v2g.handshake.failed"):
        return False  # a FAILED answer ends the session by rule, whatever the EV does next
    stage = f.extra.get("stage")
    for ex in exchanges:
        req = ex.request
        if req is None or req.ts_ns <= f.ts_ns or ex.name in SHUTDOWN_PHASE:
            continue
        if states.state_of(ex.name, body(req)) == states.PD_STOP:
            continue
        # a violation of the tolerable kind is shrugged off by simply carrying on
        if STAGES.get(ex.name, ex.name) != stage or f.code in TOLERATED:
            return True
    return False


@dataclass(frozen=True, slots=True)
class Ending:
    """How a session's traffic ended, as the builder saw it."""

    stage: str  # the stage reached
    stop_ok: bool  # SessionStop acknowledged
    paused: bool  # ... with ChargingSession=Pause, not resumed
    charged: bool  # the charging loop was reached
    ended: str  # "fin", "rst", "end-of-capture" or "" (still open)
    stop_unseen: bool = False  # SessionStop sent, its answer lost by the capture


def judge(findings: Sequence[Finding], exchanges: Sequence[Exchange], s: Ending) -> Outcome:
    """The verdict: success, or the stage and the first error the session did not go on
    from; "incomplete" when the capture simply ends."""
    rank = {code: i for i, code in enumerate(DECISIVE)}
    decisive = [f for f in findings if f.code in rank]
    unrecovered = [f for f in decisive if f.severity >= 3 and not progress_after(exchanges, f)
                   and not (s.stop_ok and f.code in TOLERATED)]
    if s.stop_ok and not s.paused and not unrecovered:
        # errors the session went on from (e.g. a late response the EV tolerated) stay in the
        # findings; the verdict is about how the session ended
        how = "after charging" if s.charged else "before any energy transfer"
        if any(f.code == "v2g.evse.stop_requested" for f in findings):
            how += " (the EVSE asked to stop)"
        return Outcome("success", "session stop", f"SessionStop acknowledged {how}", "",
                       s.charged)
    if s.stop_unseen and not unrecovered:
        return Outcome("incomplete", s.stage, "SessionStop sent; the capture lost its answer",
                       "v2g.response.not_captured", s.charged)
    if decisive:
        # The cause is the first error the session never recovered from: after it, no
        # exchange of another stage was answered OK (SessionStop aside). An EV that ignores
        # a late precharge and charges on has not failed at precharge.
        errors = [f for f in decisive if f.severity >= 3] or decisive
        fatal = unrecovered or errors
        cause = min(fatal, key=lambda f: (f.ts_ns, rank[f.code]))
        return Outcome("failed", str(cause.extra.get("stage", s.stage)), cause.text,
                       cause.code, s.charged)
    if s.paused:
        return Outcome("incomplete", s.stage, "session paused (SessionStop Pause) and not "
                       "resumed in the capture", "", s.charged)
    if s.ended == "end-of-capture" or not s.ended:
        return Outcome("incomplete", s.stage, f"capture ends at stage {s.stage}",
                       "v2g.session.capture_ended", s.charged)
    return Outcome("failed", s.stage, f"connection ended ({s.ended}) at stage {s.stage}",
                   "", s.charged)
