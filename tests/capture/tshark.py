"""tshark as the reference reader: per-frame number, timestamp (ns), lengths, interface."""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

import pytest

TSHARK = shutil.which("tshark")
CAPINFOS = shutil.which("capinfos")
needs_tshark = pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
needs_capinfos = pytest.mark.skipif(CAPINFOS is None, reason="capinfos (wireshark) not installed")


@functools.cache
def tshark_frames(path: Path) -> list[tuple[int, int, int, int, int]]:
    """(number, ts_ns, caplen, wirelen, interface) per packet, as tshark reads the file.

    tshark 4.0's interface_id counts from 0 in every pcapng section; see `section_local`.
    """
    fields = ["frame.number", "frame.time_epoch", "frame.cap_len", "frame.len",
              "frame.interface_id"]
    cmd = [TSHARK, "-n", "-r", str(path), "-T", "fields", "-E", "separator=\t"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    rows = []
    for line in out.splitlines():
        number, epoch, caplen, wirelen, iface = line.split("\t")
        if not epoch and not iface:  # a record that is not a packet (pcapng custom block)
            continue
        # a Simple Packet Block has no timestamp: tshark shows none, we say 0
        rows.append((int(number), epoch_ns(epoch) if epoch else 0, int(caplen), int(wirelen),
                     int(iface or 0)))
    return rows


def epoch_ns(text: str) -> int:
    """'1718095756.191251300' -> ns, exactly (no float)."""
    sec, _, frac = text.partition(".")
    negative = sec.startswith("-")
    value = abs(int(sec)) * 1_000_000_000 + int((frac + "000000000")[:9])
    return -value if negative else value


def section_local(cap, interface: int) -> int:
    """Our file-wide interface index as tshark 4.0 numbers it (per section)."""
    iface = cap.interfaces[interface]
    return interface - min(i.index for i in cap.interfaces if i.section == iface.section)


@functools.cache
def capinfos_table(paths: tuple[Path, ...]) -> dict[str, tuple[int, int, int, int]]:
    """path -> (frames, data bytes, earliest ts_ns, latest ts_ns), one capinfos run for all."""
    cmd = [CAPINFOS, "-T", "-r", "-c", "-d", "-a", "-e", "-S", *map(str, paths)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300).stdout
    table = {}
    for line in out.splitlines():
        name, frames, size, first, last = line.split("\t")
        table[name] = (int(frames), int(size), epoch_ns(first), epoch_ns(last))
    return table
