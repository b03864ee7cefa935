"""Drive a Dask cluster over the groups of a batch, resumably."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chargescope import __version__
from chargescope.analyzer.batch.dataset import TABLES, Dataset
from chargescope.analyzer.batch.plan import Group
from chargescope.analyzer.batch.worker import analyze_group
from chargescope.analyzer.limits import DEFAULT_LIMITS, Limits


@dataclass(slots=True)
class BatchReport:
    total: int = 0
    skipped: int = 0
    analysed: int = 0
    failed: int = 0
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (group, first error line)


def run_batch(groups: list[Group], out: str, *, workers: int = 2, scheduler: str | None = None,
              flush_every: int = 64, retry_failed: bool = False,
              progress: Callable[[BatchReport, int], None] | None = None,
              limits: Limits = DEFAULT_LIMITS) -> BatchReport:
    """Analyse every group not yet in the dataset at `out` under `limits` (part of each
    group's key, so other caps analyse again); write their rows as parts."""
    from dask.distributed import Client, LocalCluster, as_completed

    started = time.perf_counter()
    dataset = Dataset(out)
    done = dataset.done(__version__, retry_failed)
    report = BatchReport(total=len(groups))
    todo = []
    for group in groups:
        key = group.key(limits)
        if key in done:
            report.skipped += 1
        else:
            done.add(key)  # the same content twice in one batch is analysed once
            todo.append((group, key))
    if progress:
        progress(report, len(todo))
    if not todo:
        report.seconds = time.perf_counter() - started
        return report

    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    buffer: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}
    buffered = 0
    try:
        futures = [client.submit(analyze_group, g.name, g.files, g.site, key, limits,
                                 pure=False)
                   for g, key in todo]
        names = {f.key: g.name for f, (g, _k) in zip(futures, todo, strict=True)}
        keys = {f.key: k for f, (_g, k) in zip(futures, todo, strict=True)}
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as exc:  # the worker died (e.g. killed for memory)
                result = {"groups": [{"group": names[future.key], "key": keys[future.key],
                                      "version": __version__, "status": "error",
                                      "error": f"worker failed: {type(exc).__name__}: {exc}",
                                      "files": "", "site": "", "sessions": 0, "messages": 0,
                                      "problems": 0, "seconds": 0.0}]}
            for table, rows in result.items():
                buffer[table].extend(rows)
            status = result["groups"][0]
            if status["status"] == "ok":
                report.analysed += 1
            else:
                report.failed += 1
                report.failures.append((status["group"], status["error"].splitlines()[0]))
            buffered += 1
            if buffered >= flush_every:
                dataset.write(buffer)
                buffer = {t: [] for t in TABLES}
                buffered = 0
            if progress:
                progress(report, len(todo))
        if buffered:
            dataset.write(buffer)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    report.seconds = time.perf_counter() - started
    return report
