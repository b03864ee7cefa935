"""Join keys: the identifiers the three links share, in one normal form each.

The same fact is spelled differently per link: an ISO 15118 EVSEID `DE*ABC*E123*1`
is `DEABCE1231` in an OCPI evse_id without separators; an eMAID `DE-ABC-C12345678-X`
may arrive as `DEABCC12345678X` in an OCPP idToken. Keys are compared only after
`normalise` so that a join never fails on punctuation or case.
"""

from __future__ import annotations

import re

# key name -> what it is (the links that carry it)
KEY_NAMES: dict[str, str] = {
    "ev_mac": "EV host MAC from SLAC (A)",
    "secc_mac": "SECC / EVSE MAC from SLAC or SDP (A)",
    "evccid": "EVCCID from SessionSetupReq (A), forwarded on B by some stations",
    "evse_id": "ISO 15118 EVSEID (A) / OCPI evse_id (C)",
    "emaid": "contract id: eMAID (A, PnC) / idToken type eMAID (B) / token contract_id (C)",
    "id_token": "OCPP idTag / idToken value (B)",
    "token_uid": "OCPI token uid (C)",
    "session_id": "V2G SessionID (A)",
    "charge_point_id": "OCPP charge point identity from the WebSocket URL (B)",
    "connector": "OCPP connectorId / evseId[:connectorId] (B)",
    "transaction_id": "OCPP transactionId (B)",
    "remote_start_id": "OCPP 2.x remoteStartId (B)",
    "authorization_reference": "OCPI authorization_reference (C) / OCPP remote start reference (B)",
    "ocpi_session_id": "OCPI session id (C)",
    "cdr_id": "OCPI CDR id (C)",
    "location_id": "OCPI location id (C)",
    "evse_uid": "OCPI EVSE uid (C)",
    "can_source": "file name of the CAN recording of a CHAdeMO session (A)",
}

_SEPARATORS = re.compile(r"[\s*\-_:.]")


def normalise(name: str, value: object) -> str:
    """The comparable form of key `name`'s value ('' when empty)."""
    if value is None:
        return ""
    text = str(value).strip()
    if not text:
        return ""
    if name in ("ev_mac", "secc_mac"):
        digits = re.sub(r"[^0-9a-fA-F]", "", text).lower()
        return ":".join(digits[i:i + 2] for i in range(0, len(digits), 2))
    if name == "evse_id":
        text = _hex_text(text)
    if name in ("evse_id", "emaid", "evccid"):
        return _SEPARATORS.sub("", text).upper()
    if name in ("id_token", "token_uid"):
        return text.upper()
    return text


_HEX = re.compile(r"(?:[0-9A-Fa-f]{2}){4,}")


def _hex_text(value: str) -> str:
    """DIN 70121 carries the EVSEID as hexBinary of its ASCII text ("44452A..." is "DE*...").

    Decoded only when every byte is printable ASCII with a letter among them, so a
    genuine ISO EVSEID (never pure hex: it holds '*' or country letters beyond F) stays.
    """
    if not _HEX.fullmatch(value):
        return value
    raw = bytes.fromhex(value)
    if all(0x20 < b < 0x7F for b in raw) and any(chr(b).isalpha() for b in raw):
        return raw.decode("ascii")
    return value


def identity_tokens(keys: dict[str, str]) -> set[str]:
    """The contract/token identities a session carries, in one comparable space.

    eMAID on A, idToken on B and contract_id / token uid on C all name the payer;
    an OCPP idToken may be the eMAID itself (PnC) or an RFID uid (EIM).
    """
    out = set()
    for name in ("emaid", "id_token", "token_uid"):
        value = keys.get(name, "")
        if value:
            out.add(_SEPARATORS.sub("", value).upper())
    return out
