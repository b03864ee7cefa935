"""TLS checks over the "tls" Messages of a capture: alerts, versions and cipher suites outside
what ISO 15118 / OCPP security profiles allow, certificate validity and key usage.

    from chargescope.analyzer.tls.checks import TLS_FINDINGS, TlsChecker
    checker = TlsChecker(); checker.feed(message) ...; findings = checker.finish()

`TlsLinkAnalyzer` wraps the checker in the LinkAnalyzer protocol for `analyze`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from chargescope.analyzer.findings import FindingRegistry
from chargescope.analyzer.records import Finding, FindingSpec, Message, Severity
from chargescope.dissectors.tls.suites import ISO15118_2_SUITES, ISO15118_20_SUITES, suite_name

E, W, N = Severity.ERROR, Severity.WARNING, Severity.NOTE
TLS_FINDINGS: tuple[FindingSpec, ...] = (
    FindingSpec("tls.alert.fatal", E, "security", "a fatal TLS alert ended the connection"),
    FindingSpec("tls.alert.warning", W, "security",
                "a warning-level TLS alert other than close_notify"),
    FindingSpec("tls.version.outdated", E, "security",
                "TLS version below 1.2 negotiated (ISO 15118 and OCPP security profiles "
                "require TLS 1.2 or later)"),
    FindingSpec("tls.cipher.not_iso15118_2", E, "security",
                "TLS 1.2 on link A with a cipher suite ISO 15118-2 does not allow "
                "(TLS_ECDH(E)_ECDSA_WITH_AES_128_CBC_SHA256)"),
    FindingSpec("tls.cipher.not_iso15118_20", E, "security",
                "TLS 1.3 on link A with a cipher suite ISO 15118-20 does not allow"),
    FindingSpec("tls.certificate.expired", E, "security",
                "a certificate in the peer's chain had expired at handshake time"),
    FindingSpec("tls.certificate.not_yet_valid", E, "security",
                "a certificate in the peer's chain was not yet valid at handshake time"),
    FindingSpec("tls.certificate.key_usage", W, "security",
                "a certificate's key usage does not fit its place in the chain "
                "(leaf without digitalSignature, CA without keyCertSign)"),
    FindingSpec("tls.certificate.unparsable", W, "malformed",
                "a certificate in a Certificate message is not valid DER X.509"),
    # Neither ISO 15118 nor the OCPP security profiles have a renegotiation step: a second
    # handshake inside the channel is outside both session models (ISO 15118-20 and OCPP
    # over TLS 1.3 cannot renegotiate at all, RFC 8446 §4.1.2 / §4.6), and BCP 195 allows
    # it in TLS 1.2 only with the RFC 5746 extension.
    FindingSpec("tls.renegotiation", W, "security",
                "a TLS 1.2 connection renegotiated: a second handshake inside the encrypted "
                "channel, which no ISO 15118 or OCPP session step calls for",
                "RFC 9325 §3.5"),
    FindingSpec("tls.renegotiation.insecure", E, "security",
                "renegotiation on a connection that did not negotiate RFC 5746 secure "
                "renegotiation (renegotiation_info): open to prefix injection "
                "(CVE-2009-3555)", "RFC 5746 §4.4 / RFC 9325 §3.5"),
)
_NS = 1_000_000_000
# capture clocks before this are unset device clocks (1970 boot time), not real time:
# certificate validity cannot be judged against them
PLAUSIBLE_CLOCK_NS = int(datetime.datetime(2010, 1, 1, tzinfo=datetime.UTC).timestamp()) * _NS


@dataclass(slots=True)
class _Conn:
    link: str = ""
    version: str = ""
    suite_code: int = -1
    secure_renegotiation: bool | None = None  # the first ServerHello's RFC 5746 answer
    renegotiated: bool = False  # reported once per connection


@dataclass(slots=True)
class TlsChecker:
    registry: FindingRegistry = field(default_factory=lambda: FindingRegistry(TLS_FINDINGS))
    findings: list[Finding] = field(default_factory=list)
    conns: dict[tuple[str, int], _Conn] = field(default_factory=dict)

    def feed(self, message: Message) -> None:
        if message.protocol != "tls":
            return
        fields = message.fields.get("tls", {})
        key = (min(message.src, message.dst), fields.get("tcp_stream", -1))
        conn = self.conns.setdefault(key, _Conn(str(message.link)))
        if fields.get("renegotiation") and message.name in ("HelloRequest", "ClientHello"):
            self._renegotiation(message, conn)
        if message.name == "ServerHello" and conn.secure_renegotiation is None:
            conn.secure_renegotiation = fields.get("secure_renegotiation")
        if message.name == "ServerHello" and "version" in fields:
            conn.version = fields["version"]
            conn.suite_code = fields.get("cipher_suite_code", -1)
            self._hello(message, conn)
        elif message.name == "Alert" and "level" in fields:
            self._alert(message, fields)
        elif message.name == "Certificate":
            self._certificates(message, fields.get("certificates", []))

    def finish(self) -> list[Finding]:
        return self.findings

    def _make(self, code: str, text: str, message: Message, **extra) -> None:
        self.findings.append(self.registry.make(code, text, ts_ns=message.ts_ns,
                                                evidence=(message,), link=str(message.link),
                                                **extra))

    def _hello(self, message: Message, conn: _Conn) -> None:
        version, suite = conn.version, conn.suite_code
        if version in ("SSL 3.0", "TLS 1.0", "TLS 1.1"):
            self._make("tls.version.outdated", f"{message.dst} and {message.src} "
                       f"negotiated {version}", message, version=version)
        if conn.link != "A":
            return
        if version == "TLS 1.2" and suite not in ISO15118_2_SUITES:
            self._make("tls.cipher.not_iso15118_2", f"SECC {message.src} chose "
                       f"{suite_name(suite)}", message, cipher_suite=suite_name(suite))
        elif version == "TLS 1.3" and suite not in ISO15118_20_SUITES:
            self._make("tls.cipher.not_iso15118_20", f"SECC {message.src} chose "
                       f"{suite_name(suite)}", message, cipher_suite=suite_name(suite))

    def _renegotiation(self, message: Message, conn: _Conn) -> None:
        if conn.renegotiated:
            return
        conn.renegotiated = True
        who = "server" if message.name == "HelloRequest" else "client"
        self._make("tls.renegotiation", f"{message.src} ({who}) started a renegotiation "
                   "inside the encrypted channel", message, initiator=who)
        if conn.secure_renegotiation is False:
            self._make("tls.renegotiation.insecure", f"{message.src} renegotiated although "
                       "the first handshake did not agree RFC 5746 secure renegotiation",
                       message, initiator=who)

    def _alert(self, message: Message, fields: dict) -> None:
        description = fields.get("description", "")
        if fields["level"] == "fatal":
            self._make("tls.alert.fatal", f"{message.src} sent fatal alert {description}",
                       message, description=description)
        elif description != "close_notify":
            self._make("tls.alert.warning", f"{message.src} sent warning alert "
                       f"{description}", message, description=description)

    def _certificates(self, message: Message, certificates: list[dict]) -> None:
        when = datetime.datetime.fromtimestamp(message.ts_ns / _NS, datetime.UTC)
        for position, cert in enumerate(certificates):
            if "error" in cert:
                self._make("tls.certificate.unparsable", f"{message.src} certificate "
                           f"#{position}: {cert['error']}", message, position=position)
                continue
            subject = cert["subject"]
            not_before = datetime.datetime.fromisoformat(cert["not_before"])
            not_after = datetime.datetime.fromisoformat(cert["not_after"])
            if message.ts_ns < PLAUSIBLE_CLOCK_NS:
                pass  # an unset device clock says nothing about validity
            elif when > not_after:
                self._make("tls.certificate.expired", f"{subject} expired "
                           f"{cert['not_after']}, before the handshake at {when.isoformat()}",
                           message, subject=subject, position=position)
            elif when < not_before:
                self._make("tls.certificate.not_yet_valid", f"{subject} valid only from "
                           f"{cert['not_before']}; handshake at {when.isoformat()}", message,
                           subject=subject, position=position)
            usage = cert.get("key_usage")
            if usage is None:
                continue
            if position == 0 and "digital_signature" not in usage:
                self._make("tls.certificate.key_usage", f"leaf {subject} lacks "
                           "digitalSignature", message, subject=subject, position=position)
            elif position > 0 and cert.get("ca") and "key_cert_sign" not in usage:
                self._make("tls.certificate.key_usage", f"CA {subject} lacks keyCertSign",
                           message, subject=subject, position=position)


class TlsLinkAnalyzer:
    """The TLS and Plug & Charge checks as a link analyzer (`analyzer.links.link_analyzers`)."""

    def __init__(self, source: str = "") -> None:
        from chargescope.analyzer.tls.pnc import PncChecker

        self.source = source
        self.checker = TlsChecker()
        self.pnc = PncChecker()

    def feed(self, message: Message) -> None:
        if message.protocol == "tls":
            self.checker.feed(message)
        elif message.protocol in ("exi", "ocpp"):
            self.pnc.feed(message)

    def finish(self):  # -> LinkResult (imported late: links imports analyzers lazily too)
        from chargescope.analyzer.links import LinkResult

        return LinkResult(findings=self.checker.finish() + self.pnc.finish())
