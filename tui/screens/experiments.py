"""Screen 6, Experiments: a hidden-size sweep (w) and an initialisation/regularisation comparison (c) on the
app's data, run by the library's own train_one / train_variant, with the table and chart filling in as each
run finishes. The last sweep and the last comparison stay on the screen together: a comparison is read beside
the sweep that prompted it. Runs go one after another in a background thread of this process (the C core releases the
GIL), so the app keeps answering keys and quitting never waits for a worker process."""
from __future__ import annotations

import threading

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from pynn.errors import PynnError
from pynn.experiments.compare import parse_variant, train_variant, variant_config
from pynn.experiments.results import run_saved
from pynn.experiments.sweep import describe_config, rules_of_thumb, summarise, sweep_configs, train_one
from pynn.experiments.workers import SerialExecutor
from pynn.model import build_model
from pynn.words import plural
from pynn_tui.parsing import parse_units
from pynn_tui.render.charts import LineChart, Series
from pynn_tui.render.sweep import sweep_chart, sweep_table
from pynn_tui.screens.dialogs import FormDialog
from pynn_tui.screens.widgets import Footer  # lets go of the keys it drew before

KEY = "6"
TITLE = "Experiments"
# sizes past the rules of thumb too, so the curve is seen levelling off
DEFAULT_SIZES = "2,3,5,10,30,100,300"


class ExperimentsScreen(Screen):
    BINDINGS = [Binding("w", "sweep", "Sweep", tooltip="one network per hidden size: accuracy against size"), Binding("c", "compare", "Compare", tooltip="two trainings differing in init, L2..."),
                Binding("x", "cancel", "Cancel runs", tooltip="stop after the run in progress")]

    def __init__(self, bench):
        super().__init__()
        self.bench = bench
        self.kind = ""                      # "sweep" or "compare": what the results below are
        self.configs: list[dict] = []
        self.results: list[dict] = []
        self.failed: list[str] = []
        self.texts: dict[str, str] = {}     # a comparison's settings as typed, by run label
        self.earlier: dict[str, tuple] = {}  # the other kind's last (configs, results, failed, texts), still shown
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._active = False

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="experiments-scroll"):
            yield Static(id="experiments-status")
            yield Static(id="experiments-results")
        yield Footer()

    def on_mount(self) -> None:
        self.show()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # one experiment at a time: while it runs only x (cancel) is offered, so the footer stays short
        if action in ("sweep", "compare"):
            return not self.running
        if action == "cancel":
            return self.running
        return True

    @property
    def running(self) -> bool:
        # cleared by finish() on the UI thread, so whatever finish() draws already says "done"
        return self._active

    # -- starting -------------------------------------------------------------------------------------
    def action_sweep(self) -> None:
        if self._busy():
            return
        s = self.bench.run
        fields = [("hidden", "hidden sizes", DEFAULT_SIZES, None), ("seeds", "seeds per size", "1", None),
                  ("epochs", "epochs per run", str(min(s.epochs, 3)), None)]
        self.app.push_screen(FormDialog(f"Hidden-size sweep on {self.bench.data.name} ({s.optimizer}, batch "
                                        f"{s.batch}, init {s.init}, L2 {s.l2:g})", fields), self.start_sweep)

    def start_sweep(self, values: dict | None) -> None:
        if values is None:
            return
        try:
            sizes, seeds, epochs = parse_units(values["hidden"]), _whole(values["seeds"], "seeds"), \
                _whole(values["epochs"], "epochs")
            # the app's description, its model left to the sweep (one hidden layer of each size)
            configs = sweep_configs(sizes, seeds, self.bench.run.replace(model=None), epochs=epochs)
            if self.bench.data.task != "classification":
                raise PynnError(f"A sweep compares accuracy, which {self.bench.data.name}'s {self.bench.data.task} "
                                "targets do not have.")
        except PynnError as err:
            self.app.notify(str(err), title="sweep not started", severity="error", timeout=8)
            return
        self._start("sweep", train_one, configs)

    def action_compare(self) -> None:
        if self._busy():
            return
        fields = [("a", "run a", "init=normal", None), ("b", "run b", "init=lecun,l2=5", None),
                  ("epochs", "epochs", str(min(self.bench.run.epochs, 5)), None)]
        self.app.push_screen(FormDialog(f"Compare two trainings of {self.bench.run.model} (same seed); keys: "
                                        "any setting but the seed, e.g. init, activation, optimizer, lr, l2",
                                        fields), self.start_compare)

    def start_compare(self, values: dict | None) -> None:
        if values is None:
            return
        bench = self.bench
        try:
            epochs = _whole(values["epochs"], "epochs")
            build_model(bench.run.model, bench.data)  # a spec that does not fit fails now, in one sentence
            shared = bench.run.replace(epochs=epochs)
            configs = [variant_config(label, parse_variant(values[label]), shared) for label in ("a", "b")]
        except PynnError as err:
            self.app.notify(str(err), title="comparison not started", severity="error", timeout=8)
            return
        self.texts = {"a": values["a"], "b": values["b"]}
        self._start("compare", train_variant, configs)

    def _busy(self) -> bool:
        if self.running:
            self.app.notify("Runs are in progress; x cancels them.", severity="warning")
        return self.running

    def _start(self, kind: str, fn, configs: list[dict]) -> None:
        if self.kind:
            self.earlier[self.kind] = (self.configs, self.results, self.failed, self.texts)
        self.earlier.pop(kind, None)
        self.kind, self.configs, self.results, self.failed = kind, configs, [], []
        self._cancel.clear()
        self._active = True
        # a daemon thread, not a Textual worker: quitting must not wait for a training in progress
        self._thread = threading.Thread(target=self._run, args=(fn, configs), daemon=True,
                                        name=f"pynn-{kind}")
        self._thread.start()
        self.refresh_bindings()
        self.show()

    def _run(self, fn, configs) -> None:
        runs = run_saved(fn, configs, SerialExecutor())
        try:
            for run in runs:
                self.app.call_from_thread(self.add_run, run)
                if self._cancel.is_set():
                    break
        except RuntimeError:  # the app closed while a run was going: nobody is left to tell
            return
        finally:
            runs.close()
            try:
                self.app.call_from_thread(self.finish)
            except RuntimeError:
                pass

    def add_run(self, run) -> None:
        if run.error is not None:
            self.failed.append(f"{describe_config(run.config) if self.kind == 'sweep' else run.config['label']}: "
                               f"{run.error}")
            self.app.notify(f"a run failed: {self.failed[-1]}", severity="error", timeout=8)
        else:
            self.results.append(run.result)
        self.show()

    def finish(self) -> None:
        self._active = False
        done = len(self.results) + len(self.failed)
        cancelled = done < len(self.configs)
        self.app.notify(f"{self.kind}: {len(self.results)} of {plural(len(self.configs), 'run')} finished"
                        + (" (cancelled)" if cancelled else ""))
        self.refresh_bindings()
        self.show()

    def action_cancel(self) -> None:
        if not self.running:
            self.app.notify("No runs in progress.")
            return
        self._cancel.set()
        self.app.notify("Cancelling after the run in progress.")
        self.show()

    # -- showing --------------------------------------------------------------------------------------
    def show(self) -> None:
        status = self.query_one("#experiments-status", Static)
        results = self.query_one("#experiments-results", Static)
        if not self.kind:
            status.update(Text("w: sweep hidden sizes (why 30 hidden units and not 5?)   c: compare two "
                               "settings, e.g. init=normal against init=lecun,l2=5"))
            results.update("")
            return
        done = len(self.results) + len(self.failed)
        state = ("cancelling" if self._cancel.is_set() else "running") if self.running else "done"
        status.update(Text(f"{self.kind}: {done} of {plural(len(self.configs), 'run')} {state}"
                           + (f", {len(self.failed)} failed" if self.failed else "")
                           + ("   x: cancel" if self.running else ""), style="bold"))
        sections = []
        for kind in ("sweep", "compare"):  # both, when both were run: the current one's as it fills in
            if kind == self.kind:
                sections.append(self.section(kind, self.results, self.texts))
            elif kind in self.earlier:
                _configs, earlier, _failed, texts = self.earlier[kind]
                sections.append(self.section(kind, earlier, texts))
        results.update(Group(*sections))

    def section(self, kind: str, results: list[dict], texts: dict[str, str]):
        if not results:
            return Text("waiting for the first run to finish…\n", style="dim")
        if kind == "sweep":
            rows = summarise(results)
            data = self.bench.data
            return Group(sweep_table(rows, compact=True), Text(""),
                         sweep_chart(rows, rules_of_thumb(data.n_features, data.n_outputs)), Text(""))
        return Group(compare_table(results, texts), Text(""), compare_chart(results), Text(""))


def compare_table(results: list[dict], texts: dict[str, str]) -> Table:
    table = Table(title="comparison (same model, data and seed)", title_justify="left")
    for column in ("run", "settings", "lr", "test accuracy", "test loss", "seconds"):
        table.add_column(column)
    for r in sorted(results, key=lambda r: r["label"]):
        acc = r["test_accuracy"]
        table.add_row(r["label"], texts[r["label"]], f"{r['lr']:g}", "" if acc is None else f"{acc:.2%}",
                      f"{r['test_loss']:.4f}", f"{r['seconds']:.1f}")
    return table


def compare_chart(results: list[dict]) -> LineChart:
    """Each run's training accuracy by epoch, its validation accuracy where it held data out, and its test
    accuracy at the end: training accuracy alone would hide a setting that only fits the training set."""
    series = []
    for r in sorted(results, key=lambda r: r["label"]):
        history = [h for h in r["history"] if h.get("train_accuracy") is not None]
        if r.get("test_accuracy") is not None and history:  # first, so its mark stays on top of the others'
            series.append(Series(f"{r['label']}: test (end)", [history[-1]["epoch"]], [r["test_accuracy"]],
                                 marks=True))
        series.append(Series(f"{r['label']}: train accuracy", [h["epoch"] for h in history],
                             [h["train_accuracy"] for h in history]))
        val = [h for h in r["history"] if h.get("val_accuracy") is not None]
        if val:
            series.append(Series(f"{r['label']}: validation", [h["epoch"] for h in val],
                                 [h["val_accuracy"] for h in val]))
    epochs = sorted({x for s in series for x in s.x})
    return LineChart(series, height=8, x_ticks=epochs, y_format="{:.1%}", x_label="epoch")


def _whole(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise PynnError(f"{what} must be a whole number, not {text!r}.") from None
    if value < 1:
        raise PynnError(f"{what} must be at least 1, not {value}.")
    return value
