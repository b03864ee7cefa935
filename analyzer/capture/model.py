"""Records and constants of the capture reader: interfaces, secrets, names, statistics.

The frames themselves are `chargescope.analyzer.records.Frame`; problems are
`chargescope.analyzer.records.Problem` with the stable `kind` codes listed here.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- file magics -------------------------------------------------------------------------
PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BYTE_ORDER_MAGIC = 0x1A2B3C4D
GZIP_MAGIC = b"\x1f\x8b"

# --- pcapng block types --------------------------------------------------------------------
BLOCK_IDB = 0x00000001
BLOCK_PB = 0x00000002  # obsolete Packet Block
BLOCK_SPB = 0x00000003
BLOCK_NRB = 0x00000004
BLOCK_ISB = 0x00000005
BLOCK_EPB = 0x00000006
BLOCK_DSB = 0x0000000A
BLOCK_CUSTOM = 0x00000BAD
BLOCK_CUSTOM_NOCOPY = 0x40000BAD

# Decryption Secrets Block secret types (pcapng spec, section 4.7)
SECRETS_TLS_KEY_LOG = 0x544C534B  # "TLSK": NSS key log lines
SECRETS_WIREGUARD = 0x57474B4C
SECRETS_ZIGBEE_NWK = 0x5A4E574B
SECRETS_ZIGBEE_APS = 0x5A415053

# Largest record we accept before calling a length field implausible. Wireshark's limit for
# most link types is 262144 bytes; pcapng blocks may be larger (options, big DSBs).
MAX_CAPLEN = 262144
MAX_BLOCK = 16 * 1024 * 1024 + 4096

# Problem kinds (stable codes: tests and tools match on them, never rename)
P_NOT_CAPTURE = "capture.format.unknown"
P_EMPTY = "capture.file.empty"
P_GZIP = "capture.gzip.corrupt"
P_CONVERTED = "capture.converted"  # a note: the file was read through tshark
P_PCAP_HEADER = "pcap.header.truncated"
P_PCAP_LINKTYPE = "pcap.linktype.unknown"
P_PCAP_RECORD_LENGTH = "pcap.record.bad_length"
P_PCAP_RECORD_TRUNCATED = "pcap.record.truncated"
P_PCAP_RESYNC = "pcap.resync"
P_PCAPNG_BLOCK_LENGTH = "pcapng.block.bad_length"
P_PCAPNG_BLOCK_TRAILER = "pcapng.block.trailer_mismatch"
P_PCAPNG_BLOCK_TRUNCATED = "pcapng.block.truncated"
P_PCAPNG_BLOCK_BODY = "pcapng.block.bad_body"
P_PCAPNG_NO_SECTION = "pcapng.section.missing"
P_PCAPNG_SECTION_VERSION = "pcapng.section.version"
P_PCAPNG_INTERFACE = "pcapng.interface.unknown"
P_PCAPNG_LINKTYPE = "pcapng.linktype.unknown"
P_PCAPNG_OPTION = "pcapng.option.bad"
P_PCAPNG_RESYNC = "pcapng.resync"
P_GARBAGE = "capture.trailing_garbage"


@dataclass(frozen=True, slots=True)
class Interface:
    """One capture interface: a pcap file has one, a pcapng section one per IDB.

    `index` is the file-wide interface number used in `Frame.interface` (tshark's
    frame.interface_id); `tsresol` is timestamp units per second (1_000_000 for µs,
    1_000_000_000 for ns, 2**k for the power-of-2 form); `tsoffset` seconds added to
    every timestamp (if_tsoffset); `section` the 0-based pcapng section.
    """

    index: int
    linktype: int
    snaplen: int
    name: str = ""
    tsresol: int = 1_000_000
    tsoffset: int = 0
    section: int = 0
    description: str = ""


@dataclass(frozen=True, slots=True)
class Secret:
    """A Decryption Secrets Block: `type` is e.g. SECRETS_TLS_KEY_LOG, `data` the raw bytes."""

    type: int
    data: bytes
    section: int = 0
    offset: int = 0

    @property
    def type_name(self) -> str:
        return _SECRET_NAMES.get(self.type, f"0x{self.type:08x}")


_SECRET_NAMES = {
    SECRETS_TLS_KEY_LOG: "tls-key-log",
    SECRETS_WIREGUARD: "wireguard",
    SECRETS_ZIGBEE_NWK: "zigbee-nwk",
    SECRETS_ZIGBEE_APS: "zigbee-aps",
}


@dataclass(frozen=True, slots=True)
class NameRecord:
    """One Name Resolution Block entry: an address and the names it resolves to."""

    address: str
    names: tuple[str, ...]
    section: int = 0


@dataclass(frozen=True, slots=True)
class InterfaceStats:
    """An Interface Statistics Block: counters the capturing tool reported (None = absent)."""

    interface: int
    ts_ns: int
    received: int | None = None
    dropped: int | None = None
    section: int = 0


class NotACaptureError(ValueError):
    """The file is neither pcap nor pcapng (nor a gzip of one): nothing can be read."""

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(f"{path}: not a capture file: {detail}")
        self.path = path
        self.detail = detail
