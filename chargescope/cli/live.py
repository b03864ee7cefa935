"""`chargescope live`: capture from an interface, write pcapng as it goes, analyse."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click

from chargescope.analyzer.correlate import SiteMap, SiteMapError
from chargescope.analyzer.live import StopRule
from chargescope.analyzer.live.incremental import LiveAnalysis, Snapshotter
from chargescope.analyzer.live.plc import (
    NMK_LEN,
    QCA_LOCAL,
    PlcJoiner,
    interface_mac,
    raw_sender,
    sniffer_request,
)
from chargescope.analyzer.live.socketcan import open_live_capture
from chargescope.analyzer.pipeline import Pipeline
from chargescope.analyzer.records import Message, Problem, Severity
from chargescope.analyzer.report import render_json, render_text
from chargescope.analyzer.tls.sources import load_key_logs
from chargescope.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FINDINGS,
    EXIT_OK,
    current_limits,
    diag,
    emit_json,
    limit_option,
)


@click.command("live")
@click.option("--iface", required=True, help="Interface to capture on (needs root or "
                                            "CAP_NET_RAW).")
@click.option("--write", "write_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write every frame to this pcapng file, flushed frame by frame.")
@click.option("--ring-size", type=click.FloatRange(min=0, min_open=True),
              help="Ring buffer: start a new --write file past this many MB "
                   "(older ones become FILE.1, FILE.2, ...).")
@click.option("--ring-files", type=click.IntRange(min=1), default=4, show_default=True,
              help="Ring buffer: how many files to keep.")
@click.option("--analyze", "run_analysis", is_flag=True,
              help="Judge the sessions as frames arrive (new findings and session changes "
                   "as 'live:' lines) and when the capture ends, as `analyze` does.")
@click.option("--update", type=click.FloatRange(min=0, min_open=True), default=2.0,
              show_default=True,
              help="With --analyze: seconds between two looks at the sessions so far.")
@click.option("--backend", metavar="ENGINE", default="auto", show_default=True,
              help="Capture engine: dumpcap (Wireshark's, from the tshark package; "
                   "pcapng through a pipe), scapy, socketcan (CAN interfaces) or one a "
                   "plugin adds (`chargescope plugins`); auto takes SocketCAN for a CAN "
                   "interface, else dumpcap when installed, else scapy.")
@click.option("--keylog", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              multiple=True, help="TLS key log file (NSS format) to decrypt with; may repeat "
                                  "(key log lines sent in-band are used anyway).")
@click.option("--filter", "bpf", help="BPF capture filter (e.g. 'not port 22').")
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many frames.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True),
              help="Stop after this many seconds.")
@click.option("--idle", type=click.FloatRange(min=0, min_open=True),
              help="Stop after this many seconds without a frame (once one arrived).")
@click.option("--site", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Site map (TOML) joining charger ids, EVSE ids and MACs.")
@click.option("--plc-join", is_flag=True,
              help="PLC sniffer dongle: on each CM_SLAC_MATCH.CNF seen, send CM_SET_KEY.REQ "
                   "so the local modem joins that EV-EVSE network (the NMK is never shown).")
@click.option("--nmk", help="PLC: join the network of this NMK (32 hex digits) at start.")
@click.option("--sniffer", type=click.Choice(["on", "off"]),
              help="PLC: switch the local Qualcomm modem's sniffer mode (VS_SNIFFER.REQ).")
@click.option("--modem", default=QCA_LOCAL, show_default=True,
              help="PLC: MAC the management frames go to (the local modem).")
@click.option("--json", "as_json", is_flag=True,
              help="At the end, one JSON document (messages, and the analysis with "
                   "--analyze) instead of running text.")
@limit_option
def command(iface, write_path, ring_size, ring_files, run_analysis, update, backend, keylog,
            bpf, count,
            duration, idle, site, plc_join, nmk, sniffer, modem, as_json):
    """Capture on IFACE and decode as frames arrive: one line per message (SLAC, SDP,
    V2G, OCPP, OCPI; CHAdeMO on a SocketCAN interface such as can0) while capturing;
    Ctrl-C, --count, --duration or --idle ends it. With --analyze, "live:" lines name
    sessions and findings as they appear (a finding once two looks --update seconds
    apart agree, withdrawn if later messages resolve it; a verdict only the capture's
    end "now" decided says "so far") and, at the end, the report
    follows exactly as `chargescope analyze` of the written file gives it. The capture
    engine is dumpcap when installed (else scapy). Exit status: 0 done, 1 error
    findings, 2 the
    interface cannot be captured on."""
    try:
        site_map = SiteMap.load(site) if site else None
    except SiteMapError as exc:
        diag(f"chargescope live: {exc}")
        sys.exit(EXIT_BAD_INPUT)
    seen: list[Message] = []

    def on_item(item: Message | Problem) -> None:
        if isinstance(item, Problem):
            if not as_json:
                diag(f"problem: {item.kind}: {item.detail}")
            return
        seen.append(item)
        if not as_json:
            click.echo(_line(item))

    live = LiveAnalysis(iface, site_map)
    snapshots = None
    if run_analysis and not as_json:
        snapshots = Snapshotter(live, lambda changes, _analysis: _echo_lines(changes.lines()),
                                interval_s=update)
    joiner = _plc_setup(iface, modem, plc_join, nmk, sniffer)
    try:  # a CAN interface (can0, vcan0) is read through SocketCAN unless --backend says
        capture = open_live_capture(iface, write=write_path, bpf=bpf,
                                    stop=StopRule(count, duration, idle),
                                    on_started=lambda: diag(f"listening on {iface}"),
                                    on_frame=joiner.on_frame if joiner and plc_join else None,
                                    on_idle=snapshots.poll if snapshots else None,
                                    ring_bytes=int(ring_size * 1_000_000) if ring_size else None,
                                    ring_files=ring_files, backend=backend)
    except ValueError as exc:
        diag(f"chargescope live: {exc}")
        sys.exit(EXIT_BAD_INPUT)
    # Ctrl-C ends the capture, not the program: the analysis of what came still runs
    previous = signal.signal(signal.SIGINT, lambda _sig, _frame: capture.stop())
    try:
        with capture:
            for item in Pipeline(keylog=load_key_logs(keylog),
                                 limits=current_limits()).run(capture.frames()):
                on_item(item)
                live.add(item)
                if snapshots is not None:
                    snapshots.poll()
    except (OSError, ValueError) as exc:
        diag(f"chargescope live: cannot capture on {iface}: {exc}")
        sys.exit(EXIT_BAD_INPUT)
    finally:
        signal.signal(signal.SIGINT, previous)
    if capture.error:
        diag(f"chargescope live: cannot capture on {iface}: {capture.error}")
        sys.exit(EXIT_BAD_INPUT)
    diag(f"{capture.frames_seen} frames, {len(seen)} messages"
         + (f", written to {write_path}" if write_path else ""))
    doc: dict = {"interface": iface, "frames": capture.frames_seen,
                 "messages": [{"link": str(m.link), "protocol": m.protocol, "name": m.name,
                               "ts_ns": m.ts_ns, "src": m.src, "dst": m.dst} for m in seen]}
    errors = False
    if run_analysis:
        result = live.snapshot()  # the capture has ended: this is the final analysis
        errors = any(f.severity is Severity.ERROR for f in result.findings)
        if as_json:
            doc["analysis"] = render_json(result.correlation, result.link_findings)
        else:
            click.echo(render_text(result.correlation, other_findings=result.link_findings))
    if as_json:
        emit_json(doc)
    sys.exit(EXIT_FINDINGS if errors else EXIT_OK)


def _plc_setup(iface: str, modem: str, plc_join: bool, nmk: str | None,
               sniffer: str | None) -> PlcJoiner | None:
    """Send what the PLC options ask for before capturing; the joiner for --plc-join."""
    if not (plc_join or nmk or sniffer):
        return None
    key = None
    if nmk:
        try:
            key = bytes.fromhex(nmk)
        except ValueError:
            key = b""
        if len(key) != NMK_LEN:
            raise click.BadParameter("32 hex digits (16 octets)", param_hint="--nmk")
    try:
        send = raw_sender(iface)
    except OSError as exc:
        diag(f"chargescope live: cannot send on {iface}: {exc}")
        sys.exit(EXIT_BAD_INPUT)
    host = interface_mac(iface)
    joiner = PlcJoiner(host, send, diag, modem)
    if sniffer:
        send(sniffer_request(host, sniffer == "on", modem))
        diag(f"plc: VS_SNIFFER.REQ ({sniffer}) sent to {modem}")
    if key is not None:
        joiner.join(key)
    return joiner


def _echo_lines(lines: list[str]) -> None:
    for line in lines:
        click.echo(line)
    sys.stdout.flush()  # a pipe would otherwise hold them until the capture ends


def _line(message: Message) -> str:
    seconds = message.ts_ns / 1e9
    flag = " !" if message.problems else ""
    return (f"{seconds:17.6f} {message.link} {message.protocol:<9} {message.name:<32} "
            f"{message.src} -> {message.dst}{flag}")
