"""Golden comparison with tshark: every corpus capture, frame by frame."""

from __future__ import annotations

import pytest
from conftest import CORPUS, load_impl, twin_params

from capture.tshark import needs_tshark, tshark_frames
from chargescope.analyzer.capture import open_capture

TRUNCATION_KINDS = {"pcap.record.truncated", "pcapng.block.truncated"}


def corpus_captures() -> list:
    root = CORPUS / "pcaps"
    if not root.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason="corpus not present"))]
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (
        ".pcap", ".pcapng", ".dump", ".cap", ".gz"))
    return [pytest.param(p, id=str(p.relative_to(root))) for p in files]


def ours(path, impl) -> list[tuple[int, int, int, int, int]]:
    with open_capture(path, impl) as cap:
        rows = [(f.number, f.ts_ns, len(f.data), f.wirelen, f.interface) for f in cap.frames()]
        # real captures may end mid-record (the logger was killed): tshark drops that
        # record too; anything else would be a reader bug on a sane file
        assert {p.kind for p in cap.problems} <= TRUNCATION_KINDS
        assert len(cap.problems) <= 1
    return rows


@needs_tshark
@pytest.mark.parametrize("which", twin_params("capture"))
@pytest.mark.parametrize("path", corpus_captures())
def test_corpus_matches_tshark(path, which):
    assert ours(path, load_impl("capture", which)) == tshark_frames(path)
