"""Finding codes of link B (WebSocket + OCPP-J), declared up front; codes never change.

The catalogue follows FIELD_NOTES.md patterns 1-11 (the number is in the `group`
comment); requirement references are OCPP 2.0.1 functional requirements where the
standard numbers the rule checked.
"""

from __future__ import annotations

from chargescope.analyzer.findings import FindingRegistry
from chargescope.analyzer.records import FindingSpec, Severity

E, W, N = Severity.ERROR, Severity.WARNING, Severity.NOTE

SPECS: tuple[FindingSpec, ...] = (
    # WebSocket layer
    FindingSpec("websocket.malformed", W, "malformed", "WebSocket bytes that break RFC 6455/7692"),
    FindingSpec("websocket.message.too_large", E, "malformed",
                "WebSocket message over the size cap (decompression bomb or runaway frame)"),
    FindingSpec("websocket.handshake.rejected", E, "protocol",
                "WebSocket upgrade refused by the server (HTTP error instead of 101)"),
    FindingSpec("websocket.close.abnormal", N, "protocol", "connection closed with a non-normal close code"),
    FindingSpec("websocket.stream.gap", W, "malformed", "bytes missing from the TCP stream"),
    # RPC framing and validation (pattern 1, 9)
    FindingSpec("ocpp.rpc.malformed", E, "malformed", "OCPP-J message is not valid JSON or not a valid RPC array"),
    FindingSpec("ocpp.schema.violation", E, "interop", "payload breaks the official OCPP JSON schema"),
    FindingSpec("ocpp.action.unknown", W, "interop", "action not defined in the negotiated OCPP version"),
    FindingSpec("ocpp.version.mismatch", W, "interop",
                "payload fits another OCPP version's schema, not the negotiated one"),
    FindingSpec("ocpp.subprotocol.missing", W, "interop",
                "no OCPP subprotocol negotiated in the WebSocket handshake"),
    FindingSpec("ocpp.subprotocol.mismatch", E, "interop",
                "server selected a subprotocol the client did not offer"),
    FindingSpec("ocpp.subprotocol.changed", W, "interop",
                "the charge point negotiated different OCPP versions on different connections"),
    FindingSpec("ocpp.callerror", W, "protocol", "a CALL was answered with CALLERROR"),
    FindingSpec("ocpp.callerror.code_unknown", W, "interop",
                "CALLERROR code not defined (or spelled as in another version) for this OCPP version"),
    # Pairing (pattern 7)
    FindingSpec("ocpp.call.unanswered", E, "sequence", "CALL without CALLRESULT or CALLERROR within the timeout"),
    FindingSpec("ocpp.call.not_captured", N, "capture",
                "a CALL or its answer fell in bytes the capture lost: no verdict on the pair"),
    FindingSpec("ocpp.call.pending_at_end", N, "sequence", "CALL still awaiting its answer when the capture ends"),
    FindingSpec("ocpp.call.concurrent", W, "sequence",
                "a second CALL sent while the same side still awaits an answer"),
    FindingSpec("ocpp.call.duplicate_id", W, "sequence", "a CALL reuses a unique id already used on the connection"),
    FindingSpec("ocpp.result.unknown_id", W, "sequence", "CALLRESULT/CALLERROR for an id no CALL used"),
    FindingSpec("ocpp.result.duplicate", W, "sequence", "a second answer to the same CALL"),
    FindingSpec("ocpp.result.late", W, "timing", "answer arrived after the call timeout"),
    # Authorization
    FindingSpec("ocpp.auth.rejected", W, "protocol", "authorization not Accepted"),
    # Boot and keepalive (patterns 3, 4)
    FindingSpec("ocpp.boot.rejected", E, "protocol", "BootNotification answered Rejected"),
    FindingSpec("ocpp.boot.pending_loop", W, "protocol", "charge point stays in Pending over several boots"),
    FindingSpec("ocpp.boot.call_before_accepted", W, "sequence",
                "charge point sent other requests while its boot was Pending or Rejected",
                "B02.FR.09"),
    FindingSpec("ocpp.boot.csms_call_while_rejected", W, "sequence",
                "CSMS sent requests to a charge point whose boot it Rejected"),
    FindingSpec("ocpp.heartbeat.missed", W, "timing", "charge point silent for more than twice the heartbeat interval"),
    FindingSpec("ocpp.connection.idle_drop", N, "timing",
                "connection dropped after a silence without a WebSocket Close (keepalive mismatch?)"),
    FindingSpec("ocpp.reconnect.storm", W, "timing", "many reconnects of one charge point in a short time"),
    # Time (pattern 5)
    FindingSpec("ocpp.time.no_timezone", W, "interop", "timestamp without a UTC designator or offset"),
    FindingSpec("ocpp.time.malformed", W, "interop", "timestamp is not an RFC 3339 date-time"),
    FindingSpec("ocpp.time.drift", W, "timing",
                "charge point clock differs from the capture clock by more than the tolerance"),
    FindingSpec("ocpp.time.implausible", W, "interop", "timestamp before 2010 (clock not set?)"),
    # Transactions (patterns 2, 6, 8)
    FindingSpec("ocpp.tx.stop_without_start", W, "sequence", "transaction ended without a start in the capture"),
    FindingSpec("ocpp.tx.start_not_captured", N, "sequence",
                "transaction start (or the answer assigning its id) fell in bytes the capture lost"),
    FindingSpec("ocpp.tx.invalid_id", E, "protocol", "transactionId -1 or 0 (offline or unknown transaction)"),
    FindingSpec("ocpp.tx.after_end", W, "sequence", "transaction events after the transaction ended"),
    FindingSpec("ocpp.tx.seqno_gap", W, "sequence", "TransactionEvent seqNo values missing or repeated",
                "E01.FR.07"),
    FindingSpec("ocpp.meter.decreasing", E, "interop", "energy register decreased within a transaction"),
    FindingSpec("ocpp.meter.stop_inconsistent", W, "interop",
                "stop meter value disagrees with the meter values reported during the transaction"),
    # Connector state (pattern 11)
    FindingSpec("ocpp.status.faulted", W, "protocol", "connector or EVSE reported Faulted"),
    FindingSpec("ocpp.status.stuck", N, "timing",
                "connector left in Finishing or Faulted until the end of the capture"),
    FindingSpec("ocpp.status.energy_while_faulted", W, "protocol",
                "energy register still rising on a connector that reported Faulted"),
    # Security (pattern 10)
    FindingSpec("ocpp.security.basic_auth_cleartext", W, "security",
                "Basic-auth credentials readable in the capture (ws:// without TLS)"),
    FindingSpec("ocpp.security.cert_ops_without_tls", W, "security",
                "certificate management over a connection without TLS (security profile 0/1)"),
)


def registry() -> FindingRegistry:
    return FindingRegistry(SPECS)
