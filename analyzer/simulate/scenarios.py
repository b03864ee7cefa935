"""The scenario catalogue: declarative descriptions of one charging session on three links.

A `Scenario` says who takes part (the identities every link must carry consistently:
EVSEID, eMAID / idToken / token uid, EVCCID, charge point id, transaction id, OCPI
session id, MACs), how each capture source's clock is off, what is charged, and which
failures are injected. `timeline.plan()` turns it into times and values; the link
renderers turn those into frames. `expected_findings` is the exact set of finding
codes `chargescope analyze` must report for the generated captures: the injected
failures and nothing else, when it is given the site map `render.site_map()` writes
(`analyze --site site.toml`), as a site operator would.

Add a scenario by adding one entry to `SCENARIOS` (a registration table).
"""

from __future__ import annotations

import enum
import hashlib
import uuid
from dataclasses import dataclass, field, replace

SECOND = 1_000_000_000


class Fault(enum.StrEnum):
    """The failures a scenario can inject; each is rendered on the link(s) that show it."""

    SLAC_TIMEOUT = "slac-timeout"  # EVSE never answers CM_SLAC_PARM.REQ
    CABLE_CHECK = "cable-check"  # CableCheckRes FAILED (isolation fault)
    CSMS_REJECTS = "csms-rejects"  # OCPP Authorize -> Invalid
    TOKEN_UNKNOWN_C = "token-unknown-c"  # OCPI token authorize -> 404 / 2004
    PNC_CERT = "pnc-cert"  # Get15118EVCertificate Failed on B, CertificateInstallation FAILED on A
    ENERGY_MISMATCH = "energy-mismatch"  # CDR total_energy disagrees with the OCPP meter
    OCPI_RESULT_TIMEOUT = "ocpi-result-timeout"  # START_SESSION accepted, no result, no session
    CLOCK_SKEW = "clock-skew"  # a capture source's clock is off by more than the 5 s threshold
    EMAID_MISMATCH = "emaid-mismatch"  # the charger forwards a stale contract on B (and so C)


@dataclass(frozen=True, slots=True)
class Identities:
    """Every identifier the three links share (see analyzer/correlate/keys.py)."""

    charge_point_id: str = "CP-DE-CSC-0042"
    connector_id: int = 1
    evse_id: str = "DE*CSC*E0042*1"  # ISO 15118 EVSEID; OCPI evse_id is the same
    location_id: str = "LOC-0042"
    evse_uid: str = "EVSE-0042-1"
    ev_mac: str = "02:00:5e:7a:11:01"
    secc_mac: str = "02:00:5e:10:42:01"
    ev_modem_mac: str = "02:00:5e:7a:11:02"  # the EV's PLC modem (CM_SET_KEY target)
    secc_modem_mac: str = "02:00:5e:10:42:02"
    emaid: str = "DE-CSC-C12345678-9"  # contract id (PnC) / token contract_id (C)
    rfid_uid: str = "04A1B2C3D4E5F6"  # EIM token uid (RFID)
    transaction_id: int = 7311  # OCPP 1.6 transactionId (2.0.1 uses `tx_uuid`)
    tx_uuid: str = "5c7a8f2e-1b3d-4c6e-9a0b-2d4f6e8a1c3e"
    ocpi_session_id: str = "SES-20260314-0042-0001"
    cdr_id: str = "CDR-20260314-0042-0001"
    authorization_reference: str = "AUTHREF-8C2D41"
    remote_start_id: int = 4711  # OCPP 2.0.1 remoteStartId; a remote start's OCPI reference
    cpo_party: tuple[str, str] = ("DE", "CSC")
    emsp_party: tuple[str, str] = ("NL", "EMP")
    session_id_hex: str = "6A1F3C5E7B9D0A2C"  # V2G SessionID (8 bytes)
    cp_ip: str = "10.20.0.42"
    csms_ip: str = "10.20.0.1"
    cpo_ip: str = "192.0.2.10"  # CPO OCPI gateway
    emsp_ip: str = "198.51.100.20"

    @property
    def evccid(self) -> str:
        """EVCCID: the EV's MAC as 12 upper-case hex digits (ISO 15118-2 practice)."""
        return self.ev_mac.replace(":", "").upper()


@dataclass(frozen=True, slots=True)
class Charge:
    """What is charged: power electronics and duration of the energy transfer."""

    mode: str = "DC"  # "AC" or "DC"
    voltage_v: float = 400.0  # DC: battery voltage during charging; AC: phase voltage
    current_a: float = 120.0  # DC: target current; AC: per-phase current
    phases: int = 3  # AC only
    duration_s: float = 30.0  # short, to keep the files small
    loop_period_ms: int = 200  # CurrentDemand / ChargingStatus cycle
    soc_start: int = 38
    meter_start_wh: int = 1_254_310  # station meter reading at transaction start


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    summary: str
    protocol: str  # "iso2", "din" or "iso20" (the V2G protocol agreed on link A)
    payment: str  # "EIM" (external, RFID on B) or "PnC" (contract certificate)
    ocpp: str  # WebSocket subprotocol: "ocpp1.6" or "ocpp2.0.1"
    charge: Charge
    expected_findings: frozenset[str] = frozenset()
    faults: frozenset[Fault] = frozenset()
    ids: Identities = field(default_factory=Identities)
    remote_start: bool = False  # OCPI START_SESSION on link C starts the session
    # capture source -> clock offset (source clock minus reference clock); the PLC sniffer
    # beside the charger is the reference
    clock_offsets_ns: tuple[tuple[str, int], ...] = (("plc", 0), ("csms", 2_300_000_000),
                                                    ("ocpi", -1_100_000_000))
    start_ns: int = 1_773_480_600 * SECOND  # 2026-03-14T09:30:00Z on the reference clock

    def offset_ns(self, source: str) -> int:
        return dict(self.clock_offsets_ns).get(source, 0)


_AC = Charge(mode="AC", voltage_v=230.0, current_a=16.0, phases=3, duration_s=40.0,
             loop_period_ms=250, soc_start=55, meter_start_wh=884_120)
_DC = Charge()


def _happy(name: str, summary: str, **kw) -> Scenario:
    return Scenario(name=name, summary=summary, **kw)


def _fault(base: Scenario, name: str, summary: str, faults: set[Fault],
           expected: set[str], **kw) -> Scenario:
    return replace(base, name=name, summary=summary, faults=frozenset(faults),
                   expected_findings=frozenset(expected), **kw)


_AC_EIM = _happy("ac-eim", "", protocol="iso2", payment="EIM", ocpp="ocpp1.6", charge=_AC)
_DC_EIM = _happy("dc-eim", "", protocol="iso2", payment="EIM", ocpp="ocpp1.6", charge=_DC)
_DC_PNC = _happy("dc-pnc", "", protocol="iso2", payment="PnC", ocpp="ocpp2.0.1", charge=_DC)

_CATALOGUE: tuple[Scenario, ...] = (
    _happy("ac-eim-happy", "ISO 15118-2 AC, RFID (EIM) on OCPP 1.6, roaming via OCPI",
           protocol="iso2", payment="EIM", ocpp="ocpp1.6", charge=_AC),
    _happy("dc-pnc-happy", "ISO 15118-2 DC Plug & Charge, OCPP 2.0.1, roaming via OCPI",
           protocol="iso2", payment="PnC", ocpp="ocpp2.0.1", charge=_DC),
    _happy("iso20-dc-happy", "ISO 15118-20 DC, started from the eMSP app (OCPI START_SESSION "
           "-> RequestStartTransaction -> result), OCPP 2.0.1",
           protocol="iso20", payment="EIM", ocpp="ocpp2.0.1", charge=_DC, remote_start=True),
    _happy("din-dc-happy", "DIN 70121 DC (EIM only), OCPP 1.6, roaming via OCPI",
           protocol="din", payment="EIM", ocpp="ocpp1.6", charge=_DC),
    _fault(_DC_EIM, "slac-timeout",
           "EVSE never answers CM_SLAC_PARM.REQ: no link, no V2G; the charger goes back "
           "to Available", {Fault.SLAC_TIMEOUT},
           {"slac.parm.retry", "slac.parm.unanswered", "slac.retries.exhausted",
            "slac.run.incomplete", "xlink.join.unmatched"}),
    _fault(replace(_DC_EIM, protocol="din"), "cablecheck-failure",
           "DIN 70121 DC: CableCheck reports an isolation fault; the charger ends the "
           "transaction", {Fault.CABLE_CHECK},
           {"v2g.response.failed", "v2g.evse.isolation_fault", "v2g.evse.shutdown",
            "v2g.session.no_stop"}),
    _fault(_DC_EIM, "auth-rejected-b",
           "CSMS answers Authorize with Invalid for an RFID the eMSP allows on link C",
           {Fault.CSMS_REJECTS},
           {"ocpp.auth.rejected", "v2g.response.failed", "v2g.session.no_stop",
            "xlink.auth.b_rejected_c_allowed"}),
    _fault(_DC_EIM, "token-unknown-c",
           "CSMS accepts the RFID but the eMSP answers the OCPI token lookup with "
           "2004 Unknown Token", {Fault.TOKEN_UNKNOWN_C},
           {"ocpi.token.unknown", "xlink.auth.token_unknown_on_c"}),
    _fault(_DC_PNC, "pnc-cert-failure",
           "Plug & Charge: Get15118EVCertificate fails on B, so CertificateInstallation "
           "fails on A", {Fault.PNC_CERT},
           # the CSMS capture is plain ws:// (a simulated capture is not encrypted), which the
           # OCPP analyzer rightly reports for certificate operations
           {"v2g.response.failed", "v2g.session.no_stop", "xlink.pnc.certificate_failure",
            "ocpp.security.cert_ops_without_tls"}),
    _fault(_DC_EIM, "energy-mismatch",
           "The CDR on link C bills 0.31 kWh more energy than the OCPP meter on link B",
           {Fault.ENERGY_MISMATCH}, {"ocpi.cdr.session-mismatch", "xlink.energy.b_c_mismatch"}),
    _fault(replace(_DC_EIM, ocpp="ocpp2.0.1"), "ocpi-command-timeout",
           "eMSP sends OCPI START_SESSION, the CPO accepts it, but the result callback "
           "never arrives and no transaction starts on B", {Fault.OCPI_RESULT_TIMEOUT},
           {"ocpi.command.result-missing", "xlink.ocpi.start_no_transaction"},
           remote_start=True),
    _fault(_AC_EIM, "clock-skew",
           "A happy AC session, but the CSMS host's clock runs 7.5 s ahead of the PLC sniffer",
           {Fault.CLOCK_SKEW}, {"xlink.clock.offset"},
           clock_offsets_ns=(("plc", 0), ("csms", 7_500_000_000), ("ocpi", -1_100_000_000))),
    _fault(_DC_PNC, "pnc-emaid-mismatch",
           "Plug & Charge: the EV presents its contract certificate on A, but the charger "
           "forwards a cached stale contract (eMAID and certificate hash data) in Authorize "
           "/ TransactionEvent on B, which the CPO then reports in the OCPI session and CDR "
           "on C", {Fault.EMAID_MISMATCH},
           {"xlink.emaid.mismatch", "xlink.pnc.certificate_hash_mismatch"}),
)


def forwarded_emaid(scn: Scenario) -> str:
    """The eMAID the charger forwards to the CSMS on link B (and the CPO reports on link C):
    the EV's own, or with EMAID_MISMATCH a stale one (an earlier contract of the same eMSP
    cached by the charger) while link A carries the EV's contract certificate."""
    emaid = scn.ids.emaid
    if Fault.EMAID_MISMATCH not in scn.faults:
        return emaid
    country, provider, instance, check = emaid.split("-")
    return f"{country}-{provider}-C{(int(instance[1:]) + 4711) % 10**8:08d}-{check}"


SLOT_NS = 900 * SECOND  # scenarios happen one after another at the same site


def _placed(scn: Scenario, index: int) -> Scenario:
    """Give catalogue entry `index` its own time slot, EV, driver and session ids.

    All scenarios take place at one charger, a quarter of an hour apart, so any set of
    them can be analysed together (as `captures/demo/` is) without two stories sharing
    an EV, a token or a transaction.
    """
    digest = hashlib.sha256(scn.name.encode()).digest()
    n = index + 1
    site = scn.ids
    if scn.charge.mode == "AC":  # the site's AC wallbox beside the DC charger
        site = replace(site, charge_point_id="CP-DE-CSC-0017", evse_id="DE*CSC*E0017*1",
                       evse_uid="EVSE-0017-1", secc_mac="02:00:5e:10:17:01",
                       secc_modem_mac="02:00:5e:10:17:02", cp_ip="10.20.0.17")
    ids = replace(
        site,
        ev_mac=f"02:00:5e:7a:{n:02x}:01", ev_modem_mac=f"02:00:5e:7a:{n:02x}:02",
        emaid=f"DE-CSC-C{12345600 + n:08d}-{digest[0] % 10}",
        rfid_uid=f"04A1B2C3D4{n:04X}", transaction_id=7310 + n,
        tx_uuid=str(uuid.UUID(bytes=digest[:16], version=4)),
        ocpi_session_id=f"SES-20260314-0042-{n:04d}", cdr_id=f"CDR-20260314-0042-{n:04d}",
        authorization_reference=f"AUTHREF-{digest[1:4].hex().upper()}",
        remote_start_id=4700 + n, session_id_hex=digest[4:12].hex().upper())
    # each charger's meter keeps counting from one session to the next
    charge = replace(scn.charge, meter_start_wh=scn.charge.meter_start_wh + index * 2_500)
    return replace(scn, ids=ids, charge=charge, start_ns=scn.start_ns + index * SLOT_NS)


SCENARIOS: dict[str, Scenario] = {s.name: _placed(s, i) for i, s in enumerate(_CATALOGUE)}
