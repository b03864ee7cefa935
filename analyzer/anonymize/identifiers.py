"""Which decoded fields hold identifiers, and collecting their values from messages.

The field names are those the dissectors use (EXI element names, OCPP and OCPI JSON
keys); registering a name here is all it takes to pseudonymise another identifier.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from chargescope.analyzer.records import Message

# text identifiers, replaced wherever their text (or, in EXI, their bits) appears
TEXT_ID_FIELDS: frozenset[str] = frozenset({
    "EVSEID", "evse_id", "evseId_text", "eMAID", "EMAID", "contract_id", "idTag", "parentIdTag",
    "idToken", "uid", "token_uid", "visual_number", "MeterID", "meterSerialNumber",
    "serialNumber", "chargePointSerialNumber", "chargeBoxSerialNumber", "session_id",
    "evse_uid", "evse_uids", "location_id", "cdr_id", "authorization_reference",
    "chargePointId", "charging_station_id", "charge_point_id",
})
# binary identifiers given as hex in the fields (EVCCID is the EV's MAC in ISO/DIN)
HEX_ID_FIELDS: frozenset[str] = frozenset({"EVCCID"})
# certificates: DER in EXI (shown base64), PEM text in OCPP 2.x JSON
CERT_FIELDS: frozenset[str] = frozenset({
    "Certificate", "OEMProvisioningCert", "ContractSignatureEncryptedPrivateKey",
    "certificate", "certificateChain", "exiRequest", "exiResponse",
})
# OCPI party ids: short, so only replaced in HTTP text, never by bit search
PARTY_FIELDS: frozenset[str] = frozenset({"party_id", "ocpi-from-party-id", "ocpi-to-party-id"})
# the charge point id is the last segment of the OCPP WebSocket path
_OCPP_PATH = re.compile(r"/([^/?\s]+)/?$")
_HEX = re.compile(r"^(?:[0-9A-Fa-f]{2})+$")
MIN_TEXT = 4  # shorter values are too likely to occur by chance in other bytes


@dataclass(slots=True)
class Identifiers:
    """Identifier values found in one run, over every input file."""

    texts: set[str] = field(default_factory=set)
    binaries: set[bytes] = field(default_factory=set)
    parties: set[str] = field(default_factory=set)
    certificates: set[bytes] = field(default_factory=set)  # DER, or PEM/base64 text
    # OCSP request / certificate hash data entries (serial, issuer name and key hashes)
    hash_data: list[dict[str, str]] = field(default_factory=list)

    def add_messages(self, messages: Iterable[Message]) -> None:
        for message in messages:
            for tree in (message.fields, *_data_transfer_json(message)):
                self._add_tree(tree)
            path = message.fields.get("path")
            if isinstance(path, str) and path.startswith("/ocpp"):
                self._add_path(path)

    def _add_tree(self, tree: Any) -> None:
        try:
            for key, value in _leaves(tree):
                self._add(key, value)
            self.hash_data += [e for e in _hash_data(tree) if e not in self.hash_data]
        except RecursionError:  # a hostile DataTransfer string nested too deep to walk
            return

    def _add(self, key: str, value: Any) -> None:
        if not isinstance(value, str) or not value:
            return
        if key in TEXT_ID_FIELDS and len(value) >= MIN_TEXT and not _all_zero_hex(value):
            self.texts.add(value)
            if key == "EVSEID" and _HEX.match(value):  # DIN binary EVSEID shown as hex
                self.binaries.add(bytes.fromhex(value))
        elif key in HEX_ID_FIELDS and _HEX.match(value) and not _all_zero_hex(value):
            self.binaries.add(bytes.fromhex(value))
        elif key in CERT_FIELDS and len(value) >= 32:
            self.certificates.add(value.encode())
            with contextlib.suppress(binascii.Error, ValueError):
                self.certificates.add(base64.b64decode(value, validate=True))
        elif key in PARTY_FIELDS and value.isalnum():
            self.parties.add(value)

    def _add_path(self, path: str) -> None:
        match = _OCPP_PATH.search(path)
        if match and len(match.group(1)) >= MIN_TEXT:
            self.texts.add(match.group(1))


def _data_transfer_json(message: Message) -> list[Any]:
    """The JSON document an OCPP DataTransfer carries as its `data` string (OCA's 1.6 PnC
    whitepaper tunnels Authorize, GetCertificateStatus, GetInstalledCertificateIds...
    that way), requests and responses alike: the dissector unpacks only requests, whose
    vendorId names PnC. Its values sit in the frame as JSON string text, so the byte
    replacements planned from them rewrite them in place (same lengths)."""
    fields = message.fields
    payload = fields.get("payload")
    if message.protocol != "ocpp" or fields.get("action") != "DataTransfer" \
            or not isinstance(payload, dict):
        return []
    data = payload.get("data")
    if not isinstance(data, str) or data.lstrip()[:1] not in ("{", "["):
        return []
    try:
        return [json.loads(data)]
    except (ValueError, RecursionError):
        return []


def _hash_data(node: Any) -> Iterator[dict[str, str]]:
    """Dicts shaped like OCPP's OCSPRequestData / CertificateHashData, wherever they sit."""
    if isinstance(node, dict):
        if isinstance(node.get("serialNumber"), str) and isinstance(
                node.get("issuerNameHash"), str):
            yield {k: v for k, v in node.items() if isinstance(v, str)}
        for v in node.values():
            yield from _hash_data(v)
    elif isinstance(node, list):
        for v in node:
            yield from _hash_data(v)


def _all_zero_hex(value: str) -> bool:
    return bool(_HEX.match(value)) and not value.strip("0")


def _leaves(node: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, str(k))
    elif isinstance(node, list):
        for v in node:
            yield from _leaves(v, key)
    else:
        yield key, node
