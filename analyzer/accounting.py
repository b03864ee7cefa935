"""Per-stream byte accounting: every byte of a reassembled stream is used, lost, or missing.

For every TCP direction the pipeline dissects, and for every decrypted TLS plaintext
stream, the identity

    stream bytes = bytes consumed by messages + bytes reported undecodable + gap bytes

must hold. The pipeline counts the stream's bytes (data and gaps, as the reassembler
delivered them) and the bytes it handed to the dissector; the dissector counts what it
made Messages of (`consumed`) and what it reported as undecodable (skipped while
resynchronising, cut short by a gap or the end, beyond a cap). Bytes the pipeline never
handed on (no dissector claimed the connection, or one was detached after a bug) count
as undecodable. A stream dissector takes part by exposing ``accounting`` (a
`StreamBytes`, read when its connection closes); `PipelineStats.streams` sums them per
stream kind and counts the streams whose books do not balance.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class StreamBytes:
    """What one stream dissector did with the bytes it was fed, per direction (0, 1)."""

    consumed: list[int] = field(default_factory=lambda: [0, 0])
    undecodable: list[int] = field(default_factory=lambda: [0, 0])
    # a stream the dissector derives from this one (TLS: the decrypted application data)
    inner: PlainStream | None = None


@dataclass(slots=True)
class PlainStream:
    """A derived stream (decrypted TLS application data) and how its bytes were used."""

    kind: str = ""  # the inner dissector's handoff name; "" while none claimed it
    data: list[int] = field(default_factory=lambda: [0, 0])  # plaintext bytes produced
    fed: list[int] = field(default_factory=lambda: [0, 0])  # of which handed to `account`'s owner
    account: StreamBytes | None = None  # the inner dissector's accounting


@dataclass(slots=True)
class StreamTotals:
    """The sums over all streams of one kind ("v2gtp", "tls", "tls/websocket", ...)."""

    streams: int = 0
    bytes: int = 0  # data + gap bytes of the streams (both directions)
    consumed: int = 0
    undecodable: int = 0
    gaps: int = 0
    unbalanced: int = 0  # stream directions where the identity does not hold
    unaccounted: int = 0  # streams whose dissector keeps no accounting (plugins)

    @property
    def balanced(self) -> bool:
        return (not self.unbalanced and not self.unaccounted
                and self.bytes == self.consumed + self.undecodable + self.gaps)

    def as_dict(self) -> dict[str, int]:
        return {"streams": self.streams, "bytes": self.bytes, "consumed": self.consumed,
                "undecodable": self.undecodable, "gaps": self.gaps,
                "unbalanced": self.unbalanced, "unaccounted": self.unaccounted}


def fold(totals: dict[str, StreamTotals], kind: str, data: list[int], gaps: list[int],
         fed: list[int], account: StreamBytes | None) -> None:
    """Add one stream (both directions) to `totals[kind]`.

    `data`/`gaps`: what the stream held; `fed`: the data bytes the dissector was given
    (the rest is undecodable: nobody looked at it); `account`: the dissector's books.
    """
    row = totals.get(kind)
    if row is None:
        row = totals[kind] = StreamTotals()
    row.streams += 1
    row.bytes += data[0] + data[1] + gaps[0] + gaps[1]
    row.gaps += gaps[0] + gaps[1]
    row.undecodable += data[0] - fed[0] + data[1] - fed[1]
    if account is None:
        if fed[0] or fed[1]:
            row.unaccounted += 1
        return
    for d in (0, 1):
        row.consumed += account.consumed[d]
        row.undecodable += account.undecodable[d]
        if account.consumed[d] + account.undecodable[d] != fed[d]:
            row.unbalanced += 1
    inner = account.inner
    if inner is not None and (inner.data[0] or inner.data[1]):
        fold(totals, f"{kind}/{inner.kind or 'undissected'}", inner.data, [0, 0], inner.fed,
             inner.account)


def identity_text(kind: str, row: StreamTotals) -> str:
    """One line of `chargescope info`: the identity for one stream kind."""
    text = (f"{kind}: {row.streams} streams, {row.bytes} bytes = {row.consumed} consumed + "
            f"{row.undecodable} undecodable + {row.gaps} gap")
    if row.unbalanced:
        text += f" (UNBALANCED in {row.unbalanced} stream directions)"
    if row.unaccounted:
        text += f" ({row.unaccounted} streams by a dissector that keeps no accounting)"
    return text
