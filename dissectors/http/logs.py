"""HTTP exchanges from files that are not captures: HAR and a JSON-lines log.

Both produce the same `http` Messages the stream dissector yields (fields `kind`,
`method`, `target`, `path`, `query`, `headers`, `body`, `exchange`, and for
responses `status`, `reason`, `request`), so the OCPI decoder and analysis cannot
tell where a message came from. A broken entry or line becomes a Message with a
Problem; reading goes on.

JSON-lines log format (one HTTP message per line, UTF-8; API gateways and proxies
can be configured to write it)::

    {"ts": "2026-11-25T10:00:00.120Z",   # RFC 3339, or epoch seconds as a number
     "type": "request",                  # or "response"
     "id": "42",                         # pairs a response with its request
     "src": "10.0.0.5:51234",            # optional: sender address
     "dst": "10.0.0.9:443",              # optional: receiver address
     "method": "PUT",                    # requests
     "url": "https://cpo.example/ocpi/emsp/2.2.1/sessions/NL/CPO/S1",  # or a path
     "status": 200, "reason": "OK",      # responses
     "headers": {"Authorization": "Token ..."},  # or [[name, value], ...]
     "body": {"status_code": 1000}}      # JSON value, or the raw body as a string

Blank lines and lines starting with `#` are skipped.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from chargescope.analyzer.records import Link, Message, Problem
from chargescope.dissectors.http.body import MAX_BODY_BYTES, body_fields
from chargescope.dissectors.http.stream import request_name, split_authority, split_url


def _ts_ns(value: Any) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value * 1e9)
    if isinstance(value, str):
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1e9)
        except ValueError:
            return 0
    return 0


def _headers(value: Any) -> list[list[str]]:
    if isinstance(value, dict):
        return [[str(k), str(v)] for k, v in value.items()]
    if not isinstance(value, list | tuple):
        return []
    out = []
    for item in value:
        if isinstance(item, dict) and "name" in item:
            out.append([str(item["name"]), str(item.get("value", ""))])
        elif isinstance(item, list | tuple) and len(item) == 2:
            out.append([str(item[0]), str(item[1])])
    return out


def _request_fields(method: str, url: str, headers: list[list[str]], exchange: Any) -> dict:
    if method.upper() == "CONNECT":  # a tunnel to `host:port` (a proxy may log it as a URL)
        authority = split_url(url).netloc if "://" in url else url
        host, port = split_authority(authority)
        return {"kind": "request", "method": "CONNECT", "target": authority, "path": "",
                "query": {}, "authority": authority, "host": host, "port": port,
                "version": "1.1", "headers": headers, "exchange": exchange, "chunked": False}
    split = urlsplit(url)
    target = split.path or "/"
    if split.query:
        target += "?" + split.query
    if split.netloc and not any(k.lower() == "host" for k, _ in headers):
        headers = [*headers, ["Host", split.netloc]]
    return {"kind": "request", "method": method.upper(), "target": target,
            "path": split.path or "/", "query": dict(parse_qsl(split.query)),
            "version": "1.1", "headers": headers, "exchange": exchange, "chunked": False}


def _text_body(body: Any) -> dict:
    if body is None:
        return {"body_length": 0}
    if isinstance(body, str):
        data = body.encode("utf-8", "surrogateescape")
    else:
        data = json.dumps(body).encode()
    return {"body_length": len(data), **body_fields(data[:MAX_BODY_BYTES])}


def _problem_message(source: str, kind: str, detail: str, line: int, ts_ns: int = 0) -> Message:
    return Message(link=Link.C, protocol="http", name="HTTP log entry malformed", ts_ns=ts_ns,
                   src="", dst="", fields={"kind": "malformed", "line": line},
                   problems=(Problem(kind, detail, source=source, frame=line, offset=0,
                                     where="unit"),))


def jsonl_messages(path: Path) -> Iterator[Message]:
    """HTTP Messages from a JSON-lines log (format above); `frame` = line number."""
    requests: dict[str, dict] = {}
    source = path.name
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                entry = json.loads(line)
            except ValueError as exc:
                yield _problem_message(source, "log.line.invalid-json",
                                       f"expected one JSON object per line: {exc}", number)
                continue
            if not isinstance(entry, dict) or entry.get("type") not in ("request", "response"):
                yield _problem_message(source, "log.line.invalid",
                                       "expected an object with type request or response", number)
                continue
            yield _log_entry(entry, number, source, requests)


def _log_entry(entry: dict, number: int, source: str, requests: dict[str, dict]) -> Message:
    ts = _ts_ns(entry.get("ts"))
    exchange = str(entry.get("id", number))
    headers = _headers(entry.get("headers"))
    src, dst = str(entry.get("src", "")), str(entry.get("dst", ""))
    if entry["type"] == "request":
        method, url = entry.get("method"), entry.get("url")
        if not isinstance(method, str) or not isinstance(url, str):
            return _problem_message(source, "log.line.invalid",
                                    "a request needs method and url", number, ts)
        fields = _request_fields(method, url, headers, exchange)
        if not dst:
            dst = urlsplit(url).netloc or "server"
        src = src or "client"
        fields.update(_text_body(entry.get("body")))
        requests[exchange] = {"method": fields["method"], "target": fields["target"],
                              "ts_ns": ts, "src": src, "dst": dst}
        return Message(link=Link.C, protocol="http", name=request_name(fields),
                       ts_ns=ts, src=src, dst=dst, fields=fields)
    status = entry.get("status")
    if not isinstance(status, int):
        return _problem_message(source, "log.line.invalid", "a response needs an integer status",
                                number, ts)
    request = requests.pop(exchange, None)
    if request is not None:
        src, dst = src or request["dst"], dst or request["src"]
    fields = {"kind": "response", "status": status, "reason": str(entry.get("reason", "")),
              "version": "1.1", "headers": headers, "exchange": exchange, "chunked": False,
              "request": None if request is None else {k: request[k] for k in
                                                        ("method", "target", "ts_ns")}}
    fields.update(_text_body(entry.get("body")))
    return Message(link=Link.C, protocol="http", name=f"{status} {fields['reason']}".strip(),
                   ts_ns=ts, src=src or "server", dst=dst or "client", fields=fields)


def har_messages(path: Path) -> Iterator[Message]:
    """HTTP Messages from a HAR 1.2 file (browser devtools, Postman, Insomnia, proxies)."""
    source = path.name
    try:
        document = json.loads(path.read_text(encoding="utf-8", errors="replace"))
        entries = document["log"]["entries"]
        if not isinstance(entries, list):
            raise TypeError("log.entries is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        yield _problem_message(source, "har.file.invalid", f"expected a HAR 1.2 document: {exc}", 0)
        return
    for index, entry in enumerate(entries):
        try:
            yield from _har_entry(entry, index, source)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            yield _problem_message(source, "har.entry.invalid",
                                   f"entry {index}: expected request and response objects: {exc}",
                                   index + 1)


def _har_entry(entry: dict, index: int, source: str) -> Iterator[Message]:
    request, response = entry["request"], entry.get("response") or {}
    ts = _ts_ns(entry.get("startedDateTime"))
    url = request["url"]
    dst = urlsplit(url).netloc or "server"
    if entry.get("serverIPAddress"):
        port = urlsplit(url).port or (443 if url.startswith("https") else 80)
        dst = f"{entry['serverIPAddress']}:{port}"
    src = f"client-{entry.get('connection', '')}".rstrip("-")
    headers = [h for h in _headers(request.get("headers")) if not h[0].startswith(":")]
    fields = _request_fields(request["method"], url, headers, index)
    fields["version"] = str(request.get("httpVersion", "HTTP/1.1")).removeprefix("HTTP/")
    post = request.get("postData") or {}
    fields.update(_text_body(post.get("text")))
    yield Message(link=Link.C, protocol="http", name=request_name(fields),
                  ts_ns=ts, src=src, dst=dst, fields=fields)
    status = response.get("status")
    if not isinstance(status, int) or status <= 0:  # HAR writes 0 for "no response"
        return
    content = response.get("content") or {}
    text = content.get("text")
    if text is not None and content.get("encoding") == "base64":
        try:
            text = base64.b64decode(text).decode("utf-8", "replace")
        except ValueError:
            text = None
    elapsed = entry.get("time")
    resp_ts = ts + int(float(elapsed) * 1e6) if isinstance(elapsed, int | float) else ts
    out = {"kind": "response", "status": status, "reason": str(response.get("statusText", "")),
           "version": str(response.get("httpVersion", "HTTP/1.1")).removeprefix("HTTP/"),
           "headers": [h for h in _headers(response.get("headers")) if not h[0].startswith(":")],
           "exchange": index, "chunked": False,
           "request": {"method": fields["method"], "target": fields["target"], "ts_ns": ts}}
    out.update(_text_body(text))
    yield Message(link=Link.C, protocol="http", name=f"{status} {out['reason']}".strip(),
                  ts_ns=resp_ts, src=dst, dst=src, fields=out)
