"""What a run is: the model spec, the data recipe, the training settings and the seed — one serialisable
description with the house defaults stated once.

The CLI's flags, the app's settings dialog, sweep and compare grids, checkpoints and the model file all read
and write a RunConfig, and none of them defines a default of its own: a new field added here reaches every
front end. Fields are named as the flags are (`batch`, `val_split` for --val-split), so a TOML file a person
writes (`model = "784-20-10"`, `epochs = 1`) reads the same as the command line.
"""
from __future__ import annotations

import dataclasses
import math
import re
import sys
from pathlib import Path
from typing import Any, Callable

from pynn.errors import PynnError

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same reader, before it joined the standard library
    import tomli as tomllib

GROUPS = ("model", "data", "training")

# The house defaults of each optimiser's learning rate. SGD's 0.5 suits the default mini-batch of 10 on
# sigmoid nets, as in Nielsen's book; momentum and Adam take the usual values for them.
DEFAULT_LR = {"sgd": 0.5, "momentum": 0.05, "adam": 0.001}
OPTIMIZERS = tuple(DEFAULT_LR)
HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky", "identity")
INITIALISATIONS = ("lecun", "normal", "xavier", "he")
LOSSES = ("xent", "bce", "mse")


class ConfigError(PynnError):
    """A field with a value no run can use. The message names the field as the library does ("epochs must be
    at least 1"); a front end names it its own way (`--epochs`) with `worded_for`."""

    def __init__(self, field: str, problem: str):
        """problem may mention other fields as {name}: each front end words them as it words the field."""
        self.field, self.problem = field, problem
        super().__init__(self.worded_for(str))

    def worded_for(self, name: Callable[[str], str]) -> str:
        mentioned = re.sub(r"\{(\w+)\}", lambda m: name(m.group(1)) if m.group(1) in field_names() else m.group(0),
                           self.problem)
        return f"{name(self.field)} {mentioned}."


def setting(default, group: str, help: str, *, choices: tuple | None = None, metavar: str | None = None,
            data_option: str | None = None):
    """A field of the description: its default, the group it belongs to, a line of help, its choices, and
    for data fields the keyword of load_dataset it feeds (when that differs from the field's name)."""
    return dataclasses.field(default=default, metadata={
        "group": group, "help": help, "choices": choices, "metavar": metavar, "data_option": data_option})


@dataclasses.dataclass
class RunConfig:
    # -- model ---------------------------------------------------------------------------------------------
    model: str | None = setting(None, "model", "the model spec, e.g. 784-30-10, 30-10, 784-100:relu-drop0.5-10 "
                                "(default: 784-30-10 on digits, else one that fits the data)", metavar="SPEC")
    activation: str = setting("sigmoid", "model", "hidden activation where the spec gives none",
                              choices=HIDDEN_ACTIVATIONS)
    init: str = setting("lecun", "model", "weight initialisation", choices=INITIALISATIONS)
    loss: str | None = setting(None, "model", "the loss (default: follows the task)", choices=LOSSES)
    dropout: float = setting(0.0, "model", "dropout after every hidden dense layer that has none in the spec")
    double_softmax: bool = setting(False, "model", "apply the softmax twice on purpose, on the output layer and "
                                   "again inside cross-entropy, as nn.Softmax before PyTorch's CrossEntropyLoss "
                                   "does: to see learning freeze (pynn freeze shows it beside the single softmax)")
    # -- data ----------------------------------------------------------------------------------------------
    data: str = setting("digits", "data", "a dataset name (see `pynn data list`) or a file", metavar="NAME|PATH")
    labels: str | None = setting(None, "data", "labels in a second file, for data holding only inputs",
                                 metavar="PATH")
    target: str | None = setting(None, "data", "the CSV column (name or index) holding the target",
                                 metavar="COLUMN")
    standardize: bool = setting(False, "data", "standardise features with the train set's statistics")
    limit: int | None = setting(None, "data", "use only the first N samples", metavar="N", data_option="n")
    lookback: int | None = setting(None, "data", "steps in each input window of a series", metavar="N")
    horizon: int | None = setting(None, "data", "steps a series model forecasts", metavar="H")
    difference: bool = setting(False, "data", "model a series' change from its last value (the forecast is "
                               "the last value plus the predicted change): for a series that trends")
    as_sequence: bool = setting(False, "data", "read each image as a sequence of its rows (a digit: 28 steps "
                                "of 28 pixels), for LSTMs")
    noise: float | None = setting(None, "data", "noise of a generated set, 0 to 1 as Playground's 0-100% (default: "
                                  "0; 0.1 for sine)")
    points: int | None = setting(None, "data", "points of a generated 2-D set, train and test (default: 500)",
                                 metavar="N")
    test_ratio: float | None = setting(None, "data", "share of a generated 2-D set's points kept for testing "
                                       "(default: 0.5)")
    features: str | None = setting(None, "data", "input features computed from a 2-D set's x1 and x2, as "
                                   "Playground's: any of x1,x2,x1^2,x2^2,x1*x2,sin(x1),sin(x2) (default: x1,x2)",
                                   metavar="LIST")
    # -- training ------------------------------------------------------------------------------------------
    epochs: int = setting(10, "training", "epochs to train")
    batch: int = setting(10, "training", "mini-batch size")
    stateful: bool = setting(False, "training", "carry each LSTM's state (h, c) from one batch to the next without "
                             "back-propagating through it (truncated BPTT): the training windows are read in order "
                             "as one stream per batch row, not shuffled, and the state restarts each epoch")
    optimizer: str = setting("sgd", "training", "the optimiser", choices=OPTIMIZERS)
    lr: float | None = setting(None, "training", "learning rate (default: " + ", ".join(
        f"{v:g} for {k}" for k, v in DEFAULT_LR.items()) + ")")
    momentum: float = setting(0.9, "training", "momentum of the momentum optimiser")
    l2: float = setting(0.0, "training", "L2 strength lambda in lambda/(2n)·sum(w²), n training samples")
    clip: float = setting(0.0, "training", "clip the gradient norm to this (0: off)")
    val_split: float = setting(0.0, "training", "fraction of the training data held out for validation")
    early_stop: int = setting(0, "training", "stop after N epochs without validation improvement and restore "
                              "the best weights (0: off)", metavar="N")
    seed: int = setting(0, "training", "seed of the weights, the shuffles, dropout and the split")

    # -- reading and writing -------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "the run description") -> "RunConfig":
        """A validated description from plain values (JSON, TOML, a grid); one sentence for an unknown field
        or a value of the wrong kind."""
        known = field_names()
        unknown = [k for k in values if k not in known]
        if unknown:
            raise PynnError(f"Unknown field {unknown[0]!r} in {source}; the fields are {', '.join(known)}.")
        config = cls(**{k: _coerce(k, v, source) for k, v in values.items()})
        config.validate()
        return config

    @classmethod
    def from_toml(cls, path: str | Path) -> "RunConfig":
        try:
            with open(path, "rb") as f:
                values = tomllib.load(f)
        except OSError as err:
            raise PynnError(f"Cannot read {path}: {err.strerror or err}.") from None
        except tomllib.TOMLDecodeError as err:
            raise PynnError(f"{path} is not valid TOML ({err}).") from None
        return cls.from_dict(values, str(path))

    @classmethod
    def from_file(cls, path: str | Path) -> "RunConfig":
        """The description kept in a file: a saved model's (the run that made it), else a TOML file's."""
        try:
            with open(path, "rb") as f:
                is_archive = f.read(4) == b"PK\x03\x04"
        except OSError:
            is_archive = False  # from_toml says why it cannot be read
        if is_archive or str(path).endswith(".npz"):
            from pynn.files import saved_run

            return saved_run(path)
        return cls.from_toml(path)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        """The description as TOML that from_toml reads back; fields at their default are left out."""
        lines = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value != f.default:
                lines.append(f"{f.name} = {_toml_value(value)}")
        return "\n".join(lines) + "\n"

    def replace(self, **changes) -> "RunConfig":
        """A validated copy with some fields changed (values may be text, as a grid or a form gives them)."""
        return RunConfig.from_dict({**self.to_dict(), **changes})

    def changed_fields(self) -> dict[str, Any]:
        """The fields that differ from the house defaults."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if getattr(self, f.name) != f.default}

    # -- what the fields mean ------------------------------------------------------------------------------

    def validate(self) -> None:
        """One sentence (ConfigError) for the first field no run could use."""
        for f in dataclasses.fields(self):
            value, choices = getattr(self, f.name), f.metadata["choices"]
            if choices and value is not None and value not in choices:
                raise ConfigError(f.name, f"must be one of {', '.join(choices)}, not {value!r}")
        _at_least(self, "epochs", 1)
        _at_least(self, "batch", 1)
        _at_least(self, "early_stop", 0)
        for name in ("limit", "lookback", "horizon"):
            if getattr(self, name) is not None:
                _at_least(self, name, 1)
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError("lr", f"must be a positive number, not {self.lr}")
        for name in ("l2", "clip", "momentum"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ConfigError(name, f"must not be negative, not {getattr(self, name)}")
        if not 0.0 <= self.val_split < 1.0:
            raise ConfigError("val_split", f"must be in [0, 1), not {self.val_split}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError("dropout", f"must be in [0, 1), not {self.dropout}")
        if self.early_stop and not self.val_split:
            raise ConfigError("early_stop", "watches the validation loss, so it needs {val_split} (e.g. 0.1)")

    @property
    def learning_rate(self) -> float:
        """The rate the run uses: the one given, else the house default of its optimiser."""
        return DEFAULT_LR[self.optimizer] if self.lr is None else self.lr

    def data_recipe(self) -> dict[str, Any]:
        """Where the data comes from: {'name': …, 'options': {load_dataset keyword: value}} (options at
        their default left out), enough to load the same data again."""
        options = {}
        for f in fields_of("data"):
            value = getattr(self, f.name)
            if f.name != "data" and value != f.default:
                options[f.metadata["data_option"] or f.name] = value
        return {"name": self.data, "options": options}

    def load_data(self):
        from pynn.data import load_dataset  # here, so reading a description loads no arrays or compiled code

        recipe = self.data_recipe()
        return load_dataset(recipe["name"], **recipe["options"])

    def for_data(self, data) -> "RunConfig":
        """This description with the model spec written out: the one given, else the default for the data, so
        a saved description names the model it built whatever the defaults become."""
        return self if self.model else dataclasses.replace(self, model=default_spec(data))

    def model_spec(self, data) -> str:
        """The spec the run builds on data: the model field (else the data's default) with the dropout field's
        layers inserted."""
        return with_dropout(self.for_data(data).model, self.dropout)

    def build_model(self, data):
        """The freshly initialised model this description names, on data, carrying the description as `run`."""
        from pynn.model import build_model

        model = build_model(self.model_spec(data), data, loss=self.loss, init=self.init, seed=self.seed,
                            hidden_activation=self.activation, double_softmax=self.double_softmax)
        model.run = self.for_data(data)
        return model


def data_fields(recipe: dict[str, Any]) -> dict[str, Any]:
    """The data fields of a recipe {'name': …, 'options': {load_dataset keyword: value}} (data_recipe's
    inverse); options no field holds are left out."""
    field_of = {f.metadata["data_option"] or f.name: f.name for f in fields_of("data")}
    fields = {"data": recipe["name"]}
    fields.update({field_of[k]: v for k, v in (recipe.get("options") or {}).items() if k in field_of})
    return fields


def from_saved_training(training: dict[str, Any]) -> RunConfig:
    """The description a model file's "training" record holds; files written before RunConfig named the batch
    `batch_size` and kept `eval_train`, which is the trainer's business, not the run's."""
    renamed = {"batch_size": "batch"}
    values = {renamed.get(k, k): v for k, v in training.items()}
    return RunConfig.from_dict({k: v for k, v in values.items() if k in field_names()}, "the saved training record")


# -- the model a description names -------------------------------------------------------------------------

def default_spec(data) -> str:
    """784-30-10 on digit images, an LSTM for a series, a text or a sequence, else one hidden layer of 30 with
    the input taken from the data."""
    kind = data.meta.get("kind")
    if kind == "series":
        return f"lstm32-{data.n_outputs}"
    if kind == "text":
        return f"lstm128*-{data.n_outputs}"
    if kind == "sequence":
        return f"lstm128-{data.n_outputs}"
    if data.n_features == 784 and data.n_outputs == 10:
        return "784-30-10"
    return f"30-{data.n_outputs}"


def with_dropout(spec: str, p: float) -> str:
    """The spec with a drop<p> layer after every hidden dense layer that has none yet (p 0: unchanged)."""
    if not p:
        return spec
    from pynn.spec import LayerSpec, parse_spec

    parsed = parse_spec(spec)
    layers: list[LayerSpec] = []
    for i, layer in enumerate(parsed.layers):
        layers.append(layer)
        hidden_dense = layer.kind == "dense" and i < len(parsed.layers) - 1
        if hidden_dense and parsed.layers[i + 1].kind != "dropout":
            layers.append(LayerSpec("dropout", p=p))
    return str(dataclasses.replace(parsed, layers=layers))


# -- the fields, for front ends that lay them out ----------------------------------------------------------

def field_names() -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(RunConfig))


def fields_of(group: str) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(RunConfig) if f.metadata["group"] == group]


def field_kind(name: str) -> type:
    """bool, int, float or str: what a field's text means (None is allowed where its default is None)."""
    kinds = {f.name: f.type for f in dataclasses.fields(RunConfig)}
    kind = kinds[name]
    text = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))  # annotation text or a type
    for kind in (bool, int, float):
        if text.startswith(kind.__name__):
            return kind
    return str


def parse_value(name: str, text: str, source: str = "the value") -> Any:
    """A field's value from text, as a grid, a form or a flag gives it ('' or 'none' for an optional field's
    default)."""
    return _coerce(name, text, source)


def _coerce(name: str, value: Any, source: str) -> Any:
    default = RunConfig.__dataclass_fields__[name].default
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "default")):
        if default is None:
            return None
        if value is None:
            raise ConfigError(name, "needs a value")
    kind = field_kind(name)
    try:
        if isinstance(value, str):
            text = value.strip()
            if kind is bool:
                if text.lower() not in ("true", "false", "yes", "no", "1", "0", "on", "off"):
                    raise ValueError
                return text.lower() in ("true", "yes", "1", "on")
            return kind(text)
        if kind is bool and not isinstance(value, bool):
            raise ValueError
        if kind is int and (isinstance(value, bool) or (isinstance(value, float) and not value.is_integer())):
            raise ValueError
        if kind is str and not isinstance(value, str):
            raise ValueError
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(name, f"must be {_KIND_WORDS[kind]}, not {value!r} (in {source})") from None


_KIND_WORDS = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}


def _at_least(config: RunConfig, name: str, least: int) -> None:
    if getattr(config, name) < least:
        raise ConfigError(name, f"must be at least {least}, not {getattr(config, name)}")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
