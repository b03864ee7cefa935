"""PLC sniffer dongles (QCA7000/7005/7420): join the EV<->EVSE logical network and
switch a modem's sniffer mode, by building the management frames the host sends to its
local modem over Ethernet.

The NMK is a secret: it is taken from CM_SLAC_MATCH.CNF or `--nmk`, used to build one
CM_SET_KEY.REQ and never printed (callers show `key_fingerprint`).
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Callable
from pathlib import Path

from chargescope.analyzer.records import Frame
from chargescope.dissectors.homeplug.build import build_frame, build_mme
from chargescope.dissectors.homeplug.registry import ETHERTYPE_HOMEPLUG

# Qualcomm modems answer local management MMEs sent to this address (open-plc-utils'
# "local device"), whatever their own MAC: what a sniffer dongle's host talks to
QCA_LOCAL = "00:b0:52:00:00:01"
MMTYPE_SLAC_MATCH_CNF = 0x607D
MMTYPE_SET_KEY_REQ = 0x6008
MMTYPE_VS_SNIFFER_REQ = 0xA034
KEY_TYPE_NMK = 1
PID_HLE = 4  # ISO 15118-3 Table A.8: protocol id of the HLE (SLAC) key exchange
SECURITY_LEVEL_SC = 0  # simple connect, what ISO 15118-3 networks use
NMK_LEN = 16
NID_LEN = 7
# CM_SLAC_MATCH.CNF, offsets in the Ethernet frame (HomePlug header with FMI: 19 octets)
_MATCH_NID = 85
_MATCH_NMK = 93


def nid_from_nmk(nmk: bytes, level: int = SECURITY_LEVEL_SC) -> bytes:
    """HomePlug AV NID of an NMK: SHA-256 of the key, rehashed four times; 52 bits of it
    with the security level in bits 4-5 of the last octet."""
    if len(nmk) != NMK_LEN:
        raise ValueError(f"NMK must be {NMK_LEN} octets, got {len(nmk)}")
    digest = hashlib.sha256(nmk).digest()
    for _ in range(4):
        digest = hashlib.sha256(digest).digest()
    nid = bytearray(digest[:NID_LEN])
    nid[-1] = (nid[-1] >> 4) | ((level & 0x03) << 4)
    return bytes(nid)


def set_key_request(host: str, nmk: bytes, nid: bytes | None = None,
                    modem: str = QCA_LOCAL) -> bytes:
    """CM_SET_KEY.REQ putting the local modem on the network of `nmk` (ISO 15118-3 A.8)."""
    if len(nmk) != NMK_LEN:
        raise ValueError(f"NMK must be {NMK_LEN} octets, got {len(nmk)}")
    nid = nid if nid is not None else nid_from_nmk(nmk)
    mme = build_mme(MMTYPE_SET_KEY_REQ, key_type=KEY_TYPE_NMK, pid=PID_HLE, new_eks=1,
                    nid=nid.hex(), new_key=nmk.hex())
    return build_frame(modem, host, mme)


def sniffer_request(host: str, enable: bool, modem: str = QCA_LOCAL) -> bytes:
    """VS_SNIFFER.REQ switching the Qualcomm modem's sniffer mode on or off."""
    return build_frame(modem, host, build_mme(MMTYPE_VS_SNIFFER_REQ, mmv=0,
                                              control=1 if enable else 0))


def match_keys(frame: bytes) -> tuple[bytes, bytes] | None:
    """(NID, NMK) of a CM_SLAC_MATCH.CNF frame, None for any other or a short frame."""
    if len(frame) < _MATCH_NMK + NMK_LEN or frame[12:14] != ETHERTYPE_HOMEPLUG.to_bytes(2, "big"):
        return None
    if int.from_bytes(frame[15:17], "little") != MMTYPE_SLAC_MATCH_CNF:
        return None
    return frame[_MATCH_NID:_MATCH_NID + NID_LEN], frame[_MATCH_NMK:_MATCH_NMK + NMK_LEN]


def key_fingerprint(nmk: bytes) -> str:
    """What may be shown of an NMK: enough to tell two apart, nothing to recover it."""
    return hashlib.sha256(b"chargescope-nmk\0" + nmk).hexdigest()[:8]


class PlcJoiner:
    """Watches live frames; on each new CM_SLAC_MATCH.CNF sends one CM_SET_KEY.REQ so
    the local modem joins that EV<->EVSE network (opt-in: `chargescope live --plc-join`)."""

    def __init__(self, host: str, send: Callable[[bytes], None],
                 report: Callable[[str], None], modem: str = QCA_LOCAL) -> None:
        self.host, self.modem = host, modem
        self._send, self._report = send, report
        self.joined: list[bytes] = []  # NIDs, in order

    def join(self, nmk: bytes, nid: bytes | None = None) -> None:
        frame = set_key_request(self.host, nmk, nid, self.modem)
        nid = frame[33:33 + NID_LEN]
        if nid in self.joined:
            return
        self._send(frame)
        self.joined.append(nid)
        self._report(f"plc: CM_SET_KEY.REQ sent to {self.modem}: network NID {nid.hex()} "
                     f"(NMK fingerprint {key_fingerprint(nmk)})")

    def on_frame(self, frame: Frame) -> None:
        keys = match_keys(frame.data)
        if keys is not None:
            self.join(keys[1], keys[0])


def interface_mac(iface: str) -> str:
    """The interface's own MAC (Linux sysfs); the zero MAC when it cannot be read."""
    try:
        return Path(f"/sys/class/net/{iface}/address").read_text().strip()
    except OSError:
        return "00:00:00:00:00:00"


def raw_sender(iface: str) -> Callable[[bytes], None]:
    """Send whole Ethernet frames on `iface` (AF_PACKET, Linux; needs CAP_NET_RAW)."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((iface, 0))
    return sock.send
