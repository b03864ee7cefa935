"""OCPI business state rebuilt from Messages: parties, sessions, CDRs, tokens, commands.

Rule (h11's `_state.py`): everything that changes state lives in this module, and
the allowed Session status changes are one table. Fed `ocpi` (and `http`) Messages
in capture order; `finish()` runs the end-of-capture checks and returns the
`OcpiReport`. An event the table forbids becomes a Finding and the builder goes
on; exceptions are for our own bugs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from chargescope.analyzer.ocpi import checks
from chargescope.analyzer.ocpi.findings import registry
from chargescope.analyzer.records import Finding, Message

# Session.status: from -> the statuses it may move to (OCPI 2.2.1 sessions 9.4.1;
# 2.1.1 has no RESERVATION, which then never appears).
SESSION_TRANSITIONS: dict[str | None, frozenset[str]] = {
    None: frozenset({"PENDING", "RESERVATION", "ACTIVE", "COMPLETED", "INVALID"}),
    "RESERVATION": frozenset({"RESERVATION", "PENDING", "ACTIVE", "COMPLETED", "INVALID"}),
    "PENDING": frozenset({"PENDING", "ACTIVE", "COMPLETED", "INVALID"}),
    "ACTIVE": frozenset({"ACTIVE", "COMPLETED", "INVALID"}),
    "COMPLETED": frozenset({"COMPLETED"}),
    "INVALID": frozenset({"INVALID"}),
}
FINAL_SESSION = frozenset({"COMPLETED", "INVALID"})
STATUS_CLASS_CODES = {2000: "ocpi.status.client-error", 3000: "ocpi.status.server-error",
                      4000: "ocpi.status.hub-error"}
PAGED_MODULES = frozenset({"locations", "sessions", "cdrs", "tariffs", "tokens",
                           "hubclientinfo"})


@dataclass(slots=True)
class Party:
    key: str  # "NL*CPO" once known, else an address or token fingerprint
    role: str = ""
    country_code: str = ""
    party_id: str = ""
    name: str = ""
    addresses: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)  # fingerprints of tokens it uses


@dataclass(slots=True)
class SessionState:
    key: str
    status: str | None = None
    history: list[tuple[int, str, str]] = field(default_factory=list)  # (ts, method, status)
    kwh: float | None = None
    start: str = ""
    end: str = ""
    location_id: str = ""
    evse_uid: str = ""
    cdrs: list[str] = field(default_factory=list)
    last: Message | None = None
    pair: tuple[str, str] = ("", "")
    version: str = ""
    keys: dict[str, str] = field(default_factory=dict)  # join keys (correlate.keys names)
    events: list[tuple[int, str, dict[str, Any], Message]] = field(default_factory=list)
    energy_kwh: float | None = None  # from the CDR when there is one


@dataclass(slots=True)
class CommandState:
    command: str
    ts_ns: int
    request: Message
    response_url: str
    result: str = ""  # CommandResponse.result
    timeout_s: float | None = None
    status_code: int | None = None
    callback: str = ""  # CommandResult.result
    callback_ts_ns: int = 0
    callback_message: Message | None = None
    pair: tuple[str, str] = ("", "")
    response: Message | None = None


@dataclass(slots=True)
class PageWalk:
    module: str
    total: int | None = None
    fetched: int = 0
    offsets: set[int] = field(default_factory=set)
    next_url: str = ""
    last: Message | None = None
    pair: tuple[str, str] = ("", "")


@dataclass(slots=True)
class PairState:
    modules: set[str] = field(default_factory=set)
    versions: set[str] = field(default_factory=set)
    exchanges: int = 0
    sessions: list[str] = field(default_factory=list)
    cdrs: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[dict[str, Any]] = field(default_factory=list)
    commands: list[CommandState] = field(default_factory=list)
    tokens: list[dict[str, Any]] = field(default_factory=list)  # Token objects exchanged


@dataclass(frozen=True, slots=True)
class OcpiReport:
    parties: dict[str, Party]
    pairs: dict[tuple[str, str], PairState]
    sessions: dict[str, SessionState]
    findings: tuple[Finding, ...]
    messages: int
    problems: int

    def to_json(self) -> dict[str, Any]:
        """The report as plain JSON (OCPI field names; secrets already masked)."""
        return {
            "messages": self.messages,
            "problems": self.problems,
            "parties": [{"key": p.key, "role": p.role, "country_code": p.country_code,
                         "party_id": p.party_id, "name": p.name,
                         "addresses": sorted(p.addresses), "token_fingerprints": sorted(p.tokens)}
                        for p in self.parties.values()],
            "pairs": [_pair_json(pair, state, self.sessions, self.findings)
                      for pair, state in sorted(self.pairs.items())],
            "findings": [finding_json(f) for f in self.findings],
        }


def finding_json(finding: Finding) -> dict[str, Any]:
    return {"code": finding.code, "severity": str(finding.severity), "text": finding.text,
            "ts_ns": finding.ts_ns, "requirement": finding.requirement, "link": finding.link,
            "evidence": [m.name for m in finding.evidence],
            "frames": sorted({r.frame for m in finding.evidence for r in m.refs})[:20],
            **({"extra": finding.extra} if finding.extra else {})}


def _pair_json(pair: tuple[str, str], state: PairState, sessions: dict[str, SessionState],
               findings: tuple[Finding, ...]) -> dict[str, Any]:
    return {
        "parties": list(pair), "modules": sorted(state.modules),
        "versions": sorted(state.versions), "exchanges": state.exchanges,
        "sessions": [{"id": key, "status": sessions[key].status, "kwh": sessions[key].kwh,
                      "start_date_time": sessions[key].start,
                      "end_date_time": sessions[key].end,
                      "status_history": [s for _, _, s in sessions[key].history],
                      "cdrs": sessions[key].cdrs} for key in state.sessions],
        "cdrs": state.cdrs,
        "authorizations": state.authorizations,
        "tokens": state.tokens,
        "commands": [{"command": c.command, "result": c.result, "timeout": c.timeout_s,
                      "status_code": c.status_code, "callback_result": c.callback or None,
                      "response_url": c.response_url} for c in state.commands],
        "findings": sorted({f.code for f in findings if f.extra.get("pair") == list(pair)}),
    }


class OcpiAnalysis:
    """Feed Messages with `add()` in capture order; `finish()` returns the OcpiReport."""

    def __init__(self) -> None:
        self.registry = registry()
        self.findings: list[Finding] = []
        self.parties: dict[str, Party] = {}
        self._by_token: dict[str, str] = {}  # token fingerprint -> party key
        self._by_address: dict[str, str] = {}  # server host:port -> party key
        self._role_hints: dict[str, str] = {}  # server label -> role its URLs imply
        self.pairs: dict[tuple[str, str], PairState] = {}
        self.sessions: dict[str, SessionState] = {}
        self.cdr_sessions: dict[str, str] = {}  # session key -> CDR id
        self.commands: dict[str, CommandState] = {}  # response_url path -> command
        self.walks: dict[tuple[str, str, str], PageWalk] = {}
        # for the correlator: (response, token uid, AuthorizationInfo) and token objects seen
        self.authorization_events: list[tuple[Message, str, dict[str, Any]]] = []
        self.tokens_seen: list[tuple[Message, dict[str, Any]]] = []
        self.open_requests: dict[tuple[str, str, Any], Message] = {}
        self._not_echoed: set[tuple[tuple[str, str], str]] = set()
        self._objects: dict[tuple[str, str], dict[str, Any]] = {}  # last content per URL
        self.messages = 0
        self.problems = 0
        self.last_ts = 0

    # -- feeding ------------------------------------------------------------------------

    def add(self, message: Message) -> None:
        self.messages += 1
        self.last_ts = max(self.last_ts, message.ts_ns)
        if message.problems:
            self.problems += len(message.problems)
            self._find("ocpi.decode.problem", "; ".join(
                f"{p.kind}: {p.detail}" for p in message.problems[:3]), message)
        fields = message.fields
        if message.protocol != "ocpi":
            return
        if fields.get("kind") == "request":
            self._request(message)
        elif fields.get("kind") == "response":
            self._response(message)

    def _request(self, m: Message) -> None:
        f = m.fields
        self.open_requests[(m.src, m.dst, f.get("exchange"))] = m
        pair = self._pair_of(m, client=m.src, server=m.dst)
        state = self.pairs.setdefault(pair, PairState())
        state.modules.add(f["module"])
        if f.get("version"):
            state.versions.add(f["version"])
        state.exchanges += 1
        self._violations(m, pair)
        if "authorization" not in f:
            self._find("ocpi.auth.missing", f"{m.name} has no Authorization header", m, pair)
        elif f.get("version"):
            wants_base64 = not f["version"].startswith(("2.0", "2.1"))
            if f.get("token_base64") != wants_base64:
                self._find("ocpi.auth.token-encoding",
                           f"{m.name}: token sent {'Base64-encoded' if f['token_base64'] else 'raw'}"
                           f" on OCPI {f['version']}", m, pair)
        body = f.get("body")
        module, method = f["module"], f["method"]
        if module == "credentials" and method in ("POST", "PUT"):
            for code, text, extra in checks.check_credentials(body, f"{m.name} request"):
                self._find(code, text, m, pair, **extra)
        elif module == "cdrs" and method == "POST" and isinstance(body, dict):
            # the CDR's own arithmetic is wrong whether or not the receiver takes it
            for code, text, extra in checks.check_cdr(body):
                self._find(code, text, m, pair, **extra)
        elif module == "commands" and f.get("interface") == "RECEIVER" and isinstance(body, dict):
            self._command_request(m, body, pair)
        elif module == "commands" and f.get("action") == "result":
            self._command_result(m, body)
        elif module == "tokens" and method in ("PUT", "PATCH") and isinstance(body, dict):
            self._token_seen(m, {"uid": f.get("token_uid"), **body}, pair)
        if method == "GET" and module in PAGED_MODULES and f.get("interface") == "SENDER" and not (
                _object_ids(f)):
            self._walk_request(m, pair)

    def _response(self, m: Message) -> None:
        f = m.fields
        request = self.open_requests.pop((m.dst, m.src, f.get("exchange")), None)
        # a response names neither token nor Host: it belongs to its request's pair
        pair = (self._pair_of(request, client=request.src, server=request.dst)
                if request is not None else self._pair_of(m, client=m.dst, server=m.src))
        self._violations(m, pair)
        if request is not None:
            self._echoed_ids(request, m, pair)
        status, code = f.get("status"), f.get("status_code")
        # OCPI's own answer for an unknown token (real-time authorization: HTTP 404 with
        # status_code 2004) is reported once, as ocpi.token.unknown, not as client errors
        unknown_token = (f.get("module") == "tokens" and f.get("action") == "authorize"
                         and (status == 404 or code == 2004))
        if unknown_token:
            pass
        elif status in (401, 403) or code == 2001:
            self._find("ocpi.auth.failed", f"{m.name}: HTTP {status}, status_code {code}", m, pair)
        elif isinstance(status, int) and status >= 500:
            self._find("ocpi.http.server-error", f"{m.name}: HTTP {status}", m, pair)
        elif isinstance(status, int) and status >= 400:
            self._find("ocpi.http.client-error", f"{m.name}: HTTP {status}", m, pair)
        if isinstance(code, int) and code != 2001 and code // 1000 != 1 \
                and not unknown_token:  # 1xxx: success
            self._find(STATUS_CLASS_CODES.get(code // 1000 * 1000, "ocpi.status.unknown"),
                       f"{m.name}: status_code {code} {f.get('status_message', '')}".strip(),
                       m, pair, status_code=code)
        data = f.get("data")
        module, method = f["module"], f["method"]
        accepted = isinstance(status, int) and status < 400 and (
            code is None or code // 1000 == 1) and not f.get("incomplete")
        body = request.fields.get("body") if request is not None else None
        if accepted and isinstance(body, dict) and request is not None:
            # the receiver took the object: only now does it count as delivered
            if method in ("PUT", "PATCH") and f.get("interface") == "RECEIVER":
                self._touched(request, body, pair)
            if module == "sessions" and method in ("PUT", "PATCH"):
                self._session_update(request, body, pair)
            elif module == "cdrs" and method == "POST":
                self._cdr(request, body, pair)
        if module == "versions" and f.get("action") != "details":
            for c, text, extra in checks.check_versions(data):
                self._find(c, text, m, pair, **extra)
        elif module == "credentials" and method in ("POST", "PUT") and code == 1000:
            for c, text, extra in checks.check_credentials(data, f"{m.name}"):
                self._find(c, text, m, pair, **extra)
            if request is not None:
                self._learn_credentials(request, m)
        elif module == "tokens" and f.get("action") == "authorize":
            self._authorization(m, data, pair)
        elif module == "commands" and f.get("interface") == "RECEIVER" and not f.get(
                "incomplete"):
            self._command_response(m, data)
        elif module == "sessions" and method == "GET" and code == 1000:
            for item in data if isinstance(data, list) else [data]:
                if isinstance(item, dict) and "status" in item:
                    self._session_update(m, item, pair)
        elif module == "tokens" and method == "GET" and code == 1000 and isinstance(data, list):
            for item in data:
                if isinstance(item, dict):
                    self._token_seen(m, item, pair)
        elif module == "cdrs" and method == "GET" and code == 1000 and isinstance(data, list):
            for item in data:
                if isinstance(item, dict):
                    for c, text, extra in checks.check_cdr(item):
                        self._find(c, text, m, pair, **extra)
                    self._cdr(m, item, pair)
        if method == "GET" and module in PAGED_MODULES and f.get("interface") == "SENDER" and not (
                _object_ids(f)) and code == 1000 and isinstance(data, list):
            self._walk_response(m, pair)

    # -- parties ------------------------------------------------------------------------

    def _party(self, key: str) -> Party:
        return self.parties.setdefault(key, Party(key=key))

    def _pair_of(self, m: Message, client: str, server: str) -> tuple[str, str]:
        """Provisional labels (client, server); `finish()` resolves them to parties."""
        f = m.fields
        headers = f.get("headers", {})
        server_label = headers.get("host") or server
        if f.get("server_role") not in (None, "", "ANY"):
            self._role_hints.setdefault(server_label, f["server_role"])
        if headers.get("ocpi-from-party-id"):
            key = f"{headers.get('ocpi-from-country-code', '').upper()}*" \
                  f"{headers['ocpi-from-party-id'].upper()}"
            party = self._party(key)
            party.country_code = headers.get("ocpi-from-country-code", "").upper()
            party.party_id = headers["ocpi-from-party-id"].upper()
            if f.get("token_fingerprint"):
                self._by_token.setdefault(f["token_fingerprint"], key)
            return (key, server_label)
        fp = f.get("token_fingerprint")
        return (f"token {fp}" if fp else "anonymous", server_label)

    def _resolve(self, label: str) -> str:
        if label.startswith("token "):
            return self._by_token.get(label[6:], label)
        return self._by_address.get(label, label)

    def _learn_credentials(self, request: Message, response: Message) -> None:
        """Credentials POST/PUT: who each side is, and which token each will use."""
        sent, got = request.fields.get("body") or {}, response.fields.get("data") or {}
        if not isinstance(sent, dict) or not isinstance(got, dict):
            return
        client = self._credentials_party(sent)
        server = self._credentials_party(got)
        if server:
            host = request.fields.get("headers", {}).get("host") or request.dst
            for address in (host, request.dst):
                self._by_address[address] = server.key
                server.addresses.add(address)
            # the token the client hands over is the one the server will call it with
            if sent.get("token_fingerprint") and isinstance(sent["token_fingerprint"], str):
                self._by_token[sent["token_fingerprint"]] = server.key
                server.tokens.add(sent["token_fingerprint"])
        if client:
            url = sent.get("url")
            if isinstance(url, str) and urlsplit(url).netloc:
                self._by_address[urlsplit(url).netloc] = client.key
                client.addresses.add(urlsplit(url).netloc)
            for fp in (got.get("token_fingerprint"), request.fields.get("token_fingerprint")):
                if fp and isinstance(fp, str):  # token C from now on; token A for the registration
                    self._by_token.setdefault(fp, client.key)
                    client.tokens.add(fp)

    def _credentials_party(self, creds: dict) -> Party | None:
        roles = creds.get("roles")
        role = roles[0] if isinstance(roles, list) and roles and isinstance(roles[0], dict) else creds
        cc, pid = role.get("country_code"), role.get("party_id")
        if not isinstance(cc, str) or not isinstance(pid, str):
            return None
        party = self._party(f"{cc.upper()}*{pid.upper()}")
        party.country_code, party.party_id = cc.upper(), pid.upper()
        party.role = str(role.get("role", party.role or ""))
        details = role.get("business_details")
        if isinstance(details, dict) and isinstance(details.get("name"), str):
            party.name = details["name"]
        return party

    # -- sessions and CDRs --------------------------------------------------------------

    def _session_update(self, m: Message, body: dict, pair: tuple[str, str]) -> None:
        f = m.fields
        sid = f.get("session_id") or body.get("id")
        if not isinstance(sid, str):
            return
        cc = f.get("country_code") or body.get("country_code") or ""
        pid = f.get("party_id") or body.get("party_id") or ""
        key = f"{cc}*{pid}*{sid}" if cc else sid
        session = self.sessions.get(key)
        if session is None:
            session = self.sessions[key] = SessionState(key=key, pair=pair)
            self.pairs.setdefault(pair, PairState()).sessions.append(key)
        status = body.get("status")
        if isinstance(status, str):
            if status not in SESSION_TRANSITIONS.get(session.status, frozenset()):
                self._find("ocpi.session.transition",
                           f"session {sid}: {session.status} -> {status}", m, pair,
                           session=key, before=session.status, after=status)
            if status != session.status:
                session.history.append((m.ts_ns, f.get("method", ""), status))
                milestone = {"ACTIVE": "ocpi.session_active",
                             "COMPLETED": "ocpi.session_completed"}.get(status)
                if milestone:
                    session.events.append((m.ts_ns, milestone, {"status": status}, m))
            session.status = status
        kwh = body.get("kwh")
        if isinstance(kwh, int | float) and not isinstance(kwh, bool):
            if session.kwh is not None and kwh + 1e-9 < session.kwh:
                self._find("ocpi.session.kwh-decreased",
                           f"session {sid}: kwh {session.kwh:g} -> {kwh:g}", m, pair, session=key)
            session.kwh = float(kwh)
        session.start = body.get("start_date_time") or body.get("start_datetime") or session.start
        session.end = body.get("end_date_time") or body.get("end_datetime") or session.end
        session.location_id = body.get("location_id") or session.location_id
        session.version = f.get("version") or session.version
        session.keys.update(_session_keys(sid, body))
        session.last = m

    def _cdr(self, m: Message, body: dict, pair: tuple[str, str]) -> None:
        """A CDR the receiver accepted (or a sender listed): link it to its session."""
        cid = body.get("id", "?")
        sid = body.get("session_id")
        cc, pid = body.get("country_code", ""), body.get("party_id", "")
        session = None
        if isinstance(sid, str):
            session = self.sessions.get(f"{cc}*{pid}*{sid}" if cc else sid) or self.sessions.get(sid)
        else:
            session = self._session_of_211_cdr(body)
            sid = session.keys.get("ocpi_session_id") if session else None
        entry = {"id": cid, "session_id": sid, "total_energy": body.get("total_energy"),
                 "total_time": body.get("total_time"), "total_cost": body.get("total_cost"),
                 "currency": body.get("currency")}
        self.pairs.setdefault(pair, PairState()).cdrs.append(entry)
        if isinstance(sid, str):
            key = session.key if session is not None else sid
            if session is not None:
                session.cdrs.append(str(cid))
                energy = body.get("total_energy")
                session.keys.update({k: v for k, v in _session_keys(sid, body).items()
                                     if k not in session.keys})
                session.keys["cdr_id"] = str(cid)
                session.events.append((m.ts_ns, "ocpi.cdr", {"total_energy": energy}, m))
                if isinstance(energy, int | float) and not isinstance(energy, bool):
                    session.energy_kwh = float(energy)
                if (isinstance(energy, int | float) and session.kwh is not None
                        and abs(float(energy) - session.kwh) > checks.ENERGY_TOLERANCE_KWH):
                    self._find("ocpi.cdr.session-mismatch",
                               f"CDR {cid}: total_energy {energy:g} kWh, session {sid} ended at "
                               f"{session.kwh:g} kWh", m, pair, cdr_id=cid, session=session.key)
            self.cdr_sessions[key] = str(cid)

    def _session_of_211_cdr(self, cdr: dict) -> SessionState | None:
        """2.1.1 CDRs carry no session_id: the session with the same auth_id and start."""
        start = checks.parse_time(cdr.get("start_date_time"))
        auth = cdr.get("auth_id")
        for session in self.sessions.values():
            if (auth and session.keys.get("token_uid") == auth and start is not None
                    and checks.parse_time(session.start) == start):
                return session
        return None

    # -- tokens and commands ------------------------------------------------------------

    def _authorization(self, m: Message, data: Any, pair: tuple[str, str]) -> None:
        f = m.fields
        info = data[0] if isinstance(data, list) and len(data) == 1 else data
        allowed = info.get("allowed") if isinstance(info, dict) else None
        uid = f.get("token_uid", "")
        self.pairs.setdefault(pair, PairState()).authorizations.append(
            {"token_uid": uid, "allowed": allowed, "status": f.get("status"),
             "status_code": f.get("status_code")})
        self.authorization_events.append((m, uid, info if isinstance(info, dict) else {}))
        if f.get("status") == 404 or f.get("status_code") == 2004:
            self._find("ocpi.token.unknown",
                       f"token {uid}: HTTP {f.get('status')}, status_code {f.get('status_code')}",
                       m, pair, token_uid=uid)
        elif isinstance(allowed, str) and allowed != "ALLOWED":
            self._find("ocpi.token.not-allowed", f"token {uid}: {allowed}", m, pair,
                       token_uid=uid, allowed=allowed)

    def _token_seen(self, m: Message, token: dict, pair: tuple[str, str]) -> None:
        """A Token object exchanged (eMSP push to the CPO, or the CPO pulling the list)."""
        self.tokens_seen.append((m, token))
        self.pairs.setdefault(pair, PairState()).tokens.append(
            {k: token.get(k) for k in ("uid", "type", "valid", "whitelist", "contract_id",
                                       "auth_id") if token.get(k) is not None})

    def _command_request(self, m: Message, body: dict, pair: tuple[str, str]) -> None:
        url = body.get("response_url")
        path = urlsplit(url).path.rstrip("/") if isinstance(url, str) else ""
        command = CommandState(command=m.fields.get("command", ""), ts_ns=m.ts_ns, request=m,
                               response_url=path, pair=pair)
        self.pairs.setdefault(pair, PairState()).commands.append(command)
        if path:
            self.commands[path] = command

    def _command_response(self, m: Message, data: Any) -> None:
        command = self._command_for(m)
        if command is None:
            return
        info = data[0] if isinstance(data, list) and len(data) == 1 else data
        command.response = m
        command.status_code = m.fields.get("status_code")
        if isinstance(info, dict):
            command.result = str(info.get("result", ""))
            timeout = info.get("timeout")
            if isinstance(timeout, int | float) and not isinstance(timeout, bool):
                command.timeout_s = float(timeout)
        if command.result != "ACCEPTED":
            self._find("ocpi.command.rejected",
                       f"{command.command}: result {command.result or None}, status_code "
                       f"{command.status_code}", m, command.pair, command=command.command)

    def _command_for(self, m: Message) -> CommandState | None:
        for command in reversed(list(self.commands.values())):
            request = command.request
            if (request.src, request.dst, request.fields.get("exchange")) == (
                    m.dst, m.src, m.fields.get("exchange")):
                return command
        return None

    def _command_result(self, m: Message, body: Any) -> None:
        command = self.commands.get(m.fields.get("path", "").rstrip("/"))
        if command is None:
            return
        command.callback = str(body.get("result", "")) if isinstance(body, dict) else "?"
        command.callback_ts_ns = m.ts_ns
        command.callback_message = m
        if command.callback != "ACCEPTED":
            self._find("ocpi.command.result-failed",
                       f"{command.command}: result {command.callback}", m, command.pair,
                       command=command.command)
        if command.timeout_s is not None and m.ts_ns - command.ts_ns > command.timeout_s * 1e9:
            self._find("ocpi.command.result-late",
                       f"{command.command}: result after {(m.ts_ns - command.ts_ns) / 1e9:.1f} s, "
                       f"timeout {command.timeout_s:g} s", m, command.pair)

    # -- pagination ---------------------------------------------------------------------

    def _walk_request(self, m: Message, pair: tuple[str, str]) -> None:
        query = m.fields.get("query", {})
        offset = _int(query.get("offset")) or 0
        key = (pair[0], pair[1], m.fields["module"])
        walk = self.walks.get(key)
        if walk is None or offset == 0:
            if walk is not None:
                self._walk_end(walk)
            walk = self.walks[key] = PageWalk(module=m.fields["module"], pair=pair)
        if offset in walk.offsets:
            self._find("ocpi.pagination.loop", f"{m.name}: offset {offset} requested again",
                       m, pair, offset=offset)
        walk.offsets.add(offset)
        walk.next_url = ""

    def _walk_response(self, m: Message, pair: tuple[str, str]) -> None:
        f = m.fields
        headers = f.get("headers", {})
        walk = self.walks.get((pair[0], pair[1], f["module"]))
        if walk is None:
            return
        walk.last = m
        count = f.get("data_count", 0)
        walk.fetched += count
        total, limit = _int(headers.get("x-total-count")), _int(headers.get("x-limit"))
        missing = [h for h, v in (("X-Total-Count", total), ("X-Limit", limit)) if v is None]
        if missing:
            self._find("ocpi.pagination.headers-missing",
                       f"{m.name}: no {' or '.join(missing)}", m, pair, missing=missing)
        if total is not None:
            if walk.total is not None and walk.total != total:
                self._find("ocpi.pagination.total-changed",
                           f"{m.name}: X-Total-Count {walk.total} -> {total}", m, pair)
            walk.total = total
        requested = _int(_query_of(m).get("limit"))
        cap = min(x for x in (limit, requested) if x is not None) if (
            limit is not None or requested is not None) else None
        if cap is not None and count > cap:
            self._find("ocpi.pagination.limit-exceeded",
                       f"{m.name}: {count} objects, limit {cap}", m, pair)
        link = checks.next_link(headers.get("link", ""))
        offset = _int(_query_of(m).get("offset")) or 0
        if link:
            walk.next_url = link
            for code, text, extra in checks.check_link(link, f["module"]):
                self._find(code, f"{m.name}: {text}", m, pair, **extra)
        elif total is not None and offset + count < total:
            self._find("ocpi.pagination.link-missing",
                       f"{m.name}: offset {offset} + {count} < X-Total-Count {total}, no next "
                       "Link", m, pair)

    def _walk_end(self, walk: PageWalk) -> None:
        if walk.last is None:
            return
        if walk.total is not None and walk.fetched < walk.total:
            self._find("ocpi.pagination.incomplete",
                       f"{walk.module}: {walk.fetched} of {walk.total} objects fetched",
                       walk.last, walk.pair, fetched=walk.fetched, total=walk.total)

    # -- end of capture -----------------------------------------------------------------

    def finish(self) -> OcpiReport:
        for walk in self.walks.values():
            self._walk_end(walk)
        self.walks.clear()
        for request in self.open_requests.values():
            pair = self._pair_of(request, client=request.src, server=request.dst)
            self._find("ocpi.http.unanswered", f"{request.name}: no response", request, pair)
        self.open_requests.clear()
        for session in self.sessions.values():
            last = session.last
            if last is None:
                continue
            if session.status not in FINAL_SESSION:
                self._find("ocpi.session.not-completed",
                           f"session {session.key} ends the capture {session.status}", last,
                           session.pair, session=session.key, status=session.status)
            elif session.status == "COMPLETED" and not session.cdrs:
                self._find("ocpi.session.without-cdr", f"session {session.key}: no CDR", last,
                           session.pair, session=session.key)
        for command in self.commands.values():
            if not command.result and not command.callback:
                self._find("ocpi.command.result-missing",
                           f"{command.command}: neither a CommandResponse nor a result",
                           command.request, command.pair, command=command.command)
                continue
            if command.result != "ACCEPTED" or command.callback:
                continue
            timeout = command.timeout_s
            waited = (self.last_ts - command.ts_ns) / 1e9
            if timeout is not None and waited < timeout:
                self._find("ocpi.command.result-pending",
                           f"{command.command}: capture ends {waited:.1f} s after the request, "
                           f"timeout {timeout:g} s", command.request, command.pair)
            else:
                self._find("ocpi.command.result-missing",
                           f"{command.command}: no result at {command.response_url}",
                           command.request, command.pair, command=command.command)
        return self._resolved()

    def _resolved(self) -> OcpiReport:
        """Provisional labels -> parties, pairs merged and ordered (a pair has no direction)."""
        def pair_key(pair: tuple[str, str] | list[str]) -> tuple[str, str]:
            a, b = sorted(self._resolve(label) for label in pair)
            return (a, b)

        pairs: dict[tuple[str, str], PairState] = {}
        for pair, state in self.pairs.items():
            merged = pairs.setdefault(pair_key(pair), PairState())
            merged.modules |= state.modules
            merged.versions |= state.versions
            merged.exchanges += state.exchanges
            merged.sessions += state.sessions
            merged.cdrs += state.cdrs
            merged.authorizations += state.authorizations
            merged.commands += state.commands
            merged.tokens += state.tokens
        findings = []
        for finding in sorted(self.findings, key=lambda f: f.ts_ns):
            if "pair" in finding.extra:
                finding = replace(finding, extra={**finding.extra,
                                                  "pair": list(pair_key(finding.extra["pair"]))})
            findings.append(finding)
        parties = dict(self.parties)
        for pair in pairs:
            for key in pair:
                if key not in parties:
                    parties[key] = Party(key=key, role=self._role_hints.get(key, ""))
                    if not key.startswith(("token ", "anonymous")):
                        parties[key].addresses.add(key)
        return OcpiReport(parties=parties, pairs=pairs, sessions=self.sessions,
                          findings=tuple(findings), messages=self.messages,
                          problems=self.problems)

    # -- helpers ------------------------------------------------------------------------

    def _touched(self, m: Message, body: dict, pair: tuple[str, str]) -> None:
        """PUT/PATCH that changes nothing but last_updated (FIELD_NOTES pattern 15)."""
        key = (m.dst, m.fields.get("path", ""))
        content = {k: v for k, v in body.items() if k != "last_updated"}
        before = self._objects.get(key)
        if m.fields["method"] == "PATCH":
            # a PATCH repeating earlier values may follow states that were never pushed
            # (an EVSE briefly CHARGING), so only a PATCH of last_updated alone counts
            unchanged = not content
            merged = {**(before or {}), **content}
        else:
            unchanged = before is not None and before == content
            merged = content
        if unchanged and "last_updated" in body and (before is not None or not content):
            self._find("ocpi.object.touched",
                       f"{m.name} {m.fields.get('path', '')}: only last_updated changed", m,
                       pair, path=m.fields.get("path", ""))
        self._objects[key] = merged
        if len(self._objects) > 100_000:  # bounded memory on very long captures
            self._objects.pop(next(iter(self._objects)))

    def _echoed_ids(self, request: Message, response: Message, pair: tuple[str, str]) -> None:
        """2.2+: the response SHALL carry the request's X-Request-ID and X-Correlation-ID."""
        version = request.fields.get("version", "")
        if not version or version.startswith(("2.0", "2.1")):
            return
        asked, answered = request.fields.get("headers", {}), response.fields.get("headers", {})
        for name in ("x-request-id", "x-correlation-id"):
            if name in asked and answered.get(name) != asked[name]:
                if (pair, name) in self._not_echoed:
                    continue  # once per pair and header: a server either echoes or not
                self._not_echoed.add((pair, name))
                got = answered.get(name)
                self._find("ocpi.header.not-echoed",
                           f"{response.name}: {name} {asked[name]!r} answered with "
                           f"{'none' if got is None else repr(got)}", response, pair, header=name)

    def _violations(self, m: Message, pair: tuple[str, str]) -> None:
        for v in m.fields.get("violations", ()):
            if v["path"].startswith("headers."):
                self._find("ocpi.header.missing", f"{m.name}: {v['detail']}", m, pair,
                           path=v["path"])
            elif v["rule"] == "envelope":
                self._find("ocpi.envelope.invalid", f"{m.name}: {v['detail']}", m, pair,
                           path=v["path"])
            elif v["rule"] == "timezone":
                self._find("ocpi.datetime.not-utc", f"{m.name}: {v['path']}: {v['detail']}",
                           m, pair, path=v["path"])
            else:
                self._find("ocpi.schema.violation", f"{m.name}: {v['path']}: {v['detail']}",
                           m, pair, path=v["path"], rule=v["rule"], object=v.get("object", ""))

    def _find(self, code: str, text: str, m: Message, pair: tuple[str, str] | None = None,
              **extra: Any) -> None:
        if not code:
            return
        if pair is not None:
            extra["pair"] = list(pair)
        self.findings.append(self.registry.make(code, text, ts_ns=m.ts_ns, evidence=(m,),
                                                link="C", **extra))


def _session_keys(sid: str, body: dict) -> dict[str, str]:
    """Join keys a Session or CDR carries (names from analyzer.correlate.keys)."""
    keys = {"ocpi_session_id": sid}
    token = body.get("cdr_token") if isinstance(body.get("cdr_token"), dict) else {}
    location = next((body[k] for k in ("cdr_location", "location")
                     if isinstance(body.get(k), dict)), {})
    for name, value in (("token_uid", token.get("uid") or body.get("auth_id")),
                        ("emaid", token.get("contract_id")),
                        ("authorization_reference", body.get("authorization_reference")),
                        ("location_id", body.get("location_id") or location.get("id")),
                        ("evse_uid", body.get("evse_uid") or location.get("evse_uid")),
                        ("evse_id", location.get("evse_id"))):
        if isinstance(value, str) and value:
            keys[name] = value
    return keys


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _query_of(m: Message) -> dict[str, str]:
    query = m.fields.get("query")
    return query if isinstance(query, dict) else {}


def _object_ids(fields: dict) -> bool:
    return any(k in fields for k in ("location_id", "session_id", "cdr_id", "tariff_id",
                                     "token_uid"))

