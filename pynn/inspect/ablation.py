"""Ablation: silence hidden units (force their output to zero, as if they were cut out) and measure the
accuracy lost, overall and per class. A unit whose loss costs nothing carried nothing the rest did not."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pynn.errors import PynnError
from pynn.inspect.activations import dense_layer, dense_layers, forward_from, layer_outputs, predicted_classes
from pynn.inspect.weights import check_units
from pynn.model import Sequential


@dataclass
class Ablation:
    layer: int
    groups: list[list[int]]        # the units silenced together, one group per row below
    baseline: float                # accuracy with every unit working
    baseline_per_class: np.ndarray  # (classes,)
    accuracy: np.ndarray           # (groups,) accuracy with the group silenced
    per_class: np.ndarray          # (groups, classes)

    @property
    def drop(self) -> np.ndarray:
        """Accuracy lost per group (negative when silencing helped)."""
        return self.baseline - self.accuracy

    @property
    def drop_per_class(self) -> np.ndarray:
        return self.baseline_per_class[None, :] - self.per_class


def per_class_accuracy(pred: np.ndarray, y: np.ndarray, n_classes: int) -> np.ndarray:
    """Accuracy on the samples of each true class (NaN for a class with no samples)."""
    hits = np.bincount(y, weights=(pred == y).astype(np.float64), minlength=n_classes)
    totals = np.bincount(y, minlength=n_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, hits / np.maximum(totals, 1), np.nan)


def ablate(model: Sequential, x: np.ndarray, y: np.ndarray, index: int | None = None,
           groups: list[list[int]] | None = None) -> Ablation:
    """Silence each group of units of hidden layer `index` (default: the last hidden layer) in turn; the
    default groups are every unit on its own."""
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise PynnError("Ablation measures accuracy, so it needs data with class labels.")
    hidden = dense_layers(model)[:-1]
    if not hidden:
        raise PynnError("This model has no hidden layer to silence units in.")
    layer = dense_layer(model, hidden[-1].index if index is None else index)
    if layer not in hidden:
        raise PynnError(f"Layer {layer.index} is the output layer; choose a hidden layer "
                        f"({', '.join(str(l.index) for l in hidden)}).")
    groups = [[u] for u in range(layer.units)] if groups is None else [check_units(layer, g, "unit") for g in groups]
    n_classes = max(int(model.loss.n_outputs), int(y.max()) + 1 if len(y) else 1)
    outputs = layer_outputs(model, x)
    h = outputs[layer.index - 1]
    base_pred = predicted_classes(model, outputs[-1])
    accuracy, per_class = [], []
    for group in groups:
        silenced = h.copy()
        silenced[..., group] = 0.0
        pred = predicted_classes(model, forward_from(model, layer.index, silenced))
        accuracy.append(float((pred == y).mean()) if len(y) else 0.0)
        per_class.append(per_class_accuracy(pred, y, n_classes))
    return Ablation(layer.index, groups, float((base_pred == y).mean()) if len(y) else 0.0,
                    per_class_accuracy(base_pred, y, n_classes), np.array(accuracy),
                    np.array(per_class).reshape(len(groups), n_classes))
