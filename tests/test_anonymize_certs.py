"""Certificates re-issued under the run's throwaway CA tree: same length and structure,
pseudonymised subjects, the same chain verdicts with the throwaway roots as anchors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from chargescope.analyzer.anonymize import Pseudonymizer, anonymize_files
from chargescope.analyzer.anonymize.certs import CertificateReissuer
from chargescope.analyzer.anonymize.streams import TcpStreams
from chargescope.analyzer.anonymize.tls import looks_like_tls, tls_certificates
from chargescope.analyzer.simulate.render import render, site_map
from chargescope.analyzer.simulate.scenarios import SCENARIOS
from chargescope.cli import cli

REPO = Path(__file__).resolve().parent.parent
CORPUS_TLS = (REPO.parent / "shared" / "corpus" / "pcaps" / "dspace-group+dsV2Gshark"
              / "ISO-2_DC_PnC_TLS_Contract_DS5366_RiseV2G.pcapng")
KEY = b"certificates".ljust(32, b"-")
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Mobility GmbH"),
                      x509.NameAttribute(NameOID.COUNTRY_NAME, "DE")])


def _cert(subject: str, issuer: str, key, signer, ca: bool, issuer_key=None) -> bytes:
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(START).not_valid_after(START + dt.timedelta(days=700))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), True)
               .add_extension(x509.KeyUsage(not ca, False, False, False, not ca, ca, ca,
                                            False, False), True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   (issuer_key or signer).public_key()), False))
    return builder.sign(signer, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def pki() -> dict[str, bytes]:
    root = ec.generate_private_key(ec.SECP256R1())
    sub = ec.generate_private_key(ec.SECP384R1())
    leaf = ec.generate_private_key(ec.SECP256R1())
    other = ec.generate_private_key(ec.SECP256R1())
    absent = ec.generate_private_key(ec.SECP256R1())
    lone = ec.generate_private_key(ec.SECP256R1())
    return {
        "root": _cert("Example Root CA", "Example Root CA", root, root, True),
        "sub": _cert("Example MO Sub-CA", "Example Root CA", sub, root, True),
        "leaf": _cert("DEEXAC123456784", "Example MO Sub-CA", leaf, sub, False),
        # claims the sub-CA as issuer, signed by another key: a broken chain
        "forged": _cert("DEEXAC999999994", "Example MO Sub-CA", leaf, other, False,
                        issuer_key=sub),
        # issued by a root the inputs do not hold
        "orphan": _cert("Example CPO Sub-CA", "Example V2G Root", lone, absent, True),
    }


def _verifies(cert: bytes, issuer: bytes) -> bool:
    try:
        x509.load_der_x509_certificate(cert).verify_directly_issued_by(
            x509.load_der_x509_certificate(issuer))
    except Exception:  # noqa: BLE001 - any failure is "does not verify"
        return False
    return True


def _reissue(pki: dict[str, bytes], key: bytes = KEY) -> CertificateReissuer:
    reissuer = CertificateReissuer(Pseudonymizer(key))
    for der in pki.values():
        assert reissuer.add(der)
    assert not reissuer.add(b"not a certificate")
    reissuer.reissue_all()
    assert reissuer.failed == {}
    return reissuer


def test_same_length_structure_and_pseudonymised_subjects(pki: dict[str, bytes]) -> None:
    reissuer = _reissue(pki)
    pseudo = reissuer.pseudo
    for der in pki.values():
        new = reissuer.new[der]
        assert len(new) == len(der) and new != der
        old_cert, new_cert = (x509.load_der_x509_certificate(d) for d in (der, new))
        assert new_cert.not_valid_before_utc == old_cert.not_valid_before_utc
        assert new_cert.not_valid_after_utc == old_cert.not_valid_after_utc
        assert [e.oid for e in new_cert.extensions] == [e.oid for e in old_cert.extensions]
        for oid in (x509.oid.ExtensionOID.KEY_USAGE, x509.oid.ExtensionOID.BASIC_CONSTRAINTS):
            assert new_cert.extensions.get_extension_for_oid(oid) == \
                old_cert.extensions.get_extension_for_oid(oid)
        assert new_cert.public_key().curve.name == old_cert.public_key().curve.name
        assert new_cert.public_key() != old_cert.public_key()
        assert new_cert.serial_number != old_cert.serial_number
        cn = old_cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        assert new_cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == \
            pseudo.identifier(cn) != cn
        assert new_cert.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "DE"
        ski = new_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        assert ski == x509.SubjectKeyIdentifier.from_public_key(new_cert.public_key())


def test_chain_verdicts_kept(pki: dict[str, bytes]) -> None:
    reissuer = _reissue(pki)
    new = reissuer.new
    for child in pki.values():
        for parent in pki.values():
            assert _verifies(new[child], new[parent]) == _verifies(child, parent)
    assert _verifies(new[pki["leaf"]], new[pki["sub"]])
    assert not _verifies(new[pki["forged"]], new[pki["sub"]])  # still broken
    # the anchors: the re-issued root and a root made for the absent one
    anchors = [a.public_bytes(serialization.Encoding.DER) for a in reissuer.anchors]
    assert new[pki["root"]] in anchors and len(anchors) == 2
    made = next(a for a in anchors if a != new[pki["root"]])
    assert _verifies(new[pki["orphan"]], made)
    assert x509.load_pem_x509_certificates(reissuer.anchors_pem())


def test_same_key_same_tree_other_key_other_tree(pki: dict[str, bytes]) -> None:
    first, again = _reissue(pki), _reissue(pki)
    assert first.new == again.new and first.anchors_pem() == again.anchors_pem()
    other = _reissue(pki, b"another".ljust(32, b"-"))
    assert all(other.new[d] != first.new[d] for d in pki.values())


def _tls_json(path: Path, anchors: Path | None) -> dict:
    extra = ["--trust-anchors", str(anchors)] if anchors else []
    out = CliRunner().invoke(cli, ["tls", "--json", *extra, str(path)])
    return json.loads(out.output)["captures"][0]


def _write_pem(path: Path, ders: list[bytes]) -> Path:
    path.write_bytes(b"".join(x509.load_der_x509_certificate(d).public_bytes(
        serialization.Encoding.PEM) for d in ders))
    return path


def test_simulated_pnc_same_verdicts_under_the_throwaway_root(tmp_path: Path) -> None:
    source, out = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    render(SCENARIOS["dc-pnc-happy"], source, seed=0)
    (source / "site.toml").write_text(site_map([SCENARIOS["dc-pnc-happy"]]))
    report = anonymize_files(sorted(source.iterdir()), out, Pseudonymizer(KEY))
    assert report.certificates_reissued >= 2 and not report.certificates_marked
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(report.anchors)
    plc = next(p.name for p in source.iterdir() if "linkA" in p.name)
    originals = _certificates(source / plc)
    real_root = _write_pem(tmp_path / "real.pem", [d for d, c in originals.items()
                                                   if c.issuer == c.subject])
    before = _tls_json(source / plc, real_root)
    after = _tls_json(out / plc, anchors)
    assert [f["code"] for f in after["findings"]] == [f["code"] for f in before["findings"]]
    assert [(c["element"], len(c["certificates"])) for c in after["chains"]] == \
        [(c["element"], len(c["certificates"])) for c in before["chains"]] != []
    # the anchors matter: the real root does not anchor the re-issued chain, nor the
    # throwaway root the real one
    assert "pnc.chain.unknown_root" in {f["code"] for f in _tls_json(out / plc, real_root)
                                        ["findings"]}
    assert "pnc.chain.unknown_root" in {f["code"] for f in _tls_json(source / plc, anchors)
                                        ["findings"]}
    # the contract certificate names the eMAID's pseudonym (no pnc.emaid.mismatch above)
    leaf = after["chains"][0]["certificates"][0]
    assert leaf["common_name"] != before["chains"][0]["certificates"][0]["common_name"]
    blob = b"".join(p.read_bytes() for p in out.iterdir())
    assert b"chargescope simulate MO" not in blob
    assert not [d for d in originals if d in blob]


def _certificates(path: Path) -> dict[bytes, x509.Certificate]:
    """The certificates the decoded messages of a capture carry."""
    from chargescope.analyzer.analysis import analyze
    from chargescope.analyzer.anonymize.identifiers import Identifiers
    from chargescope.analyzer.anonymize.run import certificate_ders

    ids = Identifiers()
    ids.add_messages(analyze([path], keep_messages=True).messages)
    reissuer = CertificateReissuer(Pseudonymizer(KEY))
    for raw in ids.certificates:
        for der in certificate_ders(raw):
            reissuer.add(der)
    return reissuer.originals


def _server_chains(path: Path) -> list[list[bytes]]:
    from chargescope.analyzer.anonymize.run import _first_pass

    streams = TcpStreams()
    _first_pass([path], streams)
    return [tls_certificates(s) for s in streams.payloads()
            if looks_like_tls(s) and tls_certificates(s)]


@pytest.mark.skipif(not CORPUS_TLS.exists(), reason="corpus TLS capture not present")
def test_tls_corpus_certificates_reissued(tmp_path: Path) -> None:
    report = anonymize_files([CORPUS_TLS], tmp_path, Pseudonymizer(KEY))
    assert not report.certificates_marked
    before, after = _server_chains(CORPUS_TLS), _server_chains(tmp_path / CORPUS_TLS.name)
    assert [len(c) for c in after] == [len(c) for c in before] != []
    anchors = [a.public_bytes(serialization.Encoding.DER)
               for a in x509.load_pem_x509_certificates(report.anchors)]
    for old_chain, new_chain in zip(before, after, strict=True):
        for old, new in zip(old_chain, new_chain, strict=True):
            assert len(old) == len(new) and old != new
        pairs = zip(zip(old_chain, old_chain[1:], strict=False),
                    zip(new_chain, new_chain[1:], strict=False), strict=True)
        for (old, old_up), (new, new_up) in pairs:
            assert _verifies(new, new_up) == _verifies(old, old_up)
        # the top of the chain is issued by one of the run's throwaway roots
        assert any(_verifies(new_chain[-1], a) for a in anchors)
    blob = (tmp_path / CORPUS_TLS.name).read_bytes()
    # subject words (the vendor's name also appears in its diagnostic frames: not ours)
    for word in (b"Smart Charging", b"Paderborn", b"Test-PKI"):
        assert word in CORPUS_TLS.read_bytes() and word not in blob


def _plaintext_pnc(path: Path) -> list[str]:
    """A plaintext capture of the corpus PnC session's V2G messages (decrypted there), so
    the contract chain and the signed AuthorizationReq are in the clear."""
    import random

    from chargescope.analyzer.analysis import analyze
    from chargescope.analyzer.capture.writer import PcapngWriter
    from chargescope.analyzer.simulate.netbuild import Node, Wire, link_local_ipv6
    from chargescope.dissectors import exi

    messages = [m for m in analyze([CORPUS_TLS], keep_messages=True).messages
                if m.protocol == "exi" and m.fields.get("schema") == "iso2"]
    ev, evse = "02:00:00:00:00:01", "02:00:00:00:00:02"
    wire = Wire(random.Random(1))
    tcp = wire.tcp(Node(ev, link_local_ipv6(ev)), Node(evse, link_local_ipv6(evse)), 55119)
    ts = tcp.connect(messages[0].ts_ns - 1_000_000)
    names = []
    for message in messages:
        payload = exi.encode({"V2G_Message": message.fields["V2G_Message"]}, "iso2")
        v2gtp = b"\x01\xfe\x80\x01" + len(payload).to_bytes(4, "big") + payload
        ts = tcp.send(max(ts + 1000, message.ts_ns), v2gtp, message.name.endswith("Req"))
        names.append(message.name)
    tcp.close(ts + 1000)
    with PcapngWriter(path) as writer:
        interface = writer.add_interface(1)
        for frame in wire.ordered():
            writer.write(frame.data, frame.ts_ns, interface)
    return names


def _signed_ok(tree: dict, certificate: x509.Certificate) -> bool:
    import base64
    import hashlib

    from cryptography.hazmat.primitives.asymmetric import utils

    from chargescope.analyzer.anonymize.xmldsig import referenced, signature_of
    from chargescope.dissectors import exi

    signature = signature_of(tree)
    info = signature["SignedInfo"]
    for ref in info["Reference"]:
        name, content = referenced(tree, ref["URI"])
        digest = hashlib.sha256(exi.encode_fragment(name, content, "iso2")).digest()
        if base64.b64encode(digest).decode() != ref["DigestValue"]:
            return False
    raw = base64.b64decode(signature["SignatureValue"]["value"])
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    try:
        certificate.public_key().verify(utils.encode_dss_signature(r, s),
                                        exi.encode_fragment("SignedInfo", info, "xmldsig"),
                                        ec.ECDSA(hashes.SHA256()))
    except Exception:  # noqa: BLE001 - InvalidSignature
        return False
    return True


def _pnc_messages(path: Path) -> tuple[dict, x509.Certificate]:
    import base64

    from chargescope.analyzer.analysis import analyze

    messages = analyze([path], keep_messages=True).messages
    payment = next(m for m in messages if m.name == "PaymentDetailsReq")
    chain = payment.fields["V2G_Message"]["Body"]["PaymentDetailsReq"][
        "ContractSignatureCertChain"]
    leaf = x509.load_der_x509_certificate(base64.b64decode(chain["Certificate"]))
    auth = next(m for m in messages if m.name == "AuthorizationReq")
    return {"V2G_Message": auth.fields["V2G_Message"]}, leaf


@pytest.mark.skipif(not CORPUS_TLS.exists(), reason="corpus TLS capture not present")
def test_xmldsig_signatures_made_again_with_the_new_contract_key(tmp_path: Path) -> None:
    source = tmp_path / "pnc-plain.pcapng"
    names = _plaintext_pnc(source)
    assert "AuthorizationReq" in names and "PaymentDetailsReq" in names
    tree, leaf = _pnc_messages(source)
    assert _signed_ok(tree, leaf)  # the original verifies with the original contract key
    report = anonymize_files([source], tmp_path / "out", Pseudonymizer(KEY))
    assert report.signatures_resigned >= 1 and not report.certificates_marked
    new_tree, new_leaf = _pnc_messages(tmp_path / "out" / source.name)
    assert new_leaf.public_key() != leaf.public_key()
    assert _signed_ok(new_tree, new_leaf)
    assert not _signed_ok(new_tree, leaf) and not _signed_ok(tree, new_leaf)
    # the PnC checks (signatures included) judge both alike: the original without its
    # (unavailable) roots, the copy with the run's throwaway roots as anchors
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(report.anchors)
    before = _tls_json(source, None)
    after = _tls_json(tmp_path / "out" / source.name, anchors)
    assert sorted(f["code"] for f in after["findings"]) == \
        sorted(f["code"] for f in before["findings"])
    assert not [f for f in after["findings"] if f["code"].startswith("pnc.signature")]


def test_certificate_forms_in_text(pki: dict[str, bytes]) -> None:
    """DER, base64 and PEM (real, CRLF or JSON-escaped line breaks) map to the re-issued
    certificate in the same form; what is not a certificate gets the marker."""
    import base64

    from chargescope.analyzer.anonymize.run import (
        _replaced_certificate,
        certificate_ders,
        certificate_marker,
    )

    reissuer = _reissue(pki)
    leaf, sub = pki["leaf"], pki["sub"]
    new_leaf, new_sub = reissuer.new[leaf], reissuer.new[sub]
    assert _replaced_certificate(leaf, reissuer.new) == {leaf: new_leaf}
    b64 = base64.b64encode(leaf)
    assert _replaced_certificate(b64, reissuer.new) == {b64: base64.b64encode(new_leaf)}
    pem = b"".join(x509.load_der_x509_certificate(d).public_bytes(serialization.Encoding.PEM)
                   for d in (leaf, sub))
    assert certificate_ders(pem) == [leaf, sub]
    plan = _replaced_certificate(pem, reissuer.new)
    expected = b"".join(x509.load_der_x509_certificate(d).public_bytes(
        serialization.Encoding.PEM) for d in (new_leaf, new_sub))
    for text, want in ((pem, expected),
                       (pem.replace(b"\n", b"\r\n"), expected.replace(b"\n", b"\r\n")),
                       (pem.replace(b"\n", b"\\n"), expected.replace(b"\n", b"\\n"))):
        out = text
        for old, new in sorted(plan.items(), key=lambda kv: -len(kv[0])):
            out = out.replace(old, new)
        assert out == want
    junk = b"A" * 40
    assert _replaced_certificate(junk, reissuer.new) == {junk: certificate_marker(junk)}


def test_ocsp_data_names_the_reissued_certificate(tmp_path: Path) -> None:
    """OCPP Authorize's iso15118CertificateHashData keeps naming the contract certificate
    link A carries (serial, issuer name and key hashes of the re-issued chain)."""
    import base64
    import hashlib

    from chargescope.analyzer.analysis import analyze

    source, out = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    render(SCENARIOS["dc-pnc-happy"], source, seed=0)
    anonymize_files(sorted(source.iterdir()), out, Pseudonymizer(KEY))
    for directory in (source, out):
        messages = analyze(sorted(p for p in directory.iterdir() if "link" in p.name),
                           keep_messages=True).messages
        payment = next(m for m in messages if m.name == "PaymentDetailsReq")
        chain = payment.fields["V2G_Message"]["Body"]["PaymentDetailsReq"][
            "ContractSignatureCertChain"]
        leaf = x509.load_der_x509_certificate(base64.b64decode(chain["Certificate"]))
        sub = x509.load_der_x509_certificate(base64.b64decode(
            chain["SubCertificates"]["Certificate"][0]))
        data = next(m.fields["payload"]["iso15118CertificateHashData"][0] for m in messages
                    if m.protocol == "ocpp" and isinstance(m.fields.get("payload"), dict)
                    and "iso15118CertificateHashData" in m.fields["payload"])
        key_bits = sub.public_key().public_bytes(serialization.Encoding.X962,
                                                 serialization.PublicFormat.UncompressedPoint)
        assert data["serialNumber"] == format(leaf.serial_number, "x")
        assert data["issuerNameHash"] == hashlib.sha256(leaf.issuer.public_bytes()).hexdigest()
        assert data["issuerKeyHash"] == hashlib.sha256(key_bits).hexdigest()


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 2**159 - 1), st.binary(min_size=8, max_size=8))
def test_reissued_serial_keeps_its_der_and_hex_lengths(serial: int, key: bytes) -> None:
    """OCSP request data names a certificate by its serial's hex text, replaced in place:
    the new serial's text must have the old one's length (and its DER too)."""
    from chargescope.analyzer.anonymize.certs import _serial

    old = serial.to_bytes(serial.bit_length() // 8 + 1, "big")  # DER: with a sign pad
    new = _serial(Pseudonymizer(key.ljust(32, b"-")), old)
    assert len(new) == len(old)  # (equal by chance at times: a keyed value, not a shift)
    new_int = int.from_bytes(new, "big")
    assert len(format(new_int, "x")) == len(format(serial, "x"))
    assert new_int.to_bytes(new_int.bit_length() // 8 + 1, "big") == new  # minimal, positive


def _hash_entry(cert: x509.Certificate, issuer_key_bits: bytes, serial_text: str) -> dict:
    import hashlib

    return {"hashAlgorithm": "SHA256", "serialNumber": serial_text,
            "issuerNameHash": hashlib.sha256(cert.issuer.public_bytes()).hexdigest(),
            "issuerKeyHash": hashlib.sha256(issuer_key_bits).hexdigest().upper(),
            "responderURL": "http://ocsp.example/"}


def _bits(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(serialization.Encoding.X962,
                                          serialization.PublicFormat.UncompressedPoint)


@pytest.mark.parametrize("run", range(6))
def test_hash_data_entries_name_the_reissued_certificates(pki: dict[str, bytes],
                                                          run: int) -> None:
    """Each entry, in its own text form (minimal or zero-padded, either case), is mapped
    to the re-issued certificate's serial and issuer hashes; the issuer key hash follows
    the made root's key where the real root is not among the inputs."""
    import hashlib

    reissuer = _reissue(pki, key=f"hash data run {run}".encode().ljust(32, b"-"))
    root_key = ec.generate_private_key(ec.SECP256R1())  # the absent root: not in the inputs
    leaf, orphan = (x509.load_der_x509_certificate(pki[k]) for k in ("leaf", "orphan"))
    sub = x509.load_der_x509_certificate(pki["sub"])
    minimal = _hash_entry(leaf, _bits(sub), format(leaf.serial_number, "x"))
    padded = _hash_entry(leaf, _bits(sub), format(leaf.serial_number, "040X"))
    lost_root = _hash_entry(orphan, _bits(root_key), format(orphan.serial_number, "x"))
    stranger = {**minimal, "issuerNameHash": "ab" * 32}  # same serial, another issuer
    plan = reissuer.hash_data_replacements([minimal, padded, lost_root, stranger])

    def mapped(entry: dict) -> dict:
        return {k: plan.get(v.encode(), v.encode()).decode() for k, v in entry.items()}

    new_leaf, new_sub, new_orphan = (x509.load_der_x509_certificate(reissuer.new[pki[k]])
                                     for k in ("leaf", "sub", "orphan"))
    for entry in (minimal, padded):
        out = mapped(entry)
        assert len(out["serialNumber"]) == len(entry["serialNumber"])
        assert int(out["serialNumber"], 16) == new_leaf.serial_number
        assert out["issuerNameHash"] == hashlib.sha256(new_leaf.issuer.public_bytes()).hexdigest()
        assert out["issuerKeyHash"] == hashlib.sha256(_bits(new_sub)).hexdigest().upper()
        assert out["responderURL"] == entry["responderURL"]
    assert mapped(padded)["serialNumber"] == format(new_leaf.serial_number, "040X")
    (made_root,) = [a for a in reissuer.anchors if a.subject == new_orphan.issuer]
    out = mapped(lost_root)
    assert int(out["serialNumber"], 16) == new_orphan.serial_number
    assert out["issuerKeyHash"] == hashlib.sha256(_bits(made_root)).hexdigest().upper()
    assert stranger["issuerNameHash"].encode() not in plan


@pytest.mark.parametrize("key", [b"pnc serials 1", b"pnc serials 21", b"pnc serials 49"])
def test_anonymised_pnc_keeps_the_contract_serial_agreeing_across_links(tmp_path: Path,
                                                                        key: bytes) -> None:
    """A vs B: the serial of the contract certificate in PaymentDetailsReq and the OCSP
    hash data in OCPP Authorize still name one certificate after anonymisation, so the
    cross-link rule stays quiet on the happy session and still fires on the stale one.
    (Keys 21 and 49 gave the contract certificate a serial whose hex text was a digit
    shorter, which no in-place replacement could map.)"""
    from chargescope.analyzer.analysis import analyze

    for scenario, expected in (("dc-pnc-happy", False), ("pnc-emaid-mismatch", True)):
        source, out = tmp_path / scenario / "in", tmp_path / scenario / "out"
        source.mkdir(parents=True)
        render(SCENARIOS[scenario], source, seed=0)
        anonymize_files(sorted(source.iterdir()), out, Pseudonymizer(key.ljust(32, b"-")))
        for directory in (source, out):
            (session,) = [s for s in analyze(sorted(p for p in directory.iterdir()
                                                    if "link" in p.name)).sessions
                          if s.link_parts("A") and s.link_parts("B")]
            codes = {f.code for f in session.findings}
            assert ("xlink.pnc.certificate_hash_mismatch" in codes) == expected, directory
            [a], [b] = session.link_parts("A"), session.link_parts("B")
            assert (a.keys["contract_serial"] in b.keys["contract_serial"].split(",")) \
                == (not expected)


PNC_16 = "org.openchargealliance.iso15118pnc"


def _ocpp16_pnc_capture(path: Path, frames: list[list]) -> None:
    """A link B capture of OCPP 1.6 whose frames (CALL/CALLRESULT lists, sent by the CSMS
    when the CALL's unique id starts with "c") follow the simulator's WebSocket opening."""
    import dataclasses
    import random

    from chargescope.analyzer.simulate import encoders as enc
    from chargescope.analyzer.simulate import netbuild as nb
    from chargescope.analyzer.simulate.events import Ocpp, WsOpen
    from chargescope.analyzer.simulate.render import _link_b

    events: list = [WsOpen(10**9)]
    for index, frame in enumerate(frames, start=1):
        by_csms = frame[1].startswith("c") == (frame[0] == 2)
        events.append(Ocpp(10**9 + index * 10**8, not by_csms, frame))
    wire = nb.Wire(random.Random(0))
    _link_b(wire, dataclasses.replace(SCENARIOS["dc-pnc-happy"], ocpp="ocpp1.6"), events, 0)
    with enc.writer_module().PcapWriter(path, linktype=1, nano=False) as out:
        for wire_frame in wire.ordered():
            out.write(wire_frame.data, wire_frame.ts_ns)


def test_ocpp16_pnc_data_transfer_strings_name_the_reissued_certificates(
        pki: dict[str, bytes], tmp_path: Path) -> None:
    """OCA's 1.6 PnC whitepaper tunnels ISO 15118 messages in DataTransfer `data` strings:
    a certificate chain there (PEM escaped twice) is re-issued, and hash data in an answer
    (no vendorId: only the request names PnC) names the re-issued certificate, issuer key
    hash of the root made for the run included; the frames keep their lengths."""
    import hashlib

    from chargescope.analyzer.analysis import analyze

    orphan = x509.load_der_x509_certificate(pki["orphan"])
    pem = orphan.public_bytes(serialization.Encoding.PEM).decode()
    absent_root_key = hashlib.sha256(b"absent root key bits").hexdigest()  # any real-looking
    entry = {"hashAlgorithm": "SHA256", "serialNumber": format(orphan.serial_number, "X"),
             "issuerNameHash": hashlib.sha256(orphan.issuer.public_bytes()).hexdigest(),
             "issuerKeyHash": absent_root_key}
    frames = [
        [2, "c1", "DataTransfer", {"vendorId": PNC_16, "messageId": "CertificateSigned",
                                   "data": json.dumps({"certificateChain": pem})}],
        [3, "c1", {"status": "Accepted", "data": json.dumps({"status": "Accepted"})}],
        [2, "c2", "DataTransfer", {"vendorId": PNC_16, "messageId": "GetInstalledCertificateIds",
                                   "data": json.dumps({"certificateType": "V2GRootCertificate"})}],
        [3, "c2", {"status": "Accepted", "data": json.dumps(
            {"status": "Accepted", "certificateHashData": [entry]})}],
        [2, "p3", "DataTransfer", {"vendorId": PNC_16, "messageId": "Authorize",
                                   "data": json.dumps({"idToken": {"idToken": "DEEXAC12345678",
                                                                   "type": "eMAID"},
                                                       "iso15118CertificateHashData": [
                                                           {**entry, "serialNumber": format(
                                                               orphan.serial_number, "x")}]})}],
        [3, "p3", {"status": "Accepted", "data": json.dumps(
            {"idTokenInfo": {"status": "Accepted"}})}],
    ]
    source, out = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    _ocpp16_pnc_capture(source / "pnc16-linkB.pcap", frames)
    report = anonymize_files([source / "pnc16-linkB.pcap"], out, Pseudonymizer(KEY))
    assert report.certificates_reissued == 1 and not report.certificates_marked
    blob = (out / "pnc16-linkB.pcap").read_bytes()
    assert not [line for line in pem.splitlines()[1:-1] if line.encode() in blob]
    (anchor,) = x509.load_pem_x509_certificates(report.anchors)

    before, after = ([m for m in analyze([d / "pnc16-linkB.pcap"], keep_messages=True).messages
                      if m.protocol == "ocpp"] for d in (source, out))
    assert [(m.name, m.ok, m.fields["schema"]) for m in after] == \
        [(m.name, m.ok, m.fields["schema"]) for m in before]
    assert [len(m.fields["payload"]["data"]) for m in after] == \
        [len(m.fields["payload"]["data"]) for m in before]
    new_pem = after[0].fields["iso15118_pnc"]["data"]["certificateChain"]
    new = x509.load_pem_x509_certificate(new_pem.encode())
    assert new != orphan and new.issuer == anchor.subject
    new.verify_directly_issued_by(anchor)
    (mapped,) = json.loads(after[3].fields["payload"]["data"])["certificateHashData"]
    assert mapped["serialNumber"] == format(new.serial_number, "X").rjust(
        len(entry["serialNumber"]), "0")
    assert mapped["issuerNameHash"] == hashlib.sha256(new.issuer.public_bytes()).hexdigest()
    assert mapped["issuerKeyHash"] == hashlib.sha256(_bits(anchor)).hexdigest()
    (asked,) = after[4].fields["iso15118_pnc"]["data"]["iso15118CertificateHashData"]
    assert (asked["serialNumber"], asked["issuerKeyHash"]) == (
        format(new.serial_number, "x"), mapped["issuerKeyHash"])
