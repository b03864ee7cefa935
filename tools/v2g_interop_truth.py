"""Extract the truth of an interop run from the implementations' own logs (Josev EVCC).

    python tools/v2g_interop_truth.py OUTDIR > truth.json

Reads OUTDIR/evcc.log (written by tools/v2g_interop.sh) and prints what the EVCC itself says
happened: every V2G message it sent or received in order, the protocol it chose in
supportedAppProtocol, and why the session ended. Tests compare the analyser's view of
OUTDIR/cap.pcap with this.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

SENT = re.compile(r"comm_session \(\d+\): Sent (\w+)$")
RECEIVED = re.compile(r"comm_session \(\d+\): (\w+) received$")
CHOSEN = re.compile(r"Chosen protocol: (\w+)")
REASON = re.compile(r"comm_session \(\d+\): Reason: (.*)$")
NEW_SESSION = "Starting a new communication session"


def truth(log: str) -> dict:
    """{"sessions": [{"protocol", "messages": ["EV->EVSE SessionSetupReq", ...], "reason"}]}:
    one entry per V2G communication session the EVCC started (SDP retries start new ones)."""
    sessions: list[dict] = []
    for line in log.splitlines():
        line = line.rstrip()
        if NEW_SESSION in line:
            sessions.append({"protocol": "", "messages": [], "reason": ""})
            continue
        if not sessions:
            continue
        cur = sessions[-1]
        if m := SENT.search(line):
            cur["messages"].append(f"EV->EVSE {m.group(1)}")
        elif m := RECEIVED.search(line):
            cur["messages"].append(f"EVSE->EV {m.group(1)}")
        elif (m := CHOSEN.search(line)) and not cur["protocol"]:
            cur["protocol"] = m.group(1)
        elif (m := REASON.search(line)) and not cur["reason"]:
            cur["reason"] = m.group(1)[:300]
    return {"sessions": sessions}


def main() -> None:
    out = Path(sys.argv[1])
    json.dump(truth((out / "evcc.log").read_text(errors="replace")), sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
