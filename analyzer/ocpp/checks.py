"""Checks on single link-B Messages: decode problems, schema, errors, auth, time, security.

Each check is a small function `(msg) -> list[(code, text)]`; `CHECKS` is the table
the analyzer runs over every Message of its protocol.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from chargescope.analyzer.records import Message
from chargescope.analyzer.shapes import obj, text
from chargescope.dissectors.ocpp.schemas import default_store
from chargescope.dissectors.ocpp.versions import BY_NAME, ERROR_CODES, VERSIONS

CheckResult = list[tuple[str, str]]
NORMAL_CLOSE_CODES = frozenset({1000, 1001, 1005})
_TIME_KEYS = frozenset({"timestamp", "currentTime", "expiryDate", "validFrom", "validTo",
                        "startSchedule", "scheduleStart", "retrieveDate", "installDate"})
_ISO = re.compile(r"^(\d{4})-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?$")


def _problems(msg: Message) -> CheckResult:
    out: CheckResult = []
    for p in msg.problems:
        if p.kind.startswith("ocpp."):
            out.append(("ocpp.rpc.malformed", f"{p.kind}: {p.detail}"))
        elif p.kind in ("websocket.message.too_large", "websocket.deflate.too_large",
                        "websocket.frame.too_large"):
            out.append(("websocket.message.too_large", p.detail))
        elif p.kind == "websocket.stream.gap":
            out.append(("websocket.stream.gap", p.detail))
        else:
            out.append(("websocket.malformed", f"{p.kind}: {p.detail}"))
    return out


def _schema(msg: Message) -> CheckResult:
    f = msg.fields
    state = f.get("schema")
    if state == "invalid":
        errs = f.get("schema_errors") or []
        where = "; ".join(f"{e['pointer'] or '/'} {e['rule']}: {e['detail']}" for e in errs[:3])
        more = f" (+{len(errs) - 3} more)" if len(errs) > 3 else ""
        out = [("ocpp.schema.violation", f"{f.get('action')} {f.get('message_type')} "
                f"(OCPP {f.get('ocpp_version')}): {where}{more}")]
        other = _other_version(f)
        if other:
            out.append(("ocpp.version.mismatch", f"{f.get('action')} fits OCPP {other}, not the "
                        f"negotiated {f.get('ocpp_version')}"))
        return out
    if state == "unknown-action":
        return [("ocpp.action.unknown", f"action {f.get('action')!r} is not defined in OCPP "
                 f"{f.get('ocpp_version')}")]
    return []


def _other_version(f: dict[str, Any]) -> str | None:
    store = default_store()
    action = f.get("action")
    response = f.get("message_type") == "CALLRESULT"
    for v in VERSIONS:
        if v.name == f.get("ocpp_version"):
            continue
        if store.validate(v.name, action, response, f.get("payload")) == []:
            return v.name
    return None


def _callerror(msg: Message) -> CheckResult:
    f = msg.fields
    if f.get("message_type") not in ("CALLERROR", "CALLRESULTERROR"):
        return []
    code = f.get("error_code")
    out = [("ocpp.callerror", f"{f.get('action') or '?'} answered {code}: "
            f"{f.get('error_description') or ''}".rstrip(": "))]
    version = f.get("ocpp_version")
    if version in ERROR_CODES and code is not None and code not in ERROR_CODES[version]:
        hint = ""
        for other, codes in ERROR_CODES.items():
            if other != version and code in codes:
                v = BY_NAME[version]
                expected = v.format_violation if "orma" in code else v.occurrence_violation
                hint = f"; that is the OCPP {other} spelling, {version} uses {expected}"
                break
        out.append(("ocpp.callerror.code_unknown",
                    f"errorCode {code!r} is not an OCPP {version} error code{hint}"))
    return out


def _auth(msg: Message) -> CheckResult:
    f = msg.fields
    if f.get("message_type") != "CALLRESULT" or f.get("action") != "Authorize":
        return []
    p = obj(f.get("payload"))
    status = text(obj(p.get("idTagInfo") or p.get("idTokenInfo")).get("status"))
    if status is not None and status != "Accepted":
        return [("ocpp.auth.rejected", f"Authorize answered {status}")]
    return []


def _times(msg: Message) -> CheckResult:
    payload = msg.fields.get("payload")
    if not isinstance(payload, dict):
        return []
    out: CheckResult = []
    for key, value in _walk_times(payload, 0):
        m = _ISO.match(value)
        if m is None:
            out.append(("ocpp.time.malformed", f"{key} {value[:40]!r} is not an RFC 3339 date-time"))
            continue
        if m.group(4) is None:
            out.append(("ocpp.time.no_timezone", f"{key} {value!r} has no 'Z' or UTC offset"))
        if int(m.group(1)) < 2010:
            out.append(("ocpp.time.implausible", f"{key} {value!r} is before 2010"))
    return out


# Subtrees that never hold date-times but make up most of a payload's bulk.
_NO_TIMES = frozenset({"sampledValue", "chargingSchedulePeriod", "salesTariffEntry",
                       "additionalInfo", "customData", "data"})


def _walk_times(node: Any, depth: int):
    if depth > 6:
        return
    if isinstance(node, dict):
        for k, v in node.items():
            if k in _TIME_KEYS:
                if isinstance(v, str):
                    yield k, v
            elif k not in _NO_TIMES and isinstance(v, dict | list):
                yield from _walk_times(v, depth + 1)
    elif isinstance(node, list):
        for item in node[:64]:
            if isinstance(item, dict | list):
                yield from _walk_times(item, depth + 1)


def _handshake(msg: Message) -> CheckResult:
    f = msg.fields
    out: CheckResult = []
    if msg.name == "Handshake Request":
        auth = f.get("authorization")
        if isinstance(auth, dict) and auth.get("scheme", "").lower() == "basic":
            out.append(("ocpp.security.basic_auth_cleartext",
                        f"Basic credentials of user {auth.get('user')!r} sent without TLS"))
    elif msg.name == "Handshake Response":
        status = f.get("status")
        if status != 101:
            out.append(("websocket.handshake.rejected", f"HTTP {status} {f.get('reason', '')}".strip()))
    return out


def close_check(msg: Message) -> CheckResult:
    """The first Close of a connection (the echo repeats the code): was it a normal one?"""
    code = msg.fields.get("code")
    if code is not None and code not in NORMAL_CLOSE_CODES:
        return [("websocket.close.abnormal", f"close code {code} {msg.fields.get('reason', '')}".strip())]
    return []


CHECKS: dict[str, tuple[Callable[[Message], CheckResult], ...]] = {
    "ocpp": (_problems, _schema, _callerror, _auth, _times),
    "websocket": (_problems, _handshake),
}


def subprotocol_check(request: Message | None, response: Message) -> CheckResult:
    """The handshake pair: was an OCPP subprotocol offered and selected consistently?"""
    selected = response.fields.get("subprotocol", "")
    if response.fields.get("status") != 101:
        return []
    offered = request.fields.get("subprotocols_offered", []) if request is not None else []
    if not selected:
        return [("ocpp.subprotocol.missing",
                 f"server selected no subprotocol (client offered {', '.join(offered) or 'none'})")]
    if request is not None and selected not in offered:
        return [("ocpp.subprotocol.mismatch", f"server selected {selected!r}, client offered "
                 f"{', '.join(offered) or 'none'}")]
    return []
