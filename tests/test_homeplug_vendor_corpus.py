"""Vendor MMEs of the corpus decode to named fields, nothing left as a raw body where a
public layout exists (see registry.py for the few octets that stay raw, and why)."""

from __future__ import annotations

import json

import pytest
from conftest import load_impl, twin_params
from homeplug_corpus import corpus_captures, homeplug_frames

from chargescope.dissectors.homeplug.mme import HomePlugDissector

DSPACE = [p for p in corpus_captures() if "DS5366" in p.name][:3]


@pytest.mark.parametrize("which", twin_params("homeplug"))
@pytest.mark.parametrize("path", DSPACE, ids=lambda p: p.name)
def test_dspace_diagnostics_are_text_with_json(path, which):
    dissector = HomePlugDissector(impl=load_impl("homeplug", which))
    texts = [m.fields["text"] for n, eth, ts in homeplug_frames(path)
             for m in dissector.feed(eth, ts_ns=ts, frame=n) if m.name == "DSPACE_DIAG.IND"]
    assert texts
    for text in texts:
        vendor, tool, version, title, payload = text.split("|", 4)
        assert (vendor, tool, version) == ("dSPACE SCS Diag", "dsV2Gshark", "v1") and title
        assert "HV Contactor" in json.loads(payload)


def test_hostile_text_payload_is_kept_not_raised():
    from chargescope.dissectors.homeplug.build import build_frame

    head = bytes([1]) + (0x8002).to_bytes(2, "little") + b"\x00\x00" + bytes.fromhex("644d70")
    expected = {b"": "", b"\xff\xfe|x": "\\xff\\xfe|x", b"abc\x00def": "abc",
                "°C".encode() * 3: "°C°C°C"}
    for body, text in expected.items():
        frame = build_frame("ff:ff:ff:ff:ff:ff", "64:4d:70:00:00:01", head + body)
        (message,) = HomePlugDissector().feed(frame)
        assert message.name == "DSPACE_DIAG.IND" and not message.problems
        assert message.fields["text"] == text


def test_module_reads_consume_exactly_what_their_lengths_say():
    """VS_MODULE_OPERATION reads (open-plc-utils ModuleRead.c): the confirmation's
    MOD_OP_DATA_LEN covers the 18-octet MODULE_SPEC plus MODULE_LENGTH octets of data,
    and nothing is left over."""
    seen = 0
    for path in corpus_captures():
        dissector = HomePlugDissector()
        for n, eth, ts in homeplug_frames(path):
            for m in dissector.feed(eth, ts_ns=ts, frame=n):
                if m.name != "VS_MODULE_OPERATION.CNF" or m.fields["mod_op"] not in (0, 1):
                    continue
                read = m.fields["module_read"]
                assert len(read["module_data"]) // 2 == read["module_length"]
                assert m.fields["mod_op_data_len"] == 18 + read["module_length"]
                assert m.fields["op_data"] == "" and not m.problems
                seen += 1
    if not seen:
        pytest.skip("no module reads in the corpus")
