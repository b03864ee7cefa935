"""Snapshot what `analyze` produces, to prove a speed change left every output alone.

    python tools/analysis_snapshot.py OUT TARGET...      # write OUT/<n>-<name>.*
    python tools/analysis_snapshot.py --compare OLD NEW  # exit 1 when any file differs

A TARGET is a capture file or a directory (its `site.toml` is used, as the CLI does), or
`each:DIR` for every capture under DIR analysed on its own. For each analysis it keeps:
`chargescope analyze --json` and the text report (byte for byte, through the CLI), and
the sha256 of the `repr` of every link session (with its messages), every charging session,
every loose link finding and every kept message, in order (what the TUI and exports read).

Run it before and after a change, with the same PYTHONHASHSEED, on the same paths.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path


def _targets(specs: list[str]) -> list[Path]:
    from chargescope.cli.common import SOURCE_SUFFIXES, expand_captures

    out: list[Path] = []
    for spec in specs:
        if spec.startswith("each:"):
            out.extend(expand_captures((Path(spec[5:]),), SOURCE_SUFFIXES))
        else:
            out.append(Path(spec))
    return out


def _cli(args: list[str]) -> tuple[int, str]:
    from click.testing import CliRunner

    from chargescope.cli import cli

    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result.exit_code, result.stdout


def _digest(target: Path) -> str:
    from chargescope.analyzer.analysis import analyze
    from chargescope.analyzer.correlate import SiteMap
    from chargescope.cli.analyze import discover_site_map
    from chargescope.cli.common import SOURCE_SUFFIXES, expand_captures

    site_path = discover_site_map((target,))
    site = SiteMap.load(site_path) if site_path else None
    paths = expand_captures((target,), SOURCE_SUFFIXES)
    analysis = analyze(paths, site, keep_messages=True)
    lines = []
    for name, items in (("link_sessions", analysis.link_sessions),
                        ("sessions", analysis.sessions),
                        ("link_findings", analysis.link_findings),
                        ("messages", analysis.messages),
                        ("problems", analysis.problems),
                        ("sources", analysis.sources)):
        h = hashlib.sha256()
        for item in items:
            h.update(repr(item).encode())
            h.update(b"\n")
        lines.append(f"{name} {len(items)} {h.hexdigest()}")
    return "\n".join(lines) + "\n"


def snapshot(out: Path, specs: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for n, target in enumerate(_targets(specs)):
        stem = f"{n:03d}-{target.name}"
        code, doc = _cli(["analyze", "--json", str(target)])
        (out / f"{stem}.json").write_text(f"exit {code}\n{doc}")
        code, text = _cli(["analyze", str(target)])
        (out / f"{stem}.txt").write_text(f"exit {code}\n{text}")
        (out / f"{stem}.repr").write_text(_digest(target))
        print(stem, file=sys.stderr)


def compare(old: Path, new: Path) -> int:
    names = sorted({p.name for p in old.iterdir()} | {p.name for p in new.iterdir()})
    differ = [n for n in names
              if not (old / n).is_file() or not (new / n).is_file()
              or (old / n).read_bytes() != (new / n).read_bytes()]
    for name in differ:
        print(f"differs: {name}")
    print(f"{len(names) - len(differ)} identical, {len(differ)} differ")
    return 1 if differ else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("OLD", "NEW"))
    ap.add_argument("out", nargs="?", type=Path)
    ap.add_argument("targets", nargs="*")
    args = ap.parse_args()
    if args.compare:
        sys.exit(compare(*args.compare))
    if args.out is None or not args.targets:
        ap.error("give OUT and at least one TARGET")
    if os.environ.get("PYTHONHASHSEED") != "0":  # set iteration order must match run to run
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    snapshot(args.out, args.targets)


if __name__ == "__main__":
    main()
