"""Build `ChargingSession`s: join, check, and judge."""

from __future__ import annotations

from dataclasses import dataclass

from chargescope.analyzer.correlate.checks import Context, clock_findings, run_checks
from chargescope.analyzer.correlate.join import correlate
from chargescope.analyzer.correlate.model import (
    ChargingSession,
    ClockOffset,
    JoinEdge,
    LinkSession,
)
from chargescope.analyzer.correlate.sitemap import SiteMap
from chargescope.analyzer.records import Finding, Severity


@dataclass(frozen=True, slots=True)
class Correlation:
    """The result of joining a capture set: sessions, clocks assumed, global findings."""

    sessions: tuple[ChargingSession, ...]
    offsets: dict[str, ClockOffset]
    findings: tuple[Finding, ...]  # not tied to one session (e.g. clock offsets)
    coverage: dict[str, tuple[int, int]]

    @property
    def all_findings(self) -> list[Finding]:
        out = list(self.findings)
        for session in self.sessions:
            out.extend(session.findings)
        return out


@dataclass(frozen=True, slots=True)
class SourceSpan:
    """How long a capture source watched which links, on its own clock."""

    first_ns: int
    last_ns: int
    links: frozenset[str]


def build_sessions(parts: list[LinkSession], site: SiteMap | None = None,
                   sources: dict[str, SourceSpan] | None = None) -> Correlation:
    """Join per-link sessions, run the cross-link checks and give each session a verdict.

    `sources` tells how long each capture source watched which links (rules such as
    "the transaction was never ended" need to know the capture went on long enough);
    without it, the parts' own extents stand in.
    """
    groups, edges, offsets = correlate(parts, site)

    def ref(source: str, ts: int) -> int:
        off = offsets.get(source)
        return ts + (off.offset_ns if off else 0)

    watched = [(p.source, p.start_ns, p.end_ns, {p.link}) for p in parts]
    if sources:
        watched += [(name, s.first_ns, s.last_ns, s.links) for name, s in sources.items()]
    span: dict[str, tuple[int, int]] = {}
    for source, start, end, links in watched:
        first, last = ref(source, start), ref(source, end)
        for link in links:
            old = span.get(link)
            span[link] = (min(first, old[0]), max(last, old[1])) if old else (first, last)
    ctx = Context(offsets, span)

    sessions = []
    for index, (group, joins) in enumerate(zip(groups, _joins_by_group(groups, edges),
                                               strict=True)):
        labels = {p.label for p in group}
        xfindings = run_checks(group, ctx)
        own = [f for p in group for f in p.findings]
        findings = tuple(sorted(own + xfindings, key=lambda f: f.ts_ns))
        verdict, reason = judge(group, findings)
        sessions.append(ChargingSession(
            index=index + 1,
            parts=tuple(group),
            joins=joins,
            confidence=min((e.confidence for e in _spanning(joins, labels)), default=1.0),
            start_ns=min(ref(p.source, p.start_ns) for p in group),
            end_ns=max(ref(p.source, p.end_ns) for p in group),
            verdict=verdict,
            verdict_reason=reason,
            findings=findings,
        ))
    return Correlation(tuple(sessions), offsets, tuple(clock_findings(offsets)), span)


def _joins_by_group(groups: list[list[LinkSession]], edges: list[JoinEdge]
                    ) -> list[tuple[JoinEdge, ...]]:
    """Each group's edges (both ends in the group), in edge order."""
    where: dict[str, list[int]] = {}
    for n, group in enumerate(groups):
        for part in group:
            where.setdefault(part.label, []).append(n)
    out: list[list[JoinEdge]] = [[] for _ in groups]
    for edge in edges:
        ends = set(where.get(edge.b, ()))
        for n in dict.fromkeys(where.get(edge.a, ())):
            if n in ends:
                out[n].append(edge)
    return [tuple(joins) for joins in out]


def judge(parts: list[LinkSession], findings: tuple[Finding, ...]) -> tuple[str, str]:
    """success / failed / inconclusive, and why.

    A part that failed, or a cross-link error, fails the session. A session whose
    every part completed is a success even when a link's own checks found errors
    along the way (they are listed, and set the exit status); the reason says so.
    """
    failed = sorted((p for p in parts if p.outcome == "failed"), key=lambda p: p.start_ns)
    if failed:
        part = failed[0]
        where = f" at stage {part.stage}" if part.stage else ""
        return "failed", f"failed on link {part.link} ({part.kind}){where}"
    errors = [f for f in findings if f.severity is Severity.ERROR]
    cross = [f for f in errors if f.link == "X"]
    if cross:
        return "failed", f"cross-link: {cross[0].code}"
    if parts and all(p.outcome == "success" for p in parts):
        if errors:
            return "success", (f"every link completed, with {len(errors)} error finding(s): "
                               f"{errors[0].code}")
        return "success", "every link completed"
    open_parts = [p for p in parts if p.outcome != "success"]
    names = ", ".join(f"{p.link} {p.kind} {p.outcome}" for p in open_parts)
    if errors:
        return "failed", f"link {errors[0].link}: {errors[0].code} ({names})"
    return "inconclusive", f"not every link completed ({names})"


def _spanning(joins: tuple[JoinEdge, ...], labels: set[str]) -> list[JoinEdge]:
    """The edges of a maximum spanning tree: the weakest of them bounds the confidence."""
    parent = {label: label for label in labels}

    def find(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x

    out = []
    for edge in sorted(joins, key=lambda e: -e.confidence):
        ra, rb = find(edge.a), find(edge.b)
        if ra != rb:
            parent[ra] = rb
            out.append(edge)
    return out
