"""The corrupted capture set (tests/data/hostile, from tools/make_hostile.py) yields exactly
the problem records its generator expects, on both capture/net-decode implementations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chargescope.analyzer.capture import open_capture
from chargescope.analyzer.pipeline import Pipeline
from chargescope.analyzer.records import Problem
from tests.conftest import twin_params
from tools.make_hostile import CASES, build

HOSTILE = Path(__file__).parent / "data" / "hostile"


def _problems(path: Path, which: str, monkeypatch: pytest.MonkeyPatch) -> tuple[list[dict], dict]:
    if which == "python":  # both hot paths this test crosses: capture walk and net decode
        monkeypatch.setenv("CHARGESCOPE_PUREPYTHON", "1")
    found: list[dict] = []
    with open_capture(path) as cap:
        pipe = Pipeline()
        for item in pipe.run(cap.frames()):
            found += [{"kind": p.kind, "where": p.where, "frame": p.frame, "offset": p.offset}
                      for p in ([item] if isinstance(item, Problem) else item.problems)]
        reader = [{"kind": p.kind, "where": p.where, "frame": p.frame, "offset": p.offset}
                  for p in cap.problems]
        stats = pipe.stats.as_dict() | {"read": cap.frames_read}
    return reader + found, stats


@pytest.mark.parametrize("which", twin_params("capture"))
@pytest.mark.parametrize("name", sorted(CASES))
def test_case_reports_exactly_the_expected_problems(name: str, which: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    expected = json.loads((HOSTILE / f"{name}.expected.json").read_text())["problems"]
    got, stats = _problems(HOSTILE / f"{name}.pcap", which, monkeypatch)
    assert got == expected
    assert stats["frames"] == stats["read"] == (
        stats["decoded"] + stats["malformed"] + stats["out_of_scope"])


def test_generator_reproduces_the_committed_set(tmp_path: Path) -> None:
    for path in build(tmp_path):
        committed = HOSTILE / path.name
        assert committed.read_bytes() == path.read_bytes(), path.name
        exp = path.with_name(path.stem + ".expected.json")
        assert (HOSTILE / exp.name).read_text() == exp.read_text()
