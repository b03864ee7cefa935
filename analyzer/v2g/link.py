"""Link-A V2G sessions as the correlator sees them: `LinkSession`s with milestones and keys.

The milestone names come from `analyzer.correlate.milestones.MILESTONES`; this module only
says which V2G facts produce them.
"""

from __future__ import annotations

from chargescope.analyzer.correlate.model import LinkEvent, LinkSession
from chargescope.analyzer.records import Message
from chargescope.analyzer.tls.pnc import (
    CONTRACT_MESSAGES,
    contract_certificate,
    contract_emaid,
)
from chargescope.analyzer.v2g.records import LinkAReport, V2GSession
from chargescope.analyzer.v2g.tree import body

AUTH = frozenset({"Authorization", "ContractAuthentication", "PaymentDetails"})
CERT = frozenset({"CertificateInstallation", "CertificateUpdate"})
LOOP = frozenset({"CurrentDemand", "ChargingStatus", "AC_ChargeLoop", "DC_ChargeLoop"})
FAULT_CODES = frozenset({"v2g.evse.shutdown", "v2g.evse.isolation_fault", "v2g.ac.rcd",
                         "v2g.ev.error", "v2g.dc.overvoltage", "v2g.dc.overcurrent"})


def _events(s: V2GSession, sdp: list[Message]) -> list[LinkEvent]:
    out: list[LinkEvent] = []
    secc_ip = s.secc.rpartition(":")[0].strip("[]")
    for m in sdp:
        if m.fields.get("SECCIPAddress") == secc_ip:
            out.append(LinkEvent(m.ts_ns, "v2g.sdp", {"port": m.fields.get("SECCPort")}, m))
            break
    loop_msgs: list[Message] = []
    for ex in s.exchanges:
        res, req = ex.response, ex.request
        if res is None:
            continue
        b = body(res)
        code = str(b.get("ResponseCode", ""))
        processing = str(b.get("EVSEProcessing", ""))
        ok = code.startswith("OK")
        name = ex.name
        if name == "supportedAppProtocol" and ok:
            out.append(LinkEvent(res.ts_ns, "v2g.handshake", {"namespace": s.namespace}, res))
        elif name == "SessionSetup" and ok:
            out.append(LinkEvent(res.ts_ns, "v2g.session_setup", {"session_id": s.session_id},
                                 res))
        elif name in AUTH and code.startswith("FAILED"):
            out.append(LinkEvent(res.ts_ns, "v2g.auth_failed", {"response_code": code}, res))
        elif name in AUTH and ok and processing.startswith("Ongoing"):
            out.append(LinkEvent(res.ts_ns, "v2g.auth_ongoing", {}, res))
        elif name in ("Authorization", "ContractAuthentication") and ok and processing in (
                "Finished", ""):
            out.append(LinkEvent(res.ts_ns, "v2g.auth_ok", {"payment": s.payment}, res))
        elif name in CERT and code.startswith("FAILED"):
            out.append(LinkEvent(res.ts_ns, "v2g.cert_failed", {"response_code": code}, res))
        elif name == "PowerDelivery" and req is not None:
            rb = body(req)
            stop = rb.get("ChargeProgress") in ("Stop", "Standby") or \
                rb.get("ReadyToChargeState") is False
            out.append(LinkEvent(res.ts_ns, "v2g.stop" if stop else "v2g.charging", {}, res))
        elif name in LOOP:
            loop_msgs.append(res)
        elif name == "SessionStop":
            out.append(LinkEvent(res.ts_ns, "v2g.stop", {"response_code": code}, res))
    if loop_msgs:  # the charge loop as its first and last moment (not thousands of events)
        out.append(LinkEvent(loop_msgs[0].ts_ns, "v2g.charging_loop", {}, loop_msgs[0]))
        if len(loop_msgs) > 1:
            out.append(LinkEvent(loop_msgs[-1].ts_ns, "v2g.charging_loop", {}, loop_msgs[-1]))
    o = s.outcome
    if o.status == "failed":
        cause = next((f for f in s.findings if f.code == o.code), None)
        ts = cause.ts_ns if cause else s.end_ns
        if o.stage == "cable check":
            out.append(LinkEvent(ts, "v2g.cable_check_failed", {"code": o.code}))
        elif o.stage == "precharge":
            out.append(LinkEvent(ts, "v2g.precharge_failed", {"code": o.code}))
        out.append(LinkEvent(ts, "v2g.failed", {"code": o.code, "stage": o.stage,
                                                "reason": o.reason}))
    return sorted(out, key=lambda e: e.ts_ns)


def _stop_reason(s: V2GSession) -> str:
    codes = {f.code for f in s.findings}
    if codes & FAULT_CODES:
        return "fault"
    if "v2g.evse.stop_requested" in codes:
        return "evse"
    if s.outcome.status == "success" or "v2g.session.no_stop" in codes:
        return "ev"
    return "other" if s.outcome.status == "failed" else ""


def link_sessions(report: LinkAReport, source: str) -> list[LinkSession]:
    """One `LinkSession` (kind "v2g") per V2G session of one capture source."""
    sdp = [m for m in report.discovery if m.name == "SDPResponse"]
    out = []
    for s in report.sessions:
        keys = {k: v for k, v in (("session_id", s.session_id), ("evccid", s.evcc_id),
                                  ("evse_id", s.evse_id)) if v}
        emaid = next((found for m in s.messages
                      if m.name in CONTRACT_MESSAGES and (found := contract_emaid(m))), "")
        if emaid:
            keys["emaid"] = emaid
        contract = next((found for m in s.messages if m.name in CONTRACT_MESSAGES
                         and (found := contract_certificate(m)) is not None), None)
        if contract is not None:
            keys["contract_serial"] = format(contract.serial_number, "x")
        out.append(LinkSession(
            link="A", kind="v2g", ident=s.session_id or f"tcp{s.connections[0]}",
            source=source, start_ns=s.start_ns, end_ns=s.end_ns, keys=keys,
            outcome=s.outcome.status, stage=s.outcome.stage, stop_reason=_stop_reason(s),
            protocol=s.protocol_title, events=tuple(_events(s, sdp)), findings=s.findings,
            messages=s.messages))
    return out
