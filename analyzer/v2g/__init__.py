"""The V2G session analyser (link A): SDP, supportedAppProtocol, DIN 70121, ISO 15118-2/-20.

Public API: `analyse(messages) -> LinkAReport`, the incremental `V2GAnalyser` (feed/finish),
the records in `chargescope.analyzer.v2g.records` and the finding codes in `specs.FINDINGS`.
Modules: `states` (the transition tables), `protocols` (namespaces, timing parameters),
`session` (the builder), `verdict` (how a session ended), `discovery` (SDP findings),
`report` (ladder and JSON), `link` (LinkSessions for the correlator), `tree` (reading trees).
"""

from chargescope.analyzer.v2g.records import Exchange, LinkAReport, Outcome, V2GSession
from chargescope.analyzer.v2g.session import V2GAnalyser, analyse
from chargescope.analyzer.v2g.specs import FINDINGS

__all__ = ["FINDINGS", "Exchange", "LinkAReport", "Outcome", "V2GAnalyser", "V2GSession",
           "analyse"]
