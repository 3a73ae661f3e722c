"""Screen 7, LSTM: for one test sample, what an LSTM layer does at every step — its input, forget and output
gates and candidate values, its cell state and hidden state — as heat maps with one column per time step and
one row per unit; for a model trained statefully, the state the window starts from, carried from the windows
before it in the test stream. Below them, what the model makes of the sample: the forecast against the truth for a series,
text generated from the sample for a character model, the predicted class otherwise."""
from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from pynn.forecast import series_forecasts
from pynn.generate import generate_text
from pynn.lstm import gate_trace
from pynn.train import windows_apart
from pynn_tui.render.charts import LineChart, Series
from pynn_tui.render.heatmap import HeatMap, HeatMapGrid, LabelledStrips, Legend, max_abs
from pynn_tui.screens.widgets import InspectScreen

KEY = "7"
TITLE = "LSTM"
GENERATE_LENGTH = 160   # characters per sample of text: a few lines, quick even for lstm128
TEMPERATURE = 0.8       # pynn sample's default
# windows a stateful model reads before the traced one, from the zero state: what it carries from further back
# has faded, and reading back to the stream's start would cost a redraw a second at the end of a long text
STREAM_WINDOWS = 16

# what each trace is, in the order drawn; gates and h live in fixed ranges, so they share the scale 1
# (a gate at 1 is fully open) while the cell state, which is unbounded, gets its own
PANELS = (("input", "input gate i"), ("forget", "forget gate f"), ("candidate", "candidate g"),
          ("output", "output gate o"), ("cell", "cell state c"), ("hidden", "hidden state h"))


class LSTMScreen(InspectScreen):
    LIVE_SECONDS = 0.25  # six maps of units x steps as one picture: four times a second while a run goes
    # n/p (← →) as on the Probe screen; p is "previous sample" here, so a run pauses from the palette
    BINDINGS = [
        Binding("n", "step(1)", "sample", key_display="n p"),
        Binding("p", "step(-1)", "", show=False),
        Binding("right", "step(1)", "sample", key_display="← →", show=False, priority=True),  # before the scroll's
        Binding("left", "step(-1)", "", show=False, priority=True),
        Binding("left_square_bracket", "layer(-1)", "LSTM layer", key_display="[ ]", show=False),
        Binding("right_square_bracket", "layer(1)", "", show=False),
        Binding("g", "generate", "new text"),
    ]

    def __init__(self, bench):
        super().__init__(bench)
        self.index = 0              # the test sample traced
        self.layer_index = 0        # the number l of the LSTM traced (as in W[l]); 0 until the first draw
        self.trace = None           # the last pynn.lstm.GateTrace drawn
        self.maps: list[HeatMap] = []
        self.seed = 0               # g draws a new sample of text with the next seed
        self.generated: tuple | None = None  # (model, index, seed, text): regenerated only when one changes

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

    def draw(self) -> None:
        data, layers = self.bench.data, self.lstm_layers()
        if self.layer_index not in layers:
            self.layer_index = layers[0]
        self.index = min(max(self.index, 0), len(data.x_test) - 1)
        x, layer_index, before = data.x_test[self.index], self.layer_index, self.stream_before()
        trace = self.trace = self.bench.read(lambda model: gate_trace(model, x, layer_index, before))
        steps, units = trace.hidden.shape
        lstm = f"LSTM {layer_index} ({layers.index(layer_index) + 1}/{len(layers)}, [ ])" if len(layers) > 1 \
            else f"LSTM layer {layer_index}"
        self.set_head(Text.assemble(("sample ", "bold"), (str(self.index), "bold"),
                                    f" of {len(data.x_test):,} (n p) · {lstm}: {units} units x {steps} steps"))
        # rows are units and columns time steps, so a map is read left to right like the sequence
        cell_scale = max_abs(trace.cell)
        self.maps = [HeatMap(getattr(trace, name).T, cell_scale if name == "cell" else 1.0, title)
                     for name, title in PANELS]
        self.query_one("#gates", Static).update(Group(
            Text(f"columns: the {steps} steps, first to last; rows: the {units} units", style="italic"),
            HeatMapGrid(self.maps),
            Legend(1.0, "negative", "positive"),
            Text(f"gates run from 0 (closed, dark) to 1 (open); g and h from -1 to 1; the cell state on its own "
                 f"scale, ±{cell_scale:.3g}", style="italic"),
            *self.start_view(trace, before),
            Text("")))
        self.query_one("#outcome", Static).update(self.outcome())

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
    def outcome(self):
        kind = self.bench.data.meta.get("kind")
        if kind == "series":
            return self.forecast_view()
        if kind == "text" and self.character_model():
            return self.text_view()
        data = self.bench.data
        if np.ndim(data.y_test) == 1:
            probabilities = self.bench.read(lambda model: model.predict(data.x_test[self.index:self.index + 1]))
            predicted = int(np.argmax(probabilities.reshape(-1))) if probabilities.size > 1 \
                else int(probabilities.reshape(-1)[0] > 0.5)
            true = int(data.y_test[self.index])
            verdict = "✓" if predicted == true else f"✗ (true: {self.class_label(true)})"
            return Text(f"predicted {self.class_label(predicted)} {verdict}", style="bold")
        return Text("")

    def forecast_view(self) -> Group:
        """The sample's history, then the truth, the model's forecast and the naive one, in the series' units."""
        data = self.bench.data
        window = self.bench.read(lambda model: series_forecasts(model, data, self.index))  # the series' units
        forecast, naive, truth = window.forecast[0], window.naive[0], window.truth[0]
        history = window.history[0].tolist()
        ahead = list(range(len(history), len(history) + len(truth)))
        chart = LineChart([Series("history", list(range(len(history))), history),
                           Series("truth", ahead, truth.tolist()), Series("forecast", ahead, forecast.tolist()),
                           Series("naive", ahead, naive.tolist())], height=8, x_label="step")
        error = float(np.mean(np.abs(forecast - truth)))
        naive_error = float(np.mean(np.abs(naive - truth)))
        return Group(Text("the forecast against the truth", style="bold"), chart,
                     Text(f"mean absolute error {error:.4g} (naive, repeating the last value: {naive_error:.4g})"))

    def character_model(self) -> bool:
        model = self.bench.model
        return bool(self.vocabulary()) and model.loss.name == "xent" and len(model.output_shape) == 2

    def vocabulary(self) -> list[str]:
        return list(self.bench.model.class_names or self.bench.data.class_names or [])

    def window_text(self) -> str:
        vocab = self.vocabulary()
        return "".join(vocab[int(c)] for c in self.bench.data.x_test[self.index].argmax(axis=1))

    def text_view(self) -> Group:
        model, window = self.bench.model, self.window_text()
        key = (model, self.index, self.seed)
        # sampling is not redone at every training batch: it would make the text flicker while it trains
        if self.generated is None or self.generated[:3] != key:
            text = self.bench.read(lambda frozen: generate_text(frozen, self.vocabulary(), length=GENERATE_LENGTH,
                                                                prime=window, temperature=TEMPERATURE, seed=self.seed))
            self.generated = (*key, text)
        shown = window.replace("\n", "↵")
        return Group(Text("the sample (the steps above, as characters)", style="bold"), Text(shown),
                     Text(""), Text(f"generated from it (temperature {TEMPERATURE}; g: new text)", style="bold"),
                     Text(self.generated[3][len(window):]))

    # -- keys -----------------------------------------------------------------------------------------
    def action_step(self, step: int) -> None:
        if not self.reason:
            self.index = (self.index + step) % len(self.bench.data.x_test)
            self.attempt(self.redraw)

    def action_layer(self, step: int) -> None:
        layers = self.lstm_layers()
        if not self.reason and layers:
            position = layers.index(self.layer_index) if self.layer_index in layers else 0
            self.layer_index = layers[(position + step) % len(layers)]
            self.attempt(self.redraw)

    def action_generate(self) -> None:
        if self.reason:
            return
        if not (self.bench.data.meta.get("kind") == "text" and self.character_model()):
            self.notify("New text needs a character model (e.g. lstm128*-65 on the shakespeare data).")
            return
        self.seed += 1
        self.attempt(self.redraw)
