"""Per-link analyzers behind one interface, for `analyze` and the correlator.

A link analyzer is fed every decoded `Message` of a capture source in capture order
and, at the end, summarises what it rebuilt as `LinkSession`s (milestones and join
keys for the correlator, its own findings attached). `LINK_ANALYZERS` is the table of
built-in ones; each entry is a factory taking the source name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from chargescope.analyzer.correlate.model import LinkSession
from chargescope.analyzer.records import Message


class LinkAnalyzer(Protocol):
    def feed(self, message: Message) -> None: ...

    def finish(self) -> list[LinkSession]: ...


LinkAnalyzerFactory = Callable[[str], LinkAnalyzer]


def link_analyzers() -> tuple[LinkAnalyzerFactory, ...]:
    """The built-in link analyzers, imported explicitly when an analysis starts."""
    factories: list[LinkAnalyzerFactory] = []
    return tuple(factories)
