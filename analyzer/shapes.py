"""Shape-safe reads of wire JSON (OCPP payloads, OCPI objects) for the analyzers.

Schema-invalid messages are analysed too (a StartTransaction with a wrong field is still
a start), so a value may have any JSON shape: `true` where an object belongs, a number
where a string does. Readers take what has the expected shape and nothing else.
"""

from __future__ import annotations

from typing import Any

_EMPTY: dict = {}  # shared, never written


def obj(value: Any) -> dict:
    """A JSON object, else an empty one."""
    return value if isinstance(value, dict) else _EMPTY


def arr(value: Any) -> list:
    """A JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def text(value: Any) -> str | None:
    """A JSON string, else None."""
    return value if isinstance(value, str) else None


def ident(value: Any) -> int | None:
    """An id (connectorId, evseId): a JSON integer, else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
