"""Small widgets of the TUI, fed data records (never analyzer objects' internals)."""

from __future__ import annotations

from rich.text import Text
from textual.message import Message as TextualMessage
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from chargescope.analyzer.records import Message
from chargescope.tui.data import LANES, lane_of

LABEL_WIDTH = 8


class Swimlanes(Widget):
    """One lane per link and protocol; messages as marks on a shared time axis."""

    class MarkSelected(TextualMessage):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    selected: reactive[int] = reactive(-1)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.items: list[tuple[int, Message]] = []

    def show(self, items: list[tuple[int, Message]]) -> None:
        self.items = items
        self.selected = -1
        self.refresh()

    def _span(self) -> tuple[int, int]:
        if not self.items:
            return 0, 1
        lo, hi = self.items[0][0], self.items[-1][0]
        return lo, max(hi, lo + 1)

    def _column(self, ts: int, width: int) -> int:
        lo, hi = self._span()
        return min(width - 1, int((ts - lo) * (width - 1) / (hi - lo)))

    def render(self) -> Text:
        width = max(10, self.size.width - LABEL_WIDTH)
        rows = [[" "] * width for _ in LANES]
        styles = [[""] * width for _ in LANES]
        for index, (ts, message) in enumerate(self.items):
            lane = lane_of(message)
            if lane < 0:
                continue
            col = self._column(ts, width)
            bad = bool(message.problems) or "FAILED" in str(message.fields)[:4000]
            rows[lane][col] = "x" if bad else "|"
            styles[lane][col] = "bold red" if bad else "cyan"
            if index == self.selected:
                rows[lane][col] = "█"
                styles[lane][col] = "bold yellow"
        text = Text()
        for lane, (label, _link, _protocols) in enumerate(LANES):
            text.append(f"{label:<{LABEL_WIDTH}}", style="bold")
            for col in range(width):
                text.append(rows[lane][col], style=styles[lane][col] or "dim")
            text.append("\n")
        lo, hi = self._span()
        text.append(" " * LABEL_WIDTH + f"0 s{'':>{max(0, width - 14)}}{(hi - lo) / 1e9:8.1f} s",
                    style="dim")
        return text

    def watch_selected(self, _old: int, _new: int) -> None:
        self.refresh()

    def on_click(self, event) -> None:
        lane = event.y
        col = event.x - LABEL_WIDTH
        if not (0 <= lane < len(LANES)) or col < 0 or not self.items:
            return
        width = max(10, self.size.width - LABEL_WIDTH)
        best, best_dist = -1, width + 1
        for index, (ts, message) in enumerate(self.items):
            if lane_of(message) != lane:
                continue
            dist = abs(self._column(ts, width) - col)
            if dist < best_dist:
                best, best_dist = index, dist
        if best >= 0:
            self.selected = best
            self.post_message(self.MarkSelected(best))


class HexView(Static):
    """Frame bytes, 16 per row, with the selected message's byte ranges highlighted."""

    highlight_count = 0  # bytes highlighted now (status line and tests)
    highlighted: tuple[int, ...] = ()  # their offsets in the frame, in order

    def show(self, title: str, data: bytes | None, ranges: list[tuple[int, int]]) -> None:
        self.highlight_count = 0
        self.highlighted = ()
        if data is None:
            self.update(Text(f"{title}: frame bytes not available", style="dim"))
            return
        marked = set()
        for start, length in ranges:
            marked.update(range(start, min(start + length, len(data))))
        self.highlight_count = len(marked)
        self.highlighted = tuple(sorted(marked))
        text = Text(f"{title}  ({len(data)} bytes, {len(marked)} highlighted)\n",
                    style="bold")
        for row in range(0, len(data), 16):
            chunk = data[row:row + 16]
            text.append(f"{row:04x}  ", style="dim")
            for i, byte in enumerate(chunk):
                text.append(f"{byte:02x}", style="reverse yellow" if row + i in marked else "")
                text.append(" ")
            text.append("   " * (16 - len(chunk)) + " ")
            for i, byte in enumerate(chunk):
                char = chr(byte) if 32 <= byte < 127 else "."
                text.append(char, style="reverse yellow" if row + i in marked else "dim")
            text.append("\n")
        self.update(text)
