"""Reading decoded V2G trees (EXIficient JSON form) without caring which protocol made them."""

from __future__ import annotations

from typing import Any

from chargescope.analyzer.records import Message


def body(msg: Message) -> dict[str, Any]:
    """The message element's content: Body/<Name> for DIN and ISO-2, <Name> for -20 / SAP."""
    fields = msg.fields
    v2g = fields.get("V2G_Message")
    if isinstance(v2g, dict):
        node = (v2g.get("Body") or {}).get(msg.name)
        return node if isinstance(node, dict) else {}
    node = fields.get(msg.name)
    return node if isinstance(node, dict) else {}


def session_id(msg: Message) -> str | None:
    v2g = msg.fields.get("V2G_Message")
    if isinstance(v2g, dict):
        sid = (v2g.get("Header") or {}).get("SessionID")
    else:
        sid = (body(msg).get("Header") or {}).get("SessionID")
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


def find(node: Any, key: str) -> Any:
    """First value under `key` anywhere in `node` (depth first), or None."""
    if isinstance(node, dict):
        if key in node:
            return node[key]
        for value in node.values():
            found = find(value, key)
            if found is not None:
                return found
    elif isinstance(node, list):
        for value in node:
            found = find(value, key)
            if found is not None:
                return found
    return None
