"""V2G sessions handed to the correlator: milestones and join keys."""

from __future__ import annotations

from v2g_helpers import Script, din_dc_session, prelude

from chargescope.analyzer.correlate.milestones import MILESTONES
from chargescope.analyzer.v2g import analyse
from chargescope.analyzer.v2g.link import link_sessions


def test_healthy_session_milestones_and_keys():
    (ls,) = link_sessions(analyse(din_dc_session().messages), "a.pcap")
    names = [e.name for e in ls.events]
    assert names[:3] == ["v2g.handshake", "v2g.session_setup", "v2g.auth_ok"]
    assert {"v2g.charging", "v2g.charging_loop", "v2g.stop"} <= set(names)
    assert all(n in MILESTONES for n in names)
    assert ls.keys == {"session_id": "0102030405060708", "evccid": "020000000001",
                       "evse_id": "49A89A"}
    assert (ls.outcome, ls.stop_reason, ls.protocol) == ("success", "ev", "DIN SPEC 70121")


def test_failed_cable_check_milestones():
    s = prelude(Script("din"))
    s.pair("CableCheck", ResponseCode="FAILED", EVSEProcessing="Finished").close()
    (ls,) = link_sessions(analyse(s.messages), "a.pcap")
    names = [e.name for e in ls.events]
    assert "v2g.cable_check_failed" in names and names[-1] == "v2g.failed"
    assert ls.outcome == "failed" and ls.stage == "cable check"
