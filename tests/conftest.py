"""Shared fixtures: corpus location and the Cython/pure-Python twin matrix."""

from __future__ import annotations

from pathlib import Path

import pytest

from chargescope import backends

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"
DATA = Path(__file__).resolve().parent / "data"


def corpus_path(*parts: str) -> Path:
    """A file in ../shared/corpus; skips the test when the corpus is not beside the repo."""
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"corpus file not present: {path}")
    return path


def twin_params(hot_path: str) -> list:
    """pytest params for both implementations of a hot path (extension skipped if unbuilt)."""
    return [
        pytest.param("python", id="python"),
        pytest.param("cython", id="cython",
                     marks=pytest.mark.skipif(backends.load_extension(hot_path) is None,
                                              reason=f"{hot_path} extension not built")),
    ]


def load_impl(hot_path: str, which: str):
    return backends.load_twin(hot_path) if which == "python" else backends.load_extension(hot_path)
