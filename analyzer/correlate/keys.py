"""Join keys: the identifiers the three links share, in one normal form each.

The same fact is spelled differently per link: an ISO 15118 EVSEID `DE*ABC*E123*1`
is `DEABCE1231` in an OCPI evse_id without separators; an eMAID `DE-ABC-C12345678-X`
may arrive as `DEABCC12345678X` in an OCPP idToken, or without its optional check digit
(`DEABCC12345678`). Keys are compared only after `normalise` so that a join never fails on
punctuation, case or a dropped check digit.
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
    "contract_serial": "contract certificate serial number, hex: the certificate (A) / "
                       "Authorize iso15118CertificateHashData, comma-separated (B)",
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
# ISO 15118-2 Annex H / DIN SPEC 91286 eMAID without separators: country (2 letters),
# provider (3), eMA instance (9), optional check digit (1)
_EMAID = re.compile(r"[A-Z]{2}[A-Z0-9]{3}[A-Z0-9]{9}[A-Z0-9]?")
EMAID_CORE_LEN = 14


def emaid_core(value: object) -> str:
    """An eMAID in comparable form: no separators, upper case, no check digit.

    '' when `value` is not shaped like an eMAID (an RFID uid, a UUID, ...).
    """
    text = _SEPARATORS.sub("", str(value or "")).upper()
    return text[:EMAID_CORE_LEN] if _EMAID.fullmatch(text) else ""


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
    if name == "contract_serial":  # hex, as OCSP request data writes it: no case, no zeros
        return _SEPARATORS.sub("", text).lower().lstrip("0") or "0"
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
    an OCPP idToken may be the eMAID itself (PnC) or an RFID uid (EIM). eMAIDs are
    compared without their optional check digit.
    """
    out = set()
    for name in ("emaid", "id_token", "token_uid"):
        value = keys.get(name, "")
        if value and isinstance(value, str):
            out.add(emaid_core(value) or _SEPARATORS.sub("", value).upper())
    return out


def emaids(keys: dict[str, str]) -> dict[str, str]:
    """The eMAIDs a part names, core form -> as sent: its contract id, or else the tokens
    shaped like one (an OCPP 1.6 idTag, an OCPI token uid)."""
    names = ("emaid",) if emaid_core(keys.get("emaid", "")) else ("id_token", "token_uid")
    out: dict[str, str] = {}
    for name in names:
        core = emaid_core(keys.get(name, ""))
        if core:
            out.setdefault(core, str(keys[name]))
    return out
