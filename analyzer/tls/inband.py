"""In-band key disclosure: key log lines sent in a UDP datagram inside the capture.

V2G test devices (dSPACE DS5366, RiseV2G/Josev test setups) broadcast the NSS key log
lines of each TLS session in a UDP datagram right after the handshake. The pipeline passes
such datagrams here; their entries go into the pipeline's shared `KeyLog`, and a Message
records that secrets were seen (labels and client randoms only: never the secrets).
"""

from __future__ import annotations

from typing import Any

from chargescope.analyzer.records import ByteRef, Link, Message, Problem
from chargescope.analyzer.tls.keylog import KeyLog, parse_key_log

PROBLEM_KINDS: dict[str, str] = {
    "tls.keylog.line": "a line of an in-band key log datagram is not a key log entry",
}


def inband_key_log(packet: Any, keylog: KeyLog) -> Message:
    """Add the key log lines of one UDP datagram to `keylog`; a Message describing them."""
    frame = packet.frame
    payload = packet.payload
    origin = f"{frame.source or 'capture'} frame {frame.number}"
    entries, errors = parse_key_log(payload, origin)
    keylog.add(entries, origin)
    keylog.errors.extend(errors)
    src = f"{packet.ip_src}:{packet.sport}"
    dst = f"{packet.ip_dst}:{packet.dport}"
    fields = {"tls_keylog": {
        "entries": [{"label": e.label, "client_random": e.client_random.hex()}
                    for e in entries],
        "rejected_lines": len(errors)}}
    problems = tuple(Problem("tls.keylog.line", f"line {e.line}: {e.detail}", frame.source,
                             frame.number, packet.payload_offset, "frame") for e in errors)
    link = Link.A if packet.ip_src.lower().startswith("fe80") else Link.B
    return Message(link, "tls-keylog", "KeyLogDisclosure", frame.ts_ns, src, dst, fields,
                   (ByteRef(frame.source, frame.number, packet.payload_offset,
                            packet.payload_length),), problems)
