"""The `chargescope` command line: one verb per job, same conventions everywhere.

Each verb lives in its own module under `chargescope.cli` and exposes a click
command named `command`; `COMMANDS` is the table of those modules, loaded explicitly
when the group is built. Exit status: 0 done, 1 error findings, 2 bad usage or
unreadable input.
"""

from __future__ import annotations

import importlib

import click

from chargescope import __version__, backends

# verb modules, in the order `--help` lists them
COMMANDS: tuple[str, ...] = (
    "analyze",
    "info",
    "frames",
    "slac",
    "v2g",
    "ocpp",
    "ocpi",
    "simulate",
    "tui",
    "batch",
    "triage",
)


def _version_text() -> str:
    lines = [f"chargescope {__version__}"]
    rep = backends.report()
    if rep:
        lines.append("hot paths:")
        lines.extend(f"  {name}: {impl}" for name, impl in rep.items())
    return "\n".join(lines)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(_version_text())
        ctx.exit(0)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_print_version, help="Show the version and which backends are active.")
def cli() -> None:
    """chargescope: protocol analyzer for EV charging sessions.

    Reads captures of the EV<->charger link (SLAC, ISO 15118 / DIN 70121), the
    charger<->CSMS link (OCPP) and the CPO<->EMSP link (OCPI) and joins them per
    charging session.
    """


for _name in COMMANDS:
    cli.add_command(importlib.import_module(f"chargescope.cli.{_name}").command)


def main() -> None:
    cli(prog_name="chargescope")
