"""Link A for the correlator: SLAC runs and V2G sessions of one capture source.

A SLAC run and the V2G session that follows it are one link-A story: the run's
milestones and MACs are merged into the V2G session that starts after its match (same
EV MAC when the V2G side knows it, else the first session within `SLAC_TO_V2G_NS`).
A run with no V2G session after it stays a link-A part of its own (kind "slac").
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from functools import lru_cache

from chargescope.analyzer.correlate.model import LinkEvent, LinkSession
from chargescope.analyzer.links import LinkResult, loose
from chargescope.analyzer.records import Message
from chargescope.analyzer.slac import SlacRunBuilder, Traffic, check_run
from chargescope.analyzer.v2g import V2GAnalyser
from chargescope.analyzer.v2g.link import link_sessions

SLAC_TO_V2G_NS = 60 * 1_000_000_000
SLAC_RETRY_NS = 60 * 1_000_000_000


class LinkAAnalyzer:
    def __init__(self, source: str) -> None:
        self.source = source
        self.v2g = V2GAnalyser()
        self.slac = SlacRunBuilder()
        self._matched_ev = ""  # EV MAC of the latest CM_SLAC_MATCH.CNF

    def feed(self, message: Message) -> None:
        if str(message.link) != "A":
            return
        if message.protocol == "homeplug":
            self.slac.feed(message)
            if message.name == "CM_SLAC_MATCH.CNF":
                self._matched_ev = message.dst
        else:
            self.v2g.feed(message)
            # SDP/V2G after a match shows the EV joined the logical network. The run is
            # found by MAC: an EUI-64 link-local address carries it; otherwise the CP line
            # joins one EV to one EVSE, so the EV of the latest match is the one talking.
            src, dst = mac_of(message.src), mac_of(message.dst)
            if not (src or dst):
                src = self._matched_ev
            if src or dst:
                ref = message.refs[0] if message.refs else None
                self.slac.feed_traffic(Traffic(message.ts_ns, src, dst, message.protocol,
                                               ref.frame if ref else 0, self.source))
        self.slac.mark_time(message.ts_ns)

    def finish(self) -> LinkResult:
        report = self.v2g.finish()
        energies = self.v2g.energies()  # session index -> Wh, accumulated while feeding
        v2g_pairs = sorted(zip(link_sessions(report, self.source),
                               (energies.get(s.index) for s in report.sessions), strict=True),
                           key=lambda pair: pair[0].start_ns)
        v2g = [part for part, _ in v2g_pairs]
        merged = list(v2g)
        slac_parts = []
        taken: set[int] = set()
        for attempt in _attempts(self.slac.runs()):
            run = attempt[-1]  # the run that decided the attempt; earlier ones were retried
            findings = [f for r in attempt for f in check_run(r)]
            events = [e for r in attempt for e in _slac_events(r)]
            leg = run.matched_leg
            keys = {"ev_mac": run.ev_mac}
            if leg is not None:
                keys["secc_mac"] = leg.mac
            start = attempt[0].started_ns
            end = max((e.ts_ns for e in events), default=run.started_ns)
            index = _following(v2g, taken, end) if leg is not None else None
            if index is not None:
                taken.add(index)
                part = merged[index]
                merged[index] = replace(
                    part,
                    start_ns=min(part.start_ns, start),
                    keys={**keys, **part.keys},
                    events=tuple(sorted(events + list(part.events), key=lambda e: e.ts_ns)),
                    findings=tuple(findings) + part.findings,
                )
                continue
            matched = leg is not None
            slac_parts.append(LinkSession(
                link="A", kind="slac", ident=run.run_id or run.ev_mac, source=self.source,
                start_ns=start, end_ns=max(end, run.ended_ns if not matched else end),
                keys=keys, outcome="incomplete" if matched else "failed",
                stage="SLAC matched, no V2G" if matched else f"SLAC {run.state}",
                protocol="ISO 15118-3", events=tuple(events), findings=tuple(findings),
                messages=tuple(e.message for e in events if e.message is not None)))
        merged = [p if p.energy_wh is not None else replace(p, energy_wh=energy)
                  for p, (_, energy) in zip(merged, v2g_pairs, strict=True)]
        sessions = merged + slac_parts
        return LinkResult(sessions, loose(report.findings, sessions))


def _attempts(runs) -> list[list]:
    """SLAC runs grouped into attempts: an unmatched run the same EV retried within
    `SLAC_RETRY_NS` belongs to the attempt of the retry (one plug-in, several runs)."""
    attempts: list[list] = []
    open_by_ev: dict[str, list] = {}
    for run in sorted(runs, key=lambda r: r.started_ns):
        previous = open_by_ev.get(run.ev_mac)
        if previous is not None and previous[-1].matched_leg is None and \
                run.started_ns - _run_end(previous[-1]) <= SLAC_RETRY_NS:
            previous.append(run)
            continue
        attempt = [run]
        attempts.append(attempt)
        open_by_ev[run.ev_mac] = attempt
    return attempts


def _run_end(run) -> int:
    return run.steps[-1].ts_ns if run.steps else run.started_ns


@lru_cache(maxsize=4096)  # a session repeats the same two endpoints thousands of times
def mac_of(endpoint: str) -> str:
    """The MAC inside an EUI-64 IPv6 link-local address ("[fe80::...]:port"), or ''."""
    host = endpoint.rpartition("]")[0].lstrip("[") if endpoint.startswith("[") else endpoint
    try:
        addr = ipaddress.IPv6Address(host.split("%")[0])
    except ValueError:
        return ""
    iid = addr.packed[8:]
    if not addr.is_link_local or iid[3:5] != b"\xff\xfe":
        return ""
    mac = bytes([iid[0] ^ 0x02]) + iid[1:3] + iid[5:8]
    return ":".join(f"{b:02x}" for b in mac)


def _slac_events(run) -> list[LinkEvent]:
    events = []
    if run.parm_req:
        events.append(LinkEvent(run.parm_req[0].ts_ns, "slac.parm", {}, run.parm_req[0]))
    leg = run.matched_leg
    if leg is not None:
        cnf = leg.match_cnf[0]
        events.append(LinkEvent(cnf.ts_ns, "slac.matched", {"evse_mac": leg.mac}, cnf))
    elif run.steps:
        last = run.steps[-1]
        events.append(LinkEvent(last.ts_ns, "slac.failed", {"state": run.state}, last.message))
    return events


def _following(v2g: list[LinkSession], taken: set[int], match_ns: int) -> int | None:
    for index, part in enumerate(v2g):
        if index not in taken and match_ns <= part.start_ns <= match_ns + SLAC_TO_V2G_NS:
            return index
    return None
