"""OCPI URL reading: version, module, interface, server role, party and object ids."""

from __future__ import annotations

import pytest

from chargescope.dissectors.ocpi.paths import parse_path

CASES = [
    ("GET", "/ocpi/versions", dict(module="versions", interface="")),
    ("GET", "/ocpi/2.2.1/details", dict(module="versions", action="details", version="2.2.1")),
    ("GET", "/ocpi/2.1.1", dict(module="versions", action="details", version="2.1.1")),
    ("POST", "/ocpi/cpo/2.2.1/credentials/", dict(module="credentials", server_role="CPO")),
    ("GET", "/ocpi/cpo/2.2.1/locations/", dict(module="locations", interface="SENDER",
                                               server_role="CPO")),
    ("GET", "/ocpi/cpo/2.2.1/locations/LOC1/EVSE1/2",
     dict(module="locations", interface="SENDER",
          ids={"location_id": "LOC1", "evse_uid": "EVSE1", "connector_id": "2"})),
    ("PUT", "/ocpi/emsp/2.2.1/locations/NL/CPO/LOC1/EVSE1",
     dict(module="locations", interface="RECEIVER", server_role="EMSP", country_code="NL",
          party_id="CPO", ids={"location_id": "LOC1", "evse_uid": "EVSE1"})),
    ("PATCH", "/ocpi/emsp/2.2.1/sessions/nl/cpo/S1",
     dict(module="sessions", interface="RECEIVER", server_role="EMSP", country_code="NL",
          party_id="CPO", ids={"session_id": "S1"})),
    ("PUT", "/ocpi/cpo/2.2.1/sessions/S1/charging_preferences",
     dict(module="sessions", action="charging_preferences", ids={"session_id": "S1"})),
    ("POST", "/ocpi/emsp/2.2.1/cdrs", dict(module="cdrs", interface="RECEIVER",
                                           server_role="EMSP")),
    ("GET", "/ocpi/cpo/2.1.1/cdrs?offset=0", dict(module="cdrs", interface="SENDER",
                                                  version="2.1.1", server_role="CPO")),
    ("POST", "/ocpi/emsp/2.2.1/tokens/RFID1/authorize",
     dict(module="tokens", action="authorize", interface="SENDER", server_role="EMSP",
          ids={"token_uid": "RFID1"})),
    ("PUT", "/ocpi/cpo/2.2.1/tokens/NL/EMS/RFID1",
     dict(module="tokens", interface="RECEIVER", server_role="CPO", ids={"token_uid": "RFID1"})),
    ("POST", "/ocpi/emsp/2.2.1/commands/START_SESSION/42",
     dict(module="commands", interface="SENDER", action="result",
          ids={"command": "START_SESSION", "command_id": "42"})),
    ("POST", "/ocpi/emsp/2.2.1/commands/cmd-1",
     dict(module="commands", interface="SENDER", ids={"command_id": "cmd-1"})),
    ("PUT", "/ocpi/cpo/2.2.1/chargingprofiles/S1",
     dict(module="chargingprofiles", interface="RECEIVER", server_role="CPO")),
    ("PUT", "/ocpi/2.3.0/hubclientinfo/NL/CPO", dict(module="hubclientinfo", version="2.3.0",
                                                     interface="RECEIVER")),
    ("GET", "/index.html", dict(module="")),
    ("GET", "/", dict(module="")),
]


@pytest.mark.parametrize(("method", "path", "expected"), CASES)
def test_parse_path(method, path, expected):
    route = parse_path(method, path.split("?")[0])
    for key, value in expected.items():
        assert getattr(route, key) == value, key


def test_command_request_is_the_receiver_interface():
    route = parse_path("POST", "/ocpi/cpo/2.2.1/commands/START_SESSION", has_response_url=True)
    assert (route.interface, route.server_role, route.ids["command"]) == (
        "RECEIVER", "CPO", "START_SESSION")
