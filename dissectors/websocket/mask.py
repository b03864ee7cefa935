"""Pure-Python twin of hot path "wsmask" (`ext/_wsmask.pyx`): RFC 6455 (un)masking."""

from __future__ import annotations


def unmask(data: bytes | bytearray | memoryview, key: bytes) -> bytes:
    """`data` XOR the repeating `key` (RFC 6455 5.3); an empty key copies `data`."""
    n = len(data)
    if not key or n == 0:
        return bytes(data)
    stream = (bytes(key) * (n // len(key) + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")
