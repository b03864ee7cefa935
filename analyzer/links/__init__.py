"""Per-link analyzers behind one interface, for `analyze` and the correlator.

A link analyzer is fed every decoded `Message` of one capture source in capture order
and, at the end, summarises what it rebuilt: `LinkSession`s (milestones and join keys
for the correlator, their own findings attached) plus the findings that concern no
single session (a boot loop, a malformed frame between sessions). `link_analyzers()`
is the table of built-in ones; each entry is a factory taking the source name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from chargescope.analyzer.correlate.model import LinkSession
from chargescope.analyzer.records import Finding, Message


@dataclass(slots=True)
class LinkResult:
    sessions: list[LinkSession] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # not tied to one session


class LinkAnalyzer(Protocol):
    def feed(self, message: Message) -> None: ...

    def finish(self) -> LinkResult: ...


LinkAnalyzerFactory = Callable[[str], LinkAnalyzer]


def loose(findings, sessions: list[LinkSession]) -> list[Finding]:
    """The findings no session carries (identity, not equality: findings may repeat)."""
    carried = {id(f) for s in sessions for f in s.findings}
    return [f for f in findings if id(f) not in carried]


def attach_by_evidence(sessions: list[LinkSession], findings
                       ) -> tuple[list[LinkSession], list[Finding]]:
    """Give each session the loose findings whose evidence is one of its messages."""
    from dataclasses import replace

    owner: dict[int, int] = {}
    for index, session in enumerate(sessions):
        for message in session.messages:
            owner.setdefault(id(message), index)
    extra: dict[int, list[Finding]] = {}
    remaining = []
    for finding in findings:
        index = next((owner[id(m)] for m in finding.evidence if id(m) in owner), None)
        if index is None:
            remaining.append(finding)
        else:
            extra.setdefault(index, []).append(finding)
    out = [replace(s, findings=s.findings + tuple(extra[i])) if i in extra else s
           for i, s in enumerate(sessions)]
    return out, remaining


def link_analyzers() -> tuple[LinkAnalyzerFactory, ...]:
    """The built-in link analyzers, imported explicitly when an analysis starts."""
    from chargescope.analyzer.chademo.link import ChademoLinkAnalyzer
    from chargescope.analyzer.links.link_a import LinkAAnalyzer
    from chargescope.analyzer.links.link_b import LinkBAnalyzer
    from chargescope.analyzer.ocpi.link import OcpiLinkAnalyzer
    from chargescope.analyzer.tls.checks import TlsLinkAnalyzer
    from chargescope.plugins import installed

    return (LinkAAnalyzer, LinkBAnalyzer, OcpiLinkAnalyzer, ChademoLinkAnalyzer,
            TlsLinkAnalyzer) + tuple(installed().link_analyzers)
