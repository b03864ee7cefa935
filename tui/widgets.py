"""Small widgets of the TUI, fed data records (never analyzer objects' internals)."""

from __future__ import annotations

from rich.text import Text
from textual.message import Message as TextualMessage
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import DataTable, Static

from chargescope.analyzer.records import Message
from chargescope.tui.data import LANES, Marks

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
        self.marks = Marks()  # (lane, bad) per item, computed once
        self.span: tuple[int, int] | None = None  # the time axis, when known before the items
        self._grid: tuple[int, list[list[int]]] | None = None  # (width, lane x column state)

    def show(self, items: list[tuple[int, Message]],
             marks: Marks | None = None,
             span: tuple[int, int] | None = None) -> None:
        """Draw `items` (in time order) on the axis `span` (by default, theirs). The lists
        may grow afterwards, the axis fixed: call `extend` when they have."""
        self.items = items
        self.marks = marks if marks is not None else Marks(m for _ts, m in items)
        self.span = span
        self._grid = None
        self.selected = -1
        self.refresh()

    def extend(self, start: int, refresh: bool = True) -> None:
        """items[start:] and marks[start:] were appended: add just them to the drawing
        (shown at the next refresh)."""
        if self._grid is not None:
            width, grid = self._grid
            self._mark(grid, width, start)
        if refresh:
            self.refresh()

    def _columns(self, width: int) -> list[list[int]]:
        """Per lane and column: 0 nothing, 1 a mark, 2 a bad mark (cached per width)."""
        if self._grid is None or self._grid[0] != width:
            grid = [[0] * width for _ in LANES]
            self._mark(grid, width, 0)
            self._grid = (width, grid)
        return self._grid[1]

    def _mark(self, grid: list[list[int]], width: int, start: int) -> None:
        lo, hi = self._span()
        scale = (width - 1) / (hi - lo)
        marks = self.marks
        for (ts, _m), lane, bad in zip(self.items[start:], marks.lanes[start:],
                                       marks.bad[start:], strict=True):
            if lane >= 0:
                col = min(width - 1, max(0, int((ts - lo) * scale)))
                grid[lane][col] = max(grid[lane][col], 2 if bad else 1)

    def _span(self) -> tuple[int, int]:
        if self.span is not None:
            lo, hi = self.span
        elif self.items:
            lo, hi = self.items[0][0], self.items[-1][0]
        else:
            return 0, 1
        return lo, max(hi, lo + 1)

    def _column(self, ts: int, width: int) -> int:
        lo, hi = self._span()
        return min(width - 1, max(0, int((ts - lo) * (width - 1) / (hi - lo))))

    def render(self) -> Text:
        width = max(10, self.size.width - LABEL_WIDTH)
        grid = self._columns(width)
        rows = [[" |x"[state] for state in lane] for lane in grid]
        styles = [[("", "cyan", "bold red")[state] for state in lane] for lane in grid]
        if 0 <= self.selected < len(self.items) and self.marks.lanes[self.selected] >= 0:
            lane = self.marks.lanes[self.selected]
            col = self._column(self.items[self.selected][0], width)
            rows[lane][col] = "█"
            styles[lane][col] = "bold yellow"
        text = Text()
        for lane, (label, _link, _protocols) in enumerate(LANES):
            text.append(f"{label:<{LABEL_WIDTH}}", style="bold")
            append_runs(text, rows[lane], [style or "dim" for style in styles[lane]])
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
        best = self.nearest(lane, min(col, width - 1), width)
        if best >= 0:
            self.selected = best
            self.post_message(self.MarkSelected(best))

    def nearest(self, lane: int, col: int, width: int) -> int:
        """The first item of `lane` in the column nearest `col` (-1: none): columns are
        searched outwards from `col`, each found by bisecting the items' times, so a click
        costs the marks near it, not the whole session."""
        for distance in range(width):
            for column in (col - distance, col + distance) if distance else (col,):
                if not 0 <= column < width:
                    continue
                first, last = self._items_in(column, width)
                for index in range(first, last):
                    if self.marks.lanes[index] == lane:
                        return index
        return -1

    def _items_in(self, column: int, width: int) -> tuple[int, int]:
        """The index range of the items drawn in `column` (times sorted: two bisections)."""
        count = min(len(self.items), len(self.marks))

        def first_at_or_after(col: int) -> int:
            lo, hi = 0, count
            while lo < hi:  # bisect on the drawn column itself: exact, no rounding
                mid = (lo + hi) // 2
                if self._column(self.items[mid][0], width) < col:
                    lo = mid + 1
                else:
                    hi = mid
            return lo

        return first_at_or_after(column), first_at_or_after(column + 1)


class WindowTable(DataTable):
    """A table listing a window of a long list (messages, sessions, findings): keys that
    would leave it ask the app to move the window (`Edge`) instead of stopping at the
    last listed row."""

    class Edge(TextualMessage):
        def __init__(self, step: int, table_id: str | None) -> None:
            super().__init__()
            self.step = step
            self.table_id = table_id

    def _past_edge(self, step: int) -> bool:
        row = self.cursor_row + step
        if 0 <= row < self.row_count:
            return False
        self.post_message(self.Edge(step, self.id))
        return True

    def action_cursor_down(self) -> None:
        if not self._past_edge(1):
            super().action_cursor_down()

    def action_cursor_up(self) -> None:
        if not self._past_edge(-1):
            super().action_cursor_up()

    def action_page_down(self) -> None:
        if not self._past_edge(max(1, self.size.height - 1)):
            super().action_page_down()

    def action_page_up(self) -> None:
        if not self._past_edge(-max(1, self.size.height - 1)):
            super().action_page_up()


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
            chars, styles = [], []
            for i, byte in enumerate(chunk):
                chars += (f"{byte:02x}", " ")
                styles += ("reverse yellow" if row + i in marked else "", "")
            chars.append("   " * (16 - len(chunk)) + " ")
            styles.append("")
            for i, byte in enumerate(chunk):
                chars.append(chr(byte) if 32 <= byte < 127 else ".")
                styles.append("reverse yellow" if row + i in marked else "dim")
            append_runs(text, chars, styles)
            text.append("\n")
        self.update(text)


def append_runs(text: Text, chars: list[str], styles: list[str]) -> None:
    """Append `chars` with their `styles`, one span per run of one style rather than one
    per character: the screen's redraw costs what the spans number (swimlanes and hex
    pane hold hundreds)."""
    start = 0
    for end in range(1, len(chars) + 1):
        if end == len(chars) or styles[end] != styles[start]:
            text.append("".join(chars[start:end]), style=styles[start])
            start = end
