"""Test helper: OCPP Messages from OCPP-J texts, as the dissector would make them."""

from __future__ import annotations

import json
from typing import Any

from chargescope.analyzer.records import Link, Message
from chargescope.dissectors.ocpp.conversation import OcppDecoder

S = 10**9
BASE = 1_704_067_200  # 2024-01-01T00:00:00Z: test times are seconds after it


class Ocpp:
    def __init__(self, version: str = "1.6", cp: str = "CP1", conn: Any = 0) -> None:
        self.cp = cp
        self.conn = conn
        self.dec = OcppDecoder(conn, version=version, version_source="option", charge_point_id=cp)
        self.n = 0

    def _msg(self, doc: list, direction: int, t: float) -> Message:
        src, dst = (self.cp, "CSMS") if direction == 0 else ("CSMS", self.cp)
        return self.dec.decode(json.dumps(doc).encode(), direction=direction, ts_ns=int((BASE + t) * S),
                               src=src, dst=dst)

    def call(self, action: str, payload: dict, t: float, direction: int = 0,
             uid: str | None = None) -> Message:
        self.n += 1
        return self._msg([2, uid or f"u{self.n}", action, payload], direction, t)

    def result(self, uid: str, payload: dict, t: float, direction: int = 1) -> Message:
        return self._msg([3, uid, payload], direction, t)

    def error(self, uid: str, code: str, t: float, direction: int = 1) -> Message:
        return self._msg([4, uid, code, "", {}], direction, t)

    def ws(self, name: str, t: float, **fields: Any) -> Message:
        return Message(Link.B, "websocket", name, int((BASE + t) * S), self.cp, "CSMS",
                       {"connection": self.conn, "charge_point_id": self.cp, "direction": 0, **fields})


def exchange(o: Ocpp, action: str, payload: dict, answer: dict, t: float,
             direction: int = 0) -> list[Message]:
    call = o.call(action, payload, t, direction)
    return [call, o.result(call.fields["unique_id"], answer, t + 0.01, 1 - direction)]
