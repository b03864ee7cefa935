"""Real conversations cut at every byte offset never raise out of the stream dissectors.

The cut goes through the conversation (after the k-th byte of the two directions
together, in capture order), then the stream closes: what is left must come out as
Messages, with Problems where a unit is incomplete."""

from __future__ import annotations

import pytest

from tools.fuzz import TARGETS, decode_chunks, encode_chunks, run_one

MAX_BYTES = 1500  # the handshakes and first messages: where the state machines branch


def _cut(chunks: list[tuple[int, bytes]], k: int) -> list[tuple[int, bytes]]:
    out, left = [], k
    for direction, data in chunks:
        if left <= 0:
            break
        out.append((direction, data[:left]))
        left -= len(data)
    return out


@pytest.mark.parametrize("target", ["v2gtp", "websocket", "http", "ocpi"])
def test_conversation_cut_at_every_offset(target: str) -> None:
    seed = decode_chunks(TARGETS[target].seeds()[0])
    total = min(sum(len(d) for _, d in seed), MAX_BYTES)
    assert total > 100
    for k in range(total + 1):
        finding = run_one(TARGETS[target].run, encode_chunks(_cut(seed, k)), timeout=10.0)
        assert finding is None, f"cut at {k}: {finding.error}"
