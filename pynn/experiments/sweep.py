"""Sweeps — "why 25 hidden units and not 100? one layer or two? dense or an LSTM?": a run description plus
what it varies. One network per architecture and seed (crossed with every value of any other field given
several), trained alike, compared on test accuracy, parameters and time; the usual rules of thumb beside them
when the sweep varies the width of a single hidden layer.

The architectures come from the model field: a template whose placeholders each take a list of sizes, crossed
({h}, the hidden size, then {h2}, {h3}, {h4}: 784-{h}-{h2}-10), or a list of whole specs (784-25-15-10,
784-100-10, 28x28-lstm32-10, where the LSTM reads a digit's 28 rows of 28 pixels), or both. A spec never holds
a comma, so a comma list of specs is unambiguous.

Each run is train_one(config) -> result on plain dicts: the run's description (RunConfig.to_dict(), its model
spec written out for the sizes) plus the template it came from, the sizes of its placeholders and the names of
the fields the sweep varies. A run is seeded from its own config only, so runs can be spread over local
processes or a Dask cluster (pynn.experiments.workers, pynn.experiments.cluster) and give the same numbers in
any order, the numbers of a plain training with the same description."""
from __future__ import annotations

import itertools
import re

import numpy as np

import pynn.run
from pynn.errors import PynnError
from pynn.experiments.training import dataset, description, train
from pynn.run import ConfigError

DEFAULT_SIZES = (2, 3, 4, 5, 10, 30, 100)
SIZE = "{h}"  # where a model template takes the hidden size: 784-{h}-10
PLACEHOLDERS = ("h", "h2", "h3", "h4")  # what a template may hold, in the order the sizes are crossed
# the key of each placeholder's size in a run's config, result and row: {h} keeps its name of old, hidden
SIZE_KEYS = {"h": "hidden", "h2": "h2", "h3": "h3", "h4": "h4"}
EXTRAS = ("template", *SIZE_KEYS.values(), "varies")  # what a run's config holds besides its description
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def rules_of_thumb(n_in: int, n_out: int) -> dict[str, float]:
    """Hidden sizes the common heuristics suggest for n_in inputs and n_out outputs."""
    return {
        "√n_in": float(np.sqrt(n_in)),
        "√(n_in·n_out)": float(np.sqrt(n_in * n_out)),
        "2/3·n_in + n_out": 2.0 * n_in / 3.0 + n_out,
        "n_in/2": n_in / 2.0,
    }


def sweep_configs(hidden=None, seeds: int = 1, base: "pynn.run.RunConfig | None" = None, *,
                  sizes: dict | None = None, **fields) -> list[dict]:
    """One plain config per combination of the varied fields, the placeholders' sizes and seed (0 .. seeds-1).

    base: the description every run starts from (default: the house defaults). fields: any field of it, with
    one value (every run's) or a list (each value crossed with the others). The model field (one spec or a
    list of them) may hold placeholders: hidden gives the sizes of {h} (default DEFAULT_SIZES), sizes those of
    the others ({"h2": [5, 15]}); without a model, a single hidden layer {h} and the data's outputs."""
    given = _placeholder_sizes(hidden, sizes)
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
    runs = [base.replace(**dict(zip(grid, combination))) for combination in itertools.product(*grid.values())]
    templates = [_template(run) for run in runs]
    _check_templates(list(dict.fromkeys(templates)), given)
    configs = []
    for run, template in zip(runs, templates):
        for filled in _fillings(template, given):
            written = {"model": fill(template, filled), "template": template, "hidden": filled.get("h"),
                       **{SIZE_KEYS[p]: size for p, size in filled.items() if p != "h"}}
            configs += [{**run.replace(model=written["model"], seed=seed).to_dict(), **written, "varies": varies}
                        for seed in range(seeds)]
    return configs


def placeholders_of(template: str) -> list[str]:
    """The placeholders a model template holds, in the order their sizes are crossed: '784-{h2}-{h}-10' ->
    ['h', 'h2']."""
    found = set(_PLACEHOLDER.findall(template))
    return [p for p in PLACEHOLDERS if p in found]


def fill(template: str, sizes: dict) -> str:
    """The template with each placeholder given in sizes ({'h': 25}) written out; others stay."""
    return _PLACEHOLDER.sub(lambda m: str(sizes.get(m.group(1), m.group(0))), template)


def _placeholder_sizes(hidden, sizes) -> dict[str, list[int] | None]:
    """Each placeholder's sizes as given (None: not given; {h} then takes the default sizes where it is held)."""
    sizes = dict(sizes or {})
    if "h" in sizes and hidden is not None:
        raise PynnError("The sizes of {h} are the hidden sizes; give them once, as hidden.")
    if hidden is not None:
        sizes["h"] = hidden
    unknown = [p for p in sizes if p not in PLACEHOLDERS]
    if unknown:
        raise PynnError(f"A sweep fills the placeholders {_listed(PLACEHOLDERS)}, and {unknown[0]!r} is not one.")
    given = {}
    for p in PLACEHOLDERS:
        if sizes.get(p) is None:
            continue
        values = [int(size) for size in sizes[p]]
        if not values or min(values) < 1:
            raise ConfigError(SIZE_KEYS[p], f"takes sizes of at least 1, not {min(values) if values else 'none'}")
        given[p] = values
    return given


def _template(run: "pynn.run.RunConfig") -> str:
    return run.model if run.model is not None else f"{SIZE}-{dataset(run).n_outputs}"


def _check_templates(templates: list[str], given: dict) -> None:
    """One sentence for a placeholder no sweep fills, sizes given for a placeholder no template holds, or a
    placeholder held without sizes ({h} has its default)."""
    for template in templates:
        strange = [p for p in _PLACEHOLDER.findall(template) if p not in PLACEHOLDERS]
        if strange:
            # a PynnError, not a ConfigError: its text is shown as it is, whatever the braces hold
            raise PynnError(f"The model template {template!r} holds {{{strange[0]}}}, which a sweep does not fill; "
                            f"its placeholders are {_listed(PLACEHOLDERS)} ({{h}} the hidden size).")
    for p in given:
        if not any(p in placeholders_of(t) for t in templates):
            example = "784-{h}-10" if p == "h" else "784-{h}-{" + p + "}-10"
            held = f"{templates[0]!r} has none" if len(templates) == 1 else \
                f"none of {', '.join(map(repr, templates))} has one"
            what = "each hidden size" if p == "h" else f"each size given for {{{p}}}"
            raise ConfigError("model", f"must hold {{{p}}} where a sweep puts {what} (e.g. {example}); {held}")
    for template in templates:
        missing = [p for p in placeholders_of(template) if p != "h" and p not in given]
        if missing:
            raise ConfigError(SIZE_KEYS[missing[0]], f"needs sizes: the model template {template!r} holds "
                                                     f"{{{missing[0]}}}")


def _listed(placeholders) -> str:
    braced = [f"{{{p}}}" for p in placeholders]
    return ", ".join(braced[:-1]) + " and " + braced[-1]


def _fillings(template: str, given: dict) -> list[dict]:
    """Every combination of the sizes of the template's placeholders, {h} slowest: [{'h': 10, 'h2': 5}, ...]."""
    held = placeholders_of(template)
    choices = [given.get(p) or list(DEFAULT_SIZES) for p in held]  # only {h} can be without given sizes here
    return [dict(zip(held, combination)) for combination in itertools.product(*choices)]


def by_hidden_size(runs: list[dict]) -> bool:
    """Whether a sweep's architectures differ only in {h}, so its results are read against the hidden size
    (else against each architecture's parameters). runs: configs, results or rows."""
    return all(not r.get("template") or placeholders_of(r["template"]) == ["h"] for r in runs)


def rules_apply(runs: list[dict]) -> bool:
    """The rules of thumb size a single hidden layer: they apply when each architecture has one hidden layer,
    a dense one of width {h}."""
    return by_hidden_size(runs) and all(_one_dense_hidden_layer(t) for t in {r.get("template") for r in runs} if t)


def _one_dense_hidden_layer(template: str) -> bool:
    from pynn.spec import parse_spec

    hidden = [layer for layer in parse_spec(fill(template, {"h": 1})).layers[:-1] if layer.kind != "dropout"]
    return len(hidden) == 1 and hidden[0].kind == "dense"


def show_value(value) -> str:
    """A value as people write it: 5 rather than 5.0, 'default' for a field left to its default."""
    return "default" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def describe_run(run: dict, varies, sep: str = ", ", size_width: int = 0) -> str:
    """What tells a run (its config or its result) apart within its sweep, for progress and failure lines:
    'hidden 2, seed 1, optimizer adam' among hidden sizes, '784-25-15-10, seed 0' among architectures.
    size_width: the hidden size right-aligned in that many characters, for a column of runs."""
    by_size = by_hidden_size([run]) and "model" not in varies
    head = f"hidden {run['hidden']:>{size_width}}" if by_size else run["model"]
    return sep.join([head, f"seed {run['seed']}",
                     *(f"{name} {show_value(run[name])}" for name in varies if name != "model")])


def describe_config(config: dict) -> str:
    return describe_run(config, config["varies"])


def train_one(config: dict) -> dict:
    """Train the network of one sweep config and report its architecture, accuracy, size and time."""
    run = description(config, EXTRAS)
    data = dataset(run)
    if data.task != "classification":
        raise PynnError(f"A sweep compares accuracy, which {data.name}'s {data.task} targets do not have.")
    trained = train(run, eval_train=False)
    model = trained.model
    test = model.evaluate(data.x_test, data.y_test)
    sizes = {key: config[key] for key in SIZE_KEYS.values() if key in config}
    return {"model": model.spec, "template": config.get("template"), **sizes, "seed": run.seed,
            **{name: config[name] for name in config["varies"] if name != "model"},
            "n_params": model.n_params, "test_accuracy": test["accuracy"], "test_loss": test["loss"],
            "train_accuracy": model.evaluate(data.x_train, data.y_train)["accuracy"], "seconds": trained.seconds}


def summarise(results: list[dict], varies=()) -> list[dict]:
    """Per architecture and combination of the other varied fields: test accuracy mean, spread (standard
    deviation, min, max) over seeds, parameters and mean training time; in the order of the settings, then of
    the model templates, then increasing sizes."""
    settings = [k for k in varies if k != "model"]  # the architecture stands for the model field
    templates = list(dict.fromkeys(r.get("template") for r in results))
    keys = list(SIZE_KEYS.values())

    def group(r):
        return (*(r[k] for k in settings), templates.index(r.get("template")), *(r.get(k) for k in keys))

    def order(key):  # a field left to its default (None) sorts first; a field's values are never mixed otherwise
        return tuple((v is not None, v) for v in key)

    rows = []
    for key in sorted({group(r) for r in results}, key=order):
        runs = [r for r in results if group(r) == key]
        first = runs[0]
        acc = np.array([r["test_accuracy"] for r in runs])
        rows.append({**dict(zip(settings, key)), "model": first.get("model"), "template": first.get("template"),
                     "hidden": first["hidden"], **{k: first[k] for k in keys[1:] if first.get(k) is not None},
                     "runs": len(runs), "n_params": first["n_params"],
                     "test_accuracy_mean": float(acc.mean()), "test_accuracy_std": float(acc.std()),
                     "test_accuracy_min": float(acc.min()), "test_accuracy_max": float(acc.max()),
                     "train_accuracy_mean": float(np.mean([r["train_accuracy"] for r in runs])),
                     "seconds_mean": float(np.mean([r["seconds"] for r in runs]))})
    return rows
