"""One training of an experiment, from its plain config: the run description read back from it, the data read
once per process, and the model built and trained as `pynn train` builds and trains it — so a sweep's or a
comparison's run gives the numbers of a plain training with the same description.

The description's fields are read from pynn.run when a run starts, never copied here, so a field added to
RunConfig travels through every sweep and comparison untouched."""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import pynn.run
from pynn.data import Dataset, load_dataset
from pynn.model import Sequential
from pynn.train import EpochRecord, Trainer


def description(config: dict, extras) -> "pynn.run.RunConfig":
    """The run description in a run's plain config, less the keys the runner added (extras: a sweep's hidden
    size, a comparison's label). Any other key is a field: one this pynn does not know (a worker with an
    older version) is refused in one sentence rather than dropped."""
    return pynn.run.RunConfig.from_dict({k: v for k, v in config.items() if k not in extras}, "the run's config")


def dataset(run: "pynn.run.RunConfig") -> Dataset:
    """The data a description names; a process trains many runs on the same data, so it is read once."""
    recipe = run.data_recipe()
    return _load(recipe["name"], tuple(sorted(recipe["options"].items())))


@lru_cache(maxsize=2)
def _load(name: str, options: tuple) -> Dataset:
    return load_dataset(name, **dict(options))


def check_models(runs: "list[pynn.run.RunConfig]", data: Dataset) -> None:
    """Build each model the runs name on the data once, so a spec that does not fit (or cannot be read) is one
    sentence before anything trains, not a failure in every run."""
    seen = set()
    for run in runs:
        model_fields = tuple(getattr(run, f.name) for f in pynn.run.fields_of("model"))
        if model_fields not in seen:
            seen.add(model_fields)
            run.build_model(data)


@dataclass
class Trained:
    run: "pynn.run.RunConfig"
    data: Dataset
    model: Sequential
    trainer: Trainer
    history: list[EpochRecord]
    seconds: float             # the training alone, not loading or building


def train(run: "pynn.run.RunConfig", *, eval_train: bool = True, on_event: Callable[[object], None] | None = None,
          on_start: Callable[[Sequential, Dataset], None] | None = None) -> Trained:
    """Build the model the description names on its data and train it; eval_train and on_event as the Trainer's.
    on_start(model, data) is called once the model is built, before its first step, to measure the untrained
    model (not counted in the training's seconds)."""
    data = dataset(run)
    model = run.build_model(data)
    if on_start is not None:
        on_start(model, data)
    start = time.perf_counter()
    trainer = Trainer(model, run, on_event, eval_train=eval_train)
    history = trainer.fit(data.x_train, data.y_train)
    return Trained(run, data, model, trainer, history, time.perf_counter() - start)
