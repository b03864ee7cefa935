"""One anonymisation run over many files: learn identifiers, then rewrite every file."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from chargescope.analyzer import net
from chargescope.analyzer.analysis import analyze
from chargescope.analyzer.anonymize.certs import CertificateReissuer
from chargescope.analyzer.anonymize.identifiers import Identifiers
from chargescope.analyzer.anonymize.pseudonym import CERT_MARKER, Pseudonymizer
from chargescope.analyzer.anonymize.rewrite import FrameRewriter, bit_text
from chargescope.analyzer.anonymize.streams import TcpStreams
from chargescope.analyzer.anonymize.tls import looks_like_tls, tls_certificates
from chargescope.analyzer.anonymize.xmldsig import Resigner
from chargescope.analyzer.capture.reader import open_capture
from chargescope.analyzer.capture.writer import PcapngWriter, PcapWriter

# what `--keep` can leave untouched
KEEP_CHOICES = ("mac", "ip", "ids", "auth", "keys", "certs", "tls")
TEXT_SUFFIXES = (".toml", ".json", ".jsonl", ".ndjson", ".log", ".txt", ".csv")
_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.S)
BIT_MIN = 4  # identifiers shorter than this are not searched at bit offsets


@dataclass(slots=True)
class AnonymizeReport:
    written: list[Path] = field(default_factory=list)
    frames: int = 0
    identifiers: int = 0
    websocket_flows_lost: int = 0  # flows whose framing could not be followed
    certificates_reissued: int = 0
    certificates_marked: dict[str, str] = field(default_factory=dict)  # subject -> why
    anchors: bytes = b""  # PEM: the throwaway roots the re-issued chains end at
    signatures_resigned: int = 0  # xmldsig signatures of V2G messages made again


def anonymize_files(inputs: Iterable[Path], out_dir: Path, pseudo: Pseudonymizer,
                    keep: frozenset[str] = frozenset(),
                    progress: Callable[[str], None] | None = None) -> AnonymizeReport:
    """Rewrite every capture (and site map / log text file) in `inputs` into `out_dir`."""
    inputs = list(inputs)
    captures = [p for p in inputs if not p.name.lower().endswith(TEXT_SUFFIXES)]
    texts = [p for p in inputs if p.name.lower().endswith(TEXT_SUFFIXES)]
    ids = Identifiers()
    messages = analyze(captures, keep_messages=True).messages
    ids.add_messages(messages)
    streams = TcpStreams()
    macs, v4, v6 = _first_pass(captures, streams)
    reissuer = CertificateReissuer(pseudo)
    if "certs" not in keep:
        _learn_certificates(reissuer, ids, streams)
        reissuer.reissue_all()
    resigner = Resigner()
    resigner.learn(messages, reissuer)
    del messages
    rewriter = FrameRewriter(pseudo, *_plan(pseudo, ids, macs, v4, v6, keep, reissuer),
                             keep=keep, streams=streams, certificates=reissuer.new,
                             resigner=resigner if resigner.signers else None)
    streams.rewrite(rewriter.transform)
    report = AnonymizeReport(identifiers=len(ids.texts) + len(ids.binaries) + len(ids.parties)
                            + len(ids.certificates))
    report.certificates_reissued = len(reissuer.new)
    report.certificates_marked = {reissuer.originals[d].subject.rfc4514_string(): why
                                  for d, why in reissuer.failed.items()}
    report.anchors = reissuer.anchors_pem()
    report.signatures_resigned = resigner.resigned
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in captures:
        target = out_dir / path.name
        if progress:
            progress(f"anonymising {path} -> {target}")
        report.frames += _rewrite_capture(path, target, rewriter)
        report.written.append(target)
    for path in texts:
        target = out_dir / path.name
        target.write_bytes(rewriter.substitute(path.read_bytes()))
        report.written.append(target)
    report.websocket_flows_lost = rewriter.ws_lost
    return report


def _learn_certificates(reissuer: CertificateReissuer, ids: Identifiers,
                        streams: TcpStreams) -> None:
    """Every certificate of the run: in decoded messages (DER, base64, PEM) and in the
    cleartext TLS handshakes of the TCP streams."""
    for raw in ids.certificates:
        for der in certificate_ders(raw):
            reissuer.add(der)
    for stream in streams.payloads():
        if looks_like_tls(stream):
            for der in tls_certificates(stream):
                reissuer.add(der)


def certificate_ders(raw: bytes) -> list[bytes]:
    """The DER certificates `raw` may be: DER itself, base64 of it, or PEM blocks."""
    if b"-----BEGIN CERTIFICATE-----" in raw:
        return [der for _, der in _pem_blocks(raw)]
    try:
        return [raw, base64.b64decode(raw, validate=True)]
    except (binascii.Error, ValueError):
        return [raw]


def _pem_blocks(text: bytes) -> list[tuple[list[bytes], bytes]]:
    """(base64 lines, DER) of each PEM certificate block in `text`."""
    out = []
    for match in _PEM.finditer(text):
        lines = [ln.strip() for ln in match.group(1).replace(b"\\n", b"\n").splitlines()
                 if ln.strip()]
        try:
            out.append((lines, base64.b64decode(b"".join(lines), validate=True)))
        except (binascii.Error, ValueError):
            continue
    return out


def _replaced_certificate(raw: bytes, reissued: dict[bytes, bytes]) -> dict[bytes, bytes]:
    """Plan entries for one certificate value: its re-issued twin in the same form (DER,
    base64, PEM lines with any line break, escaped or not), else the marker."""
    if raw in reissued:
        return {raw: reissued[raw]}
    if b"-----BEGIN CERTIFICATE-----" in raw:
        plan: dict[bytes, bytes] = {}
        for lines, der in _pem_blocks(raw):
            if der not in reissued:
                return {raw: certificate_marker(raw)}
            new = base64.b64encode(reissued[der])
            new_lines, at = [], 0
            for line in lines:
                new_lines.append(new[at:at + len(line)])
                at += len(line)
            # escaped once in JSON; twice in JSON inside a JSON string (OCPP 1.6
            # DataTransfer data)
            for sep in (b"\n", b"\r\n", b"\\n", b"\\r\\n", b"\\\\n", b"\\\\r\\\\n"):
                plan[sep.join(lines)] = sep.join(new_lines)
        return plan
    try:
        der = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        der = b""
    if der in reissued:
        return {raw: base64.b64encode(reissued[der])}
    return {raw: certificate_marker(raw)}


def _first_pass(paths: list[Path], streams: TcpStreams
                ) -> tuple[set[bytes], set[bytes], set[bytes]]:
    """Addresses seen, and every TCP stream collected whole."""
    macs: set[bytes] = set()
    v4: set[bytes] = set()
    v6: set[bytes] = set()
    for path in paths:
        with open_capture(path) as cap:
            for frame in cap.frames():
                pkt = net.decode(frame)
                if pkt.is_tcp and pkt.frag is None:
                    streams.add(frame.source, pkt)
                for at in (pkt.l2_src_offset, pkt.l2_dst_offset):
                    if at >= 0:
                        macs.add(frame.data[at:at + 6])
                if pkt.ip_version == 4:
                    v4.add(frame.data[pkt.l3_offset + 12:pkt.l3_offset + 16])
                    v4.add(frame.data[pkt.l3_offset + 16:pkt.l3_offset + 20])
                elif pkt.ip_version == 6:
                    v6.add(frame.data[pkt.l3_offset + 8:pkt.l3_offset + 24])
                    v6.add(frame.data[pkt.l3_offset + 24:pkt.l3_offset + 40])
    return macs, v4, v6


def _plan(pseudo: Pseudonymizer, ids: Identifiers, macs: set[bytes], v4: set[bytes],
          v6: set[bytes], keep: frozenset[str], reissued: CertificateReissuer
          ) -> tuple[dict[bytes, bytes], dict[str, str], dict[bytes, bytes]]:
    """Byte replacements, bit-offset replacements (EXI) and OCPI party replacements."""
    plan: dict[bytes, bytes] = {}
    if "ids" not in keep:
        for text in ids.texts:
            plan[text.encode()] = pseudo.identifier(text).encode()
        for raw in ids.binaries:
            plan[raw] = pseudo.mac(raw) if len(raw) == 6 else pseudo.identifier(
                raw.decode("latin-1")).encode("latin-1")
    if "certs" not in keep:
        for raw in ids.certificates:
            plan.update(_replaced_certificate(raw, reissued.new))
        # OCSP data naming a re-issued certificate names its twin (over the generic
        # pseudonym a serialNumber text got above: it stays hex)
        plan.update(reissued.ocsp_replacements())
        # each hash data entry of the inputs, in its own text form (issuer key hashes of
        # roots made for the run included)
        plan.update(reissued.hash_data_replacements(ids.hash_data))
    if "mac" not in keep:
        for raw in macs | {r for r in ids.binaries if len(r) == 6}:
            new = pseudo.mac(raw)
            if new != raw:
                plan[raw] = new
                plan.update(zip(_mac_forms(raw), _mac_forms(new), strict=True))
    if "ip" not in keep:
        for raw in v4:
            new = pseudo.ipv4(raw)
            if new != raw:
                plan[raw] = new
                plan[".".join(map(str, raw)).encode()] = ".".join(map(str, new)).encode()
        for raw in v6:
            new = pseudo.ipv6(raw)
            if new != raw:
                plan[raw] = new
    # raw addresses shorter than BIT_MIN bytes (IPv4) only replaced where aligned and
    # long enough to be unlikely by chance in payloads: IPv4 raw only in headers
    for raw in [k for k in plan if len(k) < BIT_MIN]:
        del plan[raw]
    # longest first: a certificate is replaced whole before the eMAID inside it is seen
    bits = {bit_text(old): bit_text(new)
            for old, new in sorted(plan.items(), key=lambda kv: -len(kv[0]))
            if len(old) >= BIT_MIN}
    parties: dict[bytes, bytes] = {}
    if "ids" not in keep:
        parties = {p.encode(): pseudo.identifier(p).encode() for p in ids.parties}
    return plan, bits, parties


def certificate_marker(original: bytes) -> bytes:
    """What replaces a certificate: a fixed marker of the original's length (line breaks
    of PEM text kept, so the surrounding JSON or PEM framing still parses)."""
    out = bytearray((CERT_MARKER * (len(original) // len(CERT_MARKER) + 1))[:len(original)])
    if original.isascii():  # PEM or base64 text, not DER
        for i, b in enumerate(original):
            if b in b"\r\n":
                out[i] = b
    return bytes(out)


def _mac_forms(raw: bytes) -> list[bytes]:
    """Text forms a MAC takes in logs, site maps and EXI hex: aa:bb.., AA:BB.., AABB.."""
    lower = ":".join(f"{b:02x}" for b in raw)
    return [lower.encode(), lower.upper().encode(), raw.hex().upper().encode(),
            lower.replace(":", "-").encode()]


def _rewrite_capture(path: Path, target: Path, rewriter: FrameRewriter) -> int:
    count = 0
    with open_capture(path) as cap:
        if cap.format.startswith("pcapng"):
            writer: PcapngWriter | PcapWriter = PcapngWriter(target)
            interfaces: dict[int, int] = {}
            with writer:
                for frame in cap.frames():
                    if frame.interface not in interfaces:
                        interfaces[frame.interface] = writer.add_interface(frame.linktype)
                    writer.write(rewriter.rewrite(frame), frame.ts_ns,
                                 interfaces[frame.interface], wirelen=frame.wirelen)
                    count += 1
        else:
            frames = cap.frames()
            first = next(frames, None)
            with PcapWriter(target, linktype=first.linktype if first else 1) as plain:
                for frame in ([first] if first else []):
                    plain.write(rewriter.rewrite(frame), frame.ts_ns, frame.wirelen)
                    count += 1
                for frame in frames:
                    plain.write(rewriter.rewrite(frame), frame.ts_ns, frame.wirelen)
                    count += 1
    return count
