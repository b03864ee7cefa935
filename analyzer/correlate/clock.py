"""Clock alignment between capture sources.

Each capture source (a file from the PLC sniffer, a tcpdump on the charger, a CSMS
log, an API gateway's HAR) keeps its own clock. Events that happen at the same moment
on two links give samples of the offset between their sources; the median of the
samples is the offset assumed, and the correlator reports it with its basis.
"""

from __future__ import annotations

import statistics
from collections import defaultdict, deque
from collections.abc import Iterable

from chargescope.analyzer.correlate.model import ClockOffset, LinkSession

# Milestones on two links that mark the same real-world moment, with the usual lag of
# the second after the first (ns): moments where one side waits for the other. The EVSE
# answers the EV's Authorization once the CSMS answered Authorize; the CSMS answers
# Authorize once the eMSP answered the real-time token authorization; a remote start
# follows START_SESSION. Transaction start/stop are no such moment: OCPP 2.x starts at
# plug-in or authorization, 1.6 before CableCheck, and stops at unplug or at SessionStop.
SYNC_PAIRS: tuple[tuple[str, str, int], ...] = (
    ("v2g.auth_ok", "ocpp.authorize_accepted", 0),
    ("v2g.auth_failed", "ocpp.authorize_rejected", 0),
    ("ocpp.authorize_accepted", "ocpi.token_authorized", 0),
    ("ocpp.authorize_rejected", "ocpi.token_authorized", 0),
    ("ocpp.remote_start", "ocpi.start_session", 0),
)


def offset_samples(first: LinkSession, second: LinkSession) -> list[int]:
    """Samples of (second's clock - first's clock) from their shared milestones."""
    samples = []
    for name_a, name_b, lag in SYNC_PAIRS:
        for x, y in ((first, second), (second, first)):
            ea, eb = x.first(name_a), y.first(name_b)
            if ea is None or eb is None:
                continue
            delta = eb.ts_ns - ea.ts_ns - lag
            samples.append(delta if x is first else -delta)
    return samples


def estimate_offsets(
    pairs: Iterable[tuple[LinkSession, LinkSession]],
    sources: Iterable[str],
    given_s: dict[str, float] | None = None,
) -> dict[str, ClockOffset]:
    """Offsets of every source relative to the reference of its clock group.

    `pairs` are link sessions surely of one charging session; `given_s` are offsets the
    user stated (site map [clock]), which win. A source that shares no moment with any
    other is its own reference (offset 0, `reference == source`). References are
    chosen in `sources` order (link A's sniffer first: the caller orders them).
    """
    sources = list(dict.fromkeys(sources))
    if not sources:
        return {}
    reference = sources[0]
    samples: dict[tuple[str, str], list[int]] = defaultdict(list)
    for x, y in pairs:
        if x.source == y.source:
            continue
        # only shared moments count: the parts' starts mean different things per link
        # (SLAC on A, Authorize or the transaction on B), so they are no sample
        found = offset_samples(x, y)
        if not found:
            continue
        samples[(x.source, y.source)].extend(found)
        samples[(y.source, x.source)].extend(-s for s in found)

    # Sources that shared moments form clock groups; each group is aligned to its own
    # reference (its first source in `sources` order), breadth-first over the samples.
    # Offsets the user gave (site map [clock]) are relative to the overall reference.
    out: dict[str, ClockOffset] = {}
    given_s = given_s or {}
    for source in sources:
        if source in given_s:
            out[source] = ClockOffset(source, reference, int(given_s[source] * 1e9),
                                      "given in the site map", 0)
    roots = list(out) + [s for s in sources if s not in out]
    for root in roots:
        if root not in out:
            out[root] = ClockOffset(root, root, 0, "reference clock", 0)
        queue = deque([root])
        while queue:
            known = queue.popleft()
            for (src, dst), values in samples.items():
                if src != known or dst in out:
                    continue
                # dst_time - src_time = delta; to the group's reference: t + offset
                delta = int(statistics.median(values))
                base = out[known]
                out[dst] = ClockOffset(dst, base.reference, base.offset_ns - delta,
                                       f"{len(values)} matched event pair(s) with {known} "
                                       "(median)", len(values))
                queue.append(dst)
    return out
