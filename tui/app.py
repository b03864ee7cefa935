"""The chargescope Textual application: sessions, swimlanes, tree + hex, findings, plots.

Layout lives in `compose()`, looks in `chargescope.tcss`. The analysis runs in a
worker thread so the screen stays responsive while large captures load; widgets are
fed `ChargingSession`/`Message` data through `chargescope.tui.data`.
"""

from __future__ import annotations

import asyncio
import csv
import gc
import json
import sys
import threading
import time
from array import array
from bisect import bisect_left
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widgets import (
    DataTable,
    Footer,
    Header,
    Input,
    Label,
    ProgressBar,
    TabbedContent,
    TabPane,
    Tree,
)

from chargescope.analyzer.analysis import Analysis, analyze
from chargescope.analyzer.correlate import SiteMap
from chargescope.analyzer.fieldranges import FieldRanges, field_ranges
from chargescope.analyzer.filter import FilterError, compile_filter
from chargescope.analyzer.limits import DEFAULT_LIMITS, Limits
from chargescope.analyzer.live import FrameSource
from chargescope.analyzer.live.incremental import PROVISIONAL, LiveAnalysis, Snapshotter
from chargescope.analyzer.records import ByteRef, Finding, Message, Severity
from chargescope.tui import data
from chargescope.tui.help import HelpScreen
from chargescope.tui.widgets import HexView, Swimlanes, WindowTable

VERDICT_STYLE = {"success": "bold green", "failed": "bold red", "inconclusive": "bold yellow"}
SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.NOTE: "cyan"}
# Rows a table holds at once: a DataTable row costs ~1 ms to add and measure, and a session of a
# 1 GB capture can hold 10^5..10^6 messages; the message table shows a window of the matches
# around the selection, the filter always runs over all of them.
TABLE_WINDOW = 200
ROW_BATCH = 50  # rows added between two chances for the screen to draw
# A session's messages arrive in steps of this many (merged in time order, swimlane marks,
# the display filter: ~10 ms of work a step); the first step is the first screen, the rest
# fill in between screen updates. Steps run at once while they stay under SESSION_AT_ONCE
# messages in total, so a small session opens complete.
SESSION_STEP = 2000
SESSION_AT_ONCE = 8000
SELECT_LEAD = 25  # rows listed above a selection that opened a new window
PROGRESS_EVERY_S = 0.25  # how often a filling session's counts and swimlanes are redrawn
GIL_TURN_S = 0.0005  # the switch interval while the load worker runs (`short_gil_turns`)


@dataclass(frozen=True, slots=True)
class Tables:
    """The session and finding tables' rows ((cells, key) each), made off the screen's
    thread: a 1 GB capture set has 10^4 sessions and findings."""

    sessions: list[tuple[tuple, str]]
    findings: list[tuple[int, Finding]]  # (session index or 0, finding), in time order
    finding_rows: list[tuple[tuple, str]]
    live: bool = False  # of a snapshot while capturing (`data.shown_findings`)

    @classmethod
    def of(cls, analysis: Analysis, live: bool = False) -> Tables:
        sessions = [
            ((Text(str(row.index)), verdict_text(row.verdict, row.provisional),
              Text(row.start), Text(row.ev), Text(row.charger), Text(row.protocol),
              Text(row.duration), Text(row.energy), Text(row.worst)), str(row.index))
            for row in data.session_rows(analysis, live)]
        findings = data.all_findings(analysis, live)
        finding_rows = [
            ((Text(str(index or "-")),
              Text(str(finding.severity), SEVERITY_STYLE[finding.severity]),
              Text(finding.code), Text(finding.text)), str(n))
            for n, (index, finding) in enumerate(findings)]
        return cls(sessions, findings, finding_rows, live)


def verdict_text(verdict: str, provisional: bool) -> Text:
    """The verdict as shown; one that rests on the capture having ended "now" says so."""
    shown = f"{verdict.upper()} {PROVISIONAL}" if provisional else verdict.upper()
    return Text(shown, VERDICT_STYLE[verdict])


class ChargescopeApp(App):
    CSS_PATH = "chargescope.tcss"
    TITLE = "chargescope"
    BINDINGS = [
        Binding("question_mark", "help", "Help"),
        Binding("s", "show_tab('sessions')", "Sessions"),
        Binding("slash", "filter", "Filter"),
        Binding("f", "show_tab('findings')", "Findings"),
        Binding("p", "show_tab('plots')", "Plots"),
        Binding("e", "export", "Export"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, paths: list[Path], site: Path | None = None,
                 analysis: Analysis | None = None, live: FrameSource | None = None,
                 live_interval_s: float = 1.0, keylog_files: tuple[Path, ...] = (),
                 freeze_gc: bool = False, limits: Limits = DEFAULT_LIMITS) -> None:
        super().__init__()
        self.limits = limits  # resource caps for loading and for the live capture
        # Freeze what the analysis has built as it loads (`_freeze_survivors`): a full
        # garbage collection walks every tracked object and stops all threads (0.8 s at
        # 10 MB of capture, growing with the file); frozen objects are skipped. The price,
        # cyclic garbage made while loading is never freed (refcounting still frees the
        # rest), suits the CLI's one app per process, not a test run.
        self.freeze_gc = freeze_gc
        self.paths = paths
        self.live = live  # a capture to follow: sessions and messages appear as they come
        self.live_interval_s = live_interval_s
        self.live_done = False
        self.keylog_files = keylog_files  # TLS key logs for the live capture
        self.site = site
        self.analysis: Analysis | None = analysis
        self.frames = data.FrameStore()
        self.session_index = 0
        self.items: list[tuple[int, Message]] = []  # the selected session's messages
        self.marks = data.Marks()  # their swimlane marks (lane, is a failure)
        # indexes into items that pass the filter: a flat array, not a list of int objects
        # that every garbage collection reaching it would visit (10^6 of them)
        self.shown = array("q")
        self.filtered = 0  # items the filter has been run over (the rest: not yet)
        self.predicate = None  # the display filter (None: every message)
        self.stream: data.SessionStream | None = None  # where the session's messages come from
        self.session_complete = True  # every message of the session is in items
        self._progress = None  # the generator filling the session, a step at a time
        self._pending: Message | None = None  # a message to select once it has arrived
        self._redrawn_at = 0.0  # when the fill's progress was last shown (0: not yet)
        self.table_rows: dict[str, list[tuple[tuple, str]]] = {}  # all rows, by table id
        self.table_window: dict[str, int] = {}  # the first row listed, by table id
        self._tables_filling: set[str] = set()  # tables whose rows are still being added
        self._tables_filled = threading.Event()  # none is
        self.window = 0  # position in `shown` of the message table's first row
        self.filter_text = ""
        self.index: data.MessageIndex | None = None
        self.findings: list = []
        self.snapshot_live = False  # what is shown is a snapshot of a capture still going
        self.plotted = False
        self.message: Message | None = None  # the one in the detail tree
        self._field_ranges: FieldRanges | None = None  # its field positions, once asked

    # ---------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        yield Header()
        yield ProgressBar(id="loading", show_eta=False)
        with TabbedContent(initial="sessions", id="tabs"):
            with TabPane("Sessions", id="sessions"):
                yield WindowTable(id="session-table", cursor_type="row", zebra_stripes=True)
            with TabPane("Session", id="session"):
                yield Label("", id="session-title")
                yield Swimlanes(id="lanes")
                with Horizontal(id="session-body"):
                    with Vertical(id="message-pane"):
                        yield Input(placeholder="display filter, e.g. v2g.ResponseCode != \"OK\"",
                                    id="filter")
                        yield Label("", id="filter-status")
                        yield WindowTable(id="message-table", cursor_type="row")
                    with Vertical(id="detail-pane"):
                        yield Tree("message", id="detail")
                        yield HexView("", id="hex")
            with TabPane("Findings", id="findings"):
                yield WindowTable(id="finding-table", cursor_type="row", zebra_stripes=True)
            with TabPane("Plots", id="plots"):
                yield Label("", id="plot-text")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#session-table", DataTable).add_columns(
            "#", "verdict", "start (UTC)", "EV", "charger", "protocol", "duration", "energy",
            "worst finding")
        self.query_one("#message-table", DataTable).add_columns(
            "time", "link", "protocol", "message", "src", "dst", "summary")
        self.query_one("#finding-table", DataTable).add_columns(
            "session", "severity", "code", "text")
        if self.analysis is not None:
            self._loaded(self.analysis)
        elif self.live is not None:
            self.query_one("#loading", ProgressBar).display = False
            self.sub_title = f"live on {self.live.iface}: waiting for frames"
            self.follow()
        else:
            self.load()

    # ---------------------------------------------------------------- loading
    @work(thread=True, exclusive=True)
    def load(self) -> None:
        with short_gil_turns():
            self._load()

    def _load(self) -> None:
        bar = self.query_one("#loading", ProgressBar)

        def on_bytes(done: int, total: int) -> None:
            self.call_from_thread(bar.update, total=total or 1, progress=done)

        site = SiteMap.load(self.site) if self.site else None
        if self.freeze_gc:
            gc.callbacks.append(_freeze_survivors)
        try:
            result = analyze(self.paths, site, keep_messages=True, on_bytes=on_bytes,
                             limits=self.limits)
            # here, not on the screen's thread; and still under the freezing hook, so the
            # collections its allocations trigger do not walk the whole analysis
            index = data.MessageIndex(result)
            tables = Tables.of(result)
        except Exception as exc:  # an unreadable input must reach the user, not kill the app
            self.call_from_thread(self.notify, f"cannot analyse: {exc}", severity="error",
                                  timeout=30)
            return
        finally:
            if _freeze_survivors in gc.callbacks:
                gc.callbacks.remove(_freeze_survivors)
        if self.freeze_gc:
            gc.freeze()  # what loading built stays: no full collection walks it again
        self.call_from_thread(self._loaded, result, index, tables=tables)
        # the frame index only once the tables are filled: competing for the GIL with
        # the screen's thread, it doubled what each batch of rows held the screen
        while not self._tables_filled.wait(0.2):
            if not self.is_running:
                return
        for source in result.sources:  # then the hex pane can seek to any frame
            if source.reader == "capture":
                self.frames.index(source.path)

    @work(thread=True, exclusive=True, group="live")
    def follow(self) -> None:
        """Feed the live capture through the pipeline; redraw from snapshots of the
        analysis so far (`analyzer/live/incremental.py`), and from the final one."""
        from chargescope.analyzer.pipeline import Pipeline
        from chargescope.analyzer.tls.sources import load_key_logs

        source = self.live
        assert source is not None
        site = SiteMap.load(self.site) if self.site else None
        live = LiveAnalysis(source.iface, site)

        def show(analysis: Analysis) -> None:
            # the message index and table rows are built here, not on the screen's thread
            self.call_from_thread(self._refreshed, analysis, data.MessageIndex(analysis),
                                  Tables.of(analysis, live=True))

        snapshots = Snapshotter(live, interval_s=self.live_interval_s, on_snapshot=show,
                                keep_messages=True)
        source.on_idle = snapshots.poll
        written = getattr(source, "write_path", None)
        if written is not None and getattr(source, "ring_bytes", None) is None:
            self.frames.read_from(source.iface, str(written))

        def stored(frames):
            for frame in frames:  # the hex pane has no file to read live frames back from
                self.frames.add(frame.source, frame.number, frame.data)
                yield frame

        try:
            with source:
                keylog = load_key_logs(self.keylog_files)
                for item in Pipeline(keylog=keylog, limits=self.limits).run(
                        stored(source.frames())):
                    live.add(item)
                    snapshots.poll()
        except Exception as exc:  # a capture that fails must reach the user, not kill the app
            self.call_from_thread(self.notify, f"cannot capture on {source.iface}: {exc}",
                                  severity="error", timeout=30)
            return
        if not self.is_running:  # the app was closed: nobody to show the end to
            return
        final = live.snapshot(keep_messages=True)
        self.live_done = True
        self.call_from_thread(self._refreshed, final, data.MessageIndex(final), Tables.of(final))
        ended = f"capture ended: {source.frames_seen} frames"
        if source.error:
            ended += f" ({source.error})"
        self.call_from_thread(self.notify, ended, timeout=10)

    def _refreshed(self, analysis: Analysis, index: data.MessageIndex | None = None,
                   table_rows: Tables | None = None) -> None:
        """A newer analysis of the live capture: the same view, more in it."""
        focused = self.focused
        tables = {name: self.query_one(name, DataTable)
                  for name in ("#session-table", "#finding-table", "#message-table")}
        rows = {name: table.cursor_row for name, table in tables.items()}
        first = self.analysis is None or not self.analysis.sessions
        self._loaded(analysis, index, focus=first, tables=table_rows)
        if self.session_index and any(s.index == self.session_index for s in analysis.sessions):
            self.open_session(self.session_index, switch=False)
        for name, table in tables.items():
            if table.row_count:
                table.move_cursor(row=min(rows[name], table.row_count - 1))
        if not first and focused is not None:
            focused.focus()
        state = "capture ended" if self.live_done else f"live on {self.live.iface}"
        self.sub_title = f"{state}: {self.sub_title}"

    def _loaded(self, analysis: Analysis, index: data.MessageIndex | None = None,
                focus: bool = True, tables: Tables | None = None) -> None:
        self.analysis = analysis
        self.index = index or data.MessageIndex(analysis)
        tables = tables or Tables.of(analysis)
        self.snapshot_live = tables.live
        self.query_one("#loading", ProgressBar).display = False
        table = self.query_one("#session-table", DataTable)
        self.fill_rows(table, tables.sessions)
        findings = self.query_one("#finding-table", DataTable)
        self.findings = tables.findings
        self.fill_rows(findings, tables.finding_rows)
        self.sub_title = (f"{len(analysis.sessions)} session(s), "
                          f"{len(self.findings)} finding(s), "
                          f"{len(analysis.problems)} problem(s)")
        if analysis.sessions and focus:
            self.open_session(analysis.sessions[0].index, switch=False)
        if focus:
            table.focus()

    def on_unmount(self) -> None:
        if self.live is not None:
            self.live.stop()  # the capture thread ends at its next frame or idle poll

    def fill_rows(self, table: DataTable, rows: list[tuple[tuple, str]],
                  window: int = 0) -> None:
        """List rows[window:window + TABLE_WINDOW] (a 1 GB capture has 10^4 sessions and
        more findings; keys past the listed rows move the window, `on_window_table_edge`):
        a batch now, the rest in batches that let the screen draw and take keys between."""
        group = f"rows-{table.id}"
        self.workers.cancel_group(self, group)  # a refill (live view): no stale rows after it
        self.table_rows[table.id] = rows
        self.table_window[table.id] = window
        table.clear()
        listed = rows[window:window + TABLE_WINDOW]
        for cells, key in listed[:ROW_BATCH]:
            table.add_row(*cells, key=key)
        if len(listed) > ROW_BATCH:
            self._tables_filling.add(group)
            self._tables_filled.clear()
            self.run_worker(self._more_rows(table, listed, ROW_BATCH), group=group,
                            exclusive=True)
        else:
            self._table_filled(group)

    async def _more_rows(self, table: DataTable, rows: list[tuple[tuple, str]],
                         start: int) -> None:
        for at in range(start, len(rows), ROW_BATCH):
            await asyncio.sleep(0)
            for cells, key in rows[at:at + ROW_BATCH]:
                table.add_row(*cells, key=key)
        self._table_filled(f"rows-{table.id}")

    def _table_filled(self, group: str) -> None:
        self._tables_filling.discard(group)
        if not self._tables_filling:
            self._tables_filled.set()
        self._freeze_settled()

    def _freeze_settled(self) -> None:
        """A table has just been filled or a session opened: what the screen holds now
        stays as long as it is shown, so (with `freeze_gc`) freeze it (O(1)); full
        collections then walk only what comes after, not thousands of rows (60-250 ms
        each at 50 MB of capture, every few seconds). No collection first: even a young
        one took 100-160 ms here at 200 MB-1 GB. The price: cyclic garbage among what is
        frozen is never collected (refcounting still frees the rest, the lists of a
        session closed among them)."""
        if self.freeze_gc:
            gc.freeze()

    # ---------------------------------------------------------------- sessions
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        table_id = event.data_table.id
        if table_id == "session-table":
            self.open_session(int(event.row_key.value))
        elif table_id == "finding-table":
            self.jump_to_finding(int(event.row_key.value))

    def open_session(self, index: int, switch: bool = True,
                     select: Message | None = None) -> None:
        """Show session `index`: its first screen now (first messages, their swimlane
        marks, the findings), the rest of its messages in steps between screen updates;
        `select` is selected when it has arrived."""
        assert self.analysis is not None
        if self.index is None or self.index.analysis is not self.analysis:
            self.index = data.MessageIndex(self.analysis)
        session = next(s for s in self.analysis.sessions if s.index == index)
        self.workers.cancel_group(self, "session")
        self.session_index = index
        self.stream = data.SessionStream(self.index, session)
        self.items, self.marks, self.shown, self.filtered = [], data.Marks(), array("q"), 0
        # the session's big lists (its windows, the items that grow to 10^6 pairs) live
        # until another session opens: frozen now, no full collection walks them (each
        # such walk touched every message they hold: 0.6-0.9 s at 200 MB of capture)
        self._freeze_settled()
        self.session_complete = False
        self._redrawn_at = 0.0
        self._pending = select
        self.window = 0
        self.query_one("#lanes", Swimlanes).show(self.items, self.marks, self.stream.span())
        self.query_one("#message-table", DataTable).clear()
        if not self.apply_filter(self.query_one("#filter", Input).value):
            self.apply_filter("")  # the box keeps the faulty text; the session still opens
        self.plotted = False  # plots walk every message: drawn when their tab is shown
        if self.query_one(TabbedContent).active == "plots":
            self.plot()
        if switch:
            self.query_one(TabbedContent).active = "session"
            self.call_after_refresh(self.query_one("#message-table", DataTable).focus)

    def _show_title(self) -> None:
        assert self.stream is not None
        session = self.stream.session
        count = (f"{len(self.items)} messages" if self.session_complete
                 else f"{len(self.items)} of {self.stream.expected} messages, loading")
        self.query_one("#session-title", Label).update(Text.assemble(
            (f"Session {session.index} ", "bold"),
            verdict_text(session.verdict, self.snapshot_live and data.provisional(session)),
            f"  {session.verdict_reason}  ({count})"))

    def apply_filter(self, text: str) -> bool:
        """Filter the session's messages: the first screenful now, the rest in steps.
        False (and the error shown) when `text` is not a filter."""
        status = self.query_one("#filter-status", Label)
        try:
            predicate = compile_filter(text)
        except FilterError as exc:
            status.update(Text(f"filter error: {exc}", "bold red"))
            return False
        self.predicate = predicate if text.strip() else None
        self.filter_text = text
        self._redrawn_at = 0.0
        self.shown, self.filtered = array("q"), 0
        self._fill_messages(0)
        self._advance()
        return True

    def _advance(self, at_once: int | None = None) -> None:
        """Run the session's filling steps now while they handle fewer than `at_once`
        messages and rows (SESSION_AT_ONCE), the rest in a worker."""
        if at_once is None:
            at_once = SESSION_AT_ONCE
        self.workers.cancel_group(self, "session")
        self._progress = self._steps()
        done = 0
        for handled in self._progress:
            done += handled
            if done >= at_once:
                # the function, not a coroutine: a worker cancelled before it starts
                # (the next session opened at once) leaves no coroutine never awaited
                self.run_worker(partial(self._more_steps, self._progress), group="session",
                                exclusive=True)
                return
        self._progress = None

    async def _more_steps(self, steps) -> None:
        for _work in steps:
            await asyncio.sleep(0)  # let the screen draw and take keys between two steps

    def _steps(self):
        """The session's filling, one step at a time (each yields the messages it handled):
        the first messages, then the filter's catching up and the next messages in turn,
        until all are in."""
        stream = self.stream
        if stream is None:
            return
        while True:
            if self._list_more():
                yield ROW_BATCH
                continue
            if self.filtered < len(self.items):
                yield self._filter_more(SESSION_STEP)
                continue
            chunk = stream.take(SESSION_STEP)
            if not chunk:
                break
            yield self._append(chunk)
        self.session_complete = True
        self._show_title()
        self._show_status()
        self.query_one("#lanes", Swimlanes).refresh()
        self._freeze_settled()
        if self._pending is not None:
            self.notify(f"{self._pending.name}: not in this session's messages")
            self._pending = None
        if self.query_one(TabbedContent).active == "plots" and not self.plotted:
            self.plot()

    def _append(self, chunk: list[tuple[int, Message]]) -> int:
        """Messages arrived: their marks, the filter over them, rows if the table has room."""
        start = len(self.items)
        self.items += chunk
        self.marks.extend(m for _ts, m in chunk)
        redraw = self._redraw_due()
        self.query_one("#lanes", Swimlanes).extend(start, refresh=redraw)
        if self.filtered == start:
            self._filter_more(len(chunk), redraw=False)
        if redraw:
            self._show_title()
            self._show_status()
        if self._pending is not None and chunk:
            self._select(self._pending)
        return len(chunk)

    def _filter_more(self, count: int, redraw: bool | None = None) -> int:
        """Run the filter over the next `count` messages; list new matches the table has
        room for; redraw the counts if `redraw` (None: if due)."""
        first, end = self.filtered, min(self.filtered + count, len(self.items))
        if self.predicate is None:  # no filter: all of them at once, in C
            end = len(self.items)
            self.shown.extend(range(first, end))
        else:
            predicate, items = self.predicate, self.items
            self.shown.extend([i for i in range(first, end) if predicate(items[i][1])])
        self.filtered = end
        self._list_more()
        if redraw or redraw is None and self._redraw_due():
            self._show_status()
        return end - first

    def _redraw_due(self) -> bool:
        """Whether the counts and the swimlanes should be redrawn now, while a session
        fills: at its first step, then every PROGRESS_EVERY_S (a label's update lays the
        screen out again: at every step, it was most of a step's cost)."""
        now = time.perf_counter()
        if now - self._redrawn_at < PROGRESS_EVERY_S and self._redrawn_at:
            return False
        self._redrawn_at = now
        return True

    def _list_more(self) -> int:
        """Up to ROW_BATCH more rows where the table lists fewer than its window and
        matches wait (a row costs ~1 ms: a whole window at once would hold the screen)."""
        table = self.query_one("#message-table", DataTable)
        start = self.window + table.row_count
        rows = self.shown[start:min(start + ROW_BATCH, self.window + TABLE_WINDOW)]
        for i in rows:
            self._add_row(table, i)
        return len(rows)

    def _show_status(self) -> None:
        text = self.filter_text
        status = f"{len(self.shown)} of {len(self.items)} messages" + (
            f" match {text!r}" if text.strip() else "")
        if len(self.shown) > TABLE_WINDOW:
            end = min(self.window + TABLE_WINDOW, len(self.shown))
            status += f"; rows {self.window + 1}..{end} listed (the selection moves the window)"
        if not self.session_complete or self.filtered < len(self.items):
            status += "; loading"
        self.query_one("#filter-status", Label).update(status)

    def _fill_messages(self, window: int) -> None:
        """The message table from shown[window]: its first rows now, the rest of the
        window (to TABLE_WINDOW rows) by the filling steps."""
        self.window = window
        self._show_status()
        self.query_one("#message-table", DataTable).clear()
        self._list_more()

    def _add_row(self, table: DataTable, i: int) -> None:
        ts, m = self.items[i]
        t0 = self.items[0][0]
        style = "red" if m.problems else ""
        # Text, not str: addresses like "[fe80::1]:15118" are not Rich markup
        # (and Text for every cell: a str cell is parsed as markup, row after row)
        table.add_row(Text(f"{(ts - t0) / 1e9:9.3f}"), Text(str(m.link)), Text(m.protocol),
                      Text(m.name, style), Text(m.src), Text(m.dst),
                      Text(data.summary_text(m)), key=str(i))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.apply_filter(event.value)
            self.query_one("#message-table", DataTable).focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "message-table" and event.row_key is not None:
            try:
                self.show_message(int(event.row_key.value))
            except NoMatches:  # queued by a live refresh while the app was closing
                pass

    def on_window_table_edge(self, event: WindowTable.Edge) -> None:
        """Keyboard scrolling past the listed rows: move the window along."""
        if event.table_id != "message-table":
            self._move_table_window(event.table_id, event.step)
            return
        table = self.query_one("#message-table", DataTable)
        position = min(max(self.window + table.cursor_row + event.step, 0), len(self.shown) - 1)
        if position >= 0 and not self.window <= position < self.window + table.row_count:
            self.show_message(self.shown[position], move_cursor=True)

    def _move_table_window(self, table_id: str | None, step: int) -> None:
        """The session or finding table: list the rows around the one moved to."""
        rows = self.table_rows.get(table_id or "")
        if not rows:
            return
        table = self.query_one(f"#{table_id}", DataTable)
        window = self.table_window[table.id]
        position = min(max(window + table.cursor_row + step, 0), len(rows) - 1)
        if window <= position < window + table.row_count:
            return
        window = max(0, position - min(SELECT_LEAD, TABLE_WINDOW // 2))
        self.fill_rows(table, rows, window)
        table.move_cursor(row=position - window)

    def on_swimlanes_mark_selected(self, event: Swimlanes.MarkSelected) -> None:
        self.show_message(event.index, move_cursor=True)

    def show_message(self, index: int, move_cursor: bool = False) -> None:
        if not (0 <= index < len(self.items)):
            return
        _ts, message = self.items[index]
        self.message, self._field_ranges = message, None
        self.query_one("#lanes", Swimlanes).selected = index
        tree = self.query_one("#detail", Tree)
        tree.clear()
        tree.root.set_label(Text(f"{message.link} {message.protocol}: {message.name}"))
        tree.root.data = ()
        _fill(tree.root, message.fields)
        for problem in message.problems:
            tree.root.add_leaf(Text(f"problem: {problem}", "bold red"))
        tree.root.expand_all()
        self.show_bytes(message.refs, message.name)
        if move_cursor:
            position = bisect_left(self.shown, index)
            if position < len(self.shown) and self.shown[position] == index:
                table = self.query_one("#message-table", DataTable)
                if not self.window <= position < self.window + table.row_count:
                    # a new window, the selection near its top: the rows down to it now
                    # (one batch), the rest of the window in the background
                    self._fill_messages(max(0, position - min(SELECT_LEAD, TABLE_WINDOW // 2)))
                    self._advance(at_once=0)
                table.move_cursor(row=position - self.window)

    def show_bytes(self, refs: tuple[ByteRef, ...], what: str, note: str = "") -> None:
        """The frame of the first of `refs` in the hex pane, its bytes of `refs` marked."""
        hex_view = self.query_one("#hex", HexView)
        if not refs:
            hex_view.show(what, None, [])
            return
        ref = refs[0]
        frame = self.frames.get(ref.source, ref.frame)
        ranges = [(r.start, r.length) for r in refs
                  if r.frame == ref.frame and r.source == ref.source]
        title = f"{Path(ref.source).name} frame {ref.frame}"
        frames = sorted({r.frame for r in refs if r.source == ref.source})
        if len(frames) > 1:
            title += f" (and frame(s) {', '.join(map(str, frames[1:]))})"
        hex_view.show(title + (f"  [{note}]" if note else ""), frame, ranges)

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        """A field of the detail tree selected: mark exactly its bytes."""
        message = self.message
        path = event.node.data
        if message is None or path is None or event.control.id != "detail":
            return
        if not path:
            self.show_bytes(message.refs, message.name)
            return
        if self._field_ranges is None:
            self._field_ranges = field_ranges(message, self.frames.get)
        ranges = self._field_ranges
        refs = ranges.of(path)
        note = ranges.note or ("" if path in ranges.ranges else "field not placed: "
                               "nearest enclosing part shown")
        self.show_bytes(refs, message.name, note)

    # ---------------------------------------------------------------- findings
    def jump_to_finding(self, n: int) -> None:
        index, finding = self.findings[n]
        if not finding.evidence:
            self.notify(f"{finding.code}: no evidence message to show")
            return
        target = finding.evidence[0]
        if index == 0 and self.analysis is not None and self.index is not None:
            at = self.index.reference_ns(target)  # only sessions around it can hold it
            index = next((s.index for s in self.analysis.sessions
                          if s.start_ns - data.SESSION_MARGIN_NS <= at
                          <= s.end_ns + data.SESSION_MARGIN_NS
                          and any(m is target for p in s.parts for m in p.messages)),
                         self.session_index)
        self.query_one("#filter", Input).value = ""
        if index and index != self.session_index:
            self.open_session(index, select=target)
            return
        self.query_one(TabbedContent).active = "session"
        self.apply_filter("")
        self._pending = target
        self._select(target)
        if self._pending is not None and self.session_complete:
            self._pending = None
            self.notify(f"{finding.code}: evidence not in this session's messages")

    def _select(self, target: Message) -> None:
        """Select `target` (or the message with its bytes) if it has arrived; it is where
        its reference time is, the items being in time order."""
        if self.index is None or not self.items:
            return
        at = self.index.reference_ns(target)
        position = bisect_left(self.items, at, key=lambda pair: pair[0])
        while position < len(self.items) and self.items[position][0] == at:
            message = self.items[position][1]
            if message is target or (message.refs and message.refs == target.refs):
                self._pending = None
                self.show_message(position, move_cursor=True)
                self.query_one("#message-table", DataTable).focus()
                return
            position += 1

    # ---------------------------------------------------------------- plots
    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "plots" and not self.plotted:
            self.plot()

    def plot(self) -> None:
        if not self.session_complete:  # drawn over every message, when they are all in
            self.query_one("#plot-text", Label).update(
                Text("the session is loading: plotted when all its messages are in", "dim"))
            return
        self.plotted = True
        text = Text()
        series = data.dc_series(self.items)
        for key, points in series.items():
            if points:
                text.append(f"{key:<20}", style="bold")
                text.append(_sparkline([v for _t, v in points]))
                text.append(f"  {min(v for _t, v in points):.1f} .. "
                            f"{max(v for _t, v in points):.1f}\n")
        atten = data.attenuation(self.items)
        if atten:
            text.append(f"{'SLAC attenuation dB':<20}", style="bold")
            text.append(_sparkline(atten))
            text.append(f"  {len(atten)} groups, mean {sum(atten) / len(atten):.1f} dB\n")
        meter = data.meter_series(self.items)
        if meter:
            text.append(f"{'OCPP meter Wh':<20}", style="bold")
            text.append(_sparkline([v for _t, v in meter]))
            text.append(f"  {meter[0][1]:.0f} .. {meter[-1][1]:.0f} Wh\n")
        if not text.plain:
            text.append("nothing to plot in this session", style="dim")
        self.query_one("#plot-text", Label).update(text)

    # ---------------------------------------------------------------- actions
    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_filter(self) -> None:
        self.query_one(TabbedContent).active = "session"
        # the pane becomes visible on the next refresh; focus can only land then
        self.call_after_refresh(self.query_one("#filter", Input).focus)

    def action_export(self) -> None:
        """The messages shown now, as JSON and CSV beside the first capture."""
        if not self.items:
            self.notify("nothing to export")
            return
        if not self.session_complete or self.filtered < len(self.items):
            self.notify("the session is still loading: export when all its messages are in")
            return
        base = self.paths[0] if self.paths else Path(".")
        folder = base if base.is_dir() else base.parent
        stem = folder / f"chargescope-session{self.session_index}"
        rows = []
        for i in self.shown:
            ts, m = self.items[i]
            rows.append({"ts_ns": ts, "link": str(m.link), "protocol": m.protocol,
                         "name": m.name, "src": m.src, "dst": m.dst,
                         "frames": [r.frame for r in m.refs], "fields": m.fields})
        try:
            stem.with_suffix(".json").write_text(json.dumps(rows, indent=1, default=str))
            with stem.with_suffix(".csv").open("w", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(["ts_ns", "link", "protocol", "name", "src", "dst", "frames"])
                for row in rows:
                    writer.writerow([row["ts_ns"], row["link"], row["protocol"], row["name"],
                                     row["src"], row["dst"], " ".join(map(str, row["frames"]))])
        except OSError as exc:
            self.notify(f"export failed: {exc}", severity="error")
            return
        self.notify(f"exported {len(rows)} messages to {stem}.json and .csv")


@contextmanager
def short_gil_turns(turn_s: float = GIL_TURN_S):
    """While a worker thread computes, the screen's thread waits for the GIL each time it
    comes back from a system call (asyncio's select, a terminal write), up to the switch
    interval (5 ms by default), and one screen update makes dozens of them: the "convoy
    effect". Short turns let it through quickly; the worker loses little."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(turn_s)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def _freeze_survivors(phase: str, info: dict) -> None:
    """While loading: what survived a collection is (nearly all) analysis that stays, so
    freeze it; an older generation then holds only what came since, not the whole heap.
    After every collection, the youngest too: `analyze` raises the young threshold to
    50,000 objects, and survivors left to pile up in the middle generation made each of
    its collections a 0.4-1 s stop-the-world pause at 200 MB (stallwatch, 2026-11-25)."""
    if phase == "stop":
        gc.freeze()


def _fill(node, value, path: tuple = (), depth: int = 0) -> None:
    """Tree nodes for `value`; each node's data is its path in Message.fields."""
    if depth > 40:
        node.add_leaf("...")
        return
    if isinstance(value, dict | list):
        pairs = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in pairs:
            label = str(key) if isinstance(value, dict) else f"[{key}]"
            here = (*path, key)
            if isinstance(item, dict | list) and item:
                _fill(node.add(Text(label), data=here), item, here, depth + 1)
            else:
                node.add_leaf(Text(f"{label}: {item}"), data=here)
    else:
        node.add_leaf(Text(str(value)), data=path)


_BARS = "▁▂▃▄▅▆▇█"


def _sparkline(values: list[float], width: int = 60) -> str:
    if not values:
        return ""
    if len(values) > width:
        step = len(values) / width
        values = [values[int(i * step)] for i in range(width)]
    lo, hi = min(values), max(values)
    span = hi - lo or 1.0
    return "".join(_BARS[int((v - lo) / span * (len(_BARS) - 1))] for v in values)
