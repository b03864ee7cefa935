"""Lossy sniffer captures for tests: a demo capture with chosen TCP segments left out."""

from __future__ import annotations

from pathlib import Path

import pytest

from chargescope.analyzer import net
from chargescope.analyzer.capture import open_capture
from chargescope.analyzer.records import Frame

DEMO = Path(__file__).resolve().parent.parent / "captures" / "demo"


def demo_frames(name: str) -> list[Frame]:
    with open_capture(DEMO / name) as capture:
        return list(capture.frames())


def payload_frames(frames: list[Frame], port: int | None = None,
                   to_port: bool | None = None) -> list[int]:
    """Numbers of the frames carrying TCP bytes, in capture order: all, or those of TCP
    `port` (either way, or only towards it / only from it with `to_port`)."""
    out = []
    for frame in frames:
        packet = net.decode(frame)
        if packet.ip_proto != 6 or not packet.payload_length:
            continue
        if port is None or (port in (packet.sport, packet.dport)
                            and to_port in (None, packet.dport == port)):
            out.append(frame.number)
    return out


def reassembly_twin(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Body of a fixture parametrized with `twin_params("tcpreassembly")`: the pipeline
    runs that twin (the switch is read when a pipeline is built)."""
    monkeypatch.setenv("CHARGESCOPE_PUREPYTHON", "1" if request.param == "python" else "0")
    return request.param
