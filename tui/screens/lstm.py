"""Screen 7, LSTM: for one test sample, what an LSTM layer does at every step — its input, forget and output
gates and candidate values, its cell state and hidden state — as heat maps with one column per time step and
one row per unit, and under them the input along the same time axis (the characters of a character model, the
values of a series; a sequence classifier's image beside them). The six maps fit the screen at once: the units
are ranked by how much their hidden state moves over the sample and as many as fit are shown, the unit cursor
(↑ ↓) walking down the ranking, and Enter shows the cursor unit's six traces as curves. For a model trained
statefully, the state the window starts from, carried from the windows before it in the test stream. Below, what
the model makes of the sample: the forecast against the truth for a series, text generated from the sample for a
character model (regenerated as the weights change, at most every TEXT_SECONDS while a run goes), the predicted
class otherwise.

The traces and the text are computed in worker threads that use one OpenMP thread each, so keys answer at once
and the UI takes no cores from a run; the screen draws what they post back."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static
from textual.worker import get_current_worker

from pynn.errors import PynnError
from pynn.forecast import series_forecasts
from pynn.generate import generate_text
from pynn.lstm import gate_trace
from pynn.train import windows_apart
from pynn_tui.render.charts import LineChart, Series
from pynn_tui.render.heatmap import HeatMap, LabelledStrips, Legend, max_abs
from pynn_tui.screens.widgets import InspectScreen, few_threads

KEY = "7"
TITLE = "LSTM"
GENERATE_LENGTH = 160   # characters per sample of text: a few lines, quick even for lstm128
TEMPERATURE = 0.8       # pynn sample's default
TEXT_SECONDS = 10.0     # while a run goes, new text at most this often: a text is 160 forward passes
# windows a stateful model reads before the traced one, from the zero state: what it carries from further back
# has faded, and reading back to the stream's start would cost a redraw a second at the end of a long text
STREAM_WINDOWS = 16
LABEL_WIDTH = 8         # the column left of the maps: each map's name (then one for the unit cursor)

# what each trace is, in the order drawn; gates and h live in fixed ranges, so they share the scale 1
# (a gate at 1 is fully open) while the cell state, which is unbounded, gets its own
PANELS = (("input", "input gate i"), ("forget", "forget gate f"), ("candidate", "candidate g"),
          ("output", "output gate o"), ("cell", "cell state c"), ("hidden", "hidden state h"))
SHORT = {"input": "input i", "forget": "forget f", "candidate": "cand. g", "output": "output o",
         "cell": "cell c", "hidden": "hidden h"}


@dataclass
class TraceRead:
    """What a worker read for one sample on one snapshot of the weights."""
    key: tuple              # (sample, layer, weights version, model)
    trace: object           # pynn.lstm.GateTrace
    before: object          # the stream's earlier windows (stateful), or None
    outcome: object         # the forecast window, the class probabilities, or None


def ranked_units(trace) -> np.ndarray:
    """The units, the one whose hidden state moves most over the sample first (ties by number)."""
    spread = trace.hidden.std(axis=0)
    return np.lexsort((np.arange(len(spread)), -spread))


def visible_units(order: np.ndarray, cursor: int, k: int) -> np.ndarray:
    """The k consecutive units of the ranking that hold the cursor unit, the window moving a page at a time."""
    position = int(np.flatnonzero(order == cursor)[0]) if cursor in order else 0
    start = min((position // k) * k, max(len(order) - k, 0))
    return order[start:start + k]


class LSTMScreen(InspectScreen):
    LIVE_SECONDS = 0.25  # while a run goes: a new trace four times a second (read in a worker)
    # n/p (← →) as on the Probe screen; p is "previous sample" here, so a run pauses from the palette
    BINDINGS = [
        Binding("n", "step(1)", "sample", key_display="n p"),
        Binding("p", "step(-1)", "", show=False),
        Binding("right", "step(1)", "sample", key_display="← →", show=False, priority=True),  # before the scroll's
        Binding("left", "step(-1)", "", show=False, priority=True),
        Binding("down", "unit(1)", "unit", key_display="↑ ↓", priority=True),
        Binding("up", "unit(-1)", "", show=False, priority=True),
        Binding("j", "unit(1)", "", show=False),
        Binding("k", "unit(-1)", "", show=False),
        Binding("enter", "zoom", "a unit's traces", show=False),  # the legend under the maps says ⏎
        Binding("escape", "unzoom", "back to the maps", show=False),
        Binding("left_square_bracket", "layer(-1)", "LSTM layer", key_display="[ ]", show=False),
        Binding("right_square_bracket", "layer(1)", "", show=False),
        Binding("g", "generate", "text"),
    ]

    def __init__(self, bench):
        super().__init__(bench)
        self.index = 0              # the test sample traced
        self.layer_index = 0        # the number l of the LSTM traced (as in W[l]); 0 until the first draw
        self.unit = None            # the unit under the cursor (its number); None: the first of the ranking
        self.zoomed = False         # showing the cursor unit's six traces instead of the maps
        self.trace = None           # the last pynn.lstm.GateTrace drawn
        self.shown: TraceRead | None = None
        self.maps: list[HeatMap] = []
        self.units: np.ndarray = np.zeros(0, int)  # the units the maps show, in ranking order
        self.seed = 0               # g draws a new sample of text with the next seed
        self.generated: tuple | None = None  # (model, index, seed, text): regenerated when one changes
        self.generated_at = (-1, 0.0)        # (weights version, monotonic time) of the text shown
        self._generating = False

    def compose_body(self) -> ComposeResult:
        yield Static(id="gates")
        yield Static(id="outcome")

    def lstm_layers(self) -> list[int]:
        return [layer.index for layer in self.bench.model.layers if layer.kind == "lstm"]

    def why_not(self) -> str:
        model, data = self.bench.model, self.bench.data
        if not self.lstm_layers():
            return (f"{model.spec} has no LSTM layer; this screen shows an LSTM's gates over time (try "
                    "20x1-lstm16-1 on the sine data).")
        if not len(data.x_test):
            return f"The data {data.name} has no test samples to trace."
        return ""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "generate" and not self.reason:
            return self.text_model()  # g only where there is text to generate
        return super().check_action(action, parameters)

    # -- reading, in a worker -------------------------------------------------------------------------
    def draw(self) -> None:
        data, layers = self.bench.data, self.lstm_layers()
        if self.layer_index not in layers:
            self.layer_index = layers[0]
        self.index = min(max(self.index, 0), len(data.x_test) - 1)
        self.set_head(self.head_text())
        key = (self.index, self.layer_index, self.bench.version, self.bench.model)
        if self.shown is not None and self.shown.key == key:
            self.show()
            return
        x, layer, before = data.x_test[self.index], self.layer_index, self.stream_before()
        self.run_worker(lambda: self.read_trace(key, x, layer, before), thread=True, group="lstm-trace",
                        exclusive=True, exit_on_error=False)

    def read_trace(self, key: tuple, x: np.ndarray, layer: int, before) -> None:
        """In a worker thread: the trace and what the model makes of the sample, posted back to show."""
        try:
            with few_threads():
                trace = self.bench.read(lambda model: gate_trace(model, x, layer, before))
                outcome = self.read_outcome(key[0])
        except PynnError as err:
            self.app.call_from_thread(self.notify, str(err), severity="error")
            return
        if not get_current_worker().is_cancelled:  # a newer request is on its way: this one is stale
            self.app.call_from_thread(self.take_trace, TraceRead(key, trace, before, outcome))

    def read_outcome(self, index: int):
        data, kind = self.bench.data, self.bench.data.meta.get("kind")
        if kind == "series":
            return self.bench.read(lambda model: series_forecasts(model, data, index))
        if np.ndim(data.y_test) == 1 and not self.text_model():
            return self.bench.read(lambda model: model.predict(data.x_test[index:index + 1]))
        return None

    def take_trace(self, read: TraceRead) -> None:
        if not self.is_mounted:
            return
        self.shown, self.trace = read, read.trace
        self.show()
        self.refresh_text()

    # -- showing, on the UI thread --------------------------------------------------------------------
    def head_text(self) -> Text:
        layers, data = self.lstm_layers(), self.bench.data
        steps, units = self.bench.data.sample_shape[0], self.bench.model.layer_numbered(self.layer_index).units
        lstm = f"LSTM {self.layer_index} ({layers.index(self.layer_index) + 1}/{len(layers)}, [ ])" \
            if len(layers) > 1 else f"LSTM layer {self.layer_index}"
        unit = "" if self.unit is None else f" · unit #{self.unit}"
        return Text.assemble(("sample ", "bold"), (str(self.index), "bold"),
                             f" of {len(data.x_test):,} (n p) · {lstm}: {units} units x {steps} steps", unit)

    def show(self) -> None:
        """The maps (or the cursor unit's traces) and the outcome, from the last trace read."""
        read = self.shown
        if read is None or self.reason:
            return
        trace = read.trace
        order = ranked_units(trace)
        if self.unit is None or self.unit not in order:
            self.unit = int(order[0])
        self.set_head(self.head_text())
        body = self.query_one("#body").size
        width = body.width - 2 if body.width > 10 else 78
        height = body.height if body.height > 6 else 20
        if self.zoomed:
            view = self.unit_view(trace, height)
        else:
            view = self.overview(trace, order, width, height)
        self.query_one("#gates", Static).update(Group(view, *self.start_view(trace, read.before), Text("")))
        self.query_one("#outcome", Static).update(self.outcome(read.outcome))

    def overview(self, trace, order: np.ndarray, width: int, height: int) -> Group:
        """The six maps stacked on one time axis, each as many ranked units as fit, the input under them."""
        steps, n_units = trace.hidden.shape
        picture = self.input_picture()
        room = width - LABEL_WIDTH - 3 - (picture.width + 2 if picture is not None else 0)
        shown_steps = slice(max(0, steps - max(room, 8)), steps)  # the last steps when they do not all fit
        rows = max(1, (height - 3) // len(PANELS))  # the input row, the legend line and a spare
        per_row = 2 if self.colour else 1
        units = self.units = visible_units(order, self.unit, min(rows * per_row, n_units))
        cell_scale = max_abs(trace.cell)
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=LABEL_WIDTH, no_wrap=True)
        grid.add_column(width=1, no_wrap=True)  # ▶ on the line of the cursor unit
        grid.add_column(no_wrap=True)
        self.maps = []
        cursor_line = int(np.flatnonzero(units == self.unit)[0]) // per_row if self.unit in units else -1
        for name, _title in PANELS:
            values = getattr(trace, name)[shown_steps][:, units].T  # rows: units, columns: steps
            heat = HeatMap(values, cell_scale if name == "cell" else 1.0)
            self.maps.append(heat)
            lines = heat.height(self.colour)
            cursor = "\n".join("▶" if line == cursor_line else "" for line in range(lines))
            grid.add_row(Text(SHORT[name], style="bold"), Text(cursor, style="bold"), heat)
        grid.add_row(Text("input", style="bold"), Text(""), self.input_row(shown_steps))
        first = shown_steps.start
        ranks = f"units ranked {int(np.flatnonzero(order == units[0])[0]) + 1}-" \
                f"{int(np.flatnonzero(order == units[-1])[0]) + 1} of {n_units} by how much h moves"
        legend = Text(f"{ranks} (↑↓ · ⏎ the unit's traces); steps {first + 1}-{steps}; gates 0 (closed) to 1, "
                      f"g and h -1 to 1, c ±{cell_scale:.3g}", style="italic")
        if picture is None:
            return Group(grid, legend)
        beside = Table.grid(padding=(0, 2))
        beside.add_row(grid, Group(Text("the input (row t: step t)", style="italic"), picture))
        return Group(beside, legend)

    def input_row(self, steps: slice):
        """The sample's input along the time axis: its characters, or its (first) feature as a strip."""
        x = self.bench.data.x_test[self.index][steps]
        if self.text_model():
            vocab = self.vocabulary()
            return Text("".join(vocab[int(c)] for c in x.argmax(axis=1)).replace("\n", "↵").replace(" ", "␣"))
        if x.shape[1] == 1:
            return HeatMap(x[:, 0][None, :], max_abs(x))
        return Text(f"{x.shape[1]} features a step (beside)", style="dim")

    def input_picture(self) -> HeatMap | None:
        """A sequence classifier's sample drawn as it is read (an image's rows are the steps), else None."""
        x = self.bench.data.x_test[self.index]
        if self.text_model() or x.ndim != 2 or x.shape[1] < 8:
            return None
        return HeatMap(x, max_abs(x))

    def unit_view(self, trace, height: int) -> Group:
        """The cursor unit's six traces over the steps: the gates on one chart, the values on another, the two
        as tall as the screen allows (each chart's axis, ticks, label and legend take 4 lines)."""
        u, rows = self.unit, max(3, (height - 10) // 2)
        steps = list(range(1, trace.hidden.shape[0] + 1))

        def series(name):
            return Series(SHORT[name], steps, getattr(trace, name)[:, u].tolist(), marks=False)

        gates = LineChart([series(n) for n in ("input", "forget", "output")], height=rows, y_range=(0.0, 1.0),
                          x_label="step", y_format="{:.1f}")
        values = LineChart([series(n) for n in ("candidate", "cell", "hidden")], height=rows, x_label="step",
                           y_format="{:.2g}")
        parts = [Text(f"unit #{u}: its gates and values at every step (esc: the maps)", style="bold"), gates, values]
        if self.text_model():
            parts.append(Text("the steps' characters: " + self.window_text().replace("\n", "↵")))
        return Group(*parts)

    def stream_before(self) -> np.ndarray | None:
        """For a model trained statefully, the test windows of the sample's stream that come before it (the
        last STREAM_WINDOWS), which the trace reads first, as a stateful run reads its stream; None otherwise."""
        if not self.bench.model.run.stateful:
            return None
        x_test = self.bench.data.x_test
        apart = windows_apart(x_test)  # a series' windows start a step apart: its stream goes a lookback at a time
        first = max(self.index % apart, self.index - apart * STREAM_WINDOWS)
        return x_test[first:self.index:apart]

    @staticmethod
    def start_view(trace, before) -> list:
        """The state the window starts from, when it is carried in (a stateful model)."""
        if before is None:
            return []
        where = (f"carried from the {len(before)} test window{'s' if len(before) != 1 else ''} before it, read in "
                 "order from zero" if len(before) else "zero: the first window of the test stream")
        return [Text(f"stateful: the window starts from h_0 and c_0 {where}", style="italic"),
                LabelledStrips([trace.start_hidden, trace.start_cell], ["h_0", "c_0"])]

    # -- what the model makes of the sample -----------------------------------------------------------
    def outcome(self, read):
        kind = self.bench.data.meta.get("kind")
        if kind == "series" and read is not None:
            return self.forecast_view(read)
        if self.text_model():
            return self.text_view()
        data = self.bench.data
        if read is not None:
            probabilities = read
            predicted = int(np.argmax(probabilities.reshape(-1))) if probabilities.size > 1 \
                else int(probabilities.reshape(-1)[0] > 0.5)
            true = int(data.y_test[self.index])
            verdict = "✓" if predicted == true else f"✗ (true: {self.class_label(true)})"
            return Text(f"predicted {self.class_label(predicted)} {verdict}", style="bold")
        return Text("")

    def forecast_view(self, window) -> Group:
        """The sample's history, then the truth, the model's forecast and the naive one, in the series' units:
        the truth listed first, so its marks stay on top where the others fall on it."""
        forecast, naive, truth = window.forecast[0], window.naive[0], window.truth[0]
        history = window.history[0].tolist()
        ahead = list(range(len(history), len(history) + len(truth)))
        chart = LineChart([Series("truth", ahead, truth.tolist(), marks=True),
                           Series("forecast", ahead, forecast.tolist(), marks=True),
                           Series("naive", ahead, naive.tolist(), marks=True),
                           Series("history", list(range(len(history))), history, marks=False)],
                          height=8, x_label="step")
        error = float(np.mean(np.abs(forecast - truth)))
        naive_error = float(np.mean(np.abs(naive - truth)))
        return Group(Text("the forecast against the truth", style="bold"), chart,
                     Text(f"mean absolute error {error:.4g} (naive, repeating the last value: {naive_error:.4g})"))

    def text_model(self) -> bool:
        """A character model on text: what g and the generated text apply to."""
        return self.bench.data.meta.get("kind") == "text" and self.character_model()

    def character_model(self) -> bool:
        model = self.bench.model
        return bool(self.vocabulary()) and model.loss.name == "xent" and len(model.output_shape) == 2

    def vocabulary(self) -> list[str]:
        return list(self.bench.model.class_names or self.bench.data.class_names or [])

    def window_text(self) -> str:
        vocab = self.vocabulary()
        return "".join(vocab[int(c)] for c in self.bench.data.x_test[self.index].argmax(axis=1))

    def text_view(self) -> Group:
        window = self.window_text()
        generated = Text(self.generated[3][len(window):]) if self.generated else Text("generating…", style="dim")
        shown = window.replace("\n", "↵")
        return Group(Text("the sample (the steps above, as characters)", style="bold"), Text(shown),
                     Text(""), Text(f"generated from it by the weights as they are now (temperature "
                                    f"{TEMPERATURE}; g: new text)", style="bold"), generated)

    def refresh_text(self, force: bool = False) -> None:
        """Start generating text in a worker when the sample, the seed or (at most every TEXT_SECONDS while a
        run goes) the weights changed since the text shown; one generation at a time."""
        if not self.text_model() or self._generating:
            return
        model, version = self.bench.model, self.bench.version
        key = (model, self.index, self.seed)
        if not force and self.generated is not None and self.generated[:3] == key:
            if self.generated_at[0] == version:
                return
            if self.bench.training and time.monotonic() - self.generated_at[1] < TEXT_SECONDS:
                return
        self._generating = True
        vocab, prime, seed = self.vocabulary(), self.window_text(), self.seed
        self.run_worker(lambda: self.generate(key, version, vocab, prime, seed), thread=True, group="lstm-text",
                        exit_on_error=False)

    def generate(self, key: tuple, version: int, vocab, prime: str, seed: int) -> None:
        """In a worker thread: a new text from the weights as they are now."""
        try:
            with few_threads():
                text = self.bench.read(lambda frozen: generate_text(frozen, vocab, length=GENERATE_LENGTH,
                                                                    prime=prime, temperature=TEMPERATURE, seed=seed))
        except PynnError as err:
            text = None
            self.app.call_from_thread(self.notify, str(err), severity="error")
        self.app.call_from_thread(self.take_text, key, version, text)

    def take_text(self, key: tuple, version: int, text: str | None) -> None:
        self._generating = False
        if text is not None:
            self.generated, self.generated_at = (*key, text), (version, time.monotonic())
        if not self.is_mounted:
            return
        if self.shown is not None:
            self.query_one("#outcome", Static).update(self.outcome(self.shown.outcome))
        if self.generated is None or self.generated[:3] != (self.bench.model, self.index, self.seed):
            self.refresh_text()  # the sample or the seed moved on while this one was written

    # -- keys -----------------------------------------------------------------------------------------
    def action_step(self, step: int) -> None:
        if not self.reason:
            self.index = (self.index + step) % len(self.bench.data.x_test)
            self.attempt(self.redraw)

    def action_unit(self, step: int) -> None:
        if self.reason or self.shown is None:
            return
        order = list(ranked_units(self.shown.trace))
        position = order.index(self.unit) if self.unit in order else 0
        self.unit = int(order[min(max(position + step, 0), len(order) - 1)])
        self.show()

    def action_zoom(self) -> None:
        if not self.reason and self.shown is not None:
            self.zoomed = not self.zoomed
            self.show()

    def action_unzoom(self) -> None:
        if self.zoomed:
            self.action_zoom()

    def action_layer(self, step: int) -> None:
        layers = self.lstm_layers()
        if not self.reason and layers:
            position = layers.index(self.layer_index) if self.layer_index in layers else 0
            self.layer_index = layers[(position + step) % len(layers)]
            self.unit = None
            self.attempt(self.redraw)

    def action_generate(self) -> None:
        if self.reason:
            return
        if not self.text_model():
            self.notify("New text needs a character model (e.g. lstm128*-65 on the shakespeare data).")
            return
        self.seed += 1
        self.refresh_text()
