"""SLAC (ISO 15118-3) run builder and checks over HomePlug Messages."""

from __future__ import annotations

from collections.abc import Iterable

from chargescope.analyzer.records import Finding, Message
from chargescope.analyzer.slac.checks import REGISTRY, SPECS, SlacCheckConfig, check_run
from chargescope.analyzer.slac.runs import SlacRun, SlacRunBuilder, Traffic

__all__ = ["REGISTRY", "SPECS", "SlacCheckConfig", "SlacRun", "SlacRunBuilder", "Traffic",
           "analyze", "check_run"]


def analyze(messages: Iterable[Message | Traffic],
            config: SlacCheckConfig | None = None) -> list[tuple[SlacRun, list[Finding]]]:
    """Runs and their findings from Messages (and Traffic) in capture order."""
    builder = SlacRunBuilder()
    for item in messages:
        if isinstance(item, Traffic):
            builder.feed_traffic(item)
        else:
            builder.feed(item)
            builder.mark_time(item.ts_ns)
    return [(run, check_run(run, config)) for run in builder.runs()]
