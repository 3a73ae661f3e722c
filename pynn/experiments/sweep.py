"""Hidden-size sweeps — "why 25 hidden units and not 100?": a run description plus the fields it varies. One
network per hidden size and seed (crossed with every value of any other field given several), trained alike,
compared on test accuracy, parameters and time, next to the usual rules of thumb.

Each run is train_one(config) -> result on plain dicts: the run's description (RunConfig.to_dict(), its model
spec written out for the size) plus the size and the names of the fields the sweep varies. A run is seeded
from its own config only, so runs can be spread over local processes or a Dask cluster
(pynn.experiments.workers, pynn.experiments.cluster) and give the same numbers in any order, the numbers of a
plain training with the same description."""
from __future__ import annotations

import itertools

import numpy as np

import pynn.run
from pynn.errors import PynnError
from pynn.experiments.training import dataset, description, train
from pynn.run import ConfigError

DEFAULT_SIZES = (2, 3, 4, 5, 10, 30, 100)
SIZE = "{h}"  # where a model template takes the hidden size: 784-{h}-10
EXTRAS = ("hidden", "varies")  # what a run's config holds besides its description


def rules_of_thumb(n_in: int, n_out: int) -> dict[str, float]:
    """Hidden sizes the common heuristics suggest for n_in inputs and n_out outputs."""
    return {
        "√n_in": float(np.sqrt(n_in)),
        "√(n_in·n_out)": float(np.sqrt(n_in * n_out)),
        "2/3·n_in + n_out": 2.0 * n_in / 3.0 + n_out,
        "n_in/2": n_in / 2.0,
    }


def sweep_configs(hidden, seeds: int = 1, base: "pynn.run.RunConfig | None" = None, **fields) -> list[dict]:
    """One plain config per combination of the varied fields, hidden size and seed (0 .. seeds-1).

    base: the description every run starts from (default: the house defaults). fields: any field of it, with
    one value (every run's) or a list (each value crossed with the others). The model field is a template
    with {h} where the hidden size goes, e.g. 784-{h}-10; without one, a single hidden layer and the data's
    outputs."""
    sizes = [int(h) for h in hidden]
    if not sizes or min(sizes) < 1:
        raise ConfigError("hidden", f"takes sizes of at least 1, not {min(sizes) if sizes else 'none'}")
    if seeds < 1:
        raise ConfigError("seeds", f"must be at least 1, not {seeds}")
    if "seed" in fields:
        raise PynnError("A sweep trains seeds 0 .. seeds-1 for every setting; give the number of seeds, not a seed.")
    base = pynn.run.RunConfig() if base is None else base
    names = pynn.run.field_names()
    unknown = [k for k in fields if k not in names]
    if unknown:
        raise PynnError(f"A sweep varies fields of the run description, and {unknown[0]!r} is not one; the fields "
                        f"are {', '.join(names)}.")
    grid = {}
    for name, value in fields.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        if not values:
            raise ConfigError(name, "needs at least one value")
        # read as the field's kind first, so 5 and 5.0 (or "5") are one setting, not twice the runs
        grid[name] = list(dict.fromkeys(pynn.run.parse_value(name, v) for v in values))
    varies = [name for name, values in grid.items() if len(values) > 1]
    configs = []
    for combination in itertools.product(*grid.values()):
        run = base.replace(**dict(zip(grid, combination)))
        template = _template(run)
        configs += [{**run.replace(model=template.replace(SIZE, str(size)), seed=seed).to_dict(),
                     "hidden": size, "varies": varies}
                    for size in sizes for seed in range(seeds)]
    return configs


def _template(run: "pynn.run.RunConfig") -> str:
    if run.model is None:
        return f"{SIZE}-{dataset(run).n_outputs}"
    if SIZE not in run.model:
        raise ConfigError("model", f"must hold {SIZE} where a sweep puts each hidden size (e.g. 784-{SIZE}-10); "
                                   f"{run.model!r} has none")
    return run.model


def show_value(value) -> str:
    """A value as people write it: 5 rather than 5.0, 'default' for a field left to its default."""
    return "default" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def describe_config(config: dict) -> str:
    """The parts of a run's config that tell it apart within a sweep, for progress and failure lines."""
    return ", ".join([f"hidden {config['hidden']}", f"seed {config['seed']}",
                      *(f"{name} {show_value(config[name])}" for name in config["varies"])])


def train_one(config: dict) -> dict:
    """Train the network of one sweep config and report its accuracy, size and time."""
    run = description(config, EXTRAS)
    data = dataset(run)
    if data.task != "classification":
        raise PynnError(f"A sweep compares accuracy, which {data.name}'s {data.task} targets do not have.")
    trained = train(run, eval_train=False)
    model = trained.model
    test = model.evaluate(data.x_test, data.y_test)
    return {"hidden": config["hidden"], "seed": run.seed, **{name: config[name] for name in config["varies"]},
            "n_params": model.n_params, "test_accuracy": test["accuracy"], "test_loss": test["loss"],
            "train_accuracy": model.evaluate(data.x_train, data.y_train)["accuracy"], "seconds": trained.seconds}


def summarise(results: list[dict], varies=()) -> list[dict]:
    """Per combination of the varied fields and hidden size: test accuracy mean, spread (standard deviation,
    min, max) over seeds, parameters and mean training time; in the order of the settings, then increasing
    size."""
    def group(r):
        return tuple(r[k] for k in varies) + (r["hidden"],)

    def order(key):  # a field left to its default (None) sorts first; a field's values are never mixed otherwise
        return tuple((v is not None, v) for v in key)

    rows = []
    for key in sorted({group(r) for r in results}, key=order):
        runs = [r for r in results if group(r) == key]
        acc = np.array([r["test_accuracy"] for r in runs])
        rows.append({**dict(zip(varies, key)), "hidden": key[-1], "runs": len(runs),
                     "n_params": runs[0]["n_params"],
                     "test_accuracy_mean": float(acc.mean()), "test_accuracy_std": float(acc.std()),
                     "test_accuracy_min": float(acc.min()), "test_accuracy_max": float(acc.max()),
                     "train_accuracy_mean": float(np.mean([r["train_accuracy"] for r in runs])),
                     "seconds_mean": float(np.mean([r["seconds"] for r in runs]))})
    return rows
