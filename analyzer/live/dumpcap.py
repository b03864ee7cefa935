"""dumpcap as the capture engine of `chargescope live`.

dumpcap (Wireshark's capture engine, in Debian's `tshark` package) captures with its
own privileges and buffers and writes pcapng to a pipe; a thread here reads that pipe
as it grows (`follow_capture`: an incomplete block at the end is waited for, not
truncation) and hands each frame on, exactly as the scapy sniffer does. The object
is a `CaptureEngine` (`start`, `stop`, `running`, `exception`), registered as "dumpcap".
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chargescope.analyzer.live.capture import EngineRequest

DUMPCAP = "dumpcap"
STOP_TIMEOUT_S = 5.0


def dumpcap_path() -> str | None:
    """Where dumpcap is, or None when it is not installed."""
    return shutil.which(DUMPCAP)


class DumpcapError(Exception):
    """dumpcap ended by itself (no such interface, no permission, bad filter)."""


class DumpcapSniffer:
    """Runs dumpcap on one interface; `on_frame(data, ts_ns, linktype)` per frame, on
    the reading thread; `on_started()` once dumpcap says it is capturing."""

    def __init__(self, iface: str, on_frame: Callable[[bytes, int, int], None],
                 bpf: str | None = None, on_started: Callable[[], None] | None = None,
                 executable: str | None = None) -> None:
        self.iface = iface
        self.bpf = bpf
        self.on_frame = on_frame
        self.on_started = on_started
        self.executable = executable or dumpcap_path() or DUMPCAP
        self.exception: DumpcapError | None = None
        self.stderr_lines: list[str] = []
        self._proc: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self._stderr: threading.Thread | None = None
        self._stopping = False

    def command(self) -> list[str]:
        # -q: no running packet counts on stderr; -w -: pcapng on stdout, which dumpcap
        # flushes packet by packet when it writes to a pipe
        cmd = [self.executable, "-q", "-i", self.iface, "-w", "-"]
        if self.bpf:
            cmd += ["-f", self.bpf]
        return cmd

    def start(self) -> None:
        self._proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._stderr = threading.Thread(target=self._watch_stderr, daemon=True,
                                        name=f"dumpcap-stderr-{self.iface}")
        self._reader = threading.Thread(target=self._read, daemon=True,
                                        name=f"dumpcap-{self.iface}")
        self._stderr.start()
        self._reader.start()

    @property
    def running(self) -> bool:
        return self._reader is not None and self._reader.is_alive()

    def _watch_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        for raw in self._proc.stderr:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            self.stderr_lines.append(line)
            if line.startswith("Capturing on") and self.on_started is not None:
                self.on_started()

    def _read(self) -> None:
        from chargescope.analyzer.capture import NotACaptureError, follow_capture

        proc = self._proc
        assert proc is not None and proc.stdout is not None
        try:
            with follow_capture(f"dumpcap:{self.iface}", lambda: proc.poll() is None,
                                stream=proc.stdout) as capture:
                for frame in capture.frames():
                    self.on_frame(frame.data, frame.ts_ns, frame.linktype)
        except NotACaptureError:
            pass  # dumpcap wrote nothing: it failed before capturing (reason on stderr)
        finally:
            proc.wait()
            if self._stderr is not None:
                self._stderr.join(STOP_TIMEOUT_S)
            if proc.returncode != 0 and not self._stopping:
                reason = next((ln for ln in reversed(self.stderr_lines)
                               if not ln.startswith("Capturing on")), "")
                self.exception = DumpcapError(
                    f"dumpcap exited with status {proc.returncode}"
                    + (f": {reason}" if reason else ""))

    def stop(self) -> None:
        """Ask dumpcap to end (it writes out what it has), then wait for the reader."""
        self._stopping = True
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        if self._reader is not None:
            self._reader.join(STOP_TIMEOUT_S)


def dumpcap_engine(request: EngineRequest) -> DumpcapSniffer:
    """`LiveCapture`'s "dumpcap" engine."""
    return DumpcapSniffer(request.iface, request.emit, request.bpf, request.started)
