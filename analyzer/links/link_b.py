"""Link B for the correlator: OCPP transactions (and lone authorizations) of one source."""

from __future__ import annotations

from chargescope.analyzer.links import LinkResult, attach_by_evidence, loose
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
        # charger-level findings about a session's own messages (e.g. the Authorize a
        # CSMS rejected) belong to that session
        sessions, rest = attach_by_evidence(sessions, loose(report.findings, sessions))
        return LinkResult(sessions, rest)
