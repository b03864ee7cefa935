"""xmldsig signatures of V2G messages, re-made after anonymisation.

An ISO 15118 message signed by the EV (AuthorizationReq, MeteringReceiptReq,
CertificateInstallation/UpdateReq, ...) carries in its Header a SignedInfo with the
SHA-256 digest of each referenced body element's EXI fragment, and an ECDSA signature
over SignedInfo's own EXI fragment (xmldsig grammar), made with the key of the contract
or OEM provisioning certificate. After anonymisation the certificate has a new key (and
the body may hold pseudonyms), so the signature is made again: the rewritten message is
decoded, its digests recomputed from the rewritten elements, SignedInfo signed with the
re-issued certificate's key (r || s, the raw form ISO 15118 uses) and the message
encoded again at its own length. Which certificate signed a message is learnt by
verifying the original signature against every certificate of the run.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

from chargescope.analyzer.anonymize.certs import CertificateReissuer
from chargescope.analyzer.records import Message
from chargescope.analyzer.tls.pnc import _der as _b64  # base64Binary value of an EXI tree
from chargescope.analyzer.tls.xmldsig import message_element, signed_elements

XMLDSIG = "xmldsig"
_DIGESTS = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}
_HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


def _algorithm(uri: object, default: str = "sha256") -> str:
    text = str(uri or "").lower()
    return next((name for name in _DIGESTS if name in text), default)


def signature_of(tree: dict) -> dict | None:
    """The Header's Signature element of a decoded V2G message (ISO 15118-2 and -20)."""
    found = message_element(tree)
    signature = found[1]["Header"].get("Signature") if found else None
    return signature if isinstance(signature, dict) else None


def referenced(tree: dict, uri: str) -> tuple[str, dict] | None:
    """(element name, content) of the element whose Id the reference `#ID` names."""
    return signed_elements(tree).get(uri.removeprefix("#"))


def _references(signed_info: dict) -> list[dict]:
    refs = signed_info.get("Reference")
    refs = refs if isinstance(refs, list) else [refs]
    return [r for r in refs if isinstance(r, dict)]


@dataclass(slots=True)
class Resigner:
    """Re-signs rewritten V2G payloads (`resign`) with the keys of re-issued certificates."""

    signers: dict[bytes, ec.EllipticCurvePrivateKey] = field(default_factory=dict)
    schemas: list[str] = field(default_factory=list)  # of the signed messages seen
    resigned: int = 0

    def learn(self, messages: Iterable[Message], reissuer: CertificateReissuer) -> None:
        """Find who signed each signed message (original certificates, verified)."""
        from chargescope.dissectors import exi

        keys = [(der, c.public_key()) for der, c in reissuer.originals.items()
                if der in reissuer.new and isinstance(c.public_key(), ec.EllipticCurvePublicKey)]
        for message in messages:
            if message.protocol != "exi":
                continue
            signature = signature_of(message.fields)
            schema = message.fields.get("schema")
            if signature is None or not isinstance(schema, str):
                continue
            raw = _b64(signature.get("SignatureValue"))
            info = signature.get("SignedInfo")
            if raw is None or not isinstance(info, dict) or raw in self.signers:
                continue
            try:
                signed = exi.encode_fragment("SignedInfo", info, XMLDSIG)
            except Exception:  # noqa: BLE001 - a SignedInfo we cannot encode is not re-signed
                continue
            method = _algorithm((info.get("SignatureMethod") or {}).get("Algorithm"))
            for der, public in keys:
                if _verifies(public, raw, signed, method):
                    self.signers[raw] = reissuer.key_for_der(der)
                    if schema not in self.schemas:
                        self.schemas.append(schema)
                    break

    def resign(self, payload: bytes) -> bytes:
        """The EXI `payload`, re-signed when it is a message signed by a known signer;
        unchanged otherwise (or when it would not keep its length)."""
        if not self.signers:
            return payload
        from chargescope.dissectors import exi
        from chargescope.dissectors.exi import ExiError

        for schema in self.schemas:
            try:
                tree = exi.decode(payload, schema)
            except (ExiError, ValueError, KeyError, IndexError):
                continue
            signature = signature_of(tree)
            if signature is None:
                continue
            key = self.signers.get(_b64(signature.get("SignatureValue")) or b"")
            if key is None:
                return payload
            new = self._sign(tree, signature, key, schema)
            if new is None:
                return payload
            try:
                out = exi.encode(tree, schema)
            except (ExiError, ValueError, KeyError, IndexError):
                return payload
            if len(out) != len(payload):
                return payload
            self.resigned += 1
            return out
        return payload

    def _sign(self, tree: dict, signature: dict, key: ec.EllipticCurvePrivateKey,
              schema: str) -> bytes | None:
        from chargescope.dissectors import exi

        info = signature.get("SignedInfo")
        if not isinstance(info, dict):
            return None
        elements = signed_elements(tree)
        for ref in _references(info):
            target = elements.get(str(ref.get("URI", "")).removeprefix("#"))
            if target is None:
                return None
            digest = _DIGESTS[_algorithm((ref.get("DigestMethod") or {}).get("Algorithm"))]
            fragment = exi.encode_fragment(target[0], target[1], schema)
            ref["DigestValue"] = base64.b64encode(digest(fragment).digest()).decode()
        method = _algorithm((info.get("SignatureMethod") or {}).get("Algorithm"))
        signed = exi.encode_fragment("SignedInfo", info, XMLDSIG)
        r, s = utils.decode_dss_signature(
            key.sign(signed, ec.ECDSA(_HASHES[method](), deterministic_signing=True)))
        size = (key.curve.key_size + 7) // 8
        raw = r.to_bytes(size, "big") + s.to_bytes(size, "big")
        value = signature.get("SignatureValue")
        if isinstance(value, dict):
            value["value"] = base64.b64encode(raw).decode()
        else:
            signature["SignatureValue"] = base64.b64encode(raw).decode()
        return raw


def _verifies(public: ec.EllipticCurvePublicKey, raw: bytes, data: bytes, method: str) -> bool:
    size = (public.curve.key_size + 7) // 8
    if len(raw) != 2 * size:
        return False
    r, s = int.from_bytes(raw[:size], "big"), int.from_bytes(raw[size:], "big")
    try:
        public.verify(utils.encode_dss_signature(r, s), data, ec.ECDSA(_HASHES[method]()))
    except InvalidSignature:
        return False
    return True
