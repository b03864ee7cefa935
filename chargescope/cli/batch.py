"""`chargescope batch`: many captures analysed in parallel on Dask into a Parquet dataset."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from chargescope.cli.common import EXIT_BAD_INPUT, EXIT_OK, current_limits, diag, limit_option


@click.command("batch")
@click.argument("paths", nargs=-1, required=True)
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Dataset directory (created; reused to resume).")
@click.option("--workers", type=click.IntRange(1), default=2, show_default=True,
              help="Worker processes of the local Dask cluster.")
@click.option("--scheduler", metavar="tcp://HOST:8786",
              help="Use an existing Dask scheduler instead of a local cluster.")
@click.option("--group-by", type=click.Choice(["file", "dir"]), default="file",
              show_default=True,
              help="file: each capture is one analysis; dir: the captures of a directory "
                   "are the sources of one capture set (its site.toml is the site map).")
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False),
              help="TOML manifest of [[group]] tables (name, files, site) instead.")
@click.option("--retry-failed", is_flag=True, help="Analyse again groups that failed before.")
@click.option("--flush-every", type=click.IntRange(1), default=64, show_default=True,
              help="Write a Parquet part every N analysed groups.")
@limit_option
def command(paths, out, workers, scheduler, group_by, manifest, retry_failed, flush_every):
    """Analyse every capture in PATHS (files, directories, globs) into a dataset.

    The dataset holds one folder per table (groups, sessions, link_sessions, findings,
    messages, problems) of Parquet parts, readable with
    `pandas.read_parquet("OUT/sessions")` or DuckDB. Groups already analysed (same
    content hash and chargescope version) are skipped, so an interrupted batch resumes;
    a capture that fails is recorded in `groups` with its error and the batch goes on.
    Changed --limit caps are part of that key: the groups are analysed again under them.
    """
    from chargescope.analyzer.batch import plan, run_batch
    from chargescope.analyzer.batch.plan import PlanError

    try:
        groups = plan(list(paths), group_by, manifest)
    except PlanError as exc:
        diag(f"chargescope batch: {exc}")
        sys.exit(EXIT_BAD_INPUT)
    started = time.perf_counter()

    def progress(report, todo: int) -> None:
        finished = report.analysed + report.failed
        elapsed = time.perf_counter() - started
        eta = (elapsed / finished * (todo - finished)) if finished else 0.0
        diag(f"batch: {finished}/{todo} analysed ({report.failed} failed), "
             f"{report.skipped} already done, ETA {eta:.0f} s")

    report = run_batch(groups, str(out), workers=workers, scheduler=scheduler,
                       flush_every=flush_every, retry_failed=retry_failed, progress=progress,
                       limits=current_limits())
    for group, error in report.failures:
        diag(f"failed: {group}: {error}")
    click.echo(f"{report.total} group(s): {report.analysed} analysed, {report.failed} failed, "
               f"{report.skipped} skipped (already in {out}) in {report.seconds:.1f} s")
    sys.exit(EXIT_OK)
