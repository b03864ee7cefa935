"""HomePlug AV / Green PHY MME dissector: bytes -> `Message` (sans-I/O).

`decode_mme` turns one MME (the Ethernet payload after EtherType 0x88E1) into a
Message; `HomePlugDissector` is the per-pipeline frame dissector that also reassembles
MME v1.1 fragments (FMI/FMSN). Neither raises on hostile bytes: every short or
inconsistent unit becomes a Message carrying a `Problem`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from chargescope import backends
from chargescope.analyzer.records import ByteRef, Link, Message, Problem
from chargescope.dissectors.homeplug.program import build_table
from chargescope.dissectors.homeplug.registry import ETHERTYPE_HOMEPLUG, OUI_NAMES, mmtype_name

PROTOCOL = "homeplug"
ETH_HEADER = 14
VLAN_TPIDS = (0x8100, 0x88A8)
MAX_FRAGMENT_SETS = 1024  # partial MME fragment sets held at once (Limits.homeplug_fragments)
MMV1_HEADER = 5  # MMV, MMTYPE (2), FMI, FMSN


@functools.cache
def dispatch_table() -> dict:
    """key -> (display name, program, secret fields, declared length); built once."""
    return build_table()


def mac_text(b: bytes) -> str:
    return b.hex(":")


def oui_text(oui: int) -> str:
    return f"{oui >> 16:02x}:{(oui >> 8) & 0xFF:02x}:{oui & 0xFF:02x}"


def redact(value: Any) -> Any:
    """A key's stand-in: equal keys give equal stand-ins (so checks can see a key change)
    without revealing it; an all-zero key is no secret and stays visible."""
    if not isinstance(value, str) or set(value) <= {"0"}:
        return value
    digest = hashlib.sha256(bytes.fromhex(value)).hexdigest()[:8]
    return f"<redacted {len(value) // 2} octets, sha256 {digest}>"


class MmeContext(NamedTuple):
    """Where an MME came from: for the Message's header, refs and problems.

    A NamedTuple, not a record: it lives for one decode call, on the hot path, where
    a frozen dataclass's per-field __setattr__ would cost more than the decode itself.
    """

    ts_ns: int = 0
    src: str = ""
    dst: str = ""
    source: str = ""
    frame: int = 0
    offset: int = 0  # offset of the MME in the frame (14 for untagged Ethernet)
    show_secrets: bool = False


def _problem(kind: str, detail: str, ctx: MmeContext, offset: int) -> Problem:
    return Problem(kind=kind, detail=detail, source=ctx.source, frame=ctx.frame,
                   offset=ctx.offset + offset, where="frame")


def build_message(result: tuple, buf: bytes, base: int, ctx: MmeContext,
                  refs: tuple[ByteRef, ...] | None = None) -> Message:
    """A Message from a hot-path `decode_mme` result over `buf`, the MME starting at `base`.

    Offsets in `result` index `buf`; Problems and ByteRefs give them in the frame
    (`buf` is the frame, or a reassembled MME with `base` 0).
    """
    mmv, mmtype, fmi, fmsn, oui, body_start, entry, body, stop, short = result
    if mmtype < 0:
        name = "MME.MALFORMED"
        fields: dict[str, Any] = {}
    else:
        name = entry[0] if entry is not None else mmtype_name(mmtype, None)
        fields = {"mmv": mmv, "mmtype": mmtype}
        if mmv >= 1:
            fields["fmi"] = {"nf_mi": fmi >> 4, "fn_mi": fmi & 0x0F, "fmsn": fmsn}
        if oui >= 0:
            fields["oui"] = oui_text(oui)
            fields["vendor"] = OUI_NAMES.get(oui, "unknown")
    raw = body is None and short is None and mmtype >= 0
    if raw:
        body = {"body": buf[body_start:].hex()}  # undeclared MMTYPE: raw record
        stop = len(buf)
    if body is not None:
        if entry is not None and entry[2] and not ctx.show_secrets:
            for secret in entry[2]:
                if secret in body:
                    body[secret] = redact(body[secret])
        fields.update(body)
    problems: tuple[Problem, ...] = ()
    if short is not None:
        what, at, need, left = short
        problems = (_problem(
            "homeplug.mme.truncated",
            f"{name}: expected {need} octet(s) for {what} at MME offset {at - base}, {left} left",
            ctx, at - base),)
    elif body is not None and entry is not None and entry[3] is not None:
        length_field, octets = entry[3]
        if body.get(length_field) != octets:
            problems = (_problem(
                "homeplug.mme.length_mismatch",
                f"{name}: {length_field} says {body.get(length_field)} octets, the layout has "
                f"{octets}; decoded by the layout", ctx, body_start - base),)
    if refs is None:
        refs = (ByteRef(ctx.source, ctx.frame, ctx.offset, stop - base),)
    return Message(Link.A, PROTOCOL, name, ctx.ts_ns, ctx.src, ctx.dst, fields, refs, problems)


def decode_mme(data: bytes, ctx: MmeContext | None = None, impl: Any = None) -> Message:
    """Decode one complete (unfragmented or reassembled) MME."""
    ctx = ctx or MmeContext()
    impl = impl or backends.load("homeplug")
    data = bytes(data)
    return build_message(impl.decode_mme(data, 0, len(data), dispatch_table()), data, 0, ctx)


LINKTYPE_ETHERNET = 1


def split_ethernet(frame: bytes) -> tuple[str, str, int, int] | None:
    """(dst, src, EtherType, payload offset), skipping VLAN tags; None when too short."""
    if len(frame) < ETH_HEADER:
        return None
    offset = 12
    ethertype = int.from_bytes(frame[12:14], "big")
    while ethertype in VLAN_TPIDS and len(frame) >= offset + 6:
        offset += 4
        ethertype = int.from_bytes(frame[offset:offset + 2], "big")
    return mac_text(frame[0:6]), mac_text(frame[6:12]), ethertype, offset + 2


@dataclass(slots=True)
class _Fragments:
    mmtype: int
    fmsn: int
    count: int
    header: bytes
    parts: dict[int, bytes] = field(default_factory=dict)
    refs: list[ByteRef] = field(default_factory=list)
    first: MmeContext | None = None


class HomePlugDissector:
    """Frame dissector for EtherType 0x88E1, with MME fragment reassembly.

    One instance per pipeline run (it keeps partial fragment sets, keyed by source
    MAC, MMTYPE and FMSN). Feed frames in capture order; call `flush()` at the end
    to turn incomplete fragment sets into Messages with problems.
    """

    def __init__(self, *, show_secrets: bool = False, impl: Any = None,
                 max_fragment_sets: int = MAX_FRAGMENT_SETS) -> None:
        self.show_secrets = show_secrets
        self.impl = impl or backends.load("homeplug")
        self.table = dispatch_table()
        # insertion order = age: the oldest set is the first given up at the cap
        self._partial: dict[tuple[str, str, int], _Fragments] = {}
        self.max_fragment_sets = max_fragment_sets  # Limits.homeplug_fragments

    def __call__(self, packet: Any) -> list[Message]:
        """The pipeline's frame-dissector interface: `fn(packet) -> list[Message]`.

        Ethernet frames are read as such; other link types (Linux cooked SLL/SLL2 captures
        of a PLC interface) come with the MME's offset and MACs from the link decode.
        """
        frame = packet.frame
        if frame.linktype == LINKTYPE_ETHERNET:
            return self.feed(frame.data, ts_ns=frame.ts_ns, source=frame.source,
                             frame=frame.number)
        data = frame.data if frame.data.__class__ is bytes else bytes(frame.data)
        offset = packet.l3_offset
        if offset < 0 or offset >= len(data):
            return []
        ctx = MmeContext(frame.ts_ns, packet.eth_src, packet.eth_dst, frame.source,
                         frame.number, offset, self.show_secrets)
        return self._decode_at(data, offset, ctx)

    def feed(self, eth: bytes, *, ts_ns: int = 0, source: str = "", frame: int = 0) -> list[Message]:
        """One Ethernet frame (bytes) -> the Messages it completes (0, 1 or 2)."""
        if eth.__class__ is not bytes:
            eth = bytes(eth)
        if len(eth) > ETH_HEADER and eth[12] == 0x88 and eth[13] == 0xE1:  # untagged: most
            offset = ETH_HEADER
        else:
            split = split_ethernet(eth)
            if split is None or split[2] != ETHERTYPE_HOMEPLUG:
                return []
            offset = split[3]
        ctx = MmeContext(ts_ns, eth[6:12].hex(":"), eth[0:6].hex(":"), source, frame, offset,
                         self.show_secrets)
        return self._decode_at(eth, offset, ctx)

    def _decode_at(self, eth: bytes, offset: int, ctx: MmeContext) -> list[Message]:
        result = self.impl.decode_mme(eth, offset, len(eth), self.table)
        if result[0] >= 1 and result[2] & 0xF0:
            return self._fragment(eth, offset, ctx, result[1], result[2], result[3])
        return [build_message(result, eth, offset, ctx)]

    def _fragment(self, eth: bytes, offset: int, ctx: MmeContext, mmtype: int, fmi: int,
                  fmsn: int) -> list[Message]:
        count, index = (fmi >> 4) + 1, fmi & 0x0F
        key = (ctx.src, ctx.dst, mmtype)
        out: list[Message] = []
        partial = self._partial.get(key)
        if partial is not None and (partial.fmsn != fmsn or partial.count != count
                                    or index in partial.parts):
            out.append(self._abandon(key, "a new fragment sequence started before it completed"))
            partial = None
        if partial is None:
            if index != 0:
                out.append(self._orphan(eth, offset, ctx, mmtype, index, count, fmsn))
                return out
            header = bytes(eth[offset:offset + 3]) + b"\x00" + bytes([fmsn])
            partial = _Fragments(mmtype, fmsn, count, header, first=ctx)
            if len(self._partial) >= self.max_fragment_sets:
                out.append(self._over_cap(ctx))
            self._partial[key] = partial
        partial.parts[index] = bytes(eth[offset + MMV1_HEADER:])
        partial.refs.append(ByteRef(ctx.source, ctx.frame, offset, len(eth) - offset))
        if len(partial.parts) == partial.count:
            del self._partial[key]
            if sorted(partial.parts) != list(range(partial.count)):
                out.append(self._broken(partial, "fragment indexes out of range"))
                return out
            data = partial.header + b"".join(partial.parts[i] for i in range(partial.count))
            result = self.impl.decode_mme(data, 0, len(data), self.table)
            first = partial.first or ctx
            reassembled = MmeContext(ts_ns=ctx.ts_ns, src=first.src, dst=first.dst,
                                     source=first.source, frame=ctx.frame, offset=0,
                                     show_secrets=self.show_secrets)
            message = build_message(result, data, 0, reassembled, refs=tuple(partial.refs))
            fields = dict(message.fields)
            fields["fmi"] = {"nf_mi": partial.count - 1, "fn_mi": 0, "fmsn": partial.fmsn,
                             "reassembled_from": partial.count}
            out.append(dataclasses.replace(message, fields=fields))
        return out

    def _orphan(self, eth: bytes, offset: int, ctx: MmeContext, mmtype: int, index: int,
                count: int, fmsn: int) -> Message:
        problem = _problem("homeplug.fragment.sequence",
                           f"fragment {index + 1} of {count} (FMSN {fmsn}) without fragment 1",
                           ctx, 3)
        name = self._name(mmtype)
        return Message(link=Link.A, protocol=PROTOCOL, name=name, ts_ns=ctx.ts_ns, src=ctx.src,
                       dst=ctx.dst, fields={"mmv": eth[offset], "mmtype": mmtype,
                                            "fragment": eth[offset + MMV1_HEADER:].hex()},
                       refs=(ByteRef(ctx.source, ctx.frame, offset, len(eth) - offset),),
                       problems=(problem,))

    def _name(self, mmtype: int) -> str:
        for key in (mmtype | (0xFF << 40), mmtype | (1 << 40)):
            entry = self.table.get(key)
            if entry is not None:
                return entry[0]
        return mmtype_name(mmtype, None)

    def _broken(self, partial: _Fragments, why: str) -> Message:
        ctx = partial.first or MmeContext()
        problem = Problem(kind="homeplug.fragment.sequence",
                          detail=f"{self._name(partial.mmtype)} FMSN {partial.fmsn}: {why}; "
                                 f"got fragments {sorted(i + 1 for i in partial.parts)} of {partial.count}",
                          source=ctx.source, frame=ctx.frame, offset=ctx.offset + 3, where="frame")
        return Message(link=Link.A, protocol=PROTOCOL, name=self._name(partial.mmtype),
                       ts_ns=ctx.ts_ns, src=ctx.src, dst=ctx.dst,
                       fields={"mmtype": partial.mmtype,
                               "fragments": [partial.parts[i].hex() for i in sorted(partial.parts)]},
                       refs=tuple(partial.refs), problems=(problem,))

    def _over_cap(self, ctx: MmeContext) -> Message:
        """The homeplug-fragments cap: give up the oldest set, say so on it."""
        oldest = next(iter(self._partial))
        message = self._abandon(oldest, f"{self.max_fragment_sets} fragment sets held at once "
                                        "(homeplug-fragments cap); the oldest is given up")
        problem = Problem(kind="limit.homeplug.fragments",
                          detail=f"{self.max_fragment_sets} MME fragment sets waiting for "
                                 f"their last fragment (homeplug-fragments cap) when frame "
                                 f"{ctx.frame} started another; the oldest was given up",
                          source=ctx.source, frame=ctx.frame, offset=ctx.offset + 3,
                          where="frame")
        return dataclasses.replace(message, problems=(*message.problems, problem))

    def _abandon(self, key: tuple[str, str, int], why: str) -> Message:
        return self._broken(self._partial.pop(key), why)

    def flush(self) -> list[Message]:
        """End of input: incomplete fragment sets become Messages with problems."""
        return [self._abandon(key, "capture ended before the last fragment")
                for key in list(self._partial)]
