"""Plug & Charge certificate chains carried in V2G messages, and their checks.

Chains are found in the decoded EXI trees (ISO 15118-2 ContractSignatureCertChain,
SAProvisioningCertificateChain, OEMProvisioningCert; ISO 15118-20 *CertificateChain) and in
OCPP payloads (CertificateSigned PEM chains, Get15118EVCertificate EXI requests/responses) and
described (subject, issuer, validity, key usage, eMAID). `PncChecker` verifies each chain:
validity at the message's time, issuer/subject links and signatures between consecutive
certificates, the root against user-supplied trust anchors (V2G, MO, OEM roots), and the
eMAID of PaymentDetailsReq against the contract certificate's subject CN; and the xmldsig
signatures of signed V2G messages (`xmldsig.SignatureChecker`, its findings included).

    from chargescope.analyzer.tls.pnc import PNC_FINDINGS, PncChecker, load_trust_anchors
"""

from __future__ import annotations

import base64
import binascii
import datetime
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from chargescope import backends
from chargescope.analyzer.findings import FindingRegistry
from chargescope.analyzer.records import Finding, FindingSpec, Message, Severity
from chargescope.analyzer.tls.xmldsig import SignatureChecker

E, W = Severity.ERROR, Severity.WARNING
PNC_FINDINGS: tuple[FindingSpec, ...] = (
    FindingSpec("pnc.certificate.expired", E, "security",
                "a Plug & Charge certificate had expired when the message was sent"),
    FindingSpec("pnc.certificate.not_yet_valid", E, "security",
                "a Plug & Charge certificate was not yet valid when the message was sent"),
    FindingSpec("pnc.certificate.unparsable", W, "malformed",
                "a certificate in a V2G message is not valid base64 DER X.509"),
    FindingSpec("pnc.chain.broken", E, "security",
                "a certificate is not issued (name or signature) by the next one in its chain"),
    FindingSpec("pnc.chain.unknown_root", E, "security",
                "the chain does not end at one of the supplied trust anchors"),
    FindingSpec("pnc.certificate.key_usage", W, "security",
                "a leaf certificate without digitalSignature key usage"),
    FindingSpec("pnc.emaid.mismatch", E, "security",
                "the eMAID sent does not match the contract certificate's subject"),
)
_NS = 1_000_000_000
PLAUSIBLE_CLOCK_NS = int(datetime.datetime(2010, 1, 1, tzinfo=datetime.UTC).timestamp()) * _NS
_SINGLE_CERT_KEYS = ("OEMProvisioningCert",)
_CHAIN_SUFFIXES = ("CertChain", "CertificateChain")  # a chain's element name ends so
_chain_sites = backends.load("treewalk").chain_sites


@dataclass(frozen=True, slots=True)
class CertChain:
    """One chain as carried in a message: leaf first, then sub-CAs in sent order."""

    element: str  # the EXI element that carried it, e.g. "ContractSignatureCertChain"
    certificates: tuple[x509.Certificate | None, ...]  # None: not parsable
    errors: tuple[str, ...] = ()


def _der(value: Any) -> bytes | None:
    if isinstance(value, dict):
        value = value.get("value")
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _load(value: Any) -> tuple[x509.Certificate | None, str]:
    der = _der(value)
    if der is None:
        return None, "not base64"
    try:
        return x509.load_der_x509_certificate(der), ""
    except ValueError as exc:
        return None, f"not DER X.509: {exc}"[:160]


def _chain_of(element: str, node: dict) -> CertChain:
    values = [node.get("Certificate")]
    subs = node.get("SubCertificates")
    if isinstance(subs, dict):
        more = subs.get("Certificate", [])
        values += more if isinstance(more, list) else [more]
    certs, errors = [], []
    for value in values:
        cert, error = _load(value)
        certs.append(cert)
        if error:
            errors.append(error)
    return CertChain(element, tuple(certs), tuple(errors))


def find_chains(tree: Any) -> Iterator[CertChain]:
    """Every certificate chain (or single certificate) inside a decoded EXI tree."""
    # every EXI message is searched: the walk is the "treewalk" hot path
    for key, value, single in _chain_sites(tree, _CHAIN_SUFFIXES, "Certificate",
                                           _SINGLE_CERT_KEYS):
        yield _single(key, value) if single else _chain_of(key, value)


def _single(key: str, value: Any) -> CertChain:
    cert, error = _load(value)
    return CertChain(key, (cert,), (error,) if error else ())


def describe(cert: x509.Certificate) -> dict[str, Any]:
    """Subject, eMAID (contract CN), issuer, validity and key usage, for reports."""
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        usage = [n for n in ("digital_signature", "key_agreement", "key_cert_sign", "crl_sign")
                 if getattr(ku, n)]
    except x509.ExtensionNotFound:
        usage = None
    return {"subject": cert.subject.rfc4514_string(), "common_name": cn[0].value if cn else "",
            "issuer": cert.issuer.rfc4514_string(),
            "not_before": cert.not_valid_before_utc.isoformat(),
            "not_after": cert.not_valid_after_utc.isoformat(), "key_usage": usage}


def load_trust_anchors(paths: Iterable[Path]) -> list[x509.Certificate]:
    """Root certificates (PEM or DER files, or directories of them) the user trusts."""
    anchors: list[x509.Certificate] = []
    for path in map(Path, paths):
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        for file in files:
            data = file.read_bytes()
            try:
                if b"-----BEGIN CERTIFICATE-----" in data:
                    anchors += x509.load_pem_x509_certificates(data)
                else:
                    anchors.append(x509.load_der_x509_certificate(data))
            except ValueError:
                continue  # not a certificate file: directories hold keys and notes too
    return anchors


def _failed_response(tree: dict) -> bool:
    """Does this decoded V2G tree hold a response with a FAILED* ResponseCode?"""
    root = tree.get("V2G_Message")
    body = root.get("Body") if isinstance(root, dict) else tree
    if isinstance(body, dict) and len(body) == 1:
        body = next(iter(body.values()))
    code = body.get("ResponseCode") if isinstance(body, dict) else None
    return isinstance(code, str) and code.startswith("FAILED")


OCPP_EXI_FIELDS = ("exiRequest", "exiResponse")  # Get15118EVCertificate (2.0.1 / 2.1)
OCPP_EXI_SCHEMAS = ("iso2", "iso20_CommonMessages")


def ocpp_chains(payload: dict) -> Iterator[CertChain]:
    """Chains in an OCPP payload: CertificateSigned's PEM `certificateChain`, and the EXI
    CertificateInstallationReq/Res carried base64 in Get15118EVCertificate."""
    pem = payload.get("certificateChain")
    if isinstance(pem, str):
        try:
            certs = x509.load_pem_x509_certificates(pem.encode())
            yield CertChain("certificateChain", tuple(certs))
        except ValueError as exc:
            yield CertChain("certificateChain", (None,), (f"not PEM X.509: {exc}"[:160],))
    for name in OCPP_EXI_FIELDS:
        data = _der(payload.get(name))
        if not data:
            continue
        from chargescope.dissectors.exi import ExiError, decode

        for schema in OCPP_EXI_SCHEMAS:
            try:
                tree = decode(data, schema)
            except ExiError:
                continue
            if not _failed_response(tree):
                yield from find_chains(tree)
            break


# messages that carry the EV's contract (its certificate chain and/or the eMAID itself)
CONTRACT_MESSAGES = frozenset({"PaymentDetailsReq", "CertificateInstallationRes",
                               "CertificateUpdateRes", "AuthorizationReq"})
_CONTRACT_CHAINS = ("ContractSignatureCertChain", "ContractCertificateChain")


def contract_emaid(message: Message) -> str:
    """The eMAID of the contract a V2G message carries: its eMAID element (ISO 15118-2
    PaymentDetailsReq, CertificateInstallation/UpdateRes), else the contract certificate's
    subject CN (ISO 15118-20 AuthorizationReq PnC / CertificateInstallationRes carry no
    eMAID element); '' when the message carries none (or is a FAILED response with
    placeholder chains). The two disagreeing is `pnc.emaid.mismatch`'s finding."""
    if message.name not in CONTRACT_MESSAGES or _failed_response(message.fields):
        return ""
    found = _find_emaid(message.fields)
    if found:
        return found
    leaf = contract_certificate(message)
    return str(describe(leaf)["common_name"]) if leaf is not None else ""


def contract_certificate(message: Message) -> x509.Certificate | None:
    """The contract certificate (leaf) a V2G message carries, as for `contract_emaid`."""
    if message.name not in CONTRACT_MESSAGES or _failed_response(message.fields):
        return None
    for chain in find_chains(message.fields):
        leaf = chain.certificates[0] if chain.certificates else None
        if chain.element in _CONTRACT_CHAINS and leaf is not None:
            return leaf
    return None


def _find_emaid(tree: Any) -> str:
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key == "eMAID":
                value = value.get("value") if isinstance(value, dict) else value
                if isinstance(value, str) and value:
                    return value
            elif isinstance(value, dict | list):
                found = _find_emaid(value)
                if found:
                    return found
    elif isinstance(tree, list):
        for value in tree:
            found = _find_emaid(value)
            if found:
                return found
    return ""


def _normalise_emaid(text: str) -> str:
    return text.replace("-", "").replace(" ", "").upper()


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, Exception):  # InvalidSignature and unsupported keys
        return False
    return True


@dataclass(slots=True)
class PncChecker:
    """Checks every chain in the "exi" Messages fed to it (see module docstring)."""

    anchors: list[x509.Certificate] = field(default_factory=list)
    registry: FindingRegistry = field(default_factory=lambda: FindingRegistry(PNC_FINDINGS))
    findings: list[Finding] = field(default_factory=list)
    signatures: SignatureChecker = field(default_factory=SignatureChecker)

    def feed(self, message: Message) -> None:
        if message.protocol == "ocpp":
            payload = message.fields.get("payload")
            if isinstance(payload, dict):
                for chain in ocpp_chains(payload):
                    self._check(message, chain)
            return
        if message.protocol != "exi" or _failed_response(message.fields):
            return  # a FAILED response fills its mandatory chains with placeholders
        self.signatures.feed(message)
        for chain in find_chains(message.fields):
            self._check(message, chain)
        body = message.fields.get("V2G_Message", {}).get("Body", {})
        payment = body.get("PaymentDetailsReq") if isinstance(body, dict) else None
        if isinstance(payment, dict):
            self._emaid(message, payment)

    def finish(self) -> list[Finding]:
        return self.findings + self.signatures.finish()

    def _make(self, code: str, text: str, message: Message, **extra) -> None:
        self.findings.append(self.registry.make(code, text, ts_ns=message.ts_ns,
                                                evidence=(message,), link=str(message.link),
                                                **extra))

    def _check(self, message: Message, chain: CertChain) -> None:
        for error in chain.errors:
            self._make("pnc.certificate.unparsable", f"{message.name} {chain.element}: {error}",
                       message, element=chain.element)
        when = datetime.datetime.fromtimestamp(message.ts_ns / _NS, datetime.UTC)
        certs = [c for c in chain.certificates if c is not None]
        clock_ok = message.ts_ns >= PLAUSIBLE_CLOCK_NS  # not an unset (1970) device clock
        for cert in certs:
            subject = cert.subject.rfc4514_string()
            if not clock_ok:
                break
            if when > cert.not_valid_after_utc:
                self._make("pnc.certificate.expired", f"{chain.element}: {subject} expired "
                           f"{cert.not_valid_after_utc.isoformat()}", message, subject=subject)
            elif when < cert.not_valid_before_utc:
                self._make("pnc.certificate.not_yet_valid", f"{chain.element}: {subject} valid "
                           f"from {cert.not_valid_before_utc.isoformat()}", message,
                           subject=subject)
        if not certs:
            return
        usage = describe(certs[0])["key_usage"]
        if usage is not None and "digital_signature" not in usage:
            self._make("pnc.certificate.key_usage", f"{chain.element} leaf "
                       f"{certs[0].subject.rfc4514_string()} lacks digitalSignature", message)
        for lower, upper in zip(certs, certs[1:], strict=False):
            if not _issued_by(lower, upper):
                self._make("pnc.chain.broken", f"{chain.element}: "
                           f"{lower.subject.rfc4514_string()} is not issued by "
                           f"{upper.subject.rfc4514_string()}", message)
        if self.anchors and len(certs) == len(chain.certificates):
            top = certs[-1]
            if not any(_issued_by(top, anchor) or top == anchor for anchor in self.anchors):
                self._make("pnc.chain.unknown_root", f"{chain.element}: "
                           f"{top.issuer.rfc4514_string()} is not a supplied trust anchor",
                           message, issuer=top.issuer.rfc4514_string())

    def _emaid(self, message: Message, payment: dict) -> None:
        emaid = payment.get("eMAID")
        if isinstance(emaid, dict):
            emaid = emaid.get("value")
        chain = payment.get("ContractSignatureCertChain")
        if not isinstance(emaid, str) or not isinstance(chain, dict):
            return
        leaf, _ = _load(chain.get("Certificate"))
        if leaf is None:
            return
        cn = describe(leaf)["common_name"]
        if _normalise_emaid(cn) != _normalise_emaid(emaid):
            self._make("pnc.emaid.mismatch", f"PaymentDetailsReq eMAID {emaid} but the contract "
                       f"certificate is for {cn}", message, emaid=emaid, certificate_cn=cn)
