"""Positional constructors for frozen slotted records: pure-Python twin of hot path
"recordbuild" (`chargescope.ext._recordbuild`).

`builder(cls)` returns a callable taking every field of dataclass `cls` positionally,
in declaration order, and returning the record. Here that callable is the class
itself; the extension returns one that fills the slots directly, several times faster
for the small records built per segment in the hot loops. Same call, same record.
Use it through ``backends.load("recordbuild").builder``.
"""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def builder(cls: type[T]) -> type[T]:
    return cls
