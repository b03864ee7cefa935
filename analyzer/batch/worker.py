"""The batch worker: one group analysed into plain rows (runs on any Dask worker)."""

from __future__ import annotations

import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

from chargescope import __version__
from chargescope.analyzer.limits import DEFAULT_LIMITS, Limits


def _vendor_of(messages) -> dict[str, tuple[str, str]]:
    """charge point id -> (vendor, model) from BootNotification requests."""
    out: dict[str, tuple[str, str]] = {}
    for m in messages:
        if m.protocol != "ocpp" or m.fields.get("action") != "BootNotification":
            continue
        payload = m.fields.get("payload")
        if not isinstance(payload, dict) or m.fields.get("message_type") != "CALL":
            continue
        station = payload.get("chargingStation") if isinstance(payload.get("chargingStation"),
                                                               dict) else payload
        vendor = station.get("vendorName") or station.get("chargePointVendor") or ""
        model = station.get("model") or station.get("chargePointModel") or ""
        cp = str(m.fields.get("charge_point_id", ""))
        if vendor or model:
            out[cp] = (str(vendor), str(model))
    return out


def analyze_group(name: str, files: tuple[str, ...], site: str | None, key: str,
                  limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Analyse one group under `limits` (a frozen record, pickled to the worker);
    never raises: a failure comes back as status 'error'."""
    from chargescope.analyzer.analysis import analyze
    from chargescope.analyzer.correlate import SiteMap
    from chargescope.analyzer.export import rows

    started = time.perf_counter()
    base = {"group": name, "key": key, "version": __version__}
    try:
        result = analyze([Path(f) for f in files], SiteMap.load(site) if site else None,
                         keep_messages=True, limits=limits)
        tables = rows(result, frames=False, messages=False)
        vendors = _vendor_of(result.messages)
        for row in tables["sessions"]:
            cp = row.get("charge_point_id", "")
            vendor, model = vendors.get(cp, ("", ""))
            row["charger_vendor"], row["charger_model"] = vendor, model
            parts = [p for p in tables["link_sessions"] if p["session"] == row["index"]]
            row["secc_mac"] = next((_key(p, "secc_mac") for p in parts if _key(p, "secc_mac")), "")
            row["ev_mac"] = next((_key(p, "ev_mac") for p in parts if _key(p, "ev_mac")), "")
            errors = [f for f in tables["findings"]
                      if f["session"] == row["index"] and f["severity"] == "error"]
            row["first_error"] = errors[0]["code"] if errors else ""
        counts = Counter((str(m.link), m.protocol, m.name) for m in result.messages)
        summary = [{"link": link, "protocol": protocol, "name": msg_name, "count": n}
                   for (link, protocol, msg_name), n in sorted(counts.items())]
        out = {
            "sessions": tables["sessions"], "link_sessions": tables["link_sessions"],
            "findings": tables["findings"], "messages": summary, "problems": tables["problems"],
        }
        for table in out.values():
            for row in table:
                row.update(base)
        status = {"status": "ok", "error": "", "sessions": len(tables["sessions"]),
                  "messages": len(result.messages), "problems": len(tables["problems"])}
    except Exception as exc:  # a capture that breaks the analyzer must not stop a batch
        out = {}
        status = {"status": "error", "error": f"{type(exc).__name__}: {exc}\n"
                  + traceback.format_exc(limit=5), "sessions": 0, "messages": 0, "problems": 0}
    out["groups"] = [{**base, "files": "\n".join(files), "site": site or "", **status,
                      "seconds": time.perf_counter() - started}]
    return out


def _key(part: dict, name: str) -> str:
    import json

    return str(json.loads(part.get("keys") or "{}").get(name, ""))
