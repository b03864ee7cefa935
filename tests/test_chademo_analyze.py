"""CHAdeMO through the capture pipeline and `analyze`: handoff by link type, CAN lane."""

from __future__ import annotations

from chargescope.analyzer.analysis import analyze
from chargescope.analyzer.capture import open_capture
from chargescope.analyzer.chademo.simulate import scenario, simulate, write_candump, write_pcap
from chargescope.analyzer.pipeline import Pipeline
from chargescope.tui.data import LANES, lane_of


def test_pipeline_hands_socketcan_and_cooked_can_to_chademo(tmp_path):
    frames = list(simulate(scenario("happy")))
    for cooked in (False, True):
        path = tmp_path / f"c{cooked}.pcap"
        write_pcap(path, frames, cooked=cooked)
        with open_capture(path) as cap:
            out = list(Pipeline().run(cap.frames()))
            assert not cap.problems
        assert len(out) == len(frames)
        assert {m.protocol for m in out} == {"chademo"}
        assert [m.ts_ns for m in out] == [f.ts_ns for f in frames]
        assert LANES[lane_of(out[0])][0] == "A CAN"


def test_analyze_reads_pcaps_and_logs(tmp_path):
    write_pcap(tmp_path / "ok.pcap", list(simulate(scenario("happy"))))
    write_candump(tmp_path / "fault.log", list(simulate(scenario("vehicle_fault"))))
    result = analyze([tmp_path / "ok.pcap", tmp_path / "fault.log"])
    assert [s.reader for s in result.sources] == ["capture", "can-log"]
    parts = {p.source.rsplit("/", 1)[-1]: p for p in result.link_sessions}
    ok, fault = parts["ok.pcap"], parts["fault.log"]
    assert (ok.kind, ok.outcome, ok.stop_reason) == ("chademo", "success", "ev")
    assert [e.name for e in ok.events] == ["chademo.start", "chademo.charging", "chademo.stop"]
    assert (fault.outcome, fault.stop_reason) == ("failed", "fault")
    assert fault.has("chademo.failed")
    assert "chademo.fault.vehicle" in {f.code for f in result.findings}


def test_malformed_socketcan_frame_is_a_message_with_a_problem(tmp_path):
    from chargescope.analyzer.capture.writer import PcapWriter

    path = tmp_path / "bad.pcap"
    with PcapWriter(path, linktype=227) as out:
        out.write((0x102).to_bytes(4, "big") + bytes([8, 0, 0, 0]) + b"\1\2", 10)
        out.write((0x7DF).to_bytes(4, "big") + bytes([2, 0, 0, 0]) + b"\1\2", 20)
    with open_capture(path) as cap:
        out = list(Pipeline().run(cap.frames()))
    [bad] = out  # the OBD request 0x7DF is out of scope: no Message
    assert bad.protocol == "can" and bad.problems[0].kind == "can.frame.bad_length"


def test_site_map_resolves_a_can_recording_to_its_evse(tmp_path):
    from chargescope.analyzer.correlate import SiteMap

    write_candump(tmp_path / "bay2.log", list(simulate(scenario("happy"))))
    site = SiteMap.from_dict({"charger": [{"charge_point_id": "CP-7", "evse": [
        {"connector": "1", "can_source": "bay1.log"},
        {"connector": "2", "can_source": ["other.log", "bay2.log"]}]}]})
    result = analyze([tmp_path / "bay2.log"], site)
    [part] = result.link_sessions
    assert part.keys == {"can_source": "bay2.log"}
    assert site.resolve("A", part.keys).identity == "CP-7/2"


def test_chademo_joins_ocpp_by_site_map_not_the_other_bay(tmp_path):
    from chargescope.analyzer.chademo.link import link_session
    from chargescope.analyzer.chademo.session import build_sessions as chademo_sessions
    from chargescope.analyzer.correlate import SiteMap, build_sessions
    from tests.correlate.helpers import b_part

    frames = list(simulate(scenario("happy"), start_ns=1_000 * 10**9))
    write_candump(tmp_path / "bay2.log", frames)
    from chargescope.analyzer.chademo.analyze import decode_recording
    from chargescope.analyzer.chademo.checks import check_session

    [s] = chademo_sessions(decode_recording(tmp_path / "bay2.log"), str(tmp_path / "bay2.log"))
    check_session(s)
    a = link_session(s)
    site = SiteMap.from_dict({"charger": [
        {"charge_point_id": "CP1", "evse": [{"connector": "1", "can_source": "bay1.log"},
                                            {"connector": "2", "can_source": "bay2.log"}]}]})
    # two overlapping OCPP transactions on the same charger: only connector 2 is this bay
    bay1 = b_part(999, 1015, keys={"charge_point_id": "CP1", "connector": "1",
                                   "transaction_id": "1"}, source="csms.log")
    bay2 = b_part(999, 1015, keys={"charge_point_id": "CP1", "connector": "2",
                                   "transaction_id": "2"}, source="csms.log")
    correlation = build_sessions([a, bay1, bay2], site)
    joined = [c for c in correlation.sessions if len(c.parts) == 2]
    assert len(joined) == 1
    assert {p.keys.get("transaction_id") for p in joined[0].parts} == {None, "2"}
