"""Certificates re-issued under a throwaway CA tree made for one anonymisation run.

Each certificate found in the inputs is rebuilt from its own DER, field by field in
place, so that it keeps its length (the EXI, TLS and JSON framing around it need no
change): a new key pair of the same type and size, a keyed serial number of the same
length, subject and issuer attribute values pseudonymised as every other identifier
of the run (the eMAID in a contract certificate's CN becomes the eMAID's pseudonym),
subject and authority key identifiers following the new keys, and validity, key usage
and every other extension kept byte for byte. It is then signed by the new key of its
issuer, so the chain structure (root -> sub-CAs -> leaf) holds as it did:

- a certificate whose issuer is among the inputs and verified is signed by that
  issuer's new key; a self-signed one by its own;
- one whose signature did not verify (a broken chain) is signed by an unrelated key,
  so it stays broken;
- one whose issuer is not among the inputs (roots are rarely sent) gets a new root made
  for that issuer's name: these, with re-issued self-signed ones, are the run's trust
  anchors (`anchors_pem`), what a re-analysis trusts in place of the real roots.

ECDSA signatures vary in DER length by a byte or two: signing is repeated until it
has the original's length. What cannot be re-issued (unsupported key type, RSASSA-PSS,
a length that cannot be kept) is left to the caller's marker.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import ExtensionOID, NameOID

from chargescope.analyzer.anonymize.pseudonym import Pseudonymizer

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
SIGN_ATTEMPTS = 8_000  # ECDSA signatures until one has the original DER length (a
# 69-octet P-256 signature comes about once in 512: 8,000 tries miss it once in 10^7)
KEEP_ATTRIBUTES = frozenset({NameOID.COUNTRY_NAME})  # says where, not who
_OID_SKI = bytes.fromhex("0603551d0e")
_OID_AKI = bytes.fromhex("0603551d23")
_ROOT_DAYS = 3650


class NotReissuable(Exception):
    """This certificate cannot be rebuilt at its own length (the caller marks it)."""


# --- DER, as far as certificates need it ----------------------------------------------
@dataclass(frozen=True, slots=True)
class _Tlv:
    tag: int
    start: int  # of the header
    body: int  # of the contents
    end: int


def _tlv(buf: bytes, pos: int) -> _Tlv:
    if pos + 2 > len(buf):
        raise NotReissuable("DER cut short")
    tag, first = buf[pos], buf[pos + 1]
    at = pos + 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > 4 or at + n > len(buf):
            raise NotReissuable("DER length form not supported")
        length = int.from_bytes(buf[at:at + n], "big")
        at += n
    if at + length > len(buf):
        raise NotReissuable("DER element runs past its container")
    return _Tlv(tag, pos, at, at + length)


def _children(buf: bytes, parent: _Tlv) -> list[_Tlv]:
    out, pos = [], parent.body
    while pos < parent.end:
        child = _tlv(buf, pos)
        out.append(child)
        pos = child.end
    return out


# --- the run's CA tree ------------------------------------------------------------------
@dataclass(slots=True)
class CertificateReissuer:
    """Learns every certificate of a run (`add`), then re-issues them (`reissue_all`)."""

    pseudo: Pseudonymizer
    originals: dict[bytes, x509.Certificate] = field(default_factory=dict)  # DER -> parsed
    new: dict[bytes, bytes] = field(default_factory=dict)  # original DER -> re-issued DER
    failed: dict[bytes, str] = field(default_factory=dict)  # original DER -> why not
    anchors: list[x509.Certificate] = field(default_factory=list)  # the throwaway roots
    _keys: dict[bytes, PrivateKey] = field(default_factory=dict)  # original SPKI -> new key
    _key_ids: dict[bytes, bytes] = field(default_factory=dict)  # original key id -> new
    _made_roots: dict[bytes, PrivateKey] = field(default_factory=dict)  # issuer DER name -> key
    _issuer_of: dict[bytes, bytes] = field(default_factory=dict)  # DER -> its issuer's DER

    def add(self, der: bytes) -> bool:
        """Take `der` if it is an X.509 certificate; False when it is not one."""
        if der in self.originals:
            return True
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            return False
        self.originals[der] = cert
        return True

    def reissue_all(self) -> dict[bytes, bytes]:
        for der in list(self.originals):
            self._reissue(der, ())
        return self.new

    def ocsp_replacements(self) -> dict[bytes, bytes]:
        """Hex texts that name a re-issued certificate in OCSP request data (OCPP
        iso15118CertificateHashData): serial number, issuer name hash and, where the
        issuer is among the inputs, issuer key hash; old -> new, lower and upper case."""
        out: dict[bytes, bytes] = {}

        def pair(old: str, new: str) -> None:
            if len(old) == len(new) and old != new:
                out[old.encode()] = new.encode()
                out[old.upper().encode()] = new.upper().encode()

        for der, new_der in self.new.items():
            old, new = self.originals[der], x509.load_der_x509_certificate(new_der)
            pair(format(old.serial_number, "x"), format(new.serial_number, "x"))
            for digest in (hashlib.sha256, hashlib.sha384, hashlib.sha512):
                pair(digest(old.issuer.public_bytes()).hexdigest(),
                     digest(new.issuer.public_bytes()).hexdigest())
                issuer = self._issuer_of.get(der)
                if issuer is not None and issuer in self.new:
                    old_bits = _key_bits(self.originals[issuer].public_key())
                    new_bits = _key_bits(x509.load_der_x509_certificate(
                        self.new[issuer]).public_key())
                    pair(digest(old_bits).hexdigest(), digest(new_bits).hexdigest())
        return out

    def hash_data_replacements(self, entries: Iterable[Mapping[str, Any]]
                               ) -> dict[bytes, bytes]:
        """Texts of OCSP request / certificate hash data entries (OCPP
        iso15118CertificateHashData, ocspRequestData, certificateHashData: hashAlgorithm,
        issuerNameHash, issuerKeyHash, serialNumber, responderURL) that name a re-issued
        certificate (same serial, and the same issuer name hash where the algorithm is
        known) -> the re-issued certificate's, each in the entry's own form (case, leading
        zeros). The issuer key hash follows the issuer's new key also when the issuer is a
        root made for the run. responderURL is the CA's, kept: the re-issued certificate
        keeps its AIA extension byte for byte."""
        by_serial: dict[int, list[bytes]] = {}
        for der in self.new:
            by_serial.setdefault(self.originals[der].serial_number, []).append(der)
        out: dict[bytes, bytes] = {}
        for entry in entries:
            found = self._named_by(entry, by_serial)
            if found is None:
                continue
            der, digest = found
            new = x509.load_der_x509_certificate(self.new[der])
            values = {"serialNumber": format(new.serial_number, "x")}
            if digest is not None:
                values["issuerNameHash"] = digest(new.issuer.public_bytes()).hexdigest()
                key = self._new_issuer_key(der)
                if key is not None:
                    values["issuerKeyHash"] = digest(_key_bits(key)).hexdigest()
            for name, value in values.items():
                old = entry.get(name)
                if isinstance(old, str) and old:
                    new_text = _same_form(old, value)
                    if new_text is not None and new_text != old:
                        out[old.encode()] = new_text.encode()
        return out

    def _named_by(self, entry: Mapping[str, Any], by_serial: dict[int, list[bytes]]
                  ) -> tuple[bytes, Any] | None:
        """(original DER, hash function) of the re-issued certificate an entry names."""
        try:
            serial = int(str(entry.get("serialNumber", "")).strip(), 16)
        except ValueError:
            return None
        digest = _HASHES.get(str(entry.get("hashAlgorithm", "")).upper().replace("-", ""))
        name_hash = str(entry.get("issuerNameHash", "")).lower()
        for der in by_serial.get(serial, ()):
            if digest is None or digest(
                    self.originals[der].issuer.public_bytes()).hexdigest() == name_hash:
                return der, digest
        return None

    def _new_issuer_key(self, der: bytes):
        """The new public key of the issuer of a re-issued certificate (re-issued issuer,
        root made for the run, or itself when self-signed)."""
        issuer = self._issuer_of.get(der)
        if issuer is not None and issuer in self.new:
            return x509.load_der_x509_certificate(self.new[issuer]).public_key()
        cert = self.originals[der]
        made = self._made_roots.get(cert.issuer.public_bytes())
        if made is not None:
            return made.public_key()
        if cert.issuer == cert.subject:
            return x509.load_der_x509_certificate(self.new[der]).public_key()
        return None

    def key_for_der(self, der: bytes) -> PrivateKey:
        """The new key of a certificate of the run (by its original DER)."""
        return self._key_for(self.originals[der])

    def anchors_pem(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.anchors)

    # --- one certificate ---------------------------------------------------------------
    def _reissue(self, der: bytes, path: tuple[bytes, ...]) -> bytes | None:
        if der in self.new or der in self.failed:
            return self.new.get(der)
        cert = self.originals[der]
        try:
            signer, self_signed = self._signer(der, cert, path + (der,))
            out = self._rebuild(der, cert, signer if not self_signed else None)
        except (NotReissuable, UnsupportedAlgorithm, ValueError, TypeError) as exc:
            self.failed[der] = str(exc) or type(exc).__name__
            return None
        self.new[der] = out
        if self_signed and signer is None:
            self.anchors.append(x509.load_der_x509_certificate(out))
        return out

    def _signer(self, der: bytes, cert: x509.Certificate, path: tuple[bytes, ...]
                ) -> tuple[PrivateKey | None, bool]:
        """(key to sign with, whether the certificate signs itself); None with True:
        self-signed and verified, sign with its own new key."""
        if cert.issuer == cert.subject:
            if _verifies(cert, cert):
                return None, True
            return _issuer_key_for(cert, self._seed(b"unrelated", der)), False
        issuers = [(d, c) for d, c in self.originals.items()
                   if c.subject == cert.issuer and d != der]
        for issuer_der, issuer in issuers:
            if issuer_der in path or not _verifies(cert, issuer):
                continue
            if self._reissue(issuer_der, path) is None:
                raise NotReissuable("its issuer could not be re-issued")
            self._issuer_of[der] = issuer_der
            return self._key_for(issuer), False
        if issuers:  # its issuer is here but did not sign it: keep it broken
            return _issuer_key_for(cert, self._seed(b"unrelated", der)), False
        return self._made_root(cert), False

    def _key_for(self, cert: x509.Certificate) -> PrivateKey:
        spki = _spki(cert)
        key = self._keys.get(spki)
        if key is None:
            key = self._keys[spki] = _same_kind_key(cert.public_key(), self._seed(b"key", spki))
        return key

    def _seed(self, kind: bytes, value: bytes) -> bytes:
        """64 keyed octets: keys follow from the run's key (same --map, same CA tree)."""
        return self.pseudo.opaque(hashlib.sha512(b"certs\0" + kind + b"\0" + value).digest())

    def _made_root(self, cert: x509.Certificate) -> PrivateKey:
        """A new self-signed root for an issuer the inputs do not hold (a trust anchor)."""
        name = cert.issuer.public_bytes()
        key = self._made_roots.get(name)
        if key is not None:
            return key
        key = self._made_roots[name] = _issuer_key_for(cert, self._seed(b"root", name))
        subject = self._pseudo_name(cert.issuer)
        key_id = self._new_key_id(_authority_key_id(cert) or b"", key)
        start = cert.not_valid_before_utc
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                   .public_key(key.public_key())
                   .serial_number(int.from_bytes(self.pseudo.opaque(name)[:8], "big") >> 1 | 1)
                   .not_valid_before(start)
                   .not_valid_after(max(cert.not_valid_after_utc,
                                        start + datetime.timedelta(days=_ROOT_DAYS)))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                   .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                                False, False), True)
                   .add_extension(x509.SubjectKeyIdentifier(key_id), False))
        # deterministic (RFC 6979) where ECDSA: the same run key gives the same root
        extra = {"ecdsa_deterministic": True} if isinstance(key, ec.EllipticCurvePrivateKey) \
            else {}
        self.anchors.append(builder.sign(key, _hash_of(cert), **extra))
        return key

    def _new_key_id(self, old: bytes, key: PrivateKey) -> bytes:
        """The new key's identifier at the old identifier's length (20 octets if none)."""
        if old in self._key_ids:
            return self._key_ids[old]
        length = len(old) or 20
        bits = _key_bits(key.public_key())
        out = hashlib.sha1(bits).digest()  # noqa: S324 - RFC 5280 4.2.1.2 method (1)
        while len(out) < length:
            out += hashlib.sha256(out).digest()
        if old:
            self._key_ids[old] = out[:length]
        return out[:length]

    def _pseudo_name(self, name: x509.Name) -> x509.Name:
        attrs = []
        for attr in name:
            value = attr.value
            if attr.oid not in KEEP_ATTRIBUTES and isinstance(value, str) and \
                    attr._type.value in _STRING_TAGS:
                value = self.pseudo.identifier(value)
            attrs.append(x509.NameAttribute(attr.oid, value, attr._type))
        return x509.Name(attrs)

    # --- the DER surgery ---------------------------------------------------------------
    def _rebuild(self, der: bytes, cert: x509.Certificate, signer: PrivateKey | None) -> bytes:
        own = self._key_for(cert)
        signer = signer if signer is not None else own
        buf = bytearray(der)
        outer = _tlv(der, 0)
        tbs_tlv, alg_tlv, sig_tlv = _children(der, outer)[:3]
        fields = _children(der, tbs_tlv)
        at = 1 if fields and fields[0].tag == 0xA0 else 0  # [0] version
        serial, issuer, subject, spki = fields[at], fields[at + 2], fields[at + 4], fields[at + 5]
        buf[serial.body:serial.end] = _serial(self.pseudo, der[serial.body:serial.end])
        for name in (issuer, subject):
            self._names(buf, name)
        new_spki = own.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
        if len(new_spki) != spki.end - spki.start:
            raise NotReissuable("the new key's encoding has another length")
        buf[spki.start:spki.end] = new_spki
        extensions = next((f for f in fields if f.tag == 0xA3), None)
        if extensions is not None:
            self._key_identifiers(buf, _children(der, extensions)[0], own, signer, cert)
        tbs = bytes(buf[tbs_tlv.start:tbs_tlv.end])
        signature = _sign(signer, tbs, cert, sig_tlv.end - sig_tlv.body - 1)
        buf[sig_tlv.body + 1:sig_tlv.end] = signature
        if alg_tlv.end != sig_tlv.start:
            raise NotReissuable("unexpected certificate layout")
        return bytes(buf)

    def _names(self, buf: bytearray, name: _Tlv) -> None:
        der = bytes(buf)
        for rdn in _children(der, name):
            for atv in _children(der, rdn):
                oid, value = _children(der, atv)[:2]
                if der[oid.start:oid.end] == _COUNTRY_OID:
                    continue
                text = der[value.body:value.end]
                if value.tag not in _STRING_TAGS:
                    continue
                try:
                    new = self.pseudo.identifier(text.decode("utf-8")).encode("utf-8")
                except UnicodeDecodeError:
                    raise NotReissuable("a subject value is not UTF-8") from None
                if len(new) != len(text):
                    raise NotReissuable("a subject value changes length when pseudonymised")
                buf[value.body:value.end] = new

    def _key_identifiers(self, buf: bytearray, seq: _Tlv, own: PrivateKey,
                         signer: PrivateKey, cert: x509.Certificate) -> None:
        der = bytes(buf)
        for ext in _children(der, seq):
            parts = _children(der, ext)
            oid = der[parts[0].start:parts[0].end]
            octets = parts[-1]  # extnValue OCTET STRING
            if oid == _OID_SKI:
                inner = _tlv(der, octets.body)  # OCTET STRING keyIdentifier
                old = der[inner.body:inner.end]
                buf[inner.body:inner.end] = self._new_key_id(old, own)
            elif oid == _OID_AKI:
                aki = _tlv(der, octets.body)
                for item in _children(der, aki):
                    if item.tag == 0x80:  # [0] keyIdentifier
                        old = der[item.body:item.end]
                        buf[item.body:item.end] = self._new_key_id(old, signer)


_COUNTRY_OID = bytes.fromhex("0603550406")
# UTF8String, PrintableString, IA5String, VisibleString: text whose pseudonym keeps its
# length in octets (T61 and BMP strings are left as they are)
_STRING_TAGS = frozenset({0x0C, 0x13, 0x16, 0x1A})


def _serial(pseudo: Pseudonymizer, old: bytes) -> bytes:
    """A keyed serial of the same DER length, positive and minimally encoded, whose hex
    text has the old one's length too (OCSP request data names certificates by that
    text: replacing it in place must keep the JSON's length)."""
    if not old.strip(b"\0"):
        return old  # serial 0: nothing identifying
    new = bytearray(pseudo.opaque(b"serial\0" + old)[:len(old)])
    if len(old) > 1 and old[0] == 0:  # the sign pad: the next octet has its top bit set
        new[0], new[1] = 0, new[1] | 0x80
    elif old[0] < 0x10:  # one hex digit in the first octet
        new[0] = new[0] % 0x0F + 1
    else:  # two hex digits, and positive
        new[0] = new[0] % 0x70 + 0x10
    return bytes(new)


_HASHES = {"SHA256": hashlib.sha256, "SHA384": hashlib.sha384, "SHA512": hashlib.sha512}


def _same_form(old: str, value: str) -> str | None:
    """Hex `value` written like `old`: its length (leading zeros) and case; None when it
    does not fit."""
    if len(value) > len(old):
        return None
    value = value.rjust(len(old), "0")
    return value.upper() if old != old.lower() else value


def _spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)


def _key_bits(public) -> bytes:
    if isinstance(public, ec.EllipticCurvePublicKey):
        return public.public_bytes(serialization.Encoding.X962,
                                   serialization.PublicFormat.UncompressedPoint)
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1) \
        if isinstance(public, rsa.RSAPublicKey) else public.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _authority_key_id(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_oid(
            ExtensionOID.AUTHORITY_KEY_IDENTIFIER).value.key_identifier
    except x509.ExtensionNotFound:
        return None


def _same_kind_key(public, seed: bytes) -> PrivateKey:
    if isinstance(public, ec.EllipticCurvePublicKey):
        return _ec_key(public.curve, seed)
    if isinstance(public, rsa.RSAPublicKey):  # (random: RSA keys are not derived from a seed)
        return rsa.generate_private_key(public.public_numbers().e, public.key_size)
    if isinstance(public, ed25519.Ed25519PublicKey):
        return ed25519.Ed25519PrivateKey.from_private_bytes(seed[:32])
    if isinstance(public, ed448.Ed448PublicKey):
        return ed448.Ed448PrivateKey.from_private_bytes(seed[:57].ljust(57, b"\0"))
    raise NotReissuable(f"key type {type(public).__name__} not supported")


def _ecdsa_curve(curve: ec.EllipticCurve):
    import ecdsa

    found = getattr(ecdsa, _ECDSA_CURVES.get(curve.name, ""), None)
    if found is None:
        raise NotReissuable(f"curve {curve.name} not supported")
    return found


_ECDSA_CURVES = {"secp256r1": "NIST256p", "secp384r1": "NIST384p", "secp521r1": "NIST521p",
                 "secp256k1": "SECP256k1", "brainpoolP256r1": "BRAINPOOLP256r1",
                 "brainpoolP384r1": "BRAINPOOLP384r1", "brainpoolP512r1": "BRAINPOOLP512r1"}


def _ec_key(curve: ec.EllipticCurve, seed: bytes) -> ec.EllipticCurvePrivateKey:
    order = _ecdsa_curve(curve).order
    return ec.derive_private_key(int.from_bytes(seed, "big") % (order - 1) + 1, curve)


# longest DER ECDSA signature of each curve: 2 x (order octets + 1) + 6
_CURVE_BY_SIGNATURE = ((72, ec.SECP256R1), (104, ec.SECP384R1), (139, ec.SECP521R1))


def _issuer_key_for(cert: x509.Certificate, seed: bytes) -> PrivateKey:
    """A key of the kind that made `cert`'s signature, sized to keep its length."""
    oid = cert.signature_algorithm_oid._name.lower()
    if "ecdsa" in oid:
        # the curve whose signatures have this DER length (the hash does not tell it)
        size = len(cert.signature)
        curve = next((c for limit, c in _CURVE_BY_SIGNATURE if size <= limit), ec.SECP521R1)
        return _ec_key(curve(), seed)
    if "rsa" in oid and "pss" not in oid:
        return rsa.generate_private_key(65537, len(cert.signature) * 8)
    if "ed25519" in oid:
        return ed25519.Ed25519PrivateKey.from_private_bytes(seed[:32])
    raise NotReissuable(f"signature algorithm {oid} not supported")


def _hash_of(cert: x509.Certificate):
    algorithm = cert.signature_hash_algorithm
    return type(algorithm)() if algorithm is not None else None


def _sign(key: PrivateKey, tbs: bytes, cert: x509.Certificate, length: int) -> bytes:
    algorithm = cert.signature_hash_algorithm
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if algorithm is None:
            raise NotReissuable("ECDSA without a hash")
        import ecdsa
        from ecdsa.util import sigencode_der

        hashfunc = getattr(hashlib, algorithm.name)
        signer = ecdsa.SigningKey.from_secret_exponent(
            key.private_numbers().private_value, curve=_ecdsa_curve(key.curve), hashfunc=hashfunc)
        for attempt in range(SIGN_ATTEMPTS):
            # RFC 6979 nonces (3.6: with extra entropy, here a counter): the same key and
            # certificate give the same signature, and a counter steps to another length
            signature = signer.sign_deterministic(tbs, hashfunc=hashfunc, sigencode=sigencode_der,
                                                  extra_entropy=attempt.to_bytes(4, "big"))
            if len(signature) == length:
                return signature
        raise NotReissuable("no ECDSA signature of the original length")
    if isinstance(key, rsa.RSAPrivateKey):
        if "pss" in cert.signature_algorithm_oid._name.lower():
            raise NotReissuable("RSASSA-PSS not supported")
        signature = key.sign(tbs, padding.PKCS1v15(), type(algorithm)())
    else:
        signature = key.sign(tbs)
    if len(signature) != length:
        raise NotReissuable("the new signature has another length")
    return signature


def _verifies(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True
