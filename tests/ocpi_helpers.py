"""Helpers for OCPI tests: HTTP exchanges as bytes, played through the real stream dissector."""

from __future__ import annotations

import base64
import json
from typing import Any

from http_feed import CONN, run

from chargescope.analyzer.ocpi.state import OcpiAnalysis, OcpiReport
from chargescope.analyzer.records import Message
from chargescope.dissectors.ocpi.decode import OcpiContext, OcpiDecoder
from chargescope.dissectors.ocpi.stream import OcpiStream

STAMP = "2026-11-25T10:00:00Z"


def request(method: str, path: str, body: Any = None, *, token: str | None = "tok-c",
            base64_token: bool = True, headers: dict[str, str] | None = None) -> bytes:
    data = b"" if body is None else json.dumps(body).encode()
    lines = [f"{method} {path} HTTP/1.1", "Host: cpo.example:8080",
             "X-Request-ID: r1", "X-Correlation-ID: c1"]
    if token is not None:
        shown = base64.b64encode(token.encode()).decode() if base64_token else token
        lines.append(f"Authorization: Token {shown}")
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {len(data)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def response(data: Any = None, *, status: int = 200, status_code: int | None = 1000,
             headers: dict[str, str] | None = None, raw: bytes | None = None,
             echo: bool = True) -> bytes:
    """An OCPI response; by default it repeats the request ids `request()` sends."""
    if raw is None:
        envelope: dict[str, Any] = {"timestamp": STAMP}
        if status_code is not None:
            envelope["status_code"] = status_code
        if data is not None:
            envelope["data"] = data
        raw = json.dumps(envelope).encode()
    lines = [f"HTTP/1.1 {status} X", "Content-Type: application/json",
             f"Content-Length: {len(raw)}"]
    ids = {"X-Request-ID": "r1", "X-Correlation-ID": "c1"} if echo else {}
    for name, value in {**ids, **(headers or {})}.items():
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + raw


def play(exchanges: list[tuple[bytes, bytes | None]], *, show_secrets: bool = False,
         context: OcpiContext | None = None) -> list[Message]:
    """Each (request, response) in turn on one keep-alive connection; None = no response."""
    stream = OcpiStream(CONN, OcpiDecoder(context or OcpiContext(), show_secrets=show_secrets))
    script: list[tuple] = []
    for req, resp in exchanges:
        script.append((0, req))
        if resp is not None:
            script.append((1, resp))
    return run(stream, script)


def analyse(exchanges: list[tuple[bytes, bytes | None]]) -> OcpiReport:
    analysis = OcpiAnalysis()
    for message in play(exchanges):
        analysis.add(message)
    return analysis.finish()


def codes(report: OcpiReport) -> list[str]:
    return [f.code for f in report.findings]
