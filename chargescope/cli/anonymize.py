"""`chargescope anonymize`: rewrite captures so they can be shared."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import click

from chargescope.analyzer.analysis import UnreadableSource
from chargescope.analyzer.anonymize import Pseudonymizer, anonymize_files
from chargescope.analyzer.anonymize.run import KEEP_CHOICES, TEXT_SUFFIXES
from chargescope.analyzer.capture.model import NotACaptureError
from chargescope.cli.common import (
    CAPTURE_SUFFIXES,
    EXIT_BAD_INPUT,
    EXIT_OK,
    diag,
    emit_json,
    expand_captures,
)


@click.command("anonymize")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Output directory (default: the last PATH).")
@click.option("--key", help="Secret the pseudonyms derive from (default: random per run, "
                            "or the one in --map).")
@click.option("--map", "map_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Mapping file: read when it exists (same key, same pseudonyms as last "
                   "time), written after the run. Holds the key and original identifiers: "
                   "keep it private.")
@click.option("--anchors", "anchors_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the run's throwaway root certificates (PEM) here: the re-issued "
                   "certificate chains end at them, so `chargescope tls --trust-anchors "
                   "FILE` judges the output's chains as the real roots judged the input's.")
@click.option("--keep", multiple=True, type=click.Choice(KEEP_CHOICES),
              help="Leave this kind of data as it is; may repeat.")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
def command(paths, out_dir, key, map_file, anchors_file, keep, as_json):
    """Rewrite captures for sharing: consistent pseudonyms across every file of the run.

    PATHS are captures (or directories of them; a `site.toml` or log text beside them is
    rewritten too), then the output directory unless --out is given. Replaced, always
    with a value of the same length so every length and checksum stays valid: MAC and
    IP addresses (IPv4 prefix-preserving per octet), EVCCID, EVSEID, eMAID / contract
    ids, OCPP idTag / idToken / charge point id, OCPI token uids / party ids / session
    ids, Authorization headers, NMK and NID. Certificates are re-issued under a throwaway
    CA tree made for the run (same structure, key types, validity and extensions;
    subjects pseudonymised like everything else), and the xmldsig signatures of V2G
    messages made again with the new keys; a certificate that cannot be re-issued is
    replaced by a marker.
    """
    if out_dir is None:
        if len(paths) < 2:
            raise click.UsageError("give the output directory as the last PATH or with --out")
        *paths, out_dir = paths
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise click.UsageError(f"no such file or directory: {missing[0]}")
    inputs = expand_captures(tuple(paths), CAPTURE_SUFFIXES + TEXT_SUFFIXES)
    if any(p.resolve().parent == out_dir.resolve() for p in inputs):
        raise click.UsageError("the output directory must not be an input directory")
    pseudo = _pseudonymizer(key, map_file)
    try:
        report = anonymize_files(inputs, out_dir, pseudo, frozenset(keep), progress=diag)
    except (UnreadableSource, NotACaptureError, OSError) as exc:
        diag(f"chargescope anonymize: {exc}")
        sys.exit(EXIT_BAD_INPUT)
    if map_file:
        pseudo.save(map_file)
        diag(f"mapping written to {map_file} (private: it undoes the anonymisation)")
    if anchors_file:
        anchors_file.write_bytes(report.anchors)
        diag(f"throwaway trust anchors written to {anchors_file}")
    for subject, why in report.certificates_marked.items():
        diag(f"certificate {subject} replaced by a marker: {why}")
    if report.websocket_flows_lost:
        diag(f"warning: {report.websocket_flows_lost} WebSocket stream(s) could not be "
             "followed to the end; their later frames were rewritten without unmasking")
    if as_json:
        emit_json({"written": report.written, "frames": report.frames,
                   "identifiers": report.identifiers,
                   "certificates_reissued": report.certificates_reissued,
                   "certificates_marked": len(report.certificates_marked),
                   "signatures_resigned": report.signatures_resigned})
    else:
        for path in report.written:
            click.echo(str(path))
        diag(f"{report.frames} frames, {report.identifiers} identifiers replaced")
    sys.exit(EXIT_OK)


def _pseudonymizer(key: str | None, map_file: Path | None) -> Pseudonymizer:
    if map_file and map_file.exists():
        pseudo = Pseudonymizer.load(map_file)
        if key and hashlib.sha256(key.encode()).digest() != pseudo.key:
            raise click.UsageError("--key differs from the key stored in --map")
        return pseudo
    if key:
        return Pseudonymizer(hashlib.sha256(key.encode()).digest())
    return Pseudonymizer()
