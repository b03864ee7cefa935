"""`chargescope plugins`: which plugins are loaded, from where, and which failed."""

from __future__ import annotations

import sys

import click

from chargescope.cli.common import EXIT_FINDINGS, EXIT_OK, emit_json
from chargescope.plugins import DISABLE_ENV, GROUPS, installed


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def command(as_json):
    """List installed plugins (entry points in the chargescope.plugins group) and what
    each added: frame/stream handoffs, finding codes, link analyzers, capture engines.
    A plugin that failed to load is listed with the reason and skipped by every other
    verb; exit status 1 when any failed."""
    registry = installed()
    if as_json:
        emit_json({"groups": GROUPS, "loaded": registry.loaded, "failed": registry.failed})
    else:
        if not registry.loaded and not registry.failed:
            click.echo(f"no plugins installed (entry point groups: {', '.join(GROUPS)}; "
                       f"{DISABLE_ENV}=1 disables loading)")
        for info in registry.loaded:
            click.echo(f"{info.name}  {info.value}  [{info.distribution or 'unknown'}]")
            for what in info.added:
                click.echo(f"    {what}")
        for info in registry.failed:
            click.echo(f"FAILED {info.name}  {info.value}  [{info.distribution or 'unknown'}]: "
                       f"{info.error}")
    sys.exit(EXIT_FINDINGS if registry.failed else EXIT_OK)
