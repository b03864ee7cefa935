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
