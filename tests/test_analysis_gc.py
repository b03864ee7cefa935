"""`analyze` raises the collector's young threshold while it runs, and restores it."""

from __future__ import annotations

import gc

import pytest

from chargescope.analyzer.analysis import ANALYSIS_GC_THRESHOLD, SourceReader, analyze


def test_threshold_raised_while_reading_and_restored_after(tmp_path):
    seen = []

    def read(_path):
        seen.append(gc.get_threshold())
        return iter(())

    before = gc.get_threshold()
    (tmp_path / "x.log").write_text("")
    analyze([tmp_path / "x.log"], readers=(SourceReader("x", lambda p: True, read),))
    assert seen[0][0] == max(before[0], ANALYSIS_GC_THRESHOLD)
    assert seen[0][1:] == before[1:]
    assert gc.get_threshold() == before


def test_threshold_restored_when_the_analysis_fails(tmp_path):
    def read(_path):
        raise OSError("gone")

    before = gc.get_threshold()
    (tmp_path / "x.log").write_text("")
    with pytest.raises(OSError):
        analyze([tmp_path / "x.log"], readers=(SourceReader("x", lambda p: True, read),))
    assert gc.get_threshold() == before
