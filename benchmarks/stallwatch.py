"""What blocks a Textual app's event loop: every thread's stack, sampled while the loop is late.

    watch = StallWatch(app, threshold_s=0.1)   # in the app's loop, e.g. after run_test starts
    ...
    watch.stop(); print(watch.report())

A 20 ms timer on the event loop notes when it last ran. A watchdog thread wakes every 10 ms;
when the loop is late by more than `threshold_s` it takes the stack of every thread
(`sys._current_frames()`), and again every `threshold_s` while the stall lasts. A watchdog
that itself wakes late could not get the GIL: some thread held it through one long call (a
huge `sorted`, a comprehension, a garbage collection...), and the sample it then takes shows
that thread still at the line making the call; such samples say how late the watchdog was.
Garbage collections are logged by a `gc.callbacks` hook, so a stall holding a full
collection says so. (faulthandler's `dump_traceback_later` would sample without the GIL,
but reading other threads' frames unlocked crashed the interpreter here.)
"""

from __future__ import annotations

import gc
import sys
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Sample:
    """One look: thread name -> its frames, innermost first ("file:line function")."""

    at: float  # perf_counter
    gil_wait_ms: float  # how late the watchdog woke: a long call held the GIL meanwhile
    stacks: dict[str, tuple[str, ...]]


@dataclass(slots=True)
class Stall:
    at: float  # perf_counter when the loop got control back
    at_s: float  # the same, seconds since the watch started
    late_ms: float
    samples: list[Sample] = field(default_factory=list)
    gcs: list[tuple[int, float]] = field(default_factory=list)  # (generation, ms) inside


def _short(path: str) -> str:
    parts = path.split("/")
    return "/".join(parts[-2:])


def _idle(frames: tuple[str, ...]) -> bool:
    """A pool thread waiting for work."""
    return not frames or frames[0].startswith("futures/thread.py") and \
        frames[0].endswith(" _worker")


def stacks_now(names: dict[int, str]) -> dict[str, tuple[str, ...]]:
    out = {}
    for ident, frame in sys._current_frames().items():
        if ident == threading.get_ident():
            continue  # the watchdog
        frames = tuple(f"{_short(f.filename)}:{f.lineno} {f.name}"
                       for f in reversed(traceback.extract_stack(frame)))
        if not _idle(frames):
            out[names.get(ident, f"thread {ident:#x}")] = frames
    return out


class StallWatch:
    def __init__(self, app, threshold_s: float = 0.1, tick_s: float = 0.02,
                 poll_s: float = 0.01) -> None:
        self.threshold_s = threshold_s
        self.tick_s = tick_s
        self.poll_s = poll_s
        self.stalls: list[Stall] = []
        # samples the watchdog took on waking late itself (the GIL held through one long
        # call, whoever's): the other threads' stacks right after it, wherever the UI was
        self.held: list[Sample] = []
        self._samples: list[Sample] = []
        self._gcs: list[tuple[float, float, int]] = []  # (start, end, generation)
        self._gc_log: list[tuple[float, float, int]] = []  # those of 5 ms and more
        self._gc_start = 0.0
        self._names: dict[int, str] = {threading.get_ident(): "UI loop"}
        self._t0 = self._last = time.perf_counter()
        self._running = True
        gc.callbacks.append(self._on_gc)
        self._timer = app.set_interval(tick_s, self._tick)
        self._thread = threading.Thread(target=self._watch, name="stallwatch", daemon=True)
        self._thread.start()

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        else:
            entry = (self._gc_start, time.perf_counter(), info["generation"])
            self._gcs.append(entry)
            if entry[1] - entry[0] >= 0.005:
                self._gc_log.append(entry)

    def _watch(self) -> None:
        sampled = 0.0
        woke = time.perf_counter()
        while self._running:
            time.sleep(self.poll_s)
            now = time.perf_counter()
            gil_wait = now - woke - self.poll_s
            woke = now
            late = now - self._last - self.tick_s
            starved = gil_wait > self.threshold_s
            if starved or late > self.threshold_s and now - sampled >= self.threshold_s:
                sampled = now
                self._names.update({t.ident: t.name for t in threading.enumerate()
                                    if t.ident and t.ident not in self._names})
                sample = Sample(now, max(0.0, gil_wait) * 1000, stacks_now(self._names))
                self._samples.append(sample)
                if starved:
                    self.held.append(sample)

    def _tick(self) -> None:
        now = time.perf_counter()
        late = now - self._last - self.tick_s
        started = self._last
        self._last = now
        if late > self.threshold_s:
            stall = Stall(now, now - self._t0, late * 1000,
                          [s for s in self._samples if started <= s.at <= now])
            stall.gcs = [(gen, (end - start) * 1000) for start, end, gen in self._gcs
                         if end >= started and start <= now]
            self.stalls.append(stall)
        self._samples = [s for s in self._samples if s.at > now]
        self._gcs = [g for g in self._gcs if g[1] >= now - 1]

    def stop(self) -> None:
        self._running = False
        self._thread.join()
        self._timer.stop()
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    def report(self, top: int = 10, depth: int = 6, start: float = 0.0,
               end: float = float("inf")) -> str:
        """The stalls (those that ended between perf_counter `start` and `end`), worst
        first, each with the stacks sampled in it; then the lines most often on top of a
        non-UI thread's stack during them (the usual culprits)."""
        stalls = [s for s in self.stalls if start <= s.at < end]
        lines = [f"{sum(1 for s in stalls if s.late_ms > self.threshold_s * 1000)} "
                 f"stall(s) over {self.threshold_s * 1000:.0f} ms; "
                 f"worst {max((s.late_ms for s in stalls), default=0):.0f} ms"]
        culprits: Counter[str] = Counter()
        for stall in stalls:
            for sample in stall.samples:
                for name, frames in sample.stacks.items():
                    if frames and name != "UI loop":
                        culprits[f"{name}: {' < '.join(frames[:3])}"] += 1
        for stall in sorted(stalls, key=lambda s: -s.late_ms)[:top]:
            gcs = ", ".join(f"gen{g} {ms:.0f} ms" for g, ms in stall.gcs if ms >= 5)
            lines.append(f"\n== {stall.late_ms:.0f} ms late at {stall.at_s:.1f} s; "
                         f"{len(stall.samples)} sample(s)" + (f"; GC: {gcs}" if gcs else ""))
            for n, sample in enumerate(stall.samples[:4]):
                held = (f" (watchdog waited {sample.gil_wait_ms:.0f} ms for the GIL)"
                        if sample.gil_wait_ms >= 20 else "")
                for name, frames in sample.stacks.items():
                    lines.append(f"  [{n}] {name}: " + " < ".join(frames[:depth]) + held)
        lines.append("\nmost sampled (thread: innermost frames), all stalls:")
        lines += [f"  {count:4} {where}" for where, count in culprits.most_common(top)]
        held = sorted((s for s in self.held if start <= s.at < end),
                      key=lambda s: -s.gil_wait_ms)[:top]
        if held:
            lines.append("\nthe GIL held through one long call (watchdog kept waiting; the "
                         "stacks right after, innermost first):")
        for sample in held:
            gcs = ", ".join(f"gen{g} {(e - b) * 1000:.0f} ms" for b, e, g in self._gc_log
                            if e >= sample.at - sample.gil_wait_ms / 1000 and b <= sample.at
                            and e - b >= 0.005)
            lines.append(f"  {sample.gil_wait_ms:.0f} ms at {sample.at - self._t0:.1f} s"
                         + (f" (GC: {gcs})" if gcs else ""))
            for name, frames in sample.stacks.items():
                lines.append(f"    {name}: " + " < ".join(frames[:depth]))
        return "\n".join(lines)
