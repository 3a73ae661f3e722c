"""Ablation: silence hidden units (force their output to zero, as if they were cut out) and measure the
accuracy lost, overall and per class. A unit whose loss costs nothing carried nothing the rest did not.
An LSTM's units are silenced inside the recurrence: their h and c stay zero at every step."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pynn.errors import PynnError
from pynn.inspect.activations import (forward_from, hidden_layers, layer_outputs, per_step_output, predicted_classes,
                                      unit_layer)
from pynn.inspect.weights import check_units
from pynn.model import Sequential

SEQUENCE_BATCH = 256  # sequences per LSTM forward: its gates take B x T x 4U floats


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
    """Accuracy on the samples (or steps) of each true class (NaN for a class with none)."""
    pred, y = pred.ravel(), y.ravel()
    hits = np.bincount(y, weights=(pred == y).astype(np.float64), minlength=n_classes)
    totals = np.bincount(y, minlength=n_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, hits / np.maximum(totals, 1), np.nan)


def silencer(model: Sequential, layer, below: np.ndarray, output: np.ndarray) -> Callable[[list[int]], np.ndarray]:
    """A function from a group of units of hidden `layer` to the model's raw output with those units
    silenced, given what the layer reads (below) and what it outputs for the same samples. A dense unit's
    output is set to zero. An LSTM unit's h and c are held at zero at every step: its h also feeds every unit
    at the next step, so zeroing the layer's output afterwards would not silence it."""
    model = model.frozen()
    layer = model.layers[layer.position - 1]  # the frozen copy's, whose weights no trainer changes
    if layer.kind == "lstm":
        def run_silenced(units: list[int]) -> np.ndarray:
            quiet = layer.silenced(units)
            parts = [quiet.forward(below[start:start + SEQUENCE_BATCH], False)[0]
                     for start in range(0, len(below), SEQUENCE_BATCH)]
            h = np.concatenate(parts) if parts else np.zeros((0, *layer.output_shape), np.float32)
            return forward_from(model, layer.position, h)
        return run_silenced

    def zero_outputs(units: list[int]) -> np.ndarray:
        silenced = output.copy()
        silenced[..., units] = 0.0
        return forward_from(model, layer.position, silenced)
    return zero_outputs


def silencer_for(model: Sequential, x: np.ndarray, layer) -> tuple[list[np.ndarray], Callable]:
    """Every layer's output for x, and the silencer of `layer` on x, both on one snapshot of the weights."""
    model = model.frozen()
    outputs = layer_outputs(model, x)
    below = np.asarray(x, np.float32) if layer.position == 1 else outputs[layer.position - 2]
    return outputs, silencer(model, layer, below, outputs[layer.position - 1])


def silenced_output(model: Sequential, x: np.ndarray, index: int, units: list[int]) -> np.ndarray:
    """The model's raw output for x with `units` of hidden layer `index` silenced (see silencer)."""
    model = model.frozen()
    layer = _hidden_layer(model, index)
    return silencer_for(model, x, layer)[1](check_units(layer, units, "unit"))


def _hidden_layer(model: Sequential, index: int | None):
    hidden = hidden_layers(model)
    if not hidden:
        raise PynnError("This model has no hidden layer to silence units in: its output reads the input "
                        "directly.")
    layer = unit_layer(model, hidden[-1].index if index is None else index)
    if layer not in hidden:
        raise PynnError(f"Layer {layer.index} is the output layer; choose a hidden layer "
                        f"({', '.join(str(l.index) for l in hidden)}).")
    return layer


def ablate(model: Sequential, x: np.ndarray, y: np.ndarray, index: int | None = None,
           groups: list[list[int]] | None = None) -> Ablation:
    """Silence each group of units of hidden layer `index` (default: the last hidden layer; an LSTM's units
    count) in turn; the default groups are every unit on its own. Labels are one per sample, or one per step
    for a model that predicts at every step (a character model), whose accuracy counts every step."""
    per_step = per_step_output(model)
    if not np.issubdtype(y.dtype, np.integer):
        raise PynnError("Ablation measures accuracy, so it needs class labels; these targets are real values "
                        "(pynn probe and explain show how each unit pushes the predicted value).")
    if y.ndim != (2 if per_step else 1):
        raise PynnError(f"Ablation needs a class label per {'step' if per_step else 'sample'}, as the model "
                        f"predicts; these labels have shape {y.shape}.")
    model = model.frozen()
    layer = _hidden_layer(model, index)
    groups = [[u] for u in range(layer.units)] if groups is None else [check_units(layer, g, "unit") for g in groups]
    n_classes = max(int(model.loss.n_outputs), int(y.max()) + 1 if y.size else 1)
    outputs, silenced = silencer_for(model, x, layer)
    base_pred = predicted_classes(model, outputs[-1])
    accuracy, per_class = [], []
    for group in groups:
        pred = predicted_classes(model, silenced(group))
        accuracy.append(float((pred == y).mean()) if y.size else 0.0)
        per_class.append(per_class_accuracy(pred, y, n_classes))
    return Ablation(layer.index, groups, float((base_pred == y).mean()) if y.size else 0.0,
                    per_class_accuracy(base_pred, y, n_classes), np.array(accuracy),
                    np.array(per_class).reshape(len(groups), n_classes))
