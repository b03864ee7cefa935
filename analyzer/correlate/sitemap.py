"""The site map: what the captures do not say about which charger is which.

A TOML file, one `[[charger]]` table per charging station with its `[[charger.evse]]`
entries, joining the identities the three links use::

    [[charger]]
    charge_point_id = "CP-0042"          # OCPP identity (WebSocket URL path)
    secc_mac = "02:00:00:00:00:01"       # optional: SECC MAC(s) seen on link A
    location_id = "LOC-1"                # optional: OCPI location id

    [[charger.evse]]
    connector = "1"                      # OCPP 1.6 connectorId, or 2.x "evseId" / "evseId:connectorId"
    evse_id = "DE*ABC*E0042*1"           # ISO 15118 EVSEID = OCPI evse_id
    evse_uid = "EVSE-42-1"               # optional: OCPI EVSE uid
    secc_mac = "02:00:00:00:00:01"       # optional: SECC MAC of this EVSE
    can_source = "leaf-chademo.log"      # optional: CAN recording(s) of this (CHAdeMO) EVSE

    [clock]                              # optional: known offsets of capture sources, seconds
    "charger-ocpp.pcapng" = -3.25        # add to that source's times to get reference time

Every EVSE resolves to a canonical site identity `"<charge_point_id>/<connector>"`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from chargescope.analyzer.correlate.keys import normalise


class SiteMapError(ValueError):
    """The site map file is not valid: the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class SiteEvse:
    charge_point_id: str
    connector: str
    evse_id: str = ""
    evse_uid: str = ""
    secc_macs: tuple[str, ...] = ()
    location_id: str = ""
    can_sources: tuple[str, ...] = ()  # CHAdeMO: file names of CAN recordings at this EVSE

    @property
    def identity(self) -> str:
        return f"{self.charge_point_id}/{self.connector}"


@dataclass(frozen=True, slots=True)
class SiteMap:
    evses: tuple[SiteEvse, ...] = ()
    clock_offsets_s: dict[str, float] = field(default_factory=dict)
    path: str = ""

    @classmethod
    def load(cls, path: str | Path) -> SiteMap:
        path = Path(path)
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise SiteMapError(f"{path}: cannot read site map: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise SiteMapError(f"{path}: not valid TOML: {exc}") from exc
        return cls.from_dict(doc, str(path))

    @classmethod
    def from_dict(cls, doc: dict, path: str = "<site map>") -> SiteMap:
        evses: list[SiteEvse] = []
        chargers = doc.get("charger", [])
        if not isinstance(chargers, list):
            raise SiteMapError(f"{path}: 'charger' must be an array of tables ([[charger]])")
        for n, charger in enumerate(chargers, 1):
            cp = str(charger.get("charge_point_id", "")).strip()
            if not cp:
                raise SiteMapError(f"{path}: charger #{n} has no charge_point_id")
            charger_macs = _macs(charger.get("secc_mac"))
            location = str(charger.get("location_id", ""))
            entries = charger.get("evse", [])
            if not isinstance(entries, list):
                raise SiteMapError(f"{path}: charger {cp!r}: 'evse' must be [[charger.evse]] tables")
            if not entries:  # a charger with one unnamed EVSE
                evses.append(SiteEvse(cp, "1", secc_macs=charger_macs, location_id=location))
            for m, evse in enumerate(entries, 1):
                connector = str(evse.get("connector", "")).strip()
                if not connector:
                    raise SiteMapError(f"{path}: charger {cp!r} evse #{m} has no connector")
                evses.append(SiteEvse(
                    charge_point_id=cp,
                    connector=connector,
                    evse_id=str(evse.get("evse_id", "")),
                    evse_uid=str(evse.get("evse_uid", "")),
                    secc_macs=_macs(evse.get("secc_mac")) or charger_macs,
                    location_id=str(evse.get("location_id", location)),
                    can_sources=_names(evse.get("can_source")),
                ))
        clock = doc.get("clock", {})
        if not isinstance(clock, dict):
            raise SiteMapError(f"{path}: [clock] must be a table of source = seconds")
        try:
            offsets = {str(k): float(v) for k, v in clock.items()}
        except (TypeError, ValueError) as exc:
            raise SiteMapError(f"{path}: [clock] values must be numbers of seconds") from exc
        return cls(tuple(evses), offsets, path)

    def resolve(self, link: str, keys: dict[str, str]) -> SiteEvse | None:
        """The site EVSE a link session's keys point at, or None."""
        if link == "B":
            cp = keys.get("charge_point_id", "")
            connector = _connector(keys.get("connector", ""))
            candidates = [e for e in self.evses if e.charge_point_id == cp]
            for evse in candidates:
                if _connector(evse.connector) == connector:
                    return evse
            return candidates[0] if len(candidates) == 1 else None
        evse_id = normalise("evse_id", keys.get("evse_id", ""))
        if evse_id:
            for evse in self.evses:
                if normalise("evse_id", evse.evse_id) == evse_id:
                    return evse
        if link == "C":
            uid = keys.get("evse_uid", "")
            for evse in self.evses:
                if uid and evse.evse_uid == uid:
                    return evse
        can_source = Path(keys.get("can_source", "")).name
        if can_source:
            matches = [e for e in self.evses if can_source in e.can_sources]
            if len(matches) == 1:
                return matches[0]
        mac = normalise("secc_mac", keys.get("secc_mac", ""))
        if mac:
            matches = [e for e in self.evses if mac in e.secc_macs]
            if len(matches) == 1:
                return matches[0]
        return None


def _names(value) -> tuple[str, ...]:
    """One file name or a list of them (only the name part is compared)."""
    if not value:
        return ()
    values = value if isinstance(value, list) else [value]
    return tuple(Path(str(v)).name for v in values)


def _macs(value) -> tuple[str, ...]:
    if not value:
        return ()
    values = value if isinstance(value, list) else [value]
    return tuple(normalise("secc_mac", v) for v in values)


def _connector(value: str) -> str:
    """OCPP 2.x evse '1:1' and 1.6 connector '1' compare on the EVSE/connector number."""
    value = str(value).strip()
    return value.split(":", 1)[0] if value else ""
