"""Options and output helpers shared by every verb that reads captures."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_BAD_INPUT = 2


def capture_options(func: Callable) -> Callable:
    """The options every capture-reading verb takes, in one place."""
    options = [
        click.argument("captures", nargs=-1, required=True,
                       type=click.Path(exists=True, dir_okay=True, path_type=Path)),
        click.option("--json", "as_json", is_flag=True,
                     help="Machine-readable output: one JSON document on stdout."),
        click.option("--keylog", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     multiple=True, help="TLS key log file (NSS format); may repeat."),
        click.option("--site", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Site map (TOML) joining charger ids, EVSE ids and MACs."),
        click.option("--show-secrets", is_flag=True,
                     help="Show passwords, keys and tokens instead of masking them."),
        limit_option,
    ]
    for option in reversed(options):
        func = option(func)
    return func


def limit_option(func: Callable) -> Callable:
    """``--limit KEY=VALUE`` alone, for verbs that run the pipeline without
    `capture_options` (batch, live, tui); they read `current_limits()`."""
    return click.option("--limit", "limits", multiple=True, metavar="KEY=VALUE",
                        expose_value=False, callback=_store_limits,
                        help="Lower or raise a resource cap; may repeat. Hitting one is a "
                             "warning finding, never fatal. Sizes take KiB/MiB/GiB. "
                             "Defaults: " + _limit_defaults() + ".")(func)


LIMITS_KEY = "chargescope.limits"


def _limit_defaults() -> str:
    from chargescope.analyzer.limits import defaults_help

    return defaults_help()


def _store_limits(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> None:
    """Parse --limit into a `Limits` kept on the context (verbs read `current_limits()`)."""
    from chargescope.analyzer.limits import parse_limit_options

    try:
        ctx.meta[LIMITS_KEY] = parse_limit_options(values)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from exc


def current_limits():
    """The `Limits` of this command line (--limit options over the defaults)."""
    from chargescope.analyzer.limits import DEFAULT_LIMITS

    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(LIMITS_KEY, DEFAULT_LIMITS) if ctx is not None else DEFAULT_LIMITS


# ".dump": what tcpdump users (EVerest logfiles among them) name plain libpcap files
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".dump", ".pcap.gz", ".pcapng.gz", ".cap.gz")
# what `analyze` also picks up in a directory: CSMS logs, HAR exports, candump logs
SOURCE_SUFFIXES = CAPTURE_SUFFIXES + (".jsonl", ".ndjson", ".log", ".har", ".candump")


def expand_captures(paths: tuple[Path, ...], suffixes: tuple[str, ...] = CAPTURE_SUFFIXES
                    ) -> list[Path]:
    """Files as given; directories expanded to the files inside with `suffixes`, sorted."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*")
                              if p.is_file() and p.name.lower().endswith(suffixes)))
        else:
            out.append(path)
    return out


def emit_json(document: Any) -> None:
    json.dump(document, sys.stdout, indent=2, default=_json_default, ensure_ascii=False)
    sys.stdout.write("\n")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj).hex()
    if hasattr(obj, "__dataclass_fields__"):
        return {k: getattr(obj, k) for k in obj.__dataclass_fields__}
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)


def diag(text: str) -> None:
    """Progress and diagnostics: stderr, never into --json output."""
    click.echo(text, err=True)


def iso_time(ts_ns: int) -> str:
    """A capture timestamp as ISO 8601 UTC with milliseconds ('' for 0: no timestamp)."""
    if not ts_ns:
        return ""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts_ns / 1e9, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def problem_record(p) -> dict[str, Any]:
    """A Problem as the JSON record every verb prints."""
    return {"kind": p.kind, "detail": p.detail, "source": p.source, "frame": p.frame,
            "offset": p.offset, "where": p.where}
