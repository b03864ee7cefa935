"""The contract keys of link A and B from simulated Plug & Charge captures: the eMAID and the
contract certificate's serial (A: the certificate in PaymentDetailsReq; B: the OCSP hash
data in Authorize), as `xlink.emaid.mismatch` and `xlink.pnc.certificate_hash_mismatch`
compare them."""

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
    assert not {f.code for f in session.findings} & {"xlink.emaid.mismatch",
                                                     "xlink.pnc.certificate_hash_mismatch"}


def test_stale_contract_on_b_is_reported_by_eMAID_and_by_certificate(tmp_path):
    scenario, session = _session("pnc-emaid-mismatch", tmp_path)
    codes = {f.code for f in session.findings}
    assert {"xlink.emaid.mismatch", "xlink.pnc.certificate_hash_mismatch"} <= codes
    [b] = session.link_parts("B")
    assert emaid_core(b.keys["emaid"]) != emaid_core(scenario.ids.emaid)
    assert session.verdict == "failed"
