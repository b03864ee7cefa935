"""Link C hands each authorization and command the findings citing its messages: the
index (`analyzer/ocpi/link._Citations`) finds what testing every finding found."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chargescope.analyzer.ocpi.link import _Citations
from chargescope.analyzer.records import Finding, Link, Message, Severity

POOL = [Message(Link.C, "ocpi", name, ts, "a", "b", {"n": n})
        for n, (name, ts) in enumerate([("GET", 1), ("GET", 1), ("POST", 1), ("GET", 2)])]


def copy(message: Message) -> Message:  # equal, not identical
    return Message(message.link, message.protocol, message.name, message.ts_ns, message.src,
                   message.dst, dict(message.fields))


messages = st.sampled_from(POOL).flatmap(lambda m: st.sampled_from((m, copy(m))))
evidence = st.lists(st.one_of(messages, st.just("not a message")), max_size=3).map(tuple)


@settings(max_examples=200, deadline=None)
@given(st.lists(evidence, max_size=8), st.lists(messages, min_size=1, max_size=3))
def test_citing_is_testing_every_finding(evidences, asked):
    findings = tuple(Finding(f"c{n}", Severity.WARNING, "t", evidence=e)
                     for n, e in enumerate(evidences))
    expected = tuple(f for f in findings if any(m in f.evidence for m in asked))
    assert _Citations(findings).citing(asked) == expected
