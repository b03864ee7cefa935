"""What the analyser knows about each V2G application protocol: namespaces, the EXI schema of
their messages, and the timing parameters each standard sets (every value cited here).

Message names are the request/response element names of the XSDs; the analyser works on the
*base* name (``CableCheck`` for ``CableCheckReq``/``CableCheckRes``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

DIN = "din"
ISO2 = "iso2"
ISO20 = "iso20"


@dataclass(frozen=True, slots=True)
class Protocol:
    key: str  # "din", "iso2", "iso20"
    title: str
    # V2G_EVCC_Msg_Timeout: how long the EV waits for each response before giving up (s)
    msg_timeout: dict[str, float]
    msg_timeout_default: float
    msg_timeout_ref: str
    # V2G_SECC_Msg_Performance_Time: how fast the charger should answer (s); {} = not checked
    performance: dict[str, float] = field(default_factory=dict)
    performance_default: float | None = None
    performance_ref: str = ""
    sequence_timeout: float = 60.0  # V2G_SECC_Sequence_Timeout
    ongoing_timeout: float = 60.0  # V2G_EVCC_Ongoing_Timeout (EVSEProcessing=Ongoing loops)
    cable_check_timeout: float = 40.0  # V2G_EVCC_CableCheck_Timeout
    precharge_timeout: float = 7.0  # V2G_EVCC_PreCharge_Timeout
    timers_ref: str = ""


PROTOCOLS: dict[str, Protocol] = {
    DIN: Protocol(
        DIN, "DIN SPEC 70121",
        # DIN 70121 §9.6.2 Table 75: 2 s for every message, 0.25 s for CurrentDemand.
        msg_timeout={"CurrentDemand": 0.25}, msg_timeout_default=2.0,
        msg_timeout_ref="DIN 70121 Table 75 (V2G_EVCC_Msg_Timeout)",
        # DIN 70121 §9.6.5.5 Table 77: V2G_EVCC_CableCheck_Timeout 40 s,
        # V2G_EVCC_PreCharge_Timeout 7 s; V2G_SECC_Sequence_Timeout 60 s (§9.6.2);
        # V2G_EVCC_Ongoing_Timeout 60 s.
        timers_ref="DIN 70121 §9.6",
    ),
    ISO2: Protocol(
        ISO2, "ISO 15118-2",
        # ISO 15118-2 Table 109 (V2G_EVCC_Msg_Timeout): 2 s by default; 5 s where the charger
        # may ask a backend (ServiceDetail, PaymentDetails, PowerDelivery, certificates);
        # 0.25 s for CurrentDemand.
        msg_timeout={"ServiceDetail": 5.0, "PaymentDetails": 5.0, "PowerDelivery": 5.0,
                     "CertificateInstallation": 5.0, "CertificateUpdate": 5.0,
                     "CurrentDemand": 0.25},
        msg_timeout_default=2.0,
        msg_timeout_ref="ISO 15118-2 Table 109 (V2G_EVCC_Msg_Timeout)",
        # ISO 15118-2 Table 109 (V2G_SECC_Msg_Performance_Time): 1.5 s by default, 4.5 s for
        # the backend messages (PowerDeliveryRes: [V2G2-858]), 25 ms for CurrentDemandRes.
        performance={"ServiceDetail": 4.5, "PaymentDetails": 4.5, "PowerDelivery": 4.5,
                     "CertificateInstallation": 4.5, "CertificateUpdate": 4.5,
                     "CurrentDemand": 0.025},
        performance_default=1.5,
        performance_ref="ISO 15118-2 Table 109 (V2G_SECC_Msg_Performance_Time)",
        # V2G_EVCC_CableCheck_Timeout 40 s, V2G_EVCC_PreCharge_Timeout 7 s,
        # V2G_EVCC_Ongoing_Timeout 60 s, V2G_SECC_Sequence_Timeout 60 s
        timers_ref="ISO 15118-2 §9.6",
    ),
    ISO20: Protocol(
        ISO20, "ISO 15118-20",
        # ISO 15118-20 Tables 216/217 (V2G_EVCC_Msg_Timeout): 2 s by default, 5 s for
        # ServiceDetail and CertificateInstallation, 0.5 s for the charge loops (the values
        # Josev 0.31.2 transcribes as well).
        msg_timeout={"ServiceDetail": 5.0, "CertificateInstallation": 5.0,
                     "AC_ChargeLoop": 0.5, "DC_ChargeLoop": 0.5},
        msg_timeout_default=2.0,
        msg_timeout_ref="ISO 15118-20 Tables 216/217 (V2G_EVCC_Msg_Timeout)",
        # V2G_EVCC_PreCharge_Timeout is 10 s in -20 (Josev transcribes the same value).
        precharge_timeout=10.0,
        timers_ref="ISO 15118-20 Table 215",
    ),
}

# supportedAppProtocol namespace -> protocol key (the handshake decides, [V2G20-1484])
NAMESPACES: dict[str, str] = {
    "urn:din:70121:2012:MsgDef": DIN,
    "urn:iso:15118:2:2013:MsgDef": ISO2,
    "urn:iso:15118:2:2010:MsgDef": ISO2,
    "urn:iso:std:iso:15118:-20:CommonMessages": ISO20,
    "urn:iso:std:iso:15118:-20:AC": ISO20,
    "urn:iso:std:iso:15118:-20:DC": ISO20,
    "urn:iso:std:iso:15118:-20:WPT": ISO20,
    "urn:iso:std:iso:15118:-20:ACDP": ISO20,
}


def protocol_of_schema(schema: str) -> str | None:
    """Protocol key from the EXI schema a message decoded with (when no handshake was seen)."""
    if schema == "din":
        return DIN
    if schema in ("iso2", "iso1"):
        return ISO2
    if schema.startswith("iso20"):
        return ISO20
    return None


def base_name(name: str) -> str:
    """`CableCheckReq` -> `CableCheck`; handshake messages keep a shared base."""
    if name.startswith("supportedAppProtocol"):
        return "supportedAppProtocol"
    if name.endswith(("Req", "Res")):
        return name[:-3]
    return name


def is_request(name: str) -> bool:
    return name.endswith("Req")


def is_response(name: str) -> bool:
    return name.endswith("Res")


# Requests the EVCC repeats while the charger answers EVSEProcessing=Ongoing, or by design.
LOOPS = frozenset({
    "ContractAuthentication", "Authorization", "ChargeParameterDiscovery", "CableCheck",
    "PreCharge", "CurrentDemand", "ChargingStatus", "WeldingDetection", "ServiceDetail",
    "ScheduleExchange", "DC_CableCheck", "DC_PreCharge", "DC_ChargeLoop", "AC_ChargeLoop",
    "DC_WeldingDetection", "CertificateInstallation", "VehicleCheckIn", "VehicleCheckOut",
})

# The stage a request belongs to, for the verdict ("failed at cable check").
STAGES: dict[str, str] = {
    "supportedAppProtocol": "handshake",
    "SessionSetup": "session setup",
    "ServiceDiscovery": "service discovery", "ServiceDetail": "service discovery",
    "ServicePaymentSelection": "payment selection", "PaymentServiceSelection": "payment selection",
    "ServiceSelection": "service selection",
    "CertificateInstallation": "certificate installation",
    "CertificateUpdate": "certificate update",
    "PaymentDetails": "authorization", "ContractAuthentication": "authorization",
    "AuthorizationSetup": "authorization", "Authorization": "authorization",
    "ChargeParameterDiscovery": "charge parameter discovery",
    "AC_ChargeParameterDiscovery": "charge parameter discovery",
    "DC_ChargeParameterDiscovery": "charge parameter discovery",
    "ScheduleExchange": "schedule exchange",
    "CableCheck": "cable check", "DC_CableCheck": "cable check",
    "PreCharge": "precharge", "DC_PreCharge": "precharge",
    "PowerDelivery": "power delivery",
    "CurrentDemand": "charging loop", "ChargingStatus": "charging loop",
    "AC_ChargeLoop": "charging loop", "DC_ChargeLoop": "charging loop",
    "MeteringReceipt": "charging loop", "MeteringConfirmation": "charging loop",
    "WeldingDetection": "welding detection", "DC_WeldingDetection": "welding detection",
    "SessionStop": "session stop",
    "VehicleCheckIn": "vehicle check-in", "VehicleCheckOut": "vehicle check-out",
}

# ISO 15118-20 energy transfer services (SelectedEnergyTransferService/ServiceID).
ENERGY_SERVICES: dict[int, str] = {1: "AC", 2: "DC", 3: "WPT", 4: "DC_ACDP", 5: "AC_BPT",
                                   6: "DC_BPT", 7: "DC_ACDP_BPT"}
