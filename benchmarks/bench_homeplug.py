"""HomePlug MME decode benchmark: Cython vs pure-Python twin vs scapy vs construct, same frames.

    python benchmarks/bench_homeplug.py              # every HomePlug frame of the corpus
    python benchmarks/bench_homeplug.py --repeat 5   # median of 5 timed passes

Input: every EtherType 0x88E1 frame of ../shared/corpus/pcaps (real SLAC, GP and
Qualcomm vendor MMEs; ~8,400 frames), read once into memory. Each row decodes all of
them; the table gives MMEs/s and the ratio to scapy (`scapy.contrib.homepluggp`, which
loads `homeplugav`: Ether(bytes) builds the HomePlug layers). Rows:

* cython decode_mme  - the hot path: header, dispatch, every field, as a dict
* python decode_mme  - its pure-Python twin
* cython Message     - HomePlugDissector.feed: the Message records the analyzer uses
* construct parse    - the construct layouts (the readable spec, used as test oracle)
* scapy              - Ether(frame) with the HomePlug AV/GP layers bound
Absolute numbers drift on a shared machine: read the ratios, measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent.parent / "shared" / "corpus" / "pcaps"


def load_frames() -> list[bytes]:
    from chargescope.analyzer.capture import open_capture
    from chargescope.dissectors.homeplug.mme import split_ethernet

    frames = []
    for path in sorted(CORPUS.rglob("*")):
        if not path.is_file() or not path.name.endswith((".pcap", ".pcapng", ".dump")):
            continue
        with open_capture(path) as capture:
            for frame in capture.frames():
                split = split_ethernet(frame.data)
                if split is not None and split[2] == 0x88E1:
                    frames.append(bytes(frame.data))
    return frames


def runners(frames: list[bytes]) -> dict[str, Callable[[], int]]:
    from chargescope import backends
    from chargescope.dissectors.homeplug import program as prog
    from chargescope.dissectors.homeplug.mme import (
        HomePlugDissector,
        dispatch_table,
        split_ethernet,
    )

    table = dispatch_table()
    offsets = [split_ethernet(f)[3] for f in frames]
    pairs = list(zip(frames, offsets, strict=True))
    out: dict[str, Callable[[], int]] = {}

    def hot(impl) -> Callable[[], int]:
        decode = impl.decode_mme

        def run() -> int:
            for frame, offset in pairs:
                decode(frame, offset, len(frame), table)
            return len(pairs)
        return run

    ext = backends.load_extension("homeplug")
    if ext is not None:
        out["cython decode_mme"] = hot(ext)
    out["python decode_mme"] = hot(backends.load_twin("homeplug"))
    if ext is not None:
        def messages() -> int:
            dissector = HomePlugDissector(impl=ext)
            feed = dissector.feed
            for number, frame in enumerate(frames, start=1):
                feed(frame, frame=number)
            return len(frames)
        out["cython Message"] = messages

    def construct_parse() -> int:
        done = 0
        for frame, offset in pairs:
            result = ext.decode_mme(frame, offset, len(frame), table) if ext else None
            mmtype, oui, mmv, body = result[1], result[4], result[0], result[5]
            layout = prog.layout_for(mmtype, max(oui, 0), mmv)
            if layout is not None:
                try:
                    layout.parse(frame[body:])
                except Exception:  # construct raises on short MMEs; the fast path reports them
                    pass
            done += 1
        return done
    out["construct parse"] = construct_parse

    def scapy() -> int:
        import scapy.contrib.homepluggp  # noqa: F401  (binds the GP layers onto HomePlugAV)
        from scapy.layers.l2 import Ether

        for frame in frames:
            Ether(frame)
        return len(frames)
    out["scapy homepluggp"] = scapy
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    frames = load_frames()
    if not frames:
        print("no corpus frames found under", CORPUS, file=sys.stderr)
        return 2
    table = runners(frames)
    times: dict[str, list[float]] = {name: [] for name in table}
    for run in table.values():
        run()  # warm-up (imports, caches)
    for _ in range(args.repeat):  # interleaved, so load changes hit every row alike
        for name, run in table.items():
            t0 = time.perf_counter()
            count = run()
            times[name].append(time.perf_counter() - t0)
    rows = [(name, count / statistics.median(times[name])) for name in table]
    scapy_rate = dict(rows)["scapy homepluggp"]
    print(f"{len(frames)} HomePlug frames from {CORPUS}; median of {args.repeat}")
    print(f"| {'decoder':<20} | {'MMEs/s':>12} | {'vs scapy':>9} |")
    print(f"|{'-' * 22}|{'-' * 14}|{'-' * 11}|")
    for name, rate in rows:
        print(f"| {name:<20} | {rate:>12,.0f} | {rate / scapy_rate:>8.1f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
