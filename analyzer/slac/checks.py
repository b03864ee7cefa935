"""Checks over SLAC runs (ISO 15118-3 Annex A): registered findings, one small function each.

Codes are stable (deprecate, never rename). Requirement numbers are cited only where a
public source attests them; timers cite their Table A.1 symbol in the summary and
take their values from `timing.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from chargescope.analyzer.findings import FindingRegistry
from chargescope.analyzer.records import Finding, FindingSpec, Message, Severity
from chargescope.analyzer.slac import timing as t
from chargescope.analyzer.slac.runs import JOINED, MATCHED, V2G_TRAFFIC, EvseLeg, SlacRun

E, W, N = Severity.ERROR, Severity.WARNING, Severity.NOTE

SPECS: tuple[FindingSpec, ...] = (
    FindingSpec("slac.run.incomplete", E, "sequence",
                "SLAC run ended without CM_SLAC_MATCH.CNF: the EV never got onto a charger's network"),
    FindingSpec("slac.parm.unanswered", E, "sequence",
                "CM_SLAC_PARM.REQ answered by no EVSE (TT_match_response)"),
    FindingSpec("slac.parm.retry", N, "sequence",
                "EV repeated CM_SLAC_PARM.REQ (C_EV_match_retry)", "[V2G3-A09-16]"),
    FindingSpec("slac.retries.exhausted", E, "sequence",
                "EV used up its retries (C_EV_match_retry) without a match"),
    FindingSpec("slac.response.late", W, "timing",
                "response later than TT_match_response (200 ms)"),
    FindingSpec("slac.sequence.late", W, "timing",
                "gap in the matching sequence longer than TT_match_sequence (400 ms)"),
    FindingSpec("slac.start_atten.count", W, "protocol",
                "CM_START_ATTEN_CHAR.IND not sent C_EV_start_atten_char_inds (3) times"),
    FindingSpec("slac.sounds.missing", W, "protocol",
                "fewer M-sounds sent or received than NUM_SOUNDS announced (C_EV_match_MNBC)"),
    FindingSpec("slac.sounds.window", W, "timing",
                "M-sounds outside the TIME_OUT window (TT_EVSE_match_MNBC)"),
    FindingSpec("slac.batch.interval", N, "timing",
                "batch messages not spaced TP_EV_batch_msg_interval (20-50 ms)"),
    FindingSpec("slac.atten_results.timeout", E, "timing",
                "no CM_ATTEN_CHAR.IND within TT_EV_atten_results (1200 ms) of CM_START_ATTEN_CHAR.IND"),
    FindingSpec("slac.runid.mismatch", E, "protocol",
                "a SLAC message carries a RUN_ID other than the run's"),
    FindingSpec("slac.attenuation.high", W, "interop",
                "average attenuation above the configured limit: weak or wrong cable coupling"),
    FindingSpec("slac.match.not_lowest", W, "interop",
                "EV matched an EVSE that did not report the lowest attenuation"),
    FindingSpec("slac.validate.skipped", W, "sequence",
                "EVSE offered validation (CM_VALIDATE.CNF Ready) but the EV matched without a successful one"),
    FindingSpec("slac.validate.failed", E, "sequence",
                "EV matched an EVSE whose validation failed"),
    FindingSpec("slac.match.unanswered", E, "sequence",
                "CM_SLAC_MATCH.REQ answered by no CM_SLAC_MATCH.CNF (TT_match_response)", "[V2G3-A09-94]"),
    FindingSpec("slac.match.session_timeout", W, "timing",
                "matching request later than TT_EVSE_match_session (10 s) after CM_ATTEN_CHAR.RSP"),
    FindingSpec("slac.match.no_key", E, "security",
                "CM_SLAC_MATCH.CNF without NID or NMK"),
    FindingSpec("slac.nmk.changed", W, "security",
                "network key changed after the match", "[V2G3-A09-121]"),
    FindingSpec("slac.join.none", E, "sequence",
                "no traffic from or to the EV after a successful match (no SDP/V2G): joining failed"),
    # a note: the first frame seen bounds the join time from above, it does not measure it
    FindingSpec("slac.join.late", N, "timing",
                "first traffic after the match later than TT_match_join (12 s)"),
    FindingSpec("slac.sequence.unexpected", N, "sequence",
                "SLAC message out of the matching sequence"),
    FindingSpec("slac.init.late", W, "timing",
                "first CM_SLAC_PARM.REQ later than TT_EVSE_SLAC_init (50 s) after CP state B with 5 % PWM"),
    FindingSpec("slac.join.no_v2g", W, "sequence",
                "the EV is on the network after the match but sends no SDP or V2G (TCP) traffic"),
    FindingSpec("slac.capture.gaps", N, "capture",
                "steps of the matching sequence are missing from the capture (sniffer did not see them)"),
    FindingSpec("slac.capture.ends_mid_run", N, "capture",
                "the capture ends while a SLAC run is still within its timers: no verdict on it"),
    FindingSpec("slac.capture.duplicates", N, "capture",
                "the capture holds some SLAC frames twice (ignored for counts and timing)"),
)

REGISTRY = FindingRegistry(SPECS)


@dataclass(frozen=True, slots=True)
class SlacCheckConfig:
    attenuation_limit_db: float = t.DEFAULT_ATTENUATION_LIMIT_DB


def _f(code: str, text: str, run: SlacRun, *evidence: Message, ts_ns: int = 0, **extra) -> Finding:
    ts = ts_ns or (evidence[0].ts_ns if evidence else run.started_ns)
    return REGISTRY.make(code, text, ts_ns=ts, evidence=evidence, link="A",
                         ev_mac=run.ev_mac, run_id=run.run_id, **extra)


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.0f} ms"


def _first_after(messages: tuple[Message, ...], ts: int) -> Message | None:
    return next((m for m in messages if m.ts_ns >= ts), None)


def _is_matched(run: SlacRun) -> bool:
    return run.state in (MATCHED, JOINED)


# -- checks ---------------------------------------------------------------------------
def check_incomplete(run: SlacRun, cfg: SlacCheckConfig) -> Iterator[Finding]:
    if not _is_matched(run):
        last = run.steps[-1] if run.steps else None
        retries = 1 + t.C_EV_MATCH_RETRY
        answered = any(c.fields.get("run_id") == run.run_id  # a wrong RUN_ID is no answer
                       for leg in run.evses for c in leg.parm_cnf)
        gave_up = (len(run.parm_req) >= retries and not answered) \
            or any(len(leg.match_req) >= retries and not leg.match_cnf for leg in run.evses)
        if last is not None and not gave_up and \
                run.ended_ns - last.ts_ns < t.TT_EVSE_MATCH_SESSION.ns:
            # the capture stops while the run could still go on: no verdict on the run
            yield _f("slac.capture.ends_mid_run",
                     f"capture ends {_ms(run.ended_ns - last.ts_ns)} after {last.name}, in "
                     f"state {run.state}", run, *(s.message for s in run.steps[-1:] if s.message),
                     state=run.state)
            return
        yield _f("slac.run.incomplete",
                 f"run {run.run_id or '?'} of EV {run.ev_mac} stopped in state {run.state}"
                 + (f" after {last.name}" if last else ""), run,
                 *(s.message for s in run.steps[-1:] if s.message), state=run.state)


def check_parm(run: SlacRun, cfg: SlacCheckConfig) -> Iterator[Finding]:
    if run.parm_req and not any(leg.parm_cnf for leg in run.evses):
        yield _f("slac.parm.unanswered",
                 f"{len(run.parm_req)} CM_SLAC_PARM.REQ, no CM_SLAC_PARM.CNF", run, *run.parm_req)
    if len(run.parm_req) > 1:
        yield _f("slac.parm.retry", f"CM_SLAC_PARM.REQ sent {len(run.parm_req)} times", run,
                 *run.parm_req, count=len(run.parm_req))
    limit = 1 + t.C_EV_MATCH_RETRY
    if not _is_matched(run) and len(run.parm_req) >= limit:
        yield _f("slac.retries.exhausted",
                 f"CM_SLAC_PARM.REQ sent {len(run.parm_req)} times (1 + C_EV_match_retry = {limit})",
                 run, *run.parm_req)


def _late_pairs(run: SlacRun, leg: EvseLeg) -> Iterator[tuple[Message, Message]]:
    pairs = ((run.parm_req, leg.parm_cnf), (leg.atten_char, leg.atten_rsp),
             (leg.validate_req, leg.validate_cnf), (leg.match_req, leg.match_cnf))
    for requests, answers in pairs:
        for answer in answers:
            request = max((r for r in requests if r.ts_ns <= answer.ts_ns),
                          key=lambda r: r.ts_ns, default=None)
            if request is not None:
                yield request, answer


def check_response_times(run: SlacRun, cfg: SlacCheckConfig) -> Iterator[Finding]:
    for leg in run.evses:
        for request, answer in _late_pairs(run, leg):
            delay = answer.ts_ns - request.ts_ns
            if delay > t.TT_MATCH_RESPONSE.ns:
                yield _f("slac.response.late",
                         f"{answer.name} from {leg.mac} {_ms(delay)} after {request.name} "
                         f"(TT_match_response {_ms(t.TT_MATCH_RESPONSE.ns)})", run, request, answer,
                         delay_ns=delay, limit_ns=t.TT_MATCH_RESPONSE.ns, evse_mac=leg.mac)


def check_sequence_gap(run: SlacRun, cfg: SlacCheckConfig) -> Iterator[Finding]:
    cnfs = [m for leg in run.evses for m in leg.parm_cnf]
    if not cnfs or not run.start_atten:
        return
    first_start = run.start_atten[0]
    before = [c for c in cnfs if c.ts_ns <= first_start.ts_ns]
    if not before:
        return
    cnf = min(before, key=lambda c: first_start.ts_ns - c.ts_ns)
    gap = first_start.ts_ns - cnf.ts_ns
    if gap > t.TT_MATCH_SEQUENCE.ns:
        yield _f("slac.sequence.late",
                 f"CM_START_ATTEN_CHAR.IND {_ms(gap)} after CM_SLAC_PARM.CNF "
                 f"(TT_match_sequence {_ms(t.TT_MATCH_SEQUENCE.ns)})", run, cnf, first_start,
                 gap_ns=gap)


def _announced_sounds(run: SlacRun) -> int:
    """NUM_SOUNDS as the EV announced it (or the EVSE asked), else C_EV_match_MNBC."""
    for message in run.start_atten + tuple(m for leg in run.evses for m in leg.parm_cnf):
        value = message.fields.get("num_sounds")
        if isinstance(value, int):
            return value
    return t.C_EV_MATCH_MNBC


def check_sounding(run: SlacRun, cfg: SlacCheckConfig) -> Iterator[Finding]:
    if run.partial or not run.start_atten:
        return
    count = len(run.start_atten)
    if count % t.C_EV_START_ATTEN_CHAR_INDS:
        yield _f("slac.start_atten.count",
                 f"{count} CM_START_ATTEN_CHAR.IND (expected {t.C_EV_START_ATTEN_CHAR_INDS})",
                 run, *run.start_atten, count=count)
    announced = _announced_sounds(run)
    if len(run.sounds) < announced:
        yield _f("slac.sounds.missing",
                 f"EV sent {len(run.sounds)} CM_MNBC_SOUND.IND of {announced} announced", run,
                 *run.start_atten[:1], sent=len(run.sounds), announced=announced)
    for leg in run.evses:
        for ind in leg.atten_char:
            got = ind.fields.get("num_sounds")
            if isinstance(got, int) and got < announced:
                yield _f("slac.sounds.missing",
                         f"EVSE {leg.mac} received {got} of {announced} M-sounds", run, ind,
                         received=got, announced=announced, evse_mac=leg.mac)
    time_out = run.start_atten[0].fields.get("time_out")
    window = time_out * 100 * t.MS if isinstance(time_out, int) and time_out else t.TT_EVSE_MATCH_MNBC.ns
    late = [s for s in run.sounds if s.ts_ns - run.start_atten[0].ts_ns > window]
    if late:
        yield _f("slac.sounds.window",
                 f"{len(late)} M-sound(s) later than {_ms(window)} after CM_START_ATTEN_CHAR.IND",
                 run, run.start_atten[0], *late, window_ns=window)
    low = t.TP_EV_BATCH_MSG_INTERVAL_MIN.ns - t.BATCH_JITTER_NS
    high = t.TP_EV_BATCH_MSG_INTERVAL_MAX.ns + t.BATCH_JITTER_NS
    odd = []
    for batch in (run.start_atten, run.sounds):  # the interval holds within each batch;
        for a, b in zip(batch, batch[1:], strict=False):  # a pause > the sounding window
            gap = b.ts_ns - a.ts_ns  # is a new batch (a retry), not a slow one
            if gap < low or high < gap <= t.TT_EVSE_MATCH_MNBC.ns:
                odd.append((a, b))
    if odd:
        a, b = odd[0]
        yield _f("slac.batch.interval",
                 f"{len(odd)} batch gap(s) outside 20-50 ms, first {_ms(b.ts_ns - a.ts_ns)}",
                 run, a, b, count=len(odd))


def check_atten_results(run: SlacRun, cfg: SlacCheckConfig) -> Iterator[Finding]:
    if not run.start_atten:
        return
    start = run.start_atten[0].ts_ns
    inds = sorted((m for leg in run.evses for m in leg.atten_char), key=lambda m: m.ts_ns)
    first = _first_after(tuple(inds), start)
    deadline = start + t.TT_EV_ATTEN_RESULTS.ns
    if first is None and run.ended_ns >= deadline:
        yield _f("slac.atten_results.timeout",
                 "no CM_ATTEN_CHAR.IND after CM_START_ATTEN_CHAR.IND", run, run.start_atten[0])
    elif first is not None and first.ts_ns > deadline:
        yield _f("slac.atten_results.timeout",
                 f"first CM_ATTEN_CHAR.IND {_ms(first.ts_ns - start)} after CM_START_ATTEN_CHAR.IND "
                 f"(TT_EV_atten_results {_ms(t.TT_EV_ATTEN_RESULTS.ns)})", run,
                 run.start_atten[0], first)


def check_run_id(run: SlacRun, cfg: SlacCheckConfig) -> Iterator[Finding]:
    if not run.run_id:
        return
    wrong: dict[str, list[Message]] = {}
    for step in run.steps:
        other = step.message.fields.get("run_id") if step.message else None
        if other and other != run.run_id:
            wrong.setdefault(other, []).append(step.message)
    for other, messages in wrong.items():
        names = sorted({m.name for m in messages})
        yield _f("slac.runid.mismatch",
                 f"{len(messages)} message(s) ({', '.join(names)}) carry RUN_ID {other}, "
                 f"the EV's is {run.run_id}", run, *messages, found=other, count=len(messages))


def _matched_evse(run: SlacRun) -> EvseLeg | None:
    return next((leg for leg in run.evses if leg.match_req), None)


def check_attenuation(run: SlacRun, cfg: SlacCheckConfig) -> Iterator[Finding]:
    chosen = _matched_evse(run)
    for leg in run.evses:
        average = leg.average_attenuation
        if average is not None and average > cfg.attenuation_limit_db and (chosen in (None, leg)):
            yield _f("slac.attenuation.high",
                     f"EVSE {leg.mac} average attenuation {average:.1f} dB > "
                     f"{cfg.attenuation_limit_db:g} dB", run, leg.atten_char[-1],
                     average_db=round(average, 2), evse_mac=leg.mac)
    if chosen is None or chosen.average_attenuation is None:
        return
    measured = [leg for leg in run.evses if leg.average_attenuation is not None]
    best = min(measured, key=lambda leg: leg.average_attenuation)
    if best is not chosen and best.average_attenuation < chosen.average_attenuation:
        yield _f("slac.match.not_lowest",
                 f"matched {chosen.mac} ({chosen.average_attenuation:.1f} dB) but {best.mac} "
                 f"reported {best.average_attenuation:.1f} dB", run, chosen.match_req[0],
                 best.atten_char[-1], chosen=chosen.mac, lowest=best.mac)


VALIDATE_READY, VALIDATE_SUCCESS, VALIDATE_FAILURE = 1, 2, 3


def check_validation(run: SlacRun, cfg: SlacCheckConfig) -> Iterator[Finding]:
    chosen = _matched_evse(run)
    if chosen is None:
        return
    match_ts = chosen.match_req[0].ts_ns
    results = [m for m in chosen.validate_cnf if m.ts_ns <= match_ts]
    codes = [m.fields.get("result") for m in results]
    if VALIDATE_FAILURE in codes:
        failed = results[codes.index(VALIDATE_FAILURE)]
        yield _f("slac.validate.failed", f"matched {chosen.mac} after CM_VALIDATE.CNF Failure",
                 run, failed, chosen.match_req[0], evse_mac=chosen.mac)
    elif VALIDATE_READY in codes and VALIDATE_SUCCESS not in codes:
        ready = results[codes.index(VALIDATE_READY)]
        yield _f("slac.validate.skipped",
                 f"{chosen.mac} answered CM_VALIDATE Ready; no successful validation before the match",
                 run, ready, chosen.match_req[0], evse_mac=chosen.mac)


def check_match(run: SlacRun, cfg: SlacCheckConfig) -> Iterator[Finding]:
    for leg in run.evses:
        if leg.match_req and not leg.match_cnf:
            code = "slac.match.unanswered"
            yield _f(code, f"{len(leg.match_req)} CM_SLAC_MATCH.REQ to {leg.mac}, no CNF", run,
                     *leg.match_req, evse_mac=leg.mac)
            if len(leg.match_req) >= 1 + t.C_EV_MATCH_RETRY:
                yield _f("slac.retries.exhausted",
                         f"CM_SLAC_MATCH.REQ sent {len(leg.match_req)} times", run, *leg.match_req)
        for cnf in leg.match_cnf:
            nid, nmk = cnf.fields.get("nid"), cnf.fields.get("nmk")
            if not nid or not nmk or set(nid) == {"0"} or set(str(nmk)) == {"0"}:
                yield _f("slac.match.no_key", f"CM_SLAC_MATCH.CNF from {leg.mac} lacks NID/NMK",
                         run, cnf, evse_mac=leg.mac)
        attens = leg.atten_rsp or leg.atten_char
        asked = (leg.validate_req + leg.match_req)
        if attens and asked:
            gap = asked[0].ts_ns - attens[-1].ts_ns if asked[0].ts_ns >= attens[-1].ts_ns else 0
            if gap > t.TT_EVSE_MATCH_SESSION.ns:
                yield _f("slac.match.session_timeout",
                         f"{asked[0].name} {_ms(gap)} after {attens[-1].name}", run, attens[-1],
                         asked[0], gap_ns=gap)


def check_keys(run: SlacRun, cfg: SlacCheckConfig) -> Iterator[Finding]:
    cnfs = [m for leg in run.evses for m in leg.match_cnf]
    if not cnfs:
        return
    first = cnfs[0]
    key = first.fields.get("nmk")
    for other in cnfs[1:]:
        if other.fields.get("nmk") != key or other.fields.get("nid") != first.fields.get("nid"):
            yield _f("slac.nmk.changed", "a later CM_SLAC_MATCH.CNF hands out another NID/NMK",
                     run, first, other)
    session = [tr.ts_ns for tr in run.traffic if tr.what in V2G_TRAFFIC]
    last_traffic = session[-1] if session else 0
    for set_key in run.set_keys:
        new_key = set_key.fields.get("new_key")
        # a new key after the EV's last traffic is the end-of-session reset [V2G3-A09-121]
        if first.ts_ns < set_key.ts_ns < last_traffic and new_key and new_key != key:
            yield _f("slac.nmk.changed",
                     f"CM_SET_KEY.REQ from {set_key.src} after the match sets another NMK", run,
                     first, set_key)


def check_join(run: SlacRun, cfg: SlacCheckConfig) -> Iterator[Finding]:
    leg = run.matched_leg
    if leg is None:
        return
    matched_at = leg.match_cnf[0].ts_ns
    after = [tr for tr in run.traffic if tr.ts_ns >= matched_at]
    if not after:
        if run.ended_ns - matched_at >= t.TT_MATCH_JOIN.ns:  # else the capture is too short
            blind = any(s.skipped for s in run.steps)
            yield _f("slac.join.none",
                     f"nothing from or to {run.ev_mac} in the {_ms(run.ended_ns - matched_at)} "
                     f"after CM_SLAC_MATCH.CNF" + (" (this capture also misses SLAC steps: the "
                                                   "sniffer may not see unicast frames)" if blind else ""),
                     run, leg.match_cnf[0], sniffer_gaps=blind)
        return
    if not any(tr.what in V2G_TRAFFIC for tr in after) and \
            run.ended_ns - matched_at >= t.TT_MATCH_JOIN.ns:
        yield _f("slac.join.no_v2g",
                 f"{len(after)} frame(s) from/to the EV after the match, none SDP or TCP "
                 f"(first: {after[0].what})", run, leg.match_cnf[0])
    delay = after[0].ts_ns - matched_at
    if delay > t.TT_MATCH_JOIN.ns:
        yield _f("slac.join.late", f"first traffic ({after[0].what}) {_ms(delay)} after the match",
                 run, leg.match_cnf[0], delay_ns=delay)


def check_unexpected(run: SlacRun, cfg: SlacCheckConfig) -> Iterator[Finding]:
    odd = [s for s in run.steps if s.unexpected and s.message is not None]
    if odd:
        yield _f("slac.sequence.unexpected",
                 f"{len(odd)} message(s) out of sequence, first {odd[0].name}", run,
                 *(s.message for s in odd[:5]), count=len(odd))


HLC_DUTY = 5  # % PWM: the EVSE asks for high-level (ISO 15118 / DIN 70121) communication
CP_B, CP_C = 0x03, 0x05


def check_init(run: SlacRun, cfg: SlacCheckConfig) -> Iterator[Finding]:
    if run.partial or not run.parm_req or not run.cp_states:
        return
    first_req = run.parm_req[0]
    since = None
    for cp in run.cp_states:
        if cp.ts_ns > first_req.ts_ns:
            break
        hlc = cp.fields.get("pwm_duty") == HLC_DUTY and cp.fields.get("cp_state") in (CP_B, CP_C)
        since = (since or cp) if hlc else None
    if since is None:
        return
    delay = first_req.ts_ns - since.ts_ns
    if delay > t.TT_EVSE_SLAC_INIT_MAX.ns:
        yield _f("slac.init.late",
                 f"first CM_SLAC_PARM.REQ {delay / 1e9:.1f} s after CP state B/5 % "
                 f"(TT_EVSE_SLAC_init 20-50 s)", run, since, first_req, delay_ns=delay)


def check_gaps(run: SlacRun, cfg: SlacCheckConfig) -> Iterator[Finding]:
    jumps = [s for s in run.steps if s.skipped and s.message is not None]
    if jumps:
        yield _f("slac.capture.gaps",
                 f"{len(jumps)} step(s) arrived without the steps before them, first {jumps[0].name}",
                 run, *(s.message for s in jumps[:5]), count=len(jumps))


def check_duplicates(run: SlacRun, cfg: SlacCheckConfig) -> Iterator[Finding]:
    if run.duplicates:
        yield _f("slac.capture.duplicates", f"{len(run.duplicates)} SLAC frame(s) recorded twice",
                 run, *run.duplicates[:5], count=len(run.duplicates))


CHECKS: tuple[Callable[[SlacRun, SlacCheckConfig], Iterator[Finding]], ...] = (
    check_incomplete, check_parm, check_response_times, check_sequence_gap, check_sounding,
    check_atten_results, check_run_id, check_attenuation, check_validation, check_match,
    check_keys, check_join, check_unexpected, check_duplicates, check_init, check_gaps,
)


def check_run(run: SlacRun, cfg: SlacCheckConfig | None = None) -> list[Finding]:
    cfg = cfg or SlacCheckConfig()
    findings = [finding for check in CHECKS for finding in check(run, cfg)]
    return sorted(findings, key=lambda f: (f.ts_ns, -f.severity))
