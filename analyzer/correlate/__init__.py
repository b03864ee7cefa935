"""The correlator: one charging session across links A, B and C.

Per-link analyzers summarise what they rebuilt as `LinkSession`s (with milestones from
`milestones.MILESTONES` and join keys from `keys.KEY_NAMES`); `build_sessions` joins
them, estimates the clock offset of every capture source, runs the cross-link checks
(`checks.RULES`) and judges each `ChargingSession`.
"""

from chargescope.analyzer.correlate.model import (
    ChargingSession,
    ClockOffset,
    JoinEdge,
    LinkEvent,
    LinkSession,
)
from chargescope.analyzer.correlate.session import Correlation, SourceSpan, build_sessions
from chargescope.analyzer.correlate.sitemap import SiteMap, SiteMapError

__all__ = [
    "ChargingSession",
    "ClockOffset",
    "Correlation",
    "JoinEdge",
    "LinkEvent",
    "LinkSession",
    "SiteMap",
    "SiteMapError",
    "SourceSpan",
    "build_sessions",
]
