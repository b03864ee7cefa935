"""Pure checks over single OCPI objects and responses: (code, text, extra) tuples.

The state builder calls these with the object at hand and turns each tuple into a
registered Finding with its evidence; keeping them pure keeps them testable alone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from chargescope.analyzer.shapes import arr
from chargescope.dissectors.ocpi.paths import VERSIONS, parse_path

Check = tuple[str, str, dict[str, Any]]

ENERGY_TOLERANCE_KWH = 0.01  # 10 Wh: OCPI's default ENERGY step_size is 1 Wh
TIME_TOLERANCE_H = 1 / 60  # one minute
WITHDRAWN = {"2.0": "2.1.1", "2.1": "2.1.1", "2.2": "2.2.1"}  # published, then replaced


def parse_time(value: Any) -> datetime | None:
    """An OCPI DateTime as an aware datetime (no designator means UTC), or None."""
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _price(value: Any) -> tuple[float | None, float | None]:
    """(without taxes, with taxes) of a Price: 2.2.1 excl/incl_vat, 2.3.0 before_taxes +
    taxes[].amount, or (amount, None) for a 2.1.1 decimal."""
    if isinstance(value, dict):
        if "before_taxes" in value:
            before = _number(value.get("before_taxes"))
            taxes = [_number(t.get("amount")) for t in arr(value.get("taxes"))
                     if isinstance(t, dict)]
            known = [t for t in taxes if t is not None]
            return before, (before + sum(known) if before is not None and known else None)
        return _number(value.get("excl_vat")), _number(value.get("incl_vat"))
    return _number(value), None


def dimension_sums(cdr: dict) -> dict[str, float]:
    sums: dict[str, float] = {}
    for period in arr(cdr.get("charging_periods")):
        if not isinstance(period, dict):
            continue
        for dim in arr(period.get("dimensions")):
            if isinstance(dim, dict) and isinstance(dim.get("type"), str):
                volume = _number(dim.get("volume"))
                if volume is not None:
                    sums[dim["type"]] = sums.get(dim["type"], 0.0) + volume
    return sums


def check_cdr(cdr: dict) -> list[Check]:
    """Totals against charging periods, duration and costs (FIELD_NOTES pattern 13)."""
    out: list[Check] = []
    sums = dimension_sums(cdr)
    cid = cdr.get("id", "?")
    energy = _number(cdr.get("total_energy"))
    if energy is not None and "ENERGY" in sums and abs(sums["ENERGY"] - energy) > ENERGY_TOLERANCE_KWH:
        out.append(("ocpi.cdr.energy-mismatch",
                    f"CDR {cid}: total_energy {energy:g} kWh, ENERGY periods add up to "
                    f"{sums['ENERGY']:g} kWh", {"cdr_id": cid, "total_energy": energy,
                                                "periods_energy": sums["ENERGY"]}))
    total_time = _number(cdr.get("total_time"))
    if total_time is not None:
        if "TIME" in sums and abs(sums["TIME"] - total_time) > TIME_TOLERANCE_H:
            out.append(("ocpi.cdr.time-mismatch",
                        f"CDR {cid}: total_time {total_time:g} h, TIME periods add up to "
                        f"{sums['TIME']:g} h", {"cdr_id": cid, "total_time": total_time,
                                               "periods_time": sums["TIME"]}))
        start = parse_time(cdr.get("start_date_time"))
        end = parse_time(cdr.get("end_date_time") or cdr.get("stop_date_time"))
        if start and end:
            span = (end - start).total_seconds() / 3600
            if total_time - span > TIME_TOLERANCE_H:
                out.append(("ocpi.cdr.time-mismatch",
                            f"CDR {cid}: total_time {total_time:g} h is longer than end - start "
                            f"({span:g} h)", {"cdr_id": cid, "total_time": total_time,
                                              "span_hours": span}))
    parking = _number(cdr.get("total_parking_time"))
    if parking is not None and "PARKING_TIME" in sums and abs(
            sums["PARKING_TIME"] - parking) > TIME_TOLERANCE_H:
        out.append(("ocpi.cdr.parking-mismatch",
                    f"CDR {cid}: total_parking_time {parking:g} h, PARKING_TIME periods add "
                    f"up to {sums['PARKING_TIME']:g} h", {"cdr_id": cid}))
    out += _check_costs(cdr, cid)
    return out


def _check_costs(cdr: dict, cid: str) -> list[Check]:
    out: list[Check] = []
    excl, incl = _price(cdr.get("total_cost"))
    if excl is not None and incl is not None and incl + 1e-9 < excl:
        out.append(("ocpi.cdr.cost-inconsistent",
                    f"CDR {cid}: total_cost with taxes {incl:g} is below {excl:g} without",
                    {"cdr_id": cid}))
    parts = [_price(cdr.get(k))[0] for k in ("total_fixed_cost", "total_energy_cost",
                                              "total_time_cost", "total_parking_cost",
                                              "total_reservation_cost")]
    known = [p for p in parts if p is not None]
    if excl is not None and known and sum(known) - excl > 0.01:
        out.append(("ocpi.cdr.cost-inconsistent",
                    f"CDR {cid}: cost parts add up to {sum(known):g}, above total_cost "
                    f"excl_vat {excl:g}", {"cdr_id": cid, "parts": sum(known)}))
    return out


def check_versions(data: Any) -> list[Check]:
    """Version strings in a versions list (pattern 15: "2.1" for "2.1.1")."""
    out: list[Check] = []
    for entry in data if isinstance(data, list) else ():
        version = entry.get("version") if isinstance(entry, dict) else None
        if isinstance(version, str) and version not in VERSIONS:
            out.append(("ocpi.version.malformed",
                        f"version {version!r} is not a published OCPI version number",
                        {"version": version}))
        elif isinstance(version, str) and version in WITHDRAWN:
            out.append(("ocpi.version.malformed",
                        f"version {version!r} is a withdrawn number; parties that mean "
                        f"{WITHDRAWN[version]!r} fail string comparison", {"version": version}))
    return out


def check_credentials(body: Any, where: str) -> list[Check]:
    if not isinstance(body, dict) or not body:
        return [("ocpi.credentials.incomplete", f"{where}: empty credentials object", {})]
    missing = [k for k in ("token", "url") if not body.get(k)]
    if not body.get("roles") and not (body.get("party_id") and body.get("country_code")):
        missing.append("roles")
    if missing:
        return [("ocpi.credentials.incomplete",
                 f"{where}: credentials without {', '.join(missing)}", {"missing": missing})]
    return []


def next_link(link_header: str) -> str:
    """The URL of the rel="next" entry of a Link header, or ""."""
    for part in link_header.split(","):
        url, _, params = part.partition(";")
        if "next" in params.replace('"', "").replace(" ", "").split("rel=")[-1].split(";")[0]:
            return url.strip().strip("<>")
    return ""


def check_link(url: str, module: str) -> list[Check]:
    out: list[Check] = []
    split = urlsplit(url)
    query = parse_qs(split.query)
    if "limit" not in query:
        out.append(("ocpi.pagination.link-limit-missing",
                    f"next-page Link {url} has no limit parameter", {"next_link": url}))
    target = parse_path("GET", split.path)
    if target.module != module:
        out.append(("ocpi.pagination.link-invalid",
                    f"next-page Link {url} does not address the {module} module",
                    {"next_link": url}))
    return out
