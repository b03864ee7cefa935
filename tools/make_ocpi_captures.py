"""Record the OCPI test captures in tests/data/ocpi/ from a real OCPI implementation.

Two servers of the PyPI package `extrawest-ocpi` (FastAPI, OCPI 2.2.1) run on
loopback — a CPO on port 9301 and an eMSP on 9302, each with an in-memory store —
and this script drives them with httpx over HTTP/1.1 keep-alive while tcpdump
records `lo`. The servers do their own part of the protocol: the CPO answers the
credentials POST by fetching the eMSP's versions and details, and posts command
results asynchronously to the `response_url` it was given.

The scenario (every step is in the truth file written beside the capture):
credentials handshake; locations with pagination (Link, X-Total-Count, X-Limit),
a chunked page, a gzip page, a gzip object; START_SESSION accepted with its
callback, UNLOCK_CONNECTOR rejected, START_SESSION on an unknown location (2003),
RESERVE_NOW the server never answers (it holds the response while it polls); a
request with a wrong token;
sessions PUT/PATCH ACTIVE -> COMPLETED with a CDR that adds up, a session left
ACTIVE without CDR, a CDR whose totals do not match its periods; token
authorization ALLOWED, BLOCKED and unknown (HTTP 404).

Run (as root, tcpdump needed), in a venv that has the peer packages, kept apart
from chargescope's because they pin pydantic 1 and an old FastAPI:

    python -m venv /tmp/ocpi-peer && /tmp/ocpi-peer/bin/pip install \
        extrawest-ocpi==2025.7.16 uvicorn httpx
    /tmp/ocpi-peer/bin/python tools/make_ocpi_captures.py record

`serve ROLE PORT` is the internal entry point each server process runs.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "tests" / "data" / "ocpi"
TOKEN_A_CPO = "token-a-for-emsp"  # handed out of band by the CPO to the eMSP
TOKEN_B = "emsp-token-b-0001"  # eMSP's token for the CPO, sent in credentials
OUT_OF_BAND_TOKEN_C = "cpo-token-c-oob1"  # 2.1.1: agreed by e-mail after the failed handshake
NOW = "2026-11-25T10:00:00Z"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# -- sample objects (OCPI 2.2.1) -------------------------------------------------------

def connector(cid: str) -> dict:
    return {"id": cid, "standard": "IEC_62196_T2", "format": "SOCKET",
            "power_type": "AC_3_PHASE", "max_voltage": 400, "max_amperage": 32,
            "last_updated": NOW}


def location(n: int) -> dict:
    return {"country_code": "NL", "party_id": "CPO", "id": f"LOC{n}", "publish": True,
            "name": f"Site {n}", "address": f"Street {n}", "city": "Arnhem",
            "postal_code": "6811", "country": "NLD",
            "coordinates": {"latitude": "51.98000", "longitude": "5.91100"},
            "evses": [{"uid": f"EVSE{n}", "evse_id": f"NL*CPO*E{n}", "status": "AVAILABLE",
                       "connectors": [connector("1"), connector("2")], "last_updated": NOW}],
            "time_zone": "Europe/Amsterdam", "last_updated": NOW}


def location_211(n: int) -> dict:
    out = location(n)
    for key in ("country_code", "party_id", "publish"):
        del out[key]
    out["type"] = "ON_STREET"
    for evse in out["evses"]:
        for conn in evse["connectors"]:
            conn["voltage"], conn["amperage"] = conn.pop("max_voltage"), conn.pop("max_amperage")
            conn["tariff_id"] = "T1"  # optional in 2.1.1, but this server requires it
    return out


def token_211(uid: str) -> dict:
    return {"uid": uid, "type": "RFID", "auth_id": f"NL-EMS-C{uid}", "issuer": "EMSP Inc",
            "valid": True, "whitelist": "ALLOWED", "last_updated": NOW}


def session_211(sid: str, status: str, kwh: float, end: str | None = None) -> dict:
    out = {"id": sid, "start_datetime": "2026-11-25T09:00:00Z", "kwh": kwh,
           "auth_id": "NL-EMS-CRFID1", "auth_method": "WHITELIST", "location": location_211(1),
           "currency": "EUR", "status": status, "last_updated": NOW}
    if end:
        out["end_datetime"] = end
    return out


def cdr_211(cid: str, total_energy: float) -> dict:
    return {"id": cid, "start_date_time": "2026-11-25T09:00:00Z",
            "stop_date_time": "2026-11-25T10:00:00Z", "auth_id": "NL-EMS-CRFID1",
            "auth_method": "WHITELIST", "location": location_211(1), "currency": "EUR",
            "charging_periods": [{"start_date_time": "2026-11-25T09:00:00Z", "dimensions": [
                {"type": "ENERGY", "volume": total_energy}, {"type": "TIME", "volume": 1.0}]}],
            "total_cost": 4.0, "total_energy": total_energy, "total_time": 1.0,
            "last_updated": NOW}


def cdr_token(uid: str) -> dict:
    return {"country_code": "NL", "party_id": "EMS", "uid": uid, "type": "RFID",
            "contract_id": f"NL-EMS-C{uid}"}


def token(uid: str) -> dict:
    return {"country_code": "NL", "party_id": "EMS", "uid": uid, "type": "RFID",
            "contract_id": f"NL-EMS-C{uid}", "issuer": "EMSP Inc", "valid": True,
            "whitelist": "ALLOWED", "last_updated": NOW}


def session(sid: str, status: str, kwh: float, end: str | None = None) -> dict:
    out = {"country_code": "NL", "party_id": "CPO", "id": sid,
           "start_date_time": "2026-11-25T09:00:00Z", "kwh": kwh,
           "cdr_token": cdr_token("RFID1"), "auth_method": "WHITELIST",
           "location_id": "LOC1", "evse_uid": "EVSE1", "connector_id": "1",
           "currency": "EUR", "status": status, "last_updated": NOW}
    if end:
        out["end_date_time"] = end
    return out


def cdr(cid: str, sid: str, total_energy: float, periods: list[tuple[str, float, float]]) -> dict:
    return {"country_code": "NL", "party_id": "CPO", "id": cid,
            "start_date_time": "2026-11-25T09:00:00Z", "end_date_time": "2026-11-25T10:00:00Z",
            "session_id": sid, "cdr_token": cdr_token("RFID1"), "auth_method": "WHITELIST",
            "cdr_location": {"id": "LOC1", "address": "Street 1", "city": "Arnhem",
                             "country": "NLD", "coordinates": {"latitude": "51.98000",
                                                               "longitude": "5.91100"},
                             "evse_uid": "EVSE1", "evse_id": "NL*CPO*E1", "connector_id": "1",
                             "connector_standard": "IEC_62196_T2",
                             "connector_format": "SOCKET", "connector_power_type": "AC_3_PHASE"},
            "currency": "EUR",
            "charging_periods": [{"start_date_time": start, "dimensions": [
                {"type": "ENERGY", "volume": energy}, {"type": "TIME", "volume": hours}]}
                for start, energy, hours in periods],
            "total_cost": {"excl_vat": 4.0, "incl_vat": 4.84}, "total_energy": total_energy,
            "total_time": 1.0, "last_updated": NOW}


# -- servers ----------------------------------------------------------------------------

def serve(role: str, port: int, version: str = "2.2.1") -> None:
    os.environ.update(OCPI_HOST=f"127.0.0.1:{port}", PROTOCOL="http", COMMAND_AWAIT_TIME="1",
                      COUNTRY_CODE="NL", PARTY_ID="CPO" if role == "cpo" else "EMS",
                      ENVIRONMENT="production", CI_STRING_LOWERCASE_PREFERENCE="false")
    import uvicorn
    from py_ocpi import get_application
    from py_ocpi.core.adapter import BaseAdapter
    from py_ocpi.core.authentication.authenticator import Authenticator
    from py_ocpi.core.crud import Crud
    from py_ocpi.core.enums import Action, ModuleID, RoleEnum
    from py_ocpi.modules.versions.enums import VersionNumber
    from starlette.middleware.gzip import GZipMiddleware

    make_location = location if version == "2.2.1" else location_211
    tokens_c = {TOKEN_B} if role == "emsp" else set()
    if role == "cpo" and version == "2.1.1":
        tokens_c.add(OUT_OF_BAND_TOKEN_C)
    store: dict = {"tokens_c": tokens_c, "client_token": {OUT_OF_BAND_TOKEN_C: TOKEN_B},
                   "sessions": {}, "cdrs": {}, "commands": {},
                   "locations": [make_location(n) for n in range(1, 6)]}
    store["locations"][4]["coordinates"]["latitude"] = "51.98"  # a schema slip to find
    tokens = {"RFID1": token("RFID1"), "RFID2": {**token("RFID2"), "valid": False}}

    class Auth(Authenticator):
        @classmethod
        async def get_valid_token_c(cls):
            return list(store["tokens_c"])

        @classmethod
        async def get_valid_token_a(cls):
            return [TOKEN_A_CPO] if role == "cpo" else []

    class MemoryCrud(Crud):
        @classmethod
        async def get(cls, module, role_, id, *args, **kwargs):
            if module == ModuleID.locations:
                return next((x for x in store["locations"] if x["id"] == id), None)
            if module == ModuleID.commands:
                command = kwargs.get("command")
                if command in ("START_SESSION", "STOP_SESSION"):
                    return {"result": "ACCEPTED"}
                return None  # RESERVE_NOW: the charger never answers
            if module == ModuleID.sessions:
                return store["sessions"].get(id)
            if module == ModuleID.cdrs:
                return store["cdrs"].get(id)
            if module == ModuleID.tokens:
                return tokens.get(id)
            return None

        @classmethod
        async def list(cls, module, role_, filters, *args, **kwargs):
            items = store["locations"] if module == ModuleID.locations else []
            offset, limit = filters["offset"], filters["limit"]
            page = items[offset:offset + limit]
            return page, len(items), offset + limit >= len(items)

        @classmethod
        async def create(cls, module, role_, data, *args, **kwargs):
            if module == ModuleID.credentials_and_registration:
                token_c = "cpo-token-c-0001"
                store["tokens_c"].add(token_c)
                store["client_token"][token_c] = data["credentials"]["token"]
                if version == "2.1.1":
                    return {"token": token_c, "url": f"http://127.0.0.1:{port}/ocpi/versions",
                            "business_details": {"name": "CPO Inc"}, "party_id": "CPO",
                            "country_code": "NL"}
                return {"token": token_c, "url": f"http://127.0.0.1:{port}/ocpi/versions",
                        "roles": [{"role": "CPO", "party_id": "CPO", "country_code": "NL",
                                   "business_details": {"name": "CPO Inc"}}]}
            if module == ModuleID.sessions:
                store["sessions"][data["id"]] = data
            if module == ModuleID.cdrs:
                store["cdrs"][data["id"]] = data
            return data

        @classmethod
        async def update(cls, module, role_, data, id, *args, **kwargs):
            if module == ModuleID.sessions:
                store["sessions"][id] = {**store["sessions"].get(id, {}), **data}
                return store["sessions"][id]
            if module == ModuleID.commands:
                store["commands"][id] = data
            return data

        @classmethod
        async def delete(cls, module, role_, id, *args, **kwargs):
            return None

        @classmethod
        async def do(cls, module, role_, action, *args, data=None, **kwargs):
            if action == Action.get_client_token:
                return store["client_token"].get(kwargs.get("auth_token"), TOKEN_B)
            if action == Action.send_command:
                command = kwargs.get("command")
                if command == "UNLOCK_CONNECTOR":
                    return {"result": "REJECTED", "timeout": 0}
                if command == "RESERVE_NOW":
                    return {"result": "ACCEPTED", "timeout": 2}
                return {"result": "ACCEPTED", "timeout": 30}
            if action == Action.authorize_token:
                uid = data["token_uid"]
                allowed = "ALLOWED" if tokens[uid]["valid"] else "BLOCKED"
                return {"allowed": allowed, "token": tokens[uid],
                        "authorization_reference": f"AUTH-{uid}"}
            return None

    class ChunkLocations:
        """Send location list pages in two body pieces without Content-Length: chunked."""

        def __init__(self, app):
            self.app = app

        async def __call__(self, scope, receive, send):
            path = scope.get("path", "")
            if scope["type"] != "http" or not path.rstrip("/").endswith("/locations"):
                return await self.app(scope, receive, send)

            async def chunked_send(message):
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [
                        (k, v) for k, v in message["headers"] if k.lower() != b"content-length"]}
                elif message["type"] == "http.response.body" and not message.get("more_body"):
                    body = message.get("body", b"")
                    half = len(body) // 2
                    await send({"type": "http.response.body", "body": body[:half],
                                "more_body": True})
                    message = {"type": "http.response.body", "body": body[half:]}
                await send(message)

            return await self.app(scope, receive, chunked_send)

    roles = [RoleEnum.cpo] if role == "cpo" else [RoleEnum.emsp]
    modules = [ModuleID.credentials_and_registration, ModuleID.locations, ModuleID.sessions,
               ModuleID.cdrs, ModuleID.commands, ModuleID.tokens]
    numbers = [VersionNumber.v_2_2_1 if version == "2.2.1" else VersionNumber.v_2_1_1]
    app = get_application(version_numbers=numbers, roles=roles,
                          crud=MemoryCrud, modules=modules, authenticator=Auth,
                          adapter=BaseAdapter)
    app.add_middleware(GZipMiddleware, minimum_size=400)
    app = ChunkLocations(app)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


# -- the scenario -----------------------------------------------------------------------

def caller(truth: list[dict], encode: bool, ids: bool | None = None):
    """An HTTP call that records what the driver saw in the truth list."""
    import httpx

    def call(client, method, url, token, note, **kwargs):
        shown = b64(token) if encode else token
        headers = {"Authorization": f"Token {shown}", **kwargs.pop("headers", {})}
        if encode if ids is None else ids:  # 2.2: request and correlation ids on every request
            headers.update({"X-Request-ID": f"req-{len(truth)}",
                            "X-Correlation-ID": f"corr-{len(truth)}"})
        response = client.request(method, url, headers=headers, **kwargs)
        body = response.json() if response.content else None
        truth.append({"note": note, "method": method, "path": httpx.URL(url).path,
                      "status": response.status_code,
                      "status_code": body.get("status_code") if isinstance(body, dict) else None})
        return response, body

    return call


def drive_221(truth: list[dict], cpo_port: int, emsp_port: int) -> None:
    import httpx

    cpo = f"http://127.0.0.1:{cpo_port}/ocpi"
    emsp = f"http://127.0.0.1:{emsp_port}/ocpi"
    call = caller(truth, encode=True)

    with httpx.Client(http1=True, timeout=10) as as_emsp:
        call(as_emsp, "GET", f"{cpo}/versions", TOKEN_A_CPO, "versions")
        call(as_emsp, "GET", f"{cpo}/2.2.1/details", TOKEN_A_CPO, "details")
        creds = {"token": TOKEN_B, "url": f"{emsp}/versions",
                 "roles": [{"role": "EMSP", "party_id": "EMS", "country_code": "NL",
                            "business_details": {"name": "EMSP Inc"}}]}
        _, answer = call(as_emsp, "POST", f"{cpo}/cpo/2.2.1/credentials/", TOKEN_A_CPO,
                         "credentials handshake", json=creds)
        token_c = answer["data"]["token"]
        url = f"{cpo}/cpo/2.2.1/locations/?offset=0&limit=2"
        page, offset = 0, 0
        while url:
            coding = "identity" if page == 0 else "gzip"
            response, body = call(as_emsp, "GET", url, token_c, f"locations page {page}",
                                  headers={"Accept-Encoding": coding})
            if response.status_code != 200:
                # the Link the server wrote is broken: page on by offset, as tolerant clients do
                url = f"{cpo}/cpo/2.2.1/locations/?offset={offset}&limit=2"
                page += 1
                continue
            offset += len(body["data"])
            link = response.headers.get("link", "")
            # the server writes https:// into its Link header while serving http
            url = link[1:link.index(">")].replace("https://", "http://") if link else ""
            page += 1
        call(as_emsp, "GET", f"{cpo}/cpo/2.2.1/locations/LOC1", token_c, "one location",
             headers={"Accept-Encoding": "gzip"})
        call(as_emsp, "GET", f"{cpo}/cpo/2.2.1/locations/", token_c + "x", "wrong token")
        start = {"response_url": f"{emsp}/emsp/2.2.1/commands/cmd-start-1",
                 "token": token("RFID1"), "location_id": "LOC1", "evse_uid": "EVSE1"}
        call(as_emsp, "POST", f"{cpo}/cpo/2.2.1/commands/START_SESSION", token_c,
             "start session accepted", json=start)
        call(as_emsp, "POST", f"{cpo}/cpo/2.2.1/commands/UNLOCK_CONNECTOR", token_c,
             "unlock rejected", json={"response_url": f"{emsp}/emsp/2.2.1/commands/cmd-unlock-1",
                                      "location_id": "LOC1", "evse_uid": "EVSE1",
                                      "connector_id": "1"})
        call(as_emsp, "POST", f"{cpo}/cpo/2.2.1/commands/START_SESSION", token_c,
             "start on unknown location", json={**start, "location_id": "NOPE",
                                                "response_url": f"{emsp}/emsp/2.2.1/commands/cmd-start-2"})

        try:  # the server holds the response while it polls for the result: no answer
            call(as_emsp, "POST", f"{cpo}/cpo/2.2.1/commands/RESERVE_NOW", token_c,
                 "reserve never answered", timeout=3,
                 json={"response_url": f"{emsp}/emsp/2.2.1/commands/cmd-reserve-1",
                       "token": token("RFID1"), "expiry_date": "2026-11-25T11:00:00Z",
                       "reservation_id": "R1", "location_id": "LOC1"})
        except httpx.ReadTimeout:
            truth.append({"note": "reserve never answered", "method": "POST",
                          "path": "/ocpi/cpo/2.2.1/commands/RESERVE_NOW", "status": None,
                          "status_code": None})

    with httpx.Client(http1=True, timeout=10) as as_cpo:
        base = f"{emsp}/emsp/2.2.1"
        call(as_cpo, "PUT", f"{base}/sessions/NL/CPO/S1", TOKEN_B, "session S1 active",
             json=session("S1", "ACTIVE", 0.0))
        call(as_cpo, "PATCH", f"{base}/sessions/NL/CPO/S1", TOKEN_B, "session S1 kwh",
             json={"kwh": 5.5, "last_updated": "2026-11-25T09:30:00Z"})
        call(as_cpo, "PATCH", f"{base}/sessions/NL/CPO/S1", TOKEN_B, "session S1 completed",
             json={"kwh": 11.0, "status": "COMPLETED", "end_date_time": "2026-11-25T10:00:00Z",
                   "last_updated": "2026-11-25T10:00:00Z"})
        call(as_cpo, "POST", f"{base}/cdrs/", TOKEN_B, "cdr for S1 adds up",
             json=cdr("CDR1", "S1", 11.0, [("2026-11-25T09:00:00Z", 5.5, 0.5),
                                           ("2026-11-25T09:30:00Z", 5.5, 0.5)]))
        call(as_cpo, "PUT", f"{base}/sessions/NL/CPO/S2", TOKEN_B, "session S2 never ends",
             json=session("S2", "ACTIVE", 1.0))
        call(as_cpo, "PUT", f"{base}/sessions/NL/CPO/S3", TOKEN_B, "session S3 completed",
             json=session("S3", "COMPLETED", 12.0, end="2026-11-25T10:00:00Z"))
        call(as_cpo, "POST", f"{base}/cdrs/", TOKEN_B, "cdr for S3 does not add up",
             json=cdr("CDR3", "S3", 20.0, [("2026-11-25T09:00:00Z", 6.0, 0.5),
                                           ("2026-11-25T09:30:00Z", 6.0, 0.5)]))
        for uid, note in (("RFID1", "token allowed"), ("RFID2", "token blocked"),
                          ("RFID9", "unknown token")):
            call(as_cpo, "POST", f"{base}/tokens/{uid}/authorize?type=RFID", TOKEN_B, note,
                 json={"location_id": "LOC1", "evse_uids": ["EVSE1"]})


def drive_211(truth: list[dict], cpo_port: int, emsp_port: int) -> None:
    """OCPI 2.1.1: raw tokens, no request ids, final session state sent as a PUT."""
    import httpx

    cpo = f"http://127.0.0.1:{cpo_port}/ocpi"
    emsp = f"http://127.0.0.1:{emsp_port}/ocpi"
    call = caller(truth, encode=False)
    # the server decodes Base64 on its shared versions endpoint whatever the version, so
    # a 2.1.1 client sending its token raw fails there (status 3000) and has to retry
    # Base64-encoded, then go raw again for 2.1.1 details and modules: the interop trap
    # of FIELD_NOTES pattern 14
    call_b64 = caller(truth, encode=True, ids=False)
    with httpx.Client(http1=True, timeout=10) as as_emsp:
        call(as_emsp, "GET", f"{cpo}/versions", TOKEN_A_CPO, "versions, raw token")
        call_b64(as_emsp, "GET", f"{cpo}/versions", TOKEN_A_CPO, "versions, Base64 token")
        call(as_emsp, "GET", f"{cpo}/2.1.1/details", TOKEN_A_CPO, "details")
        creds = {"token": TOKEN_B, "url": f"{emsp}/versions", "party_id": "EMS",
                 "country_code": "NL", "business_details": {"name": "EMSP Inc"}}
        _, answer = call(as_emsp, "POST", f"{cpo}/cpo/2.1.1/credentials/", TOKEN_A_CPO,
                         "credentials handshake", json=creds)
        data = answer.get("data")
        # two extrawest 2.1.1 instances cannot finish the handshake (the eMSP's versions
        # endpoint wants Base64, the CPO sends raw): parties then swap tokens out of band
        token_c = data["token"] if isinstance(data, dict) else OUT_OF_BAND_TOKEN_C
        for offset in (0, 2, 4):
            call(as_emsp, "GET", f"{cpo}/cpo/2.1.1/locations/?offset={offset}&limit=2", token_c,
                 f"locations offset {offset}", headers={"Accept-Encoding": "gzip"})
        wrong = caller(truth, encode=True)  # a 2.2-style Base64 token on a 2.1.1 server
        wrong(as_emsp, "GET", f"{cpo}/cpo/2.1.1/locations/LOC1", token_c, "base64 token on 2.1.1")
        call(as_emsp, "POST", f"{cpo}/cpo/2.1.1/commands/START_SESSION", token_c,
             "start session accepted",
             json={"response_url": f"{emsp}/emsp/2.1.1/commands/cmd-211-1",
                   "token": token_211("RFID1"), "location_id": "LOC1", "evse_uid": "EVSE1"})
    with httpx.Client(http1=True, timeout=10) as as_cpo:
        base = f"{emsp}/emsp/2.1.1"
        call(as_cpo, "PUT", f"{base}/sessions/NL/CPO/S21", TOKEN_B, "session active",
             json=session_211("S21", "ACTIVE", 0.0))
        call(as_cpo, "PUT", f"{base}/sessions/NL/CPO/S21", TOKEN_B, "session completed (PUT)",
             json=session_211("S21", "COMPLETED", 7.5, end="2026-11-25T10:00:00Z"))
        cdr = cdr_211("CDR21", 7.5)
        call(as_cpo, "POST", f"{base}/cdrs/", TOKEN_B, "cdr as the 2.1.1 spec has it", json=cdr)
        # this server wants 2.2's end_date_time instead of 2.1.1's stop_date_time
        cdr["end_date_time"] = cdr.pop("stop_date_time")
        call(as_cpo, "POST", f"{base}/cdrs/", TOKEN_B, "cdr as this server wants it", json=cdr)


SCENARIOS = (("ocpi221-extrawest", "2.2.1", 9301, 9302, drive_221),
             ("ocpi211-extrawest", "2.1.1", 9311, 9312, drive_211))


def record(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, version, cpo_port, emsp_port, drive in SCENARIOS:
        record_one(out, name, version, cpo_port, emsp_port, drive)


def record_one(out: Path, name: str, version: str, cpo_port: int, emsp_port: int,
               drive) -> None:
    pcap = out / f"{name}.pcap"
    dump = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "-s", "0", "-w", str(pcap),
                             f"tcp port {cpo_port} or tcp port {emsp_port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    servers = [subprocess.Popen([sys.executable, __file__, "serve", role, str(port), version])
               for role, port in (("cpo", cpo_port), ("emsp", emsp_port))]
    truth: list[dict] = []
    try:
        time.sleep(4)  # servers up, tcpdump listening
        drive(truth, cpo_port, emsp_port)
        time.sleep(3)  # the START_SESSION result callback; RESERVE_NOW's never comes
    finally:
        for proc in servers:  # uvicorn would wait for RESERVE_NOW's polling task: no grace
            proc.kill()
            proc.wait()
        time.sleep(1)
        dump.send_signal(signal.SIGINT)
        dump.wait(timeout=10)
    (out / f"{name}.truth.json").write_text(json.dumps(
        {"capture": pcap.name, "implementation": "extrawest-ocpi 2025.7.16 (CPO and eMSP)",
         "ocpi_version": version, "driver_exchanges": truth}, indent=1) + "\n")
    print(f"wrote {pcap} and its truth file ({len(truth)} driver exchanges)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1:2] == ["record"]:
        record(Path(sys.argv[2]) if len(sys.argv) > 2 else OUT)
    else:
        sys.exit(__doc__)
