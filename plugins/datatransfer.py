"""Example plugin: judge OCPP DataTransfer answers (vendor extensions that failed).

DataTransfer (OCPP 1.6 §4.3/§5.6, OCPP 2.0.1 use case P01/P02) carries vendor-specific
payloads; a CSMS or charger that does not know the vendorId or messageId answers with
status UnknownVendorId / UnknownMessageId, and one that refuses answers Rejected. In the
field that is the usual reason a vendor feature "does nothing". This plugin registers
three finding codes and a link analyzer that emits them, with the request and the
answer as evidence. Enable it by declaring the entry point in a distribution:

    [project.entry-points."chargescope.plugins"]
    datatransfer = "chargescope.plugins.datatransfer:register"
"""

from __future__ import annotations

from chargescope.analyzer.findings import FindingRegistry
from chargescope.analyzer.links import LinkResult
from chargescope.analyzer.records import Finding, FindingSpec, Link, Message, Severity
from chargescope.plugins import PluginRegistry

FINDINGS: tuple[FindingSpec, ...] = (
    FindingSpec("plugin.datatransfer.rejected", Severity.WARNING, "interop",
                "DataTransfer rejected by the receiver"),
    FindingSpec("plugin.datatransfer.unknown-vendor", Severity.WARNING, "interop",
                "DataTransfer vendorId unknown to the receiver"),
    FindingSpec("plugin.datatransfer.unknown-message", Severity.WARNING, "interop",
                "DataTransfer messageId unknown to the receiver"),
)
_CODE_BY_STATUS = {
    "Rejected": "plugin.datatransfer.rejected",
    "UnknownVendorId": "plugin.datatransfer.unknown-vendor",
    "UnknownMessageId": "plugin.datatransfer.unknown-message",
}
_REGISTRY = FindingRegistry(FINDINGS)


class DataTransferCheck:
    """Link B analyzer: pairs DataTransfer calls with their results by unique id."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._calls: dict[tuple[object, str], Message] = {}
        self._findings: list[Finding] = []

    def feed(self, message: Message) -> None:
        fields = message.fields
        if message.link is not Link.B or fields.get("action") != "DataTransfer":
            return
        key = (fields.get("connection"), str(fields.get("unique_id")))
        if fields.get("message_type") == "CALL":
            self._calls[key] = message
            return
        if fields.get("message_type") != "CALLRESULT":
            return
        payload = fields.get("payload")
        status = payload.get("status") if isinstance(payload, dict) else None
        code = _CODE_BY_STATUS.get(status) if isinstance(status, str) else None
        if code is None:
            return
        call = self._calls.pop(key, None)
        request = call.fields.get("payload") if call is not None else None
        vendor = request.get("vendorId", "?") if isinstance(request, dict) else "?"
        msg_id = request.get("messageId", "") if isinstance(request, dict) else ""
        evidence = (call, message) if call is not None else (message,)
        self._findings.append(_REGISTRY.make(
            code, f"DataTransfer {vendor}/{msg_id or '-'} answered {status}",
            ts_ns=message.ts_ns, evidence=evidence, link="B", vendor_id=vendor,
            message_id=msg_id))

    def finish(self) -> LinkResult:
        return LinkResult(findings=self._findings)


def register(registry: PluginRegistry) -> None:
    registry.add_findings(FINDINGS)
    registry.add_link_analyzer(DataTransferCheck)
