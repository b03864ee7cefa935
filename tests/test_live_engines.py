"""Capture engines: the `ENGINES` table, engines added by plugins, and `engine=` factories.

A replay engine stands in for hardware: it emits the frames of a real test capture on
its own thread, as the scapy/dumpcap/SocketCAN engines emit what the interface receives.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from chargescope import plugins
from chargescope.analyzer.capture import open_capture
from chargescope.analyzer.live.capture import (
    ENGINES,
    EngineRequest,
    LiveCapture,
    StopRule,
    engine_factory,
    engine_names,
)
from chargescope.cli import cli

CAPTURE = Path(__file__).parent / "data" / "ocpp" / "ocpp16_basic.pcap"


class ReplayEngine:
    def __init__(self, request: EngineRequest, frames: list, fail: str = "") -> None:
        self.request, self.frames, self.fail = request, frames, fail
        self.running = False
        self.exception: BaseException | None = None
        self.stops = 0

    def start(self) -> None:
        self.running = True
        self.request.started()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        for frame in self.frames:
            self.request.emit(frame.data, frame.ts_ns, frame.linktype)
        if self.fail:
            self.exception = OSError(self.fail)
        self.running = False

    def stop(self) -> None:
        self.stops += 1
        self.running = False


@pytest.fixture
def frames() -> list:
    with open_capture(CAPTURE) as cap:
        return list(cap.frames())


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch):
    """A fresh plugin registry standing in for the installed plugins."""
    fresh = plugins.PluginRegistry()
    monkeypatch.setattr(plugins, "installed", lambda: fresh)
    return fresh


def test_builtin_engines_resolve_to_factories() -> None:
    for name in ENGINES:
        assert callable(engine_factory(name))
    assert engine_names()[:4] == ("auto", "scapy", "dumpcap", "socketcan")


def test_plugin_engine_is_used_by_name(registry, frames: list, tmp_path: Path) -> None:
    engines: list[ReplayEngine] = []

    def factory(request: EngineRequest) -> ReplayEngine:
        engines.append(ReplayEngine(request, frames))
        return engines[-1]

    assert registry.register(lambda r: r.add_capture_engine("replay", factory), name="replay")
    assert "replay" in engine_names()
    assert registry.loaded[0].added == ("capture engine replay",)
    written = tmp_path / "out.pcapng"
    with LiveCapture("rp0", backend="replay", write=written,
                     stop=StopRule(count=len(frames))) as capture:
        got = list(capture.frames())
    assert [(f.data, f.ts_ns, f.linktype) for f in got] == \
        [(f.data, f.ts_ns, f.linktype) for f in frames]
    assert capture.backend == "replay" and engines[0].stops == 1
    with open_capture(written) as cap:
        assert [f.data for f in cap.frames()] == [f.data for f in frames]


def test_engine_that_ends_by_itself_reports_why(frames: list) -> None:
    capture = LiveCapture("rp0", backend="replay-direct",
                          engine=lambda request: ReplayEngine(request, frames[:3], "link down"))
    with capture:
        got = list(capture.frames())
    assert len(got) == 3 and capture.error == "link down"


def test_unknown_engine_is_refused_with_the_names(registry) -> None:
    with pytest.raises(ValueError, match="'nosuch'.*scapy, dumpcap, socketcan"):
        LiveCapture("eth9", backend="nosuch")
    result = CliRunner().invoke(cli, ["live", "--iface", "eth9", "--backend", "nosuch",
                                      "--count", "1"])
    assert result.exit_code == 2 and "capture backend 'nosuch'" in result.output


@pytest.mark.parametrize("name", ["scapy", "auto"])
def test_plugin_cannot_take_a_builtin_name(registry, name: str) -> None:
    ok = registry.register(lambda r: r.add_capture_engine(name, lambda req: None), name="bad")
    assert not ok and "already defined" in registry.failed[0].error
    assert registry.capture_engines == {}


def test_failed_register_undoes_its_engine(registry) -> None:
    def register(r: plugins.PluginRegistry) -> None:
        r.add_capture_engine("half", lambda req: None)
        raise RuntimeError("broken after adding")

    assert not registry.register(register, name="half")
    assert "half" not in engine_names()
