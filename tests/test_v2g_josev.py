"""Two independent ISO 15118 implementations against each other: Josev's EVCC and SECC run in
two network namespaces, link A captured with tcpdump (tools/v2g_interop.sh). The truth comes
from the EVCC's own log (tools/v2g_interop_truth.py): the analyser must reproduce every
message in order, the protocol agreed and how each session ended.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from v2g_helpers import link_a_engine

DATA = Path(__file__).resolve().parent / "data" / "v2g" / "josev"
SCENARIOS = sorted(p.name for p in DATA.iterdir() if (p / "cap.pcap").exists())
PROTOCOLS = {"DIN_SPEC_70121": "din", "ISO_15118_2": "iso2", "ISO_15118_20_AC": "iso20",
             "ISO_15118_20_DC": "iso20", "": ""}


def _analyse(path: Path):
    report, _problems = link_a_engine()(path)
    return report


def _ladder(session) -> list[str]:
    out = []
    for m in session.messages:
        if m.protocol != "exi":
            continue
        direction = m.fields["v2gtp"]["direction"]
        out.append(f"{'EV->EVSE' if direction == 0 else 'EVSE->EV'} {m.name}")
    return out


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_analyser_reproduces_the_implementations_truth(scenario):
    truth = json.loads((DATA / scenario / "truth.json").read_text())["sessions"]
    report = _analyse(DATA / scenario / "cap.pcap")
    assert len(report.sessions) == len(truth)
    for sess, t in zip(report.sessions, truth, strict=True):
        seen = _ladder(sess)
        # every message the EVCC sent or received, in order
        assert seen[:len(t["messages"])] == t["messages"]
        extra = seen[len(t["messages"]):]
        timeout = re.search(r"Waited for Timeouts\.(\w+)", t["reason"])
        if timeout:
            # the one answer the EVCC gave up waiting for may still be on the wire
            last_req = t["messages"][-1].split()[1]
            assert extra in ([], [f"EVSE->EV {last_req[:-3]}Res"])
            assert sess.outcome.status == "failed"
            assert sess.outcome.code in ("v2g.timing.response_timeout",
                                         "v2g.response.missing")
            assert sess.outcome.stage == _stage(last_req)
        elif scenario == "evcc-killed":
            # the EV process was killed (kill -9) in its charging loop: no reason logged
            last_req = t["messages"][-1].split()[1]
            assert extra in ([], [f"EVSE->EV {last_req[:-3]}Res"])
            assert sess.outcome.status == "failed"
            assert sess.outcome.code in ("v2g.session.tcp_reset", "v2g.session.no_stop",
                                         "v2g.response.missing")
            assert sess.outcome.stage == _stage(last_req) == "charging loop"
        else:
            assert extra == []
        assert sess.protocol == PROTOCOLS[t["protocol"]]
        if t["reason"] == "Communication session terminated":
            assert sess.outcome.status == "success" and sess.outcome.charged
        if "NEGOTIATION_FAILED" in t["reason"]:
            assert sess.outcome.code == "v2g.handshake.failed"


def _stage(request: str) -> str:
    from chargescope.analyzer.v2g.protocols import STAGES, base_name
    return STAGES[base_name(request)]


def test_sdp_of_the_interop_run_announces_the_v2g_server():
    report = _analyse(DATA / "iso2-ac" / "cap.pcap")
    assert report.findings == ()
    (ip, port), = report.announced
    assert report.sessions[0].secc == f"[{ip}]:{port}"
