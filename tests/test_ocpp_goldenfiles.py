"""Regression: the reduced analysis of every fixture equals its reviewed golden file.

Regenerate only with `python tools/update_ocpp_golden.py --update` and review the diff.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("chargescope.analyzer.pipeline")

TOOL = Path(__file__).resolve().parent.parent / "tools" / "update_ocpp_golden.py"
_spec = importlib.util.spec_from_file_location("update_ocpp_golden", TOOL)
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)


@pytest.mark.parametrize("name", golden.INPUTS)
def test_analysis_matches_golden(name):
    expected = json.loads(golden.golden_path(name).read_text())
    actual = json.loads(json.dumps(golden.reduced(golden.DATA / name)))
    assert actual == expected
