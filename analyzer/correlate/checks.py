"""Cross-link checks: failures only visible when links A, B and C are read together.

Every rule is a registered `FindingSpec` (stable `xlink.*` code, severity, group,
summary) paired with a small function over one joined charging session. Rules reason
over the milestone vocabulary (`milestones.py`) and the parts' keys, never over raw
protocol fields, so they hold for every protocol version a link builder understands.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from chargescope.analyzer.correlate.keys import emaid_core, emaids, identity_tokens, normalise
from chargescope.analyzer.correlate.model import ClockOffset, LinkEvent, LinkSession
from chargescope.analyzer.findings import FindingRegistry
from chargescope.analyzer.records import Finding, FindingSpec, Severity

SECOND = 1_000_000_000
E, W, N = Severity.ERROR, Severity.WARNING, Severity.NOTE

# Tolerances: the energy rules accept rounding and the usual meter-vs-EV difference.
ENERGY_ABS_WH = 50.0
ENERGY_REL = 0.02
CLOCK_OFFSET_LIMIT_NS = 5 * SECOND
START_TIMEOUT_NS = 120 * SECOND  # OCPI START_SESSION -> transaction on B / session on A
TX_CLOSE_GRACE_NS = 60 * SECOND  # V2G stop -> transaction end on B
OCPI_REPORT_GRACE_NS = 300 * SECOND  # transaction end -> OCPI session COMPLETED / CDR


@dataclass(frozen=True, slots=True)
class Context:
    """What a rule may know besides the session: clocks and capture coverage per link."""

    offsets: dict[str, ClockOffset]
    coverage: dict[str, tuple[int, int]]  # link -> (first, last) time captured, reference clock

    def t(self, part: LinkSession, ts_ns: int) -> int:
        offset = self.offsets.get(part.source)
        return ts_ns + (offset.offset_ns if offset else 0)

    def covered_until(self, link: str) -> int | None:
        span = self.coverage.get(link)
        return span[1] if span else None


@dataclass(frozen=True, slots=True)
class Hit:
    text: str
    ts_ns: int
    events: tuple[LinkEvent, ...] = ()


Rule = Callable[[list[LinkSession], Context], Iterator[Hit]]


def _events(parts: list[LinkSession], name: str, ctx: Context) -> list[tuple[int, LinkEvent]]:
    """All milestones `name` of the parts, with reference-clock times, in time order."""
    out = [(ctx.t(p, e.ts_ns), e) for p in parts for e in p.events if e.name == name]
    return sorted(out, key=lambda pair: pair[0])


def _first(parts, name, ctx) -> tuple[int, LinkEvent] | None:
    found = _events(parts, name, ctx)
    return found[0] if found else None


def _link(parts: list[LinkSession], link: str) -> list[LinkSession]:
    return [p for p in parts if p.link == link]


# ---- rules ---------------------------------------------------------------------------

def auth_a_failed_b_accepted(parts, ctx):
    ok = _first(parts, "v2g.auth_ok", ctx)
    bad = _first(parts, "v2g.auth_failed", ctx) or _first(parts, "v2g.auth_ongoing", ctx)
    acc = _first(parts, "ocpp.authorize_accepted", ctx)
    if bad and acc and not ok:
        state = "failed" if bad[1].name == "v2g.auth_failed" else "stayed Ongoing"
        yield Hit(f"EV authorization {state} on link A although the CSMS accepted the "
                  f"identity on link B", bad[0], (bad[1], acc[1]))


def auth_a_waiting_no_b(parts, ctx):
    waiting = _first(parts, "v2g.auth_ongoing", ctx)
    if not waiting or _first(parts, "v2g.auth_ok", ctx) or not _link(parts, "B"):
        return
    if not (_first(parts, "ocpp.authorize_accepted", ctx)
            or _first(parts, "ocpp.authorize_rejected", ctx)):
        yield Hit("EV waited for authorization (EVSEProcessing=Ongoing) but the charger never "
                  "sent Authorize to the CSMS", waiting[0], (waiting[1],))


def auth_b_rejected_a_ok(parts, ctx):
    rej = _first(parts, "ocpp.authorize_rejected", ctx)
    ok = _first(parts, "v2g.auth_ok", ctx)
    if rej and ok and not _first(parts, "ocpp.authorize_accepted", ctx):
        yield Hit("The charger authorized the EV on link A although the CSMS rejected the "
                  "identity on link B", ok[0], (rej[1], ok[1]))


def auth_b_rejected_c_allowed(parts, ctx):
    rej = _first(parts, "ocpp.authorize_rejected", ctx)
    if not rej:
        return
    for _ts, event in _events(parts, "ocpi.token_authorized", ctx) + _events(
            parts, "ocpi.token_known", ctx):
        allowed = str(event.detail.get("allowed", "")).upper()
        valid = event.detail.get("valid")
        if allowed == "ALLOWED" or (event.name == "ocpi.token_known" and valid is True):
            yield Hit("The CSMS rejected a token that the eMSP reports as allowed on link C",
                      rej[0], (rej[1], event))
            return


def auth_token_unknown_on_c(parts, ctx):
    auth = _first(parts, "ocpp.authorize_accepted", ctx) or _first(
        parts, "ocpp.authorize_rejected", ctx)
    unknown = _first(parts, "ocpi.token_unknown", ctx)
    if auth and unknown:
        yield Hit("The token presented on link B is unknown to the eMSP on link C",
                  unknown[0], (auth[1], unknown[1]))


def pnc_certificate_failure(parts, ctx):
    b_fail = _first(parts, "ocpp.cert_failed", ctx)
    a_fail = _first(parts, "v2g.cert_failed", ctx) or _first(parts, "v2g.auth_failed", ctx)
    if b_fail and a_fail:
        yield Hit("A certificate operation failed on link B "
                  f"({b_fail[1].detail.get('action', 'certificate request')}), which explains "
                  "the Plug & Charge failure on link A", a_fail[0], (b_fail[1], a_fail[1]))


def slac_matched_no_v2g(parts, ctx):
    matched = _first(parts, "slac.matched", ctx)
    if not matched or _first(parts, "v2g.session_setup", ctx):
        return
    plugged = [(ts, e) for ts, e in _events(parts, "ocpp.status", ctx)
               if str(e.detail.get("status", "")) in ("Preparing", "Occupied")]
    if plugged:
        yield Hit("SLAC matched but no V2G session followed, while the charger reported the "
                  "EV plugged in on link B", matched[0], (matched[1], plugged[0][1]))


def tx_open_after_v2g_stop(parts, ctx):
    stop = _first(parts, "v2g.stop", ctx)
    started = _first(parts, "ocpp.tx_started", ctx)
    if not stop or not started or _first(parts, "ocpp.tx_ended", ctx):
        return
    until = ctx.covered_until("B")
    if until is not None and until > stop[0] + TX_CLOSE_GRACE_NS:
        yield Hit("The V2G session stopped on link A but the transaction on link B was never "
                  "ended", stop[0], (stop[1], started[1]))


def tx_ended_while_charging(parts, ctx):
    ended = _first(parts, "ocpp.tx_ended", ctx)
    if not ended:
        return
    later = [(ts, e) for ts, e in _events(parts, "v2g.charging_loop", ctx)
             if ts > ended[0] + 5 * SECOND]
    if later:
        yield Hit("The transaction ended on link B while the EV was still in the charging loop "
                  "on link A", ended[0], (ended[1], later[0][1]))


def _energy(parts: list[LinkSession], link: str) -> tuple[float, LinkSession] | None:
    for part in _link(parts, link):
        if part.energy_wh is not None:
            return part.energy_wh, part
    return None


def _energy_rule(first: str, second: str):
    def rule(parts, ctx):
        x, y = _energy(parts, first), _energy(parts, second)
        if not x or not y:
            return
        diff = abs(x[0] - y[0])
        if diff > max(ENERGY_ABS_WH, ENERGY_REL * max(x[0], y[0])):
            yield Hit(f"Energy disagrees: {x[0]:.0f} Wh on link {first} vs {y[0]:.0f} Wh on "
                      f"link {second} (difference {diff:.0f} Wh)",
                      ctx.t(y[1], y[1].end_ns), ())
    rule.__name__ = f"energy_{first}_{second}".lower()
    return rule


_STOP_CLASS = {"ev": "ev", "evse": "station", "local": "station", "remote": "remote",
               "fault": "fault", "power-loss": "fault"}


def stop_reason_mismatch(parts, ctx):
    a = [p for p in _link(parts, "A") if p.stop_reason]
    b = [p for p in _link(parts, "B") if p.stop_reason]
    if a and b:
        ca = _STOP_CLASS.get(a[0].stop_reason, "other")
        cb = _STOP_CLASS.get(b[0].stop_reason, "other")
        if ca != cb and "other" not in (ca, cb):
            yield Hit(f"Stop reasons disagree: link A says {a[0].stop_reason}, link B says "
                      f"{b[0].stop_reason}", ctx.t(b[0], b[0].end_ns))


def _accepted_start(parts, ctx):
    for ts, event in _events(parts, "ocpi.start_session", ctx):
        if str(event.detail.get("result", "")).upper() == "ACCEPTED":
            return ts, event
    return None


def ocpi_start_no_tx(parts, ctx):
    start = _accepted_start(parts, ctx)
    if not start:
        return
    tx = _first(parts, "ocpp.tx_started", ctx)
    until = ctx.covered_until("B")
    if (tx is None or tx[0] > start[0] + START_TIMEOUT_NS) and until is not None \
            and until > start[0] + START_TIMEOUT_NS:
        yield Hit("OCPI START_SESSION was accepted but no transaction started on link B within "
                  f"{START_TIMEOUT_NS // SECOND} s", start[0], (start[1],))


def ocpi_start_no_v2g(parts, ctx):
    start = _accepted_start(parts, ctx)
    if not start or _first(parts, "ocpp.tx_started", ctx) is None:
        return
    setup = _first(parts, "v2g.session_setup", ctx) or _first(parts, "slac.matched", ctx)
    until = ctx.covered_until("A")
    if setup is None and until is not None and until > start[0] + START_TIMEOUT_NS:
        yield Hit("OCPI START_SESSION was accepted and link B started a transaction, but no "
                  "EV session appeared on link A", start[0], (start[1],))


def ocpi_active_after_tx_end(parts, ctx):
    ended = _first(parts, "ocpp.tx_ended", ctx)
    active = _first(parts, "ocpi.session_active", ctx)
    if not ended or not active or _first(parts, "ocpi.session_completed", ctx):
        return
    until = ctx.covered_until("C")
    if until is not None and until > ended[0] + OCPI_REPORT_GRACE_NS:
        yield Hit("The OCPI session stayed ACTIVE after the transaction ended on link B",
                  ended[0] + OCPI_REPORT_GRACE_NS, (ended[1], active[1]))


def ocpi_cdr_missing(parts, ctx):
    ended = _first(parts, "ocpp.tx_ended", ctx)
    done = _first(parts, "ocpi.session_completed", ctx)
    if not ended or not done or _first(parts, "ocpi.cdr", ctx):
        return
    until = ctx.covered_until("C")
    if until is not None and until > done[0] + OCPI_REPORT_GRACE_NS:
        yield Hit("The OCPI session completed but no CDR was sent", done[0], (done[1],))


def evse_id_mismatch(parts, ctx):
    a = {normalise("evse_id", p.keys.get("evse_id")) for p in _link(parts, "A")} - {""}
    c = {normalise("evse_id", p.keys.get("evse_id")) for p in _link(parts, "C")} - {""}
    if a and c and not a & c:
        part = _link(parts, "C")[0]
        yield Hit(f"The EVSEID the charger announced on link A ({', '.join(sorted(a))}) is not "
                  f"the evse_id reported on link C ({', '.join(sorted(c))})",
                  ctx.t(part, part.start_ns))


def identity_mismatch(parts, ctx):
    """A's contract vs a non-eMAID token on B (an RFID card where PnC was expected);
    eMAID against eMAID is `emaid_mismatch`'s."""
    a = {t for p in _link(parts, "A") if p.keys.get("emaid")
         for t in identity_tokens({"emaid": p.keys["emaid"]})}
    b = {t for p in _link(parts, "B") if p.keys.get("id_token")
         and not emaid_core(p.keys["id_token"])
         for t in identity_tokens({"id_token": p.keys["id_token"]})}
    if a and b and not a & b:
        part = _link(parts, "B")[0]
        yield Hit(f"The EV presented contract {', '.join(sorted(a))} on link A but the charger "
                  f"authorized {', '.join(sorted(b))} on link B", ctx.t(part, part.start_ns))


def emaid_mismatch(parts, ctx):
    """The contract (eMAID) named on two links differs: the EV's contract certificate on A,
    the idToken of type eMAID / idTag on B, the token contract_id / uid on C. Compared
    without separators, case and check digit (`keys.emaid_core`)."""
    by_link: dict[str, dict[str, str]] = {}
    for part in parts:
        for core, sent in emaids(part.keys).items():
            by_link.setdefault(part.link, {}).setdefault(core, sent)
    links = sorted(by_link)
    for i, x in enumerate(links):
        for y in links[i + 1:]:
            if not by_link[x].keys() & by_link[y].keys():
                part = min((p for p in parts if p.link in (x, y) and emaids(p.keys)),
                           key=lambda p: ctx.t(p, p.start_ns))
                named = "; ".join(f"link {link}: {', '.join(sorted(by_link[link].values()))}"
                                  for link in links)
                yield Hit(f"The charging session names different contracts (eMAIDs): {named}",
                          ctx.t(part, part.start_ns))
                return


def contract_certificate_mismatch(parts, ctx):
    """The OCSP hash data the charger sent the CSMS on B (Authorize
    iso15118CertificateHashData) names no certificate with the serial of the contract
    certificate the EV presented on A: the CSMS checked another contract."""
    a = {normalise("contract_serial", p.keys["contract_serial"])
         for p in _link(parts, "A") if p.keys.get("contract_serial")}
    b_parts = [p for p in _link(parts, "B") if p.keys.get("contract_serial")]
    b = {normalise("contract_serial", s) for p in b_parts
         for s in p.keys["contract_serial"].split(",")}
    if a and b and not a & b:
        part = b_parts[0]
        yield Hit(f"The EV presented contract certificate serial {', '.join(sorted(a))} on "
                  f"link A but the charger sent the CSMS certificate hash data for serial(s) "
                  f"{', '.join(sorted(b))} on link B", ctx.t(part, part.start_ns))


def unmatched_part(parts, ctx):
    if len({p.link for p in parts}) != 1:
        return
    part = parts[0]
    start, end = ctx.t(part, part.start_ns), ctx.t(part, part.end_ns)
    others = [link for link, (first, last) in ctx.coverage.items()
              if link != part.link and first <= end and start <= last]
    if others:
        yield Hit(f"No session on link(s) {', '.join(sorted(others))} could be joined to this "
                  f"link {part.link} session although those links were captured at that time",
                  start)


# ---- the registration table ----------------------------------------------------------

RULES: tuple[tuple[FindingSpec, Rule], ...] = (
    (FindingSpec("xlink.auth.a_failed_b_accepted", E, "interop",
                 "V2G authorization failed or stuck while the CSMS accepted the identity"),
     auth_a_failed_b_accepted),
    (FindingSpec("xlink.auth.a_waiting_no_authorize", E, "interop",
                 "EV waited for authorization but the charger never asked the CSMS"),
     auth_a_waiting_no_b),
    (FindingSpec("xlink.auth.b_rejected_a_authorized", E, "security",
                 "Charger authorized the EV although the CSMS rejected the identity"),
     auth_b_rejected_a_ok),
    (FindingSpec("xlink.auth.b_rejected_c_allowed", E, "interop",
                 "CSMS rejected a token the eMSP reports as allowed"), auth_b_rejected_c_allowed),
    (FindingSpec("xlink.auth.token_unknown_on_c", W, "interop",
                 "Token used on link B is unknown on link C"), auth_token_unknown_on_c),
    (FindingSpec("xlink.pnc.certificate_failure", E, "security",
                 "Certificate operation failed on link B, explaining a PnC failure on link A"),
     pnc_certificate_failure),
    (FindingSpec("xlink.slac.matched_no_v2g", E, "interop",
                 "SLAC matched but no V2G session while the charger saw the EV plugged in"),
     slac_matched_no_v2g),
    (FindingSpec("xlink.tx.open_after_v2g_stop", E, "sequence",
                 "V2G session stopped but the OCPP transaction was never ended"),
     tx_open_after_v2g_stop),
    (FindingSpec("xlink.tx.ended_while_charging", E, "sequence",
                 "OCPP transaction ended while the EV was still charging"),
     tx_ended_while_charging),
    (FindingSpec("xlink.energy.a_b_mismatch", W, "billing",
                 "Energy on link A and link B disagree beyond tolerance"),
     _energy_rule("A", "B")),
    (FindingSpec("xlink.energy.b_c_mismatch", W, "billing",
                 "Energy on link B and link C (session/CDR) disagree beyond tolerance"),
     _energy_rule("B", "C")),
    (FindingSpec("xlink.stop_reason.mismatch", W, "interop",
                 "Links disagree on why the session stopped"), stop_reason_mismatch),
    (FindingSpec("xlink.ocpi.start_no_transaction", E, "interop",
                 "OCPI START_SESSION accepted but no OCPP transaction followed"),
     ocpi_start_no_tx),
    (FindingSpec("xlink.ocpi.start_no_v2g", W, "interop",
                 "OCPI START_SESSION accepted but no EV session on link A"), ocpi_start_no_v2g),
    (FindingSpec("xlink.ocpi.active_after_tx_end", W, "sequence",
                 "OCPI session still ACTIVE after the OCPP transaction ended"),
     ocpi_active_after_tx_end),
    (FindingSpec("xlink.ocpi.cdr_missing", W, "billing",
                 "OCPI session completed without a CDR"), ocpi_cdr_missing),
    (FindingSpec("xlink.evse_id.mismatch", W, "interop",
                 "EVSEID on link A differs from the evse_id on link C"), evse_id_mismatch),
    (FindingSpec("xlink.identity.mismatch", W, "security",
                 "Contract presented on link A differs from the identity authorized on link B"),
     identity_mismatch),
    (FindingSpec("xlink.emaid.mismatch", E, "security",
                 "One charging session carries different eMAIDs on links A, B and C "
                 "(contract certificate, OCPP idToken, OCPI token)"), emaid_mismatch),
    (FindingSpec("xlink.pnc.certificate_hash_mismatch", E, "security",
                 "OCPP Authorize iso15118CertificateHashData does not name the contract "
                 "certificate the EV presented on link A"), contract_certificate_mismatch),
    (FindingSpec("xlink.join.unmatched", N, "correlation",
                 "Per-link session could not be joined although other links were captured"),
     unmatched_part),
)

CLOCK_SPEC = FindingSpec("xlink.clock.offset", W, "timing",
                         "Capture sources' clocks differ beyond the threshold")

SPECS: tuple[FindingSpec, ...] = tuple(spec for spec, _ in RULES) + (CLOCK_SPEC,)
REGISTRY = FindingRegistry(SPECS)


def run_checks(parts: list[LinkSession], ctx: Context) -> list[Finding]:
    """Every cross-link rule over one joined session, as Findings in time order.

    The "could not be joined" note is left out when another rule already says why
    the other links have nothing (e.g. a START_SESSION that no transaction followed).
    """
    findings = []
    for spec, rule in RULES:
        if rule is unmatched_part and findings:
            continue
        for hit in rule(parts, ctx):
            evidence = tuple(e.message for e in hit.events if e.message is not None)
            findings.append(REGISTRY.make(spec.code, hit.text, ts_ns=hit.ts_ns,
                                          evidence=evidence, link="X"))
    return sorted(findings, key=lambda f: f.ts_ns)


def clock_findings(offsets: dict[str, ClockOffset]) -> list[Finding]:
    out = []
    for off in offsets.values():
        if off.samples and abs(off.offset_ns) > CLOCK_OFFSET_LIMIT_NS:
            out.append(REGISTRY.make(
                CLOCK_SPEC.code,
                f"Clock of {off.source} is {off.offset_ns / SECOND:+.1f} s off {off.reference} "
                f"({off.basis})", link="X", source=off.source))
    return out
