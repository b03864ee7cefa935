"""Full analysis of the bench mix: CPU seconds per MB as the capture set grows.

    python benchmarks/bench_load.py --sizes 10 50 200 [--baseline-rev REV] [--layers]

Builds the capture set of `bench_tui.py` (the four demo scenarios repeated with shifted
times into three pcaps + site.toml, ~SIZE MB) once per size under --out, then times
`analyze(paths, site, keep_messages=True)` (what the TUI's loader runs) in a fresh process
per run: CPU seconds (user + sys of that process, steadier than wall time on a shared
machine), messages, peak RSS. CPU s/MB staying flat across sizes is linear scaling.

--baseline-rev REV times another revision in the same run: its tree is taken with
`git archive` into --out, laid out as the `chargescope` package, with this tree's
built extensions when its ext/*.pyx are the same, else its own (built there once). --layers
adds, for the largest size, where the time goes per capture (frame read, decode + TCP
reassembly, dissectors, link analyzers, their finish).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE_DIRS = ("analyzer", "dissectors", "ext", "tui", "plugins")

RUN = r"""
import json, resource, sys, time
from pathlib import Path
from chargescope.analyzer.analysis import analyze
from chargescope.analyzer.correlate import SiteMap
d = Path(sys.argv[1])
paths = sorted(p for p in d.iterdir() if p.suffix in (".pcap", ".pcapng"))
site = SiteMap.load(d / "site.toml")
t0 = time.process_time()
a = analyze(paths, site, keep_messages=True)
cpu = time.process_time() - t0
print(json.dumps({"cpu_s": cpu, "messages": sum(s.messages for s in a.sources),
                  "sessions": len(a.sessions),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

LAYERS = r"""
import json, sys, time
from pathlib import Path
from contextlib import nullcontext
from chargescope.analyzer.analysis import SourceAnalysis, _read_capture
try:
    from chargescope.analyzer.analysis import fewer_collections
except ImportError:  # an older revision: the collector as it ran then
    fewer_collections = nullcontext
from chargescope.analyzer.capture import open_capture
from chargescope.analyzer.links import link_analyzers
from chargescope.analyzer.pipeline import iter_stream_events
pt = time.process_time
out = {}
with fewer_collections():
    for f in sorted(p for p in Path(sys.argv[1]).iterdir() if p.suffix == ".pcap"):
        t0 = pt()
        with open_capture(f) as c:
            frames = sum(1 for _ in c.frames())
        t1 = pt()
        with open_capture(f) as c:
            for _ in iter_stream_events(c.frames()):
                pass
        t2 = pt()
        items = list(_read_capture(f))
        t3 = pt()
        source = SourceAnalysis(str(f), "capture", link_analyzers(), True)
        for item in items:
            source.add(item)
        t4 = pt()
        source.finish()
        t5 = pt()
        out[f.name] = {"frames": frames, "messages": len(items), "read": t1 - t0,
                       "decode_reassembly": t2 - t1, "dissectors": (t3 - t2) - (t2 - t0),
                       "link_analyzers": t4 - t3, "finish": t5 - t4}
print(json.dumps(out))
"""


def build_mix(out: Path, size: int) -> Path:
    where = out / f"mix{size}"
    if not (where / "site.toml").is_file():
        sys.path.insert(0, str(REPO / "benchmarks"))
        import bench_tui

        bench_tui.build(where, size)
    return where


def baseline_tree(rev: str, out: Path) -> Path:
    """REV's sources laid out as an importable `chargescope` package, this tree's
    extensions beside them."""
    root = out / f"rev-{rev}"
    package = root / "chargescope"
    if package.is_dir():
        return root
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "rev.tar"
        subprocess.run(["git", "-C", str(REPO), "archive", "-o", str(archive), rev], check=True)
        src = Path(tmp) / "src"
        with tarfile.open(archive) as tar:
            tar.extractall(src, filter="data")
        same = all((REPO / "ext" / pyx.name).is_file()
                   and (REPO / "ext" / pyx.name).read_bytes() == pyx.read_bytes()
                   for pyx in (src / "ext").glob("*.pyx"))
        if not same:  # its own extensions (a few minutes: the EXI codec is large)
            subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
                           cwd=src, check=True)
        shutil.copytree(src / "chargescope", package)
        for name in PACKAGE_DIRS:
            shutil.copytree(src / name, package / name)
        if same:
            for built in (REPO / "ext").glob("*.so"):
                if (src / "ext" / (built.name.split(".")[0] + ".pyx")).is_file():
                    shutil.copy(built, package / "ext" / built.name)
    return root


def run(script: str, mix: Path, pythonpath: Path | None) -> dict:
    env = dict(os.environ)
    if pythonpath is not None:  # put the other revision's package first
        env["PYTHONPATH"] = str(pythonpath)
    done = subprocess.run([sys.executable, "-c", script, str(mix)], env=env, check=True,
                          capture_output=True, text=True, cwd=pythonpath or REPO)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 200])
    ap.add_argument("--out", type=Path, default=Path("/tmp/chargescope-load-bench"))
    ap.add_argument("--baseline-rev", help="a git revision to time in the same run")
    ap.add_argument("--layers", action="store_true", help="per-layer CPU at the largest size")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    trees: list[tuple[str, Path | None]] = [("this tree", None)]
    if args.baseline_rev:
        trees.insert(0, (args.baseline_rev, baseline_tree(args.baseline_rev, args.out)))
    print("| code | MB | messages | sessions | CPU s | CPU s/MB | µs/message | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for size in args.sizes:
        mix = build_mix(args.out, size)
        mb = sum(p.stat().st_size for p in mix.iterdir() if p.suffix == ".pcap") / 1e6
        for name, tree in trees:
            r = run(RUN, mix, tree)
            print(f"| {name} | {mb:.0f} | {r['messages']:,} | {r['sessions']:,} | "
                  f"{r['cpu_s']:.1f} | {r['cpu_s'] / mb:.3f} | "
                  f"{r['cpu_s'] / r['messages'] * 1e6:.1f} | {r['rss_mb']:.0f} |", flush=True)
    if args.layers:
        mix = build_mix(args.out, max(args.sizes))
        for name, tree in trees:
            print(f"\nper layer, {name}, {max(args.sizes)} MB (CPU s):")
            for capture, r in run(LAYERS, mix, tree).items():
                print(f"  {capture}: {r['frames']:,} frames, {r['messages']:,} messages; "
                      + ", ".join(f"{k} {r[k]:.2f}" for k in (
                          "read", "decode_reassembly", "dissectors", "link_analyzers",
                          "finish")))


if __name__ == "__main__":
    main()
