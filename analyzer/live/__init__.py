"""Live capture: frames from an interface, written to pcapng as they come and fed to the
same pipeline and link analyzers `analyze` uses (see `chargescope.cli.live`)."""

from chargescope.analyzer.live.capture import FrameSource, LiveCapture, StopRule, live_reader

__all__ = ["FrameSource", "LiveCapture", "StopRule", "live_reader"]
