"""NSS key log parsing: the one format all three secret sources carry.

Sources (DESIGN.md): key log files (``--keylog``, ``SSLKEYLOGFILE``), pcapng Decryption
Secrets Blocks of type TLSK, and in-band disclosure (V2G test devices send the same
ASCII lines in a UDP datagram inside the capture). A `KeyLog` is shared by everything
one pipeline decodes, so a secret that arrives late in capture order still unlocks
connections whose records were kept waiting for it.

Format (one entry per line): ``LABEL <client_random hex> <secret hex>``; ``#`` comments.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# labels we use; others (EXPORTER_SECRET, early data) are parsed and kept, never needed
TLS12_MASTER = "CLIENT_RANDOM"
CLIENT_HS = "CLIENT_HANDSHAKE_TRAFFIC_SECRET"
SERVER_HS = "SERVER_HANDSHAKE_TRAFFIC_SECRET"
CLIENT_APP = "CLIENT_TRAFFIC_SECRET_0"
SERVER_APP = "SERVER_TRAFFIC_SECRET_0"
KNOWN_LABELS = frozenset({
    TLS12_MASTER, CLIENT_HS, SERVER_HS, CLIENT_APP, SERVER_APP, "EXPORTER_SECRET",
    "CLIENT_EARLY_TRAFFIC_SECRET", "EARLY_EXPORTER_SECRET",
})
_INBAND_PREFIXES = (b"CLIENT_", b"SERVER_", b"EXPORTER_", b"EARLY_", b"# ")


@dataclass(frozen=True, slots=True)
class KeyLogEntry:
    label: str
    client_random: bytes  # 32 bytes
    secret: bytes


@dataclass(frozen=True, slots=True)
class KeyLogLineError:
    """A line that is not a key log entry (reported with where it came from, not dropped)."""

    origin: str
    line: int
    detail: str


def parse_key_log(text: bytes | str, origin: str = "") -> tuple[list[KeyLogEntry],
                                                                 list[KeyLogLineError]]:
    """Every entry of a key log text, and a note per line that is not one."""
    if isinstance(text, bytes):
        text = text.decode("ascii", errors="replace")
    entries: list[KeyLogEntry] = []
    errors: list[KeyLogLineError] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip().strip("\x00")
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 3:
            errors.append(KeyLogLineError(origin, number, "expected LABEL CLIENT_RANDOM SECRET"))
            continue
        label, random_hex, secret_hex = parts
        if label not in KNOWN_LABELS:
            errors.append(KeyLogLineError(origin, number, f"unknown label {label[:40]!r}"))
            continue
        try:
            client_random = binascii.unhexlify(random_hex)
            secret = binascii.unhexlify(secret_hex)
        except (binascii.Error, ValueError):
            errors.append(KeyLogLineError(origin, number, "expected hex client random and secret"))
            continue
        if len(client_random) != 32 or not secret:
            errors.append(KeyLogLineError(origin, number,
                                          "expected a 32-byte client random and a secret"))
            continue
        entries.append(KeyLogEntry(label, client_random, secret))
    return entries, errors


class KeyLog:
    """Secrets by client random, added from any source at any time."""

    def __init__(self, entries: Iterable[KeyLogEntry] = ()) -> None:
        self._secrets: dict[bytes, dict[str, bytes]] = {}
        self.errors: list[KeyLogLineError] = []
        self.origins: dict[str, int] = {}  # where entries came from -> how many
        self.add(entries)

    def add(self, entries: Iterable[KeyLogEntry], origin: str = "") -> int:
        count = 0
        for entry in entries:
            self._secrets.setdefault(entry.client_random, {})[entry.label] = entry.secret
            count += 1
        if origin:
            self.origins[origin] = self.origins.get(origin, 0) + count
        return count

    def add_text(self, text: bytes | str, origin: str) -> int:
        entries, errors = parse_key_log(text, origin)
        self.errors.extend(errors)
        return self.add(entries, origin)

    def add_file(self, path: Path) -> int:
        return self.add_text(Path(path).read_bytes(), str(path))

    def secrets_for(self, client_random: bytes) -> dict[str, bytes]:
        """The labels and secrets known for one handshake (empty if none yet)."""
        return self._secrets.get(client_random, {})

    def entries(self) -> list[KeyLogEntry]:
        """Every entry known, in the order first seen (e.g. to write an NSS key log file)."""
        return [KeyLogEntry(label, random, secret) for random, labels in self._secrets.items()
                for label, secret in labels.items()]

    def __len__(self) -> int:
        return sum(len(v) for v in self._secrets.values())

    def __bool__(self) -> bool:
        return bool(self._secrets)


def format_key_log(entries: Iterable[KeyLogEntry]) -> str:
    """NSS key log text (what Wireshark's "(Pre)-Master-Secret log filename" reads)."""
    return "".join(f"{e.label} {e.client_random.hex()} {e.secret.hex()}\n" for e in entries)


def looks_like_inband_key_log(payload: bytes) -> bool:
    """Cheap test for a UDP payload that discloses TLS secrets as key log lines."""
    return payload.startswith(_INBAND_PREFIXES) and b" " in payload[:64]


def key_log_from_sources(files: Iterable[Path] = (), dsb_texts: Iterable[bytes] = ()
                         ) -> KeyLog:
    """A KeyLog from key log files and Decryption Secrets Block texts (known up front)."""
    log = KeyLog()
    for path in files:
        log.add_file(path)
    for number, text in enumerate(dsb_texts):
        log.add_text(text, f"pcapng-dsb#{number}")
    return log
