"""Schema registry: short names and namespace URIs -> generated grammar tables."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from types import ModuleType

from .errors import ExiError

# production kinds and datatype kinds, as written by tools/exigen
SE, AT, CH, EE, SEW, ATW = 0, 1, 2, 3, 4, 5
COMPLEX, SIMPLE = 0, 1
DT_BIN_HEX, DT_BIN_B64, DT_BOOL, DT_INT, DT_UINT, DT_NBIT, DT_STR, DT_ENUM = range(8)

# the second-level events the codec knows, in the order of Grammar.second's codes
SECOND_LEVEL = ("EE", "CH(untyped)", "AT(xsi:type)", "AT(xsi:nil)", "AT(*)", "SE(*)")
S2_WIDTH, S2_EE, S2_CH, S2_TYPE, S2_NIL, S2_AT, S2_SE = range(7)
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XS_NS = "http://www.w3.org/2001/XMLSchema"

# short name -> namespace of the message set's root schema
SCHEMAS: dict[str, str] = {
    "appHand": "urn:iso:15118:2:2010:AppProtocol",
    "din": "urn:din:70121:2012:MsgDef",
    "iso2": "urn:iso:15118:2:2013:MsgDef",
    "iso20_CommonMessages": "urn:iso:std:iso:15118:-20:CommonMessages",
    "iso20_AC": "urn:iso:std:iso:15118:-20:AC",
    "iso20_DC": "urn:iso:std:iso:15118:-20:DC",
    "iso20_WPT": "urn:iso:std:iso:15118:-20:WPT",
    "iso20_ACDP": "urn:iso:std:iso:15118:-20:ACDP",
}
# schema sets used only for fragments (not candidates for whole V2G messages)
FRAGMENT_SCHEMAS: dict[str, str] = {"xmldsig": "http://www.w3.org/2000/09/xmldsig#"}
_ALL = {**SCHEMAS, **FRAGMENT_SCHEMAS}
_BY_NAMESPACE = {ns: name for name, ns in _ALL.items()}


@dataclass(frozen=True, slots=True)
class Grammar:
    """One schema set's tables, as the codec backends consume them."""

    name: str
    namespace: str
    datatypes: tuple
    states: tuple
    document: tuple  # (width, ((root name, state, shape), ...))
    roots: dict  # root name -> index in document roots (for the encoder)
    # per state: (second-level width, codes of EE, untyped CH, xsi:type, xsi:nil, AT(*),
    # SE(*)), -1 where the state has no such event
    second: tuple
    fragment: tuple  # (width, ((element name, state, shape, uri), ...)), EXI 1.0 §8.5.2
    fragment_index: dict  # element name and "{uri}name" -> index in fragment elements
    empty: dict  # start state -> TypeEmpty state (xsi:nil="true")
    urtype: tuple  # (state 0, state 1) of xsd:anyType (undeclared elements, EXI profile)
    strings: tuple  # initial string table: ((uri, (local names...)), ...)
    globals: dict  # (uri, local) of a global element -> (state, shape), for SE(*)
    types: dict  # (uri, local) of a named type -> (start state, shape), for xsi:type


def schema_name(schema: str) -> str:
    """The short name for a short name or a namespace URI; ExiError(exi.schema) otherwise."""
    if schema in _ALL:
        return schema
    if schema in _BY_NAMESPACE:
        return _BY_NAMESPACE[schema]
    raise ExiError("exi.schema", f"unknown EXI schema {schema!r}; known: {', '.join(_ALL)}")


@cache
def grammar(schema: str) -> Grammar:
    name = schema_name(schema)
    module: ModuleType = importlib.import_module(f"{__package__}.generated.{name}")
    roots = {root[0]: i for i, root in enumerate(module.DOCUMENT[1])}
    second = tuple(((len(s[2]) - 1).bit_length(),
                    *(s[2].index(e) if e in s[2] else -1 for e in SECOND_LEVEL))
                   for s in module.STATES)
    fragment_index: dict[str, int] = {}
    for i, (local, _state, _shape, uri) in enumerate(module.FRAGMENT[1]):
        fragment_index[f"{{{uri}}}{local}"] = i
        # a bare local name is taken when one namespace declares it (else the first, and
        # the Clark form picks another)
        fragment_index.setdefault(local, i)
    return Grammar(name, module.NAMESPACE, module.DATATYPES, module.STATES, module.DOCUMENT,
                   roots, second, module.FRAGMENT, fragment_index, module.EMPTY,
                   module.URTYPE, module.STRINGS,
                   {(r[3], r[0]): (r[1], r[2]) for r in module.DOCUMENT[1]}, module.TYPES)


def describe(prod: tuple) -> str:
    """A production as an event name, for error messages (e.g. 'SE(Header)')."""
    kind = prod[0]
    if kind == SE:
        return f"SE({prod[1]})"
    if kind == AT:
        return f"AT({prod[1]})"
    if kind == CH:
        return "CH"
    if kind == EE:
        return "EE"
    if kind == ATW:
        return "AT(*)"
    return f"SE({prod[1] or ''}*)"


def expected_events(states: tuple, state: int) -> tuple[str, ...]:
    return tuple(describe(p) for p in states[state][1])
