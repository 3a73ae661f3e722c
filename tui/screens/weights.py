"""Screen 3, Weights: every neuron of a dense layer as a heat map of its incoming weights, laid out like the
input (blue: likes, red: dislikes), following training live. The overview shows all of a layer's maps at once,
each averaged down over square blocks of weights as far as it takes for them all to fit the screen. A cursor
(arrows or hjkl) picks a neuron, [ and ] change the layer, Enter zooms the neuron at full size: a large map, its
statistics, the samples that excite it most and the input that excites it most — the pictures of `pynn weights`
and `pynn triggers`."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.widgets import Static

from pynn.inspect.activations import dense_layers
from pynn.inspect.filters import filter_maps
from pynn.inspect.triggers import exciting_examples, maximise_activation
from pynn.inspect.weights import reads_the_input, weight_maps
from pynn.words import plural
from pynn_tui.render.filters import conv_choices, filter_view
from pynn_tui.render.heatmap import HeatMap, LabelledStrips, Legend, map_grid, max_abs
from pynn_tui.render.pixels import map_view  # an image where the terminal draws images
from pynn_tui.screens.widgets import InspectScreen, PixelStatic, has_lstm

KEY = "3"
TITLE = "Weights"
EXAMPLES = 5          # most exciting samples shown in the zoom
ASCENT_STEPS = 200    # activation maximisation, as `pynn triggers` does by default
CELL_GAP = 1          # columns between grid cells
OVERVIEW_SECONDS = 0.25  # between the overview's redraws while a run goes


@dataclass
class Zoom:
    """One neuron's close-up, read in one go under the model's lock."""
    layer: int
    neuron: int
    map: np.ndarray
    incoming: np.ndarray
    bias: float
    back_projected: bool
    examples: object        # pynn.inspect.triggers.Examples
    maximised: object       # pynn.inspect.triggers.Maximised


class WeightCell(PixelStatic):
    """One neuron's map in the grid; the selected one's title stands on the accent colour."""

    DEFAULT_CSS = """
    WeightCell.-selected {
        background: $accent;
        color: $text;
    }
    """


def overview_factor(shape: tuple[int, int], n: int, room: tuple[int, int], colour: bool) -> int:
    """The smallest block size (1: every weight its own pixel) at which n maps of this shape, each with a title
    line, fit room (columns, rows) in a grid; the largest that leaves a map 3 pixels across if none fits."""
    h, w = shape
    title = len(f"#{n - 1}")
    largest = max(1, min(h, w) // 3 if h > 1 else w // 3)
    for f in range(1, largest + 1):
        ph, pw = (-(-h // f) if h > 1 else 1), -(-w // f)
        width, height = max(pw, title), (-(-ph // 2) if colour else ph) + 1
        columns = max(1, (room[0] + CELL_GAP) // (width + CELL_GAP))
        if -(-n // columns) * height <= room[1]:
            return f
    return largest


def downsampled(maps: np.ndarray, f: int) -> np.ndarray:
    """(n, H, W) maps averaged over f x f blocks (the edges' partial blocks over what they hold); a strip (one
    row) shrinks along its length only."""
    if f == 1:
        return maps
    n, h, w = maps.shape
    f_h = f if h > 1 else 1
    padded = np.full((n, -(-h // f_h) * f_h, -(-w // f) * f), np.nan)
    padded[:, :h, :w] = maps
    blocks = padded.reshape(n, padded.shape[1] // f_h, f_h, padded.shape[2] // f, f)
    return np.nanmean(blocks, axis=(2, 4))


class WeightsScreen(InspectScreen):
    # one described binding per group of keys (what the footer and ? list); the others carry no description
    BINDINGS = [
        Binding("left", "move(0, -1)", "neuron", key_display="←↓↑→", priority=True),  # before the scroll's
        Binding("right", "move(0, 1)", "", show=False, priority=True),
        Binding("up", "move(-1, 0)", "", show=False, priority=True),
        Binding("down", "move(1, 0)", "", show=False, priority=True),
        Binding("h", "move(0, -1)", "neuron, as vi", key_display="hjkl", show=False),
        Binding("l", "move(0, 1)", "", show=False),
        Binding("k", "move(-1, 0)", "", show=False),
        Binding("j", "move(1, 0)", "", show=False),
        Binding("enter", "zoom", "zoom"),  # and back
        Binding("escape", "unzoom", "back to the grid", show=False),
        Binding("left_square_bracket", "layer(-1)", "layer", key_display="[ ]"),
        Binding("right_square_bracket", "layer(1)", "", show=False),
    ]

    DEFAULT_CSS = """
    WeightsScreen #weights-grid {
        height: auto;
        grid-gutter: 0 1;
    }
    """

    def __init__(self, bench):
        super().__init__(bench)
        self.layer_index = 0      # the number l (W[l]) of the dense layer drawn; 0 until the first draw
        self.cursor = 0           # the selected neuron
        self.zoomed = False
        self.columns = 1          # grid cells per row, from the screen's width
        self.cells: list[WeightCell] = []   # the grid's cells, one per neuron of the layer drawn
        self.cell_width = 30      # a cell's columns: what the column count divides by
        self.factor = 1           # the overview's block size: each pixel the mean of factor x factor weights
        self.views: list[HeatMap] = []      # the maps in the cells, kept to retitle them as the cursor moves
        self.back_projected = False         # the maps drawn are back-projections (a layer above the first)
        self.zoom: Zoom | None = None

    def live_seconds(self) -> float:
        # the overview redraws every map of the layer (100 cells for 784-100-10), so it follows a run four
        # times a second, which a user cannot tell from ten and the run can (bench/ui_stall.py: 64% of its
        # speed at ten); the close-up is one tall picture with a 200-step ascent behind it: twice a second
        return 0.5 if self.zoomed else OVERVIEW_SECONDS

    def compose_body(self) -> ComposeResult:
        yield Grid(id="weights-grid")
        yield PixelStatic(id="zoom-body")

    # -- what applies ---------------------------------------------------------------------------------
    def dense_choices(self) -> list[int]:
        """The dense layers whose maps can be drawn over the input."""
        model = self.bench.model
        if conv_choices(model):  # a conv model's filters are what reads the input (issue 17)
            return conv_choices(model)
        dense = dense_layers(model)
        return [l.index for l in dense if not l.per_step] if dense and reads_the_input(model, dense[0]) else []

    def why_not(self) -> str:
        model = self.bench.model
        if has_lstm(model):
            return (f"{model.spec} starts with an LSTM, whose weights are shared across time steps rather "
                    f"than drawn over the input; the LSTM screen (7) shows what its units do.")
        if not self.dense_choices():
            return f"{model.spec} has no dense layer to draw."
        return ""

    # -- drawing --------------------------------------------------------------------------------------
    def draw(self) -> None:
        if conv_choices(self.bench.model):
            return self.draw_filters()
        layers = self.dense_choices()
        if self.layer_index not in layers:
            self.layer_index, self.cursor = layers[0], 0
        shape = self.bench.data.sample_shape
        result = self.bench.read(lambda model: weight_maps(model, self.layer_index, None, shape))
        n = len(result.neurons)
        self.cursor = min(self.cursor, n - 1)
        self.back_projected = result.back_projected
        self.set_head(self.head_text())
        self.query_one("#weights-grid").display = not self.zoomed
        self.query_one("#zoom-body").display = self.zoomed
        if self.zoomed:
            self.draw_zoom()
        else:
            self.draw_grid(result)

    def draw_filters(self) -> None:
        """A conv layer's filters, as `pynn weights` draws them; [ ] change the conv layer."""
        layers = conv_choices(self.bench.model)
        if self.layer_index not in layers:
            self.layer_index, self.cursor = layers[0], 0
        fm = self.bench.read(lambda model: filter_maps(model, self.layer_index))
        self.set_head(Text.assemble((f"layer {self.layer_index}", "bold"), f" ({layers.index(self.layer_index) + 1}"
                                    f"/{len(layers)}) · {plural(len(fm.filters), 'filter')} · [ ]: layer"))
        self.query_one("#weights-grid").display = False
        self.query_one("#zoom-body").display = True
        self.query_one("#zoom-body", Static).update(filter_view(fm))

    def head_text(self) -> Text:
        layers = self.dense_choices()
        kind = "back-projected onto the input (approximate)" if self.back_projected else "incoming weights"
        if self.factor > 1 and not self.zoomed:
            kind += f" ({self.factor}x{self.factor} means; ⏎ full size)"
        return Text.assemble((f"layer {self.layer_index}", "bold"),
                             f" ({layers.index(self.layer_index) + 1}/{len(layers)}) · "
                             f"{plural(self.neuron_count(), 'neuron')} · {kind} · ", (f"#{self.cursor}", "bold"),
                             " · esc: grid" if self.zoomed else "")

    def draw_grid(self, result) -> None:
        scale = max_abs(result.maps)
        maps = np.asarray(result.maps, dtype=np.float64)
        if maps.ndim == 2:
            maps = maps[:, None, :]
        body = self.query_one("#body").size
        room = (body.width - 2, body.height) if body.width > 2 and body.height > 2 else (78, 20)
        self.factor = overview_factor(maps.shape[1:], len(maps), room, self.colour)
        maps = downsampled(maps, self.factor)
        self.cell_width = max(maps.shape[2], len(f"#{len(maps) - 1}"))
        views = [map_view(m, scale, self.cell_title(n)) for n, m in zip(result.neurons, maps)]
        width = max(v.width for v in views)
        height = views[0].height(self.colour)
        grid = self.query_one("#weights-grid", Grid)
        # cells are kept and refilled: only a change in their number mounts or removes any
        for cell in self.cells[len(views):]:
            cell.remove()
        del self.cells[len(views):]
        extra = [WeightCell() for _ in range(len(views) - len(self.cells))]
        if extra:
            grid.mount_all(extra)
            self.cells += extra
        for i, (cell, view) in enumerate(zip(self.cells, views)):
            # a fixed size, so laying out the grid never has to render every map to measure it
            cell.styles.width, cell.styles.height = width, height
            cell.update(view, layout=False)
            cell.set_class(i == self.cursor, "-selected")
        self.views = views
        self.layout_grid(width, height)

    def layout_grid(self, width: int | None = None, height: int | None = None) -> None:
        """As many columns of cells as fit the width (a cell is its map plus a border)."""
        grid = self.query_one("#weights-grid", Grid)
        if width is not None:
            grid.styles.grid_columns = str(width)
            grid.styles.grid_rows = str(height)
            self.cell_width = width
        room = max(self.query_one("#body").size.width - 2, 1) if self.is_mounted else 80
        self.columns = max(1, (room + CELL_GAP) // (self.cell_width + CELL_GAP))
        grid.styles.grid_size_columns = self.columns

    def cell_title(self, neuron: int) -> str:
        marked = f"▶#{neuron}◀"
        return marked if neuron == self.cursor and len(marked) <= self.cell_width else f"#{neuron}"

    def draw_zoom(self) -> None:
        zoom = self.zoom = self.read_zoom()
        self.query_one("#zoom-body", Static).update(self.zoom_view(zoom))

    def read_zoom(self) -> Zoom:
        data, layer, neuron = self.bench.data, self.layer_index, self.cursor
        x, _ = self.samples()

        def read(model):
            maps = weight_maps(model, layer, [neuron], data.sample_shape)
            bias = float(model.layer_numbered(layer).b[neuron])
            return maps, bias, exciting_examples(model, layer, neuron, x, EXAMPLES)

        maps, bias, examples = self.bench.read(read)
        # the ascent snapshots the weights under the lock itself and then runs without it, so training
        # is not held up for its 200 steps
        maximised = maximise_activation(self.bench.model, layer, neuron, x.mean(axis=0), steps=ASCENT_STEPS,
                                        bounds=(float(x.min()), float(x.max())))
        return Zoom(layer, neuron, maps.maps[0], maps.incoming[0], bias, maps.back_projected, examples, maximised)

    def zoom_view(self, z: Zoom) -> Group:
        w = z.incoming
        stats = Table.grid(padding=(0, 2))
        stats.add_column(justify="right", style="bold")
        stats.add_column()
        rows = [("weights", f"{len(w)} in, min {w.min():+.3f}, max {w.max():+.3f}"),
                ("mean ± std", f"{w.mean():+.4f} ± {w.std():.4f}"),
                ("norm |w|", f"{np.linalg.norm(w):.3f}"),
                ("positive", f"{(w > 0).mean():.0%} of the weights"),
                ("bias", f"{z.bias:+.3f}"),
                ("mean output", f"{z.examples.mean:.3f} on {plural(len(self.samples()[0]), 'sample')}")]
        for name, value in rows:
            stats.add_row(name, value)
        big = z.map
        room = self.query_one("#body").size.width - 2
        if big.shape[0] > 1 and room >= 2 * big.shape[1]:
            big = np.repeat(np.repeat(big, 2, axis=0), 2, axis=1)  # the same map, each weight 2x2 cells
        kind = "its weights back-projected onto the input (approximate)" if z.back_projected else "its weights"
        parts = [Text(f"layer {z.layer}, neuron {z.neuron}", style="bold"), stats, Text(""),
                 Text(kind, style="italic"), HeatMap(big), Legend(max_abs(z.map))]
        if z.back_projected:
            parts += [Text("its weights from the layer below", style="italic"),
                      LabelledStrips([z.incoming], [f"#{z.neuron}"])]
        x, y = self.samples()
        titles = [f"#{i}{self.label(y, i)} {v:.2f}" for i, v in zip(z.examples.most, z.examples.most_values)]
        parts += [Text(""), Text("most exciting samples (sample, label, output)", style="italic"),
                  map_grid(x[z.examples.most], titles, "shared", negative="negative", positive="positive")]
        m = z.maximised
        parts += [Text(""),
                  Text(f"the input that excites it most: output {m.trace[0]:.3f} at the data's mean → "
                       f"{m.trace[-1]:.3f} after {ASCENT_STEPS} steps (L2 {m.l2:g})", style="italic"),
                  HeatMap(m.x), Legend(max_abs(m.x), "negative", "positive")]
        return Group(*parts)

    def samples(self) -> tuple[np.ndarray, np.ndarray]:
        """Where a neuron's favourite samples are looked for: the test set (the training set if it has none)."""
        data = self.bench.data
        return (data.x_test, data.y_test) if len(data.x_test) else (data.x_train, data.y_train)

    def label(self, y, i: int) -> str:
        return f" {self.class_label(int(y[i]))}" if np.ndim(y) == 1 else ""

    def on_resize(self) -> None:
        if not self.reason and not self.zoomed and self.is_mounted:
            self.redraw()  # another size may take another block size

    # -- keys -----------------------------------------------------------------------------------------
    def neuron_count(self) -> int:
        return self.bench.model.layer_numbered(self.layer_index).units if self.layer_index else 0

    def action_move(self, rows: int, cols: int) -> None:
        if self.reason:
            return
        if conv_choices(self.bench.model):  # the filters are one picture: up and down read it
            self.query_one("#body").scroll_relative(y=3 * rows, animate=False)
            return
        if self.zoomed and rows:
            # the close-up is taller than the screen: up and down read it, left and right change the neuron
            self.query_one("#body").scroll_relative(y=3 * rows, animate=False)
            return
        n = self.neuron_count()
        target = self.cursor + rows * self.columns + cols
        if rows and not 0 <= target < n:
            return  # up from the top row or down from the bottom one stays put
        old, self.cursor = self.cursor, min(max(target, 0), n - 1)
        if self.zoomed or self.drawn_version != self.bench.version or len(self.views) != n:
            self.redraw()
        else:
            self.select(old)  # the weights have not moved: only the two cells' titles and borders change
        if not self.zoomed:
            self.cells[self.cursor].scroll_visible(animate=False)

    def select(self, old: int) -> None:
        for i in (old, self.cursor):
            view = self.views[i]
            self.views[i] = map_view(view.values, view.scale, self.cell_title(i))
            self.cells[i].update(self.views[i], layout=False)
            self.cells[i].set_class(i == self.cursor, "-selected")
        self.set_head(self.head_text())

    def action_layer(self, step: int) -> None:
        layers = self.dense_choices()
        if self.reason or not layers:
            return
        i = (layers.index(self.layer_index) + step) % len(layers) if self.layer_index in layers else 0
        self.layer_index, self.cursor = layers[i], 0
        self.redraw()
        self.query_one("#body").scroll_home(animate=False)

    def action_zoom(self) -> None:
        if not self.reason and not conv_choices(self.bench.model):
            self.zoomed = not self.zoomed  # enter again goes back to the grid, as escape does
            self.attempt(self.redraw)
            if not self.zoomed and self.cells:
                # once the grid is laid out again, bring the neuron that was zoomed into view
                self.call_after_refresh(self.cells[self.cursor].scroll_visible, animate=False)

    def action_unzoom(self) -> None:
        if self.zoomed:
            self.action_zoom()
