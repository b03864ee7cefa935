"""A small, reproducible Plug & Charge PKI for simulated sessions: MO sub-CA -> contract cert,
and the EV's OEM provisioning certificate (which signs CertificateInstallationReq).

Keys are derived from fixed integers and ECDSA signatures use RFC 6979 deterministic
nonces, so the DER bytes (and hence the captures) are identical on every run. The
contract certificate's subject CN is the eMAID, as ISO 15118-2 requires; link A
carries the chain in PaymentDetailsReq and link B carries the OCSP hash data of the
same certificate in Authorize, so both links name the same contract.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

_NOT_BEFORE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
_NOT_AFTER = dt.datetime(2028, 1, 1, tzinfo=dt.UTC)
OCSP_URL = "http://ocsp.mo.example/ocsp"


@dataclass(frozen=True, slots=True)
class ContractChain:
    contract_der: bytes
    sub_ca_der: bytes
    contract_key: ec.EllipticCurvePrivateKey

    def b64(self, der: bytes) -> str:
        return base64.b64encode(der).decode("ascii")

    def ocsp_hash_data(self) -> dict:
        """OCPP 2.0.1 OCSPRequestDataType of the contract certificate."""
        cert = x509.load_der_x509_certificate(self.contract_der)
        issuer = x509.load_der_x509_certificate(self.sub_ca_der)
        key_bits = issuer.public_key().public_bytes(serialization.Encoding.X962,
                                                    serialization.PublicFormat.UncompressedPoint)
        return {
            "hashAlgorithm": "SHA256",
            "issuerNameHash": hashlib.sha256(cert.issuer.public_bytes()).hexdigest(),
            "issuerKeyHash": hashlib.sha256(key_bits).hexdigest(),
            "serialNumber": format(cert.serial_number, "x"),
            "responderURL": OCSP_URL,
        }


def _name(cn: str, org: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                      x509.NameAttribute(NameOID.COUNTRY_NAME, "DE")])


def _cert(subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey,
          signer: ec.EllipticCurvePrivateKey, serial: int, ca: bool) -> bytes:
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(key.public_key()).serial_number(serial)
               .not_valid_before(_NOT_BEFORE).not_valid_after(_NOT_AFTER)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None),
                              critical=True))
    if not ca:
        builder = builder.add_extension(x509.AuthorityInformationAccess([
            x509.AccessDescription(x509.oid.AuthorityInformationAccessOID.OCSP,
                                   x509.UniformResourceIdentifier(OCSP_URL))]), critical=False)
    return builder.sign(signer, hashes.SHA256(), ecdsa_deterministic=True).public_bytes(
        serialization.Encoding.DER)


@dataclass(frozen=True, slots=True)
class ProvisioningCert:
    der: bytes
    key: ec.EllipticCurvePrivateKey

    @property
    def b64(self) -> str:
        return base64.b64encode(self.der).decode("ascii")


@cache
def oem_provisioning(evccid: str) -> ProvisioningCert:
    """The EV's OEM provisioning certificate (self-issued by a simulated OEM CA)."""
    seed = int.from_bytes(hashlib.sha256(evccid.encode()).digest()[:16], "big")
    ca_key = ec.derive_private_key(0x0E3C0A + seed, ec.SECP256R1())
    key = ec.derive_private_key(0x0E3B0B + seed, ec.SECP256R1())
    ca_name = _name("OEM Sub-CA 2 (simulated)", "chargescope simulate OEM")
    return ProvisioningCert(_cert(_name(f"OEM Prov {evccid}", "chargescope simulate OEM"),
                                  ca_name, key, ca_key, 0x0E3000 + seed % 997, False), key)


@cache
def contract_chain(emaid: str) -> ContractChain:
    """The contract certificate for `emaid` and its issuing MO sub-CA (secp256r1)."""
    seed = int.from_bytes(hashlib.sha256(emaid.encode()).digest()[:16], "big")
    ca_key = ec.derive_private_key(0x5EC0DE + seed, ec.SECP256R1())
    leaf_key = ec.derive_private_key(0xC0FFEE + seed, ec.SECP256R1())
    ca_name = _name("MO Sub-CA 2 (simulated)", "chargescope simulate MO")
    leaf_name = _name(emaid.replace("-", ""), "chargescope simulate MO")
    return ContractChain(
        contract_der=_cert(leaf_name, ca_name, leaf_key, ca_key, 0x1D3C5E7F01 + seed % 997, False),
        sub_ca_der=_cert(ca_name, ca_name, ca_key, ca_key, 0x5CA0002, True),
        contract_key=leaf_key)
