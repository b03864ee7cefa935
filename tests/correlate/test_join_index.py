"""The indexed correlator (`correlate/pairs.py`) against the all-pairs scan it replaces.

Random link sessions drawn from small alphabets, so identifiers, site EVSEs, start
times and gaps collide often (ties decide the greedy union's order and the nearest
partner): both ways must give the same groups, edges and clock offsets.
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chargescope.analyzer.correlate import LinkEvent, LinkSession, SiteMap
from chargescope.analyzer.correlate.join import clock_evidence, correlate
from chargescope.analyzer.correlate.pairs import KeyIndex, overlapping_pairs

from .helpers import S

SITE = SiteMap.from_dict({"charger": [
    {"charge_point_id": "CP1", "evse": [{"connector": "1", "evse_id": "DE*ABC*E1*1"},
                                        {"connector": "2", "evse_id": "DE*ABC*E2*1"}]},
    {"charge_point_id": "CP2", "secc_mac": "02:00:00:00:00:02"},
]})

KINDS = {"A": ("v2g", "slac"), "B": ("ocpp.transaction", "ocpp.connection"),
         "C": ("ocpi.session", "ocpi.authorization")}
SYNC = ("v2g.auth_ok", "ocpp.authorize_accepted", "ocpi.token_authorized",
        "ocpp.remote_start", "ocpi.start_session")
KEYS = {
    "A": {"evse_id": ("DE*ABC*E1*1", "deabce21", "DE*ABC*E9*1"),
          "evccid": ("020000000001", "020000000002"),
          "emaid": ("DE-ABC-C12345678-X", "DEABCC87654321"),
          "secc_mac": ("02:00:00:00:00:02",)},
    "B": {"charge_point_id": ("CP1", "CP2"), "connector": ("1", "2"),
          "id_token": ("DEABCC12345678", "RFID01", "rfid01"),
          "transaction_id": ("42", "43"), "evccid": ("020000000001",),
          "authorization_reference": ("REF1", "REF2")},
    "C": {"ocpi_session_id": ("42", "OCPI-1"), "transaction_id": ("43",),
          "token_uid": ("RFID01", "DEABCC12345678X"), "evse_id": ("DEABCE11", "DE*ABC*E2*1"),
          "authorization_reference": ("REF1",), "evse_uid": ("U1",)},
}


@st.composite
def link_session(draw, n: int) -> LinkSession:
    link = draw(st.sampled_from("ABC"))
    keys = {name: draw(st.sampled_from(values)) for name, values in KEYS[link].items()
            if draw(st.booleans())}
    start = draw(st.integers(0, 12)) * 30  # seconds: many equal starts and gaps
    end = start + draw(st.integers(-1, 10)) * 30
    events = tuple(LinkEvent((start + draw(st.integers(0, 60))) * S, name)
                   for name in draw(st.lists(st.sampled_from(SYNC), max_size=2, unique=True)))
    return LinkSession(
        link=link, kind=draw(st.sampled_from(KINDS[link])),
        ident=draw(st.sampled_from(("", "1", "2", f"s{n}", "1#3"))),
        source=draw(st.sampled_from((f"{link}.pcap", "other.pcap"))),
        start_ns=start * S, end_ns=end * S, keys=keys, events=events)


@st.composite
def session_sets(draw) -> list[LinkSession]:
    size = draw(st.integers(0, 14))
    return [draw(link_session(n)) for n in range(size)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(session_sets(), st.booleans())
def test_indexed_correlation_is_the_all_pairs_one(sessions, with_site):
    site = SITE if with_site else None
    assert correlate(sessions, site) == correlate(sessions, site, indexed=False)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(session_sets(), st.booleans())
def test_indexed_clock_evidence_is_the_all_pairs_one(sessions, with_site):
    """The pairs clocks are aligned from, in order: nearest partners by identifier come
    before those by site alone, then by position, as the scan of every pair found them."""
    sessions = [s for n, s in enumerate(sessions)
                if s.label not in {t.label for t in sessions[:n]}]  # labels unique
    identity = {s.label: SITE.resolve(s.link, s.keys) for s in sessions} if with_site else {}
    index = KeyIndex.build(sessions, identity)
    assert clock_evidence(sessions, identity, index) == clock_evidence(sessions, identity, None)


@given(st.lists(st.tuples(st.integers(-5, 5), st.integers(-5, 5), st.sampled_from("AB")),
                max_size=12))
def test_overlapping_pairs_are_the_pairs_whose_intervals_meet(spans):
    sessions = [LinkSession(link, "k", str(n), "s", a, b) for n, (a, b, link) in enumerate(spans)]
    expected = {(i, j) for i in range(len(spans)) for j in range(i + 1, len(spans))
                if spans[i][2] != spans[j][2]
                and spans[i][0] <= spans[j][1] and spans[j][0] <= spans[i][1]}
    found = overlapping_pairs(range(len(sessions)), sessions, lambda s: (s.start_ns, s.end_ns))
    assert found == expected


def test_a_partner_by_identifier_wins_over_an_equally_near_one_by_site():
    """The scan meets identifier candidates before site candidates: with two partners
    at the same gap, the one sharing the contract is the clock evidence, though the one
    at the same EVSE comes first."""
    by_site = LinkSession("B", "ocpp.transaction", "1", "B.pcap", 100 * S, 200 * S,
                          keys={"charge_point_id": "CP1", "connector": "1"})
    ev = LinkSession("A", "v2g", "A1", "A.pcap", 100 * S, 200 * S,
                     keys={"evse_id": "DE*ABC*E1*1", "emaid": "DE-ABC-C12345678-X"})
    by_contract = LinkSession("B", "ocpp.transaction", "2", "B.pcap", 100 * S, 200 * S,
                              keys={"charge_point_id": "CP2", "id_token": "DEABCC12345678"})
    sessions = [by_site, ev, by_contract]
    identity = {s.label: SITE.resolve(s.link, s.keys) for s in sessions}
    expected = clock_evidence(sessions, identity, None)
    assert [(c.x.ident, c.y.ident, c.key) for c in expected] == [("A1", "2", "contract")]
    assert clock_evidence(sessions, identity, KeyIndex.build(sessions, identity)) == expected
