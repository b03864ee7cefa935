"""Reading decoded V2G trees (EXIficient JSON form) without caring which protocol made them."""

from __future__ import annotations

from typing import Any

from chargescope import backends
from chargescope.analyzer.records import Message

# find(node, key): the first value under `key` anywhere in `node` (depth first), or None;
# run on every message, so it is the "treewalk" hot path (`chargescope.analyzer.treewalk`)
find = backends.load("treewalk").find


def sub(node: Any, key: str) -> dict[str, Any]:
    """`node[key]` when both are dicts, else {}: decoded trees are read defensively, since a
    malformed or hand-made tree must never crash the analyser."""
    if isinstance(node, dict):
        value = node.get(key)
        if isinstance(value, dict):
            return value
    return {}


def text(node: Any, key: str) -> str:
    """`node[key]` when it is a string (enumerations, ids), else ''."""
    value = node.get(key) if isinstance(node, dict) else None
    return value if isinstance(value, str) else ""


def items(node: Any, key: str) -> list[dict[str, Any]]:
    """The dict items of a repeatable element (a list, or one dict), else []."""
    value = node.get(key) if isinstance(node, dict) else None
    if isinstance(value, dict):
        value = [value]
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def body(msg: Message) -> dict[str, Any]:
    """The message element's content: Body/<Name> for DIN and ISO-2, <Name> for -20 / SAP."""
    # `sub` spelled out: read several times for every V2G message
    fields = msg.fields
    if not isinstance(fields, dict):
        return {}
    v2g = fields.get("V2G_Message")
    if isinstance(v2g, dict) and v2g:
        node = v2g.get("Body")
        if not isinstance(node, dict):
            return {}
    else:
        node = fields
    value = node.get(msg.name)
    return value if isinstance(value, dict) else {}


def session_id(msg: Message) -> str | None:
    v2g = sub(msg.fields, "V2G_Message")
    sid = sub(v2g if v2g else body(msg), "Header").get("SessionID")
    return sid if isinstance(sid, str) else None


def physical(value: Any) -> float | None:
    """A DIN/ISO-2 PhysicalValue {Multiplier, Value} or -20 RationalNumber {Exponent, Value}."""
    if not isinstance(value, dict) or "Value" not in value:
        return None
    try:
        exp = value.get("Multiplier", value.get("Exponent", 0))
        return float(value["Value"]) * (10.0 ** int(exp))
    except (TypeError, ValueError, OverflowError):
        return None


