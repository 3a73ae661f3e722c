"""Hidden-size sweeps — "why 25 hidden units and not 100?": one network per hidden size and seed (crossed with
any initialisations, L2 strengths and learning rates given), trained alike, compared on test accuracy,
parameters and time, next to the usual rules of thumb.

Each run is train_one(config) -> result on plain dicts, seeded from its own config only, so runs can be spread
over local processes or a Dask cluster (pynn.experiments.workers, pynn.experiments.cluster) and give the same numbers
in any order."""
from __future__ import annotations

import time
from functools import lru_cache

import numpy as np

from pynn.data import load_dataset
from pynn.errors import PynnError
from pynn.model import build_model
from pynn.run import RunConfig
from pynn.train import Trainer

DEFAULT_SIZES = (2, 3, 4, 5, 10, 30, 100)


def rules_of_thumb(n_in: int, n_out: int) -> dict[str, float]:
    """Hidden sizes the common heuristics suggest for n_in inputs and n_out outputs."""
    return {
        "√n_in": float(np.sqrt(n_in)),
        "√(n_in·n_out)": float(np.sqrt(n_in * n_out)),
        "2/3·n_in + n_out": 2.0 * n_in / 3.0 + n_out,
        "n_in/2": n_in / 2.0,
    }


GRID_KEYS = ("init", "l2", "lr")  # settings that may take several values, each crossed with the sizes


def _values(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def sweep_configs(sizes, seeds: int, *, data: str = "digits", data_options: dict | None = None, epochs: int = 10,
                  batch_size: int = 10, optimizer: str = "sgd", lr=0.5, l2=0.0,
                  activation: str = "sigmoid", init="lecun") -> list[dict]:
    """One config per combination of init, l2, lr (each one value or a list), hidden size and seed: seeds
    0 .. seeds-1 for every combination."""
    if not sizes or min(sizes) < 1:
        raise PynnError("Give hidden sizes of at least 1, e.g. --hidden 2,5,10,30.")
    if seeds < 1:
        raise PynnError(f"--seeds must be at least 1, not {seeds}.")
    inits, l2s, lrs = _values(init), _values(l2), _values(lr)
    for strength in l2s:
        RunConfig(epochs=epochs, batch=batch_size, l2=strength).validate()
    for rate in lrs:
        if rate is not None and not rate > 0:
            raise PynnError(f"--lr must be positive, not {rate}.")
    return [{"data": data, "data_options": dict(data_options or {}), "hidden": int(size), "seed": seed,
             "epochs": epochs, "batch_size": batch_size, "optimizer": optimizer, "lr": rate, "l2": strength,
             "activation": activation, "init": name}
            for name in inits for strength in l2s for rate in lrs for size in sizes for seed in range(seeds)]


def describe_config(config: dict) -> str:
    """The parts of a run's config that tell it apart within a sweep, for progress and failure lines."""
    return (f"hidden {config['hidden']}, seed {config['seed']}, init {config['init']}, l2 {config['l2']:g}, "
            f"lr {'default' if config['lr'] is None else format(config['lr'], 'g')}")


@lru_cache(maxsize=2)
def _dataset(name: str, options: tuple):
    # a worker process trains many runs on the same data: read it once
    return load_dataset(name, **dict(options))


def train_one(config: dict) -> dict:
    """Train one network with `config["hidden"]` hidden units and report its accuracy, size and time."""
    data = _dataset(config["data"], tuple(sorted(config["data_options"].items())))
    model = build_model(f"{config['hidden']}-{data.n_outputs}", data, init=config["init"], seed=config["seed"],
                        hidden_activation=config["activation"])
    train = RunConfig(epochs=config["epochs"], batch=config["batch_size"], optimizer=config["optimizer"],
                      lr=config["lr"], l2=config["l2"], seed=config["seed"])
    start = time.perf_counter()
    Trainer(model, train, eval_train=False).fit(data.x_train, data.y_train)
    seconds = time.perf_counter() - start
    test = model.evaluate(data.x_test, data.y_test)
    if "accuracy" not in test:
        raise PynnError(f"A sweep compares accuracy, which {data.name}'s {data.task} targets do not have.")
    return {"hidden": config["hidden"], "seed": config["seed"], **{k: config[k] for k in GRID_KEYS},
            "n_params": model.n_params,
            "test_accuracy": test["accuracy"], "test_loss": test["loss"],
            "train_accuracy": model.evaluate(data.x_train, data.y_train)["accuracy"], "seconds": seconds}


def summarise(results: list[dict]) -> list[dict]:
    """Per combination of init, l2, lr and hidden size: test accuracy mean, spread (standard deviation, min,
    max) over seeds, parameters and mean training time; in the order of the settings, then increasing size."""
    def group(r):
        return tuple(r.get(k) for k in GRID_KEYS) + (r["hidden"],)

    def order(key):  # lr None (the optimizer's default) sorts first; keys are never mixed otherwise
        return tuple((v is not None, v) for v in key)

    rows = []
    for key in sorted({group(r) for r in results}, key=order):
        runs = [r for r in results if group(r) == key]
        acc = np.array([r["test_accuracy"] for r in runs])
        rows.append({**dict(zip(GRID_KEYS, key)), "hidden": key[-1], "runs": len(runs),
                     "n_params": runs[0]["n_params"],
                     "test_accuracy_mean": float(acc.mean()), "test_accuracy_std": float(acc.std()),
                     "test_accuracy_min": float(acc.min()), "test_accuracy_max": float(acc.max()),
                     "train_accuracy_mean": float(np.mean([r["train_accuracy"] for r in runs])),
                     "seconds_mean": float(np.mean([r["seconds"] for r in runs]))})
    return rows
