"""OCPP-J (1.6, 2.0.1, 2.1): RPC framing, schema validation, per-connection naming.

`payload_handoff()` is how OCPP attaches to the WebSocket dissector (by negotiated
subprotocol, or by a probe over the first message when the handshake is missing).
"""

from __future__ import annotations

from chargescope import backends
from chargescope.analyzer.records import Connection
from chargescope.dissectors.ocpp.conversation import (
    MAX_PENDING,
    OcppDecoder,
    known_subprotocols,
)
from chargescope.dissectors.websocket.stream import PayloadHandler, PayloadHandoff


def looks_like_ocpp(payload: bytes) -> bool:
    """Probe: a JSON array whose first element is a MessageTypeId 2..6."""
    head = payload[:8].lstrip()
    if not head.startswith(b"["):
        return False
    head = head[1:].lstrip()
    return head[:1] in (b"2", b"3", b"4", b"5", b"6") and head[1:2] in (b",", b" ", b"\t", b"\n", b"\r", b"")


def payload_handoff(version: str | None = None,
                    validate: bool | frozenset[str] = True,
                    max_pending: int = MAX_PENDING) -> PayloadHandoff:
    """The WebSocket payload handoff for OCPP; `version` forces a version for all;
    `max_pending`: CALLs awaiting an answer per connection (`Limits.ocpp_pending`)."""

    def factory(conn: Connection) -> PayloadHandler:
        decoder = OcppDecoder(conn.index, version=version,
                              version_source="option" if version else "", validate=validate,
                              capture=conn.source, max_pending=max_pending)

        # hot path "ocppdecode": the handler, with the fast entry the WebSocket fast path
        # calls (`deliver`) besides the PayloadHandler call
        return backends.load("ocppdecode").OcppHandler(decoder)

    return PayloadHandoff("ocpp", known_subprotocols(), looks_like_ocpp, factory)


__all__ = ["OcppDecoder", "looks_like_ocpp", "payload_handoff", "stream_handoff"]


def stream_handoff(options=None, version: str | None = None,
                   validate: bool | frozenset[str] = True, max_pending: int = MAX_PENDING):
    """The TCP StreamHandoff for WebSocket carrying OCPP (heuristic, no fixed ports:
    OCPP-J has no registered port and 80/8080 are shared with OCPI's HTTP)."""
    from chargescope.analyzer.handoff import StreamHandoff
    from chargescope.dissectors.websocket import probe, stream_factory

    return StreamHandoff("websocket", (), probe,
                         stream_factory([payload_handoff(version, validate, max_pending)],
                                        options))
