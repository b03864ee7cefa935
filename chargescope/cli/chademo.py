"""`chargescope chademo CAPTURE|LOG...`: CHAdeMO sessions over CAN as ladders with verdicts."""

from __future__ import annotations

import signal
from pathlib import Path

import click

from chargescope.analyzer.capture import NotACaptureError
from chargescope.analyzer.chademo.analyze import analyze_recording
from chargescope.analyzer.chademo.canlog import NotACanRecording
from chargescope.analyzer.chademo.checks import ChademoCheckConfig
from chargescope.analyzer.chademo.live import run_live
from chargescope.analyzer.chademo.report import result_json, result_text
from chargescope.analyzer.chademo.simulate import (
    SCENARIOS,
    scenario,
    simulate,
    write_candump,
    write_pcap,
)
from chargescope.analyzer.live import StopRule
from chargescope.analyzer.live.socketcan import SocketCanCapture
from chargescope.analyzer.records import Severity
from chargescope.cli.common import (
    CAPTURE_SUFFIXES,
    EXIT_BAD_INPUT,
    EXIT_FINDINGS,
    EXIT_OK,
    diag,
    emit_json,
    expand_captures,
)
from chargescope.dissectors.chademo.versions import VERSION_NUMBERS

LOG_SUFFIXES = CAPTURE_SUFFIXES + (".log", ".candump", ".txt", ".csv", ".asc")


@click.command("chademo")
@click.argument("recordings", nargs=-1,
                type=click.Path(exists=True, dir_okay=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True,
              help="Machine-readable output: one JSON document on stdout.")
@click.option("--timeout-ms", type=int, default=1000, show_default=True,
              help="Gap of a periodic frame reported as a communication timeout.")
@click.option("--overshoot-a", type=int, default=10, show_default=True,
              help="Present current above the request by more than this is an overshoot.")
@click.option("--live", "live_iface", metavar="IFACE",
              help="Capture on a SocketCAN interface (can0, vcan0) instead of reading files; "
                   "Ctrl-C, --count or --duration ends it.")
@click.option("--write", "write_path", type=click.Path(dir_okay=False, path_type=Path),
              help="--live: also write every frame to this pcapng (LINKTYPE_CAN_SOCKETCAN).")
@click.option("--count", type=click.IntRange(min=1), help="--live: stop after this many frames.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True),
              help="--live: stop after this many seconds.")
@click.option("--simulate", "simulate_name", type=click.Choice(SCENARIOS),
              help="Write a simulated session to --out (pcap, or candump -l for .log) instead.")
@click.option("--protocol", type=click.Choice(sorted(VERSION_NUMBERS)), default="1.0",
              show_default=True, help="--simulate: CHAdeMO version both sides announce.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              help="--simulate: the recording to write.")
def command(recordings: tuple[Path, ...], as_json: bool, timeout_ms: int,
            overshoot_a: int, live_iface: str | None, write_path: Path | None,
            count: int | None, duration: float | None, simulate_name: str | None,
            protocol: str, out_path: Path | None) -> None:
    """CHAdeMO sessions (IEEE 2030.1.1) from SocketCAN pcaps or CAN logs (candump -l,
    candump ASCII, SavvyCAN CSV, CANDue) or a live SocketCAN interface: ladder, stop
    cause, verdict, findings. Fields are read for the protocol version both sides agree
    (0.9, 1.0, 2.0)."""
    config = ChademoCheckConfig(timeout_ns=timeout_ms * 1_000_000, overshoot_a=overshoot_a)
    if simulate_name:
        _simulate(simulate_name, protocol, out_path)
        raise SystemExit(EXIT_OK)
    if live_iface:
        results = [_live(live_iface, write_path, count, duration, config, as_json)]
        _emit(results, as_json)
    if not recordings:
        raise click.UsageError("give RECORDINGS, --live IFACE or --simulate SCENARIO")
    results = []
    named = {p for p in recordings if not p.is_dir()}
    for path in expand_captures(recordings, LOG_SUFFIXES):
        try:
            results.append(analyze_recording(path, config))
        except (NotACaptureError, NotACanRecording, OSError) as exc:
            diag(f"{path}: not readable as a CAN recording: {exc}")
            if path in named:  # a file found in a directory may be anything: skip it
                raise SystemExit(EXIT_BAD_INPUT) from exc
    _emit(results, as_json)


def _emit(results: list, as_json: bool) -> None:
    worst = max((f.severity for r in results for s in r.sessions for f in s.findings),
                default=None)
    if as_json:
        emit_json({"recordings": [result_json(r) for r in results]})
    else:
        for r in results:
            click.echo("\n".join(result_text(r)))
    raise SystemExit(EXIT_FINDINGS if worst == Severity.ERROR else EXIT_OK)


def _simulate(name: str, protocol: str, out_path: Path | None) -> None:
    if out_path is None:
        raise click.UsageError("--simulate needs --out PATH")
    frames = list(simulate(scenario(name, VERSION_NUMBERS[protocol])))
    if out_path.suffix in (".log", ".candump", ".txt"):
        write_candump(out_path, frames)
    else:
        write_pcap(out_path, frames)
    diag(f"{out_path}: {len(frames)} frames, scenario {name}, CHAdeMO {protocol}")


def _live(iface: str, write_path: Path | None, count: int | None, duration: float | None,
          config: ChademoCheckConfig, as_json: bool):
    capture = SocketCanCapture(iface, write=write_path, stop=StopRule(count, duration),
                               on_started=lambda: diag(f"listening on {iface}"))
    previous = signal.signal(signal.SIGINT, lambda _sig, _frame: capture.stop())
    try:
        with capture:
            result = run_live(capture, config, None if as_json else _echo)
    except OSError as exc:
        diag(f"chargescope chademo: cannot capture on {iface}: {exc}")
        raise SystemExit(EXIT_BAD_INPUT) from exc
    finally:
        signal.signal(signal.SIGINT, previous)
    if capture.error:
        diag(f"chargescope chademo: capture on {iface} ended: {capture.error}")
    return result


def _echo(message) -> None:
    flags = " !" if message.problems else ""
    click.echo(f"{message.ts_ns / 1e9:17.6f} {message.src:<8} {message.name}{flags}")


__all__ = ["command"]
