"""Hypothesis strategy: random schema-valid trees, by walking a grammar's tables."""

from __future__ import annotations

import base64

from hypothesis import reject
from hypothesis import strategies as st

from chargescope.dissectors.exi.tables import (
    AT,
    CH,
    COMPLEX,
    DT_BIN_B64,
    DT_BIN_HEX,
    DT_BOOL,
    DT_ENUM,
    DT_INT,
    DT_NBIT,
    DT_STR,
    DT_UINT,
    EE,
    SE,
    Grammar,
    grammar,
)

_NON_EMPTY = {DT_BIN_B64: "AA==", DT_BIN_HEX: "00"}
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


def _value(draw, dt: tuple):
    kind = dt[0]
    if kind == DT_NBIT:
        return draw(st.integers(dt[1], dt[3]))
    if kind == DT_UINT:
        return draw(st.integers(0, 2**64 - 1))
    if kind == DT_INT:
        return draw(st.integers(-(2**63), 2**63 - 1))
    if kind == DT_BOOL:
        return draw(st.booleans())
    if kind == DT_ENUM:
        return draw(st.sampled_from(dt[1]))
    if kind == DT_STR:
        return draw(_text)
    raw = draw(st.binary(max_size=12))
    return raw.hex().upper() if kind == DT_BIN_HEX else base64.b64encode(raw).decode()


def _element(draw, g: Grammar, state: int, shape: int, budget: list[int], depth: int,
             nil: bool = False):
    node: dict = {}
    value = None
    steps = 0
    if nil and state in g.empty and draw(st.integers(0, 7)) == 0:
        # xsi:nil="true": the element's attributes only (TypeEmpty grammar)
        node["xsi:nil"] = True
        state, shape = g.empty[state], COMPLEX
    while True:
        prods = g.states[state][1]
        usable = []
        for prod in prods:
            kind = prod[0]
            if kind == SE and (prod[4] or prod[1] not in node):
                usable.append(prod)
            elif kind == AT and prod[1] not in node and not (len(prod) > 5 and prod[5]):
                usable.append(prod)
            elif kind == CH and value is None:
                usable.append(prod)
            elif kind == EE:
                usable.append(prod)
        if depth >= 10 and any(p[0] != SE for p in usable):
            usable = [p for p in usable if p[0] != SE]
        if not usable:
            reject()  # the grammar needs a repeated key the JSON form cannot hold
        ends = [p for p in usable if p[0] == EE]
        steps += 1
        if ends and (budget[0] <= 0 or steps > 40):
            prod = ends[0]
        else:
            prod = draw(st.sampled_from(usable))
        kind = prod[0]
        if kind == EE:
            break
        budget[0] -= 1
        if kind == SE:
            child = _element(draw, g, prod[2], prod[3], budget, depth + 1, nil)
            if prod[4]:
                node.setdefault(prod[1], []).append(child)
            else:
                node[prod[1]] = child
            state = prod[5]
        elif kind == AT:
            node[prod[1]] = _value(draw, g.datatypes[prod[2]])
            state = prod[3]
        else:
            value = _value(draw, g.datatypes[prod[1]])
            if shape == COMPLEX and value == "":
                value = _NON_EMPTY.get(g.datatypes[prod[1]][0], "x")  # empty text in mixed content is no event at all: not a round trip
            if shape == COMPLEX:
                node["value"] = value
            state = prod[2]
    if shape == COMPLEX:
        return node
    return value


@st.composite
def trees(draw, schema: str, roots: tuple[str, ...] | None = None, nil: bool = False):
    """A tree in the decoded JSON form, valid for `schema`'s grammar (any of its roots);
    with nil=True some elements carry xsi:nil="true" (strict=false allows it anywhere)."""
    g = grammar(schema)
    names = roots or tuple(r[0] for r in g.document[1])
    name = draw(st.sampled_from(names))
    _, state, shape = g.document[1][g.roots[name]][:3]
    return {name: _element(draw, g, state, shape, [60], 0, nil)}


@st.composite
def fragment_trees(draw, schema: str, nil: bool = False):
    """(element name, content) for encode_fragment: any element of `schema`'s fragment
    grammar; with nil=True some elements carry xsi:nil="true"."""
    g = grammar(schema)
    local, state, shape, uri = draw(st.sampled_from(g.fragment[1]))
    name = local if g.fragment[1][g.fragment_index[local]][3] == uri else f"{{{uri}}}{local}"
    return name, _element(draw, g, state, shape, [40], 0, nil)
