"""Real-world captures from the corpus, anonymised, keep their verdicts and finding codes
(frames only: file-structure problems such as a cut last record are not reproduced)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from chargescope.analyzer import net
from chargescope.analyzer.analysis import analyze
from chargescope.analyzer.anonymize import Pseudonymizer, anonymize_files
from chargescope.analyzer.capture.reader import open_capture
from tests.conftest import corpus_path

CAPTURES = [
    ("uhi22+pyPLC", "2022-11-17_Dehner_Alpitronic_until_SdpRequest.pcapng"),  # EUI-64 join
    ("uhi22+pyPLC", "2023-05-03_TaycanRightside_slacFail.pcapng"),
    ("dspace-group+dsV2Gshark", "ISO-2_DC_multi_EVSE_SLAC_DS5366_Josev.pcapng"),
    ("zeloscloud+zelos-extension-v2g", "v2g_din_session.pcap"),  # DIN 70121
]


@pytest.mark.parametrize(("folder", "name"), CAPTURES, ids=[n for _, n in CAPTURES])
def test_corpus_capture_keeps_its_verdicts(folder: str, name: str, tmp_path: Path) -> None:
    source = corpus_path("pcaps", folder, name)
    anonymize_files([source], tmp_path, Pseudonymizer(b"corpus".ljust(32, b".")))
    before, after = analyze([source]), analyze([tmp_path / name])
    assert [s.verdict for s in after.sessions] == [s.verdict for s in before.sessions]
    assert _codes(after) == _codes(before)
    with open_capture(source) as cap:
        macs = {f.data[6:12] for f in cap.frames() if f.data[6] & 1 == 0}
    blob = (tmp_path / name).read_bytes()
    assert not [m for m in macs if m in blob and m != b"\0" * 6]
    with open_capture(source) as a, open_capture(tmp_path / name) as b:  # decode as before
        assert [net.decode(f).status for f in a.frames()] == \
            [net.decode(f).status for f in b.frames()]


def _codes(result) -> Counter:
    """Finding codes (certificates are re-issued and signatures made again: the PnC
    checks judge the copy as the original, so no code is set aside)."""
    return Counter(f.code for f in result.findings)


def test_tls_capture_loses_its_encrypted_content(tmp_path: Path) -> None:
    """TLS payloads are dropped (and embedded key logs not copied): the V2G session inside
    can no longer be decrypted, by design, while every frame still decodes as before."""
    name = "ISO-2_DC_PnC_TLS_Contract_DS5366_RiseV2G.pcapng"
    source = corpus_path("pcaps", "dspace-group+dsV2Gshark", name)
    anonymize_files([source], tmp_path, Pseudonymizer(b"corpus".ljust(32, b".")))
    with open_capture(source) as a, open_capture(tmp_path / name) as b:
        old, new = list(a.frames()), list(b.frames())
        assert not b.secrets
    assert [net.decode(f).status for f in old] == [net.decode(f).status for f in new]
    records = [net.decode(f).payload for f in new if net.decode(f).payload[:1] == b"\x17"]
    assert records and all(not r[5:].strip(b"\0") for r in records if len(r) > 5)
    assert not analyze([tmp_path / name]).problems
