"""The V2G message sequences as transition tables: rule 1 of h11's _state.py applies — every
fact about which request may follow which lives here, and nowhere else.

`NEXT[protocol][last request] = requests the EVCC may send next` (base names). Loop requests
(EVSEProcessing=Ongoing, charge loops) list themselves. "start" is the state of a fresh TCP
connection. Where the standards allow the EVCC to end the session early we allow SessionStop,
because a sequence finding must mean a real violation ([V2G2-538], [V2G-DC-666]).
"""

from __future__ import annotations

from chargescope.analyzer.v2g.protocols import DIN, ISO2, ISO20

START = "start"
# Steps only a DC session takes (an AC session that sends them is out of sequence)
DC_ONLY = frozenset({"CableCheck", "PreCharge", "CurrentDemand", "WeldingDetection",
                     "DC_CableCheck", "DC_PreCharge", "DC_ChargeLoop", "DC_WeldingDetection"})
_HS = "supportedAppProtocol"
PD_STOP = "PowerDelivery:stop"  # PowerDelivery asking to stop is a state of its own


def state_of(base: str, body: dict) -> str:
    """The table state a request leaves the connection in (its base name, except that
    PowerDeliveryReq(ChargeProgress=Stop / ReadyToChargeState=false) ends energy transfer)."""
    if base == "PowerDelivery" and (body.get("ChargeProgress") == "Stop"
                                    or body.get("ReadyToChargeState") is False):
        return PD_STOP
    return base


def _table(rows: dict[str, str]) -> dict[str, frozenset[str]]:
    return {state: frozenset(nxt.split()) for state, nxt in rows.items()}


NEXT: dict[str, dict[str, frozenset[str]]] = {
    # DIN 70121 §9.4 (DC only, EIM / ExternalPayment only)
    DIN: _table({
        START: _HS,
        _HS: "SessionSetup",
        "SessionSetup": "ServiceDiscovery SessionStop",
        "ServiceDiscovery": "ServiceDetail ServicePaymentSelection SessionStop",
        "ServiceDetail": "ServiceDetail ServicePaymentSelection SessionStop",
        "ServicePaymentSelection": "ContractAuthentication SessionStop",
        "ContractAuthentication": "ContractAuthentication ChargeParameterDiscovery SessionStop",
        "ChargeParameterDiscovery": "ChargeParameterDiscovery CableCheck PowerDelivery SessionStop",
        "CableCheck": "CableCheck PreCharge PowerDelivery SessionStop",
        "PreCharge": "PreCharge PowerDelivery SessionStop",
        "PowerDelivery": "CurrentDemand WeldingDetection PowerDelivery SessionStop",
        PD_STOP: "WeldingDetection PowerDelivery SessionStop",
        "CurrentDemand": "CurrentDemand PowerDelivery SessionStop",
        "WeldingDetection": "WeldingDetection SessionStop",
        "SessionStop": "",
    }),
    # ISO 15118-2 §8.8 (AC and DC, EIM and PnC, renegotiation, pause)
    ISO2: _table({
        START: _HS,
        _HS: "SessionSetup",
        "SessionSetup": "ServiceDiscovery SessionStop",
        "ServiceDiscovery": "ServiceDetail PaymentServiceSelection SessionStop",
        "ServiceDetail": "ServiceDetail PaymentServiceSelection SessionStop",
        "PaymentServiceSelection":
            "PaymentDetails CertificateInstallation CertificateUpdate Authorization SessionStop",
        "CertificateInstallation": "PaymentDetails SessionStop",
        "CertificateUpdate": "PaymentDetails SessionStop",
        "PaymentDetails": "Authorization SessionStop",
        "Authorization": "Authorization ChargeParameterDiscovery SessionStop",
        "ChargeParameterDiscovery":
            "ChargeParameterDiscovery CableCheck PowerDelivery SessionStop",
        "CableCheck": "CableCheck PreCharge PowerDelivery SessionStop",
        "PreCharge": "PreCharge PowerDelivery SessionStop",
        "PowerDelivery": "CurrentDemand ChargingStatus WeldingDetection ChargeParameterDiscovery "
                         "PowerDelivery SessionStop",
        PD_STOP: "WeldingDetection PowerDelivery SessionStop",
        "CurrentDemand": "CurrentDemand MeteringReceipt PowerDelivery SessionStop",
        "ChargingStatus": "ChargingStatus MeteringReceipt PowerDelivery SessionStop",
        "MeteringReceipt": "CurrentDemand ChargingStatus PowerDelivery SessionStop",
        "WeldingDetection": "WeldingDetection SessionStop",
        "SessionStop": "",
    }),
    # ISO 15118-20 §8.8 (AC/DC incl. BPT, scheduled and dynamic control, service renegotiation)
    ISO20: _table({
        START: _HS,
        _HS: "SessionSetup",
        "SessionSetup": "AuthorizationSetup SessionStop",
        "AuthorizationSetup": "Authorization CertificateInstallation SessionStop",
        "CertificateInstallation": "CertificateInstallation Authorization SessionStop",
        "Authorization": "Authorization ServiceDiscovery SessionStop",
        "ServiceDiscovery": "ServiceDetail ServiceSelection SessionStop",
        "ServiceDetail": "ServiceDetail ServiceSelection SessionStop",
        "ServiceSelection": "AC_ChargeParameterDiscovery DC_ChargeParameterDiscovery "
                            "VehicleCheckIn SessionStop",
        "VehicleCheckIn": "VehicleCheckIn AC_ChargeParameterDiscovery "
                          "DC_ChargeParameterDiscovery ScheduleExchange SessionStop",
        "AC_ChargeParameterDiscovery": "ScheduleExchange SessionStop",
        "DC_ChargeParameterDiscovery": "ScheduleExchange SessionStop",
        "ScheduleExchange": "ScheduleExchange DC_CableCheck PowerDelivery SessionStop",
        "DC_CableCheck": "DC_CableCheck DC_PreCharge SessionStop",
        "DC_PreCharge": "DC_PreCharge PowerDelivery SessionStop",
        "PowerDelivery": "AC_ChargeLoop DC_ChargeLoop DC_WeldingDetection ScheduleExchange "
                         "DC_PreCharge MeteringConfirmation PowerDelivery VehicleCheckOut "
                         "SessionStop",
        PD_STOP: "DC_WeldingDetection MeteringConfirmation PowerDelivery VehicleCheckOut "
                 "SessionStop",
        "AC_ChargeLoop": "AC_ChargeLoop MeteringConfirmation PowerDelivery SessionStop",
        "DC_ChargeLoop": "DC_ChargeLoop MeteringConfirmation PowerDelivery SessionStop",
        "MeteringConfirmation": "AC_ChargeLoop DC_ChargeLoop PowerDelivery SessionStop",
        "DC_WeldingDetection": "DC_WeldingDetection VehicleCheckOut SessionStop",
        "VehicleCheckOut": "VehicleCheckOut SessionStop",
        # SessionStop(ServiceRenegotiation) returns to service discovery on the same session
        "SessionStop": "ServiceDiscovery",
    }),
}


def allowed_next(protocol: str | None, state: str) -> frozenset[str] | None:
    """Requests allowed after `state`; None when the protocol/state is unknown (no judgement)."""
    table = NEXT.get(protocol or "")
    if table is None:
        return None
    return table.get(state)
