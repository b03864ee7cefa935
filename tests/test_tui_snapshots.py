"""SVG snapshots of the TUI's main screens (pytest-textual-snapshot).

Update with `pytest tests/test_tui_snapshots.py --snapshot-update` only after looking at
the new screens (the report it writes shows old and new side by side).
"""

from pathlib import Path

import pytest

pytest.importorskip("pytest_textual_snapshot")

from chargescope.analyzer.analysis import analyze  # noqa: E402
from chargescope.analyzer.correlate import SiteMap  # noqa: E402
from chargescope.tui.app import ChargescopeApp  # noqa: E402
from tests.conftest import REPO  # noqa: E402

DEMO = REPO / "captures" / "demo"
SIZE = (150, 42)


def demo_app() -> ChargescopeApp:
    paths = sorted(p for p in DEMO.iterdir() if p.suffix in (".pcap", ".pcapng"))
    analysis = analyze(paths, SiteMap.load(DEMO / "site.toml"), keep_messages=True)
    # relative names: the snapshot must not depend on where the repository lives
    return ChargescopeApp([Path("captures/demo")], analysis=analysis)


def test_sessions_screen(snap_compare):
    assert snap_compare(demo_app(), terminal_size=SIZE)


def test_failed_session_with_filter(snap_compare):
    async def run_before(pilot):
        pilot.app.open_session(2)
        pilot.app.apply_filter('link == A && protocol == "exi"')
        await pilot.pause()

    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=run_before)


def test_findings_screen(snap_compare):
    assert snap_compare(demo_app(), press=["f"], terminal_size=SIZE)
