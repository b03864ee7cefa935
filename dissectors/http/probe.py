"""Heuristic: do the first bytes of a TCP direction look like HTTP/1.x we should claim?

WebSocket upgrade requests are HTTP too, but the connection belongs to the
WebSocket/OCPP dissector: the probe declines them so that one can claim it.
"""

from __future__ import annotations

import re

from chargescope.dissectors.http.stream import REQUEST_START, RESPONSE_START

_UPGRADE_WEBSOCKET = re.compile(rb"\r\nupgrade:[ \t]*websocket", re.IGNORECASE)
_SWITCHING = re.compile(rb"HTTP/1\.[01] 101 ")


def probe(first_bytes: bytes, direction: int) -> bool:
    if direction == 0:
        match = REQUEST_START.match(first_bytes)
        return bool(match) and not _UPGRADE_WEBSOCKET.search(first_bytes)
    return bool(RESPONSE_START.match(first_bytes)) and not _SWITCHING.match(first_bytes)
