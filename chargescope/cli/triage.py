"""`chargescope triage`: the EV × charger matrix of a batch dataset."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("triage")
@click.argument("dataset", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the matrix as CSV.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the matrix and the top findings as an HTML page.")
@click.option("--top", type=click.IntRange(1), default=10, show_default=True,
              help="How many findings to list.")
def command(dataset, csv_path, html_path, top):
    """EV (vendor from the MAC/EVCCID OUI) × charger (BootNotification vendor/model, else
    SECC MAC OUI): sessions, success rate and the most common failure per cell, then the
    most frequent findings of the whole dataset."""
    from chargescope.analyzer.batch import triage

    matrix, findings = triage(dataset)
    findings = findings.head(top)
    if matrix.empty:
        click.echo("no sessions in the dataset")
    else:
        shown = matrix.assign(success_rate=(matrix["success_rate"] * 100).round(0)
                              .astype(int).astype(str) + "%")
        click.echo(shown.to_string(index=False))
    if not findings.empty:
        click.echo("\ntop findings:")
        click.echo(findings.to_string(index=False))
    if csv_path:
        matrix.to_csv(csv_path, index=False)
    if html_path:
        html_path.write_text(
            "<html><head><meta charset='utf-8'><title>chargescope triage</title></head><body>"
            f"<h1>EV × charger</h1>{matrix.to_html(index=False)}"
            f"<h2>Top findings</h2>{findings.to_html(index=False)}</body></html>",
            encoding="utf-8")
