"""Compact message storage: what an analysis keeps reads back exactly as it was decoded.

Every message of every capture under tests/data and captures/demo goes through the byte form
with both twins and comes back the same (types, float bits, key order); and `analyze` gives
byte-identical reports (JSON, text, export tables) with and without compaction on the demo
set, the test captures and a sample of the corpus.
"""

from __future__ import annotations

import json
import pickle
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from chargescope.analyzer import store
from chargescope.analyzer.analysis import UnreadableSource, analyze
from chargescope.analyzer.compactcodec import TABLE, AtomTable
from chargescope.analyzer.correlate import SiteMap
from chargescope.analyzer.records import PACKED, ByteRef, Link, Message, stored_fields, stored_refs
from tests.conftest import DATA, REPO, corpus_path, load_impl, twin_params
from tests.test_compact_codec import same

DEMO = REPO / "captures" / "demo"
CAPTURES = sorted(p for p in DATA.rglob("*.pcap*") if not p.name.endswith(".json"))
CORPUS_SAMPLE = (
    ("dspace-group+dsV2Gshark", "DIN_DC_DS5366_Josev.pcapng"),
    ("dspace-group+dsV2Gshark", "ISO-2_DC_PnC_TLS_Contract_DS5366_RiseV2G.pcapng"),
    ("dspace-group+dsV2Gshark", "ISO-20_BPT_AC_DS5366_Josev.pcapng"),
    ("dspace-group+dsV2Gshark", "ISO-2_AC_DS5366.pcapng"),
    ("uhi22+pyPLC", "2022-12-20_alpi_currentDemandSequenceErrorShutdown.pcapng"),
    ("uhi22+pyPLC", "2023-05-03_TaycanLeftside_slacFail.pcapng"),
    ("zeloscloud+zelos-extension-v2g", "v2g_din_session.pcap"),
)


def _eager_messages(paths, site=None) -> list[Message]:
    return _analysis(paths, site, compact=False).messages


def _demo_messages() -> list[Message]:
    return _eager_messages(sorted(DEMO.glob("*-link*")), SiteMap.load(DEMO / "site.toml"))


def _capture_messages(path: Path) -> list[Message]:
    try:
        return _eager_messages([path])
    except UnreadableSource:
        return []


@pytest.mark.parametrize("which", twin_params("compact"))
@pytest.mark.parametrize("capture", ["demo", *CAPTURES], ids=lambda p: getattr(p, "name", p))
def test_every_message_comes_back_exactly(which, capture):
    impl = load_impl("compact", which)
    python = load_impl("compact", "python")
    messages = _demo_messages() if capture == "demo" else _capture_messages(capture)
    table, twin_table = AtomTable(), AtomTable()
    for message in messages:
        rows = tuple((r.source, r.frame, r.start, r.length) for r in message.refs)
        data = impl.pack((rows, message.fields), table)
        assert data == python.pack((rows, message.fields), twin_table)  # same history, same bytes
        for reader in (impl, python):
            assert same(reader.unpack(data, table, 1), message.fields), message.name
            assert reader.unpack(data, table, 0) == rows
        stored = replace(message)
        assert store.compact(stored)
        assert stored_refs(stored) is PACKED and type(stored_fields(stored)) is bytes
        store.forget_decoded()
        assert same(stored.fields, message.fields) and stored.refs == message.refs
        assert stored == message


def _outputs(analysis) -> str:
    from chargescope.analyzer.export import rows
    from chargescope.analyzer.report import render_json, render_text

    doc = render_json(analysis.correlation, analysis.link_findings)
    doc["sources"] = [{k: getattr(s, k) for k in s.__slots__} for s in analysis.sources]
    tables = rows(analysis, frames=False, messages=True)
    text = render_text(analysis.correlation, other_findings=analysis.link_findings)
    return json.dumps([doc, tables, text], default=str, sort_keys=False)


def _compare(paths, site=None) -> None:
    try:
        before = _outputs(_analysis(paths, site, compact=False))
    except UnreadableSource:
        return
    after_analysis = _analysis(paths, site, compact=True)
    assert all(stored_refs(m) is PACKED for m in after_analysis.messages)  # every kept message is compact
    store.forget_decoded()
    assert _outputs(after_analysis) == before


def _analysis(paths, site, compact: bool):
    store.ENABLED = compact
    try:
        return analyze(paths, site, keep_messages=True)
    finally:
        store.ENABLED = True


def test_demo_analysis_is_identical_compacted():
    _compare(sorted(DEMO.glob("*-link*")), SiteMap.load(DEMO / "site.toml"))


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_test_capture_analysis_is_identical_compacted(capture):
    _compare([capture])


@pytest.mark.parametrize("parts", CORPUS_SAMPLE, ids=lambda p: p[1])
def test_corpus_analysis_is_identical_compacted(parts):
    _compare([corpus_path("pcaps", *parts)])


def _message(n: int, fields=None) -> Message:
    return Message(Link.A, "exi", "CurrentDemandRes", n, "[fe80::1]:1", "[fe80::2]:2",
                   fields if fields is not None else {"n": n, "v": [1.5, None]},
                   (ByteRef("cap.pcap", n + 1, 10, 20),))


def test_window_compacts_what_is_held_once_newer_messages_came():
    window = store.message_window(2)
    held = [_message(n) for n in range(5)]
    for message in held:
        window.add(message)
    assert [stored_refs(m) is PACKED for m in held] == [True, True, True, False, False]
    window.flush()
    assert all(stored_refs(m) is PACKED for m in held)
    assert [m.fields["n"] for m in held] == [0, 1, 2, 3, 4]


def test_window_leaves_messages_nobody_holds():
    window = store.message_window(1)
    window.add(_message(1, {"key-of-a-message-nobody-holds": 1}))
    kept = _message(2, {"key-of-a-held-message": 2})
    window.add(kept)
    window.add(_message(3))
    assert stored_refs(kept) is PACKED
    assert "key-of-a-held-message" in TABLE.index  # keys become atoms when compacted
    assert "key-of-a-message-nobody-holds" not in TABLE.index


def test_no_window_while_disabled():
    store.ENABLED = False
    try:
        window = store.message_window(1)
    finally:
        store.ENABLED = True
    held = [_message(n) for n in range(3)]
    for message in held:
        window.add(message)
    window.flush()
    assert not any(stored_refs(m) is PACKED for m in held)


def test_what_cannot_be_compacted_stays_as_it_was():
    odd = _message(1, {"link": Link.A})  # an enum member: not a plain str
    assert not store.compact(odd)
    assert type(stored_fields(odd)) is dict and odd.fields["link"] is Link.A


def test_compacted_message_pickles_and_replaces_as_eager():
    message = _message(7)
    eager = replace(message)
    assert store.compact(message)
    copy = pickle.loads(pickle.dumps(message))
    assert copy == eager and type(stored_fields(copy)) is dict  # pickles decoded
    changed = replace(message, name="other")
    assert changed.fields == eager.fields and changed.refs == eager.refs
    assert message.src is sys.intern("[fe80::1]:1")  # endpoints shared, not one per message
