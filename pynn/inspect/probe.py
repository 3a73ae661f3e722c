"""One sample's journey through the network: its input, every hidden layer's activations, the output
(probabilities, or values for a regression), and which units of the last hidden layer pushed toward the
predicted and the true class. An LSTM's units are its hidden states: the journey holds h at the last step
and at every step. A model that predicts at every step (a character model) is followed to its last step."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pynn.data.dataset import CLASSIFICATION
from pynn.errors import PynnError
from pynn.inspect.activations import hidden_layers, layer_outputs, per_step_output, predicted_classes, unit_layers
from pynn.inspect.contributions import top_contributors
from pynn.lstm import gate_trace
from pynn.model import Sequential


@dataclass
class LayerActivation:
    layer: int                 # 1-based position in the model
    name: str                  # e.g. "dense 30 sigmoid", "lstm 128"
    activation: str            # the units' nonlinearity; "lstm" for an LSTM's h (between -1 and 1)
    values: np.ndarray         # this layer's output for the sample, flattened; at the last step for a sequence
    steps: np.ndarray | None = None  # (T, units) the output at every step, for a layer with one per step


@dataclass
class Journey:
    index: int
    x: np.ndarray              # the sample as the model sees it (sample_shape)
    layers: list[LayerActivation]  # hidden layers only
    classes: bool              # a classifier (probabilities, predicted, true) or a regression (values, target)
    step: int | None           # the step whose output is shown, for a model with an output per step
    probabilities: np.ndarray | None  # (n_classes,) for a classifier
    predicted: int | None
    true: int | None
    values: np.ndarray | None  # (n_outputs,) a regression's predicted values
    target: np.ndarray | None  # ... and the sample's true values, if known
    hidden_layer: int          # the layer whose units the pushes below are measured on
    push_predicted: np.ndarray  # (n_hidden,) activation * weight to the predicted class (a regression: to
                                # its first output value)
    push_true: np.ndarray | None
    top_predicted: list[int]   # units pushing hardest toward the predicted class (a regression: the value up)
    top_true: list[int]        # ... and toward the true class
    top_against: list[int]     # units pushing hardest against the predicted class (a regression: the value down)


def sample_journey(model: Sequential, x: np.ndarray, y: np.ndarray | None, index: int, top: int = 3) -> Journey:
    """Follow sample `index` of x (with targets y, if any) through the model."""
    if not 0 <= index < len(x):
        raise PynnError(f"There is no sample {index}; the data has {len(x)} (0-{len(x) - 1}).")
    model = model.frozen()
    hidden = hidden_layers(model)
    if not hidden:
        raise PynnError("This model has no hidden layer, so there is no journey to show between input and "
                        "output.")
    outputs = layer_outputs(model, x[index:index + 1])
    layers = [_activation(model, layer, x[index], outputs[layer.position - 1][0]) for layer in hidden]
    per_step = per_step_output(model)
    raw = outputs[-1][:, -1] if per_step else outputs[-1]          # (1, n_outputs)
    target = None if y is None else np.asarray(y[index])
    if per_step and target is not None:
        target = target[-1]
    classes = model.task == CLASSIFICATION
    probabilities = predicted = true = values = None
    if classes:
        probabilities = model.loss.predictions(raw).reshape(-1)
        predicted = int(predicted_classes(model, raw)[0])
        true = int(target) if target is not None and target.ndim == 0 else None
    else:
        values = model.loss.predictions(raw).reshape(-1)
    last = layers[-1]
    W = unit_layers(model)[-1].W
    # a regression's pushes are on its first output value, so a single output's weight keeps its sign
    push_pred = push_toward(last.values, W, predicted) if classes else last.values * W[0]
    push_true = push_toward(last.values, W, true) if true is not None else None
    up, down = top_contributors(push_pred, top)
    return Journey(index, np.array(x[index]), layers, classes, (outputs[-1].shape[1] - 1) if per_step else None,
                   probabilities, predicted, true, values, None if classes or target is None else target.reshape(-1),
                   last.layer, push_pred, push_true, up,
                   top_contributors(push_true, top)[0] if push_true is not None else [], down)


def _activation(model: Sequential, layer, sample: np.ndarray, out: np.ndarray) -> LayerActivation:
    """One hidden layer's output for the sample: out is (units,) or, with one per step, (T, units). An LSTM
    that hands on only its last h still has one at every step."""
    lstm = layer.kind == "lstm"
    name = f"lstm {layer.units}" if lstm else f"{layer.kind} {layer.units} {layer.activation}"
    if lstm:
        steps = gate_trace(model, sample, layer.index).hidden
    else:
        steps = np.array(out.reshape(-1, layer.units)) if out.ndim > 1 else None
    values = steps[-1] if steps is not None else out.reshape(-1)
    return LayerActivation(layer.index, name, "lstm" if lstm else layer.activation, values, steps)


def push_toward(hidden: np.ndarray, W: np.ndarray, cls: int) -> np.ndarray:
    """Each hidden unit's activation times its weight toward class cls; with a single output unit, class 1
    is that unit's positive side and class 0 its negative side."""
    if W.shape[0] == 1:
        return hidden * W[0] * (1.0 if cls == 1 else -1.0)
    return hidden * W[cls]


def misclassified(model: Sequential, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the samples the model gets wrong, in order (at the last step, for labels per step)."""
    if model.task != CLASSIFICATION or not np.issubdtype(y.dtype, np.integer) or y.ndim not in (1, 2):
        raise PynnError("--misclassified needs class labels; this data's targets are not classes.")
    predicted = predicted_classes(model, layer_outputs(model, x)[-1])
    if y.ndim == 2:
        predicted, y = predicted[:, -1], y[:, -1]
    return np.flatnonzero(predicted != y)
