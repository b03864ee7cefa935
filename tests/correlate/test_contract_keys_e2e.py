"""The contract keys of link A and B from simulated Plug & Charge captures: the eMAID (as
`xlink.emaid.mismatch` compares it) and the contract certificate's serial (A: the
certificate in PaymentDetailsReq; B: the OCSP hash data in Authorize)."""

import tomllib

from cryptography import x509

from chargescope.analyzer.analysis import analyze
from chargescope.analyzer.correlate import SiteMap
from chargescope.analyzer.correlate.keys import emaid_core, normalise
from chargescope.analyzer.simulate.pki import contract_chain
from chargescope.analyzer.simulate.render import render, site_map
from chargescope.analyzer.simulate.scenarios import SCENARIOS


def _session(name, tmp_path):
    scenario = SCENARIOS[name]
    paths = [p for p in render(scenario, tmp_path) if p.suffix != ".toml"]
    result = analyze(paths, SiteMap.from_dict(tomllib.loads(site_map([scenario]))))
    [session] = result.sessions
    return scenario, session


def test_happy_pnc_session_names_one_contract_on_every_link(tmp_path):
    scenario, session = _session("dc-pnc-happy", tmp_path)
    [a], [b] = session.link_parts("A"), session.link_parts("B")
    der = contract_chain(scenario.ids.emaid).contract_der
    serial = format(x509.load_der_x509_certificate(der).serial_number, "x")
    assert normalise("contract_serial", a.keys["contract_serial"]) == serial
    assert serial in b.keys["contract_serial"].split(",")
    cores = {emaid_core(p.keys.get("emaid")) for p in session.parts if p.keys.get("emaid")}
    assert cores == {emaid_core(scenario.ids.emaid)}
    assert "xlink.emaid.mismatch" not in {f.code for f in session.findings}


def test_stale_contract_on_b_is_reported(tmp_path):
    scenario, session = _session("pnc-emaid-mismatch", tmp_path)
    assert "xlink.emaid.mismatch" in {f.code for f in session.findings}
    [a], [b] = session.link_parts("A"), session.link_parts("B")
    assert emaid_core(b.keys["emaid"]) != emaid_core(scenario.ids.emaid)
    assert a.keys["contract_serial"] not in b.keys["contract_serial"].split(",")
    assert session.verdict == "failed"
