"""Two trainings side by side: the same model, data and seed, differing only in the settings named (e.g.
init=normal against init=lecun,l2=5). Each run is train_variant(config) -> result on plain dicts, like the
sweep's, so the pair can run in parallel processes or elsewhere."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from pynn.data import load_dataset
from pynn.errors import PynnError
from pynn.init import INITIALISERS
from pynn.layers import activation_name
from pynn.losses import loss_name
from pynn.model import build_model
from pynn.optim import DEFAULT_LR
from pynn.run import RunConfig
from pynn.train import Trainer, history_dicts

OPTIMIZERS = tuple(DEFAULT_LR)


def _choice(options, what):
    def check(text):
        if text not in options:
            raise PynnError(f"Unknown {what} {text!r}; choose one of {', '.join(options)}.")
        return text
    return check


# The settings a variant may change, each with the function that reads its value. The seed is not among
# them: both runs share it, so any difference comes from the settings alone.
SETTINGS = {
    "init": _choice(tuple(INITIALISERS), "initialisation"),
    "activation": activation_name,
    "optimizer": _choice(OPTIMIZERS, "optimizer"),
    "loss": loss_name,
    "lr": float, "l2": float, "momentum": float, "clip": float,
    "batch": int, "epochs": int,
}
BASE = {"init": "lecun", "activation": "sigmoid", "optimizer": "sgd", "loss": None, "lr": None, "l2": 0.0,
        "momentum": 0.9, "clip": 0.0, "batch": 10, "epochs": 10}
SGD_LR = 0.5  # pynn train's default for sgd, so a comparison matches a plain `pynn train`


def parse_variant(text: str) -> dict:
    """'init=lecun,l2=5' -> {'init': 'lecun', 'l2': 5.0}; one sentence for anything it cannot read."""
    settings = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or key not in SETTINGS:
            raise PynnError(f"Cannot read {part!r} in {text!r}; write key=value pairs joined by commas, with keys "
                            f"from {', '.join(SETTINGS)}.")
        try:
            settings[key] = SETTINGS[key](value.strip())
        except ValueError:
            raise PynnError(f"{key}={value.strip()!r} in {text!r} is not a valid {key}.") from None
    return settings


def variant_config(label: str, settings: dict, *, spec: str, data: str, data_options: dict | None = None,
                   seed: int = 0, base: dict | None = None) -> dict:
    """A run's plain config: the shared base with this variant's settings on top."""
    merged = {**BASE, **(base or {}), **settings}
    if merged["lr"] is None and merged["optimizer"] == "sgd":
        merged["lr"] = SGD_LR
    RunConfig(epochs=merged["epochs"], batch=merged["batch"], l2=merged["l2"]).validate()
    return {"label": label, "settings": settings, "spec": spec, "data": data,
            "data_options": dict(data_options or {}), "seed": seed, **merged}


def train_variant(config: dict) -> dict:
    """Train one variant; its history, test score, time and every dense layer's weights."""
    data = load_dataset(config["data"], **config["data_options"])
    model = build_model(config["spec"], data, loss=config["loss"], init=config["init"], seed=config["seed"],
                        hidden_activation=config["activation"])
    train = RunConfig(epochs=config["epochs"], batch=config["batch"], optimizer=config["optimizer"],
                        lr=config["lr"], momentum=config["momentum"], l2=config["l2"], clip=config["clip"],
                        seed=config["seed"])
    start = time.perf_counter()
    trainer = Trainer(model, train)
    history = trainer.fit(data.x_train, data.y_train)
    seconds = time.perf_counter() - start
    test = model.evaluate(data.x_test, data.y_test)
    dense = [layer for layer in model.layers if layer.kind == "dense"]
    return {"label": config["label"], "settings": config["settings"], "spec": model.spec,
            "input_shape": list(model.input_shape), "lr": trainer.optimizer.lr,
            "history": history_dicts(history), "test_accuracy": test.get("accuracy"), "test_loss": test["loss"],
            "seconds": seconds, "layers": [layer.index for layer in dense],
            "weights": [np.array(layer.W) for layer in dense]}


@dataclass
class WeightDifference:
    layer: int
    norm_a: float              # Frobenius norm of W in run a
    norm_b: float
    std_a: float
    std_b: float
    edges: np.ndarray          # (bins + 1,) shared by both histograms, so their bars line up
    counts_a: np.ndarray
    counts_b: np.ndarray


def weight_differences(a: dict, b: dict, bins: int = 24) -> list[WeightDifference]:
    """Per dense layer: the two runs' weight norms and histograms on a common range."""
    if a["layers"] != b["layers"]:
        raise PynnError("The two runs have different layers, so their weights cannot be compared.")
    result = []
    for index, wa, wb in zip(a["layers"], a["weights"], b["weights"]):
        wa, wb = np.asarray(wa, np.float64).ravel(), np.asarray(wb, np.float64).ravel()
        edges = np.histogram_bin_edges(np.concatenate([wa, wb]), bins=bins)
        result.append(WeightDifference(index, float(np.linalg.norm(wa)), float(np.linalg.norm(wb)),
                                       float(wa.std()), float(wb.std()), edges,
                                       np.histogram(wa, edges)[0], np.histogram(wb, edges)[0]))
    return result
