"""The registry of finding codes, declared up front like Wireshark's expert info.

Each check module declares its `FindingSpec`s in a module-level tuple and the
registry is built explicitly from those tuples (no import-time side effects).
Codes are stable: deprecate, never rename. Tests assert codes, not sentences.
"""

from __future__ import annotations

from collections.abc import Iterable

from chargescope.analyzer.records import Finding, FindingSpec, Message


class FindingRegistry:
    def __init__(self, specs: Iterable[FindingSpec] = ()) -> None:
        self._specs: dict[str, FindingSpec] = {}
        self.add(specs)

    def add(self, specs: Iterable[FindingSpec]) -> None:
        for spec in specs:
            if spec.code in self._specs and self._specs[spec.code] != spec:
                raise ValueError(f"finding code {spec.code!r} registered twice, differently")
            self._specs[spec.code] = spec

    def __contains__(self, code: str) -> bool:
        return code in self._specs

    def __getitem__(self, code: str) -> FindingSpec:
        return self._specs[code]

    def __iter__(self):
        return iter(sorted(self._specs.values(), key=lambda s: s.code))

    def make(self, code: str, text: str = "", *, ts_ns: int = 0,
             evidence: Iterable[Message] = (), link: str = "", **extra) -> Finding:
        """A Finding for a registered code; unknown codes are our bug, so they raise."""
        spec = self._specs[code]
        return Finding(code=code, severity=spec.severity, text=text or spec.summary,
                       ts_ns=ts_ns, evidence=tuple(evidence), requirement=spec.requirement,
                       link=link, extra=extra)
