"""`chargescope tui`: the Textual interface."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from chargescope.cli.common import (
    EXIT_BAD_INPUT,
    SOURCE_SUFFIXES,
    current_limits,
    diag,
    expand_captures,
    limit_option,
)


@click.command("tui")
@click.argument("captures", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--site", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Site map (TOML) joining charger ids, EVSE ids and MACs.")
@click.option("--live", "iface", metavar="IFACE",
              help="Capture on this interface instead (root or CAP_NET_RAW): sessions, "
                   "messages and findings appear as frames arrive.")
@click.option("--write", "write_path", type=click.Path(dir_okay=False, path_type=Path),
              help="With --live: also write every frame to this pcapng file.")
@click.option("--backend", metavar="ENGINE", default="auto", show_default=True,
              help="With --live: the capture engine (as `live --backend`).")
@click.option("--filter", "bpf", help="With --live: BPF capture filter.")
@click.option("--keylog", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              multiple=True, help="With --live: TLS key log file (NSS format); may repeat.")
@limit_option
def command(captures: tuple[Path, ...], site: Path | None, iface: str | None,
            write_path: Path | None, backend: str, bpf: str | None,
            keylog: tuple[Path, ...]) -> None:
    """Open captures (and logs, HAR files, directories) in the interactive interface.

    With --live IFACE the interface is captured and analysed as frames arrive.

    Sessions list with verdicts, a cross-link swimlane per session, a message list
    with a display filter, the decoded tree and the frame's bytes, findings (Enter
    jumps to the evidence) and plots. Press ? inside for the keys.
    """
    from chargescope.cli.analyze import discover_site_map
    from chargescope.tui.app import ChargescopeApp

    if iface:
        from chargescope.analyzer.live.socketcan import open_live_capture

        if captures:
            raise click.UsageError("give captures or --live IFACE, not both")
        try:  # SocketCAN for a CAN interface, as `live` does
            capture = open_live_capture(iface, write=write_path, bpf=bpf, backend=backend)
        except ValueError as exc:
            diag(f"chargescope tui: {exc}")
            sys.exit(EXIT_BAD_INPUT)
        ChargescopeApp([write_path] if write_path else [], site, live=capture,
                       keylog_files=keylog, limits=current_limits()).run()
        return
    if not captures:
        raise click.UsageError("give capture files (or --live IFACE)")
    paths = expand_captures(captures, SOURCE_SUFFIXES)
    if not paths:
        diag("chargescope tui: no capture files found")
        sys.exit(EXIT_BAD_INPUT)
    ChargescopeApp(paths, site or discover_site_map(captures), freeze_gc=True,
                   limits=current_limits()).run()
