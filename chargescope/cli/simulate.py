"""`chargescope simulate SCENARIO... --out DIR`: consistent multi-link demo captures."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from chargescope.cli.common import EXIT_BAD_INPUT, diag, emit_json


def _catalogue_lines() -> list[str]:
    from chargescope.analyzer.simulate.scenarios import SCENARIOS

    width = max(len(name) for name in SCENARIOS)
    return [f"{s.name:<{width}}  {s.protocol:<5} {s.charge.mode} {s.payment:<3} {s.ocpp:<9}  "
            f"{s.summary}" for s in SCENARIOS.values()]


@click.command("simulate")
@click.argument("scenarios", nargs=-1)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("."), show_default=True, help="Directory for the capture files.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed for ids, jitter and keys; the same seed gives identical bytes.")
@click.option("--list", "show_list", is_flag=True, help="List the scenario catalogue.")
@click.option("--json", "as_json", is_flag=True,
              help="Machine-readable output: files written and expected findings.")
def command(scenarios: tuple[str, ...], out_dir: Path, seed: int, show_list: bool,
            as_json: bool) -> None:
    """Write consistent captures of links A, B and C for catalogue SCENARIOs (or `all`).

    One file per capture source (PLC sniffer, CSMS, OCPI gateway), each with its own
    clock offset, and `site.toml`, the site map joining charger identities;
    `expected_findings` is what `chargescope analyze --site site.toml` must report.
    """
    from chargescope.analyzer.simulate.encoders import EncoderMissing
    from chargescope.analyzer.simulate.render import render, site_map
    from chargescope.analyzer.simulate.scenarios import SCENARIOS

    if show_list:
        if as_json:
            emit_json([{"name": s.name, "summary": s.summary, "protocol": s.protocol,
                        "mode": s.charge.mode, "payment": s.payment, "ocpp": s.ocpp,
                        "expected_findings": sorted(s.expected_findings)}
                       for s in SCENARIOS.values()])
        else:
            click.echo("\n".join(_catalogue_lines()))
        return
    if not scenarios:
        diag("simulate: name at least one scenario (or `all`); see --list")
        sys.exit(EXIT_BAD_INPUT)
    names = list(SCENARIOS) if "all" in scenarios else list(dict.fromkeys(scenarios))
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        diag(f"simulate: unknown scenario(s): {', '.join(unknown)}; known: "
             f"{', '.join(SCENARIOS)}")
        sys.exit(EXIT_BAD_INPUT)
    report = []
    for name in names:
        scenario = SCENARIOS[name]
        try:
            paths = render(scenario, out_dir, seed=seed)
        except EncoderMissing as exc:
            diag(f"simulate: cannot render {name}: {exc}")
            sys.exit(EXIT_BAD_INPUT)
        report.append({"scenario": name, "files": [str(p) for p in paths],
                       "expected_findings": sorted(scenario.expected_findings)})
        if not as_json:
            diag(f"{name}: {len(paths)} file(s)")
            for path in paths:
                click.echo(f"{path}  ({path.stat().st_size} bytes)")
    site = out_dir / "site.toml"
    site.write_text(site_map([SCENARIOS[name] for name in names]), encoding="utf-8")
    if as_json:
        emit_json({"scenarios": report, "site_map": str(site)})
    else:
        click.echo(f"{site}  (site map: chargescope analyze --site {site} ...)")
