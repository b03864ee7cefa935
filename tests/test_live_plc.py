"""PLC management frames the live mode sends, checked byte for byte."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from chargescope.analyzer.capture.reader import open_capture
from chargescope.analyzer.live.plc import (
    QCA_LOCAL,
    PlcJoiner,
    match_keys,
    nid_from_nmk,
    set_key_request,
    sniffer_request,
)
from chargescope.analyzer.records import Frame
from chargescope.dissectors.homeplug.mme import decode_mme

DEMO = Path(__file__).resolve().parent.parent / "captures" / "demo"
HOST = "02:00:00:00:00:07"
NMK = bytes(range(0xA0, 0xB0))


def _mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def test_nid_of_the_homeplug_default_key() -> None:
    # NMK of the passphrase "HomePlugAV" and the NID every HomePlug AV tool shows for it
    nmk = bytes.fromhex("50d3e4933f855b7040784df815aa8db7")
    assert nid_from_nmk(nmk).hex() == "b0f2e695666b03"
    assert nid_from_nmk(nmk, 1)[-1] >> 4 == 1


def test_set_key_request_byte_for_byte() -> None:
    nid = bytes.fromhex("11223344556677")
    expected = (_mac(QCA_LOCAL) + _mac(HOST) + b"\x88\xe1"
                + b"\x01" + struct.pack("<H", 0x6008) + b"\x00\x00"  # MMV 1, MMTYPE, FMI
                + b"\x01"  # key type: NMK
                + b"\x00" * 4 + b"\x00" * 4  # my nonce, your nonce
                + b"\x04" + b"\x00\x00" + b"\x00"  # PID (HLE), PRN, PMN
                + b"\x00"  # CCo capability
                + nid + b"\x01" + NMK)  # NID, new EKS, new key
    expected = expected.ljust(60, b"\x00")
    assert set_key_request(HOST, NMK, nid) == expected
    message = decode_mme(expected[14:])
    assert message.name.startswith("CM_SET_KEY") and message.ok
    assert set_key_request(HOST, NMK)[33:40] == nid_from_nmk(NMK)
    with pytest.raises(ValueError):
        set_key_request(HOST, NMK[:15])


def test_sniffer_request_byte_for_byte() -> None:
    expected = (_mac(QCA_LOCAL) + _mac(HOST) + b"\x88\xe1" + b"\x00"
                + struct.pack("<H", 0xA034) + b"\x00\xb0\x52" + b"\x01" + b"\x00" * 4)
    assert sniffer_request(HOST, True) == expected.ljust(60, b"\x00")
    assert sniffer_request(HOST, False)[20] == 0


def test_joiner_sends_one_set_key_per_network_and_never_prints_the_key() -> None:
    sent: list[bytes] = []
    said: list[str] = []
    joiner = PlcJoiner(HOST, sent.append, said.append)
    matches = []
    with open_capture(DEMO / "auth-rejected-b-linkA-plc.pcapng") as cap:
        for frame in cap.frames():
            if match_keys(frame.data):
                matches.append(match_keys(frame.data))
            joiner.on_frame(frame)
            joiner.on_frame(frame)  # a repeated CNF does not send twice
    assert matches and len(sent) == len({nid for nid, _ in matches})
    for (nid, nmk), frame in zip(dict(matches).items(), sent, strict=True):
        assert frame == set_key_request(HOST, nmk, nid)
    text = "\n".join(said)
    assert all(nmk.hex() not in text.lower() for _, nmk in matches)


def test_match_keys_ignores_other_and_short_frames() -> None:
    assert match_keys(b"") is None
    assert match_keys(b"\x00" * 12 + b"\x88\xe1" + b"\x01\x7d\x60") is None
    frame = Frame(1, 0, 1, sniffer_request(HOST, True), 60)
    assert match_keys(frame.data) is None
