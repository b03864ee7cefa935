"""The event-staff view of a batch dataset: EV × charger matrix and top findings."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from chargescope.analyzer.batch.dataset import Dataset

MANUF_FILES = ("/usr/share/wireshark/manuf", "/usr/share/wireshark/manuf.txt")


@cache
def _manuf() -> dict[str, str]:
    """OUI -> vendor from Wireshark's manuf file when it is installed (tshark ships it)."""
    table: dict[str, str] = {}
    for name in MANUF_FILES:
        path = Path(name)
        if not path.is_file():
            continue
        for line in path.read_text(errors="replace").splitlines():
            parts = line.split("\t")
            if len(parts) >= 2 and len(parts[0]) == 8 and not line.startswith("#"):
                table[parts[0].upper()] = parts[2].strip() if len(parts) > 2 and parts[2] \
                    else parts[1].strip()
        break
    return table


def oui_label(mac_or_evccid: str) -> str:
    digits = "".join(ch for ch in str(mac_or_evccid) if ch in "0123456789abcdefABCDEF")
    if len(digits) < 6:
        return ""
    oui = ":".join(digits[i:i + 2] for i in range(0, 6, 2)).upper()
    if int(digits[1], 16) & 0x2:
        return f"{oui} (local)"  # a locally administered MAC names no vendor
    vendor = _manuf().get(oui)
    return f"{vendor} ({oui})" if vendor else oui


def ev_label(row) -> str:
    return oui_label(row["evccid"] or row["ev_mac"]) or "unknown EV"


def charger_label(row) -> str:
    if row["charger_vendor"] or row["charger_model"]:
        return f"{row['charger_vendor']} {row['charger_model']}".strip()
    return oui_label(row["secc_mac"]) or row["charge_point_id"] or "unknown charger"


def triage(root: str | Path):
    """(matrix, top findings) as DataFrames from a batch dataset.

    matrix: one row per (EV, charger) with sessions, successes, success rate and the
    most common failure code; top findings: code, severity and count over the dataset.
    """
    import pandas as pd

    dataset = Dataset(root)
    sessions = dataset.current("sessions")
    findings = dataset.current("findings")
    if sessions.empty:
        matrix = pd.DataFrame(columns=["ev", "charger", "sessions", "success", "success_rate",
                                       "top_failure"])
    else:
        sessions = sessions.assign(ev=sessions.apply(ev_label, axis=1),
                                   charger=sessions.apply(charger_label, axis=1))
        rows = []
        for (ev, charger), cell in sessions.groupby(["ev", "charger"], sort=True):
            failures = cell.loc[cell["verdict"] != "success", "first_error"]
            failures = failures[failures != ""]
            rows.append({
                "ev": ev, "charger": charger, "sessions": len(cell),
                "success": int((cell["verdict"] == "success").sum()),
                "success_rate": float((cell["verdict"] == "success").mean()),
                "top_failure": failures.value_counts().index[0] if len(failures) else "",
            })
        matrix = pd.DataFrame(rows)
    if findings.empty:
        top = pd.DataFrame(columns=["code", "severity", "count"])
    else:
        top = (findings.groupby(["code", "severity"]).size().reset_index(name="count")
               .sort_values(["count", "code"], ascending=[False, True]).reset_index(drop=True))
    return matrix, top
