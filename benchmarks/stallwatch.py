"""What blocks a Textual app's event loop: every thread's stack, sampled while the loop is late.

    watch = StallWatch(app, threshold_s=0.1)   # in the app's loop, e.g. after run_test starts
    ...
    watch.stop(); print(watch.report())

A 20 ms timer on the event loop re-arms `faulthandler.dump_traceback_later` at each tick.
When the loop is late by more than `threshold_s`, faulthandler's own watchdog thread (C code,
it needs no GIL) writes the stack of every thread, and again every `threshold_s` while the
stall lasts. It sees what a Python watchdog thread could not: a load worker inside one long
GIL-holding call (a huge `sorted`, `gc.freeze`, a list built by a comprehension in C...)
shows up at the line making that call. Garbage collections are logged by a `gc.callbacks`
hook, so a sample taken during a full collection says so.
"""

from __future__ import annotations

import faulthandler
import gc
import re
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

_THREAD = re.compile(r"^(Current thread|Thread) (0x[0-9a-f]+)", re.MULTILINE)
_FRAME = re.compile(r'^\s+File "([^"]+)", line (\d+) in (\S+)', re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Sample:
    """One dump: thread name -> its frames, innermost first ("file:line function")."""

    stacks: dict[str, tuple[str, ...]]


@dataclass(slots=True)
class Stall:
    at_s: float  # when the loop got control back, seconds since the watch started
    late_ms: float
    samples: list[Sample] = field(default_factory=list)
    gcs: list[tuple[int, float]] = field(default_factory=list)  # (generation, ms) inside


def _short(path: str) -> str:
    parts = path.split("/")
    return "/".join(parts[-2:])


def parse_dump(text: str, names: dict[int, str]) -> list[Sample]:
    """faulthandler's text (one or more dumps) -> samples."""
    samples = []
    for dump in text.split("Timeout (")[1:]:
        stacks: dict[str, tuple[str, ...]] = {}
        heads = list(_THREAD.finditer(dump))
        for n, head in enumerate(heads):
            end = heads[n + 1].start() if n + 1 < len(heads) else len(dump)
            frames = tuple(f"{_short(f)}:{line} {fn}"
                           for f, line, fn in _FRAME.findall(dump[head.end():end]))
            if frames and frames[0].startswith("futures/thread.py") and \
                    frames[0].endswith(" _worker"):
                continue  # an idle pool thread waiting for work
            ident = int(head.group(2), 16)
            stacks[names.get(ident, f"thread {ident:#x}")] = frames
        samples.append(Sample(stacks))
    return samples


class StallWatch:
    def __init__(self, app, threshold_s: float = 0.1, tick_s: float = 0.02) -> None:
        self.threshold_s = threshold_s
        self.tick_s = tick_s
        self.stalls: list[Stall] = []
        self.lateness: list[float] = []
        self._gcs: list[tuple[float, float, int]] = []  # (start, end, generation)
        self._gc_start = 0.0
        self._file = tempfile.TemporaryFile(mode="w+")
        self._read = 0
        self._names: dict[int, str] = {}
        self._t0 = self._last = time.perf_counter()
        gc.callbacks.append(self._on_gc)
        self._arm()
        self._timer = app.set_interval(tick_s, self._tick)

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        else:
            self._gcs.append((self._gc_start, time.perf_counter(), info["generation"]))

    def _arm(self) -> None:
        faulthandler.dump_traceback_later(self.tick_s + self.threshold_s, repeat=True,
                                          file=self._file)

    def _tick(self) -> None:
        now = time.perf_counter()
        late = now - self._last - self.tick_s
        started = self._last
        self._last = now
        self.lateness.append(late)
        self._names.update({t.ident: t.name for t in threading.enumerate() if t.ident})
        self._names[threading.get_ident()] = "UI loop"
        self._file.seek(0, 2)
        if self._file.tell() > self._read:
            self._file.seek(self._read)
            text = self._file.read()
            self._read = self._file.tell()
        else:
            text = ""
        if late > self.threshold_s or text:
            stall = Stall(now - self._t0, late * 1000, parse_dump(text, self._names))
            stall.gcs = [(gen, (end - start) * 1000) for start, end, gen in self._gcs
                         if end >= started and start <= now]
            self.stalls.append(stall)
        self._gcs = [g for g in self._gcs if g[1] >= now - 1]
        self._arm()

    def stop(self) -> None:
        faulthandler.cancel_dump_traceback_later()
        self._timer.stop()
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    def report(self, top: int = 10, depth: int = 6) -> str:
        """The stalls, worst first, each with the stacks sampled in it; then the lines most
        often on top of a non-UI thread's stack during stalls (the usual culprits)."""
        lines = [f"{sum(1 for s in self.stalls if s.late_ms > self.threshold_s * 1000)} "
                 f"stall(s) over {self.threshold_s * 1000:.0f} ms; "
                 f"worst {max((s.late_ms for s in self.stalls), default=0):.0f} ms"]
        culprits: Counter[str] = Counter()
        for stall in self.stalls:
            for sample in stall.samples:
                for name, frames in sample.stacks.items():
                    if frames and name != "UI loop":
                        culprits[f"{name}: {' < '.join(frames[:3])}"] += 1
        for stall in sorted(self.stalls, key=lambda s: -s.late_ms)[:top]:
            gcs = ", ".join(f"gen{g} {ms:.0f} ms" for g, ms in stall.gcs if ms >= 5)
            lines.append(f"\n== {stall.late_ms:.0f} ms late at {stall.at_s:.1f} s; "
                         f"{len(stall.samples)} sample(s)" + (f"; GC: {gcs}" if gcs else ""))
            for n, sample in enumerate(stall.samples[:4]):
                for name, frames in sample.stacks.items():
                    if frames:
                        lines.append(f"  [{n}] {name}: " + " < ".join(frames[:depth]))
        lines.append("\nmost sampled (thread: innermost frames), all stalls:")
        lines += [f"  {count:4} {where}" for where, count in culprits.most_common(top)]
        return "\n".join(lines)
