"""Every frame and every stream byte is accounted for, on real captures.

Frames: read = decoded + malformed + out of scope. Stream bytes, per reassembled TCP
direction and decrypted TLS stream: bytes = consumed + undecodable + gap (each stream
kind's totals, and no stream direction out of balance). Covers every capture under
../shared/corpus/pcaps (the whole set runs through the full pipeline in a few seconds,
so no sampling is needed), the test captures and the generated hostile set; `chargescope
info` prints both identities.
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
    for kind, row in stats["streams"].items():
        assert row["bytes"] == row["consumed"] + row["undecodable"] + row["gaps"], kind
        assert row["unbalanced"] == 0 and row["unaccounted"] == 0, (kind, row)


def test_the_stream_identity_covers_every_stream_kind() -> None:
    """The corpus and test captures exercise every stream dissector, TLS plaintext too."""
    kinds: set[str] = set()
    for path in CAPTURES:
        if CORPUS in path.parents and "TLS" not in path.name:
            continue
        try:
            kinds |= set(_account(path)[0]["streams"])
        except NotACaptureError:
            continue
    assert {"v2gtp", "websocket", "http", "tls", "tls/v2gtp"} <= kinds, kinds


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
    heading = result.output.splitlines().index(
        "Stream accounting:  bytes = consumed + undecodable + gap, per stream kind")
    row = stats["streams"]["websocket"]
    assert result.output.splitlines()[heading + 1].split() == [
        "websocket:", str(row["streams"]), "streams,", str(row["bytes"]), "bytes", "=",
        str(row["consumed"]), "consumed", "+", str(row["undecodable"]), "undecodable", "+",
        str(row["gaps"]), "gap"]
    doc = json.loads(CliRunner().invoke(cli_main, ["info", "--json", str(path)]).output)
    doc = doc["captures"][0]
    assert doc["stream_accounting"] == {k: {**v, "balanced": True}
                                        for k, v in stats["streams"].items()}
    assert doc["accounting"] == {"read": stats["frames"], "decoded": stats["decoded"],
                                 "malformed": stats["malformed"],
                                 "out_of_scope": stats["out_of_scope"]}
