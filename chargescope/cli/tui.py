"""`chargescope tui`: the Textual interface."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from chargescope.cli.common import EXIT_BAD_INPUT, SOURCE_SUFFIXES, diag, expand_captures


@click.command("tui")
@click.argument("captures", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("--site", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Site map (TOML) joining charger ids, EVSE ids and MACs.")
def command(captures: tuple[Path, ...], site: Path | None) -> None:
    """Open captures (and logs, HAR files, directories) in the interactive interface.

    Sessions list with verdicts, a cross-link swimlane per session, a message list
    with a display filter, the decoded tree and the frame's bytes, findings (Enter
    jumps to the evidence) and plots. Press ? inside for the keys.
    """
    from chargescope.cli.analyze import discover_site_map
    from chargescope.tui.app import ChargescopeApp

    paths = expand_captures(captures, SOURCE_SUFFIXES)
    if not paths:
        diag("chargescope tui: no capture files found")
        sys.exit(EXIT_BAD_INPUT)
    ChargescopeApp(paths, site or discover_site_map(captures), freeze_gc=True).run()
