"""`chargescope ocpp CAPTURE|LOG...`: charge points, transactions and findings of link B."""

from __future__ import annotations

import fnmatch
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from chargescope.analyzer.ocpp import OcppAnalyzer, OcppReport
from chargescope.analyzer.ocpp.logs import is_log_file, read_log
from chargescope.analyzer.records import Finding, Message, Problem, Severity
from chargescope.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FINDINGS,
    EXIT_OK,
    capture_options,
    current_limits,
    diag,
    emit_json,
    expand_captures,
    iso_time,
    problem_record,
)
from chargescope.dissectors.websocket.deflate import DEFAULT_MAX_MESSAGE
from chargescope.dissectors.websocket.stream import WebSocketOptions

HELP = """Decode OCPP-J (1.6, 2.0.1, 2.1) over WebSocket from captures or CSMS/charger logs:
per charge point the boot data, connections, connector/EVSE status timeline,
transactions and findings (schema violations, CALLERRORs, unanswered calls, ...).

\b
CAPTURE: pcap/pcapng (optionally .gz); WebSocket is found by its HTTP upgrade or,
for captures that start mid-connection, by its frames; permessage-deflate is
decoded. TLS (wss://) needs --keylog once TLS decryption is available.

\b
LOG (recognised by .jsonl/.ndjson/.log/.txt/.json or by not being a capture):
  * JSON lines: {"timestamp": "2024-05-01T10:00:00.123Z", "direction": "cp->csms",
    "charge_point_id": "CP1", "message": [2,"42","Heartbeat",{}]}
    (also: ts/time/@timestamp, epoch s or ms; in/out, rx/tx, received/sent seen
    from --log-side; chargePointId/chargeBoxId/station/identity; msg/frame/payload,
    as array or JSON text)
  * a JSON array of such objects or of bare OCPP-J arrays
  * timestamped text lines (SteVe, evcc, EVerest, the `ocpp` package): a timestamp
    (2024-05-01 10:00:00,123 / 2024/05/01 10:00:00 / ISO 8601), free text, then the
    OCPP-J array, which may continue over the next lines (pretty-printed JSON), e.g.
    "2024-05-01 10:00:00,123 INFO chargeBoxId=CP1 Received: [2,"42","Heartbeat",{}]",
    "... recv CP1: [2,...]", "... CP1: send [2,...]"; direction words cp->csms/csms->cp,
    Received/Sending, recv/send, RX/TX, <</>>, IN/OUT
Lines without a direction get it from the action (who may send it) or the CALL
a result answers.

Exit status: 0 no error findings, 1 error findings, 2 unreadable input."""



def _clock(ts_ns: int) -> str:
    return iso_time(ts_ns)[11:23] if ts_ns else "--:--:--.---"


def transaction_id(fields: dict[str, Any]) -> Any:
    payload = fields.get("payload")
    if not isinstance(payload, dict):
        return None
    if "transactionId" in payload:
        return payload["transactionId"]
    info = payload.get("transactionInfo")
    return info.get("transactionId") if isinstance(info, dict) else None


MAX_JSON_DEPTH = 64  # deeper payload subtrees are elided in --json output


def bounded(value: Any, depth: int = MAX_JSON_DEPTH) -> Any:
    """`value` with subtrees deeper than `depth` replaced by a marker: hostile nesting
    (up to 1024 levels get through the parser) must not break the JSON writer."""
    if isinstance(value, dict):
        if depth <= 0:
            return "<nested too deeply; elided>"
        return {k: bounded(v, depth - 1) for k, v in value.items()}
    if isinstance(value, list):
        if depth <= 0:
            return "<nested too deeply; elided>"
        return [bounded(v, depth - 1) for v in value]
    return value


def message_record(msg: Message) -> dict[str, Any]:
    f = msg.fields
    ref = msg.refs[0] if msg.refs else None
    rec: dict[str, Any] = {
        "ts": iso_time(msg.ts_ns), "ts_ns": msg.ts_ns,
        "source": ref.source if ref else "", "frame": ref.frame if ref else 0,
        "charge_point_id": f.get("charge_point_id", ""), "connection": f.get("connection"),
        "direction": {0: "cp->csms", 1: "csms->cp"}.get(f.get("direction"), ""),
        "protocol": msg.protocol, "name": msg.name, "src": msg.src, "dst": msg.dst,
    }
    if msg.protocol == "ocpp":
        rec.update({k: f.get(k) for k in ("message_type", "unique_id", "action", "ocpp_version")})
        rec["transaction_id"] = transaction_id(f)
        for key in ("schema", "schema_errors", "payload", "error_code", "error_description",
                    "error_details", "iso15118_pnc"):
            if key in f:
                rec[key] = bounded(f[key])
    else:
        rec.update({k: v for k, v in f.items()
                    if k not in ("capture", "connection", "charge_point_id", "direction")})
    if msg.problems:
        rec["problems"] = [problem_record(p) for p in msg.problems]
    return rec




def finding_record(f: Finding) -> dict[str, Any]:
    return {"code": f.code, "severity": str(f.severity), "text": f.text, "ts": iso_time(f.ts_ns),
            "requirement": f.requirement, "charge_point_id": f.extra.get("charge_point_id", ""),
            "unique_id": f.extra.get("unique_id"),
            "evidence": [{"source": m.refs[0].source if m.refs else "",
                          "frame": m.refs[0].frame if m.refs else 0, "name": m.name,
                          "unique_id": m.fields.get("unique_id")} for m in f.evidence]}


def report_document(report: OcppReport, messages: list[Message] | None,
                    problems: list[Problem], inputs: list[str]) -> dict[str, Any]:
    chargers = []
    for ch in report.chargers:
        chargers.append({
            "charge_point_id": ch.charge_point_id, "boot": ch.boot,
            "boot_statuses": [{"ts": iso_time(t), "status": s} for t, s in ch.boot_statuses],
            "heartbeat_interval": ch.heartbeat_interval, "ocpp_versions": list(ch.ocpp_versions),
            "connections": [c.as_dict() for c in ch.connections],
            "status_timeline": [{**s.as_dict(), "ts": iso_time(s.ts_ns)} for s in ch.status_timeline],
            "transactions": [t.as_dict() for t in ch.transactions],
            "iso15118": list(ch.iso15118), "messages": ch.messages,
            "findings": [finding_record(f) for f in ch.findings],
        })
    doc: dict[str, Any] = {"inputs": inputs, "messages_total": report.messages,
                           "chargers": chargers,
                           "findings": [finding_record(f) for f in report.findings],
                           "problems": [problem_record(p) for p in problems]}
    if messages is not None:
        doc["messages"] = [message_record(m) for m in messages]
    return doc


def _energy(tx) -> str:
    if tx.energy_wh is None:
        return ""
    return f"{tx.meter_start_wh:g}->{tx.meter_stop_wh:g} Wh = {tx.energy_wh:g} Wh"


def print_report(report: OcppReport, messages: list[Message] | None) -> None:
    echo = click.echo
    for ch in report.chargers:
        boot = ch.boot
        ident = " ".join(str(x) for x in (boot.get("vendor"), boot.get("model")) if x)
        extra = "".join(f" {k} {boot[k]}" for k in ("firmware", "serial") if boot.get(k))
        echo(f"{ch.charge_point_id}  OCPP {', '.join(ch.ocpp_versions) or '?'}  {ident}{extra}  "
             f"({ch.messages} messages, {len(ch.connections)} connection(s))")
        if ch.boot_statuses:
            boots = ", ".join(f"{s} {_clock(t)}" for t, s in ch.boot_statuses)
            hb = f"; heartbeat {ch.heartbeat_interval} s" if ch.heartbeat_interval else ""
            echo(f"  boot: {boots}{hb}")
        for c in ch.connections:
            name = c.connection[-1] if isinstance(c.connection, tuple) else c.connection
            how = c.subprotocol or (f"HTTP {c.http_status}" if c.http_status else
                                    "upgrade unanswered" if c.handshake_seen else "(no handshake seen)")
            echo(f"  connection {name}: {how} "
                 f"{_clock(c.opened_ns)}..{_clock(c.closed_ns or 0)}"
                 + (f" close {c.close_code}" if c.close_code is not None else ""))
        if ch.status_timeline:
            echo("  status:")
            for s in ch.status_timeline:
                where = (f"evse {s.evse_id}/" if s.evse_id is not None else "") + f"connector {s.connector_id}"
                err = f" ({s.error_code})" if s.error_code and s.error_code != "NoError" else ""
                echo(f"    {_clock(s.ts_ns)}  {where:22} {s.status}{err}")
        if ch.transactions:
            echo("  transactions:")
            for tx in ch.transactions:
                token = f"{tx.id_token} ({tx.auth_status or tx.id_token_type or '?'})" if tx.id_token else "-"
                flags = " ".join(x for x in ("remote-start" if tx.remote_start else "",
                                             "remote-stop" if tx.remote_stop else "") if x)
                echo(f"    {tx.transaction_id}  {_clock(tx.started_ns or 0)}..{_clock(tx.ended_ns or 0)}"
                     f"  token {token}  {_energy(tx)}  stop {tx.stop_reason or '-'}  {flags}".rstrip())
        if ch.iso15118:
            echo(f"  iso15118: {', '.join(sorted({str(e['action']) for e in ch.iso15118}))}")
        if ch.findings:
            echo("  findings:")
            for f in ch.findings:
                req = f" [{f.requirement}]" if f.requirement else ""
                echo(f"    {str(f.severity):7} {f.code}{req}  {_clock(f.ts_ns)}  {f.text}")
        echo("")
    if messages is not None:
        echo("messages:")
        for m in messages:
            f = m.fields
            arrow = "->" if f.get("direction") == 0 else "<-"
            uid = f.get("unique_id") or ""
            state = f.get("schema", "")
            bad = " !" + ",".join(p.kind for p in m.problems) if m.problems else ""
            echo(f"  {_clock(m.ts_ns)}  {f.get('charge_point_id', '')} {arrow} {m.name:38} "
                 f"{uid:36} {state}{bad}")


def only_chargers(report: OcppReport, messages: list[Message] | None,
                  patterns: tuple[str, ...]) -> tuple[OcppReport, list[Message] | None]:
    """The report (and message list) restricted to charge points matching `patterns`."""
    def wanted(cp: str) -> bool:
        return any(fnmatch.fnmatchcase(cp, pat) for pat in patterns)

    chargers = tuple(c for c in report.chargers if wanted(c.charge_point_id))
    findings = tuple(f for f in report.findings if wanted(f.extra.get("charge_point_id", "")))
    kept = ids = None
    if messages is not None:
        ids = {c.charge_point_id for c in chargers}
        kept = [m for m in messages if m.fields.get("charge_point_id") in ids
                or (m.src in ids or m.dst in ids)]
    return OcppReport(chargers, findings, sum(c.messages for c in chargers)), kept


def _capture_messages(path: Path, options: WebSocketOptions, version: str | None,
                      problems: list[Problem],
                      validate: bool | frozenset[str] = True,
                      keylog_files: tuple[Path, ...] = ()) -> Iterator[Message]:
    from chargescope.analyzer.capture import open_capture
    from chargescope.analyzer.pipeline import Pipeline
    from chargescope.analyzer.tls.sources import frames_with_secrets, load_key_logs
    from chargescope.dissectors.ocpp import stream_handoff

    keylog = load_key_logs(keylog_files)  # wss: decrypted into the WebSocket dissector
    limits = current_limits()
    pipeline = Pipeline(frame_handoffs=(), keylog=keylog, limits=limits,
                        stream_handoffs=(stream_handoff(options, version, validate,
                                                        max_pending=limits.ocpp_pending),))
    with open_capture(path) as cap:
        for item in pipeline.run(frames_with_secrets(cap, keylog)):
            if isinstance(item, Problem):
                problems.append(item)
            elif item.protocol not in ("tls", "tls-keylog"):  # TLS layer: not OCPP input
                yield item
            else:  # undecrypted wss is reported (a Problem each), never silently empty
                problems.extend(p for p in item.problems if p.kind in (
                    "tls.keys.missing", "tls.record.decrypt_failed", "tls.cipher.unsupported"))
        problems.extend(getattr(cap, "problems", ()))


@click.command("ocpp", help=HELP)
@capture_options
@click.option("--call-timeout", type=float, default=30.0, show_default=True,
              help="Seconds after which a CALL without answer is a finding.")
@click.option("--ocpp-version", type=click.Choice(["1.6", "2.0.1", "2.1"]),
              help="Force the OCPP version (default: from the handshake, else guessed).")
@click.option("--log-side", type=click.Choice(["csms", "cp"]), default="csms", show_default=True,
              help="Who wrote the log files: decides what 'in'/'Received' means.")
@click.option("--max-message-size", type=int, default=DEFAULT_MAX_MESSAGE, show_default=True,
              help="Cap per (decompressed) WebSocket message, in bytes.")
@click.option("--no-validate", is_flag=True,
              help="Skip JSON-schema validation (messages are still decoded and paired).")
@click.option("--skip-validation", "skip_actions", multiple=True, metavar="ACTION",
              help="Do not validate this action's messages (lenient mode for known firmware "
                   "quirks); may repeat.")
@click.option("--charger", "chargers", multiple=True, metavar="ID",
              help="Only these charge points (shell-style patterns, e.g. 'CP-12*'); may repeat.")
@click.option("--messages", "list_messages", is_flag=True,
              help="Also list every message (always included in --json).")
def command(captures: tuple[Path, ...], as_json: bool, keylog: tuple[Path, ...],
            site: Path | None, show_secrets: bool, call_timeout: float,
            ocpp_version: str | None, log_side: str, max_message_size: int,
            no_validate: bool, skip_actions: tuple[str, ...], chargers: tuple[str, ...],
            list_messages: bool) -> None:
    paths = expand_captures(captures)
    validate: bool | frozenset[str] = False if no_validate else (
        frozenset(skip_actions) if skip_actions else True)
    analyzer = OcppAnalyzer(call_timeout_ns=int(call_timeout * 1e9))
    if max_message_size == DEFAULT_MAX_MESSAGE:  # --limit ws-message=... says the same
        max_message_size = current_limits().ws_message
    options = WebSocketOptions(max_message_size=max_message_size, show_secrets=show_secrets)
    keep = [] if (as_json or list_messages) else None
    problems: list[Problem] = []
    bad_input = False
    for path in paths:
        diag(f"ocpp: reading {path}")
        try:
            if is_log_file(path):
                source = read_log(path, log_side=log_side, version=ocpp_version,
                                  validate=validate)
            else:
                source = _capture_messages(path, options, ocpp_version, problems,
                                           validate=validate, keylog_files=tuple(keylog))
            for msg in source:
                analyzer.feed(msg)
                if keep is not None:
                    keep.append(msg)
        except ImportError as exc:
            diag(f"ocpp: {path}: capture reading is not available in this build ({exc})")
            bad_input = True
        except (OSError, ValueError) as exc:
            diag(f"ocpp: {path}: unreadable: {exc}")
            bad_input = True
    report = analyzer.finish()
    if chargers:
        report, keep = only_chargers(report, keep, chargers)
    if as_json:
        emit_json(report_document(report, keep, problems, [str(p) for p in paths]))
    else:
        print_report(report, keep)
        for p in problems:
            diag(f"problem: {p}")
    sys.stdout.flush()
    if bad_input:
        raise SystemExit(EXIT_BAD_INPUT)
    raise SystemExit(EXIT_FINDINGS if report.worst == Severity.ERROR else EXIT_OK)
