"""The link-C stream dissector: HTTP/1.1 messages decoded as OCPI where the URL is OCPI."""

from __future__ import annotations

from chargescope.analyzer.handoff import StreamHandoff
from chargescope.analyzer.limits import DEFAULT_LIMITS, Limits
from chargescope.analyzer.records import Connection, Message, StreamClose, StreamData, StreamGap
from chargescope.dissectors.http.probe import probe
from chargescope.dissectors.http.stream import HttpStream
from chargescope.dissectors.ocpi.decode import OcpiContext, OcpiDecoder


class OcpiStream:
    """StreamDissector: `HttpStream` underneath, each Message passed through `OcpiDecoder`.

    HTTP runs with secrets visible so that the decoder can fingerprint tokens (also
    their Base64 form); the decoder masks them unless `show_secrets`.
    """

    def __init__(self, conn: Connection, decoder: OcpiDecoder,
                 limits: Limits = DEFAULT_LIMITS) -> None:
        self._http = HttpStream(conn, show_secrets=True, max_body=limits.http_body,
                                max_decoded=limits.http_decoded)
        self._decoder = decoder

    @property
    def accounting(self):
        """The HTTP layer's byte accounting (OCPI decodes whole HTTP messages)."""
        return self._http.accounting

    def on_data(self, event: StreamData) -> list[Message]:
        return [self._decoder.decode(m) for m in self._http.on_data(event)]

    def on_gap(self, event: StreamGap) -> list[Message]:
        return [self._decoder.decode(m) for m in self._http.on_gap(event)]

    def on_close(self, event: StreamClose) -> list[Message]:
        return [self._decoder.decode(m) for m in self._http.on_close(event)]


def ocpi_handoff(context: OcpiContext | None = None, *, show_secrets: bool = False,
                 limits: Limits = DEFAULT_LIMITS) -> StreamHandoff:
    """The handoff record for HTTP/OCPI: heuristic only (OCPI shares ports with everything).

    One decoder (and so one `OcpiContext`) serves every connection the handoff creates,
    so endpoints learned on one connection are known on the others.
    """
    decoder = OcpiDecoder(context, show_secrets=show_secrets)
    return StreamHandoff(name="http", tcp_ports=(), probe=probe,
                         factory=lambda conn: OcpiStream(conn, decoder, limits))
