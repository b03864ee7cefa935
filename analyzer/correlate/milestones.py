"""The milestone vocabulary: what each link's session builder reports to the correlator.

Per-link analyzers summarise their sessions as `LinkSession`s carrying `LinkEvent`s
named from this table; cross-link checks reason over these names only, so a new
protocol version or log format plugs in by emitting the same milestones. Names are
stable (like finding codes). The value says which link emits it and what it means.
"""

from __future__ import annotations

MILESTONES: dict[str, tuple[str, str]] = {
    # link A, layer 2
    "slac.parm": ("A", "EV started SLAC (CM_SLAC_PARM.REQ)"),
    "slac.matched": ("A", "SLAC match confirmed (CM_SLAC_MATCH.CNF)"),
    "slac.failed": ("A", "SLAC run ended without a match"),
    # link A, V2G
    "v2g.sdp": ("A", "SECC discovered (SDP response)"),
    "v2g.handshake": ("A", "supportedAppProtocol agreed"),
    "v2g.session_setup": ("A", "SessionSetup completed"),
    "v2g.auth_ok": ("A", "Authorization (or ContractAuthentication) finished with OK"),
    "v2g.auth_ongoing": ("A", "EVSE kept answering EVSEProcessing=Ongoing to authorization"),
    "v2g.auth_failed": ("A", "Authorization answered with a FAILED response code"),
    "v2g.cert_failed": ("A", "CertificateInstallation/Update failed"),
    "v2g.cable_check_failed": ("A", "CableCheck failed or never finished"),
    "v2g.precharge_failed": ("A", "PreCharge failed or never reached the target"),
    "v2g.charging": ("A", "Energy transfer started (PowerDelivery Start)"),
    "v2g.charging_loop": ("A", "Still in the charging loop (CurrentDemand / ChargingStatus)"),
    "v2g.stop": ("A", "Session stopped (PowerDelivery Stop / SessionStop)"),
    "v2g.failed": ("A", "A response carried FAILED or the session broke off"),
    # link A, CHAdeMO over CAN (no EVCCID: joins B/C by site map and time)
    "chademo.start": ("A", "First CHAdeMO vehicle frame (detail: protocol)"),
    "chademo.charging": ("A", "Charger energizing (H'109.5.0 set)"),
    "chademo.stop": ("A", "Stop began (detail: event)"),
    "chademo.failed": ("A", "Session failed (detail: code of the worst finding)"),
    # link B, OCPP
    "ocpp.boot": ("B", "BootNotification answered"),
    "ocpp.authorize_accepted": ("B", "Authorize answered Accepted"),
    "ocpp.authorize_rejected": ("B", "Authorize answered Invalid/Blocked/Expired/Unknown/..."),
    "ocpp.cert_failed": ("B", "Get15118EVCertificate / GetCertificateStatus / Authorize(iso15118) failed"),
    "ocpp.tx_started": ("B", "Transaction started (StartTransaction / TransactionEvent Started)"),
    "ocpp.tx_ended": ("B", "Transaction ended (StopTransaction / TransactionEvent Ended)"),
    "ocpp.status": ("B", "Connector/EVSE status change (detail: status)"),
    "ocpp.remote_start": ("B", "RemoteStartTransaction / RequestStartTransaction answered"),
    "ocpp.meter": ("B", "Meter value (detail: energy_wh)"),
    # link C, OCPI
    "ocpi.start_session": ("C", "START_SESSION command answered (detail: result)"),
    "ocpi.command_result": ("C", "Command result callback received (detail: result)"),
    "ocpi.token_authorized": ("C", "Token real-time authorization (detail: allowed)"),
    "ocpi.token_known": ("C", "Token object seen on link C (detail: valid, whitelist)"),
    "ocpi.token_unknown": ("C", "Token lookup answered unknown (HTTP 404 or 2004)"),
    "ocpi.session_active": ("C", "Session reported ACTIVE"),
    "ocpi.session_completed": ("C", "Session reported COMPLETED"),
    "ocpi.cdr": ("C", "CDR received (detail: total_energy kWh)"),
}


def milestone_link(name: str) -> str:
    """The link that emits milestone `name` ('' for an unknown name)."""
    entry = MILESTONES.get(name)
    return entry[0] if entry else ""
