"""pcap and pcapng writers: for tests (writer -> reader identity), `simulate` and live capture.

Both take a path or a binary file object and are context managers. Timestamps are
given in ns since the epoch; the writer converts them to the file's resolution
(rounding up, so a timestamp survives a round trip exactly whenever the resolution can
represent it: always for ns, for µs when it is a whole µs, ...).
"""

from __future__ import annotations

import struct
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from chargescope.analyzer.capture import model as m
from chargescope.analyzer.records import Frame

NS = 1_000_000_000


class _Output:
    def __init__(self, target: str | Path | BinaryIO) -> None:
        if isinstance(target, (str, Path)):
            self._file: BinaryIO = open(target, "wb")  # noqa: SIM115 - closed by close()
            self._owned = True
        else:
            self._file = target
            self._owned = False

    def close(self) -> None:
        if self._owned:
            self._file.close()
        else:
            self._file.flush()

    def __enter__(self):  # noqa: ANN204 - returns the subclass instance
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class PcapWriter(_Output):
    """A classic pcap file: one link type, µs or ns timestamps, either byte order."""

    def __init__(self, target: str | Path | BinaryIO, linktype: int = 1,
                 snaplen: int = 262144, nano: bool = True, little: bool = True) -> None:
        super().__init__(target)
        self._e = "<" if little else ">"
        self._nano = nano
        self._record = struct.Struct(self._e + "IIII")
        magic = m.PCAP_MAGIC_NS if nano else m.PCAP_MAGIC_US
        self._file.write(struct.pack(self._e + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype))

    def write(self, data: bytes, ts_ns: int, wirelen: int | None = None) -> None:
        sec, frac = divmod(ts_ns, NS)
        if not self._nano:
            frac //= 1000
        self._file.write(self._record.pack(sec, frac, len(data),
                                           len(data) if wirelen is None else wirelen))
        self._file.write(data)

    def write_frame(self, frame: Frame) -> None:
        self.write(frame.data, frame.ts_ns, frame.wirelen)


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


class PcapngWriter(_Output):
    """A pcapng file: sections, several interfaces each with its own resolution, DSBs.

    `add_interface` returns the interface's index within the current section, which is
    what `write(..., interface=)` takes. `tsresol` is units per second: a power of 10 or
    of 2 (1_000_000_000 = ns, the default; 1_000_000 = µs, pcapng's own default).
    """

    def __init__(self, target: str | Path | BinaryIO, little: bool = True,
                 application: str = "chargescope") -> None:
        super().__init__(target)
        self._application = application
        self._interfaces: list[tuple[int, int]] = []  # (units per second, tsoffset seconds)
        self.new_section(little)

    # --- blocks --------------------------------------------------------------------------
    def write_block(self, btype: int, body: bytes) -> None:
        """Any block, framed with its two total lengths (body padded to 4 bytes)."""
        body = _pad(body)
        total = len(body) + 12
        self._file.write(struct.pack(self._e + "II", btype, total) + body +
                         struct.pack(self._e + "I", total))

    def _options(self, options: list[tuple[int, bytes]]) -> bytes:
        if not options:
            return b""
        out = b"".join(struct.pack(self._e + "HH", code, len(value)) + _pad(value)
                       for code, value in options)
        return out + struct.pack(self._e + "HH", 0, 0)

    def new_section(self, little: bool = True) -> None:
        """Start a section (own byte order; interfaces start again from 0)."""
        self._e = "<" if little else ">"
        self._interfaces = []
        opts = self._options([(4, self._application.encode())])
        body = struct.pack(self._e + "IHHq", m.PCAPNG_BYTE_ORDER_MAGIC, 1, 0, -1) + opts
        self.write_block(m.PCAPNG_SHB, body)

    def add_interface(self, linktype: int = 1, snaplen: int = 0, name: str = "",
                      tsresol: int = NS, tsoffset: int = 0, description: str = "") -> int:
        options: list[tuple[int, bytes]] = []
        if name:
            options.append((2, name.encode()))
        if description:
            options.append((3, description.encode()))
        if tsresol != 1_000_000:
            options.append((9, bytes([_tsresol_byte(tsresol)])))
        if tsoffset:
            options.append((14, struct.pack(self._e + "q", tsoffset)))
        body = struct.pack(self._e + "HHI", linktype, 0, snaplen) + self._options(options)
        self.write_block(m.BLOCK_IDB, body)
        self._interfaces.append((tsresol, tsoffset))
        return len(self._interfaces) - 1

    def _units(self, interface: int, ts_ns: int) -> int:
        if not 0 <= interface < len(self._interfaces):
            raise ValueError(f"interface {interface} not added in this section "
                             f"({len(self._interfaces)} interfaces)")
        units, tsoffset = self._interfaces[interface]
        # ceiling: the reader floors ticks -> ns, so every ns value a tick maps to survives
        return -((tsoffset * NS - ts_ns) * units // NS)

    def write(self, data: bytes, ts_ns: int, interface: int = 0,
              wirelen: int | None = None) -> None:
        """An Enhanced Packet Block."""
        ts = self._units(interface, ts_ns)
        body = struct.pack(self._e + "IIIII", interface, (ts >> 32) & 0xFFFFFFFF,
                           ts & 0xFFFFFFFF, len(data), len(data) if wirelen is None else wirelen)
        self.write_block(m.BLOCK_EPB, body + data)

    def write_frame(self, frame: Frame, interface: int | None = None) -> None:
        self.write(frame.data, frame.ts_ns, frame.interface if interface is None else interface,
                   frame.wirelen)

    def write_simple(self, data: bytes, wirelen: int | None = None) -> None:
        """A Simple Packet Block (interface 0, no timestamp)."""
        body = struct.pack(self._e + "I", len(data) if wirelen is None else wirelen) + data
        self.write_block(m.BLOCK_SPB, body)

    def write_obsolete(self, data: bytes, ts_ns: int, interface: int = 0,
                       wirelen: int | None = None) -> None:
        """The obsolete Packet Block (type 2), still found in old files."""
        ts = self._units(interface, ts_ns)
        body = struct.pack(self._e + "HHIIII", interface, 0, (ts >> 32) & 0xFFFFFFFF,
                           ts & 0xFFFFFFFF, len(data),
                           len(data) if wirelen is None else wirelen)
        self.write_block(m.BLOCK_PB, body + data)

    def write_secret(self, secret_type: int, data: bytes) -> None:
        """A Decryption Secrets Block, e.g. SECRETS_TLS_KEY_LOG with NSS key log lines."""
        self.write_block(m.BLOCK_DSB, struct.pack(self._e + "II", secret_type, len(data)) + data)

    def write_names(self, records: list[tuple[str, list[str]]]) -> None:
        """A Name Resolution Block: (IPv4/IPv6 address, names) pairs."""
        import ipaddress

        body = b""
        for address, names in records:
            ip = ipaddress.ip_address(address)
            value = ip.packed + b"".join(n.encode() + b"\0" for n in names)
            body += struct.pack(self._e + "HH", 1 if ip.version == 4 else 2, len(value))
            body += _pad(value)
        self.write_block(m.BLOCK_NRB, body + struct.pack(self._e + "HH", 0, 0))

    def write_stats(self, interface: int, ts_ns: int, received: int | None = None,
                    dropped: int | None = None) -> None:
        """An Interface Statistics Block."""
        ts = self._units(interface, ts_ns)
        options = []
        if received is not None:
            options.append((4, struct.pack(self._e + "Q", received)))
        if dropped is not None:
            options.append((5, struct.pack(self._e + "Q", dropped)))
        body = struct.pack(self._e + "III", interface, (ts >> 32) & 0xFFFFFFFF, ts & 0xFFFFFFFF)
        self.write_block(m.BLOCK_ISB, body + self._options(options))


def _tsresol_byte(units: int) -> int:
    """if_tsresol for `units` per second: 10^-k as k, 2^-k as 0x80 | k."""
    for k in range(128):
        if 10 ** k == units:
            return k
        if 2 ** k == units:
            return 0x80 | k
        if 2 ** k > units:
            break
    raise ValueError(f"timestamp resolution {units}/s is neither a power of 10 nor of 2")
