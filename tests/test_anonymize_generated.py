"""Every simulated scenario, anonymised, analyses to the same verdicts and finding codes,
and none of its identifiers survives in the bytes or the decoded fields."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from chargescope.analyzer.analysis import Analysis, analyze
from chargescope.analyzer.anonymize import Pseudonymizer, anonymize_files
from chargescope.analyzer.anonymize.identifiers import Identifiers
from chargescope.analyzer.correlate import SiteMap
from chargescope.analyzer.simulate.render import render, site_map
from chargescope.analyzer.simulate.scenarios import SCENARIOS


def _analyse(directory: Path) -> Analysis:
    captures = sorted(p for p in directory.iterdir() if p.suffix in (".pcap", ".pcapng"))
    return analyze(captures, SiteMap.load(directory / "site.toml"), keep_messages=True)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_survives_anonymisation(name: str, tmp_path: Path) -> None:
    source, out = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    render(SCENARIOS[name], source, seed=0)
    (source / "site.toml").write_text(site_map([SCENARIOS[name]]))
    before = _analyse(source)
    report = anonymize_files(sorted(source.iterdir()), out,
                             Pseudonymizer(b"generated".ljust(32, b"-")))
    assert not report.certificates_marked  # every certificate re-issued
    after = _analyse(out)
    assert [s.verdict for s in after.sessions] == [s.verdict for s in before.sessions]
    assert _codes(after) == _codes(before)
    assert len(after.problems) == len(before.problems)
    ids = Identifiers()
    ids.add_messages(before.messages)
    assert ids.texts
    blob = b"".join(p.read_bytes() for p in sorted(out.iterdir()))
    assert not [t for t in ids.texts if t.encode() in blob]
    assert not [b for b in ids.binaries | ids.certificates if b in blob]
    decoded = json.dumps([m.fields for m in after.messages], default=str)
    assert not [t for t in ids.texts | ids.parties if t in decoded]


def _codes(result) -> Counter:
    """Finding codes (certificates are re-issued and signatures made again: the PnC
    checks judge the copy as the original, so no code is set aside)."""
    return Counter(f.code for f in result.findings)
