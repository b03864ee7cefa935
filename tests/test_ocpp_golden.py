"""Golden: our schema verdicts agree with the `ocpp` package's own validator.

The reference is `ocpp.messages.validate_payload` (jsonschema over the same official
schema files). Inputs: every message of the recorded captures, and mutations of each
(a required property removed, an unknown property added, a string made too long or a
value given the wrong type), for 1.6, 2.0.1 and 2.1.
"""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path

import pytest

ocpp_messages = pytest.importorskip("ocpp.messages")

from chargescope.dissectors.ocpp.conversation import OcppDecoder  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "ocpp"


def reference_valid(version: str, mtype: int, uid: str, action: str, payload: dict) -> bool:
    if mtype == 2:
        msg = ocpp_messages.Call(unique_id=uid, action=action, payload=payload)
    else:
        msg = ocpp_messages.CallResult(unique_id=uid, payload=payload, action=action)
    try:
        asyncio.run(ocpp_messages.validate_payload(msg, version))
    except Exception as exc:  # the package raises its OCPPError subclasses
        if type(exc).__module__.startswith("ocpp"):
            return False
        raise
    return True


def mutations(payload: dict):
    yield payload
    for key in list(payload)[:3]:
        p = copy.deepcopy(payload)
        del p[key]
        yield p
    yield {**payload, "notInSchema": 1}
    for key, value in payload.items():
        if isinstance(value, str):
            yield {**payload, key: value * 200}
            yield {**payload, key: 12345}
            break
        if isinstance(value, int) and not isinstance(value, bool):
            yield {**payload, key: "12"}
            break


def cases():
    for name, version in (("ocpp16_basic", "1.6"), ("ocpp201_deflate", "2.0.1"), ("ocpp21_nocontext", "2.1")):
        truth = json.loads((DATA / f"{name}.truth.json").read_text())
        calls: dict[str, str] = {}
        for m in truth["messages"]:
            try:
                doc = json.loads(m["text"])
            except ValueError:
                continue
            if doc[0] == 2:
                calls[doc[1]] = doc[2]
                yield version, 2, doc[1], doc[2], doc[3]
            elif doc[0] == 3 and doc[1] in calls:
                yield version, 3, doc[1], calls[doc[1]], doc[2]


CASES = list(cases())


@pytest.mark.parametrize("version, mtype, uid, action, payload", CASES,
                         ids=[f"{c[0]}-{c[3]}-{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_verdicts_match_the_ocpp_package(version, mtype, uid, action, payload):
    checked = 0
    for variant in mutations(payload):
        dec = OcppDecoder(0, version=version, version_source="option")
        if mtype == 3:
            dec.decode(json.dumps([2, uid, action, {}]).encode(), direction=0, ts_ns=0, src="a", dst="b")
        msg = dec.decode(json.dumps([mtype, uid] + ([action] if mtype == 2 else []) + [variant]).encode(),
                         direction=0 if mtype == 2 else 1, ts_ns=0, src="a", dst="b")
        ours = msg.fields["schema"]
        assert ours in ("valid", "invalid")
        assert (ours == "valid") == reference_valid(version, mtype, uid, action, variant), variant
        checked += 1
    assert checked >= 2
