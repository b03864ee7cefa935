"""A test Plug & Charge PKI made with `cryptography`, as ISO 15118-2 Annex F lays it out:

    V2G root -> CPO sub-CA 1 -> CPO sub-CA 2 -> SECC leaf
    V2G root -> CPS sub-CA 1 -> CPS sub-CA 2 -> CPS (SA provisioning) leaf
    MO root  -> MO sub-CA 1  -> MO sub-CA 2  -> contract leaf (CN = eMAID)
    OEM root -> OEM sub-CA                   -> OEM provisioning leaf

Keys are secp256r1 unless a curve is asked for (ISO 15118-20: secp521r1, Ed448).
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448
from cryptography.x509.oid import NameOID

NOT_BEFORE = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
NOT_AFTER = dt.datetime(2035, 1, 1, tzinfo=dt.UTC)
EMAID = "DE-ABC-C12345678-9"


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: object  # private key

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def b64(self) -> str:
        return base64.b64encode(self.der).decode()


def _key(curve: str):
    if curve == "ed448":
        return ed448.Ed448PrivateKey.generate()
    return ec.generate_private_key(ec.SECP521R1() if curve == "p521" else ec.SECP256R1())


def issue(cn: str, issuer: Issued | None, *, ca: bool, curve: str = "p256",
          dc: str = "") -> Issued:
    key = _key(curve)
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn),
             x509.NameAttribute(NameOID.ORGANIZATION_NAME, "chargescope test PKI")]
    if dc:
        attrs.append(x509.NameAttribute(NameOID.DOMAIN_COMPONENT, dc))
    name = x509.Name(attrs)
    signer_key = issuer.key if issuer else key
    usage = x509.KeyUsage(digital_signature=not ca, content_commitment=False,
                          key_encipherment=False, data_encipherment=False,
                          key_agreement=not ca, key_cert_sign=ca, crl_sign=ca,
                          encipher_only=False, decipher_only=False)
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(issuer.cert.subject if issuer else name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(usage, critical=True))
    algorithm = None if isinstance(signer_key, ed448.Ed448PrivateKey) else hashes.SHA256()
    return Issued(builder.sign(signer_key, algorithm), key)


@dataclass(frozen=True)
class Pki:
    v2g_root: Issued
    cpo: tuple[Issued, Issued]
    secc: Issued
    cps: tuple[Issued, Issued]
    cps_leaf: Issued
    mo_root: Issued
    mo: tuple[Issued, Issued]
    contract: Issued
    oem_root: Issued
    oem_prov: Issued

    def chain(self, leaf: Issued, subs: tuple[Issued, ...]) -> dict:
        """A certificate chain in decoded EXI form (leaf, then sub-CAs)."""
        return {"Certificate": leaf.b64,
                "SubCertificates": {"Certificate": [c.b64 for c in reversed(subs)]}}


def make_pki(emaid: str = EMAID, curve: str = "p256") -> Pki:
    v2g = issue("V2G Root CA", None, ca=True, dc="V2G")
    cpo1 = issue("CPO Sub-CA 1", v2g, ca=True)
    cpo2 = issue("CPO Sub-CA 2", cpo1, ca=True)
    cps1 = issue("CPS Sub-CA 1", v2g, ca=True)
    cps2 = issue("CPS Sub-CA 2", cps1, ca=True)
    mo = issue("MO Root CA", None, ca=True, dc="MO")
    mo1 = issue("MO Sub-CA 1", mo, ca=True)
    mo2 = issue("MO Sub-CA 2", mo1, ca=True)
    oem = issue("OEM Root CA", None, ca=True, dc="OEM")
    return Pki(v2g, (cpo1, cpo2), issue("SECC DE*ABC*E0001", cpo2, ca=False, curve=curve),
               (cps1, cps2), issue("CPS Leaf", cps2, ca=False, curve=curve),
               mo, (mo1, mo2), issue(emaid.replace("-", ""), mo2, ca=False, curve=curve),
               oem, issue("OEM Prov", oem, ca=False, curve=curve))
