"""Terminal charts drawn with Unicode blocks: signed horizontal bars, line charts in braille (accuracy curves,
sweeps with rules marked on the x axis, gradient norms on a log scale) and histograms. Colour tells series and
signs apart; without it every series still has its own dash and mark, and every bar its side of the axis."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from pynn_tui.render.colour import NEGATIVE, POSITIVE, colour_on

EIGHTHS = " ▁▂▃▄▅▆▇█"
SERIES_MARKS = "●○◆×"
SERIES_COLOURS = ("rgb(40,120,255)", "rgb(255,150,40)", "rgb(60,190,90)", "rgb(200,80,200)")
POSITIVE_STYLE = Style(color=f"rgb{POSITIVE}")
NEGATIVE_STYLE = Style(color=f"rgb{NEGATIVE}")
DIM = Style(dim=True)


def _styled(console: Console, style: Style | str | None) -> Style | str | None:
    return style if colour_on(console) else None


class BarChart:
    """Labelled horizontal bars. With negative values the axis sits in the middle: negative bars (red) grow
    left, positive ones (blue) right, in half-cell steps."""

    def __init__(self, rows: list[tuple[str, float]], scale: float | None = None, value_format: str = "{:+.3f}",
                 emphasis: set[int] | None = None):
        self.rows = [(label, float(value)) for label, value in rows]
        magnitudes = [abs(v) for _, v in self.rows if math.isfinite(v)]
        self.scale = scale if scale else (max(magnitudes, default=0.0) or 1.0)
        self.value_format = value_format
        self.emphasis = emphasis or set()   # row positions drawn in bold (e.g. the predicted class)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        signed = any(v < 0 for _, v in self.rows)
        label_width = max((len(label) for label, _ in self.rows), default=0)
        values = [self.value_format.format(v) for _, v in self.rows]
        value_width = max((len(v) for v in values), default=0)
        area = max(4, options.max_width - label_width - value_width - 3)
        half = area // 2 if signed else area
        for i, ((label, value), text) in enumerate(zip(self.rows, values)):
            cells = 0 if not math.isfinite(value) else round(min(abs(value) / self.scale, 1.0) * half * 2)
            bar = "█" * (cells // 2)
            line = Text(label.rjust(label_width) + " ", style="bold" if i in self.emphasis else "")
            if signed:
                left = (("▐" if cells % 2 else "") + bar) if value < 0 else ""
                right = (bar + ("▌" if cells % 2 else "")) if value >= 0 else ""
                line.append(left.rjust(half), _styled(console, NEGATIVE_STYLE))
                line.append("│", _styled(console, DIM))
                line.append(right.ljust(area - half), _styled(console, POSITIVE_STYLE))
            else:
                line.append((bar + ("▌" if cells % 2 else "")).ljust(area), _styled(console, POSITIVE_STYLE))
            line.append(" " + text.rjust(value_width))
            yield line


@dataclass
class Series:
    name: str
    x: list[float]
    y: list[float]
    low: list[float] | None = None    # optional spread around each y, drawn as a vertical line
    high: list[float] | None = None
    marks: bool | None = None         # a mark on each point: None decides by how far apart the points fall


@dataclass
class Marker:
    x: float
    key: str                          # one character shown under the x axis
    label: str                        # what the key stands for, listed below the chart


def thinned(items: list, limit: int) -> list:
    """At most `limit` of the items, evenly spaced, the first and the last kept: a curve of 40,000 epochs is
    drawn from as many points as the chart has dots across, not from every epoch."""
    items = list(items)  # one look at a list another thread may replace
    if len(items) <= limit:
        return items
    step = (len(items) - 1) / (limit - 1)
    return [items[round(k * step)] for k in range(limit)]


# A braille cell is 2 dots wide and 4 tall: the bit of the dot at (row, column) within the cell.
BRAILLE = 0x2800
DOT_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
# Without colour the series' lines tell themselves apart by their dash: on/off dots along the line.
DASHES = ((1,), (1, 1, 0, 0), (1, 0, 0), (1, 1, 1, 0, 0, 0, 1, 0, 0, 0))
MARK_SPACING = 3  # cells between points, at least, for each point to get its mark


@dataclass
class LineChart:
    """Series of (x, y) points joined by lines drawn in braille (2x4 dots per cell, so a curve moves in quarter
    rows), with marks on points far enough apart, optional spreads, ticks and vertical markers. x and y may each
    be on a log scale; the x range stretches to include every marker. Without x_ticks the x axis gets round
    ones. height None fills the height the chart is given (a Textual widget's), legend and axis included."""

    series: list[Series]
    height: int | None = 12
    x_log: bool = False
    y_log: bool = False
    y_range: tuple[float, float] | None = None
    x_ticks: list[float] | None = None
    markers: list[Marker] = field(default_factory=list)
    y_format: str = "{:.3g}"
    x_label: str = ""

    def _x_bounds(self):
        xs = [x for s in self.series for x in s.x] + [m.x for m in self.markers]
        xs = [self._fx(x) for x in xs if self._valid(x, self.x_log)]
        return (min(xs), max(xs)) if xs else (0.0, 1.0)

    def _y_bounds(self):
        if self.y_range:
            return self._fy(self.y_range[0]), self._fy(self.y_range[1])
        ys = [y for s in self.series for y in (s.y + (s.low or []) + (s.high or []))]
        ys = [self._fy(y) for y in ys if self._valid(y, self.y_log)]
        return (min(ys), max(ys)) if ys else (0.0, 1.0)

    @staticmethod
    def _valid(v, log):
        return v is not None and math.isfinite(v) and (v > 0 or not log)

    def _fx(self, x):
        return math.log10(x) if self.x_log else x

    def _fy(self, y):
        return math.log10(y) if self.y_log else y

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        colour = colour_on(console)
        y0, y1 = self._y_bounds()
        if y1 - y0 < 1e-12:
            y0, y1 = y0 - 0.5, y1 + 0.5
        x0, x1 = self._x_bounds()
        if x1 - x0 < 1e-12:
            x0, x1 = x0 - 0.5, x1 + 0.5
        probe = [self.y_format.format(10 ** v if self.y_log else v) for v in (y0, y1, (y0 + y1) / 2)]
        label_width = max(len(l) for l in probe)
        # one column kept free on the right, so a point at the last x never touches what stands beside
        width = max(10, options.max_width - label_width - 3)
        ticks = self.x_ticks if self.x_ticks is not None else self._round_ticks(x0, x1, width)

        def dot_x(x):
            return (self._fx(x) - x0) / (x1 - x0) * (2 * width - 1)

        def dot_y(y):
            y = min(max(self._fy(y), y0), y1)
            return (y1 - y) / (y1 - y0) * (4 * h - 1)

        h = 1
        columns = [[dot_x(x) / 2 for x, y in zip(s.x, s.y) if self._valid(x, self.x_log)
                    and self._valid(y, self.y_log)] for s in self.series]
        marked = [self._marked(s, c) for s, c in zip(self.series, columns)]
        legend = self._legend(colour, options.max_width, marked)
        # the axis, its ticks (and a label that may need its own line), marker keys, the legend
        below = 2 + (1 if ticks else 0) + (1 if self.markers else 0) + len(legend) + len(self.markers)
        h = max(3, self.height if self.height is not None else (options.height or 12) - below)
        canvas = _Canvas(width, h)

        for m in self.markers:
            if self._valid(m.x, self.x_log):
                for r in range(h):
                    canvas.glyph(r, int(round(dot_x(m.x))) // 2, "┊", DIM, under=True)
        for i, s in enumerate(self.series):
            dash = (1,) if colour else DASHES[i % len(DASHES)]
            points = [(dot_x(x), dot_y(y)) for x, y in zip(s.x, s.y)
                      if self._valid(x, self.x_log) and self._valid(y, self.y_log)]
            canvas.polyline(points, i, dash)
            if s.low is not None and s.high is not None:
                for x, lo, hi in zip(s.x, s.low, s.high):
                    if self._valid(x, self.x_log) and self._valid(lo, self.y_log) and self._valid(hi, self.y_log):
                        canvas.polyline([(dot_x(x), dot_y(hi)), (dot_x(x), dot_y(lo))], i, (1,))
        # the marks last, so no line hides a measurement; the first series' on top where two fall in one cell
        # (a forecast's truth stays visible under the forecast and the naive guess)
        for i, s in reversed(list(enumerate(self.series))):
            points = [(dot_x(x), dot_y(y)) for x, y in zip(s.x, s.y)
                      if self._valid(x, self.x_log) and self._valid(y, self.y_log)]
            if marked[i]:
                for px, py in points:
                    canvas.glyph(int(round(py)) // 4, int(round(px)) // 2, SERIES_MARKS[i % len(SERIES_MARKS)], i)

        label_rows = {int(round(k * (h - 1) / (n - 1))): k for n in [min(5, max(2, h // 3 + 1))] for k in range(n)}
        n_labels = len(label_rows)
        for r in range(h):
            if r in label_rows:
                v = y1 - (y1 - y0) * label_rows[r] / (n_labels - 1)
                yield Segment(self.y_format.format(10 ** v if self.y_log else v).rjust(label_width) + " ┤")
            else:
                yield Segment(" " * label_width + " │")
            for ch, style in canvas.row(r):
                if isinstance(style, int):
                    style = Style(color=SERIES_COLOURS[style % len(SERIES_COLOURS)])
                yield Segment(ch, style if colour else None)
            yield Segment.line()
        yield from self._x_axis(width, label_width, lambda x: int(round(dot_x(x))) // 2, ticks)
        yield from legend
        for m in self.markers:
            yield Text(f"┊{m.key} {m.label}", style=DIM if colour else "")

    @staticmethod
    def _marked(s: Series, columns: list[float]) -> bool:
        """Whether the series' points get marks: asked for, or far enough apart that marks do not crowd."""
        if s.marks is not None:
            return s.marks
        columns = sorted(columns)
        return len(columns) <= 1 or min(b - a for a, b in zip(columns, columns[1:])) >= MARK_SPACING

    def _legend(self, colour: bool, width: int, marked: list[bool]) -> list[Text]:
        """The series' names, each after its mark or a piece of its line (its dash, without colour), on as
        few lines as the width allows."""
        items = []
        for i, s in enumerate(self.series):
            style = Style(color=SERIES_COLOURS[i % len(SERIES_COLOURS)]) if colour else None
            key = SERIES_MARKS[i % len(SERIES_MARKS)] if marked[i] else _dash_sample((1,) if colour
                                                                                    else DASHES[i % len(DASHES)])
            spread = " (│ spread)" if s.low is not None else ""
            items.append(Text.assemble((key, style), " " + s.name + spread))
        lines, line = [], Text()
        for item in items:
            if line.cell_len and line.cell_len + 2 + item.cell_len > width:
                lines.append(line)
                line = Text()
            if line.cell_len:
                line.append("  ")
            line.append_text(item)
        if line.cell_len:
            lines.append(line)
        return lines

    def _round_ticks(self, x0: float, x1: float, width: int) -> list[float]:
        """Round x values across the axis, about one per 10 columns (whole numbers when the x are)."""
        if self.x_log:
            return [10.0 ** k for k in range(math.ceil(x0 - 1e-9), math.floor(x1 + 1e-9) + 1)]
        wanted = max(2, width // 10)
        raw = (x1 - x0) / wanted
        step = min((f * 10 ** math.floor(math.log10(raw)) for f in (1, 2, 2.5, 5, 10)
                    if f * 10 ** math.floor(math.log10(raw)) >= raw), default=raw)
        whole = all(float(x).is_integer() for s in self.series for x in s.x)
        if whole:
            step = max(1.0, round(step))
        first = math.ceil(x0 / step - 1e-9) * step
        return [round(first + k * step, 10) for k in range(int((x1 - first) / step + 1e-9) + 1)]

    def _x_axis(self, width: int, label_width: int, col, tick_values):
        axis = ["─"] * width
        ticks = [" "] * width
        for x in tick_values or []:
            if not self._valid(x, self.x_log):
                continue
            c = col(x)
            if not 0 <= c < width:
                continue
            axis[c] = "┬"
            text = f"{x:g}"
            start = min(max(0, c - len(text) // 2), width - len(text))
            if all(ch == " " for ch in ticks[max(0, start - 1):start + len(text) + 1]):
                ticks[start:start + len(text)] = list(text)
        keys = [" "] * width
        for m in self.markers:
            if self._valid(m.x, self.x_log):
                keys[min(col(m.x), width - 1)] = m.key
        yield Segment(" " * label_width + " └" + "".join(axis))
        yield Segment.line()
        if tick_values:
            label = f"  {self.x_label}" if self.x_label else ""
            tick_line = "".join(ticks).rstrip()
            if len(tick_line) + len(label) > width:  # a tick at the right edge: the label on a line of its own
                yield Segment(" " * (label_width + 2) + tick_line)
                yield Segment.line()
                tick_line, label = "", self.x_label.rjust(width)
            yield Segment(" " * (label_width + 2) + tick_line + label)
            yield Segment.line()
        if self.markers:
            yield Segment(" " * (label_width + 2) + "".join(keys).rstrip())
            yield Segment.line()


class _Canvas:
    """A width x height grid of cells, each braille dots (with the series that drew last there) or a glyph."""

    def __init__(self, width: int, height: int):
        self.width, self.height = width, height
        self.dots = [[0] * width for _ in range(height)]
        self.owner: list[list] = [[None] * width for _ in range(height)]
        self.glyphs: dict[tuple[int, int], tuple[str, object]] = {}
        self.under: dict[tuple[int, int], tuple[str, object]] = {}  # shown only where no dot is

    def glyph(self, r: int, c: int, ch: str, style, under: bool = False) -> None:
        if 0 <= r < self.height and 0 <= c < self.width:
            (self.under if under else self.glyphs)[(r, c)] = (ch, style)

    def dot(self, px: int, py: int, owner) -> None:
        c, r = px // 2, py // 4
        if 0 <= r < self.height and 0 <= c < self.width and px >= 0 and py >= 0:
            self.dots[r][c] |= DOT_BITS[py % 4][px % 2]
            self.owner[r][c] = owner

    def polyline(self, points, owner, dash) -> None:
        """Dots along the segments joining the points, one per dot step along the longer axis; a lone point
        is one dot. dash: the on/off pattern, carried across segments."""
        step = 0
        if len(points) == 1:
            self.dot(int(round(points[0][0])), int(round(points[0][1])), owner)
        for (ax, ay), (bx, by) in zip(points, points[1:]):
            n = max(1, int(round(max(abs(bx - ax), abs(by - ay)))))
            for k in range(n + 1):
                if dash[step % len(dash)]:
                    self.dot(int(round(ax + (bx - ax) * k / n)), int(round(ay + (by - ay) * k / n)), owner)
                step += 1

    def row(self, r: int):
        for c in range(self.width):
            if (r, c) in self.glyphs:
                yield self.glyphs[(r, c)]
            elif self.dots[r][c]:
                yield chr(BRAILLE + self.dots[r][c]), self.owner[r][c]
            elif (r, c) in self.under:
                yield self.under[(r, c)]
            else:
                yield " ", None


def _dash_sample(dash, cells: int = 2) -> str:
    """A short horizontal piece of a line with this dash, in braille (the legend's key to it)."""
    canvas = _Canvas(cells, 1)
    canvas.polyline([(0, 1), (2 * cells - 1, 1)], 0, dash)
    return "".join(ch for ch, _ in canvas.row(0))


class Histogram:
    """Counts per bin as vertical bars in eighth-block steps, with the range written under them."""

    def __init__(self, counts, edges, height: int = 4, title: str | None = None, colour_index: int = 0,
                 bin_width: int = 1):
        self.counts = np.asarray(counts, dtype=np.float64)
        self.edges = np.asarray(edges, dtype=np.float64)
        self.height = height
        self.title = title
        self.colour_index = colour_index
        self.bin_width = bin_width

    @property
    def width(self) -> int:
        return max(len(self.counts) * self.bin_width, len(self._range_label()), len(self.title or ""))

    def _range_label(self) -> str:
        return f"{self.edges[0]:.2g} .. {self.edges[-1]:.2g}"

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.width, self.width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        style = Style(color=SERIES_COLOURS[self.colour_index % len(SERIES_COLOURS)]) if colour_on(console) else None
        top = self.counts.max() if self.counts.size and self.counts.max() > 0 else 1.0
        eighths = np.round(self.counts / top * self.height * 8).astype(int)
        if self.title:
            yield Text(self.title, style="bold")
        for r in range(self.height):
            floor = (self.height - 1 - r) * 8
            line = "".join(EIGHTHS[int(min(max(e - floor, 0), 8))] * self.bin_width for e in eighths)
            yield Text(line, style=style or "")
        yield Text(self._range_label(), style=DIM if style else "")
