"""HTTP Messages -> OCPI Messages: route, envelope, object validation, masked secrets.

Sans-I/O: `OcpiDecoder.decode(http_message)` returns the OCPI Message (protocol
"ocpi") for an OCPI request or response, or the HTTP Message itself (masked) when
the URL is not OCPI. The decoder keeps what earlier messages taught it — endpoint
URLs from versions/details responses, `response_url`s from commands, the version
each server speaks — in an `OcpiContext` that may be shared by every connection of
one capture (Wireshark's conversation table, not a global).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl

from chargescope.analyzer.records import Message, Problem
from chargescope.dissectors.http.secrets import fingerprint, mask, mask_header
from chargescope.dissectors.http.stream import split_url
from chargescope.dissectors.ocpi.model import DATETIME, validate, version_line
from chargescope.dissectors.ocpi.paths import OcpiRoute, parse_path

COMMAND_OBJECTS = {"START_SESSION": "StartSession", "STOP_SESSION": "StopSession",
                   "RESERVE_NOW": "ReserveNow", "CANCEL_RESERVATION": "CancelReservation",
                   "UNLOCK_CONNECTOR": "UnlockConnector"}
MODULE_OBJECTS = {"locations": "Location", "sessions": "Session", "cdrs": "CDR",
                  "tariffs": "Tariff", "tokens": "Token", "hubclientinfo": "ClientInfo"}
OCPI_HEADERS = ("x-request-id", "x-correlation-id", "ocpi-from-country-code",
                "ocpi-from-party-id", "ocpi-to-country-code", "ocpi-to-party-id",
                "x-total-count", "x-limit", "link", "location", "content-type", "host")


@dataclass(slots=True)
class OcpiContext:
    """What the capture has taught so far, shared by the connections of one analysis."""

    endpoints: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    # ^ URL path prefix -> (version, module, interface) from versions/details responses
    response_urls: dict[str, str] = field(default_factory=dict)  # path -> command type
    host_versions: dict[str, str] = field(default_factory=dict)  # Host header -> version

    def route(self, method: str, path: str, body: Any) -> OcpiRoute:
        has_response_url = isinstance(body, dict) and "response_url" in body
        route = parse_path(method, path, has_response_url=has_response_url)
        command = self.response_urls.get(path.rstrip("/"))
        if command and not has_response_url:
            return replace(route, module="commands", interface="SENDER", server_role="EMSP",
                           action="result", ids={**route.ids, "command": command})
        best = ""
        for prefix in self.endpoints:
            if (path == prefix or path.startswith(prefix.rstrip("/") + "/")) and len(prefix) > len(best):
                best = prefix
        if best:
            version, module, interface = self.endpoints[best]
            if route.module in ("", module):
                sub = module + path[len(best.rstrip("/")):]
                learned = parse_path(method, "/" + sub, has_response_url=has_response_url)
                return replace(learned, version=version or route.version,
                               interface=interface or learned.interface,
                               base=best)
        return route

    def learn_details(self, data: Any, version: str) -> None:
        if not isinstance(data, dict):
            return
        for endpoint in data.get("endpoints") or ():
            if isinstance(endpoint, dict) and isinstance(endpoint.get("url"), str):
                path = split_url(endpoint["url"]).path.rstrip("/")
                self.endpoints[path] = (str(data.get("version", version)),
                                        str(endpoint.get("identifier", "")),
                                        str(endpoint.get("role", "")))

    def learn_response_url(self, url: Any, command: str) -> None:
        if isinstance(url, str):
            self.response_urls[split_url(url).path.rstrip("/")] = command


@dataclass(frozen=True, slots=True)
class Expected:
    """The object a body should hold."""

    name: str
    many: bool = False
    partial: bool = False


def expected_request_object(route: OcpiRoute, method: str) -> Expected | None:
    module, ids = route.module, route.ids
    if module == "credentials" and method in ("POST", "PUT"):
        return Expected("Credentials")
    if module == "commands":
        if route.interface == "RECEIVER" and method == "POST":
            name = COMMAND_OBJECTS.get(ids.get("command", ""))
            return Expected(name) if name else None
        if route.action == "result":
            return Expected("CommandResult" if version_line(route.version) != "2.1.1"
                            else "CommandResponse")
        return None
    if module == "tokens" and route.action == "authorize":
        return None  # optional LocationReferences, checked when present
    if module == "cdrs" and method == "POST":
        return Expected("CDR")
    if route.interface == "RECEIVER" and method in ("PUT", "PATCH") and module in MODULE_OBJECTS:
        name = MODULE_OBJECTS[module]
        if module == "locations":
            name = "Connector" if "connector_id" in ids else "EVSE" if "evse_uid" in ids else name
        return Expected(name, partial=method == "PATCH")
    return None


def expected_response_object(route: OcpiRoute, method: str) -> Expected | None:
    module, ids = route.module, route.ids
    if module == "versions":
        return Expected("VersionDetails") if route.action == "details" else Expected(
            "Version", many=True)
    if module == "credentials" and method in ("GET", "POST", "PUT"):
        return Expected("Credentials")
    if module == "tokens" and route.action == "authorize":
        return Expected("AuthorizationInfo")
    if module == "commands" and route.interface == "RECEIVER" and method == "POST":
        return Expected("CommandResponse")
    if method != "GET" or module not in MODULE_OBJECTS or route.action:
        return None
    name = MODULE_OBJECTS[module]
    if module == "locations":
        name = "Connector" if "connector_id" in ids else "EVSE" if "evse_uid" in ids else name
    if not ids and not route.country_code:
        return Expected(name, many=True)
    return Expected(name)


def _json_body(fields: dict) -> tuple[Any, str]:
    """(parsed body or None, error text or "")."""
    text = fields.get("body")
    if fields.get("incomplete"):
        return None, ""  # cut short: the HTTP problem already says so
    if text is None:
        return None, "" if "body_base64" not in fields else "body is not UTF-8 text"
    if not text.strip():
        return None, ""
    try:
        return json.loads(text), ""
    except (ValueError, RecursionError) as exc:
        return None, f"expected a JSON body: {exc}"


def token_of(authorization: str) -> tuple[str, bool]:
    """(the credential token, whether it was sent Base64-encoded) from an Authorization value."""
    scheme, _, credential = authorization.partition(" ")
    credential = credential.strip()
    if scheme.lower() != "token" or not credential:
        return credential or authorization, False
    if len(credential) % 4 == 0:
        try:
            decoded = base64.b64decode(credential, validate=True).decode("ascii")
        except (ValueError, UnicodeDecodeError):  # binascii.Error, non-ASCII header text
            return credential, False
        if decoded and decoded.isprintable():
            return decoded, True
    return credential, False


class OcpiDecoder:
    """Turns `http` Messages into `ocpi` Messages, learning as it goes."""

    def __init__(self, context: OcpiContext | None = None, *, show_secrets: bool = False) -> None:
        self.context = context if context is not None else OcpiContext()
        self.show_secrets = show_secrets
        # (client, server, exchange) -> the request's route and version, until answered
        self._routes: dict[tuple[str, str, Any], tuple[OcpiRoute, str]] = {}

    def decode(self, message: Message) -> Message:
        fields = message.fields
        kind = fields.get("kind")
        if kind == "request":
            return self._request(message)
        if kind == "response":
            return self._response(message)
        return message

    # -- requests ------------------------------------------------------------------------

    def _request(self, message: Message) -> Message:
        fields = message.fields
        if fields["method"] == "CONNECT":  # a tunnel to `host:port`, never an OCPI module
            return self._masked_http(message)
        body, error = _json_body(fields)
        route = self.context.route(fields["method"], fields["path"], body)
        headers = _header_map(fields.get("headers", ()))
        if not route.is_ocpi:
            return self._masked_http(message)
        version = route.version or self.context.host_versions.get(headers.get("host", ""), "")
        if route.version:
            self.context.host_versions.setdefault(headers.get("host", ""), route.version)
        self._routes[(message.src, message.dst, fields.get("exchange"))] = (route, version)
        out = self._common(message, route, version, headers)
        out.update(kind="request", method=fields["method"], path=fields["path"],
                   query=fields.get("query", {}))
        auth = headers.get("authorization")
        if auth is not None:
            token, encoded = token_of(auth)
            out["authorization"] = auth if self.show_secrets else mask_header(
                "authorization", auth, False)
            out["token_fingerprint"] = fingerprint(token)
            out["token_base64"] = encoded
        violations = []
        if version_line(version) != "2.1.1" and version:
            for name in ("x-request-id", "x-correlation-id"):
                if name not in headers:
                    violations.append({"path": f"headers.{name}", "rule": "required",
                                       "detail": f"{name} is required on every {version} request"})
        problems = list(message.problems)
        if error:
            problems.append(_problem(message, "ocpi.body.invalid-json", error))
        if body is not None:
            if route.module == "commands" and route.interface == "RECEIVER" and isinstance(body, dict):
                self.context.learn_response_url(body.get("response_url"),
                                                route.ids.get("command", ""))
            expected = expected_request_object(route, fields["method"])
            if expected is not None:
                violations += _validate(body, expected, version, "body")
            out["body"] = self._mask_body(route, body)
        elif fields.get("body"):
            out["body_text"] = fields["body"][:2048]
        out["violations"] = violations
        name = f"{fields['method']} {route.module}"
        if route.action and route.action not in ("details",):
            name += f" {route.action}"
        elif route.action == "details":
            name += " details"
        return replace(message, protocol="ocpi", name=name, fields=out, problems=tuple(problems))

    # -- responses -----------------------------------------------------------------------

    def _response(self, message: Message) -> Message:
        fields = message.fields
        request = fields.get("request") or {}
        if not request or request.get("method") == "CONNECT":
            return self._masked_http(message)
        target = request.get("target", "")
        split = split_url(target)
        body, error = _json_body(fields)
        known = self._routes.pop((message.dst, message.src, fields.get("exchange")), None)
        if known is None:
            route = self.context.route(request.get("method", "GET"), split.path, None)
            version = route.version
        else:
            route, version = known
        if not route.is_ocpi:
            return self._masked_http(message)
        headers = _header_map(fields.get("headers", ()))
        out = self._common(message, route, version, headers)
        method = request.get("method", "GET")
        out.update(kind="response", method=method, path=split.path,
                   query=dict(parse_qsl(split.query)), status=fields["status"],
                   request_ts_ns=request.get("ts_ns", 0))
        problems = list(message.problems)
        violations: list[dict] = []
        if error:
            problems.append(_problem(message, "ocpi.body.invalid-json", error))
        if body is not None:
            envelope, env_violations = _envelope(body)
            violations += env_violations
            out.update(envelope)
            data = body.get("data") if isinstance(body, dict) else None
            expected = expected_response_object(route, method)
            status_code = envelope.get("status_code")
            if data is not None and expected is not None and status_code in (1000, None):
                violations += _validate(data, expected, version, "data")
            if data is not None:
                out["data"] = self._mask_body(route, data)
                if isinstance(data, list):
                    out["data_count"] = len(data)
            self._learn(route, data, version)
        elif fields.get("body"):
            out["body_text"] = fields["body"][:2048]
        out["violations"] = violations
        name = f"{method} {route.module}"
        if route.action:
            name += f" {route.action}"
        return replace(message, protocol="ocpi", name=f"{name} response", fields=out,
                       problems=tuple(problems))

    def _learn(self, route: OcpiRoute, data: Any, version: str) -> None:
        if route.module == "versions" and route.action == "details":
            self.context.learn_details(data, version)

    # -- shared --------------------------------------------------------------------------

    def _common(self, message: Message, route: OcpiRoute, version: str,
                headers: dict[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "module": route.module, "version": version, "interface": route.interface,
            "server_role": route.server_role, "action": route.action,
            "exchange": message.fields.get("exchange"),
        }
        if route.country_code:
            out["country_code"] = route.country_code
            out["party_id"] = route.party_id
        out.update(route.ids)
        out["headers"] = {name: headers[name] for name in OCPI_HEADERS if name in headers}
        for key in ("content_encoding", "chunked", "body_length", "incomplete"):
            if key in message.fields:
                out[key] = message.fields[key]
        return out

    def _masked_http(self, message: Message) -> Message:
        if self.show_secrets or "headers" not in message.fields:
            return message
        headers = [[k, mask_header(k, v, False)] for k, v in message.fields["headers"]]
        return replace(message, fields={**message.fields, "headers": headers})

    def _mask_body(self, route: OcpiRoute, body: Any) -> Any:
        """Credentials objects carry a token: shown as a fingerprint unless asked."""
        if self.show_secrets or route.module != "credentials" or not isinstance(body, dict):
            return body
        if isinstance(body.get("token"), str):
            token = body["token"]
            return {**body, "token": mask(token), "token_fingerprint": fingerprint(token)}
        return body


def _header_map(headers: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers or ():
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def _validate(body: Any, expected: Expected, version: str, path: str) -> list[dict]:
    if expected.many:
        if not isinstance(body, list):
            return [{"path": path, "rule": "type",
                     "detail": f"expected a list of {expected.name} objects"}]
        found = []
        for i, item in enumerate(body):
            found += validate(item, expected.name, version or "2.2.1", path=f"{path}[{i}]")
    else:
        found = validate(body, expected.name, version or "2.2.1", path=path,
                         partial=expected.partial)
    return [{"path": v.path, "rule": v.rule, "detail": v.detail, "object": expected.name}
            for v in found]


def _envelope(body: Any) -> tuple[dict[str, Any], list[dict]]:
    """The response envelope's fields and its violations."""
    if not isinstance(body, dict):
        return {}, [{"path": "body", "rule": "envelope",
                     "detail": "expected the OCPI response object {data, status_code, "
                               "status_message, timestamp}"}]
    out: dict[str, Any] = {}
    violations: list[dict] = []
    code = body.get("status_code")
    if "status_code" not in body:
        violations.append({"path": "status_code", "rule": "envelope",
                           "detail": "status_code is required in every OCPI response "
                                     f"(keys found: {', '.join(sorted(body)[:6])})"})
    elif not isinstance(code, int) or isinstance(code, bool):
        violations.append({"path": "status_code", "rule": "type",
                           "detail": f"expected an integer status_code, found {code!r}"})
    else:
        out["status_code"] = code
        out["status_class"] = code // 1000 * 1000
    if isinstance(body.get("status_message"), str):
        out["status_message"] = body["status_message"]
    stamp = body.get("timestamp")
    if stamp is None:
        if "status_code" in body:
            violations.append({"path": "timestamp", "rule": "required",
                               "detail": "timestamp is required in every OCPI response"})
    elif not isinstance(stamp, str) or not DATETIME.match(stamp):
        violations.append({"path": "timestamp", "rule": "format",
                           "detail": f"{stamp!r} is not an RFC 3339 date-time"})
    else:
        out["timestamp"] = stamp
    return out, violations


def _problem(message: Message, kind: str, detail: str) -> Problem:
    ref = message.refs[0] if message.refs else None
    return Problem(kind, detail, source=ref.source if ref else "", frame=ref.frame if ref else 0,
                   offset=0, where="unit")
