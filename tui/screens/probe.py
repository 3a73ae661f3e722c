"""Screen 5, Probe: one test sample's journey through the network — its input, every hidden layer's
activations, the output probabilities and the units that pushed toward the predicted and the true class (the
picture of `pynn probe`). n and p step through the test samples; m keeps to the ones the model gets wrong; w
shows why the sample got its class instead (the picture of `pynn probe --why`)."""
from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from pynn.data.dataset import CLASSIFICATION
from pynn.errors import PynnError
from pynn.inspect.activations import dense_layers
from pynn.inspect.blame import logit_gap
from pynn.inspect.filters import feature_maps
from pynn.inspect.probe import misclassified, sample_journey
from pynn_tui.render.blame import blame_view
from pynn_tui.render.filters import conv_choices, feature_map_view
from pynn_tui.render.journey import journey_view
from pynn_tui.screens.widgets import InspectScreen, PixelStatic, has_lstm

KEY = "5"
TITLE = "Probe"
TOP = 3  # units named as pushing toward each class


class ProbeScreen(InspectScreen):
    LIVE_SECONDS = 0.25  # the whole journey is one picture, redrawn four times a second while a run goes
    # n/p as the issue asks (← → too); here p is "previous sample", so a run pauses from the palette
    BINDINGS = [
        Binding("n", "step(1)", "sample", key_display="n p"),
        Binding("p", "step(-1)", "", show=False),
        Binding("right", "step(1)", "sample", key_display="← →", show=False, priority=True),  # before the scroll's
        Binding("left", "step(-1)", "", show=False, priority=True),
        Binding("m", "toggle_misclassified", "wrong only"),
        Binding("w", "toggle_why", "why"),
    ]

    def __init__(self, bench):
        super().__init__(bench)
        self.index = 0                    # the test sample shown
        self.misclassified_only = False
        self.errors = np.zeros(0, np.int64)  # the test samples the model gets wrong, as of the last draw
        self.journey = None               # the last pynn.inspect.probe.Journey drawn
        self.why = False                  # show what decided the class instead of the journey
        self.gap = None                   # the last pynn.inspect.blame.LogitGap drawn, while why is on

    def compose_body(self) -> ComposeResult:
        yield PixelStatic(id="journey")

    def why_not(self) -> str:
        model, data = self.bench.model, self.bench.data
        if has_lstm(model):
            return (f"{model.spec} starts with an LSTM; the LSTM screen (7) follows a sample through its gates "
                    "step by step.")
        if len(dense_layers(model)) < 2:
            return f"{model.spec} has no hidden layer, so there is no journey between its input and its output."
        if not len(data.x_test):
            return f"The data {data.name} has no test samples to probe."
        return ""

    def has_classes(self) -> bool:
        return np.ndim(self.bench.data.y_test) == 1

    def draw(self) -> None:
        data = self.bench.data
        x, y = data.x_test, data.y_test
        self.index = min(max(self.index, 0), len(x) - 1)
        index, classes = self.index, self.has_classes()

        why, convolves = self.why, bool(conv_choices(self.bench.model))

        def read(model):
            errors = misclassified(model, x, y) if classes else np.zeros(0, np.int64)
            gap = logit_gap(model, x, y, index, TOP) if why else None
            maps = feature_maps(model, x[index]) if convolves and not why else None  # issue 17
            return sample_journey(model, x, y, index, TOP), gap, errors, maps

        self.journey, self.gap, self.errors, maps = self.bench.read(read)
        head = Text.assemble(("sample ", "bold"), (f"{index}", "bold"), f" of {len(x):,} test samples (n p)")
        if classes:
            wrong = f"{len(self.errors):,} wrong"
            if self.misclassified_only:
                position = np.searchsorted(self.errors, index)
                inside = position < len(self.errors) and self.errors[position] == index
                wrong = f"error {position + 1} of {len(self.errors):,}" if inside else f"{wrong} (no longer this one)"
            head.append(f" · {wrong}" + (" · wrong only (m: all)" if self.misclassified_only else ""))
        picture = blame_view(self.gap, self.journey.x, self.class_label) if why else \
            journey_view(self.journey, self.class_label)
        if maps is not None:
            picture = Group(picture, feature_map_view(maps))
        self.set_head(head)
        self.query_one("#journey", Static).update(picture)

    def action_step(self, step: int) -> None:
        if self.reason:
            return
        n = len(self.bench.data.x_test)
        if self.misclassified_only:
            # the errors as last drawn: training may move them, and the next draw catches up
            later = self.errors[self.errors > self.index] if step > 0 else self.errors[self.errors < self.index]
            if not len(later):
                self.notify("No more misclassified samples that way.")
                return
            self.index = int(later[0] if step > 0 else later[-1])
        else:
            self.index = (self.index + step) % n
        self.attempt(self.redraw)
        self.query_one("#body").scroll_home(animate=False)

    def action_toggle_why(self) -> None:
        if self.reason:
            return
        if not self.why and (self.bench.model.task != CLASSIFICATION or not self.has_classes()):
            self.notify("Why a sample got its class is told by the gap between two class scores, and this model "
                        "predicts values.", severity="error")
            return
        self.why = not self.why
        self.redraw()
        self.query_one("#body").scroll_home(animate=False)

    def action_toggle_misclassified(self) -> None:
        if self.reason:
            return
        if not self.misclassified_only:
            if not self.has_classes():
                self.notify(str(PynnError(f"The data {self.bench.data.name} has no class labels, so no sample is "
                                          "misclassified.")), severity="error")
                return
            if not len(self.errors):
                self.notify("The model gets every test sample right.")
                return
            at_or_after = self.errors[self.errors >= self.index]
            self.index = int(at_or_after[0] if len(at_or_after) else self.errors[0])
        self.misclassified_only = not self.misclassified_only
        self.redraw()
