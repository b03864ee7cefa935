"""The V2G session builder: Messages of link A in, sessions with findings and a verdict out.

Sans-I/O and incremental: `feed()` Messages in capture order (SDP datagrams, decoded V2GTP
units and the `ConnectionClosed` markers the V2GTP dissector emits), then `finish()`. Sequence
rules come from `states.NEXT`, timing parameters from `protocols.PROTOCOLS`, finding codes from
`specs.FINDINGS`; this module only applies them. A V2G session is keyed by SessionID (a paused
ISO 15118-2 session resumed on a new TCP connection stays one session) and, before the SECC
assigns the SessionID, by TCP connection.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from chargescope.analyzer.records import Finding, Message
from chargescope.analyzer.v2g import states
from chargescope.analyzer.v2g.discovery import announced, sdp_findings
from chargescope.analyzer.v2g.energy import SessionEnergy
from chargescope.analyzer.v2g.protocols import (
    ENERGY_SERVICES,
    LOOPS,
    NAMESPACES,
    PROTOCOLS,
    STAGES,
    base_name,
    is_request,
    is_response,
    protocol_of_schema,
)
from chargescope.analyzer.v2g.records import Exchange, LinkAReport, V2GSession
from chargescope.analyzer.v2g.specs import registry
from chargescope.analyzer.v2g.tree import body, find, items, physical, session_id, sub, text
from chargescope.analyzer.v2g.verdict import Ending, judge

NS = 1_000_000_000

ONGOING_LIMITED = frozenset({"ContractAuthentication", "Authorization",
                             "ChargeParameterDiscovery", "ScheduleExchange",
                             "CertificateInstallation"})
CABLE_CHECK = frozenset({"CableCheck", "DC_CableCheck"})
PRECHARGE = frozenset({"PreCharge", "DC_PreCharge"})
DC_LOOP = frozenset({"CurrentDemand", "DC_ChargeLoop"})
CHARGING = frozenset({"CurrentDemand", "ChargingStatus", "AC_ChargeLoop", "DC_ChargeLoop"})
# EVSE_Shutdown is the charger ending the session in order (e.g. stop pressed at the charger);
# these are faults
SHUTDOWN_CODES = frozenset({"EVSE_EmergencyShutdown", "EVSE_Malfunction",
                            "EVSE_UtilityInterruptEvent"})
STOP_NOTIFICATIONS = frozenset({"StopCharging", "Terminate"})
EV_OK_CODES = frozenset({"NO_ERROR", "NoData"})

# Precharge is done when the EVSE output is within this of the EV target; EVs (pyPLC, Josev
# controllers) and IEC 61851-23 precharge practice use 20 V.
PRECHARGE_TOLERANCE_V = 20.0
# decode problems saying the capture (not the wire) lost bytes of a V2G stream
CAPTURE_LOSS = frozenset({"v2gtp.stream.gap"})
TO_EVSE, TO_EV = 1, 2  # `_Conn.lost` bits, by TCP direction
# Charge-loop deviations tolerated before a finding: regulation is never exact.
VOLTAGE_MARGIN_V, VOLTAGE_MARGIN_REL = 10.0, 0.02
CURRENT_MARGIN_A, CURRENT_MARGIN_REL = 2.0, 0.10

@dataclass(slots=True)
class _Session:
    index: int
    session_id: str = ""
    protocol: str = ""
    namespace: str = ""
    schema_guessed: bool = False
    evcc: str = ""
    secc: str = ""
    evcc_id: str = ""
    evse_id: str = ""
    payment: str = ""
    energy_transfer: str = ""
    control_mode: str = ""
    connections: list[int] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    stage: str = "handshake"
    charged: bool = False
    stop_ok: bool = False
    stop_unseen: bool = False  # SessionStopReq sent, its answer lost by the capture
    paused: bool = False
    ended: str = ""  # "fin", "rst", "end-of-capture"
    once: set[str] = field(default_factory=set)
    ev_max_voltage: float | None = None
    ev_min_current: float | None = None
    decode_problems: dict[str, list] = field(default_factory=dict)  # kind -> [n, msg, detail]
    tagged: dict[str, int] = field(default_factory=dict)  # finding key -> index in findings
    repeats: dict[str, int] = field(default_factory=dict)  # finding key -> occurrences
    energy: SessionEnergy = field(default_factory=SessionEnergy)  # fed with its exi messages


@dataclass(slots=True)
class _Run:
    """Consecutive requests of one loop (CableCheck, PreCharge, CurrentDemand, ...)."""

    name: str = ""
    start_ns: int = 0
    flagged: bool = False
    converged: bool = False
    last_gap_v: float | None = None
    last: Message | None = None
    deviations: dict[str, list] = field(default_factory=dict)  # code -> [count, worst, msg]


@dataclass(slots=True)
class _Conn:
    key: Any
    index: int
    session: _Session
    state: str = states.START
    outstanding: Message | None = None
    last_response_ns: int | None = None
    last_processing: str = ""
    offer: dict[Any, str] = field(default_factory=dict)
    ev_stopping: bool = False
    run: _Run = field(default_factory=_Run)
    closed: bool = False
    slow: dict[str, list] = field(default_factory=dict)  # base -> [count, worst_s, limit, msg]
    fin: list[Message] = field(default_factory=list)  # FIN markers seen, first closer first
    ev_stopping_next: bool = False  # the request ending a loop is PowerDelivery(stop)
    stop_ok: bool = False  # SessionStop acknowledged on this connection
    stream: Any = None  # the pipeline's TCP stream index (or our connection index)
    # directions (bit 0 EV->EVSE, bit 1 EVSE->EV) with bytes the capture lost since the
    # last response: a request or response may be missing there, not on the wire
    lost: int = 0


class V2GAnalyser:
    def __init__(self) -> None:
        self._reg = registry()
        self._conns: dict[Any, _Conn] = {}
        self._sessions: list[_Session] = []
        self._by_id: dict[str, _Session] = {}
        self._discovery: list[Message] = []
        self._tcp_servers: set[tuple[str, int]] = set()
        self._first_ns: int | None = None

    # ---------------------------------------------------------------- input
    def feed(self, msg: Message) -> None:
        if self._first_ns is None:
            self._first_ns = msg.ts_ns
        if msg.protocol == "sdp":
            self._discovery.append(msg)
            return
        if msg.protocol not in ("exi", "v2gtp"):
            return
        conn = self._conn(msg)
        if msg.name == "ConnectionClosed":
            reason = msg.fields.get("reason", "fin")
            if reason == "fin" and msg.fields.get("closed_by") in ("client", "server"):
                # a half-close: the other side may still answer; the connection ends when
                # both sides have closed (or at a reset / the end of the capture)
                conn.fin.append(msg)
                if len({m.fields["closed_by"] for m in conn.fin}) < 2:
                    return
                msg = conn.fin[0]
            self._close(conn, reason, msg)
            return
        sess = conn.session
        sess.messages.append(msg)
        for problem in msg.problems:
            entry = sess.decode_problems.setdefault(problem.kind, [0, msg, problem.detail])
            entry[0] += 1
            if problem.kind in CAPTURE_LOSS:
                direction = sub(msg.fields, "v2gtp").get("direction")
                if direction in (0, 1):
                    conn.lost |= 1 << direction
        if msg.protocol != "exi":
            return
        sess.energy.feed(msg)
        if msg.fields.get("schema_guessed"):
            sess.schema_guessed = True
        if not sess.protocol:
            sess.protocol = protocol_of_schema(str(msg.fields.get("schema", ""))) or ""
        if is_request(msg.name):
            self._request(conn, msg)
        elif is_response(msg.name):
            self._response(conn, msg)

    def finish(self) -> LinkAReport:
        for conn in list(self._conns.values()):
            if not conn.closed:
                if conn.fin:
                    self._close(conn, "fin", conn.fin[0])
                else:
                    self._close(conn, "end-of-capture", None)
        for sess in self._sessions:
            for kind, (count, msg, detail) in sess.decode_problems.items():
                self._finding(sess, "v2g.decode.problem", f"{count} x {kind}, first: {detail}",
                              msg, key=f"decode.{kind}", kind=kind, count=count)
        sessions = tuple(self._freeze(s) for s in self._sessions if s.messages)
        protocols = {s.protocol for s in self._sessions}
        findings = sdp_findings(self._reg, self._discovery, self._tcp_servers, protocols)
        return LinkAReport(sessions, tuple(self._discovery), tuple(findings),
                           tuple(sorted(announced(self._discovery))))

    def energies(self) -> dict[int, float | None]:
        """Energy per session index (Wh as link A saw it: `analyzer/v2g/energy.py`)."""
        return {s.index: s.energy.wh for s in self._sessions}

    # ---------------------------------------------------------------- connections
    def _conn(self, msg: Message) -> _Conn:
        v2gtp = sub(msg.fields, "v2gtp")
        stream = v2gtp.get("tcp_stream")
        key = (stream if isinstance(stream, int) else None, frozenset((msg.src, msg.dst)))
        conn = self._conns.get(key)
        if conn is None or conn.closed and msg.name.startswith("supportedAppProtocol"):
            sess = _Session(len(self._sessions))
            self._sessions.append(sess)
            conn = _Conn(key, len(self._conns), sess)
            conn.stream = v2gtp.get("tcp_stream", conn.index)
            sess.connections.append(conn.stream)
            self._conns[key] = conn
        sess = conn.session
        if not sess.evcc and msg.name != "ConnectionClosed":
            # the EVCC is the TCP client (the SECC runs the server it announced in SDP);
            # decoded messages also tell by their name
            direction = v2gtp.get("direction")
            if direction is None:
                direction = 0 if is_request(msg.name) else 1
            sess.evcc, sess.secc = (msg.src, msg.dst) if direction == 0 else (msg.dst, msg.src)
            host, _, port = sess.secc.rpartition(":")
            if port.isdigit():
                self._tcp_servers.add((host.strip("[]"), int(port)))
        return conn

    def _close(self, conn: _Conn, reason: str, msg: Message | None) -> None:
        sess = conn.session
        ts = msg.ts_ns if msg else (sess.messages[-1].ts_ns if sess.messages else 0)
        stop_lost = False  # SessionStopReq sent, its answer lost by the capture
        if conn.outstanding is not None:
            req = conn.outstanding
            stop_lost = bool(conn.lost & TO_EV) and base_name(req.name) == "SessionStop"
            if conn.lost & TO_EV:
                self._finding(sess, "v2g.response.not_captured",
                              f"{req.name}: its response is in bytes the capture lost", req)
            else:
                self._finding(sess, "v2g.response.missing",
                              f"{req.name} got no response before the connection ended "
                              f"({reason})", req)
            sess.exchanges.append(Exchange(base_name(req.name), req, None))
            conn.outstanding = None
        self._end_run(conn, ts)
        self._flush_slow(conn)
        conn.closed = True
        if stop_lost:
            sess.ended = reason  # the EV asked to stop: no judgement on an answer not seen
            sess.stop_unseen = True
            return
        if conn.stop_ok:
            # SessionStop was acknowledged on this connection (terminate or pause): whatever
            # happens to the TCP connection afterwards is the normal end of it
            if conn.session.connections[-1:] == [conn.stream]:
                sess.ended = reason
            return
        sess.ended = reason
        evidence = [msg] if msg else sess.messages[-1:]
        if reason == "rst":
            self._finding(sess, "v2g.session.tcp_reset",
                          f"TCP connection reset at stage {sess.stage}", *evidence)
        elif reason == "end-of-capture":
            self._finding(sess, "v2g.session.capture_ended",
                          f"capture ends at stage {sess.stage}", *evidence)
        elif sess.messages:
            who = (msg.fields.get("closed_by") if msg else "") or "a peer"
            self._finding(sess, "v2g.session.no_stop",
                          f"{who} closed the connection at stage {sess.stage} without "
                          "SessionStop", *evidence)

    # ---------------------------------------------------------------- requests
    def _request(self, conn: _Conn, msg: Message) -> None:
        sess = conn.session
        base = base_name(msg.name)
        proto = PROTOCOLS.get(sess.protocol)
        if conn.outstanding is not None:
            prev = conn.outstanding
            if conn.lost & TO_EV:  # the EVSE answered, the capture lost it
                self._finding(sess, "v2g.response.not_captured",
                              f"{prev.name}: its response is in bytes the capture lost",
                              prev, msg, key=f"not_captured.{prev.name}")
                conn.lost &= ~TO_EV
            else:
                self._finding(sess, "v2g.response.missing",
                              f"{prev.name} got no response before {msg.name}", prev, msg,
                              key=f"missing.{prev.name}")
            sess.exchanges.append(Exchange(base_name(prev.name), prev, None))
        if proto and conn.last_response_ns is not None:
            gap = (msg.ts_ns - conn.last_response_ns) / NS
            if gap > proto.sequence_timeout:
                self._finding(sess, "v2g.timing.sequence_timeout",
                              f"{gap:.1f} s before {msg.name}, more than V2G_SECC_Sequence_"
                              f"Timeout {proto.sequence_timeout:g} s ({proto.timers_ref})",
                              msg, limit_s=proto.sequence_timeout, measured_s=round(gap, 3))
        if base != conn.run.name:
            # loop findings belong to the loop's stage, so close it before moving on
            conn.ev_stopping_next = base == "PowerDelivery" and _stops(body(msg))
            self._end_run(conn, msg.ts_ns, next_base=base)
            conn.run = _Run(base, msg.ts_ns)
        if base != "SessionStop" or not sess.stop_ok:
            sess.stage = STAGES.get(base, base)
        self._check_sequence(conn, msg, base)
        self._check_session_id(sess, msg, base)
        self._request_facts(conn, msg, base)
        if base in CHARGING:
            sess.charged = True
        conn.state = states.state_of(base, body(msg))
        conn.outstanding = msg

    def _check_sequence(self, conn: _Conn, msg: Message, base: str) -> None:
        sess = conn.session
        if conn.state == states.START and base != "supportedAppProtocol":
            # capture started after the handshake: no judgement on where we joined
            self._finding(sess, "v2g.handshake.not_captured",
                          f"first message on the connection is {msg.name}", msg, once=True)
            return
        if conn.last_processing == "Ongoing" and base not in (conn.state, "SessionStop") \
                and conn.state in ONGOING_LIMITED | CABLE_CHECK | PRECHARGE:
            self._finding(sess, "v2g.sequence.ongoing_abandoned",
                          f"{msg.name} while {conn.state} was still Ongoing", msg)
        allowed = states.allowed_next(sess.protocol, conn.state)
        if allowed is not None and sess.energy_transfer.startswith("AC") \
                and base in states.DC_ONLY:
            allowed = allowed - states.DC_ONLY
        if allowed is None or base in allowed:
            return
        if base == conn.state and base not in LOOPS:
            self._finding(sess, "v2g.sequence.repeated", f"{msg.name} repeated", msg,
                          key=f"repeated.{base}")
        else:
            self._finding(sess, "v2g.sequence.unexpected",
                          f"{msg.name} after {conn.state} (allowed: "
                          f"{', '.join(sorted(allowed)) or 'nothing'})", msg,
                          key=f"unexpected.{conn.state}.{base}", after=conn.state)

    def _check_session_id(self, sess: _Session, msg: Message, base: str) -> None:
        if base in ("supportedAppProtocol", "SessionSetup") or not sess.session_id:
            return
        sid = session_id(msg)
        if sid is not None and sid != sess.session_id:
            self._finding(sess, "v2g.session.id_mismatch",
                          f"{msg.name} carries SessionID {sid or '(empty)'}, the SECC assigned "
                          f"{sess.session_id}", msg, once=True)

    def _request_facts(self, conn: _Conn, msg: Message, base: str) -> None:
        sess = conn.session
        b = body(msg)
        if base == "SessionSetup" and text(b, "EVCCID"):
            sess.evcc_id = text(b, "EVCCID")
        elif base in ("ServicePaymentSelection", "PaymentServiceSelection"):
            sess.payment = text(b, "SelectedPaymentOption")
            if sess.protocol == "din" and sess.payment and sess.payment != "ExternalPayment":
                self._finding(sess, "v2g.payment.not_external",
                              f"DIN session selected {sess.payment}", msg)
        elif base == "Authorization" and text(b, "SelectedAuthorizationService"):
            sess.payment = text(b, "SelectedAuthorizationService")
        elif base == "ChargeParameterDiscovery":
            mode = text(b, "RequestedEnergyTransferMode") or \
                text(b, "EVRequestedEnergyTransferType")
            if mode:
                sess.energy_transfer = mode
            sess.ev_max_voltage = physical(find(b, "EVMaximumVoltageLimit")) or \
                sess.ev_max_voltage
            sess.ev_min_current = physical(find(b, "EVMinCurrent")) or sess.ev_min_current
        elif base == "ServiceSelection":
            service = sub(b, "SelectedEnergyTransferService").get("ServiceID")
            if isinstance(service, int):
                sess.energy_transfer = ENERGY_SERVICES.get(service, sess.energy_transfer)
        elif base == "ScheduleExchange":
            mode = next((k for k in b if k.endswith("SEReqControlMode")), "")
            sess.control_mode = mode.split("_", 1)[0]  # "Dynamic" or "Scheduled"
        elif base in ("DC_ChargeParameterDiscovery", "AC_ChargeParameterDiscovery"):
            kind = "DC" if base.startswith("DC") else "AC"
            if not sess.energy_transfer:
                sess.energy_transfer = f"{kind}_BPT" if any(k.startswith("BPT") for k in b) \
                    else kind
            sess.ev_max_voltage = physical(find(b, "EVMaximumVoltage")) or sess.ev_max_voltage
            sess.ev_min_current = physical(find(b, "EVMinimumChargeCurrent")) or \
                sess.ev_min_current
        elif base == "PowerDelivery":
            conn.ev_stopping = _stops(b)
        elif base == "SessionStop":
            conn.ev_stopping = True
        if base in DC_LOOP and find(b, "EVMaximumVoltageLimit") is not None:
            sess.ev_max_voltage = physical(find(b, "EVMaximumVoltageLimit"))
        code = find(b, "EVErrorCode")
        if isinstance(code, str) and code not in EV_OK_CODES:
            self._finding(sess, "v2g.ev.error", f"{msg.name}: EVErrorCode {code}", msg,
                          key=f"ev.error.{code}")

    # ---------------------------------------------------------------- responses
    def _response(self, conn: _Conn, msg: Message) -> None:
        sess = conn.session
        base = base_name(msg.name)
        req = conn.outstanding
        lost, conn.lost = conn.lost, 0  # responses flow again: earlier losses are judged
        if req is None or base_name(req.name) != base:
            if lost & TO_EVSE:  # the EV asked, the capture lost it
                self._finding(sess, "v2g.request.not_captured",
                              f"{msg.name}: its request is in bytes the capture lost", msg,
                              key=f"not_captured.{base}")
                if req is None:  # where that request left the connection (body unknown)
                    conn.state = states.state_of(base, {})
                    sess.stage = STAGES.get(base, base)
            else:
                self._finding(sess, "v2g.response.unsolicited",
                              f"{msg.name} without an outstanding {base}Req"
                              + (f" (outstanding: {req.name})" if req else ""), msg,
                              key=f"unsolicited.{base}")
            sess.exchanges.append(Exchange(base, None, msg))
            if req is not None:
                return  # keep waiting for the right response
        else:
            sess.exchanges.append(Exchange(base, req, msg))
            self._check_latency(conn, req, msg, base)
        conn.outstanding = None
        conn.last_response_ns = msg.ts_ns
        b = body(msg)
        conn.last_processing = text(b, "EVSEProcessing")
        code = text(b, "ResponseCode")
        if base == "supportedAppProtocol":
            self._handshake(conn, req, msg, b, code)
        elif code.startswith("FAILED"):
            self._finding(sess, "v2g.response.failed", f"{msg.name}: {code}", req, msg,
                          key=f"failed.{msg.name}.{code}", response_code=code)
        elif code.startswith("WARNING"):
            self._finding(sess, "v2g.response.warning", f"{msg.name}: {code}", req, msg,
                          key=f"warning.{msg.name}.{code}", response_code=code)
        if base == "SessionSetup":
            self._bind_session(conn, msg, b)
        elif base == "SessionStop" and code.startswith("OK"):
            sess.stop_ok = conn.stop_ok = True
            sess.paused = req is not None and text(body(req), "ChargingSession") == "Pause"
        self._evse_status(conn, msg, b)
        self._loop_values(conn, req, msg, base)
        self._check_loop_time(conn, msg, base)

    def _handshake(self, conn: _Conn, req: Message | None, msg: Message, b: dict,
                   code: str) -> None:
        sess = conn.session
        if not code.startswith("OK"):
            self._finding(sess, "v2g.handshake.failed", f"supportedAppProtocolRes: {code}",
                          req, msg)
            return
        offer = items(body(req), "AppProtocol") if req else []
        for proto in offer:
            if proto.get("SchemaID") == b.get("SchemaID") and \
                    text(proto, "ProtocolNamespace"):
                sess.namespace = text(proto, "ProtocolNamespace")
                sess.protocol = NAMESPACES.get(sess.namespace, sess.protocol)
                sess.schema_guessed = False

    def _bind_session(self, conn: _Conn, msg: Message, b: dict) -> None:
        sess = conn.session
        sid = session_id(msg) or ""
        if text(b, "EVSEID"):
            sess.evse_id = text(b, "EVSEID")
        previous = self._by_id.get(sid)
        if previous is not None and previous is not sess and previous.paused:
            # ISO 15118-2 pause/resume: the EVCC rejoins its session on a new connection
            previous.messages.extend(sess.messages)
            previous.exchanges.extend(sess.exchanges)
            previous.findings.extend(sess.findings)
            previous.connections.extend(sess.connections)
            previous.paused = previous.stop_ok = False
            previous.ended = ""
            self._sessions.remove(sess)
            conn.session = previous
            previous.evse_id = sess.evse_id or previous.evse_id
            return
        sess.session_id = sid
        if sid:
            self._by_id[sid] = sess

    def _check_latency(self, conn: _Conn, req: Message, res: Message, base: str) -> None:
        proto = PROTOCOLS.get(conn.session.protocol)
        if proto is None:
            return
        latency = (res.ts_ns - req.ts_ns) / NS
        limit = proto.msg_timeout.get(base, proto.msg_timeout_default)
        if latency > limit:
            self._finding(conn.session, "v2g.timing.response_timeout",
                          f"{res.name} after {latency * 1000:.0f} ms; the EVCC waits at most "
                          f"{limit * 1000:.0f} ms ({proto.msg_timeout_ref})", req, res,
                          key=f"timeout.{base}", limit_s=limit, measured_s=round(latency, 6))
            return
        perf = proto.performance.get(base, proto.performance_default)
        if perf is not None and latency > perf:
            slow = conn.slow.setdefault(base, [0, 0.0, perf, res])
            slow[0] += 1
            if latency > slow[1]:
                slow[1], slow[3] = latency, res

    def _flush_slow(self, conn: _Conn) -> None:
        proto = PROTOCOLS.get(conn.session.protocol)
        for base, (count, worst, limit, res) in conn.slow.items():
            self._finding(conn.session, "v2g.timing.performance",
                          f"{count} {base}Res slower than {limit * 1000:g} ms, worst "
                          f"{worst * 1000:.0f} ms ({proto.performance_ref if proto else ''})",
                          res, count=count, worst_s=round(worst, 6), limit_s=limit)
        conn.slow.clear()

    def _evse_status(self, conn: _Conn, msg: Message, b: dict) -> None:
        sess = conn.session
        status = sub(b, "DC_EVSEStatus") or sub(b, "AC_EVSEStatus") or sub(b, "EVSEStatus")
        code = text(status, "EVSEStatusCode")
        note = text(status, "EVSENotification")
        if not conn.ev_stopping:
            if code in SHUTDOWN_CODES:
                self._finding(sess, "v2g.evse.shutdown", f"{msg.name}: EVSEStatusCode {code}",
                              msg, once=True)
            if note in STOP_NOTIFICATIONS or code == "EVSE_Shutdown":
                why = f"EVSENotification {note}" if note in STOP_NOTIFICATIONS else \
                    "EVSEStatusCode EVSE_Shutdown"
                self._finding(sess, "v2g.evse.stop_requested", f"{msg.name}: {why}", msg,
                              once=True)
        isolation = text(status, "EVSEIsolationStatus")
        if isolation == "Fault":
            self._finding(sess, "v2g.evse.isolation_fault", f"{msg.name}: EVSEIsolationStatus "
                          "Fault", msg, once=True)
        elif isolation == "Warning":
            self._finding(sess, "v2g.evse.isolation_warning", f"{msg.name}: "
                          "EVSEIsolationStatus Warning", msg, once=True)
        if status.get("RCD") is True:
            self._finding(sess, "v2g.ac.rcd", f"{msg.name}: RCD tripped", msg, once=True)
        max_current = physical(find(b, "EVSEMaxCurrent"))
        if max_current is not None and sess.ev_min_current is not None \
                and max_current < sess.ev_min_current:
            self._finding(sess, "v2g.ac.max_current_below_min",
                          f"{msg.name}: EVSEMaxCurrent {max_current:g} A < EV minimum "
                          f"{sess.ev_min_current:g} A", msg, once=True)

    # ---------------------------------------------------------------- loops
    def _loop_values(self, conn: _Conn, req: Message | None, res: Message, base: str) -> None:
        if req is None or base not in PRECHARGE | DC_LOOP:
            return
        rb, sb = body(req), body(res)
        target_v = physical(find(rb, "EVTargetVoltage"))
        target_i = physical(find(rb, "EVTargetCurrent"))
        present_v = physical(sb.get("EVSEPresentVoltage"))
        present_i = physical(sb.get("EVSEPresentCurrent"))
        run = conn.run
        run.last = res
        if base in PRECHARGE:
            if target_v is not None and present_v is not None:
                run.last_gap_v = abs(present_v - target_v)
                run.converged |= run.last_gap_v <= PRECHARGE_TOLERANCE_V
            return
        sess = conn.session
        if present_v is not None and sess.ev_max_voltage and present_v > sess.ev_max_voltage:
            self._deviation(run, "v2g.dc.overvoltage", present_v - sess.ev_max_voltage, res)
        if present_v is not None and target_v is not None and present_v > target_v + max(
                VOLTAGE_MARGIN_V, VOLTAGE_MARGIN_REL * target_v):
            self._deviation(run, "v2g.dc.voltage_deviation", present_v - target_v, res)
        if present_i is not None and target_i is not None and present_i > target_i + max(
                CURRENT_MARGIN_A, CURRENT_MARGIN_REL * target_i):
            self._deviation(run, "v2g.dc.overcurrent", present_i - target_i, res)

    @staticmethod
    def _deviation(run: _Run, code: str, amount: float, msg: Message) -> None:
        entry = run.deviations.setdefault(code, [0, 0.0, msg])
        entry[0] += 1
        if amount > entry[1]:
            entry[1], entry[2] = amount, msg

    def _check_loop_time(self, conn: _Conn, msg: Message, base: str) -> None:
        proto = PROTOCOLS.get(conn.session.protocol)
        run = conn.run
        if proto is None or run.flagged or run.name != base:
            return
        elapsed = (msg.ts_ns - run.start_ns) / NS
        if base in ONGOING_LIMITED:
            code, limit, param = ("v2g.timing.ongoing_timeout", proto.ongoing_timeout,
                                  "V2G_EVCC_Ongoing_Timeout")
        elif base in CABLE_CHECK:
            code, limit, param = ("v2g.timing.cable_check_timeout", proto.cable_check_timeout,
                                  "V2G_EVCC_CableCheck_Timeout")
        elif base in PRECHARGE:
            code, limit, param = ("v2g.timing.precharge_timeout", proto.precharge_timeout,
                                  "V2G_EVCC_PreCharge_Timeout")
        else:
            return
        if elapsed > limit:
            run.flagged = True
            self._finding(conn.session, code, f"{base} for {elapsed:.1f} s, more than {param} "
                          f"{limit:g} s ({proto.timers_ref})", msg, limit_s=limit,
                          measured_s=round(elapsed, 3))

    def _end_run(self, conn: _Conn, ts_ns: int, next_base: str = "") -> None:
        run, sess = conn.run, conn.session
        if run.name in PRECHARGE and run.last is not None and run.last_gap_v is not None \
                and run.last_gap_v > PRECHARGE_TOLERANCE_V:
            if next_base == "PowerDelivery" and not conn.ev_stopping_next:
                # the EV went on to close its contactors anyway: an inrush risk, not the end
                self._finding(sess, "v2g.dc.precharge_gap", f"PowerDelivery requested with the "
                              f"EVSE {run.last_gap_v:.0f} V away from the EV target "
                              f"(tolerance {PRECHARGE_TOLERANCE_V:g} V)", run.last,
                              gap_v=round(run.last_gap_v, 1))
            elif not run.converged:
                self._finding(sess, "v2g.dc.precharge_not_converged",
                              f"precharge ended{' for ' + next_base if next_base else ''} with "
                              f"the EVSE {run.last_gap_v:.0f} V away from the EV target "
                              f"(tolerance {PRECHARGE_TOLERANCE_V:g} V)", run.last,
                              gap_v=round(run.last_gap_v, 1))
        for code, (count, worst, msg) in run.deviations.items():
            unit = "A" if code == "v2g.dc.overcurrent" else "V"
            self._finding(sess, code, f"{count} {run.name} responses, worst by {worst:.1f} "
                          f"{unit}", msg, count=count, worst=round(worst, 2))
        run.deviations = {}
        run.last = None

    # ---------------------------------------------------------------- findings and output
    def _finding(self, sess: _Session, code: str, text: str, *evidence: Message | None,
                 once: bool = False, key: str = "", **extra: Any) -> None:
        tag = key or code
        if (once or key) and tag in sess.once:
            # the same fact again (a loop answering FAILED 100 times): count, don't repeat
            sess.repeats[tag] = sess.repeats.get(tag, 1) + 1
            return
        sess.once.add(tag)
        if key:
            sess.tagged[tag] = len(sess.findings)
        ev = tuple(m for m in evidence if m is not None)
        ts = ev[-1].ts_ns if ev else 0
        sess.findings.append(self._reg.make(code, text, ts_ns=ts, evidence=ev, link="A",
                                            stage=sess.stage, **extra))

    def _freeze(self, s: _Session) -> V2GSession:
        proto = PROTOCOLS.get(s.protocol)
        found = list(s.findings)
        for tag, count in s.repeats.items():
            if tag in s.tagged:
                f = found[s.tagged[tag]]
                found[s.tagged[tag]] = replace(f, text=f"{f.text} (x{count})",
                                               extra={**f.extra, "count": count})
        findings = tuple(sorted(found, key=lambda f: f.ts_ns))
        return V2GSession(
            index=s.index, session_id=s.session_id, protocol=s.protocol,
            protocol_title=proto.title if proto else "", namespace=s.namespace,
            schema_guessed=s.schema_guessed, evcc=s.evcc, secc=s.secc, evcc_id=s.evcc_id,
            evse_id=s.evse_id, payment=s.payment, energy_transfer=s.energy_transfer,
            control_mode=s.control_mode,
            connections=tuple(s.connections), start_ns=s.messages[0].ts_ns,
            end_ns=s.messages[-1].ts_ns, messages=tuple(s.messages),
            exchanges=tuple(s.exchanges), findings=findings,
            outcome=judge(findings, s.exchanges, Ending(s.stage, s.stop_ok, s.paused, s.charged,
                                                        s.ended, s.stop_unseen)))


def _stops(power_delivery: dict) -> bool:
    """PowerDeliveryReq asking to stop (ISO ChargeProgress, DIN ReadyToChargeState=false)."""
    return power_delivery.get("ChargeProgress") in ("Stop", "Standby") or \
        power_delivery.get("ReadyToChargeState") is False


def analyse(messages: Iterable[Message]) -> LinkAReport:
    """All link-A sessions in a capture's Messages (in capture order)."""
    analyser = V2GAnalyser()
    for msg in messages:
        analyser.feed(msg)
    return analyser.finish()
