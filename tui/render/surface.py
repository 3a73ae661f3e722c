"""Surfaces over the plane of a 2-D set, as TensorFlow Playground draws them: a map of values (R x R, row 0 at
the top) on the weight maps' blue/red scale in half-block cells, with the training points (●) and test points
(○) over it in their class's colour. With colour off each cell is a character of the scale (colour.plain_char)
and a point its class's digit (training) or letter (test: A for class 0, B for class 1 ...)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from pynn_tui.render.colour import colour_on, plain_char
from pynn_tui.render import pixels
from pynn_tui.render.heatmap import TITLE_STYLE, UPPER_HALF, Legend, cell_style, max_abs, packed_rgb

TRAIN_MARK, TEST_MARK = "●", "○"
# Points lighter than the surface's own blue and red, so a point of the class its region predicts still shows.
CLASS_RGB = {0: (255, 175, 130), 1: (160, 210, 255)}
OTHER_RGB = (235, 235, 235)


@dataclass
class Marks:
    """Points placed on a picture: cells (line, column) in colour, pixel rows (row, column) without."""
    rows: np.ndarray       # pixel row of each point (0 at the top)
    cols: np.ndarray
    glyphs: list[str]      # with colour
    plain: list[str]       # without
    rgb: list[int]         # 0xRRGGBB of each point's glyph


def marks(extent, resolution: int, x_train, y_train, x_test, y_test, classification: bool) -> Marks:
    """The training and test points (raw coordinates (m, 2)) placed on an R x R picture of the box; points
    outside it are left out. Test points come last, so where two share a cell the test point shows."""
    (x1_low, x1_high), (x2_low, x2_high) = extent
    rows, cols, glyphs, plain, rgb = [], [], [], [], []
    for x, y, test in ((x_train, y_train, False), (x_test, y_test, True)):
        if x is None or not len(x):
            continue
        col = np.floor((x[:, 0] - x1_low) / (x1_high - x1_low) * resolution).astype(int)
        row = np.floor((x2_high - x[:, 1]) / (x2_high - x2_low) * resolution).astype(int)
        inside = (col >= 0) & (col < resolution) & (row >= 0) & (row < resolution)
        values = np.asarray(y).reshape(len(x), -1)[:, 0]
        for r, c, v in zip(row[inside], col[inside], values[inside]):
            rows.append(r)
            cols.append(c)
            glyphs.append(TEST_MARK if test else TRAIN_MARK)
            if classification:
                k = int(v)
                plain.append(chr(ord("A") + k % 26) if test else str(k % 10))
                colour = CLASS_RGB.get(k, OTHER_RGB)
            else:
                plain.append("@" if test else "o")
                colour = _lighter(packed_rgb([float(v)], 1.0)[0])
            rgb.append((colour[0] << 16) | (colour[1] << 8) | colour[2] if isinstance(colour, tuple) else colour)
    return Marks(np.array(rows, int), np.array(cols, int), glyphs, plain, rgb)


def _lighter(rgb: int) -> int:
    parts = [(rgb >> 16) & 0xFF, (rgb >> 8) & 0xFF, rgb & 0xFF]
    r, g, b = (int(c + (255 - c) * 0.45) for c in parts)
    return (r << 16) | (g << 8) | b


class SurfaceMap:
    """A surface (R, R) with an optional title and points: R columns wide, R/2 lines tall in either mode
    (without colour, two pixel rows make one line, read as their mean), so the plane stays square-ish."""

    def __init__(self, values, scale: float | None = None, title: str | None = None, points: Marks | None = None):
        self.values = np.asarray(values, dtype=np.float64)
        self.scale = max_abs(self.values) if scale is None else float(scale)
        self.title = title
        self.points = points

    @property
    def width(self) -> int:
        return max(self.values.shape[1], len(self.title or ""))

    def height(self) -> int:
        return -(-self.values.shape[0] // 2) + (1 if self.title else 0)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.width, self.width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = min(self.width, options.max_width)
        h, w = self.values.shape
        used = min(w, width)
        pad = [Segment(" " * (width - used))] if width > used else []
        if self.title:
            yield Segment(self.title[:width].center(width), TITLE_STYLE)
            yield Segment.line()
        colour = colour_on(console)
        on_cell = self._marks_by_cell()
        if colour:
            packed = packed_rgb(self.values[:, :used], self.scale)
            means = packed_rgb(self._pair_means()[:, :used], self.scale)
        for line in range(-(-h // 2)):
            r = 2 * line
            for c in range(used):
                mark = on_cell.get((line, c))
                if colour:
                    lower = packed[r + 1][c] if r + 1 < h else -1
                    if mark is None:
                        yield Segment(UPPER_HALF, cell_style(packed[r][c], lower, console.color_system))
                    else:
                        yield Segment(self.points.glyphs[mark],
                                      cell_style(self.points.rgb[mark], means[line][c], console.color_system))
                elif mark is None:
                    yield Segment(plain_char(self._pair_means()[line, c], self.scale))
                else:
                    yield Segment(self.points.plain[mark])
            yield from pad
            yield Segment.line()

    def _pair_means(self) -> np.ndarray:
        """(lines, W): each cell's two pixel rows averaged (the last row alone when R is odd)."""
        if not hasattr(self, "_means"):
            v = self.values
            if len(v) % 2:
                v = np.vstack([v, v[-1:]])
            self._means = (v[0::2] + v[1::2]) / 2
        return self._means

    def _marks_by_cell(self) -> dict[tuple[int, int], int]:
        if self.points is None:
            return {}
        return {(int(r) // 2, int(c)): i for i, (r, c) in enumerate(zip(self.points.rows, self.points.cols))}


def surface_view(values, scale: float | None = None, title: str | None = None, points: Marks | None = None):
    """A surface as this process draws maps: an image with the points as dots of their colours (filled for
    training, rings for test) where it draws images (render/pixels.py), else a SurfaceMap of characters."""
    if not pixels.draws_images():
        return SurfaceMap(values, scale, title, points)
    dots = [] if points is None else [pixels.Dot(int(r), int(c), rgb, glyph == TEST_MARK) for r, c, rgb, glyph
                                      in zip(points.rows, points.cols, points.rgb, points.glyphs)]
    return pixels.map_view(values, scale, title, dots)


def points_legend(console_colour: bool, classification: bool, n_train: int, n_test: int) -> Text:
    """What the points over a surface stand for (a set with no points drawn is not mentioned)."""
    if console_colour:
        kinds = [f"{TRAIN_MARK} {n_train} training points" if n_train else "",
                 f"{TEST_MARK} {n_test} test points" if n_test else ""]
    elif classification:
        kinds = [f"0 1 ...: {n_train} training points by class" if n_train else "",
                 f"A B ...: {n_test} test points (A class 0, B class 1)" if n_test else ""]
    else:
        kinds = [f"o: {n_train} training points" if n_train else "", f"@: {n_test} test points" if n_test else ""]
    text = Text(", ".join(k for k in kinds if k))
    if console_colour and classification:
        text.append(": ")
        text.append("class 0", Style(color="rgb({},{},{})".format(*CLASS_RGB[0])))
        text.append(", ")
        text.append("class 1", Style(color="rgb({},{},{})".format(*CLASS_RGB[1])))
    elif console_colour:
        text.append(", coloured by their target on the same scale")
    return text


def axes_line(extent, width: int) -> Text:
    """The box under a map: x1 from left to right, x2 from bottom to top."""
    (x1_low, x1_high), (x2_low, x2_high) = extent
    return Text(f"x1 {x1_low:.3g}…{x1_high:.3g} →, x2 {x2_low:.3g}…{x2_high:.3g} ↑", style="dim")


class SideBySide:
    """Pictures in columns of fixed widths, each rendered once at its width and set beside the others, top
    aligned: cheaper than a table, which measures and renders its cells again to lay them out."""

    def __init__(self, pieces: list, widths: list[int], gap: int = 1):
        self.pieces, self.widths, self.gap = pieces, widths, gap

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        blocks = [console.render_lines(piece, options.update(width=width, height=None), pad=True)
                  for piece, width in zip(self.pieces, self.widths)]
        gap = Segment(" " * self.gap)
        for row in range(max((len(b) for b in blocks), default=0)):
            for i, (block, width) in enumerate(zip(blocks, self.widths)):
                if i:
                    yield gap
                yield from (block[row] if row < len(block) else [Segment(" " * width)])
            yield Segment.line()


# -- whole views ------------------------------------------------------------------------------------------------

def output_view(result, plane, *, title: str | None = None, console_colour: bool = True,
                with_points: bool = True) -> Group:
    """The output's decision surface (or, for three classes or more, each class's probability) with the
    points over it, its legend and what the points are."""
    resolution = len(result.x1)
    classification = plane.task == "classification"
    points = (marks(plane.extent, resolution, plane.x_train, plane.y_train, plane.x_test, plane.y_test,
                    classification) if with_points else None)
    parts = []
    if result.decision is not None:
        scale = 1.0 if classification or result.meaning != "the output" else max_abs(result.decision)
        parts.append(surface_view(result.decision, scale, title, points))
        negative, positive = ("class 0", "class 1") if classification else ("negative", "positive")
        parts.append(Legend(scale, negative, positive, steps=8))
    else:
        maps = [surface_view(m, 1.0, f"p(class {k})", points) for k, m in enumerate(result.outputs)]
        parts += [Text(title or "", style="bold"), pixels.view_grid(maps), Legend(1.0, "", "probability", steps=8)]
    parts.append(axes_line(plane.extent, resolution))
    if with_points:
        parts.append(points_legend(console_colour, classification, len(plane.x_train), len(plane.x_test)))
    return Group(*parts)


def neuron_grid(layer, cols: int | None = None, scale: str = "shared") -> Group:
    """A layer's neurons' surfaces side by side, titled by neuron, with the legend of their scale."""
    shared = max_abs(layer.maps)
    views = [surface_view(m, shared if scale == "shared" else None, f"#{n}") for n, m in zip(layer.neurons, layer.maps)]
    return Group(pixels.view_grid(views, cols), Legend(shared, "negative", "positive", steps=8))


def surface_report(result, plane, heading: str, console_colour: bool, with_points: bool = True) -> Group:
    """What `pynn surface` prints: the heading, the output surface with the points, then each chosen layer's
    neurons."""
    parts = [Text(heading, style="bold"),
             Text(f"the output: {result.meaning or 'each class probability'} over the plane", style="italic"),
             output_view(result, plane, console_colour=console_colour, with_points=with_points)]
    for layer in result.layers:
        what = "its output" if layer.activation == "output" else f"{layer.activation} of W·x + b"
        parts += [Text(""), Text(f"layer {layer.layer}: each neuron's surface ({what} at every point of the plane)",
                                 style="italic"), neuron_grid(layer)]
    return Group(*parts)


def film_view(film, layer_index: int | None = None) -> Group:
    """Surfaces across epochs: the output's, then each chosen neuron's, one column per epoch."""
    parts = [Text("the output across epochs", style="italic"),
             pixels.view_grid([surface_view(f.decision if f.decision is not None else f.outputs[0], 1.0,
                                            f"epoch {e}") for e, f in zip(film.epochs, film.frames)],
                              cols=len(film.frames))]
    for i, layer in enumerate(film.frames[0].layers):
        if layer_index is not None and layer.layer != layer_index:
            continue
        shared = max(max_abs(f.layers[i].maps) for f in film.frames)
        for j, neuron in enumerate(layer.neurons):
            parts += [Text(f"layer {layer.layer}, neuron #{neuron}", style="italic"),
                      pixels.view_grid([surface_view(f.layers[i].maps[j], shared, f"epoch {e}")
                                        for e, f in zip(film.epochs, film.frames)], cols=len(film.frames))]
    parts.append(Legend(1.0, "negative", "positive", steps=8))
    if not film.matches_saved:
        parts.append(Text("The replay did not end on exactly the saved weights (another machine or thread count "
                          "rounds differently); the frames are the replay's.", style="italic"))
    return Group(*parts)


def side_by_side(results: list, plane, titles: list[str], console_colour: bool) -> Group:
    """Two models' output surfaces next to each other, with the same points over each."""
    resolution = len(results[0].x1)
    classification = plane.task == "classification"
    points = marks(plane.extent, resolution, plane.x_train, plane.y_train, plane.x_test, plane.y_test,
                   classification)
    maps = [surface_view(r.decision if r.decision is not None else r.outputs.argmax(axis=0).astype(float), None
                       if r.decision is None or not classification else 1.0, t, points)
            for r, t in zip(results, titles)]
    negative, positive = ("class 0", "class 1") if classification else ("negative", "positive")
    return Group(pixels.view_grid(maps, cols=len(maps), gap=4), Legend(maps[0].scale, negative, positive, steps=8),
                 axes_line(plane.extent, resolution),
                 points_legend(console_colour, classification, len(plane.x_train), len(plane.x_test)))
