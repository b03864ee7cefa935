"""tools/analysis_snapshot.py, the before/after check of speed work: the same analysis
snapshots the same, and a changed output is reported."""

from __future__ import annotations

from pathlib import Path

from tools.analysis_snapshot import compare, snapshot

CAPTURE = Path(__file__).resolve().parent / "data" / "ocpp" / "ocpp16_basic.pcap"


def test_same_analysis_same_snapshot_and_a_change_is_found(tmp_path, capsys):
    old, new = tmp_path / "old", tmp_path / "new"
    snapshot(old, [str(CAPTURE)])
    snapshot(new, [str(CAPTURE)])
    names = sorted(p.name for p in old.iterdir())
    assert names == ["000-ocpp16_basic.pcap.json", "000-ocpp16_basic.pcap.repr",
                     "000-ocpp16_basic.pcap.txt"]
    assert '"sessions"' in (old / names[0]).read_text()
    assert compare(old, new) == 0
    digest = new / names[1]
    digest.write_text(digest.read_text().replace("link_sessions", "link_session", 1))
    assert compare(old, new) == 1
    assert f"differs: {names[1]}" in capsys.readouterr().out
