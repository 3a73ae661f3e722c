"""Terminal charts drawn with Unicode blocks: signed horizontal bars, line charts (accuracy curves, sweeps
with rules marked on the x axis, gradient norms on a log scale) and histograms. Colour tells series and
signs apart; without it every series still has its own mark and every bar its side of the axis."""
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


@dataclass
class Marker:
    x: float
    key: str                          # one character shown under the x axis
    label: str                        # what the key stands for, listed below the chart


@dataclass
class LineChart:
    """Series of (x, y) points joined by dotted lines, with optional spreads, ticks and vertical markers.
    x and y may each be on a log scale. The x range stretches to include every marker."""

    series: list[Series]
    height: int = 12
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
        labels = [self.y_format.format(10 ** v if self.y_log else v) for v in (y1, (y0 + y1) / 2, y0)]
        label_width = max(len(l) for l in labels)
        width = max(10, options.max_width - label_width - 2)
        x0, x1 = self._x_bounds()
        if x1 - x0 < 1e-12:
            x0, x1 = x0 - 0.5, x1 + 0.5
        h = max(3, self.height)
        grid = [[" "] * width for _ in range(h)]
        styles: list[list] = [[None] * width for _ in range(h)]

        def col(x):
            return int(round((self._fx(x) - x0) / (x1 - x0) * (width - 1)))

        def row(y):
            y = min(max(self._fy(y), y0), y1)
            return int(round((y1 - y) / (y1 - y0) * (h - 1)))

        def put(r, c, ch, style):
            if 0 <= r < h and 0 <= c < width:
                grid[r][c], styles[r][c] = ch, style

        for m in self.markers:
            if self._valid(m.x, self.x_log):
                for r in range(h):
                    put(r, col(m.x), "┊", DIM)
        drawn = []
        for i, s in enumerate(self.series):
            style = Style(color=SERIES_COLOURS[i % len(SERIES_COLOURS)])
            points = [(col(x), row(y), self._fy(y)) for x, y in zip(s.x, s.y)
                      if self._valid(x, self.x_log) and self._valid(y, self.y_log)]
            drawn.append((SERIES_MARKS[i % len(SERIES_MARKS)], style, points))
            for (c0, _, v0), (c1, _, v1) in zip(points, points[1:]):
                for c in range(c0 + 1, c1):
                    v = v0 + (v1 - v0) * (c - c0) / (c1 - c0)
                    put(int(round((y1 - v) / (y1 - y0) * (h - 1))), c, "·", style)
            if s.low is not None and s.high is not None:
                for x, lo, hi in zip(s.x, s.low, s.high):
                    if self._valid(x, self.x_log) and self._valid(lo, self.y_log) and self._valid(hi, self.y_log):
                        for r in range(row(hi), row(lo) + 1):
                            put(r, col(x), "│", style)
        for mark, style, points in drawn:  # the points last, so no line hides a measurement
            for c, r, _ in points:
                put(r, c, mark, style)

        label_rows = {0: labels[0], (h - 1) // 2: labels[1], h - 1: labels[2]}
        for r in range(h):
            yield Segment(label_rows.get(r, "").rjust(label_width) + (" ┤" if r in label_rows else " │"))
            for ch, style in zip(grid[r], styles[r]):
                yield Segment(ch, style if colour else None)
            yield Segment.line()
        yield from self._x_axis(width, label_width, col)
        for i, s in enumerate(self.series):
            style = Style(color=SERIES_COLOURS[i % len(SERIES_COLOURS)]) if colour else None
            spread = "  (│ spread)" if s.low is not None else ""
            yield Text.assemble((SERIES_MARKS[i % len(SERIES_MARKS)] + " " + s.name, style), spread)
        for m in self.markers:
            yield Text(f"┊{m.key} {m.label}", style=DIM if colour else "")

    def _x_axis(self, width: int, label_width: int, col):
        axis = ["─"] * width
        ticks = [" "] * width
        for x in self.x_ticks or []:
            if not self._valid(x, self.x_log):
                continue
            c = col(x)
            axis[c] = "┬"
            text = f"{x:g}"
            start = min(max(0, c - len(text) // 2), width - len(text))
            if all(ch == " " for ch in ticks[max(0, start - 1):start + len(text) + 1]):
                ticks[start:start + len(text)] = list(text)
        keys = [" "] * width
        for m in self.markers:
            if self._valid(m.x, self.x_log):
                keys[col(m.x)] = m.key
        yield Segment(" " * label_width + " └" + "".join(axis))
        yield Segment.line()
        if self.x_ticks:
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
