"""The app's one piece of state: the data, the model and the training run every screen looks at.

Screens never build models or load files themselves; they ask the workbench, which raises PynnError with one
clear sentence on bad input (the app turns it into a notification) and leaves the previous state untouched.
Training runs in a worker thread: readers go through `read()`, which holds the model's lock, so they never see
a half-updated layer.
"""
from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Callable, TypeVar

from pynn.data import Dataset, load_dataset
from pynn.files import load_model, read_header, save_model
from pynn.model import Sequential, build_model
from pynn.train import EpochRecord, Trainer, TrainConfig, history_dicts

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

    def train_config(self) -> TrainConfig:
        config = TrainConfig(epochs=self.epochs, batch_size=self.batch_size, optimizer=self.optimizer,
                             lr=self.lr, l2=self.l2, val_split=self.val_split, seed=self.seed)
        config.validate()
        return config


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
        if data is None and load:
            record = read_header(load)[0].get("data") or {}
            data, data_options = record.get("load", record.get("name", DEFAULT_DATA)), record.get("options")
        data = data or DEFAULT_DATA
        self.data_name, self.data_options = data, dict(data_options or {})
        self.data: Dataset = load_dataset(data, **self.data_options)
        if load:
            self.load(load)
        else:
            self.set_spec(spec or (DEFAULT_SPEC if data == DEFAULT_DATA else f"30-{self.data.n_outputs}"))

    # --- the model ---------------------------------------------------------------------------------
    @property
    def model(self) -> Sequential:
        return self._model

    def set_spec(self, spec: str) -> Sequential:
        """Build a fresh model from a spec on the current data; on a bad spec the old model stays."""
        model = build_model(spec, self.data, init=self.settings.init, seed=self.settings.seed,
                            hidden_activation=self.settings.activation)
        self._replace(model)
        return model

    def load(self, path: str | Path) -> Sequential:
        model, header = load_model(path)
        model.check_input(self.data.sample_shape, what=f"the data {self.data.name}")
        self._replace(model)
        self.history = [EpochRecord(**{k: v for k, v in h.items() if k in EpochRecord.__dataclass_fields__})
                        for h in header.get("history", [])]
        return model

    def save(self, path: str | Path) -> Path:
        record = dict(self.data.describe(), load=self.data_name, options=self.data_options)
        with self._model.lock:
            return save_model(self._model, path, history=history_dicts(self.history), data=record,
                              training=dataclasses.asdict(self.settings))

    def _replace(self, model: Sequential) -> None:
        if self.training:
            from pynn.errors import PynnError
            raise PynnError("A run is in progress; stop it before changing the model.")
        self._model = model
        self.history = []
        self.touch()

    # --- reading while a worker trains ------------------------------------------------------------
    def read(self, fn: Callable[[Sequential], T]) -> T:
        """fn(model) with the model's lock held: weights cannot change under it."""
        with self._model.lock:
            return fn(self._model)

    def touch(self) -> None:
        with self._version_lock:
            self.version += 1

    # --- training ---------------------------------------------------------------------------------
    @property
    def training(self) -> bool:
        return self.trainer is not None

    def train(self, on_event: Callable[[object], None]) -> list[EpochRecord]:
        """Run the Settings' training to the end (or until stop()); call from a worker thread. Events are
        the Trainer's (BatchEnd, EpochEnd, TrainEnd); the version grows after every batch."""
        config = self.settings.train_config()

        def relay(event):
            self.touch()
            on_event(event)

        self.trainer = Trainer(self._model, config, relay)
        try:
            records = self.trainer.fit(self.data.x_train, self.data.y_train)
            self.history = self.history + records
            return records
        finally:
            self.trainer = None

    def stop(self) -> None:
        if self.trainer is not None:
            self.trainer.stop()
