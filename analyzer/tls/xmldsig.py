"""xmldsig signatures in ISO 15118 messages (ISO 15118-2 §7.9.2.4, ISO 15118-20 §8.3.x).

A signed V2G message carries `Header.Signature`: a SignedInfo naming the signed elements
by `#Id` (References with a DigestMethod and DigestValue) and a SignatureValue over
SignedInfo. Both are computed over EXI, not XML text: each referenced element is encoded
as an EXI *fragment* with the message's schema and hashed (the canonicalization and the
only transform are `http://www.w3.org/TR/canonical-exi/`), and SignedInfo is encoded as a
fragment of the xmldsig schema and signed (ECDSA: the raw r||s, 64 bytes for secp256r1).

`SignatureChecker` verifies every signed message fed to it: the algorithms against what the
protocol allows, each Reference's Id against the message, each digest, and the signature
with the key of the certificate the standard names for that message (the contract
certificate for AuthorizationReq / MeteringReceiptReq / MeteringConfirmationReq and
CertificateUpdateReq, the OEM provisioning certificate for CertificateInstallationReq, the
SA / CPS provisioning chain for CertificateInstallation/UpdateRes). `sign` makes such a
signature (tests and the simulator).

EXI fragments come from `chargescope.dissectors.exi.encode_fragment(element_name, content,
schema) -> bytes` (a `FragmentEncoder`); while it is not available, digests and
signatures stay "unchecked" (the tls verb says so) and only the checks that need no EXI
(algorithms, Ids, certificate) run.

    from chargescope.analyzer.tls.xmldsig import XMLDSIG_FINDINGS, SignatureChecker, sign
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from chargescope.analyzer.findings import FindingRegistry
from chargescope.analyzer.records import Finding, FindingSpec, Message, Severity

FragmentEncoder = Callable[[str, dict, str], bytes]
SIGNED_INFO_SCHEMA = "xmldsig"  # SignedInfo is a fragment of the xmldsig-core schema

CANONICAL_EXI = "http://www.w3.org/TR/canonical-exi/"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
ECDSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"
EDDSA_ED448 = "http://www.w3.org/2021/04/xmldsig-more#eddsa-ed448"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
SHAKE256 = "http://www.w3.org/2007/05/xmldsig-more#shake256"


@dataclass(frozen=True, slots=True)
class SignatureMethod:
    kind: str  # "ecdsa" or "ed448"
    hash: type[hashes.HashAlgorithm] | None
    curve: type[ec.EllipticCurve] | None
    raw_length: int  # bytes of the raw signature value (r||s, or the EdDSA signature)


SIGNATURE_METHODS: dict[str, SignatureMethod] = {
    ECDSA_SHA256: SignatureMethod("ecdsa", hashes.SHA256, ec.SECP256R1, 64),
    ECDSA_SHA512: SignatureMethod("ecdsa", hashes.SHA512, ec.SECP521R1, 132),
    EDDSA_ED448: SignatureMethod("ed448", None, None, 114),
}
DIGEST_METHODS: dict[str, Callable[[bytes], bytes]] = {
    SHA256: lambda data: hashlib.sha256(data).digest(),
    SHA512: lambda data: hashlib.sha512(data).digest(),
    SHAKE256: lambda data: hashlib.shake_256(data).digest(64),
}
# What each protocol allows: ISO 15118-2 only ECDSA secp256r1 / SHA-256; ISO 15118-20 adds
# secp521r1 / SHA-512 and Ed448 / SHAKE256.
ALLOWED: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "iso2": (frozenset({ECDSA_SHA256}), frozenset({SHA256})),
    "iso20": (frozenset({ECDSA_SHA256, ECDSA_SHA512, EDDSA_ED448}),
              frozenset({SHA256, SHA512, SHAKE256})),
}

REQ2 = "ISO 15118-2 §7.9.2.4"
E, W, N = Severity.ERROR, Severity.WARNING, Severity.NOTE
XMLDSIG_FINDINGS: tuple[FindingSpec, ...] = (
    FindingSpec("pnc.signature.digest_mismatch", E, "security",
                "the digest of a signed element does not match the DigestValue in SignedInfo "
                "(the element was changed after signing, or encoded differently)", REQ2),
    FindingSpec("pnc.signature.invalid", E, "security",
                "the SignatureValue does not verify over SignedInfo with the signer's "
                "certificate key", REQ2),
    FindingSpec("pnc.signature.reference_missing", E, "security",
                "a Reference names an Id that no element of the message carries", REQ2),
    FindingSpec("pnc.signature.algorithm", E, "security",
                "canonicalization, transform, digest or signature method (or the signer's key "
                "type) is not what the protocol prescribes", REQ2),
    FindingSpec("pnc.signature.no_certificate", N, "security",
                "a signed message whose signer's certificate was not seen, so the signature "
                "could not be verified", REQ2),
    FindingSpec("pnc.signature.malformed", W, "malformed",
                "the Signature element is incomplete or its values are not base64", REQ2),
)

# message -> who signs it (the certificate whose key verifies the signature)
SIGNERS: dict[str, str] = {
    "AuthorizationReq": "contract", "MeteringReceiptReq": "contract",
    "MeteringConfirmationReq": "contract", "CertificateUpdateReq": "contract",
    "CertificateInstallationReq": "oem",
    "CertificateInstallationRes": "provisioning", "CertificateUpdateRes": "provisioning",
}
# where each signer's certificate travels (leaf first), in the message itself or earlier
CHAIN_ELEMENTS: dict[str, tuple[str, ...]] = {
    "contract": ("ContractSignatureCertChain", "ContractCertificateChain"),
    "oem": ("OEMProvisioningCert", "OEMProvisioningCertificateChain"),
    "provisioning": ("SAProvisioningCertificateChain", "CPSCertificateChain"),
}


# messages whose contract chain later signed messages of the session are verified with
# (a CertificateUpdateReq carries the old contract: not remembered)
CONTRACT_CARRIERS = frozenset({"PaymentDetailsReq", "AuthorizationReq",
                               "CertificateInstallationRes", "CertificateUpdateRes"})


class SignatureError(ValueError):
    """A Signature element that cannot be read (missing part, bad base64)."""


@dataclass(frozen=True, slots=True)
class Reference:
    uri: str
    transforms: tuple[str, ...]
    digest_method: str
    digest_value: bytes


@dataclass(frozen=True, slots=True)
class XmlSignature:
    canonicalization: str
    method: str
    references: tuple[Reference, ...]
    value: bytes
    signed_info: dict  # as decoded: what is EXI-encoded and signed


@dataclass(frozen=True, slots=True)
class ReferenceCheck:
    uri: str
    element: str  # the referenced element's name ('' when the Id is missing)
    status: str  # "ok", "mismatch", "missing", "unchecked"


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """What was found out about one signed message (shown by the tls verb)."""

    message: str
    ts_ns: int
    method: str
    signer: str  # role: "contract", "oem", "provisioning", or "" when not known
    certificate: str  # subject of the certificate used ('' when none)
    references: tuple[ReferenceCheck, ...]
    status: str  # "valid", "invalid", "unchecked", "no-certificate", "malformed"


def _b64(value: Any, what: str) -> bytes:
    if isinstance(value, dict):
        value = value.get("value")
    if not isinstance(value, str):
        raise SignatureError(f"{what} missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError(f"{what} is not base64") from exc


def _algorithm(node: Any) -> str:
    return str(node.get("Algorithm", "")) if isinstance(node, dict) else ""


def parse_signature(node: Any) -> XmlSignature:
    """The parts of a decoded `Signature` element; SignatureError if one is missing."""
    if not isinstance(node, dict) or not isinstance(node.get("SignedInfo"), dict):
        raise SignatureError("SignedInfo missing")
    info = node["SignedInfo"]
    refs = info.get("Reference")
    refs = refs if isinstance(refs, list) else [refs] if isinstance(refs, dict) else []
    if not refs:
        raise SignatureError("SignedInfo has no Reference")
    references = []
    for ref in refs:
        if not isinstance(ref, dict):
            raise SignatureError("Reference is not an element")
        transforms = ref.get("Transforms", {})
        items = transforms.get("Transform", []) if isinstance(transforms, dict) else []
        items = items if isinstance(items, list) else [items]
        references.append(Reference(str(ref.get("URI", "")),
                                    tuple(_algorithm(t) for t in items),
                                    _algorithm(ref.get("DigestMethod")),
                                    _b64(ref.get("DigestValue"), "DigestValue")))
    return XmlSignature(_algorithm(info.get("CanonicalizationMethod")),
                        _algorithm(info.get("SignatureMethod")), tuple(references),
                        _b64(node.get("SignatureValue"), "SignatureValue"), info)


def message_element(fields: dict) -> tuple[str, dict] | None:
    """(name, content) of the message element holding Header and the signed elements:
    ISO 15118-2 / DIN `V2G_Message` (elements in Body), ISO 15118-20 `<Message>`."""
    for name, value in fields.items():
        if isinstance(value, dict) and isinstance(value.get("Header"), dict):
            return name, value
    return None


def _with_ids(node: Any, name: str = "") -> Iterator[tuple[str, str, dict]]:
    if isinstance(node, dict):
        if name and isinstance(node.get("Id"), str):
            yield node["Id"], name, node
        for key, value in node.items():
            if key not in ("Header", "Signature"):
                yield from _with_ids(value, key)
    elif isinstance(node, list):
        for item in node:
            yield from _with_ids(item, name)


def signed_elements(fields: dict) -> dict[str, tuple[str, dict]]:
    """Every element of a decoded message that carries an `Id`: Id -> (name, content)."""
    found = message_element(fields)
    if found is None:
        return {}
    out: dict[str, tuple[str, dict]] = {}
    for ident, name, content in _with_ids(found[1]):
        out.setdefault(ident, (name, content))
    return out


def protocol_family(schema: str) -> str:
    return "iso20" if schema.startswith("iso20") or "-20" in schema else "iso2"


def default_encoder() -> FragmentEncoder | None:
    """`chargescope.dissectors.exi.encode_fragment` when the EXI codec provides it."""
    from chargescope.dissectors import exi

    return getattr(exi, "encode_fragment", None)


def _raw_to_der(raw: bytes) -> bytes:
    half = len(raw) // 2
    return encode_dss_signature(int.from_bytes(raw[:half], "big"),
                                int.from_bytes(raw[half:], "big"))


def verify_value(key: Any, method: str, value: bytes, data: bytes) -> bool:
    """Does `value` (raw r||s, or an EdDSA signature) sign `data` under `key`?"""
    spec = SIGNATURE_METHODS[method]
    try:
        if spec.kind == "ed448":
            key.verify(value, data)
        else:
            key.verify(_raw_to_der(value), data, ec.ECDSA(spec.hash()))
    except (InvalidSignature, ValueError):
        return False
    return True


def key_mismatch(key: Any, method: str) -> str:
    """Why `key` cannot make `method` signatures ('' when it can)."""
    spec = SIGNATURE_METHODS[method]
    if spec.kind == "ed448":
        return "" if isinstance(key, ed448.Ed448PublicKey) else "the key is not Ed448"
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return "the key is not an EC key"
    if not isinstance(key.curve, spec.curve):
        return f"the key is on {key.curve.name}, the method needs {spec.curve.name}"
    return ""


@dataclass(slots=True)
class SignatureChecker:
    """Verifies the Header signatures of the "exi" Messages fed to it (module docstring).

    Contract certificates are remembered per V2G SessionID, so an AuthorizationReq or
    MeteringReceiptReq is verified with the contract sent earlier in PaymentDetailsReq.
    """

    encoder: FragmentEncoder | None = field(default_factory=default_encoder)
    registry: FindingRegistry = field(
        default_factory=lambda: FindingRegistry(XMLDSIG_FINDINGS))
    findings: list[Finding] = field(default_factory=list)
    checks: list[SignatureCheck] = field(default_factory=list)
    contracts: dict[str, Any] = field(default_factory=dict)  # SessionID -> contract leaf

    def feed(self, message: Message) -> SignatureCheck | None:
        if message.protocol != "exi":
            return None
        found = message_element(message.fields)
        if found is None:
            return None
        header = found[1]["Header"]
        session = str(header.get("SessionID", ""))
        if message.name in CONTRACT_CARRIERS:
            carried, contract = self._leaf(message, "contract")
            if carried:
                self.contracts[session] = contract
        if "Signature" not in header:
            return None
        check = self._verify(message, header["Signature"], session)
        self.checks.append(check)
        return check

    def finish(self) -> list[Finding]:
        return self.findings

    # -- steps ------------------------------------------------------------------------

    def _make(self, code: str, text: str, message: Message, **extra: Any) -> None:
        self.findings.append(self.registry.make(code, f"{message.name}: {text}",
                                                ts_ns=message.ts_ns, evidence=(message,),
                                                link=str(message.link), **extra))

    def _verify(self, message: Message, node: Any, session: str) -> SignatureCheck:
        def result(status: str, refs=(), method="", signer="", subject="") -> SignatureCheck:
            return SignatureCheck(message.name, message.ts_ns, method, signer, subject,
                                  tuple(refs), status)

        try:
            sig = parse_signature(node)
        except SignatureError as exc:
            self._make("pnc.signature.malformed", str(exc), message)
            return result("malformed")
        schema = str(message.fields.get("schema", ""))
        algorithms_ok = self._algorithms(message, sig, protocol_family(schema))
        elements = signed_elements(message.fields)
        refs = [self._reference(message, ref, elements, schema) for ref in sig.references]
        signer = SIGNERS.get(message.name, "")
        carried, cert = self._leaf(message, signer)
        if not carried and signer == "contract" and session in self.contracts:
            carried, cert = True, self.contracts[session]
        if all(r.status == "missing" for r in refs):
            return result("invalid", refs, sig.method, signer)  # nothing it could sign
        if carried and cert is None:  # sent but not X.509: pnc.certificate.unparsable says so
            return result("unchecked", refs, sig.method, signer)
        if cert is None:
            who = f"the {signer} certificate" if signer else "the signer's certificate"
            self._make("pnc.signature.no_certificate", f"{who} was not seen; the signature "
                       "cannot be verified", message, signer=signer)
            return result("no-certificate", refs, sig.method, signer)
        subject = cert.subject.rfc4514_string()
        if not algorithms_ok or sig.method not in SIGNATURE_METHODS:
            return result("unchecked", refs, sig.method, signer, subject)
        key = cert.public_key()
        why = key_mismatch(key, sig.method)
        if why:
            self._make("pnc.signature.algorithm", f"SignatureMethod {sig.method} but {why} "
                       f"({subject})", message, method=sig.method)
            return result("invalid", refs, sig.method, signer, subject)
        if self.encoder is None:
            return result("unchecked", refs, sig.method, signer, subject)
        try:
            data = self.encoder("SignedInfo", sig.signed_info, SIGNED_INFO_SCHEMA)
        except Exception as exc:  # a tree our encoder rejects: say so, never raise
            self._make("pnc.signature.malformed", f"SignedInfo cannot be EXI-encoded: {exc}",
                       message)
            return result("unchecked", refs, sig.method, signer, subject)
        raw = SIGNATURE_METHODS[sig.method].raw_length
        if len(sig.value) != raw or not verify_value(key, sig.method, sig.value, data):
            shape = "" if len(sig.value) == raw else f" (a {len(sig.value)}-byte value; " \
                f"{raw} bytes of raw signature expected)"
            self._make("pnc.signature.invalid", f"the signature does not verify with the "
                       f"{signer} certificate {subject}{shape}", message, subject=subject)
            return result("invalid", refs, sig.method, signer, subject)
        valid = all(r.status == "ok" for r in refs)
        return result("valid" if valid else "invalid", refs, sig.method, signer, subject)

    def _algorithms(self, message: Message, sig: XmlSignature, family: str) -> bool:
        methods, digests = ALLOWED[family]
        problems = []
        if sig.canonicalization != CANONICAL_EXI:
            problems.append(f"CanonicalizationMethod {sig.canonicalization or '(none)'}")
        if sig.method not in methods:
            problems.append(f"SignatureMethod {sig.method or '(none)'}")
        for ref in sig.references:
            if ref.transforms != (CANONICAL_EXI,):
                problems.append(f"{ref.uri} Transforms {list(ref.transforms)} (exactly one "
                                "canonical-exi transform expected)")
            if ref.digest_method not in digests:
                problems.append(f"{ref.uri} DigestMethod {ref.digest_method or '(none)'}")
        for problem in problems:
            self._make("pnc.signature.algorithm", f"{problem} is not allowed in "
                       f"{'ISO 15118-20' if family == 'iso20' else 'ISO 15118-2'}", message)
        return not problems

    def _reference(self, message: Message, ref: Reference,
                   elements: dict[str, tuple[str, dict]], schema: str) -> ReferenceCheck:
        target = elements.get(ref.uri[1:]) if ref.uri.startswith("#") else None
        if target is None:
            self._make("pnc.signature.reference_missing", f"Reference {ref.uri or '(empty)'} "
                       "names no element of the message", message, uri=ref.uri)
            return ReferenceCheck(ref.uri, "", "missing")
        name, content = target
        digest = DIGEST_METHODS.get(ref.digest_method)
        if self.encoder is None or digest is None:
            return ReferenceCheck(ref.uri, name, "unchecked")
        try:
            computed = digest(self.encoder(name, content, schema))
        except Exception as exc:  # a tree our encoder rejects: say so, never raise
            self._make("pnc.signature.malformed", f"{name} cannot be EXI-encoded: {exc}",
                       message)
            return ReferenceCheck(ref.uri, name, "unchecked")
        if computed != ref.digest_value:
            self._make("pnc.signature.digest_mismatch", f"{name} ({ref.uri}) digest "
                       f"{base64.b64encode(computed).decode()} but SignedInfo says "
                       f"{base64.b64encode(ref.digest_value).decode()}", message,
                       element=name, uri=ref.uri)
            return ReferenceCheck(ref.uri, name, "mismatch")
        return ReferenceCheck(ref.uri, name, "ok")

    def _leaf(self, message: Message, signer: str) -> tuple[bool, Any]:
        """(carried, certificate): whether the message carries the signer's chain, and its
        leaf (None when that is not parsable X.509)."""
        if not signer:
            return False, None
        from chargescope.analyzer.tls.pnc import find_chains

        for chain in find_chains(message.fields):
            if chain.element in CHAIN_ELEMENTS[signer] and chain.certificates:
                return True, chain.certificates[0]
        return False, None


def sign(elements: Sequence[tuple[str, str, dict]], key: Any, schema: str,
         encoder: FragmentEncoder, method: str = ECDSA_SHA256,
         digest_method: str = SHA256) -> dict:
    """A Header `Signature` (decoded form) over `elements` = (Id, element name, content),
    made the way ISO 15118 prescribes: EXI-fragment digests, SignedInfo EXI-encoded and
    signed with `key` (a private EC or Ed448 key), raw r||s. ECDSA nonces follow RFC 6979,
    so the same input gives the same bytes (reproducible simulated captures)."""
    info = {
        "CanonicalizationMethod": {"Algorithm": CANONICAL_EXI},
        "SignatureMethod": {"Algorithm": method},
        "Reference": [{
            "URI": f"#{ident}", "Transforms": {"Transform": [{"Algorithm": CANONICAL_EXI}]},
            "DigestMethod": {"Algorithm": digest_method},
            "DigestValue": base64.b64encode(
                DIGEST_METHODS[digest_method](encoder(name, content, schema))).decode()}
            for ident, name, content in elements],
    }
    data = encoder("SignedInfo", info, SIGNED_INFO_SCHEMA)
    spec = SIGNATURE_METHODS[method]
    if spec.kind == "ed448":
        value = key.sign(data)
    else:
        der = key.sign(data, ec.ECDSA(spec.hash(), deterministic_signing=True))
        r, s = decode_dss_signature(der)
        half = spec.raw_length // 2
        value = r.to_bytes(half, "big") + s.to_bytes(half, "big")
    return {"SignedInfo": info, "SignatureValue": {"value": base64.b64encode(value).decode()}}
