"""`CaptureFile`: one capture file opened for streaming, whatever its format.

    with open_capture("session.pcapng") as cap:
        for frame in cap.frames():
            ...
        print(cap.frames_read, cap.problems)

The format is sniffed from the first bytes (gzip by its magic, then pcap or pcapng),
never from the file name. A file that is neither raises `NotACaptureError` at open.
"""

from __future__ import annotations

import itertools
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType, TracebackType
from typing import BinaryIO

from chargescope import backends
from chargescope.analyzer.capture import model as m
from chargescope.analyzer.capture.pcap import pcap_byte_order, read_pcap
from chargescope.analyzer.capture.pcapng import read_pcapng
from chargescope.analyzer.capture.source import CHUNK, ChunkReader
from chargescope.analyzer.records import Frame, Problem


class CaptureFile:
    """A capture being read: interfaces, secrets and problems fill in as frames stream by.

    Counters: `frames_read` frames yielded, `bytes_read` their captured bytes,
    `truncated` frames cut by the snap length (captured < original length), `malformed`
    records that could not be turned into frames (each has a Problem).
    """

    def __init__(self, path: str | Path, impl: ModuleType | None = None,
                 chunk: int = CHUNK, convert: bool = False, stream: BinaryIO | None = None,
                 follow: Callable[[], bool] | None = None) -> None:
        self.path = Path(path)
        self.source = str(path)
        self.impl = impl if impl is not None else backends.load("capture")
        self.interfaces: list[m.Interface] = []
        self.problems: list[Problem] = []
        self.secrets: list[m.Secret] = []
        self.names: list[m.NameRecord] = []
        self.stats: list[m.InterfaceStats] = []
        self.frames_read = 0
        self.bytes_read = 0
        self.truncated = 0
        self.malformed = 0
        self.sections = 0
        self.skipped_blocks = 0
        self.version = ""
        self._started = False
        self._converter: subprocess.Popen | None = None
        self._converter_log: BinaryIO | None = None
        self.converted_from = ""  # set when tshark converted a format we do not read
        self._reader = ChunkReader(self.path, chunk, stream, follow)
        try:
            self.format = self._sniff()
        except m.NotACaptureError:
            self._reader.close()
            if not convert or not shutil.which("tshark") or not self.path.is_file():
                raise
            self._convert(chunk)
        except BaseException:
            self._reader.close()
            raise

    def _convert(self, chunk: int) -> None:
        """Let tshark translate a format Wireshark reads and we do not (snoop, ERF, pcap
        variants, ...) into a pcapng stream, read through a pipe as it comes."""
        cmd = ["tshark", "-n", "-r", str(self.path), "-F", "pcapng", "-w", "-"]
        # stderr to a file, not a pipe: a pipe nobody reads could fill and stall tshark
        self._converter_log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self._converter = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                           stderr=self._converter_log)
        assert self._converter.stdout is not None
        self._reader = ChunkReader(self.path, chunk, stream=self._converter.stdout)
        try:
            self.format = self._sniff()
        except m.NotACaptureError:
            reason = self._converter_error()
            self.close()
            raise m.NotACaptureError(self.source, "neither pcap nor pcapng, and tshark cannot "
                                     f"read it either ({reason})") from None
        self.converted_from = "tshark"
        self.problem(m.P_CONVERTED, "not pcap or pcapng: read through tshark, converted to "
                     "pcapng; offsets refer to the converted stream")

    def _converter_error(self) -> str:
        if self._converter is None:
            return ""
        self._converter.wait()
        self._converter_log.seek(0)
        text = self._converter_log.read().decode("utf-8", "replace")
        lines = [ln.strip() for ln in text.splitlines()
                 if ln.strip() and not ln.startswith("Running as user")]
        return lines[0] if lines else f"exit status {self._converter.returncode}"

    # --- the public face ------------------------------------------------------------------
    @property
    def compressed(self) -> bool:
        return self._reader.compressed

    @property
    def counters(self) -> dict[str, int]:
        """frames, bytes (captured), truncated (snaplen-cut) and malformed, so far."""
        return {"frames": self.frames_read, "bytes": self.bytes_read,
                "truncated": self.truncated, "malformed": self.malformed}

    def tls_key_log(self) -> bytes:
        """The NSS key log lines of every TLS Decryption Secrets Block read so far."""
        return b"".join(s.data if s.data.endswith(b"\n") else s.data + b"\n"
                        for s in self.secrets if s.type == m.SECRETS_TLS_KEY_LOG)

    def frames(self) -> Iterator[Frame]:
        """The file's frames in file order (one pass: a second call raises RuntimeError)."""
        return itertools.chain.from_iterable(self.batches())

    def batches(self) -> Iterator[list[Frame]]:
        """The same frames as lists of a few thousand, for loops that want less per-frame
        overhead (a list per buffer walk; the lists are not reused)."""
        if self._started:
            raise RuntimeError(f"{self.source}: frames already iterated (captures stream once)")
        self._started = True
        if self.format == "pcap":
            return read_pcap(self, self._reader)
        return read_pcapng(self, self._reader)

    def close(self) -> None:
        self._reader.close()
        if self._converter is not None:
            if self._converter.poll() is None:
                self._converter.kill()
            self._converter.wait()
            if self._converter.stdout is not None:
                self._converter.stdout.close()
            self._converter_log.close()

    def __enter__(self) -> CaptureFile:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<CaptureFile {self.source!r} {self.format} frames_read={self.frames_read}>"

    # --- used by the format readers --------------------------------------------------------
    def problem(self, kind: str, detail: str, frame: int = 0, offset: int = 0) -> None:
        self.problems.append(Problem(kind, detail, self.source, frame, offset, "file"))

    def add_interface(self, interface: m.Interface) -> None:
        self.interfaces.append(interface)

    def count(self, frames: list[Frame]) -> None:
        self.frames_read += len(frames)
        for frame in frames:
            size = len(frame.data)
            self.bytes_read += size
            if size < frame.wirelen:
                self.truncated += 1

    def _sniff(self) -> str:
        rd = self._reader
        rd.fill(0, 12)
        head = rd.buf[:12]
        if rd.error:
            raise m.NotACaptureError(self.source, f"unreadable ({rd.error})")
        if not head:
            raise m.NotACaptureError(self.source, "the file is empty")
        if len(head) >= 4 and pcap_byte_order(head[:4]) is not None:
            return "pcap"
        if head[:4] == struct.pack("<I", m.PCAPNG_SHB) and len(head) >= 12 and head[8:12] in (
                b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"):
            return "pcapng"
        raise m.NotACaptureError(self.source, f"first bytes {head[:4].hex()} are neither a pcap "
                                 "nor a pcapng magic" + (" (after gzip)" if rd.compressed else ""))


def open_capture(path: str | Path, impl: ModuleType | None = None,
                 convert: bool = False) -> CaptureFile:
    """Open one capture file for streaming (use as a context manager).

    `impl` forces a hot-path implementation (`backends.load_twin("capture")`, ...); by
    default `chargescope.backends` chooses. With `convert`, a file that is neither pcap
    nor pcapng is handed to tshark (when installed) for conversion, with a
    `capture.converted` Problem saying so; without it, such a file raises
    `NotACaptureError` straight away (cheap, for callers that probe files).
    """
    return CaptureFile(path, impl, convert=convert)


def follow_capture(path: str | Path, follow: Callable[[], bool],
                   stream: BinaryIO | None = None, impl: ModuleType | None = None) -> CaptureFile:
    """Open a capture that is still being written (a file, or `stream`: a pipe from a
    capture engine such as dumpcap) and read it as it grows. While `follow()` is true
    an incomplete block at the end is waited for; once it is false, the end is the end
    (and an incomplete block there is truncation, as for any file)."""
    return CaptureFile(path, impl, stream=stream, follow=follow)
