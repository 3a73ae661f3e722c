"""The app's one piece of state: the data, the model and the training run every screen looks at.

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

from pynn.data import Dataset, load_dataset
from pynn.errors import PynnError
from pynn.files import load_model, save_model, saved_run
from pynn.model import Sequential, build_model
from pynn.run import RunConfig, data_fields
from pynn.train import BatchEnd, EpochEnd, EpochRecord, Trainer, history_dicts
from pynn.run import default_spec, with_dropout  # the library owns what model a run builds

T = TypeVar("T")

DEFAULT_DATA = "digits"
DEFAULT_SPEC = "784-30-10"


@dataclasses.dataclass
class Settings:
    """What the Train screen edits before a run (the CLI's defaults: Nielsen's sigmoid net, SGD lr 0.5)."""
    epochs: int = 10
    batch_size: int = 10
    optimizer: str = "sgd"
    lr: float = 0.5
    init: str = "lecun"
    l2: float = 0.0
    dropout: float = 0.0          # applied by inserting drop layers after each hidden dense layer of the spec
    activation: str = "sigmoid"   # hidden activation where the spec gives none
    val_split: float = 0.1
    seed: int = 0

    def validate(self) -> None:
        """One sentence for a setting no run could use (the trainer checks the rest)."""
        self.train_config()
        if not 0.0 <= self.dropout < 1.0:
            raise PynnError(f"Dropout must be in [0, 1), not {self.dropout}.")
        if self.lr is not None and not self.lr > 0:
            raise PynnError(f"The learning rate must be positive, not {self.lr}.")

    def train_config(self) -> RunConfig:
        config = RunConfig(epochs=self.epochs, batch=self.batch_size, optimizer=self.optimizer,
                           lr=self.lr, l2=self.l2, val_split=self.val_split, seed=self.seed)
        config.validate()
        return config


# Settings that shape the model itself: changing one rebuilds it (fresh weights) from the spec.
MODEL_SETTINGS = ("init", "activation", "dropout")


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
    """Data + model + settings + history. `version` grows whenever the model or its weights change, so a
    screen can redraw only when something it shows has changed."""

    def __init__(self, data: str | None = None, spec: str | None = None, load: str | None = None,
                 data_options: dict | None = None):
        """data None: the data a loaded model was trained on (from its file), else the digits."""
        self.settings = Settings()
        self.history: list[EpochRecord] = []
        self.trainer: Trainer | None = None
        self.version = 0
        self._version_lock = threading.Lock()
        self.spec_text = ""                     # the spec as the user wrote it, before dropout is added
        self.progress = RunProgress()
        self.test_result: dict | None = None    # loss and accuracy on the test set after the last run
        self.last_reason = ""                   # why the last run ended ("finished", "stopped on request"...)
        self._running = threading.Event()       # cleared while paused: the worker waits on it between batches
        self._running.set()
        self._clock = 0.0                       # perf_counter when the run (or its resumption) started
        if data is None and load:  # the data the model's run description names
            recipe = saved_run(load).data_recipe()
            data, data_options = recipe["name"], recipe["options"]
        data = data or DEFAULT_DATA
        self.data_name, self.data_options = data, dict(data_options or {})
        self.data: Dataset = load_dataset(data, **self.data_options)
        if load:
            self.load(load)
        else:
            self.set_spec(spec or default_spec(self.data))

    # --- the model ---------------------------------------------------------------------------------
    @property
    def model(self) -> Sequential:
        return self._model

    def set_spec(self, spec: str) -> Sequential:
        """Build a fresh model from a spec on the current data; on a bad spec the old model stays."""
        spec = str(spec).strip()
        model = build_model(with_dropout(spec, self.settings.dropout), self.data, init=self.settings.init,
                            seed=self.settings.seed, hidden_activation=self.settings.activation)
        self._replace(model)
        self.spec_text = spec
        return model

    def configure(self, **changes) -> bool:
        """Change settings (names of Settings' fields); True when the model was rebuilt because an init,
        activation or dropout change needs fresh weights. Bad values leave every setting as it was."""
        unknown = [k for k in changes if k not in Settings.__dataclass_fields__]
        if unknown:
            raise PynnError(f"There is no setting {unknown[0]!r}.")
        if self.training:
            raise PynnError("A run is in progress; stop it before changing its settings.")
        old = self.settings
        new = dataclasses.replace(old, **changes)
        new.validate()
        rebuild = any(getattr(new, k) != getattr(old, k) for k in MODEL_SETTINGS)
        self.settings = new
        if rebuild:
            try:
                self.set_spec(self.spec_text)
            except PynnError:
                self.settings = old
                raise
        return rebuild

    def load(self, path: str | Path) -> Sequential:
        model, header = load_model(path)
        model.check_input(self.data.sample_shape, what=f"the data {self.data.name}")
        self._replace(model)
        self.spec_text = model.spec
        self.history = [EpochRecord(**{k: v for k, v in h.items() if k in EpochRecord.__dataclass_fields__})
                        for h in header.get("history", [])]
        return model

    def save(self, path: str | Path) -> Path:
        # a snapshot: a run going on is held up for the copy of the weights, not for the writing
        return save_model(self._model.frozen(), path, history=history_dicts(self.history), run=self.run_config(),
                          data=self.data.describe())

    def run_config(self) -> RunConfig:
        """The run description of what the workbench holds: the spec, the data, the settings."""
        s = self.settings
        return self.settings.train_config().replace(
            model=self.spec_text, init=s.init, activation=s.activation, dropout=s.dropout,
            **data_fields({"name": self.data_name, "options": self.data_options}))

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
        """Run the Settings' training to the end (or until stop()); call from a worker thread. Events are
        the Trainer's (BatchEnd, EpochEnd, TrainEnd); the version grows after every batch. Each finished
        epoch joins `history` as it ends, so screens see the curves grow; epochs continue the numbering."""
        if self.training:
            raise PynnError("A run is already in progress.")
        config = self.settings.train_config()
        first_epoch = len(self.history)
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
