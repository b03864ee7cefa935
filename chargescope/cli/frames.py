"""`chargescope frames CAPTURE...`: one line per frame, like tshark's summary lines."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import click

from chargescope import backends
from chargescope.analyzer.capture import NotACaptureError, merge_frames, open_capture
from chargescope.analyzer.capture.census import addresses, info_of, protocol_of
from chargescope.analyzer.net import Packet
from chargescope.analyzer.records import Frame
from chargescope.cli.common import EXIT_BAD_INPUT, capture_options, diag, expand_captures


def columns(frame: Frame, decode: Callable[[Frame], Packet]) -> tuple[str, str, str, str]:
    """(source, destination, protocol, info) of a frame, from its link/IP/transport decode."""
    packet = decode(frame)
    src, dst = addresses(packet)
    return src, dst, protocol_of(packet), info_of(packet)


def frame_record(frame: Frame, t0: int, with_file: bool,
                 decode: Callable[[Frame], Packet]) -> dict:
    src, dst, protocol, info = columns(frame, decode)
    record = {"number": frame.number, "time": (frame.ts_ns - t0) / 1e9, "ts_ns": frame.ts_ns,
              "src": src, "dst": dst, "protocol": protocol, "length": frame.wirelen,
              "caplen": len(frame.data), "interface": frame.interface, "info": info}
    if with_file:
        record["file"] = frame.source
    return record


def frame_line(record: dict, with_file: bool) -> str:
    where = f"{Path(record['file']).name}:" if with_file else ""
    src = record["src"] or "-"
    dst = record["dst"] or "-"
    return (f"{where}{record['number']:>6} {record['time']:>14.9f} {src:>17} → {dst:<17} "
            f"{record['protocol']:<10} {record['length']:>5} {record['info']}").rstrip()


@click.command("frames")
@capture_options
@click.option("-c", "--count", type=int, default=0, help="Stop after this many frames.")
@click.pass_context
def command(ctx: click.Context, captures: tuple[Path, ...], as_json: bool,
            keylog: tuple[Path, ...], site: Path | None, show_secrets: bool, count: int) -> None:
    """One line per frame: number, relative time, source, destination, protocol, length, info.

    Several captures are merged in timestamp order (each frame keeps the number it has
    in its own file; the file is named in front). Times are relative to the first frame.
    Problems in the files go to stderr (in --json output: a "problems" list).
    """
    paths = expand_captures(captures)
    if not paths:
        diag("frames: no capture files found")
        ctx.exit(EXIT_BAD_INPUT)
    with ExitStack() as stack:
        try:
            caps = [stack.enter_context(open_capture(p, convert=True)) for p in paths]
        except (NotACaptureError, OSError) as exc:
            diag(f"frames: {exc}")
            ctx.exit(EXIT_BAD_INPUT)
        with_file = len(caps) > 1
        decode = backends.load("netdecode").decode
        out = sys.stdout
        if as_json:
            out.write('{"frames": [')
        t0: int | None = None
        shown = 0
        for frame in merge_frames(caps):
            if t0 is None:
                t0 = frame.ts_ns
            record = frame_record(frame, t0, with_file, decode)
            if as_json:
                out.write(("\n  " if not shown else ",\n  ") + json.dumps(record))
            else:
                out.write(frame_line(record, with_file) + "\n")
            shown += 1
            if count and shown >= count:
                break
        problems = [p for cap in caps for p in cap.problems]
        if as_json:
            out.write("\n],\n\"problems\": " + json.dumps(
                [{"kind": p.kind, "detail": p.detail, "source": p.source, "frame": p.frame,
                  "offset": p.offset} for p in problems]) + "}\n")
        else:
            for p in problems:
                diag(str(p))
