"""Screen 1, Model: the spec (e edits it), every layer's W/b shapes and the parameter arithmetic (LSTMs drawn
unrolled), and what the data holds with a few of its samples — the same renderables as `pynn summary`."""
from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from pynn.errors import PynnError
from pynn.summary import model_summary
from pynn.words import plural
from pynn_tui.render.heatmap import map_grid
from pynn_tui.render.tables import summary_table
from pynn_tui.render.unrolled import unrolled_diagram
from pynn_tui.screens.dialogs import InputDialog
from pynn_tui.screens.widgets import Footer  # lets go of the keys it drew before

KEY = "1"
TITLE = "Model"
SAMPLES = 4  # sample images under the data summary: enough to see what the inputs are, few enough for 80x24


def model_view(model) -> Group:
    summary = model_summary(model)
    parts = [summary_table(summary)]
    parts += [unrolled_diagram(row) for row in summary["layers"] if row["kind"] == "lstm"]
    return Group(*parts)


def data_view(data) -> Group:
    info = data.describe()
    table = Table(title=f"data {data.name}", title_justify="left", show_header=False)
    table.add_column("")
    table.add_column("")
    for key in ("task", "sample_shape", "n_train", "n_test", "class_names", "source"):
        value = info.get(key)
        if value in (None, [], ""):
            continue
        text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        table.add_row(key, text if len(text) < 200 else text[:197] + "...")
    parts = [table]
    shape = data.sample_shape
    # only pictures are worth drawing: a series window or a one-hot text window is not an image
    if len(shape) == 2 and min(shape) > 1 and data.meta.get("kind") not in ("series", "text"):
        count = min(SAMPLES, len(data.x_train))
        images = np.asarray(data.x_train[:count], dtype=np.float64)
        titles = [_label(data, i) for i in range(count)]
        parts += [Text(f"the first {plural(count, 'training sample')}", style="bold"),
                  map_grid(images, titles, "shared", negative="below 0", positive="above 0")]
    return Group(*parts)


def _label(data, i: int) -> str:
    y = data.y_train[i]
    if np.ndim(y) == 0 and data.class_names:
        return f"#{i}: {data.class_names[int(y)]}"
    return f"#{i}"


class ModelScreen(Screen):
    """The model's shapes and arithmetic, and the data; redrawn only when the model itself is replaced."""

    BINDINGS = [Binding("e", "edit_spec", "Edit", tooltip="type a new spec; the model is rebuilt with fresh weights")]

    def __init__(self, bench):
        super().__init__()
        self.bench = bench
        self._shown = None  # the model object drawn now; weights changing during training do not matter here

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="model-scroll"):
            yield Static(id="spec-line")
            yield Static(id="model-summary")
            yield Static(data_view(self.bench.data), id="data-summary")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_model()
        self.set_interval(0.1, self.refresh_model)

    def refresh_model(self) -> None:
        model = self.bench.model
        if model is self._shown:
            return
        self._shown = model
        self.query_one("#spec-line", Static).update(
            Text.assemble(("spec ", "bold"), model.spec, f"   {model.n_params:,} parameters   (e: edit)"))
        self.query_one("#model-summary", Static).update(model_view(model))

    def action_edit_spec(self) -> None:
        def apply(text: str | None) -> None:
            if not text:
                return
            try:
                self.bench.set_spec(text)
            except PynnError as err:
                self.app.notify(str(err), title="spec not changed", severity="error", timeout=8)
            else:
                self.refresh_model()
                self.app.notify(f"new model {self.bench.model.spec}: fresh weights, history cleared.")

        self.app.push_screen(InputDialog("Model spec (e.g. 784-100:relu-10, 30-10, 28x28-lstm64-10):",
                                         self.bench.run.model), apply)
