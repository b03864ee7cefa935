"""Joining per-link sessions into charging sessions.

Strongest evidence first: shared identifiers (contract id across A/B/C, EVSEID on A
and C, OCPP transaction or authorization reference on C, EVCCID forwarded on B), then
the site map (both sides resolve to the same charger EVSE), then plain time overlap
when the pairing is unambiguous. Every join carries its key, a confidence and a reason;
sessions that join nothing are still reported on their own.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations

from chargescope.analyzer.correlate.clock import estimate_offsets
from chargescope.analyzer.correlate.keys import identity_tokens, normalise
from chargescope.analyzer.correlate.model import ClockOffset, JoinEdge, LinkSession
from chargescope.analyzer.correlate.pairs import KeyIndex, nearest_partners, overlapping_pairs
from chargescope.analyzer.correlate.sitemap import SiteMap

SECOND = 1_000_000_000
# How far apart two parts of one charging session may lie (reference clock). A and B
# act within seconds of each other. An OCPI session starts when charging starts (its
# end and CDR may come much later), so a link-C part must *start* within this slack of
# the other part's span; its own end does not count.
TIME_SLACK_NS = 120 * SECOND
# Plain overlap joins tolerate this much: a CSMS answers Authorize a moment after the
# EV's last V2G message when the charger gives up.
OVERLAP_SLACK_NS = 30 * SECOND
CONFIDENCE = {
    "contract": 0.95,
    "authorization_reference": 0.95,
    "transaction_id": 0.9,
    "evccid": 0.9,
    "evse_id": 0.8,
    "site": 0.7,
    "time-overlap": 0.4,
}


@dataclass(frozen=True, slots=True)
class Candidate:
    x: LinkSession
    y: LinkSession
    key: str
    confidence: float
    reason: str


def identifier_candidates(x: LinkSession, y: LinkSession) -> list[Candidate]:
    """Identifier matches between two sessions of different links (time not checked)."""
    out: list[Candidate] = []
    shared = identity_tokens(x.keys) & identity_tokens(y.keys)
    if shared:
        token = sorted(shared)[0]
        out.append(Candidate(x, y, "contract", CONFIDENCE["contract"],
                             f"same contract/token id {token} on links {x.link} and {y.link}"))
    for key in ("authorization_reference", "evccid", "evse_id"):
        vx, vy = normalise(key, x.keys.get(key)), normalise(key, y.keys.get(key))
        if vx and vx == vy:
            out.append(Candidate(x, y, key, CONFIDENCE[key], f"same {key} {vx}"))
    # OCPP transactionId reused as the OCPI session id (a common CPO convention)
    for b, c in ((x, y), (y, x)):
        if b.link == "B" and c.link == "C":
            tx = b.keys.get("transaction_id", "")
            if tx and tx in (c.keys.get("ocpi_session_id", ""), c.keys.get("transaction_id", "")):
                out.append(Candidate(b, c, "transaction_id", CONFIDENCE["transaction_id"],
                                     f"OCPP transactionId {tx} is the OCPI session id"))
    return out


def correlate(
    sessions: list[LinkSession],
    site: SiteMap | None = None,
    *,
    indexed: bool = True,
) -> tuple[list[list[LinkSession]], list[JoinEdge], dict[str, ClockOffset]]:
    """Group link sessions into charging sessions.

    Returns the groups (each a list of parts), the join edges used, and the clock
    offset assumed for every capture source. `indexed=False` compares every pair of
    sessions (the reference the indexed way is tested against: same result).
    """
    seen: dict[str, int] = defaultdict(int)
    for s in sessions:
        seen[s.label] += 1
    # two sessions with the same label (an id reused): disambiguate by position
    sessions = [_relabel(s, n) if seen[s.label] > 1 else s for n, s in enumerate(sessions)]

    identity = {s.label: site.resolve(s.link, s.keys) for s in sessions} if site else {}
    # Only pairs sharing a join value can be identifier or site candidates: found from an
    # index (`pairs.py`); the all-pairs scan stays for labels still shared after the
    # relabelling above, or key values the index cannot hold.
    unique = len({s.label for s in sessions}) == len(sessions)
    index = KeyIndex.build(sessions, identity) if unique and indexed else None
    mutual = clock_evidence(sessions, identity, index)
    sources = _ordered_sources(sessions)
    offsets = estimate_offsets(((c.x, c.y) for c in mutual), sources,
                               site.clock_offsets_s if site else None)

    def window(s: LinkSession) -> tuple[int, int]:
        off = offsets[s.source].offset_ns
        return s.start_ns + off, s.end_ns + off

    def plausible(x: LinkSession, y: LinkSession) -> bool:
        if x.link == "C":
            x, y = y, x
        (xs, xe), (ys, ye) = window(x), window(y)
        if y.link == "C":
            ye = ys  # only the start of an OCPI session is tied to the charging
        return xs - TIME_SLACK_NS <= ye and ys - TIME_SLACK_NS <= xe

    if index is None:
        pairs = _all_pairs(sessions)
        candidates = [c for c in _candidates(pairs, identity) if plausible(c.x, c.y)]
        candidates.extend(_time_overlap(pairs, window, identity))
    else:
        def plausible_span(s: LinkSession) -> tuple[int, int]:
            start, end = window(s)  # plausible(x, y) is: these two spans meet
            return start, (start if s.link == "C" else end) + TIME_SLACK_NS

        def overlap_span(s: LinkSession) -> tuple[int, int]:
            start, end = window(s)  # _time_overlap's test is: these two spans meet
            return start, end + OVERLAP_SLACK_NS

        near = [(sessions[i], sessions[j]) for i, j in index.pairs(sessions, plausible_span)]
        candidates = [c for c in _candidates(near, identity) if plausible(c.x, c.y)]
        meeting = overlapping_pairs(range(len(sessions)), sessions, overlap_span)
        candidates.extend(_time_overlap([(sessions[i], sessions[j]) for i, j in sorted(meeting)],
                                        window, identity))

    groups, edges = _union(sessions, candidates)
    return groups, edges, offsets


def clock_evidence(sessions: list[LinkSession], identity: dict, index: KeyIndex | None
                   ) -> list[Candidate]:
    """The pairs clocks are aligned from: pairs that are surely one session (strong
    identifiers, or the same charger EVSE per the site map), each the other's nearest
    such partner (one EVSE serves many sessions a day; the nearest, not all, are the
    same story). With `index` None, from every pair."""
    if index is None:
        evidence = [c for c in _candidates(_all_pairs(sessions), identity)
                    if c.key == "site" or c.confidence >= 0.8]
        return _mutual_nearest(evidence)
    nearest = nearest_partners(index, sessions)
    evidence = [c for c in _candidates(_mutual_pairs(nearest, sessions), identity)
                if c.key == "site" or c.confidence >= 0.8]
    return _mutual(evidence, nearest)


def _all_pairs(sessions: list[LinkSession]) -> list[tuple[LinkSession, LinkSession]]:
    return [(x, y) for x, y in combinations(sessions, 2) if x.link != y.link]


def _site_candidates(pairs, identity) -> list[Candidate]:
    return [Candidate(x, y, "site", CONFIDENCE["site"],
                      f"both at {identity[x.label].identity} per the site map")
            for x, y in pairs
            if identity.get(x.label) is not None
            and identity[x.label] == identity.get(y.label)]


def _candidates(pairs, identity) -> list[Candidate]:
    """Identifier candidates of `pairs`, then their site candidates: the order of the
    all-pairs scan, restricted to these pairs."""
    return [c for x, y in pairs for c in identifier_candidates(x, y)] + \
        _site_candidates(pairs, identity)


def _mutual_pairs(nearest: dict[tuple[str, str, str], tuple[int, str]],
                  sessions: list[LinkSession]) -> list[tuple[LinkSession, LinkSession]]:
    """The pairs (in pair order) whose sides are each other's nearest partner."""
    at = {s.label: n for n, s in enumerate(sessions)}
    found = set()
    for (label, _link, _kind), (_gap, other) in nearest.items():
        a = sessions[at[label]]
        back = nearest.get((other, a.link, a.kind))
        if back is not None and back[1] == label:
            found.add((min(at[label], at[other]), max(at[label], at[other])))
    return [(sessions[i], sessions[j]) for i, j in sorted(found)]


def _time_overlap(pairs, window, identity) -> list[Candidate]:
    """Overlap joins, only where each side has exactly one overlapping partner on the other link."""
    overlapping: dict[tuple[str, str], list[LinkSession]] = defaultdict(list)
    found = []
    for x, y in pairs:
        ex, ey = identity.get(x.label), identity.get(y.label)
        if ex is not None and ey is not None and ex != ey:
            continue  # different chargers per the site map
        (xs, xe), (ys, ye) = window(x), window(y)
        if xs - OVERLAP_SLACK_NS <= ye and ys - OVERLAP_SLACK_NS <= xe:
            overlapping[(x.label, y.link)].append(y)
            overlapping[(y.label, x.link)].append(x)
            found.append((x, y))
    out = []
    for x, y in found:
        if len(overlapping[(x.label, y.link)]) == 1 and len(overlapping[(y.label, x.link)]) == 1:
            out.append(Candidate(x, y, "time-overlap", CONFIDENCE["time-overlap"],
                                 "the only overlapping sessions on their links"))
    return out


def _mutual_nearest(cands: list[Candidate]) -> list[Candidate]:
    """Candidates whose two sides are each other's nearest partner of that link and kind
    (raw start times): an OCPP transaction pairs with the nearest OCPI session *and* the
    nearest OCPI authorization."""
    nearest: dict[tuple[str, str, str], tuple[int, str]] = {}
    for c in cands:
        gap = abs(c.x.start_ns - c.y.start_ns)
        for a, b in ((c.x, c.y), (c.y, c.x)):
            key = (a.label, b.link, b.kind)
            if key not in nearest or gap < nearest[key][0]:
                nearest[key] = (gap, b.label)
    return _mutual(cands, nearest)


def _mutual(cands: list[Candidate], nearest: dict[tuple[str, str, str], tuple[int, str]]
            ) -> list[Candidate]:
    """The first candidate of each pair whose sides are each other's nearest partner."""
    out, seen = [], set()
    for c in cands:
        pair = (c.x.label, c.y.label)
        if pair in seen:
            continue
        if nearest[(c.x.label, c.y.link, c.y.kind)][1] == c.y.label and \
                nearest[(c.y.label, c.x.link, c.x.kind)][1] == c.x.label:
            seen.add(pair)
            out.append(c)
    return out


def _union(sessions, candidates) -> tuple[list[list[LinkSession]], list[JoinEdge]]:
    """Greedy merge, strongest first; a group holds at most one session per link and kind."""
    parent = {s.label: s.label for s in sessions}
    members = {s.label: [s] for s in sessions}

    def find(label: str) -> str:
        while parent[label] != label:
            parent[label] = parent[parent[label]]
            label = parent[label]
        return label

    edges: list[JoinEdge] = []
    joined: set[frozenset[str]] = set()  # label pairs with an edge
    # strongest first; among equals, the pair closest in time
    ordered = sorted(candidates, key=lambda c: (-c.confidence, abs(c.x.start_ns - c.y.start_ns)))
    for c in ordered:
        rx, ry = find(c.x.label), find(c.y.label)
        if rx == ry:
            if frozenset((c.x.label, c.y.label)) not in joined:
                joined.add(frozenset((c.x.label, c.y.label)))
                edges.append(JoinEdge(c.x.label, c.y.label, c.key, c.confidence, c.reason))
            continue
        kinds_x = {(s.link, s.kind) for s in members[rx]}
        kinds_y = {(s.link, s.kind) for s in members[ry]}
        if kinds_x & kinds_y:
            continue  # would put two V2G sessions (or two transactions) in one story
        parent[ry] = rx
        members[rx].extend(members.pop(ry))
        joined.add(frozenset((c.x.label, c.y.label)))
        edges.append(JoinEdge(c.x.label, c.y.label, c.key, c.confidence, c.reason))
    groups = [sorted(m, key=lambda s: (s.link, s.start_ns)) for m in members.values()]
    groups.sort(key=lambda g: min(s.start_ns for s in g))
    return groups, edges


def _ordered_sources(sessions: list[LinkSession]) -> list[str]:
    """Reference clock first: link A's source when present (the sniffer at the charger)."""
    return [s.source for s in sorted(sessions, key=lambda s: (s.link, s.start_ns))]


def _relabel(session: LinkSession, n: int) -> LinkSession:
    from dataclasses import replace

    return replace(session, ident=f"{session.ident or '?'}#{n}")
