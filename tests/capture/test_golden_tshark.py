"""Golden comparison with Wireshark's readers on the corpus: capinfos for every capture,
tshark frame by frame for a spread of them."""

from __future__ import annotations

import pytest
from conftest import CORPUS, load_impl, twin_params

from capture.tshark import capinfos_table, needs_capinfos, needs_tshark, tshark_frames
from chargescope.analyzer.capture import open_capture
from chargescope.analyzer.capture.summary import summarize

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


ALL = corpus_captures()


@needs_capinfos
@pytest.mark.parametrize("which", twin_params("capture"))
@pytest.mark.parametrize("path", ALL)
def test_corpus_summary_matches_capinfos(path, which):
    """Every corpus capture: frame count, data bytes, first and last timestamp to the ns."""
    table = capinfos_table(tuple(p.values[0] for p in ALL))
    s = summarize(path, load_impl("capture", which))
    assert {p.kind for p in s.problems} <= TRUNCATION_KINDS
    assert (s.frames, s.bytes, s.first_ts_ns, s.last_ts_ns) == table[str(path)]


@needs_tshark
@pytest.mark.parametrize("which", twin_params("capture"))
@pytest.mark.parametrize("path", ALL[::6])
def test_corpus_frames_match_tshark(path, which):
    """A spread of corpus captures, frame by frame (tshark is slow to start: not all)."""
    assert ours(path, load_impl("capture", which)) == tshark_frames(path)
