"""Link B analysis: OCPP pairing, charger state, transactions and findings."""

from __future__ import annotations

from chargescope.analyzer.ocpp.milestones import link_sessions
from chargescope.analyzer.ocpp.session import (
    ChargerReport,
    OcppAnalyzer,
    OcppReport,
    analyze,
    connection_key,
)

__all__ = ["ChargerReport", "OcppAnalyzer", "OcppReport", "analyze", "connection_key",
           "link_sessions"]
