"""Frames from a network interface as a blocking iterator, written to pcapng on the way.

A capture engine (scapy's AsyncSniffer, dumpcap through a pipe, a SocketCAN socket, or
one a plugin registers) runs on its own thread and only hands over raw bytes, timestamps
and link types; everything else (pcapng writing, decoding, analysis) happens on the
consumer's thread, in capture order, through the same `Pipeline` offline analysis uses.

Engines are looked up by name in `ENGINES` ("module:function" of a factory, imported on
first use) and in the plugins' `add_capture_engine`; a factory takes an `EngineRequest`
and returns a `CaptureEngine`.
"""

from __future__ import annotations

import importlib
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


@dataclass(frozen=True, slots=True)
class EngineRequest:
    """What a capture engine is asked for: the interface, an optional BPF filter, where to
    hand each frame (`emit(data, ts_ns, linktype)`, called on the engine's thread) and whom
    to tell once it captures (`started()`)."""

    iface: str
    bpf: str | None
    emit: Callable[[bytes, int, int], None]
    started: Callable[[], None]


class CaptureEngine(Protocol):
    """A running source of raw frames for `LiveCapture`.

    `start()` begins capturing on a thread of its own; `running` turns False when it
    ends (by `stop()` or by itself, then `exception` says why); `stop()` is safe to call
    at any time, also after it ended."""

    running: bool
    exception: BaseException | None

    def start(self) -> None: ...

    def stop(self) -> None: ...


EngineFactory = Callable[[EngineRequest], CaptureEngine]

# name -> "module:function" of its EngineFactory, imported on first use
ENGINES: dict[str, str] = {
    "scapy": "chargescope.analyzer.live.capture:scapy_engine",
    "dumpcap": "chargescope.analyzer.live.dumpcap:dumpcap_engine",
    "socketcan": "chargescope.analyzer.live.socketcan:socketcan_engine",
}


def engine_names() -> tuple[str, ...]:
    """Every engine `--backend` accepts: "auto", the built-in ones, then the plugins'."""
    from chargescope.plugins import installed

    return ("auto", *ENGINES, *(n for n in installed().capture_engines if n not in ENGINES))


def engine_factory(name: str) -> EngineFactory:
    """The factory of engine `name` (built-in or a plugin's); ValueError if none is."""
    from chargescope.plugins import installed

    plugin = installed().capture_engines.get(name)
    if name not in ENGINES and plugin is not None:
        return plugin
    if name not in ENGINES:
        raise ValueError(f"capture backend {name!r}: one of {', '.join(engine_names())}")
    module, _, attr = ENGINES[name].partition(":")
    return getattr(importlib.import_module(module), attr)


class _ScapyEngine:
    """scapy's AsyncSniffer as a `CaptureEngine`."""

    def __init__(self, request: EngineRequest) -> None:
        from scapy.sendrecv import AsyncSniffer

        # scapy warns when it cannot name the link layer (veth, PLC dongles); we only take
        # the bytes and know the link type from the interface itself
        logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
        linktype = interface_linktype(request.iface)
        emit = request.emit

        def queue_packet(pkt: Any) -> None:
            emit(bytes(pkt), int(pkt.time * 1_000_000_000), linktype)

        self._sniffer = AsyncSniffer(iface=request.iface, filter=request.bpf, store=False,
                                     prn=queue_packet, started_callback=request.started)

    @property
    def running(self) -> bool:
        return bool(self._sniffer.running)

    @property
    def exception(self) -> BaseException | None:
        return getattr(self._sniffer, "exception", None)  # interface gone, ...

    def start(self) -> None:
        self._sniffer.start()

    def stop(self) -> None:
        if self._sniffer.running:
            self._sniffer.stop()


def scapy_engine(request: EngineRequest) -> CaptureEngine:
    return _ScapyEngine(request)


class LiveCapture:
    """One interface being captured. Use as a context manager; iterate `frames()`."""

    def __init__(self, iface: str, *, write: Path | None = None, bpf: str | None = None,
                 stop: StopRule = StopRule(),
                 on_started: Callable[[], None] | None = None,
                 on_frame: Callable[[Frame], None] | None = None,
                 on_idle: Callable[[], None] | None = None,
                 ring_bytes: int | None = None, ring_files: int = 2,
                 backend: str = "auto", engine: EngineFactory | None = None) -> None:
        self.iface = iface
        # a name from engine_names(): "scapy" (AsyncSniffer), "dumpcap" (Wireshark's
        # capture engine through a pipe), "socketcan", a plugin's, or "auto" (dumpcap when
        # installed); `engine` hands in a factory directly (tests, embedding programs)
        self.backend = resolve_backend(backend) if engine is None else backend
        self._engine_factory = engine if engine is not None else engine_factory(self.backend)
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
        put = self._queue.put

        def queue_frame(data: bytes, ts_ns: int, linktype: int) -> None:
            put((data, ts_ns, linktype))

        self._sniffer = self._engine_factory(
            EngineRequest(self.iface, self.bpf, queue_frame, self._started))
        self._sniffer.start()
        return self

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
        if self._sniffer is not None:
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
                failure = self._sniffer.exception  # interface gone, ...
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


def resolve_backend(backend: str) -> str:
    """The capture engine to use: "auto" is dumpcap when installed, scapy otherwise."""
    from chargescope.analyzer.live.dumpcap import dumpcap_path

    if backend == "auto":
        return "dumpcap" if dumpcap_path() else "scapy"
    if backend not in engine_names():
        raise ValueError(f"capture backend {backend!r}: one of {', '.join(engine_names())}")
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
