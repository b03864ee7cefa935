"""Differential fuzz: on the same mutated inputs, each Cython hot path and its pure-Python
twin return the same result or raise the same error kind."""

from __future__ import annotations

import pytest

from chargescope import backends
from chargescope.analyzer.records import Frame
from chargescope.dissectors.exi.errors import ExiError
from chargescope.dissectors.exi.tables import grammar
from chargescope.dissectors.homeplug.mme import dispatch_table
from tools.fuzz import TARGETS, inputs

RUNS = 1500


def _outcome(fn, *args):
    try:
        return ("ok", fn(*args))
    except ExiError as exc:
        return ("error", exc.kind, exc.bit_offset)
    except ValueError as exc:  # the documented error type of the other hot paths
        return ("error", type(exc).__name__, str(exc))


def _pair(hot_path: str):
    ext = backends.load_extension(hot_path)
    if ext is None:
        pytest.skip(f"{hot_path} extension not built")
    return ext, backends.load_twin(hot_path)


@pytest.mark.parametrize("target,schema", [("exi-din", "din"), ("exi-iso2", "iso2"),
                                           ("exi-iso20", "iso20_CommonMessages")])
def test_exi_twins_agree_on_mutants(target: str, schema: str) -> None:
    ext, twin = _pair("exi")
    g = grammar(schema)
    for data in inputs(TARGETS[target].seeds()[:30], RUNS // 3, seed=141):
        assert _outcome(ext.decode, data, g) == _outcome(twin.decode, data, g), data.hex()


def test_netdecode_twins_agree_on_mutants() -> None:
    ext, twin = _pair("netdecode")
    for data in inputs(TARGETS["net"].seeds(), RUNS, seed=142):
        linktype = (1, 101, 113, 276, 0)[data[0] % 5] if data else 1
        frame = Frame(1, 0, linktype, data[1:], len(data))
        assert _outcome(ext.decode, frame) == _outcome(twin.decode, frame), data.hex()


def test_homeplug_twins_agree_on_mutants() -> None:
    ext, twin = _pair("homeplug")
    table = dispatch_table()
    for data in inputs(TARGETS["homeplug"].seeds(), RUNS, seed=143):
        assert (_outcome(ext.decode_mme, data, 0, len(data), table)
                == _outcome(twin.decode_mme, data, 0, len(data), table)), data.hex()
