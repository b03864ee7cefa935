"""The batch dataset: one directory per table, Parquet part files with fixed schemas.

    DATASET/
      groups/part-00000.parquet      one row per analysed group: key, version, status, error
      sessions/part-00000.parquet    one row per charging session (+ group, key, version)
      link_sessions/ findings/ messages/ problems/

`pandas.read_parquet("DATASET/sessions")` (or DuckDB's `read_parquet('DATASET/sessions/*.parquet')`)
loads a table. Every part has the same columns and types, whatever its content.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

S, N, F = "string", "int64", "float64"  # text, integer, float columns
_COMMON = {"group": S, "key": S, "version": S}
TABLES: dict[str, dict[str, str]] = {
    "groups": {**_COMMON, "files": S, "site": S, "status": S, "error": S, "sessions": N,
               "messages": N, "problems": N, "seconds": F},
    "sessions": {**_COMMON, "index": N, "verdict": S, "verdict_reason": S, "start_ns": N,
                 "end_ns": N, "links": S, "confidence": F, "join_keys": S, "n_findings": N,
                 "worst_severity": S, "evccid": S, "evse_id": S, "emaid": S, "id_token": S,
                 "charge_point_id": S, "transaction_id": S, "ocpi_session_id": S,
                 "charger_vendor": S, "charger_model": S, "secc_mac": S, "ev_mac": S,
                 "first_error": S},
    "link_sessions": {**_COMMON, "session": N, "link": S, "kind": S, "id": S, "source": S,
                      "protocol": S, "start_ns": N, "end_ns": N, "outcome": S, "stage": S,
                      "energy_wh": F, "stop_reason": S, "keys": S},
    "findings": {**_COMMON, "session": N, "code": S, "severity": S, "link": S, "ts_ns": N,
                 "text": S, "requirement": S, "evidence": S},
    "messages": {**_COMMON, "link": S, "protocol": S, "name": S, "count": N},
    "problems": {**_COMMON, "kind": S, "detail": S, "source": S, "frame": N, "offset": N,
                 "where": S},
}


class Dataset:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _next_part(self, table: str) -> Path:
        folder = self.root / table
        folder.mkdir(parents=True, exist_ok=True)
        n = len(list(folder.glob("part-*.parquet")))
        return folder / f"part-{n:05d}.parquet"

    def write(self, tables: dict[str, list[dict[str, Any]]]) -> None:
        """Append one part per table. The groups part goes last: a group counts as done
        only once its rows are on disk, so an interrupted batch redoes it."""
        for name in [t for t in TABLES if t != "groups"] + ["groups"]:
            rows = tables.get(name, [])
            if not rows and name != "groups":
                continue
            frame = _frame(name, rows)
            frame.to_parquet(self._next_part(name), index=False)

    def read(self, table: str):
        import pandas as pd

        folder = self.root / table
        parts = sorted(folder.glob("part-*.parquet")) if folder.is_dir() else []
        if not parts:
            return _frame(table, [])
        return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)

    def current(self, table: str):
        """`table`'s rows of each group's latest analysis only. A dataset keeps every run:
        a group analysed again (another chargescope version, other caps, changed content,
        a retried failure) has rows from each run, which must not count twice."""
        latest = self.read("groups").drop_duplicates("group", keep="last")
        if table == "groups":
            return latest.reset_index(drop=True)
        rows = self.read(table)
        if rows.empty:
            return rows
        runs = set(zip(latest["group"], latest["key"], latest["version"], strict=True))
        keep = [run in runs for run in zip(rows["group"], rows["key"], rows["version"],
                                           strict=True)]
        return rows[keep].reset_index(drop=True)

    def done(self, version: str, retry_failed: bool = False) -> set[str]:
        """Keys of groups already analysed by this chargescope version."""
        groups = self.read("groups")
        if groups.empty:
            return set()
        mask = groups["version"] == version
        if retry_failed:
            mask &= groups["status"] == "ok"
        return set(groups.loc[mask, "key"])


def _frame(table: str, rows: list[dict[str, Any]]):
    import pandas as pd

    columns = TABLES[table]
    frame = pd.DataFrame.from_records([{c: row.get(c) for c in columns} for row in rows],
                                      columns=list(columns))
    for column, dtype in columns.items():
        if dtype == S:
            frame[column] = frame[column].fillna("").astype(str).astype("string")
        elif dtype == N:
            frame[column] = frame[column].fillna(0).astype("int64")
        else:
            frame[column] = frame[column].astype("float64")
    return frame
