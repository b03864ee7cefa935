"""`chargescope tui --live`: the TUI fed by a frame source (a replay standing in for
the interface, so no root is needed): sessions and messages appear while the capture
runs, and the end state is the offline analysis of the same frames."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace
from pathlib import Path

from chargescope.analyzer.analysis import analyze
from chargescope.analyzer.capture import open_capture
from chargescope.analyzer.live import FrameSource
from chargescope.tui.app import ChargescopeApp
from chargescope.tui.widgets import HexView

REPO = Path(__file__).resolve().parent.parent
CAPTURE = REPO / "captures" / "demo" / "cablecheck-failure-linkA-plc.pcapng"


class ReplaySource:
    """A `FrameSource` replaying a capture; it holds at frame `hold_at` until `go` is
    set (calling `on_idle` while it waits, as LiveCapture does)."""

    def __init__(self, path: Path, hold_at: int, go: threading.Event) -> None:
        self.iface = "fake0"
        self.frames_seen = 0
        self.error = ""
        self.on_idle = None
        self.path, self.hold_at, self.go = path, hold_at, go
        self._stopped = threading.Event()

    def __enter__(self) -> ReplaySource:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def stop(self) -> None:
        self._stopped.set()
        self.go.set()

    def frames(self):
        with open_capture(self.path) as cap:
            frames = list(cap.frames())
        for n, frame in enumerate(frames):
            if self._stopped.is_set():
                return
            if n == self.hold_at:
                while not self.go.wait(0.05):
                    if self.on_idle is not None:
                        self.on_idle()
            time.sleep(0.001)
            self.frames_seen += 1
            yield replace(frame, source=self.iface)


def test_replay_source_is_a_frame_source() -> None:
    source: FrameSource = ReplaySource(CAPTURE, 0, threading.Event())
    assert source.iface == "fake0"


async def _until(pilot, condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        await pilot.pause(0.05)
    return condition()


def test_sessions_and_messages_appear_while_capturing() -> None:
    offline = analyze([CAPTURE])
    go = threading.Event()
    with open_capture(CAPTURE) as cap:
        total = len(list(cap.frames()))
    source = ReplaySource(CAPTURE, total - 3, go)

    async def scenario() -> None:
        app = ChargescopeApp([], live=source, live_interval_s=0.1)
        async with app.run_test(size=(160, 50)) as pilot:
            sessions = app.query_one("#session-table")
            messages = app.query_one("#message-table")
            # before the capture ends: the session is listed and its messages shown
            assert await _until(pilot, lambda: sessions.row_count == 1 and messages.row_count)
            assert not app.live_done
            shown_early = messages.row_count
            # more messages appear as more frames arrive (the capture then waits)
            assert await _until(pilot, lambda: source.frames_seen == total - 3
                                and messages.row_count > shown_early)
            assert "live on fake0" in app.sub_title
            # the hex pane has the live frame's bytes (no file to read them back from)
            app.show_message(0)
            assert app.query_one("#hex", HexView).highlight_count > 0
            go.set()
            assert await _until(pilot, lambda: app.live_done)
            await pilot.pause(0.2)
            assert "capture ended" in app.sub_title
            assert messages.row_count >= shown_early
            # the end state is the offline analysis of the same frames
            assert [(s.verdict, [f.code for f in s.findings]) for s in app.analysis.sessions] \
                == [(s.verdict, [f.code for f in s.findings]) for s in offline.sessions]
            assert app.query_one("#finding-table").row_count == \
                sum(len(s.findings) for s in offline.sessions) + len(offline.link_findings)

    asyncio.run(scenario())


def test_quitting_stops_the_capture() -> None:
    go = threading.Event()
    source = ReplaySource(CAPTURE, 10, go)

    async def scenario() -> None:
        app = ChargescopeApp([], live=source, live_interval_s=0.1)
        async with app.run_test(size=(120, 40)) as pilot:
            assert await _until(pilot, lambda: source.frames_seen == 10)
            await pilot.press("q")

    asyncio.run(scenario())
    assert source._stopped.is_set()


def test_frames_that_left_the_cache_come_from_the_written_file() -> None:
    from chargescope.tui.data import FrameStore

    with open_capture(CAPTURE) as cap:
        frames = list(cap.frames())
    store = FrameStore(capacity=8, window=2)
    for frame in frames:
        store.add("eth9", frame.number, frame.data)
    assert store.get("eth9", 1) is None  # evicted, and no file to read it back from
    store.read_from("eth9", str(CAPTURE))
    assert store.get("eth9", 1) == frames[0].data
    assert store.get("eth9", 50) == frames[49].data


def _shown_codes(app) -> list[str]:
    return [finding.code for _index, finding in app.findings]


def test_end_of_input_findings_wait_for_the_end_of_the_capture() -> None:
    """Held mid-session, a snapshot says the V2G session ended with the capture: not
    listed, nor the worst finding, and the verdict is marked as resting on it; when the
    capture does end there, the finding is listed and the verdict is unmarked."""
    from chargescope.analyzer.live.incremental import end_of_input

    go = threading.Event()
    source = ReplaySource(CAPTURE, 60, go)

    async def scenario() -> None:
        app = ChargescopeApp([], live=source, live_interval_s=0.1)
        async with app.run_test(size=(160, 50)) as pilot:
            sessions = app.query_one("#session-table")
            assert await _until(pilot, lambda: source.frames_seen == 60 and app.analysis
                                is not None and any(f.code == "v2g.session.capture_ended"
                                                    for f in app.analysis.findings))
            await pilot.pause(0.1)
            (session,) = app.analysis.sessions
            assert session.verdict == "inconclusive"
            assert "v2g.session.capture_ended" not in _shown_codes(app)
            assert not any(end_of_input(f) for _i, f in app.findings)
            row = sessions.get_row_at(0)
            assert str(row[1]) == "INCONCLUSIVE so far"
            assert "capture_ended" not in str(row[8])
            assert "so far" in str(app.query_one("#session-title").render())
            source.stop()  # the capture ends here: the snapshot's verdict is the final one
            assert await _until(pilot, lambda: app.live_done)
            await pilot.pause(0.2)
            assert "v2g.session.capture_ended" in _shown_codes(app)
            # (the end of the capture closes the connection: judged again, not marked)
            assert str(sessions.get_row_at(0)[1]) == app.analysis.sessions[0].verdict.upper()
            assert "so far" not in str(app.query_one("#session-title").render())

    asyncio.run(scenario())


def test_a_call_awaiting_its_answer_is_no_finding_while_capturing() -> None:
    """OCPP: held after the Authorize CALL, before its answer, the snapshot's
    ocpp.call.pending_at_end is not listed; the answer comes and nothing was."""
    from chargescope.analyzer.pipeline import Pipeline
    from chargescope.analyzer.records import Message
    from chargescope.tui.data import all_findings

    capture = CAPTURE.with_name("dc-pnc-happy-linkB-csms.pcapng")
    with open_capture(capture) as cap:
        frames = list(cap.frames())
    authorize = next(m for m in Pipeline().run(iter(frames)) if isinstance(m, Message)
                     and m.name == "Authorize Request")
    hold = next(n for n, f in enumerate(frames) if f.number == authorize.refs[-1].frame) + 1
    go = threading.Event()
    source = ReplaySource(capture, hold, go)

    async def scenario() -> None:
        app = ChargescopeApp([], live=source, live_interval_s=0.1)
        async with app.run_test(size=(160, 50)) as pilot:
            assert await _until(pilot, lambda: app.analysis is not None and any(
                f.code == "ocpp.call.pending_at_end" for f in app.analysis.findings))
            await pilot.pause(0.1)
            assert "ocpp.call.pending_at_end" not in _shown_codes(app)
            assert app.query_one("#finding-table").row_count == len(app.findings)
            assert all("pending_at_end" not in str(app.query_one("#session-table")
                                                   .get_row_at(r)[8])
                       for r in range(app.query_one("#session-table").row_count))
            go.set()
            assert await _until(pilot, lambda: app.live_done)
            await pilot.pause(0.2)
            offline = analyze([capture])
            assert _shown_codes(app) == [f.code for _i, f in all_findings(offline)]

    asyncio.run(scenario())
