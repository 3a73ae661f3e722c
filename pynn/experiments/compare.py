"""Two trainings side by side: one run description, trained twice with the same seed, each time with a few of
its fields changed (e.g. init=normal against init=lecun,l2=5). Each run is train_variant(config) -> result on
plain dicts, like the sweep's, so the pair can run in parallel processes or elsewhere."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import pynn.run
from pynn.errors import PynnError
from pynn.experiments.training import description, train
from pynn.run import ConfigError
from pynn.train import history_dicts

EXTRAS = ("label", "settings")  # what a run's config holds besides its description
SHARED_SEED = ("A variant cannot set the seed: both runs share it, so that they differ in their settings "
               "alone.")


def parse_variant(text: str) -> dict:
    """'init=lecun,l2=5' -> {'init': 'lecun', 'l2': 5.0}: any field of the run description but the seed, each
    read as the field's kind; one sentence for anything it cannot read."""
    names = pynn.run.field_names()
    settings = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        key = key.strip().lower().replace("-", "_")  # val-split as the flag writes it
        if sep and key == "seed":
            raise PynnError(SHARED_SEED)
        if not sep or key not in names:
            raise PynnError(f"Cannot read {part!r} in {text!r}; write key=value pairs joined by commas, with keys "
                            f"from {', '.join(n for n in names if n != 'seed')}.")
        try:
            settings[key] = pynn.run.parse_value(key, value.strip(), repr(text))
        except ConfigError as err:  # a key inside a variant is the field's name, not a flag: keep its words
            raise PynnError(str(err)) from None
    return settings


def variant_config(label: str, settings: dict, base: "pynn.run.RunConfig | None" = None) -> dict:
    """A run's plain config: the shared description (default: the house defaults) with this variant's
    settings on top, plus its label and settings."""
    if "seed" in settings:
        raise PynnError(SHARED_SEED)
    base = pynn.run.RunConfig() if base is None else base
    try:
        run = base.replace(**settings)
    except ConfigError as err:
        raise PynnError(f"In run {label}, {err}") from None
    return {**run.to_dict(), "label": label, "settings": settings}


def train_variant(config: dict) -> dict:
    """Train one variant; its history, test score, time, every dense layer's weights and all its parameters."""
    trained = train(description(config, EXTRAS))
    model, data = trained.model, trained.data
    test = model.evaluate(data.x_test, data.y_test)
    dense = [layer for layer in model.layers if layer.kind == "dense"]
    return {"label": config["label"], "settings": config["settings"], "spec": model.spec, "n_params": model.n_params,
            "input_shape": list(model.input_shape), "lr": trained.trainer.optimizer.lr,
            "history": history_dicts(trained.history), "test_accuracy": test.get("accuracy"),
            "test_loss": test["loss"], "seconds": trained.seconds, "layers": [layer.index for layer in dense],
            "weights": [np.array(layer.W) for layer in dense], "params": model.snapshot()}


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
