"""The reader's buffer (`ChunkReader`): any chunk size gives the same frames, problems
and counters, whether records fit a chunk, straddle two or are longer than one."""

from __future__ import annotations

from pathlib import Path

import pytest

from chargescope.analyzer.capture.reader import CaptureFile
from tests.conftest import DATA

CAPTURES = sorted(p for folder in ("hostile", "ocpp", "v2g") for p in (DATA / folder).iterdir()
                  if p.suffix in (".pcap", ".pcapng"))


def _read(path: Path, chunk: int) -> tuple:
    cap = CaptureFile(path, chunk=chunk)
    try:
        frames = list(cap.frames())
    finally:
        cap.close()
    return frames, [repr(p) for p in cap.problems], cap.counters


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
@pytest.mark.parametrize("chunk", [16, 100, 1000, 4096])
def test_any_chunk_size_reads_the_same(path: Path, chunk: int) -> None:
    assert CAPTURES
    assert _read(path, chunk) == _read(path, 1 << 20)
