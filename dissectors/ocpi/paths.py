"""What an OCPI URL says: version, module, interface, party and object ids.

OCPI leaves the URL layout to each platform (the versions/details endpoints publish
it), but in practice every platform uses `.../{version}/{module}/...` with the
module's documented suffixes. This module reads those suffixes; the details
endpoints, when captured, are learned by `OcpiContext` and take precedence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

VERSIONS = ("2.0", "2.1", "2.1.1", "2.2", "2.2.1", "2.3.0")
VERSION_SEGMENT = re.compile(r"^v?(\d\.\d(?:\.\d)?)$")

# module -> role of the party that serves its SENDER interface (the receiver is the other)
MODULES: dict[str, tuple[str, str]] = {
    # module: (server role of the SENDER interface, server role of the RECEIVER interface)
    "locations": ("CPO", "EMSP"),
    "sessions": ("CPO", "EMSP"),
    "cdrs": ("CPO", "EMSP"),
    "tariffs": ("CPO", "EMSP"),
    "tokens": ("EMSP", "CPO"),
    "commands": ("EMSP", "CPO"),
    "chargingprofiles": ("SCSP", "CPO"),
    "hubclientinfo": ("HUB", "ANY"),
    "credentials": ("ANY", "ANY"),
    "versions": ("ANY", "ANY"),
    "payments": ("PTP", "CPO"),  # 2.3.0: payment terminal provider module
    "bookings": ("CPO", "EMSP"),  # 2.3.0 draft naming seen in the wild
}
# modules whose receiver interface addresses objects by /{country_code}/{party_id}/...
PARTY_SCOPED = frozenset({"locations", "sessions", "tariffs", "tokens", "hubclientinfo",
                          "bookings"})
COUNTRY = re.compile(r"^[A-Za-z]{2}$")
PARTY = re.compile(r"^[A-Za-z0-9]{3}$")
COMMAND_TYPES = frozenset({"START_SESSION", "STOP_SESSION", "RESERVE_NOW", "CANCEL_RESERVATION",
                           "UNLOCK_CONNECTOR"})


@dataclass(frozen=True, slots=True)
class OcpiRoute:
    """The OCPI meaning of one request URL."""

    module: str  # "" when the path is not recognisably OCPI
    version: str = ""
    interface: str = ""  # "SENDER", "RECEIVER" or "" (versions, credentials, unknown)
    server_role: str = ""  # role of the party serving this URL: CPO, EMSP, HUB, ...
    country_code: str = ""
    party_id: str = ""
    ids: dict[str, str] = field(default_factory=dict)  # location_id, session_id, ...
    action: str = ""  # "authorize", "charging_preferences", "details", "result", command type
    base: str = ""  # the path up to and including the module segment

    @property
    def is_ocpi(self) -> bool:
        return bool(self.module)


def _version_and_module(segments: list[str]) -> tuple[str, int, int]:
    """(version, index of version segment or -1, index of module segment or -1)."""
    version, vindex = "", -1
    for i, seg in enumerate(segments):
        match = VERSION_SEGMENT.match(seg)
        if match:
            version, vindex = match.group(1), i
            break
    start = vindex + 1 if vindex >= 0 else 0
    for i in range(start, len(segments)):
        if segments[i].lower() in MODULES:
            return version, vindex, i
    return version, vindex, -1


def _role_hint(segments: list[str]) -> str:
    for seg in segments:
        if seg.lower() in ("cpo", "emsp", "hub", "scsp", "nsp", "ptp"):
            return seg.upper()
    return ""


def parse_path(method: str, path: str, *, has_response_url: bool = False) -> OcpiRoute:
    """Read an OCPI request path; `has_response_url` says the request body carries one."""
    segments = [s for s in path.split("/") if s]
    version, vindex, mindex = _version_and_module(segments)
    hint = _role_hint(segments[:max(mindex, vindex, 0)])
    if mindex < 0:
        if vindex >= 0 and (vindex == len(segments) - 1 or segments[vindex + 1] == "details"):
            return OcpiRoute(module="versions", version=version, action="details",
                             server_role=hint, base="/" + "/".join(segments))
        return OcpiRoute(module="")
    module = segments[mindex].lower()
    rest = segments[mindex + 1:]
    base = "/" + "/".join(segments[:mindex + 1])
    route = _interpret(module, method.upper(), rest, has_response_url)
    sender_role, receiver_role = MODULES[module]
    server_role = {"SENDER": sender_role, "RECEIVER": receiver_role}.get(route["interface"], "")
    if hint and server_role in ("", "ANY"):
        server_role = hint
    return OcpiRoute(module=module, version=version, interface=route["interface"],
                     server_role=server_role or hint, country_code=route.get("cc", ""),
                     party_id=route.get("pid", ""), ids=route["ids"],
                     action=route.get("action", ""), base=base)


def _interpret(module: str, method: str, rest: list[str], has_response_url: bool) -> dict:
    out: dict = {"interface": "", "ids": {}}
    if module in ("versions", "credentials"):
        return out
    scoped = (module in PARTY_SCOPED and len(rest) >= 2 and COUNTRY.match(rest[0])
              and PARTY.match(rest[1]))
    if scoped:
        out.update(interface="RECEIVER", cc=rest[0].upper(), pid=rest[1].upper())
        rest = rest[2:]
    ids = out["ids"]
    if module == "locations":
        if not scoped and method in ("PUT", "PATCH", "DELETE"):
            out["interface"] = "RECEIVER"
        for key, value in zip(("location_id", "evse_uid", "connector_id"), rest, strict=False):
            ids[key] = value
    elif module == "sessions":
        if rest:
            ids["session_id"] = rest[0]
        if len(rest) > 1 and rest[1] == "charging_preferences":
            out["action"] = "charging_preferences"
            out["interface"] = "SENDER"
    elif module in ("cdrs", "tariffs"):
        key = "cdr_id" if module == "cdrs" else "tariff_id"
        if rest:
            ids[key] = rest[0]
        if module == "cdrs" and method == "POST":
            out["interface"] = "RECEIVER"
        elif not scoped and method in ("PUT", "PATCH", "DELETE"):
            out["interface"] = "RECEIVER"
    elif module == "tokens":
        if rest:
            ids["token_uid"] = rest[0]
        if len(rest) > 1 and rest[1] == "authorize":
            out.update(action="authorize", interface="SENDER")
    elif module == "commands":
        if rest and rest[0].upper() in COMMAND_TYPES:
            ids["command"] = rest[0].upper()
            out["action"] = rest[0].upper()
            rest = rest[1:]
        if rest:  # callback URLs often end in an id of the sender's choosing
            ids["command_id"] = rest[0]
        out["interface"] = "RECEIVER" if has_response_url else "SENDER"
        if not has_response_url and method == "POST":
            out["action"] = "result"
    elif module == "chargingprofiles":
        if rest:
            ids["session_id"] = rest[0]
        out["interface"] = "RECEIVER" if method in ("GET", "PUT", "DELETE") else "SENDER"
    elif module == "payments" and rest:
        out["action"] = rest[0]
        if len(rest) > 1:
            ids["object_id"] = rest[1]
    if not out["interface"] and module != "payments":
        out["interface"] = "SENDER" if method == "GET" and not scoped else out["interface"]
    return out
