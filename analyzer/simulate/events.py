"""What the link scripts produce: protocol units with a time, before they become bytes.

A script (linka/linkb/linkc) decides what is said and when, in the protocol's own
terms; a renderer turns these events into frames with the project's encoders. Times
are on the reference clock; the renderer applies the capture source's clock offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Mme:
    """One HomePlug management message: `name` and `variant` as in the MME registry."""

    ts_ns: int
    src_mac: str
    dst_mac: str
    name: str  # e.g. "CM_SLAC_PARM"
    variant: str  # "REQ", "CNF", "IND" or "RSP"
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Sdp:
    ts_ns: int
    request: bool


@dataclass(frozen=True, slots=True)
class TcpOpen:
    ts_ns: int


@dataclass(frozen=True, slots=True)
class TcpClose:
    ts_ns: int
    by_client: bool = True


@dataclass(frozen=True, slots=True)
class V2g:
    """One V2GTP unit carrying EXI: the tree in EXIficient JSON form and its schema."""

    ts_ns: int
    from_ev: bool
    schema: str  # "appHand", "din", "iso2", "iso20_CommonMessages", "iso20_DC", ...
    payload_type: int
    tree: dict[str, Any]


@dataclass(frozen=True, slots=True)
class WsOpen:
    """The WebSocket upgrade of the charger's OCPP connection."""

    ts_ns: int


@dataclass(frozen=True, slots=True)
class Ocpp:
    """One OCPP-J message: `[2, id, action, payload]`, `[3, id, payload]` or `[4, ...]`."""

    ts_ns: int
    from_cp: bool
    frame: list[Any]


@dataclass(frozen=True, slots=True)
class Http:
    """One OCPI request and its response on link C."""

    ts_ns: int
    from_cpo: bool  # the CPO's gateway is the client (else the eMSP is)
    method: str
    path: str
    body: Any  # JSON document or None
    response_ns: int
    status: int
    response: Any  # OCPI response envelope
