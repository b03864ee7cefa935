"""Every frame is accounted for: read = decoded + malformed + out of scope, on real captures.

Covers every capture under ../shared/corpus/pcaps (the whole set runs in a few seconds),
the test captures, and the generated hostile set; `chargescope info` prints the identity.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from chargescope.analyzer.capture import open_capture
from chargescope.analyzer.capture.model import NotACaptureError
from chargescope.analyzer.pipeline import Pipeline
from chargescope.cli import cli as cli_main
from tests.conftest import CORPUS

DATA = Path(__file__).parent / "data"
SUFFIXES = {".pcap", ".pcapng", ".dump", ".cap", ".gz"}


def _captures() -> list[Path]:
    found = sorted(p for p in (CORPUS / "pcaps").rglob("*")
                   if p.is_file() and (p.suffix in SUFFIXES or p.name.endswith(".csv.pcap")))
    found += sorted(p for p in DATA.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
    return found


CAPTURES = _captures()


def _account(path: Path) -> tuple[dict, int]:
    with open_capture(path) as cap:
        pipe = Pipeline()
        for _ in pipe.run(cap.frames()):
            pass
        return pipe.stats.as_dict(), cap.frames_read


def test_the_corpus_is_there_to_account_for() -> None:
    if not (CORPUS / "pcaps").is_dir():
        pytest.skip("corpus not present")
    assert len([p for p in CAPTURES if CORPUS in p.parents]) >= 50


@pytest.mark.parametrize("path", CAPTURES, ids=[str(p.relative_to(p.parents[1])) for p in CAPTURES])
def test_frames_read_equal_decoded_plus_malformed_plus_out_of_scope(path: Path) -> None:
    try:
        stats, frames_read = _account(path)
    except NotACaptureError:
        pytest.skip("not a capture file")
    assert stats["frames"] == frames_read
    assert stats["frames"] == stats["decoded"] + stats["malformed"] + stats["out_of_scope"]


def test_info_prints_the_identity() -> None:
    path = next((p for p in CAPTURES if p.name == "ocpp16_basic.pcap"), None)
    assert path is not None
    stats, _ = _account(path)
    result = CliRunner().invoke(cli_main, ["info", str(path)])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("Frame accounting:"))
    assert line.split(":", 1)[1].split() == [
        str(stats["frames"]), "read", "=", str(stats["decoded"]), "decoded", "+",
        str(stats["malformed"]), "malformed", "+", str(stats["out_of_scope"]), "out", "of", "scope"]
    doc = json.loads(CliRunner().invoke(cli_main, ["info", "--json", str(path)]).output)
    doc = doc["captures"][0]
    assert doc["accounting"] == {"read": stats["frames"], "decoded": stats["decoded"],
                                 "malformed": stats["malformed"],
                                 "out_of_scope": stats["out_of_scope"]}
