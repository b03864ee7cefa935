"""Batch throughput: captures/s on a local Dask cluster with 1 and 2 workers, beside the
same analyses run sequentially in one process (the per-capture overhead of Dask).

    python benchmarks/bench_batch.py [--corpus | --sets 12]

Inputs: the real captures of ../shared/corpus/pcaps (`--corpus`), or simulated capture
sets (3 capture files each) written to a temporary directory; every group is one file.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from chargescope.analyzer.analysis import analyze
from chargescope.analyzer.batch import plan, run_batch
from chargescope.analyzer.simulate.render import render
from chargescope.analyzer.simulate.scenarios import SCENARIOS


def make_inputs(root: Path, sets: int) -> list[Path]:
    names = sorted(SCENARIOS)
    files: list[Path] = []
    for n in range(sets):
        folder = root / f"set{n:03d}"
        folder.mkdir(parents=True)
        files += [p for p in render(SCENARIOS[names[n % len(names)]], folder, seed=n)
                  if p.suffix != ".toml"]
    return files


def worker_rss(workers: int) -> list[int]:
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        def rss() -> int:
            import psutil

            from chargescope.analyzer.analysis import analyze  # noqa: F401 (warm import)

            return psutil.Process().memory_info().rss

        return list(client.run(rss).values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sets", type=int, default=12)
    parser.add_argument("--corpus", action="store_true",
                        help="use the real captures of ../shared/corpus/pcaps")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="chargescope-batch-"))
    try:
        if args.corpus:
            corpus = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "pcaps"
            (root / "in").mkdir()
            files = []
            for n, path in enumerate(sorted(corpus.rglob("*"))):
                if path.suffix in (".pcap", ".pcapng", ".dump"):
                    link = root / "in" / f"{n:03d}-{path.name}"
                    link.symlink_to(path)
                    files.append(link)
        else:
            files = make_inputs(root / "in", args.sets)
        size = sum(p.stat().st_size for p in files)
        t = time.perf_counter()
        for path in files:
            analyze([path])
        sequential = time.perf_counter() - t
        rows = [("sequential analyze() in one process", len(files) / sequential, sequential)]
        for workers in (1, 2):
            groups = plan([str(root / "in")], group_by="file")
            report = run_batch(groups, str(root / f"out{workers}"), workers=workers)
            assert report.analysed == len(files), report
            rows.append((f"batch, LocalCluster {workers} worker(s)",
                         len(files) / report.seconds, report.seconds))
        rss = worker_rss(2)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{len(files)} capture files, {size / 1e6:.1f} MB in all")
    print(f"{'path':<40} {'captures/s':>11} {'seconds':>9} {'vs sequential':>14}")
    for name, rate, seconds in rows:
        print(f"{name:<40} {rate:11.1f} {seconds:9.2f} {rate / rows[0][1]:13.2f}x")
    overhead = (rows[1][2] - rows[0][2]) / len(files)
    print(f"per-capture overhead of 1 Dask worker vs in-process: {overhead * 1000:.0f} ms "
          "(includes cluster start-up)")
    print(f"idle worker RSS after importing chargescope: {statistics.mean(rss) / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
