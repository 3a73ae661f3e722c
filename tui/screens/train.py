"""Screen 2, Train: the run's settings (e edits them before a run), epoch and batch progress with the time
left, and live charts of the loss, train/validation accuracy and per-layer gradient norms. The run itself
belongs to the app (t, p, s work on every screen); this screen polls the workbench ten times a second and
redraws only when its version moved.

The settings are the workbench's run description (pynn.run.RunConfig): the dialog lists its model and
training fields as RunConfig describes them, read when the dialog opens, so a field added there is offered
here with no edit of this screen."""
from __future__ import annotations

import time

from rich.console import Group
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

import pynn.run  # read when the dialog opens, not copied: a field added to RunConfig is offered by itself
from pynn.errors import PynnError
from pynn.layers import written_activation
from pynn.spec import parse_spec
from pynn.words import plural
from pynn_tui.render.charts import BarChart, LineChart, Series, thinned
from pynn_tui.screens.dialogs import FormDialog, FormField
from pynn_tui.screens.widgets import Footer  # lets go of the keys it drew before

KEY = "2"
TITLE = "Train"
CHART_SECONDS = 0.5  # while a run goes, the charts' redraws at most this often (an epoch's end redraws at once)
CHART_POINTS = 400  # epochs a curve is drawn from at most (more than a chart has dots across at 120 columns)
EDITABLE_GROUPS = ("model", "training")  # the data is chosen when the app opens (pynn tui --data)
# the fields the settings line always shows; any other that differs from the house default follows them
LINE_FIELDS = ("model", "optimizer", "lr", "batch", "epochs", "init", "activation", "l2", "dropout", "val_split",
               "seed")


def settings_line(run, model) -> Text:
    """The values the next run really uses: the model's spec and hidden activations as built, the learning rate
    the optimiser will take, then every other model or training field the user changed."""
    activations = "/".join(hidden_activations(model))
    editable = {f.name for f in editable_fields()}
    others = [f"{name} {field_text(value)}" for name, value in run.changed_fields().items()
              if name in editable and name not in LINE_FIELDS]
    parts = [model.spec, f"{run.optimizer} lr {run.learning_rate:g}", f"batch {run.batch}",
             plural(run.epochs, "epoch"), f"init {run.init}", *([activations] if activations else []),
             f"L2 {run.l2:g}", f"dropout {run.dropout:g}", f"val {run.val_split:g}", f"seed {run.seed}", *others]
    return Text.assemble(("settings ", "bold"), " · ".join(parts) + "   (e: edit)")


def hidden_activations(model) -> list[str]:
    """The activations of the model's hidden dense layers, each once, in order (the spec may give its own), as
    a spec writes them (leaky, not the kernel's leaky_relu)."""
    dense = [written_activation(layer.activation) for layer in model.layers if layer.kind == "dense"][:-1]
    return list(dict.fromkeys(dense))


def spec_names_every_activation(spec: str) -> bool:
    """Whether the spec gives every hidden dense layer its own activation, so the activation field, which
    applies only where the spec gives none, would change nothing."""
    try:
        hidden = [layer for layer in parse_spec(spec).layers if layer.kind == "dense"][:-1]
    except PynnError:  # a model read from another framework's file may carry no spec of pynn's
        return False
    return bool(hidden) and all(layer.activation for layer in hidden)


def without_hidden_activations(spec: str) -> str:
    """The spec with its hidden dense layers' own activations dropped (the output's kept), so the activation
    field decides them."""
    parsed = parse_spec(spec)
    dense = [layer for layer in parsed.layers if layer.kind == "dense"]
    for layer in dense[:-1]:
        layer.activation = None
    return str(parsed)


def field_text(value) -> str:
    """A field's value as the dialog shows it, which parse_value reads back to the same value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}" if float(f"{value:g}") == value else repr(value)
    return str(value)


def settings_fields(run, model=None) -> list[FormField]:
    """The dialog's fields: every model and training field of the run description, labelled by its name, with
    its help; a Select where the field has choices (or is true/false), else free text. With the model, the
    activation shown is the one its hidden layers really use where the spec names it for all of them, and an
    empty learning rate says the value it stands for."""
    fields = []
    for f in editable_fields():
        value, choices = getattr(run, f.name), f.metadata["choices"]
        if choices is None and pynn.run.field_kind(f.name) is bool:
            choices = ("false", "true")
        text = field_text(value)
        if f.name == "activation" and model is not None and spec_names_every_activation(model.spec):
            used = hidden_activations(model)
            text = used[0] if len(used) == 1 and used[0] in choices else text
        if choices and f.default is None:  # an optional choice: "default" reads back as None
            choices, text = ("default", *choices), text or "default"
        placeholder = "default" if f.default is None else ""
        if f.name == "lr":
            placeholder = f"default: {run.learning_rate:g} for {run.optimizer}"
        fields.append(FormField(f.name, f.name, text, choices, f.metadata["help"], placeholder=placeholder))
    return fields


def editable_fields() -> list:
    return [f for group in EDITABLE_GROUPS for f in pynn.run.fields_of(group)]


def settings_changes(run, values: dict[str, str], model=None) -> dict:
    """The fields the dialog's text changes (from what settings_fields showed), read as the description reads
    any text (a value it cannot read is the field's own sentence). A learning rate left as it was follows a new
    optimiser, as on the command line: a rate tuned for one optimiser is rarely right for another (sgd's 0.5
    wrecks adam). A hidden activation chosen for a model whose spec names every one of its own drops the spec's
    (2-8:tanh-2 with relu becomes 2-8-2, built with relu), else the choice would change nothing."""
    shown = {f.name: f.value for f in settings_fields(run, model)}
    changes = {}
    for name, text in values.items():
        if name in shown and text == shown[name]:
            continue
        value = pynn.run.parse_value(name, text, "the settings")
        if value != getattr(run, name) or name == "activation":
            changes[name] = value
    if "optimizer" in changes and "lr" not in changes:
        changes["lr"] = None
    spec = changes.get("model", run.model) or (model.spec if model is not None else None)
    if "activation" in changes and spec and spec_names_every_activation(spec):
        changes["model"] = without_hidden_activations(spec)
    return changes


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "…"
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"


def progress_view(bench) -> Table:
    """Two bars, epochs and batches, with the last loss, the state and the time left."""
    p = bench.progress
    state = ("paused" if p.paused or bench.paused else "training") if bench.training else "idle"
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1)
    grid.add_column(no_wrap=True)
    done_epochs = max(p.epoch - 1, 0) + (p.batch / p.n_batches if p.n_batches else 0)
    grid.add_row("epoch", ProgressBar(total=max(p.n_epochs, 1), completed=done_epochs),
                 f"{p.epoch}/{p.n_epochs}" if p.n_epochs else "-")
    grid.add_row("batch", ProgressBar(total=max(p.n_batches, 1), completed=p.batch),
                 f"{p.batch}/{p.n_batches}" if p.n_batches else "-")
    loss = "" if p.loss is None else f"loss {p.loss:.4f} · "
    left = f"{_duration(p.seconds_left)} left" if bench.training else f"{_duration(p.elapsed)} run"
    score = ""
    if bench.test_result and "accuracy" in bench.test_result:
        score = f" · test accuracy {bench.test_result['accuracy']:.2%}"
    elif bench.test_result:
        score = f" · test loss {bench.test_result['loss']:.4g}"
    grid.add_row("", Text(f"{state} · {loss}{left}{score}", style="bold" if bench.training else ""), "")
    return grid


def loss_chart(bench) -> LineChart | Text:
    history = thinned(bench.history, CHART_POINTS)
    series = [Series("train loss", [h.epoch for h in history], [h.loss for h in history])]
    val = [h for h in history if h.val_loss is not None]
    if val:
        series.append(Series("val loss", [h.epoch for h in val], [h.val_loss for h in val]))
    p = bench.progress
    if bench.training and p.loss is not None and p.n_batches:
        # where the epoch in progress stands, so the chart moves before the first epoch ends
        done = bench.history[-1].epoch if bench.history else 0
        series.append(Series("last batch", [done + p.batch / p.n_batches], [p.loss]))
    if not any(s.x for s in series):
        return Text("loss: no epoch finished yet (t trains)", style="dim")
    return LineChart(series, height=None, y_format="{:.3g}", x_label="epoch")  # as tall as its panel


def accuracy_chart(bench) -> LineChart | Text:
    history = thinned(bench.history, CHART_POINTS)
    train = [h for h in history if h.train_accuracy is not None]
    val = [h for h in history if h.val_accuracy is not None]
    series = []
    if train:
        series.append(Series("train acc", [h.epoch for h in train], [h.train_accuracy for h in train]))
    if val:
        series.append(Series("val acc", [h.epoch for h in val], [h.val_accuracy for h in val]))
    if not series:
        if history:
            return Text(f"accuracy: not measured for {bench.data.task} targets; the loss is the score",
                        style="dim")
        return Text("accuracy: no epoch finished yet", style="dim")
    return LineChart(series, height=None, y_format="{:.1%}", x_label="epoch")


def norms_view(bench) -> Group | Text:
    """The last batch's gradient norm per parameterised layer (the epoch's mean when idle)."""
    norms = bench.progress.grad_norms if bench.training else []
    if not norms and bench.history:
        norms = bench.history[-1].grad_norms
    if not norms:
        return Text("gradient norms: none yet", style="dim")
    layers = bench.model.param_layers
    labels = [f"layer {l.index} {l.kind}" for l in layers][:len(norms)]
    labels += [f"layer {i + 1}" for i in range(len(labels), len(norms))]
    title = "gradient norm per layer, " + ("last batch" if bench.training else "last epoch's mean")
    return Group(Text(title, style="bold"), BarChart(list(zip(labels, norms)), value_format="{:.3g}"))


class TrainScreen(Screen):
    BINDINGS = [Binding("e", "edit_settings", "Settings", tooltip="learning rate, batch, epochs, optimiser, init, L2, dropout"),
                Binding("r", "reset", "Reset", tooltip="fresh weights from the seed; the history is cleared")]

    def __init__(self, bench):
        super().__init__()
        self.bench = bench
        self._drawn = -1  # the workbench version on screen
        self._shape = None  # what decided the panels' heights at the last layout
        self._charted = (-1, 0.0)  # (epochs in the history, monotonic time) when the charts were last drawn

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="train-scroll"):
            yield Static(id="train-settings")
            yield Static(id="train-progress")
            with Horizontal(id="train-charts"):
                yield Static(id="loss-chart", classes="chart")
                yield Static(id="accuracy-chart", classes="chart")
            yield Static(id="grad-norms")
        yield Footer()

    def on_mount(self) -> None:
        self.redraw(force=True)
        self.set_interval(0.1, self.redraw)  # the throttle: at most ten redraws a second, however fast batches end

    def on_screen_resume(self) -> None:
        self.redraw(force=True)

    def redraw(self, force: bool = False) -> None:
        version = self.bench.version
        if not force and (version == self._drawn or not self.is_current):
            return
        self._drawn = version
        bench = self.bench
        # A new layout costs most of a redraw; during a run the panels keep their heights, so only a change in
        # what is shown (the first epoch's charts, validation, another model) asks for one.
        shape = (bench.model, len(bench.history) > 0, bench.training,
                 any(h.val_loss is not None for h in bench.history[-1:]))
        layout = force or shape != self._shape
        self._shape = shape
        self.query_one("#train-settings", Static).update(settings_line(bench.run, bench.model), layout=layout)
        self.query_one("#train-progress", Static).update(progress_view(bench), layout=layout)
        # the charts (most of a redraw's time, taken from the run's thread) follow a run twice a second, and
        # at once when an epoch ends; the progress bars keep moving ten times a second
        now, epochs = time.monotonic(), len(bench.history)
        if layout or epochs != self._charted[0] or now - self._charted[1] >= CHART_SECONDS or not bench.training:
            self._charted = (epochs, now)
            self.query_one("#loss-chart", Static).update(loss_chart(bench), layout=layout)
            self.query_one("#accuracy-chart", Static).update(accuracy_chart(bench), layout=layout)
            self.query_one("#grad-norms", Static).update(norms_view(bench), layout=layout)

    # -- settings -------------------------------------------------------------------------------------
    def action_edit_settings(self) -> None:
        if self.bench.training:
            self.app.notify("Settings apply before a run; stop this one first (s).", severity="warning")
            return
        self.app.push_screen(FormDialog("Run settings (empty: the default; a model field rebuilds the model)",
                                        settings_fields(self.bench.run, self.bench.model)), self.apply_settings)

    def apply_settings(self, values: dict | None) -> None:
        if values is None:
            return
        try:
            rebuilt = self.bench.configure(**settings_changes(self.bench.run, values, self.bench.model))
        except PynnError as err:
            self.app.notify(str(err), title="settings not changed", severity="error", timeout=8)
            return
        self.redraw(force=True)
        self.app.notify("settings saved" + (f"; model rebuilt as {self.bench.model.spec} with fresh weights"
                                            if rebuilt else ""))

    def action_reset(self) -> None:
        try:
            self.bench.set_spec(self.bench.run.model)
        except PynnError as err:
            self.app.notify(str(err), severity="error")
            return
        self.bench.test_result = None
        self.app.notify(f"{self.bench.model.spec}: fresh weights (seed {self.bench.run.seed}), history cleared.")

