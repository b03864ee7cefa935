"""CI smoke: a few thousand mutated inputs per fuzz target, fixed seed, bounded in time.

The long campaign is `python -m tools.fuzz all --runs N` (see FUZZING.md); this only makes
sure every public entry point still survives hostile bytes on every push.
"""

from __future__ import annotations

import pytest

from tools.fuzz import TARGETS, campaign, decode_chunks, encode_chunks, mutate

RUNS = 2000
SECONDS_PER_TARGET = 3.0  # a bound, not an assertion: slow targets stop early


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_target_survives_mutated_inputs(target: str) -> None:
    seeds = TARGETS[target].seeds()
    assert seeds, f"no seeds for {target}: is the corpus present?"
    done, findings = campaign(target, RUNS, seed=14, timeout=10.0,
                              max_seconds=SECONDS_PER_TARGET)
    assert done >= min(len(seeds), RUNS)
    assert findings == [], "\n".join(f"{f.kind}: {f.error}" for f in findings)


def test_chunk_framing_round_trips() -> None:
    chunks = [(0, b"GET / HTTP/1.1\r\n\r\n"), (1, b""), (1, b"x" * 300)]
    assert decode_chunks(encode_chunks(chunks)) == chunks
    assert decode_chunks(b"\x01\xff") == []  # a torn header is no chunk, never an error


def test_mutation_is_deterministic_and_bounded() -> None:
    import random

    a = [mutate(random.Random(7), b"\x01\xfe\x80\x01" * 10, [b"abc"]) for _ in range(50)]
    b = [mutate(random.Random(7), b"\x01\xfe\x80\x01" * 10, [b"abc"]) for _ in range(50)]
    assert a == b
    assert any(x != b"\x01\xfe\x80\x01" * 10 for x in a)


def test_harness_tells_crashes_and_hangs_from_documented_errors() -> None:
    import time

    from tools.fuzz import run_one

    def crashes(data: bytes) -> None:
        raise IndexError(data)

    def hangs(data: bytes) -> None:
        time.sleep(5)

    assert run_one(lambda data: None, b"x", timeout=1.0) is None
    crash = run_one(crashes, b"x", timeout=1.0)
    assert crash is not None and crash.kind == "crash" and "IndexError" in crash.error
    hang = run_one(hangs, b"x", timeout=0.2)
    assert hang is not None and hang.kind == "hang"
