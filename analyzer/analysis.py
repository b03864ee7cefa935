"""One analysis of a capture set: read every source, decode, rebuild, join, judge.

Each input file is one capture source with its own clock: a PLC sniffer capture, a
tcpdump on the charger or CSMS, a CSMS log, a HAR export. Sources are read one at a
time through the reader that claims them (`SOURCE_READERS`), their Messages fed to
the link analyzers, and the per-link sessions joined by the correlator.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from chargescope.analyzer.correlate import (
    Correlation,
    LinkSession,
    SiteMap,
    SourceSpan,
    build_sessions,
)
from chargescope.analyzer.limits import CAP_BY_CODE, DEFAULT_LIMITS, LimitHits, Limits
from chargescope.analyzer.links import LinkAnalyzerFactory, link_analyzers
from chargescope.analyzer.records import Finding, Message, Problem
from chargescope.analyzer.store import message_window


class UnreadableSource(Exception):
    """No reader accepts this file, or it cannot be opened: exit status 2 in the CLI."""


@dataclass(frozen=True, slots=True)
class SourceReader:
    """Reads one kind of input file into Messages and Problems, in capture order."""

    name: str
    probe: Callable[[Path], bool]
    read: Callable[[Path], Iterator[Message | Problem]]
    # the same, calling tick(bytes of the file read so far) now and then (progress bars)
    read_ticking: Callable[[Path, Callable[[int], None]], Iterator[Message | Problem]] | None = None


def _is_capture(path: Path) -> bool:
    from chargescope.analyzer.capture import NotACaptureError, open_capture

    try:
        with open_capture(path):
            return True
    except NotACaptureError:
        return False


TICK_FRAMES = 16384  # frames between two progress ticks


def _read_capture(path: Path, tick: Callable[[int], None] | None = None,
                  keylog_files: tuple[Path, ...] = (), limits: Limits = DEFAULT_LIMITS
                  ) -> Iterator[Message | Problem]:
    from chargescope.analyzer.capture import open_capture
    from chargescope.analyzer.pipeline import Pipeline
    from chargescope.analyzer.tls.sources import frames_with_secrets, load_key_logs

    keylog = load_key_logs(keylog_files)  # + DSBs as read + in-band UDP lines (pipeline)
    with open_capture(path) as capture:
        pipeline = Pipeline(keylog=keylog, limits=limits)
        frames = frames_with_secrets(capture, keylog)
        if tick is not None:
            frames = _ticking(frames, tick)
        yield from pipeline.run(frames)
        yield from capture.problems


def _ticking(frames, tick: Callable[[int], None]):
    for n, frame in enumerate(frames, 1):
        if n % TICK_FRAMES == 0:
            tick(frame.offset)  # offset in the (decompressed) file: the caller clamps
        yield frame


def source_readers(keylog_files: Iterable[Path] = (), limits: Limits = DEFAULT_LIMITS
                   ) -> tuple[SourceReader, ...]:
    """The readers tried in order for every input file (`keylog_files`: TLS key logs;
    `limits`: the resource caps of the capture pipeline)."""
    import functools

    from chargescope.analyzer.chademo.canlog import is_can_log
    from chargescope.analyzer.chademo.link import read_can_log
    from chargescope.analyzer.ocpi.sources import is_har, is_http_log, read_http_file
    from chargescope.analyzer.ocpp.logs import is_log_file, read_log

    read_capture = functools.partial(_read_capture, keylog_files=tuple(keylog_files),
                                     limits=limits)

    return (
        SourceReader("capture", _is_capture, read_capture, read_capture),
        SourceReader("http-log", lambda p: is_har(p) or is_http_log(p), read_http_file),
        SourceReader("can-log", is_can_log, read_can_log),  # candump, SavvyCAN, CANDue
        SourceReader("ocpp-log", is_log_file, read_log),
    )


@dataclass(slots=True)
class SourceSummary:
    path: str
    reader: str
    messages: int = 0
    problems: int = 0
    first_ns: int | None = None
    last_ns: int | None = None


@dataclass(slots=True)
class Analysis:
    """What `analyze` found: sources read, problems, link sessions and charging sessions."""

    sources: list[SourceSummary]
    problems: list[Problem]
    link_sessions: list[LinkSession]
    correlation: Correlation
    messages: list[Message] = field(default_factory=list)
    link_findings: list[Finding] = field(default_factory=list)  # per-link, outside any session

    @property
    def sessions(self):
        return self.correlation.sessions

    @property
    def findings(self) -> list[Finding]:
        return self.link_findings + self.correlation.all_findings

    def dataframes(self):
        """The export tables as pandas DataFrames (see `chargescope.analyzer.export`)."""
        from chargescope.analyzer.export import dataframes

        return dataframes(self)


class SourceAnalysis:
    """One capture source being analysed: its Messages and Problems, in capture order,
    fed to fresh link analyzers. `analyze` runs one per input file; the live capture
    (`analyzer/live/incremental.py`) runs one per snapshot of what has arrived so far."""

    def __init__(self, source: str, reader: str,
                 analyzers: tuple[LinkAnalyzerFactory, ...], keep_messages: bool = False) -> None:
        self.source = source
        self.summary = SourceSummary(source, reader)
        self.problems: list[Problem] = []
        self.kept: list[Message] = []
        self.keep_messages = keep_messages
        self.links: set[str] = set()
        self.hits = LimitHits()  # resource caps hit while reading this source
        self._active = [factory(source) for factory in analyzers]
        self._window = message_window()  # stored messages kept compact (analyzer/store.py)

    def add(self, item: Message | Problem) -> None:
        summary = self.summary
        if isinstance(item, Problem):
            summary.problems += 1
            self.problems.append(item)
            if item.kind in CAP_BY_CODE:
                self.hits.add(item)
            return
        for problem in item.problems:
            if problem.kind in CAP_BY_CODE:
                self.hits.add(problem, item)
        summary.messages += 1
        self.links.add(str(item.link))
        if summary.first_ns is None or item.ts_ns < summary.first_ns:
            summary.first_ns = item.ts_ns
        if summary.last_ns is None or item.ts_ns > summary.last_ns:
            summary.last_ns = item.ts_ns
        if self.keep_messages:
            self.kept.append(item)
        for analyzer in self._active:
            try:
                analyzer.feed(item)
            except Exception as exc:  # a link analyzer bug must not stop a field analysis
                self._analyzer_failed(analyzer, exc, item)
        self._window.add(item)

    def _analyzer_failed(self, analyzer: object, exc: Exception,
                         message: Message | None = None) -> None:
        """An `analysis.analyzer.error` Problem: the analyzer skipped `message` (or, at
        the end, gave no result); the analysis goes on with what the others found."""
        what = f"on {message.protocol} {message.name!r}" if message is not None else "at the end"
        ref = message.refs[0] if message is not None and message.refs else None
        self.summary.problems += 1
        self.problems.append(Problem(
            "analysis.analyzer.error",
            f"link analyzer {type(analyzer).__name__} raised {exc!r} {what}; "
            + ("it skipped that message" if message is not None else "its sessions are missing"),
            ref.source if ref else self.source, ref.frame if ref else 0,
            ref.start if ref else 0, "unit"))

    def finish(self) -> tuple[list[LinkSession], list[Finding]]:
        """The link sessions and loose per-link findings (ends the link analyzers)."""
        parts: list[LinkSession] = []
        findings: list[Finding] = []
        for analyzer in self._active:
            try:
                result = analyzer.finish()
            except Exception as exc:  # as in `add`: report it, keep the other links' results
                self._analyzer_failed(analyzer, exc)
                continue
            parts.extend(result.sessions)
            findings.extend(result.findings)
        findings.extend(self.hits.findings())
        self._window.flush()
        return parts, findings

    def span(self) -> SourceSpan | None:
        summary = self.summary
        if summary.first_ns is None:
            return None
        return SourceSpan(summary.first_ns, summary.last_ns, frozenset(self.links))


def assemble(sources: Iterable[SourceAnalysis], site: SiteMap | None = None) -> Analysis:
    """Finish every source's link analyzers and join their sessions: the one way an
    `Analysis` is made, offline or live."""
    summaries: list[SourceSummary] = []
    problems: list[Problem] = []
    parts: list[LinkSession] = []
    link_findings: list[Finding] = []
    kept: list[Message] = []
    spans: dict[str, SourceSpan] = {}
    for source in sources:
        source_parts, source_findings = source.finish()
        parts.extend(source_parts)
        link_findings.extend(source_findings)
        summaries.append(source.summary)
        problems.extend(source.problems)
        kept.extend(source.kept)
        span = source.span()
        if span is not None:
            spans[source.source] = span
    correlation = build_sessions(parts, site, spans)
    link_findings.sort(key=lambda f: f.ts_ns)
    return Analysis(summaries, problems, parts, correlation, kept, link_findings)


def analyze(
    paths: Iterable[str | Path],
    site: SiteMap | None = None,
    *,
    keep_messages: bool = False,
    readers: tuple[SourceReader, ...] | None = None,
    analyzers: tuple[LinkAnalyzerFactory, ...] | None = None,
    on_bytes: Callable[[int, int], None] | None = None,
    keylog_files: Iterable[Path] = (),
    limits: Limits = DEFAULT_LIMITS,
) -> Analysis:
    """Analyse a capture set. Every file is its own capture source (its own clock).

    `on_bytes(done, total)` hears how many bytes of all input files are done (for a
    progress bar), now and then. `keylog_files`: NSS
    key log files for TLS (pcapng DSBs and in-band secrets are always used). `limits`:
    resource caps (`chargescope.analyzer.limits.Limits`); each cap hit becomes a warning
    finding (``limit.*`` or the layer's own code) among `link_findings`.
    """
    with fewer_collections():
        return _analyze(paths, site, keep_messages, readers, analyzers, on_bytes, keylog_files,
                        limits)


# An analysis allocates millions of small objects (trees, Messages, refs) that live to
# its end. At CPython's default threshold (700 allocations) the collector ran thousands
# of times on a 50 MB capture set, each full collection walking all built so far: a
# quarter of the CPU. While any analysis runs, the young-generation threshold is raised
# (fewer, larger collections: cycles are still collected); the last to end restores it.
ANALYSIS_GC_THRESHOLD = 50_000
_gc_lock = threading.Lock()
_gc_state: dict[str, object] = {"depth": 0, "saved": None}


@contextmanager
def fewer_collections():
    with _gc_lock:
        if _gc_state["depth"] == 0:
            saved = gc.get_threshold()
            _gc_state["saved"] = saved
            gc.set_threshold(max(saved[0], ANALYSIS_GC_THRESHOLD), *saved[1:])
        _gc_state["depth"] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_state["depth"] -= 1
            if _gc_state["depth"] == 0:
                gc.set_threshold(*_gc_state["saved"])


def _analyze(paths, site, keep_messages, readers, analyzers, on_bytes, keylog_files,
             limits) -> Analysis:
    readers = readers if readers is not None else source_readers(keylog_files, limits)
    analyzers = analyzers if analyzers is not None else link_analyzers()
    sources: list[SourceAnalysis] = []
    paths = list(map(Path, paths))
    total = sum(_size(p) for p in paths)
    done_bytes = 0
    for path in paths:
        reader = next((r for r in readers if _safe_probe(r, path)), None)
        if reader is None:
            raise UnreadableSource(f"{path}: not a capture, log or HAR file chargescope can read")
        source = SourceAnalysis(str(path), reader.name, analyzers, keep_messages)
        size = _size(path)
        if on_bytes is not None and reader.read_ticking is not None:
            base = done_bytes

            def tick(offset: int, base: int = base, size: int = size) -> None:
                on_bytes(base + min(offset, size), total)

            items = reader.read_ticking(path, tick)
        else:
            items = reader.read(path)
        for item in items:
            source.add(item)
        sources.append(source)
        done_bytes += size
        if on_bytes is not None:
            on_bytes(done_bytes, total)
    return assemble(sources, site)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _safe_probe(reader: SourceReader, path: Path) -> bool:
    try:
        return reader.probe(path)
    except OSError:
        return False
