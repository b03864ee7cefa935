"""Compile the construct layouts of `registry.py` into flat programs for the fast decoders.

A program is a tuple of instructions `(kind, name, a, b)`; the kinds are the small
integers below, shared by the pure-Python twin (`_decode.py`) and the Cython
extension (`ext/_homeplug.pyx`). Nothing here is written by hand per MME: the
program is read off the `_cs_op` tags that the `fields.py` helpers put on each field,
so the construct layout stays the single declaration.

The dispatch table maps an integer key (MMTYPE, OUI, MME version) to
`(display name, program)`; `table_key` is the one place that key is formed.
"""

from __future__ import annotations

from collections.abc import Iterable

import construct as cs

from chargescope.dissectors.homeplug.registry import MMES, MmeSpec, Variant, mmtype_name

(U8, U16, U32, U64, MAC, HEX, TEXT, HEXVAR, TEXTVAR, HEXREST, U8LIST, GROUP, SWITCH, STRUCT, NIBBLES,
 BITS, GP_TLVS, TEXTREST) = range(18)

_KINDS = {
    "u8": U8, "u16": U16, "u32": U32, "u64": U64, "mac": MAC, "hex": HEX, "text": TEXT,
    "hexvar": HEXVAR, "textvar": TEXTVAR, "hexrest": HEXREST, "u8list": U8LIST,
    "nibbles": NIBBLES, "gp_tlvs": GP_TLVS, "textrest": TEXTREST,
}

ANY_MMV = 0xFF  # table key version byte for layouts valid in every MME version

Instruction = tuple  # (kind, name, a, b)
Program = tuple[Instruction, ...]


def _compile_field(con: cs.Construct) -> Instruction:
    if isinstance(con, cs.Struct):  # a switch case of several fields: a nested record
        return (STRUCT, "", None, compile_layout(con))
    op = getattr(con, "_cs_op", None)
    if op is None:
        raise TypeError(f"layout field {con!r} was not built with chargescope.dissectors.homeplug.fields")
    tag, name, *args = op
    if tag == "bits":  # (BITS, group name, octets, ((field, shift, width), ...))
        size, fields = args
        return (BITS, name, size, fields)
    if tag == "group":
        count_field, members = args
        return (GROUP, name, count_field, compile_members(members))
    if tag == "switch":
        selector, cases = args
        # each case decodes under the switch's own name
        compiled = {value: _compile_field(case) for value, case in cases.items()}
        return (SWITCH, name, selector,
                {value: (op[0], name, op[2], op[3]) for value, op in compiled.items()})
    a = args[0] if args else None
    return (_KINDS[tag], name, a, None)


def compile_members(members: Iterable[cs.Construct]) -> Program:
    # the other fields of a bits() group are decoded by the group's BITS instruction
    return tuple(_compile_field(m) for m in members
                 if getattr(m, "_cs_op", None) != ("covered",))


def compile_layout(struct: cs.Struct) -> Program:
    return compile_members(struct.subcons)


def table_key(mmtype: int, oui: int, mmv: int) -> int:
    """The dispatch key; `oui` is 0 for public MMEs (no OUI), mmv ANY_MMV for any version."""
    return mmtype | (oui << 16) | (mmv << 40)


def _keys(spec: MmeSpec, mmtype: int) -> list[int]:
    mmv = ANY_MMV if spec.mmv is None else spec.mmv
    ouis = [spec.oui or 0, *spec.extra_ouis]
    return [table_key(mmtype, oui, mmv) for oui in ouis]


Entry = tuple[str, Program, tuple[str, ...], tuple[str, int] | None]


def build_table(specs: Iterable[MmeSpec] = MMES) -> dict[int, Entry]:
    """key -> (display name, program, secret field names, declared length or None)."""
    table: dict[int, Entry] = {}
    for spec in specs:
        for variant, struct in spec.layouts.items():
            mmtype = spec.base | int(variant)
            entry = (mmtype_name(mmtype, spec.name), compile_layout(struct), spec.secrets,
                     spec.declared.get(variant))
            for key in _keys(spec, mmtype):
                if key in table:
                    raise ValueError(f"MMTYPE 0x{mmtype:04X} declared twice")
                table[key] = entry
    return table


def spec_for(mmtype: int, oui: int = 0, mmv: int = 1) -> MmeSpec | None:
    """The registry record declaring this MMTYPE (variant bits ignored)."""
    for spec in MMES:
        if spec.base != mmtype & ~3 or oui not in (spec.oui or 0, *spec.extra_ouis):
            continue
        if spec.mmv is not None and spec.mmv != mmv:
            continue
        return spec
    return None


def layout_for(mmtype: int, oui: int = 0, mmv: int = 1) -> cs.Struct | None:
    """The construct layout for one MME variant (the encoder and the test oracle)."""
    spec = spec_for(mmtype, oui, mmv)
    return None if spec is None else spec.layouts.get(Variant(mmtype & 3))
