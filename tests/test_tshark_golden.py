"""Golden comparison against tshark: per-frame addresses/ports/TCP fields, tcp.stream, and
TCP stream bytes per direction equal to ``tshark -q -z follow,tcp,raw,N``.

Corpus captures (a varied subset, to keep the suite fast; set CHARGESCOPE_GOLDEN_ALL=1
to run every capture in the corpus) and captures generated here with scapy.
"""

from __future__ import annotations

import os

import pytest
from conftest import CORPUS, corpus_path, twin_params
from scapy_frames import read_frames
from tshark_golden import compare_fields, compare_follow, need_tshark, our_view

SUBSET = [
    "uhi22+pyPLC/2022-12-13_compleo_powerdelivery230_no_load.pcapng",  # 91 streams
    "uhi22+pyPLC/2022-11-25_v0.2_alpi_SDP_ok_TCP_fail.pcapng",  # SYN retries after RST
    "uhi22+pyPLC/2023-04-19_westparkAlpi_pyPlc_lightbulb_1fail_1ok.pcapng",  # IPv4+IPv6
    "uhi22+pyPLC/2026-02-08_pyPLC_FoccciCape_AudiQ4_break_after_cableCheck.pcap",
    "EVerest+logfiles/Audi/Q4/dc-iso2.dump",  # 166 streams
    "EVerest+logfiles/BYD/Atto3/2023-04-18T15:31:50.525Z-2_config-dc-iso2/ethernet-traffic.dump",
    "dspace-group+dsV2Gshark/ISO-2_DC_PnC_TLS_Contract_DS5366_RiseV2G.pcapng",
    "zeloscloud+zelos-extension-v2g/v2g_din_session.pcap",
]


def _captures() -> list[str]:
    if os.environ.get("CHARGESCOPE_GOLDEN_ALL") and CORPUS.exists():
        found = sorted(p for p in (CORPUS / "pcaps").rglob("*")
                       if p.suffix in (".pcap", ".pcapng", ".dump"))
        return [str(p.relative_to(CORPUS / "pcaps")) for p in found]
    return SUBSET


@pytest.mark.parametrize("impl", twin_params("netdecode"))
@pytest.mark.parametrize("name", _captures())
def test_corpus_matches_tshark(name: str, impl: str) -> None:
    need_tshark()
    path = corpus_path("pcaps", *name.split("/"))
    view = our_view(read_frames(path), impl)
    assert compare_fields(path, view) > 0
    compare_follow(path, view)
