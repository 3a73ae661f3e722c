"""Half-block heat maps: each terminal cell shows two pixels stacked, "▀" coloured with the upper pixel
(foreground) over the lower one (background), so a 28x28 map takes 28x14 cells. With colour off each pixel
becomes one character (see colour.PLAIN_POSITIVE / PLAIN_NEGATIVE), one line per pixel row."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from rich.color import Color
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from pynn_tui.render.colour import (NEGATIVE, PLAIN_NEGATIVE, PLAIN_POSITIVE, POSITIVE, colour_on, diverging_rgb,
                              diverging_rgb_array, plain_char)

UPPER_HALF = "▀"
FULL = "█"
TITLE_STYLE = Style(bold=True)
NEW_LINE = Segment.line()


def max_abs(values) -> float:
    """The symmetric scale that shows every value: its largest magnitude (1 for an all-zero map)."""
    finite = np.abs(np.asarray(values, np.float64))
    finite = finite[np.isfinite(finite)]
    top = float(finite.max()) if finite.size else 0.0
    return top if top > 0 else 1.0


def packed_rgb_array(values, scale: float) -> np.ndarray:
    """Each value's colour as one int 0xRRGGBB (an array shaped like values), the key of cell_style."""
    rgb = diverging_rgb_array(values, scale)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def packed_rgb(values, scale: float) -> list:
    """packed_rgb_array as nested lists of Python ints."""
    return packed_rgb_array(values, scale).tolist()


def cells_colour(console: Console) -> str | None:
    """The colour system a map's cells are drawn for on console (truecolor, 256, ...), None without colour."""
    return console.color_system if colour_on(console) else None


def cell_rows(glyph: str, fg: np.ndarray, bg: np.ndarray, system: str = "truecolor") -> list[list[Segment]]:
    """Rows of cells, glyph coloured fg over bg (packed colours of equal shape; bg -1 for none), for a console
    of colour system `system`. The colour pairs are found with numpy and each distinct one is looked up once."""
    pairs = (fg << 25) | (bg + 1)            # bg + 1 < 2**25, so a pair is one int
    unique, index = np.unique(pairs, return_inverse=True)
    cells = np.fromiter(cell_segments(glyph, unique.tolist(), system), object, len(unique))
    return cells[index.reshape(pairs.shape)].tolist()


_CELLS: dict[tuple[str, str], dict[int, Segment]] = {}   # (glyph, colour system) -> colour pair -> its cell


def cell_segments(glyph: str, pairs: list[int], system: str = "truecolor") -> list[Segment]:
    """The cells of colour pairs (fg << 25 | bg + 1). Each is made once and shared by every cell of its pair,
    as Segments are immutable: redrawing the same maps then makes no new objects, and a frame's thousands of
    lookups are one map() over a dict."""
    known = _CELLS.setdefault((glyph, system), {})
    cells = list(map(known.get, pairs))
    if None in cells:
        if len(known) > 1 << 16:  # bounded: training shows ever new colours
            known.clear()
        for i, pair in enumerate(pairs):
            if cells[i] is None:
                cells[i] = known[pair] = Segment(glyph, cell_style(pair >> 25, (pair & 0x1FFFFFF) - 1, system))
    return cells


@lru_cache(maxsize=1 << 16)
def cell_style(fg: int, bg: int, system: str = "truecolor") -> Style:
    """The style of a cell coloured fg over bg (0xRRGGBB; bg -1 for none) for a console of colour system
    `system`. Cached: a frame of weight maps reuses a few thousand colour pairs. One style per colour system,
    because Rich keeps a style's escape codes on the style for the first system it is drawn for: a style shared
    by a 256-colour console and a truecolor one would draw 256 colours on both."""
    def colour(rgb: int) -> Color:
        return Color.from_rgb(rgb >> 16, (rgb >> 8) & 0xFF, rgb & 0xFF)
    return Style(color=colour(fg), bgcolor=None if bg < 0 else colour(bg))


class HeatMap:
    """One map of values (H, W) on a diverging scale centred on zero, with an optional title above it.
    A one-row map (a strip) uses full cells and wraps to the width it is given."""

    def __init__(self, values, scale: float | None = None, title: str | None = None):
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 1:
            values = values[None, :]
        if values.ndim != 2:
            raise ValueError(f"a heat map needs 1-D or 2-D values, not {values.ndim}-D")
        self.values = values
        self.scale = max_abs(values) if scale is None else float(scale)
        self.title = title

    @property
    def width(self) -> int:
        return max(self.values.shape[1], len(self.title or ""))

    def height(self, colour: bool, width: int | None = None) -> int:
        """Lines this map takes: the title, then the pixel rows (two per line in colour)."""
        h, w = self.values.shape
        rows = -(-w // max(width or w, 1)) if h == 1 else (-(-h // 2) if colour else h)
        return rows + (1 if self.title else 0)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        if self.values.shape[0] == 1:  # strips wrap, so they fit any width
            return Measurement(min(self.width, 8), self.width)
        return Measurement(self.width, self.width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in self.lines(cells_colour(console), min(self.width, options.max_width)):
            yield from line
            yield NEW_LINE

    def lines(self, colour: str | None, width: int) -> list[list[Segment]]:
        """The map's lines (without line breaks) at a width of at most self.width: the title centred, then the
        pixel rows, each row's cells padded to width; in colour for a console of colour system `colour`
        (cells_colour), else in characters."""
        lines = [[Segment(self.title[:width].center(width), TITLE_STYLE)]] if self.title else []
        h, w = self.values.shape
        if h == 1:  # a strip, wrapped at width
            for start in range(0, w, max(width, 1)):
                lines += self._strip(self.values[0, start:start + width], colour, width)
        elif colour:
            used = min(w, width)
            packed = packed_rgb_array(self.values[:, :used], self.scale)
            upper, lower = packed[0::2], np.full((-(-h // 2), used), -1, np.int64)
            lower[:h // 2] = packed[1::2]
            lines += [row + self._pad(used, width) for row in cell_rows(UPPER_HALF, upper, lower, colour)]
        else:
            for r in range(h):
                row = [Segment("".join(plain_char(v, self.scale) for v in self.values[r, :width]))]
                lines.append(row + self._pad(min(w, width), width))
        return lines

    def _strip(self, values, colour: str | None, width: int) -> list[list[Segment]]:
        if colour:
            fg = packed_rgb_array(values, self.scale)[None, :]
            row = cell_rows(FULL, fg, np.full_like(fg, -1), colour)[0]
        else:
            row = [Segment(plain_char(v, self.scale)) for v in values]
        return [row + self._pad(len(values), width)]

    @staticmethod
    def _pad(used: int, width: int) -> list[Segment]:
        return [Segment(" " * (width - used))] if width > used else []


class HeatMapGrid:
    """Maps side by side in rows of `cols` (default: as many as fit the width), each row as tall as its
    tallest map."""

    def __init__(self, maps: list[HeatMap], cols: int | None = None, gap: int = 2):
        self.maps = maps
        self.cols = cols
        self.gap = gap

    def columns(self, max_width: int) -> int:
        cell = max((m.width for m in self.maps), default=1)
        fit = max(1, (max_width + self.gap) // (cell + self.gap))
        return max(1, min(self.cols or fit, len(self.maps) or 1))

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        cell = max((m.width for m in self.maps), default=1)
        cols = self.columns(options.max_width)
        return Measurement(cell, cols * cell + (cols - 1) * self.gap)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if not self.maps:
            return
        cols = self.columns(options.max_width)
        cell = min(max(m.width for m in self.maps), max(1, (options.max_width - (cols - 1) * self.gap) // cols))
        sub = options.update(width=cell, height=None)
        gap = Segment(" " * self.gap)
        for start in range(0, len(self.maps), cols):
            blocks = [self._block(m, console, sub, cell) for m in self.maps[start:start + cols]]
            height = max(len(b) for b in blocks)
            blank = [Segment(" " * cell)]
            for row in range(height):
                for i, block in enumerate(blocks):
                    if i:
                        yield gap
                    yield from (block[row] if row < len(block) else blank)
                yield Segment.line()
            if start + cols < len(self.maps):
                yield Segment.line()

    @staticmethod
    def _block(view, console: Console, options: ConsoleOptions, cell: int) -> list[list[Segment]]:
        """A view's lines padded to the cell's width: what console.render_lines gives, which a plain HeatMap
        makes directly, its lines already cut to width, to save a pass over every cell's segment."""
        if type(view).__rich_console__ is not HeatMap.__rich_console__ or "\n" in (view.title or ""):
            return console.render_lines(view, options, pad=True)
        width = min(view.width, cell)
        lines = view.lines(cells_colour(console), width)
        if view.title:  # the one line whose cells may differ from its characters (wide ones)
            lines[0] = Segment.adjust_line_length(lines[0], cell)
        pad = [Segment(" " * (cell - width))] if cell > width else []
        return [line + pad if i or not view.title else line for i, line in enumerate(lines)]


class LabelledStrips:
    """One-row maps, one per line with its label in front: a layer's incoming weights per neuron, or each
    layer's activations for one sample. A strip longer than the width continues on the next lines."""

    def __init__(self, rows, labels: list[str], scale: float | None = None):
        self.rows = [np.asarray(r, dtype=np.float64).ravel() for r in rows]
        self.labels = labels
        self.scale = max_abs(np.concatenate(self.rows)) if scale is None and self.rows else (scale or 1.0)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        label_width = max((len(label) for label in self.labels), default=0)
        room = max(1, options.max_width - label_width - 1)
        for label, values in zip(self.labels, self.rows):
            strip = HeatMap(values, self.scale)
            lines = console.render_lines(strip, options.update(width=min(room, max(len(values), 1))), pad=False)
            for i, line in enumerate(lines):
                yield Segment((label if i == 0 else "").rjust(label_width) + " ")
                yield from line
                yield Segment.line()


class Legend:
    """The scale's key: a colour bar from -scale to +scale, or the characters that stand for the values."""

    def __init__(self, scale: float | None, negative: str = "dislikes", positive: str = "likes",
                 steps: int = 15):
        self.scale = scale     # None: every map has its own scale, written in its title
        self.negative = negative
        self.positive = positive
        self.steps = steps     # colour cells on each side of zero

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        low = f" -{self.scale:.3g}" if self.scale is not None else ""
        high = f" +{self.scale:.3g}" if self.scale is not None else ""
        text = Text()
        if colour_on(console):
            text.append(f"{self.negative}{low} ", Style(color=Color.from_rgb(*NEGATIVE)))
            for i in range(-self.steps, self.steps + 1):
                text.append(FULL, Style(color=Color.from_rgb(*diverging_rgb(i, self.steps))))
            text.append(f"{high} {self.positive}", Style(color=Color.from_rgb(*POSITIVE)))
        else:
            text.append(f"{self.negative}{low} {' '.join(PLAIN_NEGATIVE[::-1])}  (blank near 0)  "
                        f"{' '.join(PLAIN_POSITIVE)}{high} {self.positive}")
        if self.scale is None:
            text.append("; scale: the ± in each title")
        yield text


def map_grid(maps, titles: list[str], scale: str = "shared", cols: int | None = None,
             negative: str = "dislikes", positive: str = "likes") -> Group:
    """Maps (k, H, W) with their titles in a grid and a legend below. scale "shared" puts every map on the
    largest magnitude among them, so they compare; "each" scales every map to its own, which shows the
    structure of weak maps too and writes each scale in its title."""
    if scale == "each":
        views = [HeatMap(m, title=f"{t} ±{max_abs(m):.2g}") for m, t in zip(maps, titles)]
        legend = Legend(None, negative, positive)
    else:
        shared = max_abs(maps)
        views = [HeatMap(m, shared, t) for m, t in zip(maps, titles)]
        legend = Legend(shared, negative, positive)
    return Group(HeatMapGrid(views, cols), legend)
