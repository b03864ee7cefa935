"""The plugin API: third-party dissectors, checks and link analyzers, loaded explicitly.

A plugin is a Python distribution declaring an entry point in one of `GROUPS`
(``chargescope.plugins``; ``chargescope.dissectors`` and ``chargescope.checks`` are
accepted as aliases) whose object is a callable ``register(registry: PluginRegistry)``.
`register` adds records to the same tables the built-ins use:

* `add_frame_handoff(FrameHandoff)` or a zero-argument factory of one (a fresh,
  stateful dissector per pipeline), `add_stream_handoff(StreamHandoff)`;
* `add_findings(specs)` for the FindingSpecs its checks emit (stable codes);
* `add_link_analyzer(factory)`: ``factory(source) -> LinkAnalyzer``, fed every Message
  of one capture source, returning `LinkResult` (that is what a check is);
* `add_capture_engine(name, factory)`: a live capture engine for `chargescope live
  --backend NAME` (``factory(EngineRequest) -> CaptureEngine``, see
  `chargescope.analyzer.live.capture`); a built-in engine's name cannot be taken.

Nothing is imported at import time: `installed()` loads the entry points once, on the
first call, when a pipeline or an analysis is built. A plugin whose import or
`register` raises is recorded in `failed` and skipped; a link analyzer that raises at
run time is stopped and reported as a `plugin.check.error` finding, never a crash.
`CHARGESCOPE_NO_PLUGINS=1` loads none (reproducible runs, bisecting a bad plugin).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from typing import Any

from chargescope.analyzer.findings import FindingRegistry
from chargescope.analyzer.handoff import FrameHandoff, StreamHandoff
from chargescope.analyzer.links import LinkAnalyzer, LinkAnalyzerFactory, LinkResult
from chargescope.analyzer.records import FindingSpec, Message, Severity

GROUPS: tuple[str, ...] = ("chargescope.plugins", "chargescope.dissectors", "chargescope.checks")
DISABLE_ENV = "CHARGESCOPE_NO_PLUGINS"

PLUGIN_FINDINGS: tuple[FindingSpec, ...] = (
    FindingSpec("plugin.check.error", Severity.WARNING, "plugin",
                "A plugin's check raised an exception and was stopped for this source"),
)

FrameHandoffSource = FrameHandoff | Callable[[], FrameHandoff]


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """One entry point: where it came from and what it added (or why it failed)."""

    name: str
    group: str
    value: str  # "module:attr" as declared
    distribution: str  # "name version", "" when unknown
    added: tuple[str, ...] = ()  # e.g. ("frame handoff vendor-mme", "findings 2")
    error: str = ""


@dataclass(slots=True)
class PluginRegistry:
    """What plugins added; `chargescope.plugins.installed()` is the process-wide one."""

    frame_handoffs: list[FrameHandoffSource] = field(default_factory=list)
    stream_handoffs: list[StreamHandoff] = field(default_factory=list)
    link_analyzers: list[LinkAnalyzerFactory] = field(default_factory=list)
    capture_engines: dict[str, Callable[..., Any]] = field(default_factory=dict)
    findings: FindingRegistry = field(default_factory=lambda: FindingRegistry(PLUGIN_FINDINGS))
    loaded: list[PluginInfo] = field(default_factory=list)
    failed: list[PluginInfo] = field(default_factory=list)
    _added: list[str] = field(default_factory=list)

    # -- what a plugin's register() calls ------------------------------------------------
    def add_frame_handoff(self, entry: FrameHandoffSource) -> None:
        self.frame_handoffs.append(entry)
        self._added.append(f"frame handoff {getattr(entry, 'name', _callable_name(entry))}")

    def add_stream_handoff(self, entry: StreamHandoff) -> None:
        self.stream_handoffs.append(entry)
        self._added.append(f"stream handoff {entry.name}")

    def add_findings(self, specs: Iterable[FindingSpec]) -> None:
        specs = tuple(specs)
        self.findings.add(specs)
        self._added.extend(f"finding {s.code}" for s in specs)

    def add_link_analyzer(self, factory: LinkAnalyzerFactory) -> None:
        name = _callable_name(factory)
        self.link_analyzers.append(_guarded(factory, name, self.findings))
        self._added.append(f"link analyzer {name}")

    def add_capture_engine(self, name: str, factory: Callable[..., Any]) -> None:
        from chargescope.analyzer.live.capture import ENGINES

        if name in ENGINES or name == "auto" or name in self.capture_engines:
            raise ValueError(f"capture engine {name!r} is already defined")
        self.capture_engines[name] = factory
        self._added.append(f"capture engine {name}")

    # -- loading -------------------------------------------------------------------------
    def register(self, func: Callable[[PluginRegistry], None], *, name: str, group: str = "",
                 value: str = "", distribution: str = "") -> bool:
        """Run one plugin's register function; on any exception undo what it added."""
        snapshot = (len(self.frame_handoffs), len(self.stream_handoffs),
                    len(self.link_analyzers), list(self.findings), dict(self.capture_engines))
        self._added = []
        try:
            func(self)
        except Exception as exc:  # a broken plugin is reported and skipped
            del self.frame_handoffs[snapshot[0]:]
            del self.stream_handoffs[snapshot[1]:]
            del self.link_analyzers[snapshot[2]:]
            self.findings = FindingRegistry(snapshot[3])
            self.capture_engines = snapshot[4]
            self.failed.append(PluginInfo(name, group, value, distribution,
                                          error=f"register raised {exc!r}"))
            return False
        self.loaded.append(PluginInfo(name, group, value, distribution, tuple(self._added)))
        return True

    def load_entry_points(self, groups: Iterable[str] = GROUPS) -> PluginRegistry:
        for group in groups:
            for ep in sorted(metadata.entry_points(group=group), key=lambda e: e.name):
                dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else ""
                try:
                    func = ep.load()
                except Exception as exc:  # ImportError, SyntaxError, AttributeError, ...
                    self.failed.append(PluginInfo(ep.name, group, ep.value, dist,
                                                  error=f"import failed: {exc!r}"))
                    continue
                if not callable(func):
                    self.failed.append(PluginInfo(ep.name, group, ep.value, dist,
                                                  error="entry point is not callable"))
                    continue
                self.register(func, name=ep.name, group=group, value=ep.value,
                              distribution=dist)
        return self

    # -- what the pipeline and the analysis take -------------------------------------------
    def frame_handoff_records(self) -> tuple[FrameHandoff, ...]:
        """Fresh records for one pipeline (factories called now)."""
        return tuple(e if isinstance(e, FrameHandoff) else e() for e in self.frame_handoffs)


@cache
def installed() -> PluginRegistry:
    """The plugins installed in this Python environment, loaded once on first use."""
    registry = PluginRegistry()
    if os.environ.get(DISABLE_ENV, "") not in ("", "0"):
        return registry
    return registry.load_entry_points()


def _callable_name(obj: object) -> str:
    return getattr(obj, "__qualname__", None) or type(obj).__name__


def _guarded(factory: LinkAnalyzerFactory, name: str, findings: FindingRegistry
             ) -> LinkAnalyzerFactory:
    def make(source: str) -> LinkAnalyzer:
        return _GuardedAnalyzer(factory, source, name, findings)
    make.__qualname__ = name
    return make


class _GuardedAnalyzer:
    """A plugin's link analyzer that cannot stop the analysis: the first exception
    stops it for this source and becomes a `plugin.check.error` finding."""

    def __init__(self, factory: LinkAnalyzerFactory, source: str, name: str,
                 findings: FindingRegistry) -> None:
        self._name, self._findings, self._error, self._ts = name, findings, "", 0
        self._inner: LinkAnalyzer | None = None
        try:
            self._inner = factory(source)
        except Exception as exc:
            self._error = f"creating it raised {exc!r}"

    def feed(self, message: Message) -> None:
        if self._inner is None:
            return
        self._ts = message.ts_ns
        try:
            self._inner.feed(message)
        except Exception as exc:
            self._inner, self._error = None, f"feed raised {exc!r}"

    def finish(self) -> LinkResult:
        if self._inner is not None:
            try:
                return self._inner.finish()
            except Exception as exc:
                self._error = f"finish raised {exc!r}"
        return LinkResult(findings=[self._findings.make(
            "plugin.check.error", f"plugin check {self._name}: {self._error}", ts_ns=self._ts,
            plugin=self._name)])
