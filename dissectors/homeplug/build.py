"""Encode MMEs from field dicts with the registry's construct layouts (for `simulate`, tests).

`build_mme(0x6064, run_id="...")` returns the MME bytes (header + body); fields left
out take neutral defaults (0, zero MAC, zero octets, empty lists), so callers only
name what matters. `build_frame` wraps it in an Ethernet header (EtherType 0x88E1),
padded to the 60-octet Ethernet minimum as modems send it.
"""

from __future__ import annotations

from typing import Any

from chargescope.dissectors.homeplug import program as prog
from chargescope.dissectors.homeplug.registry import ETHERTYPE_HOMEPLUG, OUI_QUALCOMM, Variant

ETH_MIN = 60


def _default(ins: tuple) -> Any:
    kind, _name, a, _b = ins
    if kind == prog.MAC:
        return "00:00:00:00:00:00"
    if kind in (prog.HEX,):
        return "00" * a
    if kind in (prog.HEXVAR, prog.HEXREST, prog.NIBBLES):
        return ""
    if kind in (prog.TEXT, prog.TEXTVAR, prog.TEXTREST):
        return ""
    if kind in (prog.U8LIST, prog.GROUP, prog.GP_TLVS):
        return []
    if kind == prog.STRUCT:
        return with_defaults(_b, {})
    return 0


def with_defaults(program: prog.Program, fields: dict[str, Any]) -> dict[str, Any]:
    out = dict(fields)
    for ins in program:
        kind, name, a, b = ins
        if kind == prog.BITS:  # a packed group: each field defaults on its own
            for field, _shift, _width in b:
                out.setdefault(field, 0)
            continue
        if name in out:
            continue
        if kind == prog.SWITCH:
            case = b.get(tuple(out.get(s) for s in a) if isinstance(a, tuple) else out.get(a))
            out[name] = None if case is None else _default(case)
        else:
            out[name] = _default(ins)
    return out


def build_mme(mmtype: int, *, mmv: int = 1, oui: int | None = None, fmi: int = 0, fmsn: int = 0,
              **fields: Any) -> bytes:
    """Header and body of one MME; vendor MMTYPEs default to the Qualcomm OUI."""
    vendor = 0x8000 <= mmtype < 0xC000
    if vendor and oui is None:
        oui = OUI_QUALCOMM
    spec = prog.spec_for(mmtype, oui or 0, mmv)
    layout = None if spec is None else spec.layouts.get(Variant(mmtype & 3))
    if spec is None or layout is None:
        raise KeyError(f"MMTYPE 0x{mmtype:04X} (OUI {oui}, MMV {mmv}) is not declared")
    declared = spec.declared.get(Variant(mmtype & 3))
    if declared is not None:
        fields.setdefault(*declared)  # e.g. mvf_length: what the layout fixes
    head = bytes([mmv]) + mmtype.to_bytes(2, "little")
    if mmv >= 1:
        head += bytes([fmi, fmsn])
    if vendor:
        head += (oui or 0).to_bytes(3, "big")
    return head + layout.build(with_defaults(prog.compile_layout(layout), fields))


def build_frame(dst: str, src: str, mme: bytes) -> bytes:
    frame = bytes.fromhex(dst.replace(":", "")) + bytes.fromhex(src.replace(":", "")) \
        + ETHERTYPE_HOMEPLUG.to_bytes(2, "big") + mme
    return frame.ljust(ETH_MIN, b"\x00")
