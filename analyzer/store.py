"""Compact message storage: what an analysis keeps of each Message it holds.

A decoded Message is a tree of dicts: ~2.5 KB of Python objects for a DC charging-loop
message, 3.3 KB for an OCPI one. An analysis keeps most of its messages (link sessions,
finding evidence, the TUI's message list), so a 1 GB capture set (~4 M messages) would need
15-20 GB. Once the link analyzers are done reading a message, `compact()` rewrites it in place
to keep its refs and fields as one byte form (`analyzer/compactcodec.py`, hot path
"compact"; ~100-300 bytes), and interns its endpoint and name strings. Readers see no change:
`message.fields` and `message.refs` decode on access (`records.py`), and the last few
messages decoded keep their decoded form (`RECENT`), so code that reads one message's
fields several times in a row decodes it once.

`MessageWindow` is how `SourceAnalysis` does it: it compacts a message only when
`WINDOW` newer messages have arrived (analyzers look back at a request when its response
comes: those reads stay free), and not at all when nothing holds it any more.
"""

from __future__ import annotations

import collections
import sys

from chargescope import backends
from chargescope.analyzer.compactcodec import TABLE
from chargescope.analyzer.records import (
    DECODED,
    PACKED,
    ByteRef,
    Message,
    store_packed,
    stored_fields,
    stored_refs,
)

WINDOW = 256  # messages a SourceAnalysis leaves uncompacted behind the newest

_codec = None


def _impl():
    global _codec
    if _codec is None:
        _codec = backends.load("compact")
    return _codec


def compact(message: Message) -> bool:
    """Keep `message`'s refs and fields as bytes from now on (in place, invisible to readers).

    False when they cannot be (a value of a type the byte form does not carry, nesting
    deeper than `compactcodec.MAX_DEPTH`): the message then stays as it was."""
    fields = stored_fields(message)
    refs = stored_refs(message)
    if refs is PACKED or type(fields) is not dict or type(refs) is not tuple:
        return refs is PACKED
    rows = []
    for ref in refs:
        if type(ref) is not ByteRef:
            return False
        rows.append((ref.source, ref.frame, ref.start, ref.length))
    try:
        blob = _impl().pack((tuple(rows), fields), TABLE)
    except (TypeError, ValueError):
        return False
    store_packed(message, blob)
    setattr_ = object.__setattr__  # a frozen record: same strings, shared
    intern = sys.intern
    if type(message.src) is str:
        setattr_(message, "src", intern(message.src))
    if type(message.dst) is str:
        setattr_(message, "dst", intern(message.dst))
    if type(message.name) is str:
        setattr_(message, "name", intern(message.name))
    return True


def forget_decoded() -> None:
    """Drop the decoded forms kept for the last messages read (tests, memory probes)."""
    DECODED.clear()


class MessageWindow:
    """Compacts each message fed through it once `window` newer ones have arrived."""

    def __init__(self, window: int = WINDOW) -> None:
        self.window = window
        self.pending: collections.deque[Message] = collections.deque()

    def add(self, message: Message) -> None:
        pending = self.pending
        pending.append(message)
        if len(pending) > self.window:
            _compact_if_held(pending.popleft())

    def flush(self) -> None:
        """Compact what is left (when the analyzers have finished reading)."""
        pending = self.pending
        while pending:
            _compact_if_held(pending.popleft())


def _compact_if_held(message: Message) -> None:
    # a message nobody holds (only this frame and getrefcount's argument) is about to be
    # freed: compacting it would be wasted work
    if sys.getrefcount(message) > 2:
        compact(message)
