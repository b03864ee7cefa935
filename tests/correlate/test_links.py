"""Link analyzers on real captures: what the correlator is handed."""

import pytest

from chargescope.analyzer.analysis import analyze
from chargescope.analyzer.links.link_a import mac_of
from tests.conftest import corpus_path


def test_mac_of_eui64_link_local():
    assert mac_of("[fe80::9aed:5cff:feda:d998]:49153") == "98:ed:5c:da:d9:98"
    assert mac_of("[fe80::1234:5678:9abc:def0]:15118") == ""  # not EUI-64
    assert mac_of("192.168.1.2:80") == ""


def test_slac_retry_folds_into_the_v2g_session():
    path = corpus_path("pcaps", "dspace-group+dsV2Gshark", "DIN_DC_DS5366_Josev.pcapng")
    result = analyze([path])
    assert len(result.sessions) == 1
    (part,) = result.sessions[0].parts
    assert part.kind == "v2g" and part.outcome == "success"
    names = [e.name for e in part.events]
    assert names.count("slac.parm") == 2 and "slac.matched" in names
    assert part.keys["ev_mac"] == "00:e0:4c:68:00:1d"
    codes = {f.code for f in result.findings}
    assert "slac.run.incomplete" in codes and "slac.join.none" not in codes
    assert result.sessions[0].verdict == "success"


def test_failed_precharge_is_the_verdict():
    path = corpus_path("pcaps", "uhi22+pyPLC",
                       "2024-04-20_ModelY_pyPLC_stop_in_precharge.pcapng")
    result = analyze([path])
    (session,) = result.sessions
    assert session.verdict == "failed" and "precharge" in session.verdict_reason
    assert "v2g.timing.precharge_timeout" in {f.code for f in session.findings}


@pytest.mark.parametrize("name", ["2023-05-03_TaycanLeftside_slacFail.pcapng"])
def test_slac_only_capture_gives_failed_slac_parts(name):
    result = analyze([corpus_path("pcaps", "uhi22+pyPLC", name)])
    assert result.sessions
    assert all(p.kind == "slac" for s in result.sessions for p in s.parts)
    assert all(s.verdict == "failed" for s in result.sessions)


def test_link_a_energy_from_meter_or_dc_integration():
    from chargescope.analyzer.records import Link, Message
    from chargescope.analyzer.v2g.energy import energy_wh

    def res(t_s, volts, amps, meter=None):
        body = {"EVSEPresentVoltage": {"Multiplier": 0, "Unit": "V", "Value": volts},
                "EVSEPresentCurrent": {"Multiplier": -1, "Unit": "A", "Value": amps * 10}}
        if meter is not None:
            body["MeterInfo"] = {"MeterID": "M", "MeterReading": meter}
        return Message(Link.A, "exi", "CurrentDemandRes", int(t_s * 1e9), "s", "d",
                       {"V2G_Message": {"Body": {"CurrentDemandRes": body}}})

    # 400 V x 100 A = 40 kW for 90 s = 1000 Wh (trapezoids over 1 s steps)
    dc = [res(t, 400, 100) for t in range(91)]
    assert energy_wh(dc) == pytest.approx(1000.0)
    # the EVSE's meter wins when it reports one
    metered = [res(0, 400, 100, meter=5000), res(90, 400, 100, meter=5980)]
    assert energy_wh(metered) == pytest.approx(980.0)
    assert energy_wh([res(0, 400, 100)]) is None
