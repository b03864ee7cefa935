"""Compact message storage: what an analysis keeps of each Message it holds.

A decoded Message is a tree of dicts: ~2.5 KB of Python objects for a DC charging-loop
message, 3.3 KB for an OCPI one. An analysis keeps most of its messages (link sessions,
finding evidence, the TUI's message list), so a 1 GB capture set (~4 M messages) would need
15-20 GB. Once the link analyzers are done reading a message, `compact()` rewrites it in place
to keep its refs and fields as one byte form (`analyzer/compactcodec.py`, hot path
"compact"; ~100-300 bytes), interns its endpoint and name strings, and (extension) takes it
off the garbage collector's lists. Readers see no change: `message.fields` and
`message.refs` decode on access (`records.py`), and the last messages read keep their decoded
form (`compactcodec.CACHE` of them), so code that reads one message's fields several times
in a row decodes it once.

`message_window()` is how `SourceAnalysis` does it: it compacts a message once `WINDOW` newer
messages have arrived (analyzers look back at a request when its response comes: those
reads stay free), and not at all when nothing holds it any more.
"""

from __future__ import annotations

import os

from chargescope import backends
from chargescope.analyzer.records import DECODED, FIELDS, Message

# messages a SourceAnalysis leaves uncompacted behind the newest: a request stays as decoded
# until its response has been read; later is slower, as the tree has left the CPU caches
# (bench_memory.py at 50 MB: 1-2 beat eager by 5-10 % CPU, 256 lost 5-10 %)
WINDOW = 2
# False: analyses keep messages as decoded (comparisons, benchmarks; the environment
# variable CHARGESCOPE_EAGER_MESSAGES=1 sets it so for a whole run)
ENABLED = os.environ.get("CHARGESCOPE_EAGER_MESSAGES", "") in ("", "0")


def compact(message: Message) -> bool:
    """Keep `message`'s refs and fields as bytes from now on (in place, invisible to readers).

    False when they cannot be (a value of a type the byte form does not carry, nesting
    deeper than `compactcodec.MAX_DEPTH`): the message then stays as it was."""
    return FIELDS.compact(message)


def forget_decoded() -> None:
    """Drop the decoded forms kept for the last messages read (tests, memory probes)."""
    DECODED.clear()


class _NoWindow:
    def add(self, message: Message) -> None:
        pass

    def flush(self) -> None:
        pass


def message_window(window: int = 0):
    """What `SourceAnalysis` feeds every message through: compacts each one once `window`
    (default `WINDOW`) newer ones have arrived and something still holds it;
    `.flush()` compacts the rest. Does nothing while `ENABLED` is False."""
    if not ENABLED:
        return _NoWindow()
    return backends.load("compact").Window(FIELDS, window or WINDOW)
