"""Frames from a network interface as a blocking iterator, written to pcapng on the way.

The sniffer (scapy's AsyncSniffer, on its own thread) only queues raw bytes and
timestamps; everything else (pcapng writing, decoding, analysis) happens on the
consumer's thread, in capture order, through the same `Pipeline` offline analysis uses.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from chargescope.analyzer.analysis import SourceReader
from chargescope.analyzer.capture.writer import PcapngWriter
from chargescope.analyzer.records import Frame, Message, Problem

LINKTYPE_ETHERNET = 1
_POLL_S = 0.2  # how often the consumer checks the stop rule while no frame arrives


@dataclass(frozen=True, slots=True)
class StopRule:
    """When a live capture ends by itself (Ctrl-C always ends it too)."""

    count: int | None = None  # after this many frames
    duration_s: float | None = None  # after this many seconds
    idle_s: float | None = None  # after this long without a frame (once one was seen)


class FrameSource(Protocol):
    """What live consumers (`chargescope live`, `chargescope tui --live`) use of a
    capture: `LiveCapture` is the real one; tests hand in a replay of a file."""

    iface: str
    frames_seen: int
    error: str  # why it ended by itself, "" when it did not
    on_idle: Callable[[], None] | None  # called now and then while no frame arrives

    def __enter__(self) -> FrameSource: ...

    def __exit__(self, *exc: object) -> None: ...

    def frames(self) -> Iterator[Frame]: ...

    def stop(self) -> None: ...


class LiveCapture:
    """One interface being captured. Use as a context manager; iterate `frames()`."""

    def __init__(self, iface: str, *, write: Path | None = None, bpf: str | None = None,
                 stop: StopRule = StopRule(),
                 on_started: Callable[[], None] | None = None,
                 on_frame: Callable[[Frame], None] | None = None,
                 on_idle: Callable[[], None] | None = None,
                 ring_bytes: int | None = None, ring_files: int = 2,
                 backend: str = "auto") -> None:
        self.iface = iface
        # "scapy" (AsyncSniffer), "dumpcap" (Wireshark's capture engine through a pipe)
        # or "auto": dumpcap when installed
        self.backend = resolve_backend(backend)
        self.write_path = write
        self.bpf = bpf
        self.stop_rule = stop
        self.on_started = on_started
        self.on_frame = on_frame  # e.g. the PLC joiner: sees each frame before decoding
        self.on_idle = on_idle  # called while no frame arrives (live snapshots fall due)
        # ring buffer: past ring_bytes the file becomes FILE.1 (FILE.1 -> FILE.2, ...) and
        # a new FILE starts; at most ring_files files are kept
        self.ring_bytes = ring_bytes
        self.ring_files = max(1, ring_files)
        self._interface: int | None = None
        self.frames_seen = 0
        self.error = ""  # why the sniffer ended by itself, if it did
        self._queue: queue.Queue[tuple[bytes, int, int]] = queue.Queue()
        self._stopped = threading.Event()
        self._sniffer: Any = None
        self._writer: PcapngWriter | None = None
        self._file: Any = None

    def __enter__(self) -> LiveCapture:
        if self.write_path is not None:
            self._open_output()
        if self.backend == "dumpcap":
            from chargescope.analyzer.live.dumpcap import DumpcapSniffer

            def queue_frame(data: bytes, ts_ns: int, linktype: int) -> None:
                self._queue.put((data, ts_ns, linktype))

            self._sniffer = DumpcapSniffer(self.iface, queue_frame, self.bpf, self._started)
        else:
            self._sniffer = self._scapy_sniffer()
        self._sniffer.start()
        return self

    def _scapy_sniffer(self) -> Any:
        from scapy.sendrecv import AsyncSniffer

        # scapy warns when it cannot name the link layer (veth, PLC dongles); we only take
        # the bytes and know the link type from the interface itself
        logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
        linktype = interface_linktype(self.iface)

        def queue_packet(pkt: Any) -> None:
            self._queue.put((bytes(pkt), int(pkt.time * 1_000_000_000), linktype))

        return AsyncSniffer(iface=self.iface, filter=self.bpf, store=False,
                            prn=queue_packet, started_callback=self._started)

    def _open_output(self) -> None:
        self._file = open(self.write_path, "wb")  # noqa: SIM115 - closed in __exit__
        self._writer = PcapngWriter(self._file)
        self._interface = None

    def _rotate(self) -> None:
        self._file.close()
        path = self.write_path
        oldest = path.with_name(f"{path.name}.{self.ring_files - 1}")
        if self.ring_files == 1:
            path.unlink()
        else:
            oldest.unlink(missing_ok=True)
            for n in range(self.ring_files - 2, 0, -1):
                older = path.with_name(f"{path.name}.{n}")
                if older.exists():
                    older.rename(path.with_name(f"{path.name}.{n + 1}"))
            path.rename(path.with_name(f"{path.name}.1"))
        self._open_output()

    def _write(self, data: bytes, ts_ns: int, linktype: int) -> None:
        if self._interface is None:
            self._interface = self._writer.add_interface(linktype, name=self.iface)
        self._writer.write(data, ts_ns, self._interface)
        self._file.flush()  # as it goes: the file is readable while capturing
        if self.ring_bytes is not None and self._file.tell() >= self.ring_bytes:
            self._rotate()

    def _started(self) -> None:
        if self.on_started is not None:
            self.on_started()

    def stop(self) -> None:
        self._stopped.set()

    def __exit__(self, *exc: object) -> None:
        if self._sniffer is not None and (self._sniffer.running or self.backend == "dumpcap"):
            self._sniffer.stop()
        if self._file is not None:
            self._file.close()

    def frames(self) -> Iterator[Frame]:
        """Frames in arrival order until the stop rule, `stop()` or the sniffer ends."""
        rule = self.stop_rule
        start = last = time.monotonic()
        while not self._stopped.is_set():
            now = time.monotonic()
            if rule.duration_s is not None and now - start >= rule.duration_s:
                break
            if rule.idle_s is not None and self.frames_seen and now - last >= rule.idle_s:
                break
            if self._sniffer is not None and not self._sniffer.running and self._queue.empty():
                failure = getattr(self._sniffer, "exception", None)  # interface gone, ...
                self.error = (str(failure) or repr(failure)) if failure else \
                    "the sniffer stopped"
                break
            try:
                data, ts_ns, linktype = self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                if self.on_idle is not None:
                    self.on_idle()
                continue
            last = time.monotonic()
            self.frames_seen += 1
            frame = Frame(self.frames_seen, ts_ns, linktype, data, len(data), 0, self.iface)
            if self._writer is not None:
                self._write(data, ts_ns, linktype)
            if self.on_frame is not None:
                self.on_frame(frame)
            yield frame
            if rule.count is not None and self.frames_seen >= rule.count:
                break


BACKENDS = ("auto", "scapy", "dumpcap")


def resolve_backend(backend: str) -> str:
    """The capture engine to use: "auto" is dumpcap when installed, scapy otherwise."""
    from chargescope.analyzer.live.dumpcap import dumpcap_path

    if backend not in BACKENDS:
        raise ValueError(f"capture backend {backend!r}: one of {', '.join(BACKENDS)}")
    if backend == "auto":
        return "dumpcap" if dumpcap_path() else "scapy"
    return backend


# Linux ARPHRD_* (from /sys/class/net/IFACE/type) -> pcap LINKTYPE_*
_ARPHRD_LINKTYPE = {1: LINKTYPE_ETHERNET, 772: LINKTYPE_ETHERNET, 65534: 101, 803: 127}


def interface_linktype(iface: str) -> int:
    """The pcap link type of a Linux interface; Ethernet when it cannot be told."""
    try:
        arphrd = int(Path(f"/sys/class/net/{iface}/type").read_text().strip())
    except (OSError, ValueError):
        return LINKTYPE_ETHERNET
    return _ARPHRD_LINKTYPE.get(arphrd, LINKTYPE_ETHERNET)


def live_reader(capture: LiveCapture,
                on_item: Callable[[Message | Problem], None] | None = None) -> SourceReader:
    """A SourceReader for `analyze(...)`: the interface becomes one capture source."""
    from chargescope.analyzer.pipeline import Pipeline

    def read(_path: Path) -> Iterator[Message | Problem]:
        for item in Pipeline().run(capture.frames()):
            if on_item is not None:
                on_item(item)
            yield item

    return SourceReader("live", lambda _path: True, read)
