"""The OCPI data model as tables, written from the specification's object tables.

No maintained PyPI package covers 2.1.1, 2.2.1 and 2.3.0 with the spec's
cardinalities and string lengths (the FastAPI implementations model what they
serve, leniently), so each object is a table of `F` rows: name, type, cardinality,
maximum length. One table per object per version line; 2.3.0 reuses 2.2.1's
tables for the objects it left unchanged and only overrides what changed.

`validate(obj, object_name, version)` returns `Violation`s naming the field path
and the rule broken. Unknown fields are not violations: OCPI tells receivers to
ignore them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# -- rules --------------------------------------------------------------------------

DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?$")
LATITUDE = re.compile(r"^-?[0-9]{1,2}\.[0-9]{5,7}$")
LONGITUDE = re.compile(r"^-?[0-9]{1,3}\.[0-9]{5,7}$")
CISTRING = re.compile(r"^[\x20-\x7e]*$")


@dataclass(frozen=True, slots=True)
class F:
    """One row of an object table: field `name` of `kind`, cardinality `card`.

    kind: "string", "cistring", "url", "datetime", "number", "int", "bool",
    "enum:<EnumName>", "obj:<ObjectName>", "lat", "lon", "any".
    card: "1" required, "?" optional, "*" optional list, "+" non-empty list.
    """

    name: str
    kind: str
    card: str = "1"
    max_len: int = 0


@dataclass(frozen=True, slots=True)
class Violation:
    path: str  # e.g. "data[3].evses[0].connectors[1].max_voltage"
    rule: str  # stable rule id: "required", "type", "enum", "max_length", "format", "empty"
    detail: str


# -- enumerations, per version line ------------------------------------------------------

ENUMS_211: dict[str, frozenset[str]] = {
    "LocationType": frozenset({"ON_STREET", "PARKING_GARAGE", "UNDERGROUND_GARAGE",
                               "PARKING_LOT", "OTHER", "UNKNOWN"}),
    "Status": frozenset({"AVAILABLE", "BLOCKED", "CHARGING", "INOPERATIVE", "OUTOFORDER",
                         "PLANNED", "REMOVED", "RESERVED", "UNKNOWN"}),
    "ConnectorFormat": frozenset({"SOCKET", "CABLE"}),
    "PowerType": frozenset({"AC_1_PHASE", "AC_3_PHASE", "DC"}),
    "SessionStatus": frozenset({"ACTIVE", "COMPLETED", "INVALID", "PENDING"}),
    "AuthMethod": frozenset({"AUTH_REQUEST", "WHITELIST"}),
    "CdrDimensionType": frozenset({"ENERGY", "FLAT", "MAX_CURRENT", "MIN_CURRENT",
                                   "PARKING_TIME", "TIME"}),
    "TokenType": frozenset({"OTHER", "RFID"}),
    "WhitelistType": frozenset({"ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER"}),
    "Allowed": frozenset({"ALLOWED", "BLOCKED", "EXPIRED", "NO_CREDIT", "NOT_ALLOWED"}),
    "CommandResponseType": frozenset({"NOT_SUPPORTED", "REJECTED", "ACCEPTED", "TIMEOUT",
                                      "UNKNOWN_SESSION"}),
    "TariffDimensionType": frozenset({"ENERGY", "FLAT", "PARKING_TIME", "TIME"}),
    "VersionNumber": frozenset({"2.0", "2.1", "2.1.1"}),
    "ModuleID": frozenset({"cdrs", "commands", "credentials", "locations", "sessions",
                           "tariffs", "tokens"}),
}
ENUMS_221: dict[str, frozenset[str]] = {
    **ENUMS_211,
    "PowerType": frozenset({"AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"}),
    "SessionStatus": frozenset({"ACTIVE", "COMPLETED", "INVALID", "PENDING", "RESERVATION"}),
    "AuthMethod": frozenset({"AUTH_REQUEST", "COMMAND", "WHITELIST"}),
    "CdrDimensionType": frozenset({"CURRENT", "ENERGY", "ENERGY_EXPORT", "ENERGY_IMPORT",
                                   "MAX_CURRENT", "MIN_CURRENT", "MAX_POWER", "MIN_POWER",
                                   "PARKING_TIME", "POWER", "RESERVATION_TIME",
                                   "STATE_OF_CHARGE", "TIME"}),
    "TokenType": frozenset({"AD_HOC_USER", "APP_USER", "OTHER", "RFID"}),
    "CommandResponseType": frozenset({"NOT_SUPPORTED", "REJECTED", "ACCEPTED",
                                      "UNKNOWN_SESSION"}),
    "CommandResultType": frozenset({"ACCEPTED", "CANCELED_RESERVATION", "EVSE_OCCUPIED",
                                    "EVSE_INOPERATIVE", "FAILED", "NOT_SUPPORTED", "REJECTED",
                                    "TIMEOUT", "UNKNOWN_RESERVATION"}),
    "TariffDimensionType": frozenset({"ENERGY", "FLAT", "PARKING_TIME", "TIME"}),
    "VersionNumber": frozenset({"2.0", "2.1", "2.1.1", "2.2", "2.2.1"}),
    "ModuleID": frozenset({"cdrs", "chargingprofiles", "commands", "credentials",
                           "hubclientinfo", "locations", "sessions", "tariffs", "tokens"}),
    "InterfaceRole": frozenset({"SENDER", "RECEIVER"}),
    "Role": frozenset({"CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP"}),
    "ParkingType": frozenset({"ALONG_MOTORWAY", "PARKING_GARAGE", "PARKING_LOT", "ON_DRIVEWAY",
                              "ON_STREET", "UNDERGROUND_GARAGE"}),
}
ENUMS_230: dict[str, frozenset[str]] = {
    **ENUMS_221,
    "VersionNumber": frozenset({"2.0", "2.1", "2.1.1", "2.2", "2.2.1", "2.3.0"}),
    "ModuleID": ENUMS_221["ModuleID"] | {"payments"},
    "Role": (ENUMS_221["Role"] - {"HUB"}) | {"PTP"},  # a hub is Credentials.hub_party_id
    "TokenType": ENUMS_221["TokenType"] | {"EMAID"},
    "TaxIncluded": frozenset({"YES", "NO", "N/A"}),
}

# -- object tables -------------------------------------------------------------------

_DISPLAY_TEXT = (F("language", "string", "1", 2), F("text", "string", "1", 512))
_PRICE_221 = (F("excl_vat", "number"), F("incl_vat", "number", "?"))
_GEO = (F("latitude", "lat", "1", 10), F("longitude", "lon", "1", 11))
_BUSINESS = (F("name", "string", "1", 100), F("website", "url", "?"), F("logo", "any", "?"))

_CONNECTOR_COMMON = (F("id", "cistring", "1", 36), F("standard", "string", "1"),
                     F("format", "enum:ConnectorFormat"), F("power_type", "enum:PowerType"))

OBJECTS_211: dict[str, tuple[F, ...]] = {
    "DisplayText": _DISPLAY_TEXT,
    "GeoLocation": _GEO,
    "BusinessDetails": _BUSINESS,
    "Version": (F("version", "enum:VersionNumber"), F("url", "url")),
    "Endpoint": (F("identifier", "enum:ModuleID"), F("url", "url")),
    "VersionDetails": (F("version", "enum:VersionNumber"), F("endpoints", "obj:Endpoint", "+")),
    "Credentials": (F("token", "string", "1", 64), F("url", "url"),
                    F("business_details", "obj:BusinessDetails"),
                    F("party_id", "cistring", "1", 3), F("country_code", "cistring", "1", 2)),
    "Connector": (*_CONNECTOR_COMMON, F("voltage", "int"), F("amperage", "int"),
                  F("tariff_id", "cistring", "?", 36), F("terms_and_conditions", "url", "?"),
                  F("last_updated", "datetime")),
    "EVSE": (F("uid", "cistring", "1", 39), F("evse_id", "cistring", "?", 48),
             F("status", "enum:Status"), F("connectors", "obj:Connector", "+"),
             F("floor_level", "string", "?", 4), F("coordinates", "obj:GeoLocation", "?"),
             F("physical_reference", "string", "?", 16), F("last_updated", "datetime")),
    "Location": (F("id", "cistring", "1", 39), F("type", "enum:LocationType"),
                 F("name", "string", "?", 255), F("address", "string", "1", 45),
                 F("city", "string", "1", 45), F("postal_code", "string", "1", 10),
                 F("country", "string", "1", 3), F("coordinates", "obj:GeoLocation"),
                 F("evses", "obj:EVSE", "*"), F("operator", "obj:BusinessDetails", "?"),
                 F("time_zone", "string", "?", 255), F("last_updated", "datetime")),
    "CdrDimension": (F("type", "enum:CdrDimensionType"), F("volume", "number")),
    "ChargingPeriod": (F("start_date_time", "datetime"),
                       F("dimensions", "obj:CdrDimension", "+")),
    "Session": (F("id", "cistring", "1", 36), F("start_datetime", "datetime"),
                F("end_datetime", "datetime", "?"), F("kwh", "number"),
                F("auth_id", "string", "1", 36), F("auth_method", "enum:AuthMethod"),
                F("location", "obj:Location"), F("meter_id", "string", "?", 255),
                F("currency", "string", "1", 3),
                F("charging_periods", "obj:ChargingPeriod", "*"),
                F("total_cost", "number", "?"), F("status", "enum:SessionStatus"),
                F("last_updated", "datetime")),
    "CDR": (F("id", "cistring", "1", 36), F("start_date_time", "datetime"),
            F("stop_date_time", "datetime"), F("auth_id", "string", "1", 36),
            F("auth_method", "enum:AuthMethod"), F("location", "obj:Location"),
            F("meter_id", "string", "?", 255), F("currency", "string", "1", 3),
            F("charging_periods", "obj:ChargingPeriod", "+"), F("total_cost", "number"),
            F("total_energy", "number"), F("total_time", "number"),
            F("total_parking_time", "number", "?"), F("remark", "string", "?", 255),
            F("last_updated", "datetime")),
    "Token": (F("uid", "cistring", "1", 36), F("type", "enum:TokenType"),
              F("auth_id", "string", "1", 36), F("visual_number", "string", "?", 64),
              F("issuer", "string", "1", 64), F("valid", "bool"),
              F("whitelist", "enum:WhitelistType"), F("language", "string", "?", 2),
              F("last_updated", "datetime")),
    "LocationReferences": (F("location_id", "cistring", "1", 39),
                           F("evse_uids", "cistring", "*", 39),
                           F("connector_ids", "cistring", "*", 36)),
    "AuthorizationInfo": (F("allowed", "enum:Allowed"),
                          F("location", "obj:LocationReferences", "?"),
                          F("info", "obj:DisplayText", "?")),
    "CommandResponse": (F("result", "enum:CommandResponseType"),
                        F("message", "obj:DisplayText", "*")),
    "PriceComponent": (F("type", "enum:TariffDimensionType"), F("price", "number"),
                       F("step_size", "int")),
    "TariffElement": (F("price_components", "obj:PriceComponent", "+"),
                      F("restrictions", "any", "?")),
    "Tariff": (F("id", "cistring", "1", 36), F("currency", "string", "1", 3),
               F("tariff_alt_text", "obj:DisplayText", "*"), F("tariff_alt_url", "url", "?"),
               F("elements", "obj:TariffElement", "+"), F("last_updated", "datetime")),
    "StartSession": (F("response_url", "url"), F("token", "obj:Token"),
                     F("location_id", "cistring", "1", 39), F("evse_uid", "cistring", "?", 39)),
    "StopSession": (F("response_url", "url"), F("session_id", "cistring", "1", 36)),
    "ReserveNow": (F("response_url", "url"), F("token", "obj:Token"),
                   F("expiry_date", "datetime"), F("reservation_id", "int"),
                   F("location_id", "cistring", "1", 39), F("evse_uid", "cistring", "?", 39)),
    "UnlockConnector": (F("response_url", "url"), F("location_id", "cistring", "1", 39),
                        F("evse_uid", "cistring", "1", 39),
                        F("connector_id", "cistring", "1", 36)),
}

_PARTY = (F("country_code", "cistring", "1", 2), F("party_id", "cistring", "1", 3))
OBJECTS_221: dict[str, tuple[F, ...]] = {
    **OBJECTS_211,
    "Endpoint": (F("identifier", "enum:ModuleID"), F("role", "enum:InterfaceRole"),
                 F("url", "url")),
    "CredentialsRole": (F("role", "enum:Role"), F("business_details", "obj:BusinessDetails"),
                        *_PARTY),
    "Credentials": (F("token", "string", "1", 64), F("url", "url"),
                    F("roles", "obj:CredentialsRole", "+")),
    "Price": _PRICE_221,
    "Connector": (*_CONNECTOR_COMMON, F("max_voltage", "int"), F("max_amperage", "int"),
                  F("max_electric_power", "int", "?"), F("tariff_ids", "cistring", "*", 36),
                  F("terms_and_conditions", "url", "?"), F("last_updated", "datetime")),
    "EVSE": (F("uid", "cistring", "1", 36), F("evse_id", "cistring", "?", 48),
             F("status", "enum:Status"), F("connectors", "obj:Connector", "+"),
             F("floor_level", "string", "?", 4), F("coordinates", "obj:GeoLocation", "?"),
             F("physical_reference", "string", "?", 16), F("last_updated", "datetime")),
    "Location": (*_PARTY, F("id", "cistring", "1", 36), F("publish", "bool"),
                 F("name", "string", "?", 255), F("address", "string", "1", 45),
                 F("city", "string", "1", 45), F("postal_code", "string", "?", 10),
                 F("state", "string", "?", 20), F("country", "string", "1", 3),
                 F("coordinates", "obj:GeoLocation"), F("parking_type", "enum:ParkingType", "?"),
                 F("evses", "obj:EVSE", "*"), F("operator", "obj:BusinessDetails", "?"),
                 F("time_zone", "string", "1", 255), F("last_updated", "datetime")),
    "CdrToken": (*_PARTY, F("uid", "cistring", "1", 36), F("type", "enum:TokenType"),
                 F("contract_id", "cistring", "1", 36)),
    "ChargingPeriod": (F("start_date_time", "datetime"),
                       F("dimensions", "obj:CdrDimension", "+"),
                       F("tariff_id", "cistring", "?", 36)),
    "Session": (*_PARTY, F("id", "cistring", "1", 36), F("start_date_time", "datetime"),
                F("end_date_time", "datetime", "?"), F("kwh", "number"),
                F("cdr_token", "obj:CdrToken"), F("auth_method", "enum:AuthMethod"),
                F("authorization_reference", "cistring", "?", 36),
                F("location_id", "cistring", "1", 36), F("evse_uid", "cistring", "1", 36),
                F("connector_id", "cistring", "1", 36), F("meter_id", "string", "?", 255),
                F("currency", "string", "1", 3),
                F("charging_periods", "obj:ChargingPeriod", "*"),
                F("total_cost", "obj:Price", "?"), F("status", "enum:SessionStatus"),
                F("last_updated", "datetime")),
    "CdrLocation": (F("id", "cistring", "1", 36), F("name", "string", "?", 255),
                    F("address", "string", "1", 45), F("city", "string", "1", 45),
                    F("postal_code", "string", "?", 10), F("country", "string", "1", 3),
                    F("coordinates", "obj:GeoLocation"), F("evse_uid", "cistring", "1", 36),
                    F("evse_id", "cistring", "1", 48), F("connector_id", "cistring", "1", 36),
                    F("connector_standard", "string"),
                    F("connector_format", "enum:ConnectorFormat"),
                    F("connector_power_type", "enum:PowerType")),
    "CDR": (*_PARTY, F("id", "cistring", "1", 39), F("start_date_time", "datetime"),
            F("end_date_time", "datetime"), F("session_id", "cistring", "?", 36),
            F("cdr_token", "obj:CdrToken"), F("auth_method", "enum:AuthMethod"),
            F("authorization_reference", "cistring", "?", 36),
            F("cdr_location", "obj:CdrLocation"), F("meter_id", "string", "?", 255),
            F("currency", "string", "1", 3), F("tariffs", "obj:Tariff", "*"),
            F("charging_periods", "obj:ChargingPeriod", "+"),
            F("total_cost", "obj:Price"), F("total_fixed_cost", "obj:Price", "?"),
            F("total_energy", "number"), F("total_energy_cost", "obj:Price", "?"),
            F("total_time", "number"), F("total_time_cost", "obj:Price", "?"),
            F("total_parking_time", "number", "?"), F("total_parking_cost", "obj:Price", "?"),
            F("total_reservation_cost", "obj:Price", "?"), F("remark", "string", "?", 255),
            F("credit", "bool", "?"), F("last_updated", "datetime")),
    "Token": (*_PARTY, F("uid", "cistring", "1", 36), F("type", "enum:TokenType"),
              F("contract_id", "cistring", "1", 36), F("visual_number", "string", "?", 64),
              F("issuer", "string", "1", 64), F("group_id", "cistring", "?", 36),
              F("valid", "bool"), F("whitelist", "enum:WhitelistType"),
              F("language", "string", "?", 2), F("last_updated", "datetime")),
    "LocationReferences": (F("location_id", "cistring", "1", 36),
                           F("evse_uids", "cistring", "*", 36)),
    "AuthorizationInfo": (F("allowed", "enum:Allowed"), F("token", "obj:Token"),
                          F("location", "obj:LocationReferences", "?"),
                          F("authorization_reference", "cistring", "?", 36),
                          F("info", "obj:DisplayText", "?")),
    "CommandResponse": (F("result", "enum:CommandResponseType"), F("timeout", "int"),
                        F("message", "obj:DisplayText", "*")),
    "CommandResult": (F("result", "enum:CommandResultType"),
                      F("message", "obj:DisplayText", "*")),
    "PriceComponent": (F("type", "enum:TariffDimensionType"), F("price", "number"),
                       F("vat", "number", "?"), F("step_size", "int")),
    "Tariff": (*_PARTY, F("id", "cistring", "1", 36), F("currency", "string", "1", 3),
               F("tariff_alt_text", "obj:DisplayText", "*"), F("tariff_alt_url", "url", "?"),
               F("min_price", "obj:Price", "?"), F("max_price", "obj:Price", "?"),
               F("elements", "obj:TariffElement", "+"), F("start_date_time", "datetime", "?"),
               F("end_date_time", "datetime", "?"), F("last_updated", "datetime")),
    "StartSession": (F("response_url", "url"), F("token", "obj:Token"),
                     F("location_id", "cistring", "1", 36), F("evse_uid", "cistring", "?", 36),
                     F("connector_id", "cistring", "?", 36),
                     F("authorization_reference", "cistring", "?", 36)),
    "StopSession": (F("response_url", "url"), F("session_id", "cistring", "1", 36)),
    "ReserveNow": (F("response_url", "url"), F("token", "obj:Token"),
                   F("expiry_date", "datetime"), F("reservation_id", "cistring", "1", 36),
                   F("location_id", "cistring", "1", 36), F("evse_uid", "cistring", "?", 36),
                   F("authorization_reference", "cistring", "?", 36)),
    "CancelReservation": (F("response_url", "url"), F("reservation_id", "cistring", "1", 36)),
    "UnlockConnector": (F("response_url", "url"), F("location_id", "cistring", "1", 36),
                        F("evse_uid", "cistring", "1", 36),
                        F("connector_id", "cistring", "1", 36)),
    "ClientInfo": (*_PARTY, F("role", "enum:Role"),
                   F("status", "string"), F("last_updated", "datetime")),
}
OBJECTS_230: dict[str, tuple[F, ...]] = {
    **OBJECTS_221,
    # 2.3.0 prices carry taxes as a list instead of excl/incl VAT, and tariffs say whether
    # their prices include taxes; the rest of the objects checked here is unchanged
    # (its new Payments module objects are recognised by module, not checked field by field).
    "TaxAmount": (F("name", "string"), F("account_number", "string", "?"),
                  F("percentage", "number", "?"), F("amount", "number")),
    "Price": (F("before_taxes", "number"), F("taxes", "obj:TaxAmount", "*")),
    "PriceLimit": (F("before_taxes", "number"), F("after_taxes", "number", "?")),
    "Tariff": tuple(F(f.name, "obj:PriceLimit", f.card) if f.name in ("min_price", "max_price")
                    else f for f in OBJECTS_221["Tariff"]) + (
        F("tax_included", "enum:TaxIncluded"),),
}

TABLES = {"2.1.1": (OBJECTS_211, ENUMS_211), "2.2.1": (OBJECTS_221, ENUMS_221),
          "2.3.0": (OBJECTS_230, ENUMS_230)}


def version_line(version: str) -> str:
    """The model line a version string is validated with (2.1 -> 2.1.1, 2.2 -> 2.2.1)."""
    if version.startswith("2.3"):
        return "2.3.0"
    if version.startswith("2.2"):
        return "2.2.1"
    if version.startswith(("2.1", "2.0")):
        return "2.1.1"
    return "2.2.1"


# -- validation ---------------------------------------------------------------------

def validate(obj: Any, object_name: str, version: str, *, path: str = "",
             partial: bool = False) -> list[Violation]:
    """Check `obj` against the table of `object_name` for `version`.

    `partial` is for PATCH bodies: only the fields present are checked, and
    `last_updated` is still required (OCPI: every PATCH carries it).
    """
    objects, enums = TABLES[version_line(version)]
    out: list[Violation] = []
    _check_object(obj, object_name, objects, enums, path or object_name, partial, out)
    return out


def _check_object(obj: Any, name: str, objects: dict, enums: dict, path: str, partial: bool,
                  out: list[Violation]) -> None:
    if not isinstance(obj, dict):
        out.append(Violation(path, "type", f"expected a {name} object, found "
                                           f"{_json_type(obj)}"))
        return
    for spec in objects[name]:
        here = f"{path}.{spec.name}"
        if spec.name not in obj or obj[spec.name] is None:
            required = spec.card in ("1", "+")
            if partial:
                required = spec.name == "last_updated"
            if required:
                out.append(Violation(here, "required", f"{name}.{spec.name} is required"))
            continue
        value = obj[spec.name]
        if spec.card in ("*", "+"):
            if not isinstance(value, list):
                out.append(Violation(here, "type", f"expected a list, found {_json_type(value)}"))
                continue
            if spec.card == "+" and not value:
                out.append(Violation(here, "empty", f"{name}.{spec.name} needs at least one "
                                                    "entry"))
            for i, item in enumerate(value):
                _check_value(item, spec, objects, enums, f"{here}[{i}]", out)
        else:
            _check_value(value, spec, objects, enums, here, out)


def _check_value(value: Any, spec: F, objects: dict, enums: dict, path: str,
                 out: list[Violation]) -> None:
    kind = spec.kind
    if kind == "any":
        return
    if kind.startswith("obj:"):
        _check_object(value, kind[4:], objects, enums, path, False, out)
        return
    if kind.startswith("enum:"):
        allowed = enums[kind[5:]]
        if not isinstance(value, str) or value not in allowed:
            out.append(Violation(path, "enum", f"{value!r} is not a {kind[5:]} value"))
        return
    if kind == "bool":
        if not isinstance(value, bool):
            out.append(Violation(path, "type", f"expected a boolean, found {_json_type(value)}"))
        return
    if kind in ("number", "int"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if kind == "int":
            ok = ok and float(value).is_integer()
        if not ok:
            out.append(Violation(path, "type", f"expected {'an integer' if kind == 'int' else 'a number'}, "
                                               f"found {_json_type(value)}"))
        return
    if not isinstance(value, str):
        out.append(Violation(path, "type", f"expected a string, found {_json_type(value)}"))
        return
    if spec.max_len and len(value) > spec.max_len:
        out.append(Violation(path, "max_length",
                             f"{len(value)} characters, over the maximum of {spec.max_len}"))
    if kind == "cistring" and not CISTRING.match(value):
        out.append(Violation(path, "format", "CiString allows printable ASCII only"))
    elif kind == "datetime":
        match = DATETIME.match(value)
        if not match:
            out.append(Violation(path, "format", f"{value!r} is not an RFC 3339 date-time"))
        elif match.group(2) and match.group(2) != "Z" and match.group(2) not in (
                "+00:00", "-00:00"):
            out.append(Violation(path, "timezone", f"{value!r} is not in UTC"))
    elif kind == "lat" and not LATITUDE.match(value):
        out.append(Violation(path, "format", f"{value!r} does not match -?[0-9]{{1,2}}\\.[0-9]{{5,7}}"))
    elif kind == "lon" and not LONGITUDE.match(value):
        out.append(Violation(path, "format", f"{value!r} does not match -?[0-9]{{1,3}}\\.[0-9]{{5,7}}"))
    elif kind == "url" and not value.startswith(("http://", "https://")):
        out.append(Violation(path, "format", f"{value!r} is not an absolute http(s) URL"))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
