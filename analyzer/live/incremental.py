"""Analysis while capturing: snapshots of the sessions and findings so far.

The link analyzers report at `finish()`, which ends them (open requests become
"no response", open sessions "capture ended"). A snapshot therefore never touches the
analyzers being fed: it feeds the Messages seen so far to fresh ones through the same
`SourceAnalysis` / `assemble` path `analyze` uses, so the last snapshot is exactly the
offline analysis of the same Messages. `LiveChanges` turns consecutive snapshots into
what a person watching wants to read: new findings, findings withdrawn, sessions that
appeared or changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from chargescope.analyzer.analysis import Analysis, SourceAnalysis, assemble
from chargescope.analyzer.correlate import SiteMap
from chargescope.analyzer.correlate.model import ChargingSession
from chargescope.analyzer.correlate.session import judge
from chargescope.analyzer.links import LinkAnalyzerFactory, link_analyzers
from chargescope.analyzer.records import Finding, Message, Problem

# findings that only say "the input ended here": every snapshot of an open session has
# them, so while capturing they are noise (the final report still carries them)
END_OF_INPUT_CODES = frozenset({"v2g.session.capture_ended", "ocpp.call.pending_at_end",
                                "slac.capture.ends_mid_run"})


def end_of_input(finding: Finding) -> bool:
    """A finding that only says the input ended here: an end-of-input code, or a verdict
    made because the input ended (`extra["at_end"]`, e.g. an OCPP CALL whose answer may
    have been in a capture gap: while capturing, that answer may still arrive)."""
    return finding.code in END_OF_INPUT_CODES or bool(finding.extra.get("at_end"))


class LiveAnalysis:
    """Messages of one live source; `snapshot()` judges what has arrived so far."""

    def __init__(self, source: str, site: SiteMap | None = None,
                 analyzers: tuple[LinkAnalyzerFactory, ...] | None = None) -> None:
        self.source = source
        self.site = site
        self.analyzers = analyzers if analyzers is not None else link_analyzers()
        self.items: list[Message | Problem] = []
        self.messages = 0

    def add(self, item: Message | Problem) -> None:
        self.items.append(item)
        if isinstance(item, Message):
            self.messages += 1

    def snapshot(self, keep_messages: bool = False) -> Analysis:
        """The analysis of everything so far, as `analyze` would give it had the capture
        ended now (what has arrived is kept, so later snapshots see more)."""
        source = SourceAnalysis(self.source, "live", self.analyzers, keep_messages)
        for item in self.items:
            source.add(item)
        return assemble([source], self.site)


def finding_key(finding: Finding) -> tuple:
    """What identifies one finding across snapshots: its code and the message it is
    about (the same Message objects are fed to every snapshot)."""
    anchor = id(finding.evidence[0]) if finding.evidence else finding.ts_ns
    return finding.code, finding.link, anchor


PROVISIONAL = "so far"  # after a live verdict that only the input's end "now" decided


def provisional(session: ChargingSession) -> bool:
    """While capturing: does the session's verdict rest only on the input having ended
    here? It does when judging it again without the end-of-input findings gives another
    verdict, or when it is inconclusive and carries such findings (a part is open because
    the capture has not gone on yet, e.g. `v2g.session.capture_ended`). Judged on the
    session's own parts and findings: the snapshot is not analysed again."""
    if session.verdict == "success":
        return False
    kept = tuple(f for f in session.findings if not end_of_input(f))
    if len(kept) == len(session.findings):
        return False
    return session.verdict == "inconclusive" or \
        judge(list(session.parts), kept)[0] != session.verdict


def session_line(session: ChargingSession, live: bool = False) -> str:
    """One session as a text line; `live`: the capture goes on, so a verdict only the
    input's end decided is marked "so far" (as the live TUI marks it)."""
    parts = ", ".join(f"{p.link}:{p.kind} {p.outcome}" + (f" at {p.stage}" if p.stage else "")
                      for p in session.parts)
    verdict = session.verdict
    if live and provisional(session):
        verdict = f"{verdict} {PROVISIONAL}"
    return (f"session {session.index} [{session.links}] {verdict}: "
            f"{session.verdict_reason} ({parts})")


def finding_line(finding: Finding) -> str:
    req = f" {finding.requirement}" if finding.requirement else ""
    return f"finding {str(finding.severity).upper()} {finding.code}: {finding.text}{req}"


@dataclass(frozen=True, slots=True)
class Changes:
    """What one snapshot changed, in the order a reader wants it."""

    sessions: tuple[str, ...]  # session lines that are new or differ from before
    new_findings: tuple[Finding, ...]
    withdrawn: tuple[Finding, ...]  # reported before, gone now (later messages resolved it)

    def lines(self) -> list[str]:
        return ([f"live: {line}" for line in self.sessions]
                + [f"live: {finding_line(f)}" for f in self.new_findings]
                + [f"live: withdrawn {f.code}: {f.text}" for f in self.withdrawn])


class LiveChanges:
    """Compares each snapshot with what was already reported.

    A snapshot judges the input as if it ended now, so a request whose answer is on its
    way shows as "no response" in it. A finding is therefore reported once two
    consecutive snapshots hold it, and withdrawn when a later one no longer does.
    """

    def __init__(self) -> None:
        self._sessions: dict[int, str] = {}  # as last printed
        self._last_sessions: dict[int, str] = {}  # as the last snapshot had them
        self._pending: set[tuple] = set()  # in the last snapshot
        self._reported: dict[tuple, Finding] = {}

    @property
    def unconfirmed(self) -> bool:
        """Findings or session lines of the last snapshot wait for a second one."""
        return bool(self._pending - self._reported.keys()) or any(
            self._sessions.get(i) != line for i, line in self._last_sessions.items())

    def update(self, analysis: Analysis) -> Changes:
        sessions = []
        current_sessions = {s.index: session_line(s, live=True) for s in analysis.sessions}
        for index, line in current_sessions.items():
            # like findings: a line two looks agree on, and not printed already
            if self._last_sessions.get(index) == line and self._sessions.get(index) != line:
                sessions.append(line)
                self._sessions[index] = line
        self._last_sessions = current_sessions
        current = {finding_key(f): f for f in analysis.findings if not end_of_input(f)}
        new = tuple(f for k, f in current.items()
                    if k in self._pending and k not in self._reported)
        withdrawn = tuple(f for k, f in self._reported.items() if k not in current)
        for key in [k for k in self._reported if k not in current]:
            del self._reported[key]
        self._reported.update((finding_key(f), f) for f in new)
        self._pending = set(current)
        return Changes(tuple(sessions), tuple(sorted(new, key=lambda f: f.ts_ns)), withdrawn)


class Snapshotter:
    """Decides when to snapshot: every `interval_s` seconds while new messages came (or
    findings wait for confirmation), never more often than `load` times the cost of the
    last snapshot (a long capture makes snapshots slower; capturing must keep up).

    `on_changes(changes, analysis)` hears what changed (plain-text live output);
    `on_snapshot(analysis)` every snapshot (a screen that redraws from it: the TUI).
    """

    def __init__(self, live: LiveAnalysis,
                 on_changes: Callable[[Changes, Analysis], None] | None = None,
                 interval_s: float = 2.0, load: float = 4.0,
                 clock: Callable[[], float] = time.monotonic, *,
                 on_snapshot: Callable[[Analysis], None] | None = None,
                 keep_messages: bool = False) -> None:
        self.live = live
        self.on_changes = on_changes
        self.on_snapshot = on_snapshot
        self.keep_messages = keep_messages
        self.interval_s = interval_s
        self.load = load
        self.clock = clock
        self.changes = LiveChanges()
        self._next = clock() + interval_s
        self._seen = 0
        self.snapshots = 0

    def poll(self) -> None:
        """Call often (each item and on idle): snapshots when due."""
        now = self.clock()
        if now < self._next:
            return
        if self.live.messages != self._seen or self.changes.unconfirmed:
            self.run()

    def run(self) -> Analysis:
        started = self.clock()
        self._seen = self.live.messages
        analysis = self.live.snapshot(self.keep_messages)
        self.snapshots += 1
        changes = self.changes.update(analysis)
        cost = self.clock() - started
        self._next = self.clock() + max(self.interval_s, self.load * cost)
        if self.on_snapshot is not None:
            self.on_snapshot(analysis)
        if self.on_changes is not None and (changes.sessions or changes.new_findings
                                            or changes.withdrawn):
            self.on_changes(changes, analysis)
        return analysis
