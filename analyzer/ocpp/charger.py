"""Charger state from OCPP messages: boot, heartbeat, connector/EVSE status, connections.

One `ChargerTracker` per charge point identity, fed that charger's Messages (OCPP and
the WebSocket handshake/close events) in capture order.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chargescope.analyzer.records import Message
from chargescope.analyzer.shapes import arr, ident, obj, text

FindingTuple = tuple[str, str, tuple[Message, ...]]
PENDING_LOOP = 3  # consecutive Pending/Rejected boot answers that make a loop
STORM_COUNT = 3  # connections ...
STORM_WINDOW_NS = 60 * 10**9  # ... within this window make a reconnect storm
HEARTBEAT_SLACK = 2.0  # silence longer than this many intervals is a missed heartbeat
DRIFT_NS = 300 * 10**9  # payload timestamps further than this from the capture clock drift
STUCK_NS = 600 * 10**9  # Finishing/Faulted for longer than this at capture end is "stuck"
_STUCK_STATES = frozenset({"Finishing", "Faulted"})

# Actions a Pending station may still send (B02: boot itself; answers to the CSMS's
# Get/Set requests are results, not calls); TriggerMessage-triggered ones are allowed.
_ALLOWED_WHILE_PENDING = frozenset({"BootNotification"})
# Certificate management that security profiles 0/1 (no TLS) should not carry (pattern 10).
CERT_ACTIONS = frozenset({
    "InstallCertificate", "CertificateSigned", "SignCertificate", "DeleteCertificate",
    "GetInstalledCertificateIds", "Get15118EVCertificate", "ExtendedTriggerMessage",
})
ISO15118_ACTIONS = frozenset({
    "Get15118EVCertificate", "GetCertificateStatus", "SignCertificate", "CertificateSigned",
    "NotifyEVChargingNeeds", "NotifyEVChargingSchedule", "SetChargingProfile",
    "InstallCertificate", "GetInstalledCertificateIds", "DeleteCertificate",
})


@dataclass(frozen=True, slots=True)
class StatusChange:
    ts_ns: int
    evse_id: int | None
    connector_id: int | None
    status: str
    error_code: str | None
    info: str | None

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    connection: Any
    opened_ns: int
    closed_ns: int | None
    subprotocol: str
    handshake_seen: bool
    close_code: int | None
    http_status: int | None = None  # the upgrade's answer (101, or the HTTP error)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def iso_to_ns(text: str) -> int | None:
    """Nanoseconds since the epoch of an RFC 3339 timestamp with a zone, else None."""
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        return None  # zone-less times are their own finding (ocpp.time.no_timezone)
    return int(dt.timestamp() * 1e9)


def boot_info(payload: dict) -> dict[str, Any]:
    """Vendor, model, firmware, serial from a 1.6 or 2.x BootNotification request."""
    station = payload.get("chargingStation")
    if isinstance(station, dict):  # 2.x
        return {"vendor": station.get("vendorName"), "model": station.get("model"),
                "firmware": station.get("firmwareVersion"), "serial": station.get("serialNumber"),
                "reason": payload.get("reason")}
    return {"vendor": payload.get("chargePointVendor"), "model": payload.get("chargePointModel"),
            "firmware": payload.get("firmwareVersion"),
            "serial": payload.get("chargePointSerialNumber") or payload.get("chargeBoxSerialNumber"),
            "reason": None}


class ChargerTracker:
    def __init__(self, charge_point_id: str) -> None:
        self.charge_point_id = charge_point_id
        self.boot: dict[str, Any] = {}
        self.boot_statuses: list[tuple[int, str]] = []
        self.heartbeat_interval: int | None = None
        self.statuses: list[StatusChange] = []
        self.connections: list[dict[str, Any]] = []
        self._connection_at: dict[Any, dict[str, Any]] = {}  # connection -> its entry above
        self._handshake_starts: list[int] = []  # opened_ns of those with a handshake, sorted
        self.iso15118: list[dict[str, Any]] = []
        self.versions: dict[str, Message] = {}  # negotiated subprotocol -> its handshake
        self.ocpp_versions: dict[str, None] = {}  # versions messages were decoded as, in order
        self._registration: str | None = None  # last boot answer
        self._pending_run = 0
        self._last_cp_msg: dict[Any, Message] = {}
        self._reported_pending_loop = False
        self._reported_early: set[str] = set()
        self._cert_reported = False
        self._status_msgs: list[Message] = []
        self._drift_reported = False
        self._interval_pending: dict[Any, int] = {}

    # ---------------------------------------------------------------- connections

    def _connection(self, conn: Any, ts_ns: int) -> dict[str, Any]:
        # looked up for every message: by hash, not by a scan of every connection so far
        try:
            c = self._connection_at.get(conn)
        except TypeError:  # an unhashable connection key: compare one by one
            c = next((c for c in self.connections if c["connection"] == conn), None)
        if c is not None:
            return c
        c = {"connection": conn, "opened_ns": ts_ns, "closed_ns": None, "subprotocol": "",
             "handshake_seen": False, "close_code": None, "http_status": None}
        self.connections.append(c)
        try:
            self._connection_at[conn] = c
        except TypeError:
            pass
        return c

    def on_websocket(self, msg: Message, conn: Any) -> list[FindingTuple]:
        out: list[FindingTuple] = []
        c = self._connection(conn, msg.ts_ns)
        name = msg.name
        if name == "Handshake Request":
            # handshake times of every connection so far, kept sorted: counting the recent
            # ones is a bisection, not a scan of all connections at every handshake
            starts = self._handshake_starts
            if c["handshake_seen"]:
                del starts[bisect_left(starts, c["opened_ns"])]
            c["handshake_seen"] = True
            c["opened_ns"] = msg.ts_ns
            insort(starts, msg.ts_ns)
            recent = len(starts) - bisect_left(starts, msg.ts_ns - STORM_WINDOW_NS)
            if recent == STORM_COUNT:
                out.append(("ocpp.reconnect.storm",
                            f"{self.charge_point_id}: {recent} connections within "
                            f"{STORM_WINDOW_NS // 10**9} s", (msg,)))
        elif name == "Handshake Response":
            c["subprotocol"] = (msg.fields.get("subprotocol")
                                or msg.fields.get("subprotocol_assumed", ""))
            c["http_status"] = msg.fields.get("status")
            sub = c["subprotocol"]
            if sub:
                if self.versions and sub not in self.versions:
                    first = next(iter(self.versions.values()))
                    out.append(("ocpp.subprotocol.changed",
                                f"{self.charge_point_id}: {sub} here, {next(iter(self.versions))} "
                                "on an earlier connection", (first, msg)))
                self.versions.setdefault(sub, msg)
        elif name == "Close":
            if c["close_code"] is None:
                c["close_code"] = msg.fields.get("code")
        elif name == "Connection closed":
            c["closed_ns"] = msg.ts_ns
            self._last_cp_msg.pop(conn, None)
        return out

    # ---------------------------------------------------------------- OCPP

    def on_ocpp(self, msg: Message, conn: Any) -> list[FindingTuple]:
        out: list[FindingTuple] = []
        self._connection(conn, msg.ts_ns)
        f = msg.fields
        action = f.get("action")
        mtype = f.get("message_type")
        payload = f.get("payload")
        from_cp = f.get("direction") == 0
        if f.get("ocpp_version"):
            self.ocpp_versions.setdefault(f["ocpp_version"], None)
        if from_cp and mtype == "CALL":
            out.extend(self._keepalive(msg, conn))
            out.extend(self._drift(msg))
            if (self._registration in ("Pending", "Rejected") and action not in _ALLOWED_WHILE_PENDING
                    and action not in self._reported_early):
                self._reported_early.add(action)
                out.append(("ocpp.boot.call_before_accepted",
                            f"{action} sent while the boot was {self._registration}", (msg,)))
        if (not from_cp and mtype == "CALL" and self._registration == "Rejected"
                and "csms:" + str(action) not in self._reported_early):
            # FIELD_NOTES pattern 3: configuration pushed at a station it just turned away
            self._reported_early.add("csms:" + str(action))
            out.append(("ocpp.boot.csms_call_while_rejected",
                        f"CSMS sent {action} while the boot was Rejected", (msg,)))
        if action in ISO15118_ACTIONS or "iso15118_pnc" in f or (
                action == "Authorize" and isinstance(payload, dict)
                and ("iso15118CertificateHashData" in payload or "certificate" in payload)):
            self.iso15118.append({"ts_ns": msg.ts_ns, "action": action, "message_type": mtype,
                                  "unique_id": f.get("unique_id")})
        if (mtype == "CALL" and action in CERT_ACTIONS and action != "ExtendedTriggerMessage"
                and msg.fields.get("capture") and not self._cert_reported):
            # decoded straight from a capture: the connection carried no TLS
            self._cert_reported = True
            out.append(("ocpp.security.cert_ops_without_tls",
                        f"{action} on a connection without TLS", (msg,)))
        if not isinstance(payload, dict):
            return out
        if action == "BootNotification":
            if mtype == "CALL":
                self.boot = boot_info(payload)
            elif mtype == "CALLRESULT":
                out.extend(self._boot_answer(msg, payload))
        elif action == "StatusNotification" and mtype == "CALL":
            out.extend(self._status(msg, payload))
        elif action in ("ChangeConfiguration", "SetVariables"):
            self._interval_change(msg, action, mtype, payload)
        return out

    def _interval_change(self, msg: Message, action: str, mtype: str, p: dict) -> None:
        """Follow HeartbeatInterval changes the station accepted (1.6 ChangeConfiguration,
        2.x SetVariables on OCPPCommCtrlr), so missed-heartbeat checks use the live value."""
        uid = msg.fields.get("unique_id")
        if mtype == "CALL":
            value = None
            if action == "ChangeConfiguration" and p.get("key") == "HeartbeatInterval":
                value = p.get("value")
            for item in arr(p.get("setVariableData")):
                if isinstance(item, dict) and obj(item.get("variable")).get("name") == "HeartbeatInterval":
                    value = item.get("attributeValue")
            if value is not None and str(value).strip().isascii() and str(value).strip().isdigit():
                self._interval_pending[uid] = int(str(value).strip())
            return
        value = self._interval_pending.pop(uid, None)
        if value is None or mtype != "CALLRESULT":
            return
        if action == "ChangeConfiguration":
            accepted = p.get("status") == "Accepted"
        else:
            accepted = any(isinstance(r, dict) and r.get("attributeStatus") == "Accepted"
                           and obj(r.get("variable")).get("name") == "HeartbeatInterval"
                           for r in arr(p.get("setVariableResult")))
        if accepted:
            self.heartbeat_interval = value

    def _drift(self, msg: Message) -> list[FindingTuple]:
        """FIELD_NOTES pattern 5: the station's clock against the capture's (reported once)."""
        payload = msg.fields.get("payload")
        stamp = payload.get("timestamp") if isinstance(payload, dict) else None
        if self._drift_reported or not isinstance(stamp, str) or not msg.ts_ns:
            return []
        station_ns = iso_to_ns(stamp)
        if station_ns is None:
            return []
        offset = station_ns - msg.ts_ns
        if abs(offset) <= DRIFT_NS:
            return []
        self._drift_reported = True
        return [("ocpp.time.drift", f"{self.charge_point_id}: {msg.fields.get('action')} timestamp "
                 f"{stamp} is {offset / 1e9:+.0f} s from the capture clock", (msg,))]

    def _keepalive(self, msg: Message, conn: Any) -> list[FindingTuple]:
        out: list[FindingTuple] = []
        prev = self._last_cp_msg.get(conn)
        self._last_cp_msg[conn] = msg
        interval = self.heartbeat_interval
        if prev is None or not interval:
            return out
        silence = msg.ts_ns - prev.ts_ns
        if silence > HEARTBEAT_SLACK * interval * 10**9:
            out.append(("ocpp.heartbeat.missed",
                        f"{self.charge_point_id} silent for {silence / 1e9:.0f} s with a "
                        f"{interval} s heartbeat interval", (prev, msg)))
        return out

    def _boot_answer(self, msg: Message, p: dict) -> list[FindingTuple]:
        out: list[FindingTuple] = []
        status = p.get("status")
        self.boot_statuses.append((msg.ts_ns, status))
        self._registration = status
        if isinstance(p.get("interval"), int) and status == "Accepted":
            self.heartbeat_interval = p["interval"]
        if status == "Rejected":
            out.append(("ocpp.boot.rejected", f"{self.charge_point_id}: BootNotification Rejected", (msg,)))
        if status in ("Pending", "Rejected"):
            self._pending_run += 1
            if self._pending_run >= PENDING_LOOP and not self._reported_pending_loop:
                self._reported_pending_loop = True
                out.append(("ocpp.boot.pending_loop",
                            f"{self.charge_point_id}: {self._pending_run} boots in a row not accepted",
                            (msg,)))
        else:
            self._pending_run = 0
            self._reported_early.clear()
        return out

    def _status(self, msg: Message, p: dict) -> list[FindingTuple]:
        if "connectorStatus" in p:  # 2.x
            change = StatusChange(msg.ts_ns, ident(p.get("evseId")), ident(p.get("connectorId")),
                                  text(p.get("connectorStatus")), None, None)
        else:
            change = StatusChange(msg.ts_ns, None, ident(p.get("connectorId")), text(p.get("status")),
                                  text(p.get("errorCode")),
                                  text(p.get("info")) or text(p.get("vendorErrorCode")))
        self.statuses.append(change)
        self._status_msgs.append(msg)
        if change.status == "Faulted":
            where = f"EVSE {change.evse_id} " if change.evse_id is not None else ""
            code = f" ({change.error_code})" if change.error_code else ""
            return [("ocpp.status.faulted",
                     f"{self.charge_point_id}: {where}connector {change.connector_id} Faulted{code}", (msg,))]
        return []

    def current_status(self, evse_id: int | None, connector_id: int | None) -> StatusChange | None:
        """The last status reported for this connector (2.x: EVSE and connector)."""
        for change in reversed(self.statuses):
            if change.connector_id == connector_id and (evse_id is None or change.evse_id in (None, evse_id)):
                return change
        return None

    def stuck(self, end_ns: int) -> list[tuple[str, str, tuple[Message, ...]]]:
        """Connectors whose last status is Finishing/Faulted for over STUCK_NS at the end."""
        out = []
        last: dict[tuple[int | None, int | None], tuple[StatusChange, Message]] = {}
        for change, msg in zip(self.statuses, self._status_msgs, strict=True):
            last[(change.evse_id, change.connector_id)] = (change, msg)
        for (evse, conn), (change, msg) in last.items():
            if change.status in _STUCK_STATES and end_ns - change.ts_ns > STUCK_NS:
                where = f"EVSE {evse} " if evse is not None else ""
                out.append(("ocpp.status.stuck",
                            f"{self.charge_point_id}: {where}connector {conn} {change.status} for "
                            f"{(end_ns - change.ts_ns) / 1e9:.0f} s until the capture ends", (msg,)))
        return out

    def connection_infos(self) -> list[ConnectionInfo]:
        return [ConnectionInfo(c["connection"], c["opened_ns"], c["closed_ns"], c["subprotocol"],
                               c["handshake_seen"], c["close_code"], c["http_status"])
                for c in self.connections]
