"""The app's one piece of state: the run description (pynn.run.RunConfig, which the model carries as model.run),
the data and the model it names, and the training run every screen looks at.

Screens never build models or load files themselves; they ask the workbench, which raises PynnError with one
clear sentence on bad input (the app turns it into a notification) and leaves the previous state untouched.
Training runs in a worker thread: readers go through `read()`, which hands them a frozen copy of the model (its
weights copied under the lock, which is held for the copy only), so they never see a half-updated layer and
never hold up the run. The run can be paused (the worker blocks between batches) and its progress — the last
batch, the per-layer gradient norms, the time left — is kept here for the screens to poll.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Callable, TypeVar

import pynn.run  # read at call time, not copied: a field added to RunConfig is part of the app's description
from pynn.data import Dataset
from pynn.errors import PynnError
from pynn.files import load_model, save_model, saved_run
from pynn.interop import is_foreign, take_steps_from
from pynn.model import Sequential
from pynn.run import RunConfig, data_fields
from pynn.train import BatchEnd, EpochEnd, EpochRecord, Trainer, history_dicts

T = TypeVar("T")
HISTORY_KEPT = 4000  # epoch records at most; beyond, the older ones are thinned


@dataclasses.dataclass
class RunProgress:
    """Where the current (or last) run stands, for a progress line: counts, the last loss and time left."""
    epoch: int = 0
    n_epochs: int = 0
    batch: int = 0
    n_batches: int = 0
    loss: float | None = None
    grad_norms: list[float] = dataclasses.field(default_factory=list)  # last batch, per parameterised layer
    elapsed: float = 0.0          # seconds of training, pauses excluded
    paused: bool = False

    @property
    def fraction(self) -> float:
        """Share of the run's batches done."""
        total = self.n_epochs * self.n_batches
        return 0.0 if not total else ((self.epoch - 1) * self.n_batches + self.batch) / total

    @property
    def seconds_left(self) -> float | None:
        f = self.fraction
        return None if f <= 0 else self.elapsed * (1 - f) / f


class Workbench:
    """Data + model + run description + history. `version` grows whenever the model or its weights change, so
    a screen can redraw only when something it shows has changed."""

    def __init__(self, run: RunConfig | None = None, *, load: str | Path | None = None, data: str | None = None,
                 spec: str | None = None, data_options: dict | None = None):
        """run: the description to work on, its data loaded and its model built (default: the house defaults,
        or with load and no data given, the loaded model's own). data (a name or path, with load_dataset's
        data_options) and spec are shorthand for its data and model fields. load opens a saved model, with the
        description it was saved with, on run's data."""
        self.history: list[EpochRecord] = []
        self.trainer: Trainer | None = None
        self.version = 0
        self._version_lock = threading.Lock()
        self.progress = RunProgress()
        self.test_result: dict | None = None    # loss and accuracy on the test set after the last run
        self.last_reason = ""                   # why the last run ended ("finished", "stopped on request"...)
        self._running = threading.Event()       # cleared while paused: the worker waits on it between batches
        self._running.set()
        self._clock = 0.0                       # perf_counter when the run (or its resumption) started
        # a model from another framework opened without data: its file does not say its data, so the app asks
        self.data_unknown = bool(load) and run is None and data is None and is_foreign(load)
        if run is None:
            run = saved_run(load) if load and data is None else pynn.run.RunConfig()
        if data is not None or data_options:
            run = run.replace(**data_fields({"name": data or run.data, "options": data_options or {}}))
        if spec is not None:
            run = run.replace(model=spec)
        self.data: Dataset = run.load_data()
        if load:  # a state dict's spec is the run's model (--model SPEC), else what its tensors imply
            self._load(load, run, run.model if str(load).lower().endswith(".safetensors") else None)
        else:
            self._build(run)

    # --- the model and its description -------------------------------------------------------------
    @property
    def model(self) -> Sequential:
        return self._model

    @property
    def run(self) -> RunConfig:
        """The run description: the model's spec (as written, before the dropout field adds its layers), the
        data, the training settings the next run uses. It is the model's own (model.run), so the model, its
        description and a saved file never disagree."""
        return self._model.run

    def set_spec(self, spec: str) -> Sequential:
        """Build a fresh model from a spec on the current data; on a bad spec the old model stays."""
        return self._build(self.run.replace(model=str(spec).strip()))

    def configure(self, **changes) -> bool:
        """Change fields of the run description (RunConfig's names; values as the fields hold them, or text);
        True when the model was rebuilt with fresh weights because a model field changed (model, activation,
        init, loss, dropout). A bad value is the field's own sentence and leaves everything as it was."""
        if self.training:
            raise PynnError("A run is in progress; stop it before changing its settings.")
        data = [f.name for f in pynn.run.fields_of("data") if f.name in changes]
        if data:
            raise PynnError(f"The data is chosen when the app opens (pynn tui --{data[0].replace('_', '-')}); "
                            "it cannot change here.")
        new = self.run.replace(**changes)
        if any(getattr(new, f.name) != getattr(self.run, f.name) for f in pynn.run.fields_of("model")):
            self._build(new)
            return True
        self._model.run = new
        self.touch()
        return False

    def change_data(self, **changes) -> Sequential:
        """Load the data again with some data fields changed (the Playground screen's feature toggles) and build
        a fresh model on it, its input size taken from the new data; on a bad value nothing changes."""
        if self.training:
            raise PynnError("A run is in progress; stop it before changing the data.")
        from pynn.spec import parse_spec

        new = self.run.replace(**changes)
        new = new.replace(model=str(dataclasses.replace(parse_spec(new.model), input_shape=None)))
        data = new.load_data()
        model = new.build_model(data)
        self.data = data
        self._replace(model)
        return model

    def _build(self, run: RunConfig) -> Sequential:
        model = run.build_model(self.data)  # carries run as model.run
        self._replace(model)
        return model

    def load(self, path: str | Path) -> Sequential:
        """A saved model, its description and history, on the data the workbench holds."""
        return self._load(path, self.run)

    def _load(self, path: str | Path, on: RunConfig, spec: str | None = None) -> Sequential:
        """path's model on the data `on` describes (which self.data holds); spec: a safetensors file's."""
        model, header = load_model(path, spec=spec)
        take_steps_from(model, self.data.sample_shape)  # an LSTM whose file leaves its steps open
        model.check_input(self.data.sample_shape, what=f"the data {self.data.name}")
        model.run = model.run.replace(**{f.name: getattr(on, f.name) for f in pynn.run.fields_of("data")})
        self._replace(model)
        self.history = [EpochRecord(**{k: v for k, v in h.items() if k in EpochRecord.__dataclass_fields__})
                        for h in header.get("history", [])]
        return model

    def use_data(self, name: str) -> Dataset:
        """Look at the model with other data (a name or path, as --data takes), keeping the model: for one from
        another framework, whose file does not say its data. Data that does not fit it is one sentence and changes
        nothing."""
        if self.training:
            raise PynnError("A run is in progress; stop it before changing the data.")
        run = self.run.replace(**{f.name: f.default for f in pynn.run.fields_of("data")}).replace(data=name)
        data = run.load_data()
        take_steps_from(self._model, data.sample_shape)
        self._model.check_input(data.sample_shape, what=f"the data {data.name}")
        self.data, self._model.run, self.data_unknown = data, run, False
        self.test_result = None
        self.touch()
        return data

    def save(self, path: str | Path) -> Path:
        """The model with its description (model.run), its data's summary and the history."""
        # a snapshot: a run going on is held up for the copy of the weights, not for the writing
        return save_model(self._model.frozen(), path, history=history_dicts(self.history), run=self.run,
                          data=self.data.describe())

    def _replace(self, model: Sequential) -> None:
        if self.training:
            raise PynnError("A run is in progress; stop it before changing the model.")
        self._model = model
        self.history = []
        self.test_result = None
        self.progress = RunProgress()
        self.touch()

    # --- reading while a worker trains ------------------------------------------------------------
    def read(self, fn: Callable[[Sequential], T]) -> T:
        """fn(model) on a snapshot of the model (Sequential.frozen): its weights cannot change under fn, and the
        run goes on while fn takes its time."""
        return fn(self._model.frozen())

    def evaluate(self) -> dict:
        """Loss (and accuracy) on the test set, kept in test_result for the screens."""
        x, y = self.data.x_test, self.data.y_test
        self.test_result = self.read(lambda model: model.evaluate(x, y))
        self.touch()
        return self.test_result

    def touch(self) -> None:
        with self._version_lock:
            self.version += 1

    # --- training ---------------------------------------------------------------------------------
    @property
    def training(self) -> bool:
        return self.trainer is not None

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def train(self, on_event: Callable[[object], None] = lambda event: None) -> list[EpochRecord]:
        """Train as the run description says, to the end (or until stop()); call from a worker thread. Events are
        the Trainer's (BatchEnd, EpochEnd, TrainEnd); the version grows after every batch. Each finished
        epoch joins `history` as it ends, so screens see the curves grow; epochs continue the numbering."""
        if self.training:
            raise PynnError("A run is already in progress.")
        config = self.run
        first_epoch = self.history[-1].epoch if self.history else 0  # (thinned, the history has fewer records)
        self.progress = RunProgress(n_epochs=config.epochs)
        self._running.set()
        self._clock = time.perf_counter()

        def relay(event):
            if isinstance(event, BatchEnd):
                p = self.progress
                p.epoch, p.batch, p.n_batches, p.loss = event.epoch, event.batch, event.n_batches, event.loss
                if trainer.progress.norms:
                    p.grad_norms = list(trainer.progress.norms[-1])
                self._tick()
            elif isinstance(event, EpochEnd):
                self.history.append(dataclasses.replace(event.record, epoch=first_epoch + event.record.epoch))
                if len(self.history) > HISTORY_KEPT:
                    # every other of the older epochs goes, the recent half stays whole: a run of 40,000
                    # epochs keeps its curve's shape in a bounded memory (issue 13). A new list, not one cut
                    # in place, so a screen reading the old one meanwhile is not cut short.
                    older, recent = self.history[:-HISTORY_KEPT // 2], self.history[-HISTORY_KEPT // 2:]
                    self.history = older[::2] + recent
            self.touch()
            on_event(event)
            if not self._running.is_set():  # paused: hold the worker here, between batches
                self._tick()
                self.progress.paused = True
                self.touch()
                self._running.wait()
                self.progress.paused = False
                self._clock = time.perf_counter()
                self.touch()

        trainer = self.trainer = Trainer(self._model, config, relay)
        try:
            records = trainer.fit(self.data.x_train, self.data.y_train)
            self.last_reason = trainer.reason
            return records
        finally:
            self._tick()
            self.trainer = None
            self._running.set()
            self.touch()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.progress.elapsed += now - self._clock
        self._clock = now

    def pause(self) -> None:
        """Hold the run after the current batch (resume() carries on exactly where it stopped)."""
        if self.trainer is not None:
            self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        if self.trainer is not None:
            self.trainer.stop()
            self._running.set()  # a paused run must wake up to see the stop
