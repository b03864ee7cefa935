"""The one exception the EXI codec raises on bad input, with where and why."""

from __future__ import annotations


class ExiError(ValueError):
    """A stream (or tree) the codec cannot decode (encode).

    Attributes:
        kind: stable problem code, e.g. ``exi.truncated``, ``exi.event_code``, ``exi.value``,
            ``exi.header``, ``exi.unsupported``, ``exi.schema``, ``exi.tree``.
        bit_offset: bit position in the stream where the failing read started (decode), or
            None (encode).
        state: grammar state index in the schema's tables (None outside element grammars).
        expected: the events the grammar allowed there, e.g. ``("SE(Header)", "EE")``.
        path: element names from the root to the element being decoded.
        partial: the tree decoded so far (same JSON form as a full decode), or None.
    """

    def __init__(self, kind: str, detail: str, bit_offset: int | None = None,
                 state: int | None = None, expected: tuple[str, ...] = ()) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.bit_offset = bit_offset
        self.state = state
        self.expected = expected
        self.path: list[str] = []
        self.partial: dict | None = None

    def __str__(self) -> str:
        where = f" at bit {self.bit_offset}" if self.bit_offset is not None else ""
        path = f" in /{'/'.join(self.path)}" if self.path else ""
        expected = f"; expected one of {', '.join(self.expected)}" if self.expected else ""
        return f"{self.kind}: {self.detail}{where}{path}{expected}"
