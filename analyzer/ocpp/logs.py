"""OCPP log files as Messages: what operators have when they have no capture.

Accepted formats (detected per file; see `chargescope ocpp --help` and the README):

* **JSON lines** (NDJSON/JSONL): one object per line with a timestamp (`timestamp`,
  `ts`, `time` or `@timestamp`: ISO 8601 or epoch seconds/milliseconds), a direction
  (`direction`/`dir`: `cp->csms`, `csms->cp`, or `in`/`out`, `rx`/`tx`,
  `received`/`sent` seen from the logging side), a charge point id
  (`charge_point_id`, `chargePointId`, `chargeBoxId`, `station`, `identity`, `cp_id`)
  and the OCPP-J message (`message`, `msg`, `frame`, `payload`, `data`) as an array
  or as the JSON text.
* **JSON array**: a file holding one array of such objects, or of bare OCPP-J arrays.
* **Timestamped text lines** as SteVe, evcc, EVerest/libocpp and the `ocpp` package
  write them: a timestamp (ISO 8601, `2024-05-01 10:00:00,123`, `2024/05/01 10:00:00`,
  date and time possibly tab-separated) before the OCPP-J array, which may continue
  over following lines when pretty-printed. The charge point id is taken from
  `chargeBoxId=`, `chargePointId=`, `station=`, `identity=`, `cp=`, `CP1: send`, or
  `recv CP1:`; the direction from `cp->csms`/`csms->cp`, `Received`/`Sending`/`Sent`,
  `recv`/`send`, `RX`/`TX`, `<<`/`>>`, `IN`/`OUT`.

Directions seen from the logging side (`in`, `Received`, ...) are resolved with
`log_side` ("csms", the default, or "cp"); when a line has none, a CALL's direction
comes from who may initiate its action and a result's from the CALL it answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chargescope.analyzer.records import ByteRef, Link, Message, Problem
from chargescope.dissectors.ocpp.conversation import OcppDecoder

CSMS_NAME = "CSMS"
# Actions only a charge point starts (1.6 and 2.x); anything else in a CALL is the CSMS's.
CP_INITIATED = frozenset({
    "Authorize", "BootNotification", "DataTransfer", "DiagnosticsStatusNotification",
    "FirmwareStatusNotification", "Heartbeat", "MeterValues", "StartTransaction",
    "StatusNotification", "StopTransaction", "SecurityEventNotification", "SignCertificate",
    "LogStatusNotification", "SignedFirmwareStatusNotification", "TransactionEvent",
    "NotifyReport", "NotifyEvent", "NotifyMonitoringReport", "NotifyCustomerInformation",
    "NotifyChargingLimit", "NotifyDisplayMessages", "NotifyEVChargingNeeds",
    "NotifyEVChargingSchedule", "ReportChargingProfiles", "ReservationStatusUpdate",
    "Get15118EVCertificate", "GetCertificateStatus", "PublishFirmwareStatusNotification",
    "ClearedChargingLimit", "NotifyPeriodicEventStream", "NotifySettlement",
    "NotifyPriorityCharging", "PullDynamicScheduleUpdate", "BatterySwap",
    "GetCertificateChainStatus", "NotifyDERAlarm", "NotifyDERStartStop", "ReportDERControl",
    "NotifyQRCodeScanned", "VatNumberValidation", "NotifyWebPaymentStarted",
})

_TS_KEYS = ("timestamp", "ts", "time", "@timestamp", "date")
_DIR_KEYS = ("direction", "dir", "origin")
_CP_KEYS = ("charge_point_id", "chargePointId", "chargeBoxId", "charge_box_id", "station",
            "stationId", "identity", "cp_id", "cpId", "cp")
_MSG_KEYS = ("message", "msg", "frame", "payload", "data", "ocpp")

# A timestamp anywhere before the message: ISO 8601, or date and time apart (SteVe puts
# "[INFO]<TAB>" first and a tab between them; evcc writes 2024/05/01).
_TEXT_TS = re.compile(
    r"(\d{4}[-/]\d\d[-/]\d\d[T \t]+\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)")
_TEXT_CP = (
    # chargeBoxId=CP1 (SteVe), chargePointId: CP1, station=CP1, identity=CP1, cp=CP1
    re.compile(r"(?:chargeBoxId|chargePointId|charge_point_id|stationId|station|identity|cp)"
               r"\s*[=:]\s*['\"]?([^\s'\",\]]+)", re.I),
    # "CP1: send [..." / "CP1: receive message [..." (the `ocpp` package, openWB)
    re.compile(r"([^\s:\[\]{}]+):\s*(?:send|sent|sending|receive|received|recv)\b[^\[]*$", re.I),
    # "recv CP1: [..." / "send CP1: [..." (evcc)
    re.compile(r"\b(?:recv|send|sent|receive|received)\s+([^\s:]+):\s*$", re.I),
)
MAX_CONTINUATION = 200  # lines a pretty-printed message may span
_ARRAY_START = re.compile(r"\[\s*[2-6]\s*,")


def _direction_word(text: str, log_side: str) -> int | None:
    """0 = charge point -> CSMS, 1 = CSMS -> charge point, None = not said."""
    t = text.lower().replace(" ", "")
    for word, d in (("cp->csms", 0), ("cs->csms", 0), ("csms->cp", 1), ("csms->cs", 1)):
        if word in t:
            return d
    incoming = re.search(r"(receiv|\brecv|\brx\b|<<|<-|incoming|\bin\b|request_in)", text, re.I)
    outgoing = re.search(r"(\bsend|\bsent|\btx\b|>>|->|outgoing|\bout\b)", text, re.I)
    if incoming and not outgoing:
        return 0 if log_side == "csms" else 1
    if outgoing and not incoming:
        return 1 if log_side == "csms" else 0
    return None


def _parse_ts(value: Any) -> int:
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value
        return int(seconds * 1e9)
    if isinstance(value, str) and value:
        text = re.sub(r"[ \t]+", "T", value.strip().replace(",", ".").replace("/", "-"), count=1)
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except (ValueError, RecursionError):
            return 0
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)  # logs without zone: read as UTC, like the capture clock
        return int(dt.timestamp() * 1e9)
    return 0


class LogReader:
    """Turns log records into Messages, one OcppDecoder per charge point."""

    def __init__(self, source: str, *, log_side: str = "csms", version: str | None = None,
                 charge_point_id: str = "", validate: bool | frozenset[str] = True) -> None:
        self.source = source
        self.validate = validate
        self.log_side = log_side
        self.version = version
        self.default_cp = charge_point_id or Path(source).stem
        self._decoders: dict[str, OcppDecoder] = {}
        self._callers: dict[tuple[str, str], int] = {}
        self.skipped_lines = 0

    def _decoder(self, cp: str) -> OcppDecoder:
        dec = self._decoders.get(cp)
        if dec is None:
            dec = self._decoders[cp] = OcppDecoder(
                f"log:{self.source}:{cp}", version=self.version,
                version_source="option" if self.version else "", charge_point_id=cp,
                validate=self.validate)
        return dec

    def _infer(self, cp: str, msg: Any) -> int | None:
        if not isinstance(msg, list) or len(msg) < 2:
            return None
        if msg[0] in (2, 6) and len(msg) > 2:
            return 0 if msg[2] in CP_INITIATED else 1
        caller = self._callers.get((cp, str(msg[1])))
        return None if caller is None else 1 - caller

    def record(self, *, line: int, ts_ns: int, direction: int | None, cp: str,
               message: Any, raw_len: int) -> Message:
        cp = cp or self.default_cp
        if isinstance(message, str):
            try:
                parsed: Any = json.loads(message)
            except (ValueError, RecursionError):
                parsed = None
        else:
            parsed = message
        if direction is None:
            direction = self._infer(cp, parsed)
        problems: list[Problem] = []
        if direction is None:
            problems.append(Problem("ocpp.log.direction", "direction neither logged nor inferable; "
                                    "assumed charge point -> CSMS", self.source, line, 0, "unit"))
            direction = 0
        if isinstance(parsed, list) and len(parsed) > 2 and parsed[0] in (2, 6):
            self._callers[(cp, str(parsed[1]))] = direction
        src, dst = (cp, CSMS_NAME) if direction == 0 else (CSMS_NAME, cp)
        ref = (ByteRef(self.source, line, 0, raw_len),)
        text = message if isinstance(message, str) else message
        return self._decoder(cp).decode(text, direction=direction, ts_ns=ts_ns, src=src, dst=dst,
                                        refs=ref, problems=problems, source=self.source, frame=line)

    # ---------------------------------------------------------------- formats

    def from_object(self, obj: Any, line: int, raw_len: int) -> Message | None:
        if isinstance(obj, list):
            return self.record(line=line, ts_ns=0, direction=None, cp="", message=obj,
                               raw_len=raw_len)
        if not isinstance(obj, dict):
            self.skipped_lines += 1
            return None
        message = next((obj[k] for k in _MSG_KEYS if k in obj), None)
        if message is None:
            self.skipped_lines += 1
            return None
        ts = next((obj[k] for k in _TS_KEYS if k in obj), 0)
        cp = next((str(obj[k]) for k in _CP_KEYS if obj.get(k)), "")
        raw_dir = next((str(obj[k]) for k in _DIR_KEYS if k in obj), "")
        direction = _direction_word(raw_dir, self.log_side) if raw_dir else None
        return self.record(line=line, ts_ns=_parse_ts(ts), direction=direction, cp=cp,
                           message=message, raw_len=raw_len)

    def from_text_line(self, text: str, line: int) -> Message | None:
        m = _ARRAY_START.search(text)
        if m is None:
            self.skipped_lines += 1
            return None
        prefix = text[:m.start()]
        ts_match = _TEXT_TS.search(prefix)
        cp = ""
        for pattern in _TEXT_CP:
            cp_match = pattern.search(prefix)
            if cp_match:
                cp = cp_match.group(1)
                break
        return self.record(line=line, ts_ns=_parse_ts(ts_match.group(1)) if ts_match else 0,
                           direction=_direction_word(prefix, self.log_side), cp=cp,
                           message=text[m.start():].strip(), raw_len=len(text))


def detect_format(head: str) -> str:
    """"json-array", "jsonl" or "text" from the first non-blank characters of a file."""
    stripped = head.lstrip()
    first_line = stripped.split("\n", 1)[0]
    ts = _TEXT_TS.search(first_line)
    if ts is not None and not first_line.startswith(("{", "[{")) and (
            ts.start() < 16 or _ARRAY_START.search(first_line[:ts.start()]) is None):
        return "text"
    if stripped.startswith("["):
        # A whole-file array of records, unless the first line is itself an OCPP-J array.
        first_line = stripped.split("\n", 1)[0].strip()
        if _ARRAY_START.match(first_line) and first_line.endswith("]"):
            return "jsonl"
        return "json-array"
    if stripped.startswith("{"):
        return "jsonl"
    return "text"


def read_log_lines(lines: Iterable[str], source: str, fmt: str | None = None,
                   **options: Any) -> Iterator[Message]:
    """Messages from the lines of one log (sans-I/O: the caller opens the file)."""
    reader = LogReader(source, **options)
    it = iter(lines)
    if fmt is None:
        first = next(it, "")
        fmt = detect_format(first)
        it = _chain([first], it)
    if fmt == "json-array":
        text = "".join(it)
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as exc:
            yield Message(Link.B, "ocpp", "Malformed", 0, "", "", {"log_format": fmt}, (),
                          (Problem("ocpp.log.syntax", f"JSON array log is not JSON: {exc}",
                                   source, 0, getattr(exc, "pos", 0), "file"),))
            return
        for i, obj in enumerate(doc if isinstance(doc, list) else [doc], start=1):
            msg = reader.from_object(obj, i, 0)
            if msg is not None:
                yield msg
        return
    pending: tuple[int, str] | None = None  # a text message still missing its end
    for number, raw in enumerate(it, start=1):
        line = raw.rstrip("\r\n")
        if pending is not None:
            start, text = pending
            if (_TEXT_TS.search(line[:40]) is None and number - start < MAX_CONTINUATION):
                text += "\n" + line  # pretty-printed JSON goes on (the `ocpp` package does this)
                if _complete_json(text):
                    pending = None
                    msg = reader.from_text_line(text, start)
                    if msg is not None:
                        yield msg
                else:
                    pending = (start, text)
                continue
            pending = None
            msg = reader.from_text_line(text, start)  # never completed: reported malformed
            if msg is not None:
                yield msg
        if not line.strip():
            continue
        if fmt == "jsonl" and line.lstrip()[:1] in ("{", "["):
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError):
                msg = reader.from_text_line(line, number)
            else:
                msg = reader.from_object(obj, number, len(line))
        else:
            m = _ARRAY_START.search(line)
            if fmt == "text" and m is not None and not _complete_json(line[m.start():]):
                pending = (number, line)
                continue
            msg = reader.from_text_line(line, number)
        if msg is not None:
            yield msg
    if pending is not None:
        msg = reader.from_text_line(pending[1], pending[0])
        if msg is not None:
            yield msg


def _complete_json(text: str) -> bool:
    """Does the OCPP-J array starting in `text` close? (brackets outside strings balance)"""
    m = _ARRAY_START.search(text)
    if m is None:
        return True
    depth = 0
    in_string = escaped = False
    for ch in text[m.start():]:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth == 0:
                return True
    return False


def _chain(first: list[str], rest: Iterator[str]) -> Iterator[str]:
    yield from first
    yield from rest


def read_log(path: Path, **options: Any) -> Iterator[Message]:
    with open(path, encoding="utf-8", errors="replace") as fh:
        yield from read_log_lines(fh, path.name, **options)


LOG_SUFFIXES = (".jsonl", ".ndjson", ".log", ".txt", ".json")


def is_log_file(path: Path) -> bool:
    """Logs are recognised by name, or by not starting with a pcap/pcapng magic."""
    name = path.name.lower()
    if name.endswith((".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz", ".cap.gz")):
        return False
    if name.endswith(LOG_SUFFIXES):
        return True
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError:
        return False
    pcap_magics = {b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1",
                   b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a", b"\x1f\x8b\x08\x00"}
    return magic[:4] not in pcap_magics and magic[:3] != b"\x1f\x8b\x08"
