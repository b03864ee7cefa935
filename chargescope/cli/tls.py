"""`chargescope tls`: TLS connections, key material, certificate chains and their findings."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from chargescope.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FINDINGS,
    capture_options,
    current_limits,
    diag,
    emit_json,
    expand_captures,
)


@dataclass
class _Connection:
    client: str
    server: str
    link: str
    version: str = ""
    cipher: str = ""
    server_name: list[str] = field(default_factory=list)
    alpn: list[str] = field(default_factory=list)
    server_certificates: list[dict] = field(default_factory=list)
    client_certificates: list[dict] = field(default_factory=list)  # mutual TLS
    alerts: list[str] = field(default_factory=list)
    secure_renegotiation: bool | None = None  # RFC 5746 agreed in the first handshake
    renegotiations: int = 0  # TLS 1.2 handshakes inside the encrypted channel
    decrypted: bool | None = None  # None: nothing protected seen
    problems: list[str] = field(default_factory=list)

    def add(self, message: Any) -> None:
        f = message.fields.get("tls", {})
        if message.name == "ClientHello":
            self.server_name, self.alpn = f.get("server_name", []), f.get("alpn", [])
        elif message.name == "ServerHello":
            self.version, self.cipher = f.get("version", ""), f.get("cipher_suite", "")
            if f.get("renegotiation"):
                self.renegotiations += 1
            elif self.secure_renegotiation is None:
                self.secure_renegotiation = f.get("secure_renegotiation")
        elif message.name == "Certificate" and f.get("certificates"):
            if message.src == self.server:
                self.server_certificates = f["certificates"]
            else:
                self.client_certificates = f["certificates"]
        elif message.name == "Alert":
            self.alerts.append(f"{message.src} {f.get('level')} {f.get('description')}")
        elif message.name == "Finished" and self.decrypted is None and self.version:
            self.decrypted = True  # a Finished is only readable once decrypted (or TLS 1.2
            # plaintext handshake in the clear up to CCS: Finished always follows CCS)
        for problem in message.problems:
            self.problems.append(problem.kind)
            if problem.kind in ("tls.keys.missing", "tls.record.decrypt_failed",
                                "tls.cipher.unsupported"):
                self.decrypted = False


def analyse(path: Path, keylog_files: tuple[Path, ...], anchors: list) -> dict:
    from chargescope.analyzer.capture import open_capture
    from chargescope.analyzer.pipeline import Pipeline
    from chargescope.analyzer.records import Message
    from chargescope.analyzer.tls.checks import TlsChecker
    from chargescope.analyzer.tls.pnc import PncChecker, describe, find_chains, ocpp_chains
    from chargescope.analyzer.tls.sources import frames_with_secrets, load_key_logs

    keylog = load_key_logs(keylog_files)
    conns: dict[tuple, _Connection] = {}
    chains: list[dict] = []
    tls_checks, pnc_checks = TlsChecker(), PncChecker(anchors)
    with open_capture(path) as capture:
        for item in Pipeline(keylog=keylog, limits=current_limits()).run(
                frames_with_secrets(capture, keylog)):
            if not isinstance(item, Message):
                continue
            if item.protocol == "tls":
                stream = item.fields["tls"].get("tcp_stream", -1)
                key = (stream, *sorted((item.src, item.dst)))
                if key not in conns:
                    client, server = ((item.src, item.dst) if item.name == "ClientHello"
                                      else (item.dst, item.src))
                    conns[key] = _Connection(client, server, str(item.link))
                conns[key].add(item)
                tls_checks.feed(item)
            elif item.protocol in ("exi", "ocpp"):
                pnc_checks.feed(item)
                found = (find_chains(item.fields) if item.protocol == "exi" else
                         ocpp_chains(item.fields.get("payload") or {}))
                for chain in found:
                    chains.append({"message": item.name, "ts_ns": item.ts_ns,
                                   "element": chain.element, "errors": list(chain.errors),
                                   "certificates": [describe(c) for c in chain.certificates
                                                    if c is not None]})
    findings = tls_checks.finish() + pnc_checks.finish()
    signatures = [{"message": s.message, "ts_ns": s.ts_ns, "method": s.method,
                   "signer": s.signer, "certificate": s.certificate, "status": s.status,
                   "references": [{"uri": r.uri, "element": r.element, "status": r.status}
                                  for r in s.references]}
                  for s in pnc_checks.signatures.checks]
    return {"capture": str(path), "connections": [vars(c) for c in conns.values()],
            "chains": chains, "signatures": signatures, "key_log": {"entries": len(keylog), "origins": keylog.origins,
                                          "rejected_lines": len(keylog.errors)},
            "findings": [{"code": f.code, "severity": f.severity.name.lower(), "text": f.text,
                          "ts_ns": f.ts_ns, "link": f.link} for f in findings],
            "_keylog": keylog}


def _print(doc: dict) -> None:
    click.echo(f"{doc['capture']}")
    log = doc["key_log"]
    click.echo(f"  key log: {log['entries']} secrets"
               + "".join(f"; {n} from {o}" for o, n in log["origins"].items()))
    for c in doc["connections"]:
        state = {True: "decrypted", False: "NOT decrypted", None: "no protected data"}
        click.echo(f"  TLS {c['client']} -> {c['server']} (link {c['link']}): "
                   f"{c['version'] or '?'} {c['cipher']}  [{state[c['decrypted']]}]")
        if c["server_name"]:
            click.echo(f"    SNI {', '.join(c['server_name'])}")
        for side, cert in ([("server", x) for x in c["server_certificates"]]
                           + [("client", x) for x in c["client_certificates"]]):
            click.echo(f"    {side} cert {cert.get('subject', cert.get('error'))}  issuer "
                       f"{cert.get('issuer', '-')}  valid {cert.get('not_before', '?')[:10]}"
                       f"..{cert.get('not_after', '?')[:10]}")
        if c["renegotiations"]:
            secure = {True: "secure (RFC 5746)", False: "INSECURE (no RFC 5746)", None: "?"}
            click.echo(f"    renegotiated {c['renegotiations']}x, "
                       f"{secure[c['secure_renegotiation']]}")
        for alert in c["alerts"]:
            click.echo(f"    alert {alert}")
    for chain in doc["chains"]:
        click.echo(f"  {chain['message']} {chain['element']}:")
        for cert in chain["certificates"]:
            click.echo(f"    {cert['common_name']}  issuer {cert['issuer']}  valid "
                       f"{cert['not_before'][:10]}..{cert['not_after'][:10]}  "
                       f"key usage {','.join(cert['key_usage'] or ['-'])}")
    for sig in doc["signatures"]:
        refs = ", ".join(f"{r['uri']} {r['element'] or '?'} {r['status']}"
                         for r in sig["references"])
        signer = f"{sig['signer']} {sig['certificate']}".strip() or "signer unknown"
        click.echo(f"  {sig['message']} signature {sig['status']}  ({signer}; {refs})")
    for f in doc["findings"]:
        click.echo(f"  {f['severity'].upper():7} {f['code']}: {f['text']}")


@click.command("tls")
@capture_options
@click.option("--trust-anchors", "anchor_paths", multiple=True,
              type=click.Path(exists=True, path_type=Path),
              help="Root certificates (PEM/DER files or directories: V2G, MO, OEM roots) "
                   "the PnC chains must end at; may repeat.")
@click.option("--export-keylog", type=click.Path(dir_okay=False, path_type=Path),
              help="Write every TLS secret found (files, DSBs, in-band UDP) as an NSS key "
                   "log, e.g. for Wireshark.")
def command(captures: tuple[Path, ...], as_json: bool, keylog: tuple[Path, ...],
            site: Path | None, show_secrets: bool, anchor_paths: tuple[Path, ...],
            export_keylog: Path | None) -> None:
    """TLS connections (version, cipher, SNI, certificates, alerts, decrypted or not), the
    key material found, Plug & Charge certificate chains in V2G and OCPP messages, and
    their findings. Exit status: 0 no error findings, 1 error findings, 2 bad input."""
    from chargescope.analyzer.tls.keylog import format_key_log
    from chargescope.analyzer.tls.pnc import load_trust_anchors

    files = expand_captures(captures)
    if not files:
        diag("chargescope tls: no capture files found")
        sys.exit(EXIT_BAD_INPUT)
    anchors = load_trust_anchors(anchor_paths)
    docs, entries, bad = [], [], False
    for path in files:
        try:
            doc = analyse(path, keylog, anchors)
        except (OSError, ValueError) as exc:
            diag(f"chargescope tls: {path}: cannot read: {exc}")
            bad = True
            continue
        found = doc.pop("_keylog")
        entries += found.entries()
        if show_secrets:
            doc["key_log"]["lines"] = format_key_log(found.entries()).splitlines()
        docs.append(doc)
    if export_keylog is not None:
        export_keylog.write_text(format_key_log(entries))
        diag(f"wrote {len(entries)} secrets to {export_keylog}")
    if as_json:
        emit_json({"captures": docs})
    else:
        for doc in docs:
            _print(doc)
    if bad:
        sys.exit(EXIT_BAD_INPUT)
    if any(f["severity"] == "error" for d in docs for f in d["findings"]):
        sys.exit(EXIT_FINDINGS)
