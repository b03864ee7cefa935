"""`chargescope info CAPTURE...`: what is in capture files (like capinfos)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from chargescope.analyzer.accounting import StreamTotals, identity_text
from chargescope.analyzer.capture.linktypes import linktype_name
from chargescope.analyzer.capture.model import NotACaptureError
from chargescope.analyzer.capture.summary import CaptureSummary, summarize
from chargescope.cli.common import (
    EXIT_BAD_INPUT,
    capture_options,
    current_limits,
    diag,
    emit_json,
    expand_captures,
)


def utc_text(ts_ns: int | None) -> str:
    if ts_ns is None:
        return "-"
    sec, ns = divmod(ts_ns, 1_000_000_000)
    try:
        stamp = dt.datetime.fromtimestamp(sec, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return f"{ts_ns} ns"
    return f"{stamp}.{ns:09d} UTC"


def resolution_text(units: int) -> str:
    exact = {10 ** 9: "ns", 10 ** 6: "µs", 10 ** 3: "ms", 1: "s"}
    return exact.get(units, f"1/{units} s")


# the protocols of interest first, in this order; then the layers
PROTOCOL_ORDER = ("homeplug", "udp-15118", "tcp-15118", "v2gtp", "websocket-upgrade", "http",
                  "tls", "ipv4", "ipv6", "tcp", "udp", "ip-fragment", "vlan", "decoded",
                  "malformed", "out-of-scope")


def protocols_text(counts: dict[str, int]) -> str:
    keys = [k for k in PROTOCOL_ORDER if counts.get(k)] + sorted(
        k for k in counts if k not in PROTOCOL_ORDER and counts[k])
    return ", ".join(f"{k} {counts[k]}" for k in keys)


def stream_accounting(path: Path, keylog: tuple[Path, ...] = (), limits=None
                      ) -> dict[str, StreamTotals]:
    """Run the whole pipeline (every dissector) over one capture: the byte identity of
    its reassembled streams per stream kind (analyzer/accounting.py)."""
    from chargescope.analyzer.capture import open_capture
    from chargescope.analyzer.limits import DEFAULT_LIMITS
    from chargescope.analyzer.pipeline import Pipeline
    from chargescope.analyzer.tls.sources import frames_with_secrets, load_key_logs

    keys = load_key_logs(keylog)
    with open_capture(path) as capture:
        pipeline = Pipeline(keylog=keys, limits=limits or DEFAULT_LIMITS)
        for _ in pipeline.run(frames_with_secrets(capture, keys)):
            pass
    return dict(sorted(pipeline.stats.streams.items()))


def summary_text(s: CaptureSummary, streams: dict[str, StreamTotals] | None = None) -> str:
    fmt = s.format + (f" {s.version}" if s.version else "")
    if s.compressed:
        fmt += ", gzip-compressed"
    if s.format == "pcapng":
        fmt += f", {s.sections} section{'s' if s.sections != 1 else ''}"
    lines = [f"File name:          {s.path}", f"File format:        {fmt}"]
    for i in s.interfaces:
        label = f"#{i.index}" + (f" {i.name}" if i.name else "")
        extra = f", section {i.section}" if s.sections > 1 else ""
        offset = f", ts offset {i.tsoffset} s" if i.tsoffset else ""
        lines.append(f"Interface:          {label}: {linktype_name(i.linktype)} ({i.linktype}), "
                     f"snaplen {i.snaplen}, timestamps in {resolution_text(i.tsresol)}{offset}"
                     f"{extra}, {s.per_interface.get(i.index, 0)} frames")
    lines += [
        f"Frames:             {s.frames}",
        f"Data size:          {s.bytes} bytes",
        f"Truncated frames:   {s.truncated} (captured shorter than on the wire)",
        f"Malformed records:  {s.malformed}",
        f"First frame:        {utc_text(s.first_ts_ns)}",
        f"Last frame:         {utc_text(s.last_ts_ns)}",
        f"Duration:           {s.duration_ns / 1e9:.9f} s",
    ]
    if s.protocols:
        lines.append("Protocols:          " + protocols_text(s.protocols))
        a = accounting(s)
        lines.append(f"Frame accounting:   {a['read']} read = {a['decoded']} decoded + "
                     f"{a['malformed']} malformed + {a['out_of_scope']} out of scope")
    if streams:
        lines.append("Stream accounting:  bytes = consumed + undecodable + gap, per stream kind")
        lines.extend(f"  {identity_text(kind, row)}" for kind, row in streams.items())
    if s.secrets:
        lines.append("Decryption secrets: " + ", ".join(f"{name} ({size} bytes)"
                                                        for name, size in s.secrets))
    if s.names:
        lines.append(f"Name resolutions:   {s.names}")
    if s.skipped_blocks:
        lines.append(f"Skipped blocks:     {s.skipped_blocks} (custom or unknown pcapng blocks)")
    lines.append(f"Problems:           {len(s.problems) or 'none'}")
    lines.extend(f"  {p.kind} (frame {p.frame}, offset {p.offset}): {p.detail}"
                 for p in s.problems)
    return "\n".join(lines)


def accounting(s: CaptureSummary) -> dict[str, int]:
    """Every frame read is decoded, malformed or out of scope (the net decode's status)."""
    return {"read": s.frames, "decoded": s.protocols.get("decoded", 0),
            "malformed": s.protocols.get("malformed", 0),
            "out_of_scope": s.protocols.get("out-of-scope", 0)}


def summary_json(s: CaptureSummary, streams: dict[str, StreamTotals] | None = None) -> dict:
    return {
        "path": s.path, "format": s.format, "compressed": s.compressed, "version": s.version,
        "sections": s.sections,
        "interfaces": [{"index": i.index, "linktype": i.linktype,
                        "linktype_name": linktype_name(i.linktype), "snaplen": i.snaplen,
                        "name": i.name, "tsresol": i.tsresol, "tsoffset": i.tsoffset,
                        "section": i.section, "frames": s.per_interface.get(i.index, 0)}
                       for i in s.interfaces],
        "frames": s.frames, "bytes": s.bytes, "truncated": s.truncated,
        "malformed": s.malformed, "first_ts_ns": s.first_ts_ns, "last_ts_ns": s.last_ts_ns,
        "duration_ns": s.duration_ns,
        "secrets": [{"type": name, "bytes": size} for name, size in s.secrets],
        "names": s.names, "skipped_blocks": s.skipped_blocks, "protocols": s.protocols,
        **({"accounting": accounting(s)} if s.protocols else {}),
        **({"stream_accounting": {k: {**v.as_dict(), "balanced": v.balanced}
                                  for k, v in streams.items()}} if streams is not None else {}),
        "problems": [{"kind": p.kind, "detail": p.detail, "frame": p.frame, "offset": p.offset}
                     for p in s.problems],
    }


@click.command("info")
@capture_options
@click.pass_context
def command(ctx: click.Context, captures: tuple[Path, ...], as_json: bool,
            keylog: tuple[Path, ...], site: Path | None, show_secrets: bool) -> None:
    """What is in capture files: format, interfaces, counts, time span, problems.

    Like capinfos. Reads pcap and pcapng, gzip-compressed or not; other formats Wireshark
    knows are read through tshark when it is installed. Directories are searched for
    capture files. Exit status 2 when a file is not a capture (the others are still
    shown).
    """
    paths = expand_captures(captures)
    if not paths:
        diag("info: no capture files found")
        ctx.exit(EXIT_BAD_INPUT)
    summaries: list[tuple[CaptureSummary, dict[str, StreamTotals] | None]] = []
    unreadable = 0
    for path in paths:
        try:
            summary = summarize(path, convert=True)
        except (NotACaptureError, OSError) as exc:
            diag(f"info: {exc}")
            unreadable += 1
            continue
        try:  # converted formats (tshark) are summarised but not dissected here
            streams = stream_accounting(path, keylog, current_limits())
        except NotACaptureError:
            streams = None
        summaries.append((summary, streams))
    if as_json:
        emit_json({"captures": [summary_json(s, st) for s, st in summaries]})
    elif summaries:
        click.echo("\n\n".join(summary_text(s, st) for s, st in summaries))
    if unreadable:
        ctx.exit(EXIT_BAD_INPUT)
