"""Screen 4, Outputs: for one output class, the hidden units it leans on most and least — their weights to the
output, the same weighted by each unit's mean activation, their weight maps — and the class template, the
output's weights projected back onto the input. The pictures of `pynn explain`, following training live;
← → (or h l) change the class."""
from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from pynn.inspect.activations import dense_layers
from pynn.inspect.contributions import output_reliance
from pynn.inspect.weights import reads_the_input, weight_maps
from pynn.words import plural
from pynn_tui.render.reliance import class_template, rankings, reliance_bars, unit_maps  # as pynn explain draws them
from pynn_tui.screens.widgets import InspectScreen, PixelStatic, has_lstm

KEY = "4"
TITLE = "Outputs"
TOP = 3                  # units named on each side, as in the classic "three bluest and three reddest"
RELIANCE_SAMPLES = 2000  # test samples the mean activations are measured on: enough to be stable, cheap to redo


class OutputsScreen(InspectScreen):
    LIVE_SECONDS = 0.5  # one tall picture (two bar charts of every unit, maps, template): twice a second in a run
    # one described binding per group of keys (what the footer and ? list); the others carry no description
    BINDINGS = [
        Binding("left", "output(-1)", "class", key_display="← →", priority=True),  # before the scroll's
        Binding("right", "output(1)", "", show=False, priority=True),
        Binding("h", "output(-1)", "class, as vi", key_display="h l", show=False),
        Binding("l", "output(1)", "", show=False),
    ]

    def __init__(self, bench):
        super().__init__(bench)
        self.output = 0            # the output neuron (class) shown
        self.reliance = None       # the last pynn.inspect.contributions.Reliance drawn
        self.drawn_shape = None    # what fixes the heights of the pieces drawn (see draw)

    def compose_body(self) -> ComposeResult:
        # the pictures first: at 80x24 the maps and the template are what a screenful should show
        yield Static(id="reliance-ranking")
        yield PixelStatic(id="reliance-maps")
        yield PixelStatic(id="template")
        yield Static(id="reliance-bars")

    def why_not(self) -> str:
        model = self.bench.model
        if has_lstm(model):
            return (f"{model.spec} starts with an LSTM, so its outputs read time steps, not units with a picture "
                    "over the input; the LSTM screen (7) shows what its units do.")
        dense = dense_layers(model)
        if len(dense) < 2:
            return (f"{model.spec} has no hidden layer: its outputs read the input directly, so their weight "
                    "maps on the Weights screen (3) are the whole story.")
        return ""

    def n_outputs(self) -> int:
        return dense_layers(self.bench.model)[-1].units

    def draw(self) -> None:
        self.output = min(self.output, self.n_outputs() - 1)
        data = self.bench.data
        x = (data.x_test if len(data.x_test) else data.x_train)[:RELIANCE_SAMPLES]
        output = self.output

        def read(model):
            r = output_reliance(model, output, x, TOP, data.sample_shape)
            units = r.top_positive + r.top_negative
            maps = weight_maps(model, r.hidden_layer, units, data.sample_shape) if units else None
            return r, maps, reads_the_input(model, model.layer_numbered(r.hidden_layer))

        r, maps, direct = self.bench.read(read)
        self.reliance = r
        name = self.class_label(output)
        head = Text.assemble(("output ", "bold"), (f"{output} ({name!r})", "bold"),
                             f" of {self.n_outputs()} (← →) · leans on the "
                             f"{plural(len(r.weights), 'unit')} of layer {r.hidden_layer}")
        ranking = Group(*rankings(r), Text(""))
        # While a run moves the numbers, every piece keeps its height (as many maps, bars and text lines as
        # before), and skipping the relayout halves the cost of a redraw; anything else lays out again.
        shape = (self.bench.model, output, len(maps.neurons) if maps else 0, self.size.width,
                 self.lines(head, "#head"), self.lines(ranking, "#reliance-ranking"))
        layout, self.drawn_shape = shape != self.drawn_shape, shape
        self.set_head(head, layout)
        self.query_one("#reliance-ranking", Static).update(ranking, layout=layout)
        self.query_one("#reliance-bars", Static).update(self.bars(r, len(x)), layout=layout)
        parts = unit_maps(r, maps, direct) if maps is not None else []
        self.query_one("#reliance-maps", Static).update(Group(*parts, Text("")), layout=layout)
        self.query_one("#template", Static).update(Group(*class_template(r, name)), layout=layout)

    def bars(self, r, n_samples: int) -> Group:
        """Every unit's weight to the output and that weight x its mean activation, as bars."""
        return Group(Text(""), Text(f"all {plural(len(r.weights), 'unit')}", style="bold"),
                     reliance_bars(r, plural(n_samples, "sample")))

    def action_output(self, step: int) -> None:
        if self.reason:
            return
        self.output = (self.output + step) % self.n_outputs()
        self.redraw()
        self.query_one("#body").scroll_home(animate=False)

