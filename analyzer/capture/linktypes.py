"""The link types chargescope decodes, by LINKTYPE_ value (tcpdump.org/linktypes.html)."""

from __future__ import annotations

LINKTYPE_NAMES: dict[int, str] = {
    0: "NULL",  # BSD loopback
    1: "ETHERNET",
    12: "RAW",  # raw IP on some BSDs (DLT_RAW value leaking into files)
    14: "RAW",  # idem, OpenBSD
    101: "RAW",
    108: "LOOP",  # OpenBSD loopback
    113: "LINUX_SLL",
    228: "IPV4",
    229: "IPV6",
    227: "CAN_SOCKETCAN",  # CHAdeMO (IEEE 2030.1.1) link A, see analyzer/chademo
    276: "LINUX_SLL2",
}


def linktype_name(linktype: int) -> str:
    return LINKTYPE_NAMES.get(linktype, f"LINKTYPE_{linktype}")


def is_known(linktype: int) -> bool:
    return linktype in LINKTYPE_NAMES
