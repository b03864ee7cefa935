"""V2G message trees in EXIficient JSON form (DESIGN.md, "EXI decoded form").

One small builder per message, per protocol family: ISO 15118-2 and DIN 70121 share
the `V2G_Message` envelope, ISO 15118-20 puts the Header inside each message. Child
order follows the XSDs (the reference codec's order), values are realistic. The link A
script picks the builders; the EXI encoder turns the trees into bytes.
"""

from __future__ import annotations

from typing import Any

Tree = dict[str, Any]

NS_ISO2 = "urn:iso:15118:2:2013:MsgDef"
NS_DIN = "urn:din:70121:2012:MsgDef"
NS_ISO20_DC = "urn:iso:std:iso:15118:-20:DC"


def _scaled(value: float) -> tuple[int, int]:
    """(multiplier, value) with the value in int16 range and one decimal where it fits."""
    multiplier = -1
    scaled = round(value * 10)
    while abs(scaled) > 32767:
        multiplier += 1
        scaled = round(value / 10 ** multiplier)
    return multiplier, scaled


def pv(value: float, unit: str) -> Tree:
    """ISO 15118-2 / DIN 70121 PhysicalValueType."""
    multiplier, scaled = _scaled(value)
    return {"Multiplier": multiplier, "Unit": unit, "Value": scaled}


def rational(value: float) -> Tree:
    """ISO 15118-20 RationalNumberType."""
    exponent, scaled = _scaled(value)
    return {"Exponent": exponent, "Value": scaled}


def app_protocol_req(offers: list[tuple[str, int, int]]) -> Tree:
    """supportedAppProtocolReq with (namespace, major, minor) offers in priority order."""
    return {"supportedAppProtocolReq": {"AppProtocol": [
        {"ProtocolNamespace": ns, "VersionNumberMajor": major, "VersionNumberMinor": minor,
         "SchemaID": index + 1, "Priority": index + 1}
        for index, (ns, major, minor) in enumerate(offers)]}}


def app_protocol_res(schema_id: int) -> Tree:
    return {"supportedAppProtocolRes": {"ResponseCode": "OK_SuccessfulNegotiation",
                                        "SchemaID": schema_id}}


def v2g(session_id: str, name: str, body: Tree, signature: Tree | None = None) -> Tree:
    """The DIN / ISO 15118-2 envelope."""
    header: Tree = {"SessionID": session_id}
    if signature is not None:
        header["Signature"] = signature
    return {"V2G_Message": {"Header": header, "Body": {name: body}}}


def iso20(session_id: str, timestamp: int, name: str, body: Tree) -> Tree:
    """The ISO 15118-20 message: the Header is the message's first child."""
    return {name: {"Header": {"SessionID": session_id, "TimeStamp": timestamp}, **body}}


# ---- ISO 15118-2 and DIN 70121 common parts ------------------------------------------

def dc_ev_status(soc: int, ready: bool = True) -> Tree:
    return {"EVReady": ready, "EVErrorCode": "NO_ERROR", "EVRESSSOC": soc}


def dc_evse_status(din: bool, code: str = "EVSE_Ready", isolation: str = "Valid") -> Tree:
    if din:  # DIN orders the isolation status and status code first
        return {"EVSEIsolationStatus": isolation, "EVSEStatusCode": code,
                "NotificationMaxDelay": 0, "EVSENotification": "None"}
    return {"NotificationMaxDelay": 0, "EVSENotification": "None",
            "EVSEIsolationStatus": isolation, "EVSEStatusCode": code}


def ac_evse_status() -> Tree:
    return {"NotificationMaxDelay": 0, "EVSENotification": "None", "RCD": False}


def meter_info(meter_id: str, reading_wh: int, tmeter: int) -> Tree:
    return {"MeterID": meter_id, "MeterReading": reading_wh, "TMeter": tmeter}
