"""One sample's journey through the network: its input, every layer's activations, the output
probabilities, and which units of the last hidden layer pushed toward the predicted and the true class."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pynn.errors import PynnError
from pynn.inspect.activations import dense_layers, layer_outputs, predicted_classes
from pynn.inspect.contributions import top_contributors
from pynn.model import Sequential


@dataclass
class LayerActivation:
    layer: int                 # 1-based position in the model
    name: str                  # e.g. "dense 30 sigmoid"
    activation: str
    values: np.ndarray         # this layer's output for the sample, flattened


@dataclass
class Journey:
    index: int
    x: np.ndarray              # the sample as the model sees it (sample_shape)
    layers: list[LayerActivation]  # hidden layers only; the output is in probabilities
    probabilities: np.ndarray  # (n_outputs,)
    predicted: int
    true: int | None
    hidden_layer: int          # the layer whose units the pushes below are measured on
    push_predicted: np.ndarray  # (n_hidden,) activation * weight to the predicted class
    push_true: np.ndarray | None
    top_predicted: list[int]   # units pushing hardest toward the predicted class
    top_true: list[int]        # ... and toward the true class


def sample_journey(model: Sequential, x: np.ndarray, y: np.ndarray | None, index: int, top: int = 3) -> Journey:
    """Follow sample `index` of x (with labels y, if any) through the model."""
    if not 0 <= index < len(x):
        raise PynnError(f"There is no sample {index}; the data has {len(x)} (0-{len(x) - 1}).")
    sample = x[index:index + 1]
    outputs = layer_outputs(model, sample)
    dense = dense_layers(model)
    probabilities = model.loss.predictions(outputs[-1]).reshape(-1)
    predicted = int(predicted_classes(model, outputs[-1])[0])
    true = int(y[index]) if y is not None and y.ndim == 1 else None
    hidden = [LayerActivation(layer.index, f"{layer.kind} {layer.units} {layer.activation}", layer.activation,
                              outputs[layer.index - 1].reshape(-1)) for layer in dense[:-1]]
    if not hidden:
        raise PynnError("This model has no hidden layer, so there is no journey to show between input and "
                        "output.")
    last = hidden[-1]
    with model.lock:
        W = np.array(dense[-1].W, copy=True)
    push_pred = push_toward(last.values, W, predicted)
    push_true = push_toward(last.values, W, true) if true is not None else None
    return Journey(index, np.array(x[index]), hidden, probabilities, predicted, true, last.layer, push_pred,
                   push_true, top_contributors(push_pred, top)[0],
                   top_contributors(push_true, top)[0] if push_true is not None else [])


def push_toward(hidden: np.ndarray, W: np.ndarray, cls: int) -> np.ndarray:
    """Each hidden unit's activation times its weight toward class cls; with a single output unit, class 1
    is that unit's positive side and class 0 its negative side."""
    if W.shape[0] == 1:
        return hidden * W[0] * (1.0 if cls == 1 else -1.0)
    return hidden * W[cls]


def misclassified(model: Sequential, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the samples the model gets wrong, in order."""
    if y.ndim != 1:
        raise PynnError("--misclassified needs class labels; this data's targets are not classes.")
    return np.flatnonzero(predicted_classes(model, layer_outputs(model, x)[-1]) != y)
