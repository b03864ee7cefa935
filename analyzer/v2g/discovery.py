"""Findings about SECC discovery (SDP): link A before any TCP connection."""

from __future__ import annotations

from collections.abc import Sequence

from chargescope.analyzer.findings import FindingRegistry
from chargescope.analyzer.records import Finding, Message

# The EVCC sends at most 50 consecutive SECC Discovery Requests ([V2G2-161]).
SDP_MAX_REQUESTS = 50


def announced(discovery: Sequence[Message]) -> set[tuple[str, int]]:
    """(SECC IP, TCP port) pairs the SDP responses announced."""
    return {(m.fields["SECCIPAddress"], m.fields["SECCPort"]) for m in discovery
            if m.name == "SDPResponse" and "SECCPort" in m.fields}


def sdp_findings(reg: FindingRegistry, discovery: Sequence[Message],
                 tcp_servers: set[tuple[str, int]], protocols: set[str]) -> list[Finding]:
    """Findings about SECC discovery: unanswered or repeated requests, several SECCs, and
    announced V2G servers nobody (or somebody else's port) was seen talking to."""
    out: list[Finding] = []
    reqs = [m for m in discovery if m.name == "SDPRequest"]
    responses = [m for m in discovery if m.name == "SDPResponse"]
    if reqs and not responses:
        out.append(reg.make("v2g.sdp.unanswered", f"{len(reqs)} SDP requests, no "
                            "response", ts_ns=reqs[-1].ts_ns, evidence=reqs[:3],
                            link="A", count=len(reqs)))
    # retries: requests between the first request and the first response
    first_res = responses[0].ts_ns if responses else None
    before = [m for m in reqs if first_res is None or m.ts_ns < first_res]
    if len(before) > 1:
        out.append(reg.make("v2g.sdp.retries", f"{len(before)} SDP requests before "
                            "the first answer", ts_ns=before[-1].ts_ns,
                            evidence=before[:3], link="A", count=len(before)))
    if len(before) > SDP_MAX_REQUESTS:
        out.append(reg.make("v2g.sdp.retry_limit", f"{len(before)} consecutive SDP "
                            f"requests, more than {SDP_MAX_REQUESTS}",
                            ts_ns=before[SDP_MAX_REQUESTS].ts_ns,
                            evidence=before[SDP_MAX_REQUESTS:SDP_MAX_REQUESTS + 1],
                            link="A", count=len(before)))
    seccs = {m.fields.get("SECCIPAddress") for m in responses}
    if len(seccs) > 1:
        out.append(reg.make("v2g.sdp.several_seccs", "SECCs answering: "
                            + ", ".join(sorted(str(s) for s in seccs)),
                            ts_ns=responses[-1].ts_ns, evidence=responses, link="A"))
    for ip, port in sorted(announced(discovery)):
        if (ip, port) in tcp_servers:
            continue
        ev = [m for m in responses if m.fields.get("SECCPort") == port][:1]
        ts = ev[0].ts_ns if ev else 0
        used = sorted(p for host, p in tcp_servers if host == ip)
        if used:
            out.append(reg.make("v2g.sdp.port_mismatch", f"[{ip}]:{port} announced, "
                                f"the EVCC connected to port {used[0]}", ts_ns=ts,
                                evidence=ev, link="A", used_port=used[0]))
        elif ev and ev[0].fields.get("Security") == "TLS":
            out.append(reg.make("v2g.tls.not_decrypted", f"[{ip}]:{port} announced "
                                "with TLS; no V2GTP in clear text", ts_ns=ts,
                                evidence=ev, link="A"))
        else:
            out.append(reg.make("v2g.sdp.no_connection", f"[{ip}]:{port} announced, "
                                "no V2G traffic to it", ts_ns=ts, evidence=ev,
                                link="A"))
    tls = [m for m in responses if m.fields.get("Security") == "TLS"]
    if tls and "din" in protocols:
        out.append(reg.make("v2g.sdp.tls_for_din", "SDP agreed TLS but the session "
                            "is DIN 70121", ts_ns=tls[0].ts_ns, evidence=tls[:1],
                            link="A"))
    return out
