"""The TUI driven headless with Textual's Pilot on the demo captures."""

import asyncio
from pathlib import Path

import pytest

from chargescope.analyzer.analysis import analyze
from chargescope.analyzer.correlate import SiteMap
from chargescope.tui.app import ChargescopeApp
from chargescope.tui.widgets import HexView, Swimlanes
from tests.conftest import REPO

DEMO = REPO / "captures" / "demo"


@pytest.fixture(scope="module")
def demo_analysis():
    paths = sorted(p for p in DEMO.iterdir() if p.suffix in (".pcap", ".pcapng"))
    return paths, analyze(paths, SiteMap.load(DEMO / "site.toml"), keep_messages=True)


def run(coro):
    return asyncio.run(coro)


def _largest_session(analysis):
    return max(analysis.sessions, key=lambda s: sum(len(p.messages) for p in s.parts))


def test_failed_session_filter_and_jump_to_evidence(demo_analysis):
    paths, analysis = demo_analysis
    failed = next(s for s in analysis.sessions if s.verdict == "failed")

    async def scenario():
        app = ChargescopeApp(paths, analysis=analysis)
        async with app.run_test(size=(160, 50)) as pilot:
            table = app.query_one("#session-table")
            assert table.row_count == len(analysis.sessions)
            # open the failed session from the list
            table.move_cursor(row=failed.index - 1)
            table.focus()
            await pilot.press("enter")
            await pilot.pause()
            assert app.session_index == failed.index
            assert app.query_one("#lanes", Swimlanes).items
            # a display filter narrows the message list; a bad one is shown, not raised
            await pilot.press("slash")
            for char in 'link == A && protocol == "exi"':
                await pilot.press(char if char != " " else "space")
            await pilot.press("enter")
            await pilot.pause()
            shown = [app.items[i][1] for i in app.shown]
            assert shown and all(m.protocol == "exi" for m in shown)
            app.apply_filter("link ==")
            assert "filter error" in str(app.query_one("#filter-status").render())
            # jump from an error finding to its evidence: hex bytes highlighted
            n = next(i for i, (_s, f) in enumerate(app.findings)
                     if f.evidence and f.evidence[0].refs and str(f.severity) == "error")
            await pilot.press("f")
            app.jump_to_finding(n)
            await pilot.pause()
            target = app.findings[n][1].evidence[0]
            lanes = app.query_one("#lanes", Swimlanes)
            assert app.items[lanes.selected][1].refs == target.refs
            assert app.query_one("#hex", HexView).highlight_count == target.refs[0].length
            await pilot.press("question_mark")
            await pilot.pause()
            assert app.screen.__class__.__name__ == "HelpScreen"
            await pilot.press("x")

    run(scenario())


def test_loads_in_the_background_and_exports(tmp_path, demo_analysis):
    paths, _analysis = demo_analysis
    copies = []
    for path in paths[:3]:
        copy = tmp_path / path.name
        copy.write_bytes(path.read_bytes())
        copies.append(copy)

    async def scenario():
        app = ChargescopeApp(copies)
        async with app.run_test(size=(140, 45)) as pilot:
            for _ in range(200):
                await pilot.pause(0.05)
                if app.analysis is not None:
                    break
            assert app.analysis is not None and app.items
            await pilot.press("e")
            await pilot.pause()

    run(scenario())
    exported = list(tmp_path.glob("chargescope-session*.json"))
    assert exported and exported[0].with_suffix(".csv").exists()
    assert Path(exported[0]).read_text().startswith("[")


def _node_at(tree, path):
    """The detail-tree node whose data is `path` (its place in Message.fields)."""
    stack = [tree.root]
    while stack:
        node = stack.pop()
        if node.data == path:
            return node
        stack.extend(node.children)
    raise AssertionError(f"no tree node for {path}")


def test_selecting_a_field_highlights_exactly_its_bytes(demo_analysis):
    paths, analysis = demo_analysis
    session = analysis.sessions[0]

    async def scenario():
        app = ChargescopeApp(paths, analysis=analysis)
        async with app.run_test(size=(160, 50)) as pilot:
            app.open_session(session.index)
            await pilot.pause()
            index = next(i for i, (_ts, m) in enumerate(app.items)
                         if m.name == "SessionSetupReq")
            app.show_message(index, move_cursor=True)
            await pilot.pause()
            message = app.items[index][1]
            tree = app.query_one("#detail")
            hex_view = app.query_one("#hex", HexView)
            frame = app.frames.get(message.refs[0].source, message.refs[0].frame)
            # the EVCCID element: its bytes, not the message's
            path = ("V2G_Message", "Body", "SessionSetupReq", "EVCCID")
            tree.move_cursor(_node_at(tree, path))
            await pilot.pause()
            evccid = bytes.fromhex(message.fields["V2G_Message"]["Body"]["SessionSetupReq"]
                                   ["EVCCID"])
            assert 0 < hex_view.highlight_count < message.refs[0].length
            marked = bytes(frame[i] for i in hex_view.highlighted)
            bits = "".join(f"{b:08b}" for b in marked)
            assert "".join(f"{b:08b}" for b in evccid) in bits
            # a V2GTP header field: exactly its 4 bytes, big-endian
            tree.move_cursor(_node_at(tree, ("v2gtp", "payload_length")))
            await pilot.pause()
            assert hex_view.highlight_count == 4
            marked = bytes(frame[i] for i in hex_view.highlighted)
            assert int.from_bytes(marked, "big") == message.fields["v2gtp"]["payload_length"]
            # the tree's root: the whole message again
            tree.move_cursor(tree.root)
            await pilot.pause()
            assert hex_view.highlight_count == message.refs[0].length

    run(scenario())


def test_the_message_table_lists_a_window_that_follows_the_selection(demo_analysis,
                                                                     monkeypatch):
    """A session of a large capture holds far more messages than a table can list."""
    from chargescope.tui import app as app_module

    monkeypatch.setattr(app_module, "TABLE_WINDOW", 10)
    paths, analysis = demo_analysis
    session = _largest_session(analysis)

    async def scenario():
        app = ChargescopeApp(paths, analysis=analysis)
        async with app.run_test(size=(160, 50)) as pilot:
            app.open_session(session.index)
            await pilot.pause()
            table = app.query_one("#message-table")
            assert len(app.shown) == len(app.items) > 30 and table.row_count == 10
            assert "rows 1..10 listed" in str(app.query_one("#filter-status").render())
            last = app.shown[-1]
            app.show_message(last, move_cursor=True)  # e.g. a swimlane mark far away
            await pilot.pause()
            assert table.row_count <= 10
            assert int(table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value) == last
            # scrolling with the keyboard past the first listed row moves the window back
            window = app.window
            table.focus()
            table.move_cursor(row=0)
            await pilot.pause()
            await pilot.press("up")
            await pilot.pause()
            assert app.window < window
            # the filter still runs over every message, not only the listed ones
            app.apply_filter("link == B")
            assert len(app.shown) == sum(1 for _ts, m in app.items if str(m.link) == "B")

    run(scenario())


def test_plots_are_drawn_when_their_tab_is_shown(demo_analysis):
    paths, analysis = demo_analysis
    session = next(s for s in analysis.sessions
                   if any(p.protocol.startswith(("ISO", "DIN")) for p in s.parts))

    async def scenario():
        app = ChargescopeApp(paths, analysis=analysis)
        async with app.run_test(size=(160, 50)) as pilot:
            app.open_session(session.index)
            await pilot.pause()
            assert not app.plotted
            await pilot.press("p")
            for _ in range(20):  # the tab switch, then its TabActivated message
                await pilot.pause()
                if app.plotted:
                    break
            assert app.plotted
            assert "EVSEPresentVoltage" in str(app.query_one("#plot-text").render())

    run(scenario())


def test_long_tables_fill_in_batches(demo_analysis, monkeypatch):
    from chargescope.tui import app as app_module

    monkeypatch.setattr(app_module, "ROW_BATCH", 1)
    paths, analysis = demo_analysis

    async def scenario():
        app = ChargescopeApp(paths, analysis=analysis)
        async with app.run_test(size=(160, 50)) as pilot:
            table = app.query_one("#session-table")
            findings = app.query_one("#finding-table")
            for _ in range(50):
                if table.row_count == len(analysis.sessions) and \
                        findings.row_count == len(app.findings):
                    break
                await pilot.pause()
            keys = [table.coordinate_to_cell_key((row, 0)).row_key.value
                    for row in range(table.row_count)]
            assert keys == [str(s.index) for s in analysis.sessions]
            assert findings.row_count == len(app.findings) > 1

    run(scenario())


def test_loading_freezes_what_the_analysis_keeps_and_stops_after(demo_analysis):
    """`chargescope tui` freezes survivors while loading (full GCs would stall the screen);
    the hook is gone once loaded, and the hex pane has its frame index."""
    import gc
    import sys

    from chargescope.tui.app import _freeze_survivors

    paths, _analysis = demo_analysis
    switch = sys.getswitchinterval()

    async def scenario():
        app = ChargescopeApp(paths[:3], freeze_gc=True)
        async with app.run_test(size=(140, 45)) as pilot:
            for _ in range(200):
                await pilot.pause(0.05)
                if app.analysis is not None and len(app.frames._index) == 3:
                    break
            assert app.analysis is not None
            assert _freeze_survivors not in gc.callbacks
            assert sys.getswitchinterval() == switch  # short GIL turns only while loading
            assert gc.get_freeze_count() > 0
            assert set(app.frames._index) == {str(p) for p in paths[:3]}
            await pilot.pause()

    try:
        run(scenario())
    finally:
        gc.unfreeze()  # give the rest of the test run its collector back


def _small_steps(monkeypatch, step: int = 20, window: int = 50) -> None:
    """Sessions open one step of `step` messages at once, the rest in the background."""
    from chargescope.tui import app as app_module

    monkeypatch.setattr(app_module, "SESSION_STEP", step)
    monkeypatch.setattr(app_module, "SESSION_AT_ONCE", 1)
    monkeypatch.setattr(app_module, "TABLE_WINDOW", window)


async def _until_complete(app, pilot) -> None:
    for _ in range(400):
        if app.session_complete:
            return
        await pilot.pause()
    raise AssertionError("the session never finished filling")


def test_a_session_opens_with_its_first_rows_and_fills_in_steps(demo_analysis, monkeypatch):
    from chargescope.tui.data import MessageIndex, is_failure, lane_of

    _small_steps(monkeypatch)
    paths, analysis = demo_analysis
    session = _largest_session(analysis)
    expected = MessageIndex(analysis).session(session)
    assert len(expected) > 200

    async def scenario():
        app = ChargescopeApp(paths, analysis=analysis)
        async with app.run_test(size=(160, 50)) as pilot:
            app.open_session(session.index)
            # the first screen: the first step's messages, rows, marks; the rest to come
            assert [m for _ts, m in app.items] == [m for _ts, m in expected[:20]]
            assert not app.session_complete
            table = app.query_one("#message-table")
            assert table.row_count == 20
            assert "loading" in str(app.query_one("#session-title").render())
            assert "20 of 20 messages" in str(app.query_one("#filter-status").render())
            assert "loading" in str(app.query_one("#filter-status").render())
            lanes = app.query_one("#lanes", Swimlanes)
            assert lanes.items is app.items and lanes.span == (expected[0][0], expected[-1][0])
            # selecting works while it fills
            app.show_message(5, move_cursor=True)
            await pilot.pause()
            assert lanes.selected == 5
            assert expected[5][1].name in str(app.query_one("#detail").root.label)
            await _until_complete(app, pilot)
            assert [id(m) for _ts, m in app.items] == [id(m) for _ts, m in expected]
            assert list(app.marks) == [(lane_of(m), is_failure(m)) for _ts, m in expected]
            assert list(app.shown) == list(range(len(expected)))
            assert table.row_count == 50  # the table lists its window, no more
            assert table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value == "5"
            assert "loading" not in str(app.query_one("#session-title").render())
            assert f"({len(expected)} messages)" in str(app.query_one("#session-title").render())
            # the swimlane drawn a step at a time is the one drawn from all the messages
            width = max(10, lanes.size.width - 8)
            grid = [list(lane) for lane in lanes._columns(width)]
            lanes._grid = None
            assert lanes._columns(width) == grid

    run(scenario())


def test_a_filter_typed_while_a_session_fills_covers_all_its_messages(demo_analysis,
                                                                      monkeypatch):
    _small_steps(monkeypatch)
    paths, analysis = demo_analysis
    session = _largest_session(analysis)

    async def scenario():
        app = ChargescopeApp(paths, analysis=analysis)
        async with app.run_test(size=(160, 50)) as pilot:
            app.open_session(session.index)
            assert not app.session_complete
            app.apply_filter("link == B")
            await _until_complete(app, pilot)
            while app.filtered < len(app.items):
                await pilot.pause()
            wanted = [i for i, (_ts, m) in enumerate(app.items) if str(m.link) == "B"]
            assert wanted and list(app.shown) == wanted
            table = app.query_one("#message-table")
            keys = [table.coordinate_to_cell_key((row, 0)).row_key.value
                    for row in range(table.row_count)]
            assert keys == [str(i) for i in wanted[:50]]
            # a filter changed on the complete session: the same, in steps
            app.apply_filter("link == A")
            while app.filtered < len(app.items):
                await pilot.pause()
            assert list(app.shown) == [i for i, (_ts, m) in enumerate(app.items)
                                       if str(m.link) == "A"]

    run(scenario())


def test_jumping_to_evidence_that_has_not_arrived_selects_it_when_it_does(demo_analysis,
                                                                           monkeypatch):
    from chargescope.tui.data import MessageIndex

    _small_steps(monkeypatch)
    paths, analysis = demo_analysis
    index = MessageIndex(analysis)
    # a finding whose evidence lies beyond its session's first step
    session, finding = next(
        (s, f) for s in analysis.sessions for f in s.findings
        if f.evidence and any(m is f.evidence[0] for _ts, m in index.session(s)[20:]))
    target = finding.evidence[0]

    async def scenario():
        app = ChargescopeApp(paths, analysis=analysis)
        async with app.run_test(size=(160, 50)) as pilot:
            other = next(s for s in analysis.sessions if s.index != session.index)
            app.open_session(other.index)
            await _until_complete(app, pilot)
            n = next(i for i, (k, f) in enumerate(app.findings)
                     if k == session.index and f is finding)
            app.jump_to_finding(n)
            assert app.session_index == session.index and not app.session_complete
            await _until_complete(app, pilot)
            await pilot.pause()
            lanes = app.query_one("#lanes", Swimlanes)
            assert app.items[lanes.selected][1] is target
            assert app.query_one("#hex", HexView).highlight_count == target.refs[0].length

    run(scenario())


def test_a_click_on_the_swimlanes_selects_the_nearest_mark_of_its_lane(demo_analysis):
    """The click looks near the column (bisection), and finds what a scan of every mark
    would: the nearest column, the first message in it."""
    paths, analysis = demo_analysis
    session = _largest_session(analysis)

    def scanned(lanes, lane, col, width):
        best, best_dist = -1, width + 1
        marks = zip(lanes.items, lanes.marks, strict=True)
        for index, ((ts, _m), (mark_lane, _bad)) in enumerate(marks):
            distance = abs(lanes._column(ts, width) - col)
            if mark_lane == lane and distance < best_dist:
                best, best_dist = index, distance
        return best

    async def scenario():
        app = ChargescopeApp(paths, analysis=analysis)
        async with app.run_test(size=(160, 50)) as pilot:
            app.open_session(session.index)
            await _until_complete(app, pilot)
            lanes = app.query_one("#lanes", Swimlanes)
            width = 60
            for lane in range(5):
                for col in range(width):
                    assert lanes.nearest(lane, col, width) == scanned(lanes, lane, col, width)

    run(scenario())


def test_session_and_finding_tables_list_a_window_that_keys_move(demo_analysis, monkeypatch):
    """A 1 GB capture set has 10^4 sessions: the tables list a window of them too."""
    from chargescope.tui import app as app_module

    monkeypatch.setattr(app_module, "TABLE_WINDOW", 2)
    monkeypatch.setattr(app_module, "SELECT_LEAD", 0)
    paths, analysis = demo_analysis
    assert len(analysis.sessions) > 2

    async def scenario():
        app = ChargescopeApp(paths, analysis=analysis)
        async with app.run_test(size=(160, 50)) as pilot:
            table = app.query_one("#session-table")
            await pilot.pause()
            assert table.row_count == 2
            table.focus()
            for _ in range(len(analysis.sessions) - 1):  # down to the last session
                await pilot.press("down")
                await pilot.pause()
            assert table.row_count <= 2
            key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
            assert key == str(analysis.sessions[-1].index)
            await pilot.press("enter")
            await pilot.pause()
            assert app.session_index == analysis.sessions[-1].index
            # back up to the first one
            app.action_show_tab("sessions")
            table.focus()
            for _ in range(len(analysis.sessions) - 1):
                await pilot.press("up")
                await pilot.pause()
            assert table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value == \
                str(analysis.sessions[0].index)
            # the findings: every one reachable, in time order
            findings = app.query_one("#finding-table")
            app.action_show_tab("findings")
            findings.focus()
            await pilot.pause()
            seen = []
            for _ in range(len(app.findings)):
                seen.append(findings.coordinate_to_cell_key((findings.cursor_row, 0))
                            .row_key.value)
                await pilot.press("down")
                await pilot.pause()
            assert seen == [str(n) for n in range(len(app.findings))]

    run(scenario())


def test_plots_and_export_wait_for_a_filling_session(demo_analysis, monkeypatch, tmp_path):
    _small_steps(monkeypatch)
    paths, analysis = demo_analysis
    session = next(s for s in sorted(analysis.sessions,
                                     key=lambda s: -sum(len(p.messages) for p in s.parts))
                   if any(p.protocol.startswith(("ISO", "DIN")) for p in s.parts))

    async def scenario():
        app = ChargescopeApp([tmp_path / "x.pcap"], analysis=analysis)
        async with app.run_test(size=(160, 50)) as pilot:
            app.open_session(session.index)
            assert not app.session_complete
            app.action_export()
            assert not list(tmp_path.glob("chargescope-session*"))
            app.plot()
            assert not app.plotted
            assert "loading" in str(app.query_one("#plot-text").render())
            await _until_complete(app, pilot)
            app.plot()
            assert app.plotted
            assert "EVSEPresentVoltage" in str(app.query_one("#plot-text").render())
            app.action_export()
            assert list(tmp_path.glob("chargescope-session*.json"))

    run(scenario())
