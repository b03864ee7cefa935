"""Throughput of the link-A layers above EXI: V2GTP framing and the V2G session analyser.

    python benchmarks/bench_v2g.py

EXI decoding is excluded (a lookup stands in for the codec) so the figures are ours alone;
the EXI codec and the capture pipeline have their own benchmarks. Prints one table.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from v2g_helpers import CONN, data_events, din_dc_session, vector  # noqa: E402

from chargescope.analyzer.v2g import V2GAnalyser  # noqa: E402
from chargescope.dissectors import v2gtp  # noqa: E402

NAMES = ["CurrentDemandReq", "CurrentDemandRes", "PreChargeReq", "PreChargeRes",
         "CableCheckReq", "CableCheckRes"]


def bench_framing(units: int = 60_000, segment: int = 1460) -> tuple[float, float]:
    payloads = [bytes.fromhex(vector("din", n, "rand1")["hex"]) for n in NAMES]
    raw = b"".join(v2gtp.build(0x8001, payloads[i % len(payloads)]) for i in range(units))
    chunks = [raw[i:i + segment] for i in range(0, len(raw), segment)]
    events = data_events(chunks)
    trees = {bytes.fromhex(vector("din", n, "rand1")["hex"]): vector("din", n, "rand1")["json"]
             for n in NAMES}
    stream = v2gtp.V2gtpStream(CONN, lambda data, schema: trees[bytes(data)])
    stream.agreed_schema = "din"
    start = time.perf_counter()
    n = sum(len(stream.on_data(ev)) for ev in events)
    elapsed = time.perf_counter() - start
    assert n == units
    return units / elapsed, len(raw) / elapsed / 1e6


def bench_analyser(repeat: int = 300) -> float:
    session = din_dc_session().messages
    total = 0
    start = time.perf_counter()
    for _ in range(repeat):
        analyser = V2GAnalyser()
        for msg in session:
            analyser.feed(msg)
        analyser.finish()
        total += len(session)
    return total / (time.perf_counter() - start)


def main() -> None:
    units_s, mb_s = bench_framing()
    msgs_s = bench_analyser()
    print("| layer | throughput |")
    print("|---|---|")
    print(f"| V2GTP stream dissector (1460-byte segments, EXI lookup) | {units_s:,.0f} units/s "
          f"({mb_s:.1f} MB/s) |")
    print(f"| V2G session analyser (decoded messages in, sessions out) | {msgs_s:,.0f} msgs/s |")


if __name__ == "__main__":
    main()
