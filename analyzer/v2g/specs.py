"""Finding codes of link A (SDP and V2G sessions), declared up front like Wireshark expert info.

Codes are stable: deprecate, never rename. Requirement references cite ISO 15118-2 `[V2G2-nnn]`,
DIN 70121 `[V2G-DC-nnn]` and ISO 15118-20 `[V2G20-nnn]` where the standard numbers the rule,
otherwise the table that defines the parameter.
"""

from __future__ import annotations

from chargescope.analyzer.findings import FindingRegistry
from chargescope.analyzer.records import FindingSpec, Severity

E, W, N = Severity.ERROR, Severity.WARNING, Severity.NOTE

FINDINGS: tuple[FindingSpec, ...] = (
    # discovery
    FindingSpec("v2g.sdp.unanswered", E, "sequence",
                "SDP requests got no SDP response", "[V2G2-159]"),
    FindingSpec("v2g.sdp.retries", N, "sequence",
                "the EVCC repeated its SDP request before getting an answer", "[V2G2-161]"),
    FindingSpec("v2g.sdp.retry_limit", W, "sequence",
                "the EVCC sent more consecutive SDP requests than allowed", "[V2G2-161]"),
    FindingSpec("v2g.sdp.several_seccs", W, "interop",
                "more than one SECC answered the SDP request (crosstalk?)"),
    FindingSpec("v2g.sdp.no_connection", E, "sequence",
                "the SECC announced a V2G TCP server but no connection to it was captured"),
    FindingSpec("v2g.sdp.port_mismatch", W, "interop",
                "the EVCC connected to another port than the one the SECC announced in SDP"),
    FindingSpec("v2g.tls.not_decrypted", N, "capture",
                "the V2G session runs over TLS and no key was available to decrypt it"),
    FindingSpec("v2g.sdp.tls_for_din", W, "interop",
                "TLS offered while the EVCC then spoke DIN 70121, which has no TLS",
                "[V2G-DC-618]"),
    # handshake
    FindingSpec("v2g.handshake.failed", E, "protocol",
                "supportedAppProtocol negotiation failed: no common protocol"),
    FindingSpec("v2g.handshake.not_captured", N, "capture",
                "the supportedAppProtocol handshake is not in the capture; schema guessed"),
    # request / response
    FindingSpec("v2g.response.failed", E, "protocol",
                "the SECC answered with a FAILED response code"),
    FindingSpec("v2g.response.warning", W, "protocol",
                "the SECC answered with a WARNING response code"),
    FindingSpec("v2g.response.missing", E, "sequence",
                "a request got no response"),
    FindingSpec("v2g.response.unsolicited", W, "sequence",
                "a response without a matching outstanding request"),
    FindingSpec("v2g.response.not_captured", N, "capture",
                "a request's response went missing in bytes the capture lost (TCP gap)"),
    FindingSpec("v2g.request.not_captured", N, "capture",
                "a response whose request went missing in bytes the capture lost (TCP gap)"),
    FindingSpec("v2g.sequence.unexpected", E, "sequence",
                "a request the protocol's state machine does not allow here",
                "[V2G2-538] [V2G-DC-666]"),
    FindingSpec("v2g.sequence.repeated", W, "sequence",
                "a request repeated where the protocol does not loop"),
    FindingSpec("v2g.sequence.ongoing_abandoned", W, "sequence",
                "the EVCC moved on while the SECC still answered EVSEProcessing=Ongoing"),
    FindingSpec("v2g.session.id_mismatch", E, "protocol",
                "a message carries a SessionID other than the one the SECC assigned"),
    FindingSpec("v2g.session.no_stop", E, "sequence",
                "the TCP connection ended without SessionStop"),
    FindingSpec("v2g.session.tcp_reset", E, "sequence",
                "the V2G TCP connection was reset"),
    FindingSpec("v2g.session.capture_ended", N, "capture",
                "the capture ends while the session is still running"),
    FindingSpec("v2g.payment.not_external", E, "protocol",
                "DIN 70121 allows only ExternalPayment", "[V2G-DC-395]"),
    # timing
    FindingSpec("v2g.timing.response_timeout", E, "timing",
                "a response came later than V2G_EVCC_Msg_Timeout"),
    FindingSpec("v2g.timing.performance", W, "timing",
                "the SECC answered slower than V2G_SECC_Msg_Performance_Time"),
    FindingSpec("v2g.timing.sequence_timeout", E, "timing",
                "the EVCC waited longer than V2G_SECC_Sequence_Timeout between messages"),
    FindingSpec("v2g.timing.ongoing_timeout", E, "timing",
                "EVSEProcessing=Ongoing lasted longer than V2G_EVCC_Ongoing_Timeout"),
    FindingSpec("v2g.timing.cable_check_timeout", E, "timing",
                "cable check lasted longer than V2G_EVCC_CableCheck_Timeout"),
    FindingSpec("v2g.timing.precharge_timeout", E, "timing",
                "precharge lasted longer than V2G_EVCC_PreCharge_Timeout"),
    # EVSE and EV status
    FindingSpec("v2g.evse.shutdown", E, "protocol",
                "the EVSE reported an emergency shutdown, a malfunction or a utility interrupt"),
    FindingSpec("v2g.evse.stop_requested", W, "protocol",
                "the EVSE asked the EV to stop charging (StopCharging, EVSE_Shutdown)"),
    FindingSpec("v2g.evse.isolation_fault", E, "protocol",
                "the EVSE reported an isolation fault"),
    FindingSpec("v2g.evse.isolation_warning", W, "protocol",
                "the EVSE reported an isolation warning"),
    FindingSpec("v2g.ev.error", E, "protocol",
                "the EV reported an error code (DC_EVErrorCode)"),
    FindingSpec("v2g.dc.precharge_not_converged", E, "protocol",
                "precharge ended with the EVSE voltage still far from the EV target"),
    FindingSpec("v2g.dc.precharge_gap", W, "protocol",
                "the EV started power delivery before precharge reached its target voltage"),
    FindingSpec("v2g.dc.overvoltage", E, "protocol",
                "EVSE present voltage above the EV's maximum voltage limit"),
    FindingSpec("v2g.dc.overcurrent", E, "protocol",
                "EVSE present current above the EV's target current"),
    FindingSpec("v2g.dc.voltage_deviation", W, "protocol",
                "EVSE present voltage above the EV's target voltage"),
    FindingSpec("v2g.ac.rcd", E, "protocol",
                "the EVSE reported a residual current device trip (RCD=true)"),
    FindingSpec("v2g.ac.max_current_below_min", E, "interop",
                "EVSEMaxCurrent is below the EV's minimum current: no charging possible"),
    # decoding
    FindingSpec("v2g.decode.problem", W, "malformed",
                "a V2GTP unit or EXI payload could not be decoded"),
)


def registry() -> FindingRegistry:
    return FindingRegistry(FINDINGS)
