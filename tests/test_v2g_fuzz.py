"""Hostile input for the session analyser: random message orders, random and mistyped field
values, stray closes. It must never raise, and everything it reports must be well formed."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from v2g_helpers import EVCC, SECC, reference_vectors

from chargescope.analyzer.records import Link, Message
from chargescope.analyzer.v2g import FINDINGS, analyse
from chargescope.analyzer.v2g.report import ladder_lines, report_document

KEYS = sorted(reference_vectors())
CODES = {f.code for f in FINDINGS}
JUNK = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.floats(allow_nan=True),
                 st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3),
                                                                      st.integers(), max_size=2))


def _mutate(node, draw):
    if isinstance(node, dict):
        for key in list(node):
            if draw(st.integers(0, 9)) == 0:
                node[key] = draw(JUNK)
            else:
                _mutate(node[key], draw)
    elif isinstance(node, list):
        for item in node:
            _mutate(item, draw)


@st.composite
def conversations(draw):
    msgs, t = [], 0
    for _ in range(draw(st.integers(0, 14))):
        t += draw(st.integers(0, 70_000_000_000))
        stream = draw(st.integers(0, 2))
        if draw(st.integers(0, 12)) == 0:
            msgs.append(Message(Link.A, "v2gtp", "ConnectionClosed", t, EVCC, SECC, {
                "v2gtp": {"tcp_stream": stream},
                "reason": draw(st.sampled_from(["fin", "rst", "end-of-capture"])),
                "closed_by": draw(st.sampled_from(["client", "server", "both"]))}))
            continue
        schema, name, variant = draw(st.sampled_from(KEYS))
        tree = json.loads(json.dumps(reference_vectors()[(schema, name, variant)]["json"]))
        _mutate(tree, draw)
        direction = draw(st.integers(0, 1))
        src, dst = (EVCC, SECC) if direction == 0 else (SECC, EVCC)
        msgs.append(Message(Link.A, "exi", name, t, src, dst, {
            "v2gtp": {"tcp_stream": stream, "direction": direction}, "schema": schema,
            **tree}))
    return msgs


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conversations())
def test_random_conversations_never_break_the_analyser(msgs):
    report = analyse(msgs)
    for s in report.sessions:
        assert s.outcome.status in ("success", "failed", "incomplete")
        assert {f.code for f in s.findings} <= CODES
        assert all(f.evidence or f.code == "v2g.session.capture_ended" for f in s.findings)
        ladder_lines(s)
    json.dumps(report_document(report, full=True), default=str)
