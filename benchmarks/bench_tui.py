"""TUI responsiveness on a large capture set: first screen, event-loop stalls, load time, RSS.

    python benchmarks/bench_tui.py --size 1000 [--out /tmp/chargescope-tui] [--keep]
                                   [--diagnose-stalls]

Builds (once, outside git) a capture set of ~SIZE MB by repeating the four demo scenarios
(captures/demo: PLC sniffer, CSMS and OCPI gateway captures, with their site.toml) with
shifted timestamps, one session set every PERIOD of capture time, so the analysis finds
thousands of real sessions. Then opens it in the TUI headless (Textual's Pilot) and reports:

- first screen: from `run_test` to the first paint (the loading screen with its progress bar);
- loaded: until the session table is filled;
- longest stall: the worst lateness of a 20 ms timer on the UI event loop while loading
  (what a user typing or scrolling would feel);
- settled: until the load worker has indexed the captures' frames (worst stall meanwhile);
- after loading: opening the largest session (its first screen; then until all its messages
  are in, with the worst stall meanwhile), moving through its messages, selecting a field;
- RSS at the end and peak RSS (this process).

With --diagnose-stalls, every stall over 100 ms is explained: the stacks of all threads
sampled while the loop was late, and the garbage collections inside it (`stallwatch.py`).

Times are wall clock on a shared machine: read them as orders of magnitude.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "captures" / "demo"
PERIOD_NS = 20 * 60 * 1_000_000_000  # one scenario every 20 min of capture time
TICK_S = 0.02


def _scenarios() -> list[str]:
    return sorted({p.name.split("-link")[0] for p in DEMO.glob("*-link*")})


def build(out: Path, size_mb: int) -> list[Path]:
    """Repeat the demo scenarios into one capture per source until link A holds ~size_mb."""
    from chargescope.analyzer.capture import open_capture
    from chargescope.analyzer.capture.writer import PcapWriter

    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEMO / "site.toml", out / "site.toml")
    names = {"linkA-plc": "big-linkA-plc.pcap", "linkB-csms": "big-linkB-csms.pcap",
             "linkC-ocpi": "big-linkC-ocpi.pcap"}
    scenarios = []
    for scenario in _scenarios():
        files = {}
        for link in names:
            path = next(DEMO.glob(f"{scenario}-{link}.pcap*"))
            with open_capture(path) as capture:
                files[link] = [(f.ts_ns, f.data, f.linktype) for f in capture.frames()]
        start = min(ts for frames in files.values() for ts, _d, _l in frames)
        scenarios.append((start, files))
    writers = {link: PcapWriter(out / name, linktype=scenarios[0][1][link][0][2])
               for link, name in names.items()}
    target = size_mb * 1_000_000
    written = 0
    base = scenarios[0][0]
    n = 0
    try:
        while written < target:
            start, files = scenarios[n % len(scenarios)]
            shift = base + n * PERIOD_NS - start
            for link, frames in files.items():
                for ts, data, _linktype in frames:
                    writers[link].write(data, ts + shift)
                    written += 16 + len(data)
            n += 1
    finally:
        for writer in writers.values():
            writer.close()
    print(f"built {n} scenario copies, {written / 1e6:.0f} MB in {out}", file=sys.stderr)
    return [out / name for name in names.values()]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def drive(paths: list[Path], site: Path, diagnose: bool = False,
                max_rss_mb: float = 0.0, stopped=None) -> dict:
    from chargescope.analyzer.fieldranges import field_ranges
    from chargescope.tui.app import ChargescopeApp

    result: dict = {}
    pauses: list[float] = []  # garbage collector pauses: they stop every thread

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            on_gc.started = time.perf_counter()
        elif info["generation"] == 2:
            now = time.perf_counter()
            pauses.append((now - on_gc.started, now - t0))

    gc.callbacks.append(on_gc)
    t0 = time.perf_counter()
    app = ChargescopeApp(paths, site, freeze_gc=True)  # as `chargescope tui` runs it
    stalls: list[float] = []
    when: list[float] = []

    def tick_lateness() -> None:
        now = time.perf_counter()
        stalls.append(now - tick_lateness.last - TICK_S)
        when.append(now - t0)
        tick_lateness.last = now

    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        result["first_screen_s"] = time.perf_counter() - t0
        tick_lateness.last = time.perf_counter()
        app.set_interval(TICK_S, tick_lateness)
        if diagnose:
            from stallwatch import StallWatch

            watch = StallWatch(app)
        while app.analysis is None:
            await asyncio.sleep(0.05)
            if max_rss_mb and rss_mb() > max_rss_mb:  # the machine is shared: stop here
                bar = app.query_one("#loading")
                result["stopped"] = (f"RSS passed {max_rss_mb:.0f} MB at "
                                     f"{time.perf_counter() - t0:.0f} s, "
                                     f"{bar.percentage or 0:.0%} of the bytes read")
                break
        if "stopped" in result:
            result["worst_stall_ms"] = max(stalls, default=0.0) * 1000
            result["stalls_over_100ms"] = sum(1 for s in stalls if s > 0.1)
            if diagnose:
                watch.stop()
                result["stall_report"] = "\n" + watch.report()
            result["rss_mb"] = rss_mb()
            # the load worker thread is still analysing and cannot be cancelled: report
            # and leave now (asyncio.run would wait for it)
            stopped(result)
        await pilot.pause()
        phases = {"loading": (0.0, time.perf_counter())}
        result["loaded_s"] = time.perf_counter() - t0
        usage = resource.getrusage(resource.RUSAGE_SELF)
        result["loaded_cpu_s"] = usage.ru_utime + usage.ru_stime  # fairer on a shared machine
        result["worst_stall_ms"] = max(stalls, default=0.0) * 1000
        result["stalls_over_100ms"] = sum(1 for s in stalls if s > 0.1)
        worst = sorted(zip(stalls, when, strict=True), reverse=True)[:3]
        result["worst_stalls_at"] = ", ".join(f"{s * 1000:.0f} ms at {t:.1f} s" for s, t in worst)
        result["full_gc_runs"] = len(pauses)
        result["longest_full_gc_ms"] = max(pauses, default=(0.0, 0.0))[0] * 1000
        result["longest_full_gcs_at"] = ", ".join(
            f"{p * 1000:.0f} ms at {t:.1f} s" for p, t in sorted(pauses, reverse=True)[:3])
        analysis = app.analysis
        result["sessions"] = len(analysis.sessions)
        result["messages"] = sum(s.messages for s in analysis.sources)
        # the load worker then indexes the captures' frames for the hex pane; the session
        # and finding tables fill in batches: the screen must stay responsive meanwhile
        mark = len(stalls)
        captures = sum(1 for source in analysis.sources if source.reader == "capture")
        while len(app.frames._index) < captures:
            await asyncio.sleep(0.05)
        await pilot.pause()
        result["settled_s"] = time.perf_counter() - t0
        phases["settling (frame index, tables)"] = (phases["loading"][1], time.perf_counter())
        result["settle_worst_stall_ms"] = max(stalls[mark:], default=0.0) * 1000
        biggest = max(analysis.sessions, key=lambda s: sum(len(p.messages) for p in s.parts))
        mark = len(stalls)
        t1 = time.perf_counter()
        painted = asyncio.Event()
        app.open_session(biggest.index)
        app.call_after_refresh(painted.set)
        await painted.wait()
        result["open_session_s"] = time.perf_counter() - t1  # its first screen painted
        result["first_screen_rows"] = app.query_one("#message-table").row_count
        while not getattr(app, "session_complete", True):  # (older code: opened at once)
            await asyncio.sleep(0.02)
        await pilot.pause()
        result["session_filled_s"] = time.perf_counter() - t1
        phases["opening and filling the largest session"] = (t1, time.perf_counter())
        result["fill_worst_stall_ms"] = max(stalls[mark:], default=0.0) * 1000
        result["fill_stalls_over_100ms"] = sum(1 for s in stalls[mark:] if s > 0.1)
        result["session_messages"] = len(app.items)
        took = []  # 50 selections across the session: until painted, then the next (keys)
        for index in range(0, len(app.items), max(1, len(app.items) // 50)):
            t1 = time.perf_counter()
            painted = asyncio.Event()
            app.show_message(index, move_cursor=True)
            app.call_after_refresh(painted.set)
            await painted.wait()
            took.append(time.perf_counter() - t1)
            await pilot.pause()
        result["show_message_ms"] = sum(took) * 1000 / len(took)
        result["show_message_worst_ms"] = max(took) * 1000
        phases["selecting across it"] = (phases["opening and filling the largest session"][1],
                                         time.perf_counter())
        message = app.items[-1][1]
        t1 = time.perf_counter()
        field_ranges(message, app.frames.get)
        result["field_ranges_ms"] = (time.perf_counter() - t1) * 1000
        if diagnose:
            watch.stop()
            result["stall_report"] = "".join(
                f"\n\n#### {phase}: " + watch.report(top=6, start=start, end=end)
                for phase, (start, end) in phases.items())
    result["rss_mb"] = rss_mb()
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=1000, help="capture set size in MB")
    ap.add_argument("--out", type=Path, default=Path("/tmp/chargescope-tui-bench"))
    ap.add_argument("--keep", action="store_true", help="keep the generated captures")
    ap.add_argument("--max-rss-mb", type=float, default=10_000,
                    help="stop loading (and report what was measured) past this RSS")
    ap.add_argument("--diagnose-stalls", action="store_true",
                    help="sample every thread's stack while the UI loop is late by > 100 ms")
    args = ap.parse_args()
    paths = build(args.out, args.size)
    size = sum(p.stat().st_size for p in paths)

    def report(result: dict) -> None:
        if not args.keep:
            shutil.rmtree(args.out, ignore_errors=True)
        print(f"capture set: {size / 1e6:.0f} MB in {len(paths)} files")
        for key, value in result.items():
            print(f"{key:20} {value:.3f}" if isinstance(value, float) else f"{key:20} {value}")

    def stopped(result: dict) -> None:
        report(result)
        sys.stdout.flush()
        os._exit(0)

    try:
        result = asyncio.run(drive(paths, args.out / "site.toml", args.diagnose_stalls,
                                   args.max_rss_mb, stopped))
    except BaseException:
        if not args.keep:
            shutil.rmtree(args.out, ignore_errors=True)
        raise
    report(result)


if __name__ == "__main__":
    main()
