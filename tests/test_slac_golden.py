"""Golden files: `chargescope slac --json` of corpus captures, pinned field by field.

Regenerate with `python tools/slac_golden.py --update` and review the diff.
"""

from __future__ import annotations

import json

import pytest

from tools.slac_golden import CASES, CORPUS, document, golden_path


@pytest.mark.parametrize("name", sorted(CASES))
def test_slac_json_matches_golden(name):
    if not (CORPUS / CASES[name]).exists():
        pytest.skip("corpus capture not present")
    expected = json.loads(golden_path(name).read_text())
    assert document(name) == expected
