"""A capture read while it is being written: an incomplete block at the end is "not
yet" while the writer goes on, and truncation only once it has stopped."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from chargescope.analyzer.capture import follow_capture, open_capture

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "captures" / "demo" / "auth-rejected-b-linkA-plc.pcapng"


def _pieces(data: bytes, size: int) -> list[bytes]:
    # odd piece sizes: the cuts fall inside block headers, bodies and trailers
    return [data[i:i + size] for i in range(0, len(data), size)]


def _expected() -> list[tuple[int, bytes]]:
    with open_capture(DEMO) as cap:
        return [(f.ts_ns, f.data) for f in cap.frames()]


@pytest.mark.parametrize("size", [1, 7, 61, 4093])
def test_pipe_written_piecemeal(size: int) -> None:
    data = DEMO.read_bytes()
    read_fd, write_fd = os.pipe()
    done = threading.Event()

    def writer() -> None:
        with os.fdopen(write_fd, "wb", buffering=0) as out:
            for n, piece in enumerate(_pieces(data, size)):
                out.write(piece)
                if n % 50 == 0:
                    time.sleep(0.001)
        done.set()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    with os.fdopen(read_fd, "rb") as stream, \
            follow_capture("pipe", lambda: not done.is_set(), stream=stream) as cap:
        frames = [(f.ts_ns, f.data) for f in cap.frames()]
        problems = list(cap.problems)
    thread.join(5)
    assert frames == _expected()
    assert problems == []


def test_growing_file(tmp_path: Path) -> None:
    data = DEMO.read_bytes()
    path = tmp_path / "growing.pcapng"
    path.write_bytes(b"")
    done = threading.Event()
    wrote_half = threading.Event()

    def writer() -> None:
        with path.open("ab") as out:
            for n, piece in enumerate(_pieces(data, 333)):
                out.write(piece)
                out.flush()
                if n == len(data) // 666:
                    wrote_half.set()
                    time.sleep(0.2)  # the reader reaches a cut block and must wait
        done.set()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    with follow_capture(path, lambda: not done.is_set()) as cap:
        frames = [(f.ts_ns, f.data) for f in cap.frames()]
        problems = list(cap.problems)
    thread.join(5)
    assert wrote_half.is_set()
    assert frames == _expected()
    assert problems == []


def test_cut_block_after_the_writer_stopped_is_truncation(tmp_path: Path) -> None:
    data = DEMO.read_bytes()
    path = tmp_path / "cut.pcapng"
    path.write_bytes(data[:-10])
    with follow_capture(path, lambda: False) as cap:
        frames = list(cap.frames())
        kinds = [p.kind for p in cap.problems]
    assert len(frames) == len(_expected()) - 1
    with open_capture(path) as cap:
        list(cap.frames())
        assert kinds == [p.kind for p in cap.problems] and kinds
