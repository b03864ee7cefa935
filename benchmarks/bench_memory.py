"""Memory retained by `analyze()` on the TUI bench mix: bytes per message, by holder and type.

    python benchmarks/bench_memory.py --size 20 [--trace] [--out /tmp/chargescope-mem] [--keep]

Builds the capture set of `bench_tui.py` (its builder: the four demo scenarios repeated with
shifted timestamps, ~SIZE MB, under /tmp, deleted after), runs
`chargescope.analyzer.analysis.analyze(paths, site, keep_messages=True)` (what the TUI and
`chargescope analyze --export` run) and reports:

- CPU time of `analyze()` (process time: steadier than wall time on a shared machine);
- RSS before, after (after a full collection) and peak; retained = after - before, per message;
- a `sys.getsizeof` walk of what the analysis holds, each object counted once, charged to the
  first holder that reaches it: the kept message list (message records, their fields, refs,
  strings), then the link sessions (events, keys, findings), then findings (evidence), then the
  correlation; per protocol for the messages;
- `--trace`: a `tracemalloc` run (slower) with the top allocating lines still alive at the end.
"""

from __future__ import annotations

import argparse
import collections
import gc
import resource
import shutil
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tui import build, rss_mb  # noqa: E402  (the one capture-set builder)


def _raw_fields(message):
    """A message's stored fields without decoding them (the compact form when compacted)."""
    try:
        from chargescope.analyzer.records import stored_fields
    except ImportError:  # before the compact store
        return message.fields
    return stored_fields(message)


def _raw_refs(message):
    try:
        from chargescope.analyzer.records import stored_refs
    except ImportError:
        return message.refs
    return stored_refs(message)


class Walker:
    """Deep `sys.getsizeof` of object graphs, each object counted once across calls."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.by_type: collections.Counter[str] = collections.Counter()

    def size(self, obj) -> int:
        total = 0
        stack = [obj]
        while stack:
            o = stack.pop()
            if o is None or isinstance(o, bool) or id(o) in self.seen:
                continue
            if isinstance(o, type) or callable(o) and not hasattr(o, "__slots__"):
                continue
            self.seen.add(id(o))
            s = sys.getsizeof(o)
            self.by_type[type(o).__name__] += s
            total += s
            if isinstance(o, dict):
                stack.extend(o.keys())
                stack.extend(o.values())
            elif isinstance(o, list | tuple | set | frozenset):
                stack.extend(o)
            elif type(o).__name__ == "Message":
                stack.extend((o.link, o.protocol, o.name, o.ts_ns, o.src, o.dst,
                              _raw_fields(o), _raw_refs(o), o.problems))
            elif hasattr(o, "__slots__"):
                for cls in type(o).__mro__:
                    for slot in getattr(cls, "__slots__", ()):
                        stack.append(getattr(o, slot, None))
            elif hasattr(o, "__dict__") and not isinstance(o, str | bytes | int | float):
                stack.append(vars(o))
        return total


def holders(analysis, walker: Walker) -> dict[str, int]:
    out: dict[str, int] = {}
    per_protocol: collections.Counter[str] = collections.Counter()
    count: collections.Counter[str] = collections.Counter()
    walker.seen.add(id(analysis.messages))
    for message in analysis.messages:
        per_protocol[message.protocol] += walker.size(message)
        count[message.protocol] += 1
    out["messages (kept list)"] = sum(per_protocol.values()) + sys.getsizeof(analysis.messages)
    out["link sessions"] = walker.size(analysis.link_sessions)
    out["link findings"] = walker.size(analysis.link_findings)
    out["correlation"] = walker.size(analysis.correlation)
    out["problems, sources"] = walker.size((analysis.problems, analysis.sources))
    for protocol, size in per_protocol.most_common():
        out[f"  {protocol} ({count[protocol]:,} messages), B/message"] = size // count[protocol]
    return out


def run(paths: list[Path], site_path: Path, trace: bool, eager: bool = False) -> dict:
    from chargescope.analyzer.analysis import analyze
    from chargescope.analyzer.correlate import SiteMap

    if eager:  # messages kept as decoded (before the compact store), for comparison
        from chargescope.analyzer import store

        store.ENABLED = False

    site = SiteMap.load(site_path)
    demo = Path(__file__).resolve().parent.parent / "captures" / "demo"
    analyze(sorted(demo.glob("*-link*")), SiteMap.load(demo / "site.toml"))  # imports, caches
    gc.collect()
    before = rss_mb()
    if trace:
        tracemalloc.start(1)
    cpu0 = time.process_time()
    analysis = analyze(paths, site, keep_messages=True)
    cpu = time.process_time() - cpu0
    gc.collect()
    result: dict = {"cpu_s": cpu}
    messages = sum(s.messages for s in analysis.sources)
    result["messages"] = messages
    result["sessions"] = len(analysis.sessions)
    after = rss_mb()
    result["rss_before_mb"] = before
    result["rss_after_mb"] = after
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["retained_rss_B_per_message"] = (after - before) * 1024 * 1024 / messages
    if trace:
        snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
        stats = snapshot.statistics("lineno")
        result["traced_B_per_message"] = sum(s.size for s in stats) / messages
        for stat in stats[:15]:
            frame = stat.traceback[0]
            where = f"{Path(frame.filename).name}:{frame.lineno}"
            result[f"  traced {where} ({stat.count:,} blocks), B/message"] = stat.size / messages
    walker = Walker()
    sizes = holders(analysis, walker)
    result["walked_B_per_message"] = sum(v for k, v in sizes.items()
                                         if not k.startswith("  ")) / messages
    for key, value in sizes.items():
        result[key if key.startswith("  ") else f"held by {key}, B/message"] = (
            value if key.startswith("  ") else value / messages)
    for name, size in walker.by_type.most_common(10):
        result[f"  type {name}, B/message"] = size / messages
    return result


def compare_cpu(paths: list[Path], site_path: Path, rounds: int) -> dict:
    """CPU time of `analyze()` with and without compaction, alternating in one process
    (the best of `rounds` each: the machine's load moves single figures by 10-20 %)."""
    from chargescope.analyzer import store
    from chargescope.analyzer.analysis import analyze
    from chargescope.analyzer.correlate import SiteMap

    site = SiteMap.load(site_path)
    best = {"eager": float("inf"), "compact": float("inf")}
    for _ in range(rounds):
        for mode in best:
            store.ENABLED = mode == "compact"
            gc.collect()
            cpu0 = time.process_time()
            analysis = analyze(paths, site, keep_messages=True)
            best[mode] = min(best[mode], time.process_time() - cpu0)
            del analysis
    store.ENABLED = True
    return {f"best cpu_s {mode} (of {rounds})": cpu for mode, cpu in best.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=20, help="capture set size in MB")
    ap.add_argument("--trace", action="store_true", help="also a tracemalloc snapshot (slow)")
    ap.add_argument("--out", type=Path, default=Path("/tmp/chargescope-mem-bench"))
    ap.add_argument("--keep", action="store_true", help="keep the generated captures")
    ap.add_argument("--eager", action="store_true", help="do not compact stored messages")
    ap.add_argument("--cpu-rounds", type=int, default=0,
                    help="instead: compare CPU time eager vs compact, best of N rounds each")
    args = ap.parse_args()
    paths = build(args.out, args.size)
    try:
        if args.cpu_rounds:
            result = compare_cpu(paths, args.out / "site.toml", args.cpu_rounds)
        else:
            result = run(paths, args.out / "site.toml", args.trace, args.eager)
    finally:
        if not args.keep:
            shutil.rmtree(args.out, ignore_errors=True)
    for key, value in result.items():
        print(f"{key:60} {value:,.1f}" if isinstance(value, float) else f"{key:60} {value:,}")


if __name__ == "__main__":
    main()
