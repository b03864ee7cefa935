"""The V2G request/response dialogue on link A and the steps every protocol shares.

`Dialogue` keeps the clock of one TCP connection; `authorize` is the EVSEProcessing=
Ongoing wait while the charger asks the CSMS (its times are what links B and C follow);
`dc_precharge` is CableCheck and PreCharge for DIN 70121 and ISO 15118-2.
"""

from __future__ import annotations

import random
from typing import Any

from chargescope.analyzer.simulate import v2g_trees as t
from chargescope.analyzer.simulate.events import V2g
from chargescope.analyzer.simulate.facts import MS, Facts, charge_samples
from chargescope.analyzer.simulate.scenarios import Fault, Scenario
from chargescope.analyzer.tls import xmldsig
from chargescope.dissectors import exi

PT_SAP = 0x8001  # supportedAppProtocol, DIN 70121, ISO 15118-2
PT_ISO20 = 0x8002  # ISO 15118-20 common messages
PT_ISO20_DC = 0x8004
EIM_TAP_DELAY_NS = 1_200 * MS  # the driver taps the RFID card after the EV asked
CSMS_ANSWER_NS = 180 * MS  # Authorize round trip charger -> CSMS (-> eMSP) -> charger


class Dialogue:
    """The V2G request/response sequence on one TCP connection, with its clock."""

    def __init__(self, events: list, rng: random.Random, ts_ns: int) -> None:
        self.events, self.rng, self.t = events, rng, ts_ns
        self.schema, self.ptype = "iso2", PT_SAP  # of the exchanges `_authorize` repeats

    def ms(self, low: float, high: float) -> int:
        return int(self.rng.uniform(low, high) * MS)

    def pair(self, schema: str, ptype: int, req: dict, res: dict, think: tuple = (8, 25),
             proc: tuple = (15, 45)) -> int:
        """EV request after `think` ms, EVSE response `proc` ms later; returns request time."""
        sent = self.t + self.ms(*think)
        self.events.append(V2g(sent, True, schema, ptype, req))
        self.t = sent + self.ms(*proc)
        self.events.append(V2g(self.t, False, schema, ptype, res))
        return sent


def handshake(d: Dialogue, scn: Scenario) -> None:
    offers = {"iso20": [(t.NS_ISO20_DC, 1, 0), (t.NS_ISO2, 2, 0), (t.NS_DIN, 2, 0)],
              "iso2": [(t.NS_ISO2, 2, 0), (t.NS_DIN, 2, 0)],
              "din": [(t.NS_DIN, 2, 0)]}[scn.protocol]
    d.pair("appHand", PT_SAP, t.app_protocol_req(offers), t.app_protocol_res(1))


def authorize(d: Dialogue, facts: Facts, scn: Scenario, req: Any, res: Any, pnc: bool) -> bool:
    """The authorization wait: Ongoing until the CSMS answered on link B, then the verdict.

    `req()` builds the request, `res(processing, ok)` the response. EIM: the driver taps
    the card some time after the EV asked; PnC: the charger forwards the contract at once.
    """
    first = d.t
    facts.auth_request_ns = first + (40 * MS if pnc else EIM_TAP_DELAY_NS)
    facts.auth_answer_ns = facts.auth_request_ns + CSMS_ANSWER_NS
    ok = Fault.CSMS_REJECTS not in scn.faults
    while True:
        d.pair(d.schema, d.ptype, req(), res("Ongoing", True), think=(90, 110) if d.t > first
               else (8, 25))
        if d.t >= facts.auth_answer_ns:
            break
    d.pair(d.schema, d.ptype, req(), res("Finished", ok), think=(90, 110))
    return ok


def loop_times(facts: Facts, scn: Scenario, start: int) -> None:
    facts.samples = charge_samples(scn.charge, start)


def signature(key: Any, ref: str, name: str, body: dict, schema: str = "iso2") -> dict:
    """The Header Signature of a PnC message: element `name` (Id `ref`) signed by `key`, as
    ISO 15118 prescribes (EXI-fragment digest, ECDSA over the EXI SignedInfo, raw r||s)."""
    return xmldsig.sign([(ref, name, body)], key, schema, exi.encode_fragment)


def dc_precharge(d: Dialogue, scn: Scenario, facts: Facts, schema: str, msg: Any,
                  din: bool) -> bool:
    """CableCheck (Ongoing, then the verdict) and PreCharge until the voltages meet."""
    ch = scn.charge
    fail = Fault.CABLE_CHECK in scn.faults
    for index in range(4):
        last = index == 3
        processing = "Finished" if last else "Ongoing"
        code = "FAILED" if last and fail else "OK"
        status = t.dc_evse_status(din, code="EVSE_EmergencyShutdown" if last and fail else
                                  "EVSE_Ready", isolation="Fault" if last and fail else "Valid")
        d.pair(schema, PT_SAP, msg("CableCheckReq", {"DC_EVStatus": t.dc_ev_status(ch.soc_start)}),
               msg("CableCheckRes", {"ResponseCode": code, "DC_EVSEStatus": status,
                                     "EVSEProcessing": processing}),
               think=(8, 25) if not index else (450, 550))
    if fail:
        return False
    target = round(ch.voltage_v * 0.97, 1)
    for step in range(6):
        present = round(target * min(1.0, 0.25 + 0.16 * step), 1)
        d.pair(schema, PT_SAP, msg("PreChargeReq", {"DC_EVStatus": t.dc_ev_status(ch.soc_start),
                                                    "EVTargetVoltage": t.pv(target, "V"),
                                                    "EVTargetCurrent": t.pv(2, "A")}),
               msg("PreChargeRes", {"ResponseCode": "OK",
                                    "DC_EVSEStatus": t.dc_evse_status(din),
                                    "EVSEPresentVoltage": t.pv(present, "V")}), think=(40, 60))
    return True
