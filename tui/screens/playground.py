"""Screen 8, Playground (on 2-D data only): the network as TensorFlow Playground shows it — the input features
in the first column, every hidden neuron's surface (its activation over the plane) as a thumbnail in its layer's
column, the output's decision surface large with the training and test points, and the training and test loss,
redrawn as it trains. A cursor (arrows or hjkl) picks a feature or a neuron: a neuron's incoming weights show
under the big map, Enter zooms its surface there; space on a feature turns it on or off, which rebuilds the
model on the new inputs. Where the terminal has an image protocol the surfaces are images, the points dots and
rings of their class colours (render/pixels.py, through surface_view), as on the other screens."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding

from pynn.data.playground import FEATURES, PRETTY, features_text
from pynn.inspect.surface import feature_surfaces, plane_of, surfaces, why_no_plane, why_no_surface
from pynn_tui.render.heatmap import HeatMapGrid, LabelledStrips, Legend, max_abs
from pynn_tui.render.surface import TEST_MARK, TRAIN_MARK, SideBySide, axes_line, marks, surface_view
from pynn_tui.screens import ScreenEntry
from pynn_tui.screens.widgets import InspectScreen, PixelStatic

NAME = "playground"
KEY = "8"
TITLE = "Playground"
THUMBS = (16, 12, 10, 8, 6, 4)   # thumbnail sides tried, largest first
SMALLEST_BIG = 16                 # the output's map is never smaller than this a side
BELOW_BIG = 7                     # lines beside the big map: its title, legend, axes, points, the selected
                                  # neuron's weights and their strip


def playground_entries(app) -> list[ScreenEntry]:
    """The Playground screen's entry (key 8) when the app's data lies on a plane; none otherwise."""
    if why_no_plane(app.bench.data):
        return []
    app.bind(KEY, f"show('{NAME}')", description=TITLE, show=False)
    return [ScreenEntry(NAME, KEY, TITLE, PlaygroundScreen)]


@dataclass
class Layout:
    """How the network fits the body: thumbnails `thumb` pixels a side, `per_row[i]` of them side by side in
    column i (the features', then each layer's), and the output's map `big` pixels a side."""
    thumb: int
    per_row: list[int]
    big: int
    feature_maps: bool    # the features column shows maps (else names only)


def fit_layout(width: int, height: int, n_on: int, layer_sizes: list[int]) -> Layout:
    """The largest thumbnails that let every column fit the height (a title line, then rows of thumbnails with a
    blank line between rows) beside the largest output map that fits; n_on features are turned on."""
    big = max(SMALLEST_BIG, min(2 * (height - BELOW_BIG), width // 2))
    for side in THUMBS:
        lines = side // 2 + 1              # a thumbnail's picture and its title
        rows = max(1, height // (lines + 1))
        per_row = [-(-n // rows) for n in layer_sizes]
        feature_maps = 1 + len(FEATURES) + n_on * (side // 2) <= height
        feature_width = max(side, 8) if feature_maps else 8
        used = feature_width + sum(k * (side + 1) for k in per_row) + len(per_row) + 1
        if used <= width - big - 2:
            return Layout(side, [1, *per_row], big, feature_maps)
    side = THUMBS[-1]
    per_row = [-(-n // max(1, height // (side // 2 + 2))) for n in layer_sizes]
    big = max(SMALLEST_BIG, width - 8 - sum(k * (side + 1) for k in per_row) - len(per_row) - 3)
    return Layout(side, [1, *per_row], big, False)


class PlaygroundScreen(InspectScreen):
    LIVE_SECONDS = 0.25  # one picture of every surface: four times a second while a run goes
    BINDINGS = [
        Binding("left", "move(-1, 0)", "column", key_display="← →", priority=True),  # before the scroll's
        Binding("right", "move(1, 0)", "", show=False, priority=True),
        Binding("up", "move(0, -1)", "neuron", key_display="↑ ↓", priority=True),
        Binding("down", "move(0, 1)", "", show=False, priority=True),
        Binding("h", "move(-1, 0)", "", show=False),
        Binding("l", "move(1, 0)", "", show=False),
        Binding("k", "move(0, -1)", "", show=False),
        Binding("j", "move(0, 1)", "", show=False),
        Binding("space", "toggle", "feature on/off", tooltip="on a feature: add it to the inputs or take it out "
                "(the model is built again)"),
        Binding("enter", "zoom", "zoom", tooltip="show the neuron's surface large in place of the output's"),
    ]

    def __init__(self, bench):
        super().__init__(bench)
        self.column = 1       # 0: the features, then the layers with units, the output last
        self.row = 0          # the feature (over every feature name) or the neuron in the column
        self.zoomed = False
        self.drawn_shape = None   # what fixed the size of the picture drawn last (see draw)

    def compose_body(self) -> ComposeResult:
        yield PixelStatic(id="network")  # its surfaces are images where the terminal draws them

    def why_not(self) -> str:
        reason = why_no_plane(self.bench.data)
        return reason or why_no_surface(self.bench.model, plane_of(self.bench.data))

    # -- what is drawn --------------------------------------------------------------------------------
    def dense(self) -> list:
        return [layer for layer in self.bench.model.layers if layer.kind == "dense"]

    def column_size(self, column: int) -> int:
        return len(FEATURES) if column == 0 else self.dense()[column - 1].units

    def draw(self) -> None:
        bench = self.bench
        plane = plane_of(bench.data)
        layers = self.dense()
        self.column = min(self.column, len(layers))
        self.row = min(self.row, self.column_size(self.column) - 1)
        body = self.query_one("#body").size
        width, height = (body.width, body.height) if self.is_mounted and body.width else (80, 20)
        hidden = [layer.units for layer in layers[:-1]]
        fit = fit_layout(width - 1, height, len(plane.features), hidden)
        selected = layers[self.column - 1] if self.column else None
        zoom_side = fit.big if self.zoomed and selected is not None else None

        def read(model):
            result = surfaces(model, plane, fit.big, layers=[layer.index for layer in layers],
                              neuron_resolution=fit.thumb)
            zoom = None
            if zoom_side is not None:
                zoom = surfaces(model, plane, 2, layers=[selected.index], neurons=[self.row],
                                neuron_resolution=zoom_side).layers[0]
            return (result, zoom, model.evaluate(bench.data.x_train, bench.data.y_train),
                    model.evaluate(bench.data.x_test, bench.data.y_test))

        result, zoom, train, test = bench.read(read)
        self.set_head(self.head_text(plane, train, test))
        # while what fixes the picture's size stays, its redraw needs no new layout (which renders it once more)
        shape = (fit, width, height, self.zoomed, tuple(plane.features), bench.model.spec)
        self.query_one("#network", PixelStatic).update(self.network(plane, result, zoom, fit),
                                                       layout=shape != self.drawn_shape)
        self.drawn_shape = shape

    def head_text(self, plane, train: dict, test: dict) -> Text:
        epochs = len(self.bench.history)
        accuracy = f" ({test['accuracy']:.1%})" if "accuracy" in test else ""
        return Text.assemble((f"{self.bench.data.name} · {self.bench.model.spec}", "bold"),
                             f" · epoch {epochs} · ", ("training loss ", ""), (f"{train['loss']:.3f}", "bold"),
                             " · test loss ", (f"{test['loss']:.3f}", "bold"), accuracy)

    def network(self, plane, result, zoom, fit: Layout) -> SideBySide:
        pieces = [self.features_column(plane, fit)]
        widths = [max(fit.thumb, 8) if fit.feature_maps else 8]
        for i, layer in enumerate(result.layers[:-1], start=1):
            pieces.append(self.layer_column(i, layer, fit))
            widths.append(fit.per_row[i] * (fit.thumb + 1) - 1)
        width = self.query_one("#body").size.width if self.is_mounted else 80
        widths.append(max(fit.big, width - 1 - sum(w + 1 for w in widths)))
        pieces.append(self.big_column(plane, result, zoom, fit))
        return SideBySide(pieces, widths)

    def features_column(self, plane, fit: Layout) -> Group:
        on = set(plane.features)
        lines: list = [Text("inputs", style="bold")]
        maps = feature_surfaces(plane, fit.thumb) if fit.feature_maps else None
        for i, name in enumerate(FEATURES):
            cursor = self.column == 0 and self.row == i
            label = Text(("▸" if cursor else " ") + PRETTY[name], style="bold reverse" if cursor else
                         ("bold" if name in on else "dim"))
            lines.append(label)
            if maps is not None and name in on:
                lines.append(surface_view(maps[plane.features.index(name)], None))
        return Group(*lines)

    def layer_column(self, column: int, layer, fit: Layout) -> Group:
        scale = max_abs(layer.maps)
        views = [surface_view(m, scale, ("▸" if (self.column, self.row) == (column, n) else "") + f"#{n}")
                 for n, m in zip(layer.neurons, layer.maps)]
        return Group(Text(f"layer {layer.layer}", style="bold"), HeatMapGrid(views, cols=fit.per_row[column], gap=1))

    def big_column(self, plane, result, zoom, fit: Layout) -> Group:
        classification = plane.task == "classification"
        parts: list = []
        if zoom is not None:
            parts += [Text(f"layer {zoom.layer} #{zoom.neurons[0]} ({zoom.activation}) · enter: the output",
                           style="bold"), surface_view(zoom.maps[0], max_abs(zoom.maps[0]))]
        else:
            points = marks(plane.extent, fit.big, plane.x_train, plane.y_train, plane.x_test, plane.y_test,
                           classification)
            values = result.decision if result.decision is not None else result.outputs.argmax(axis=0) - 0.5
            scale = 1.0 if classification else max_abs(values)
            parts += [Text(f"output · {result.meaning or 'the class'}", style="bold"),
                      surface_view(values, scale, None, points)]
        negative, positive = ("class 0", "class 1") if classification else ("−", "+")
        parts += [Legend(1.0 if classification else None, negative, positive, steps=6),
                  axes_line(plane.extent, fit.big),
                  Text(f"{TRAIN_MARK} training  {TEST_MARK} test" if self.colour else
                       "0 1 training, A B test points", style="dim")]
        parts.append(self.selected_weights(result))
        return Group(*parts)

    def selected_weights(self, result):
        """The selected neuron's incoming weights as a labelled strip (feature names for layer 1)."""
        if self.column == 0:
            name = list(FEATURES)[self.row]
            return Text(f"space: turn {PRETTY[name]} {'off' if name in result.features else 'on'}", style="italic")
        layer = result.layers[self.column - 1]
        below = (result.features if self.column == 1 else
                 [f"#{j}" for j in range(layer.incoming.shape[1])])
        labels = [PRETTY.get(b, b) for b in below]
        weights = layer.incoming[self.row]
        text = Text(f"#{self.row} ← ", style="bold")
        text.append(", ".join(f"{lab} {w:+.2f}" for lab, w in zip(labels, weights)))
        text.append(f", b {layer.bias[self.row]:+.2f}")
        return Group(text, LabelledStrips([weights], [f"W[{layer.layer}]#{self.row}"]))

    # -- keys -----------------------------------------------------------------------------------------
    def action_move(self, columns: int, rows: int) -> None:
        if self.reason:
            return
        n_columns = len(self.dense()) + 1
        if columns:
            self.column = (self.column + columns) % n_columns
            self.row = min(self.row, self.column_size(self.column) - 1)
        else:
            self.row = (self.row + rows) % self.column_size(self.column)
        self.redraw()

    def action_toggle(self) -> None:
        if self.reason or self.column != 0:
            if not self.reason:
                self.notify("Space turns an input feature on or off: move to the inputs column (←) first.")
            return
        name = list(FEATURES)[self.row]
        chosen = list(plane_of(self.bench.data).features)
        chosen = [f for f in chosen if f != name] if name in chosen else [*chosen, name]
        if not chosen:
            self.notify("The model needs at least one input feature.", severity="warning")
            return
        if self.attempt(lambda: self.bench.change_data(features=features_text(chosen))):
            self.notify(f"inputs {', '.join(PRETTY[f] for f in plane_of(self.bench.data).features)}: "
                        f"{self.bench.model.spec}, fresh weights")
            self.redraw()

    def action_zoom(self) -> None:
        if self.reason:
            return
        self.zoomed = not self.zoomed and self.column > 0
        self.redraw()

    def on_resize(self) -> None:
        if not self.reason and self.is_mounted:
            self.redraw()
