"""The committed EXI grammar tables are exactly what tools/exigen generates from the XSDs."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from tests.conftest import REPO

GENERATED = REPO / "dissectors" / "exi" / "generated"


def _schema_dir() -> Path:
    """XSDs of the `iso15118` package: $CHARGESCOPE_XSD_DIR, or the installed package."""
    env = os.environ.get("CHARGESCOPE_XSD_DIR")
    if env:
        return Path(env)
    spec = importlib.util.find_spec("iso15118")
    if spec and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))) / "shared" / "schemas"
    pytest.skip("XSDs not available: set CHARGESCOPE_XSD_DIR to iso15118/shared/schemas")


def test_regeneration_is_identical():
    from tools.exigen import SCHEMA_SETS
    from tools.exigen.__main__ import generate

    schemas = _schema_dir()
    for name in SCHEMA_SETS:
        committed = (GENERATED / f"{name}.py").read_text()
        assert generate(schemas, name) == committed, f"{name}.py differs from the generator"
