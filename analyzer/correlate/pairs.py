"""Which pairs of link sessions can join, found without looking at every pair.

`join.correlate` compares link sessions pairwise. Looking at all n² pairs made the
correlator the largest cost of a big capture set (30,000 link sessions: 450 M pairs);
here the pairs that can yield a candidate are found from indexes instead, so the work
grows with the pairs that share a join value or overlap in time, not with n².

- `KeyIndex`: session indices by every value `join.identifier_candidates` compares
  (identity token, authorization reference, EVCCID, EVSEID, the OCPP transactionId /
  OCPI session id) and by site EVSE: two sessions of different links yield an identifier
  or site candidate exactly when they share a group.
- `overlapping_pairs`: the index pairs whose time intervals meet (sort + bisect).
- `nearest_partners`: each session's nearest partner (raw start times) per link and kind
  among those it shares a group with, ties to the lower index, as the candidate-order
  scan of `join._mutual_nearest` picks them.

Every function returns pairs as `(i, j)` with `i < j`, in the order of
`itertools.combinations`, so the callers build their candidate lists in the order the
all-pairs scan did (the greedy union breaks ties by that order).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence

from chargescope.analyzer.correlate.keys import identity_tokens, normalise
from chargescope.analyzer.correlate.model import LinkSession

# the keys `identifier_candidates` compares after `normalise`, each by equality
EQUAL_KEYS = ("authorization_reference", "evccid", "evse_id")


class KeyIndex:
    """Session indices grouped by each join value they carry (see the module docstring).

    `build` returns None when a key value cannot be indexed (not hashable, or the key
    functions reject it): the caller then falls back to the all-pairs scan, which meets
    the same value the same way.
    """

    def __init__(self, groups: list[list[int]], site_only: list[bool]) -> None:
        self.groups = groups
        self.site_only = site_only  # the group is a site EVSE's, not an identifier's

    @classmethod
    def build(cls, sessions: Sequence[LinkSession],
              identity: dict[str, Hashable]) -> KeyIndex | None:
        by_value: dict[tuple, list[int]] = defaultdict(list)
        try:
            for i, s in enumerate(sessions):
                values: set[tuple] = set()
                keys = s.keys
                values.update(("token", t) for t in identity_tokens(keys))
                for key in EQUAL_KEYS:
                    v = normalise(key, keys.get(key))
                    if v:
                        values.add((key, v))
                if s.link == "B":
                    tx = keys.get("transaction_id", "")
                    if tx:
                        values.add(("tx", tx))
                elif s.link == "C":
                    for name in ("ocpi_session_id", "transaction_id"):
                        v = keys.get(name, "")
                        if v:
                            values.add(("tx", v))
                site = identity.get(s.label)
                if site is not None:
                    values.add(("site", site))
                for value in values:
                    by_value[value].append(i)
        except Exception:  # noqa: BLE001 - any odd value: the all-pairs scan handles it
            return None
        shared = [(value, g) for value, g in by_value.items() if len(g) > 1]
        return cls([g for _v, g in shared], [v[0] == "site" for v, _g in shared])

    def pairs(self, sessions: Sequence[LinkSession],
              interval: Callable[[LinkSession], tuple[int, int]]) -> list[tuple[int, int]]:
        """Pairs of different links sharing a group whose intervals meet, sorted."""
        found: set[tuple[int, int]] = set()
        for group in self.groups:
            found.update(overlapping_pairs(group, sessions, interval))
        return sorted(found)


def overlapping_pairs(indices: Sequence[int], sessions: Sequence[LinkSession],
                      interval: Callable[[LinkSession], tuple[int, int]]
                      ) -> set[tuple[int, int]]:
    """Pairs (i < j) of `indices` of different links whose closed intervals meet.

    Two intervals [a, b] and [c, d] meet (a <= d and c <= b) only when the later start
    lies inside the other interval, so each pair is found by bisecting the sorted starts
    from the earlier one, then checked (an empty interval, b < a, is tested the same way).
    """
    spans = sorted((*interval(sessions[i]), i) for i in indices)
    starts = [s for s, _e, _i in spans]
    out: set[tuple[int, int]] = set()
    for start, end, i in spans:
        link = sessions[i].link
        for _s, other_end, j in spans[bisect_left(starts, start):bisect_right(starts, end)]:
            if j != i and sessions[j].link != link and start <= other_end:
                out.add((i, j) if i < j else (j, i))
    return out


def nearest_partners(index: KeyIndex, sessions: Sequence[LinkSession]
                     ) -> dict[tuple[str, str, str], tuple[int, str]]:
    """(label, partner link, partner kind) -> (start gap, partner label): the nearest
    partner by raw start time among the sessions sharing a group. Among equally near
    ones, the first a scan of the evidence keeps: identifier candidates come before site
    candidates, each in pair order, so a partner by identifier wins over one by site
    alone, then the lower index."""
    best: dict[tuple[int, str, str], tuple[int, int, int]] = {}
    for group, site_only in zip(index.groups, index.site_only, strict=True):
        rank = 1 if site_only else 0
        buckets: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
        for i in group:
            buckets[(sessions[i].link, sessions[i].kind)].append((sessions[i].start_ns, i))
        for bucket in buckets.values():
            bucket.sort()
        for i in group:
            a = sessions[i]
            for (link, kind), bucket in buckets.items():
                if link == a.link:
                    continue
                gap, j = _nearest_in(bucket, a.start_ns)
                found = (gap, rank, j)
                key = (i, link, kind)
                if key not in best or found < best[key]:
                    best[key] = found
    return {(sessions[i].label, link, kind): (gap, sessions[j].label)
            for (i, link, kind), (gap, _rank, j) in best.items()}


def _nearest_in(bucket: list[tuple[int, int]], start: int) -> tuple[int, int]:
    """(gap, index) of the entry of `bucket` (sorted (start, index)) nearest to `start`,
    the lowest index among equally near ones."""
    pos = bisect_left(bucket, (start, -1))
    options = []
    if pos < len(bucket):  # at or after `start`: the first of the run of equal starts
        s = bucket[pos][0]
        options.append((s - start, bucket[pos][1]))
    if pos > 0:  # before `start`: the first of the run of that start
        s = bucket[pos - 1][0]
        first = bisect_left(bucket, (s, -1))
        options.append((start - s, bucket[first][1]))
    return min(options)
