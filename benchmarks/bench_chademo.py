"""CHAdeMO over CAN: reading and full analysis of one long simulated session, beside tshark.

Input: the simulator's happy session stretched to `--ticks` 100 ms periods (5 frames
each), written as a SocketCAN pcap and a `candump -l` log.

Rows: read only (CAN frames out of the recording), full analysis (read, decode every
CHAdeMO frame, build sessions, run the checks), and tshark -r on the pcap (CAN
dissection only) when installed.

    python benchmarks/bench_chademo.py [--ticks 40000] [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from chargescope.analyzer.chademo.analyze import analyze_recording
from chargescope.analyzer.chademo.canlog import read_recording
from chargescope.analyzer.chademo.simulate import Scenario, simulate, write_candump, write_pcap


def best(runs: int, fn) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ticks", type=int, default=40000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    frames = list(simulate(Scenario(ticks=args.ticks)))
    with tempfile.TemporaryDirectory() as tmp:
        pcap, log = Path(tmp, "s.pcap"), Path(tmp, "s.log")
        write_pcap(pcap, frames)
        write_candump(log, frames)
        n = len(frames)
        print(f"{n} frames, best of {args.runs}")
        for label, path in (("pcap", pcap), ("candump -l", log)):
            t = best(args.runs, lambda p=path: read_recording(p))
            print(f"  {label:11} read only      {n / t:12,.0f} frames/s")
            t = best(args.runs, lambda p=path: analyze_recording(p))
            print(f"  {label:11} full analysis  {n / t:12,.0f} frames/s")
        if shutil.which("tshark"):
            t = best(args.runs, lambda: subprocess.run(
                ["tshark", "-n", "-r", str(pcap)], capture_output=True, check=True))
            print(f"  tshark -r (CAN dissection)  {n / t:12,.0f} frames/s")


if __name__ == "__main__":
    main()
