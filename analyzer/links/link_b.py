"""Link B for the correlator: OCPP transactions (and lone authorizations) of one source."""

from __future__ import annotations

from chargescope.analyzer.links import LinkResult, loose
from chargescope.analyzer.ocpp.milestones import link_sessions
from chargescope.analyzer.ocpp.session import OcppAnalyzer
from chargescope.analyzer.records import Message


class LinkBAnalyzer:
    def __init__(self, source: str) -> None:
        self.source = source
        self.ocpp = OcppAnalyzer()

    def feed(self, message: Message) -> None:
        if str(message.link) == "B":
            self.ocpp.feed(message)

    def finish(self) -> LinkResult:
        report = self.ocpp.finish()
        sessions = link_sessions(report)
        return LinkResult(sessions, loose(report.findings, sessions))
