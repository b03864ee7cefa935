"""The OCPI object tables: valid objects pass, each rule is caught, hostile JSON never raises."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chargescope.dissectors.ocpi.model import TABLES, validate, version_line

NOW = "2026-11-25T10:00:00Z"
CONNECTOR_221 = {"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET",
                 "power_type": "AC_3_PHASE", "max_voltage": 400, "max_amperage": 32,
                 "last_updated": NOW}
LOCATION_221 = {"country_code": "NL", "party_id": "CPO", "id": "LOC1", "publish": True,
                "address": "Street 1", "city": "Arnhem", "country": "NLD",
                "coordinates": {"latitude": "51.98000", "longitude": "5.91100"},
                "evses": [{"uid": "E1", "status": "AVAILABLE", "connectors": [CONNECTOR_221],
                           "last_updated": NOW}],
                "time_zone": "Europe/Amsterdam", "last_updated": NOW}
SESSION_211 = {"id": "S1", "start_datetime": NOW, "kwh": 1.5, "auth_id": "A1",
               "auth_method": "WHITELIST", "location": {
                   "id": "LOC1", "type": "ON_STREET", "address": "Street 1", "city": "Arnhem",
                   "postal_code": "6811", "country": "NLD",
                   "coordinates": {"latitude": "51.98000", "longitude": "5.91100"},
                   "last_updated": NOW},
               "currency": "EUR", "status": "ACTIVE", "last_updated": NOW}
TOKEN_221 = {"country_code": "NL", "party_id": "EMS", "uid": "RFID1", "type": "RFID",
             "contract_id": "NL-EMS-C1", "issuer": "EMSP", "valid": True,
             "whitelist": "ALLOWED", "last_updated": NOW}


def rules(violations):
    return sorted((v.path, v.rule) for v in violations)


def test_valid_objects_pass():
    assert validate(LOCATION_221, "Location", "2.2.1") == []
    assert validate(SESSION_211, "Session", "2.1.1") == []
    assert validate(TOKEN_221, "Token", "2.2.1") == []
    assert validate(TOKEN_221, "Token", "2.3.0") == []


def test_each_rule_is_named():
    bad = copy.deepcopy(LOCATION_221)
    del bad["city"]
    bad["publish"] = "yes"
    bad["coordinates"]["latitude"] = "51.98"
    bad["evses"][0]["status"] = "FREE"
    bad["evses"][0]["connectors"][0]["max_voltage"] = 400.5
    bad["address"] = "x" * 46
    bad["last_updated"] = "yesterday"
    assert rules(validate(bad, "Location", "2.2.1")) == [
        ("Location.address", "max_length"),
        ("Location.city", "required"),
        ("Location.coordinates.latitude", "format"),
        ("Location.evses[0].connectors[0].max_voltage", "type"),
        ("Location.evses[0].status", "enum"),
        ("Location.last_updated", "format"),
        ("Location.publish", "type"),
    ]


def test_versions_differ():
    # a 2.2.1 Session validated as 2.1.1 misses 2.1.1's fields, and the reverse
    session_221 = {"country_code": "NL", "party_id": "CPO", "id": "S1", "start_date_time": NOW,
                   "kwh": 0, "cdr_token": {"country_code": "NL", "party_id": "EMS", "uid": "U",
                                           "type": "RFID", "contract_id": "C"},
                   "auth_method": "COMMAND", "location_id": "L", "evse_uid": "E",
                   "connector_id": "1", "currency": "EUR", "status": "RESERVATION",
                   "last_updated": NOW}
    assert validate(session_221, "Session", "2.2.1") == []
    found = rules(validate(session_221, "Session", "2.1.1"))
    assert ("Session.auth_method", "enum") in found  # COMMAND is 2.2 only
    assert ("Session.status", "enum") in found  # RESERVATION is 2.2 only
    assert ("Session.location", "required") in found


def test_patch_checks_present_fields_and_last_updated():
    assert validate({"kwh": 2.0, "last_updated": NOW}, "Session", "2.2.1", partial=True) == []
    assert rules(validate({"kwh": "2"}, "Session", "2.2.1", partial=True)) == [
        ("Session.kwh", "type"), ("Session.last_updated", "required")]


def test_non_utc_offset_is_its_own_rule():
    token = dict(TOKEN_221, last_updated="2026-11-25T11:00:00+01:00")
    assert rules(validate(token, "Token", "2.2.1")) == [("Token.last_updated", "timezone")]
    assert validate(dict(TOKEN_221, last_updated="2026-11-25T10:00:00.123+00:00"),
                    "Token", "2.2.1") == []


def test_non_empty_lists():
    cdr_like = {"price_components": []}
    assert ("TariffElement.price_components", "empty") in rules(
        validate(cdr_like, "TariffElement", "2.2.1"))


@pytest.mark.parametrize(("given", "line"), [("2.1", "2.1.1"), ("2.1.1", "2.1.1"),
                                             ("2.2", "2.2.1"), ("2.3.0", "2.3.0"),
                                             ("", "2.2.1")])
def test_version_line(given, line):
    assert version_line(given) == line


def test_every_object_reference_resolves():
    for objects, enums in TABLES.values():
        for fields in objects.values():
            for spec in fields:
                if spec.kind.startswith("obj:"):
                    assert spec.kind[4:] in objects
                if spec.kind.startswith("enum:"):
                    assert spec.kind[5:] in enums


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                    | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.sampled_from(["id", "uid", "evses", "connectors",
                                                       "status", "kwh", "coordinates",
                                                       "charging_periods", "dimensions",
                                                       "token", "last_updated"]) | st.text(max_size=5),
                                      inner, max_size=6), max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(JSON, st.sampled_from(["Location", "Session", "CDR", "Token", "CommandResult",
                              "Credentials", "Tariff", "AuthorizationInfo"]),
       st.sampled_from(["2.1.1", "2.2.1", "2.3.0"]))
def test_hostile_json_never_raises(value, name, version):
    objects, _ = TABLES[version]
    if name not in objects:
        return
    for violation in validate(value, name, version):
        assert violation.rule in ("required", "type", "enum", "max_length", "format", "empty",
                                  "timezone")


def test_230_prices_and_tariffs():
    price = {"before_taxes": 3.0, "taxes": [{"name": "VAT", "percentage": 21, "amount": 0.63}]}
    assert validate(price, "Price", "2.3.0") == []
    assert rules(validate({"excl_vat": 3.0}, "Price", "2.3.0")) == [("Price.before_taxes",
                                                                     "required")]
    tariff = {"country_code": "NL", "party_id": "CPO", "id": "T1", "currency": "EUR",
              "tax_included": "NO", "max_price": {"before_taxes": 10},
              "elements": [{"price_components": [{"type": "ENERGY", "price": 0.3,
                                                  "step_size": 1}]}],
              "last_updated": NOW}
    assert validate(tariff, "Tariff", "2.3.0") == []
    assert ("Tariff.tax_included", "required") in rules(
        validate({k: v for k, v in tariff.items() if k != "tax_included"}, "Tariff", "2.3.0"))
    assert validate(dict(TOKEN_221, type="EMAID"), "Token", "2.3.0") == []
    assert rules(validate(dict(TOKEN_221, type="EMAID"), "Token", "2.2.1")) == [
        ("Token.type", "enum")]
