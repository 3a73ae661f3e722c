"""What makes a unit fire: the examples in the data that excite it most and least, and activation
maximisation — the input that excites it most, found by gradient ascent through the model's own forward and
backward passes.
An LSTM unit (or any unit with an output per step) is judged by its output at the last step: the
sequences that leave it highest are the ones that drive it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pynn.errors import PynnError
from pynn.inspect.activations import dense_layer, dense_layers, layer_outputs, unit_layer
from pynn.inspect.weights import check_units
from pynn.model import Sequential


@dataclass
class Examples:
    layer: int
    unit: int
    most: np.ndarray           # sample indices, the most exciting first
    most_values: np.ndarray    # the unit's output on them
    least: np.ndarray          # sample indices, the least exciting first
    least_values: np.ndarray
    mean: float                # the unit's mean output over all samples
    last_step: bool            # the values are the unit's output at the last step of each sequence


@dataclass
class Maximised:
    layer: int
    unit: int
    x: np.ndarray              # the input found, shaped like `start`
    trace: np.ndarray          # (steps + 1,) the unit's output at the start and after every step
    l2: float


def exciting_examples(model: Sequential, index: int, unit: int, x: np.ndarray, k: int = 5) -> Examples:
    """The k samples of x on which unit `unit` of layer `index` (dense or LSTM) outputs the most, and the k
    it outputs the least; a unit with an output per step is read at the last step."""
    model = model.frozen()
    layer = unit_layer(model, index)
    (unit,) = check_units(layer, [unit], "unit")
    out = layer_outputs(model, x)[layer.position - 1].reshape(len(x), -1, layer.units)
    values = out[:, -1, unit]
    order = np.argsort(-values, kind="stable")
    k = min(k, len(x))
    least = order[::-1][:k]
    return Examples(index, unit, order[:k], values[order[:k]], least, values[least],
                    float(values.mean()) if len(x) else 0.0, out.shape[1] > 1 or layer.kind == "lstm")


def why_no_maximisation(model: Sequential, index: int) -> str:
    """Why activation maximisation cannot run for a unit of layer `index`, in a sentence, or ""."""
    layer = model.layer_numbered(index)
    if layer is None:
        return ""  # not a layer at all: the caller's lookup says so
    below = next((l for l in model.layers[:layer.position] if l.kind not in ("dense", "dropout")), None)
    if below is not None and below.kind in ("conv", "pool"):
        return ("Activation maximisation runs through dense layers only, and this one reads the feature maps of "
                "conv layers: the samples in the data that excite the unit most show what drives it (and "
                "`--layer 1` the image patches that excite a filter).")
    if below is not None:
        return (f"Activation maximisation runs through dense layers only, and layer {below.index} is an "
                f"{below.kind.upper()}: the sequences in the data that excite the unit most show what drives it.")
    if getattr(layer, "per_step", False):
        return (f"Activation maximisation runs on whole samples, and layer {index} works at every step: the "
                "sequences in the data that excite the unit most show what drives it.")
    return ""


def maximise_activation(model: Sequential, index: int, unit: int, start: np.ndarray, *, steps: int = 200,
                        step_size: float = 0.5, l2: float = 0.01,
                        bounds: tuple[float, float] | None = None) -> Maximised:
    """Gradient ascent on the input, from `start` (one sample), of  a(x) - l2 * ||x||^2  where a is the
    unit's output. The penalty keeps the input from growing without limit, which would only show that
    large inputs give large sums; `bounds` clips every value to the data's range after each step. For the
    output layer a is the pre-softmax score, since the softmax would make the classes compete."""
    reason = why_no_maximisation(model, index)
    if reason:
        raise PynnError(reason)
    model = model.frozen()  # the whole ascent on one snapshot: a trainer in another thread goes on meanwhile
    target = dense_layer(model, index)
    (unit,) = check_units(target, [unit], "unit")
    x = np.array(start, dtype=np.float32).reshape(1, -1)
    n_input = dense_layers(model)[0].n_in
    if x.shape[1] != n_input:
        raise PynnError(f"The starting input has {x.shape[1]} values; the model expects {n_input}.")
    trace = []
    for _ in range(steps):
        value, grad = _unit_gradient(model, target.position, x, unit)
        trace.append(value)
        x += step_size * (grad - 2.0 * l2 * x)
        if bounds is not None:
            np.clip(x, bounds[0], bounds[1], out=x)
    trace.append(_unit_gradient(model, target.position, x, unit)[0])
    return Maximised(index, unit, x.reshape(np.shape(start)), np.array(trace, np.float32), l2)


def _unit_gradient(model: Sequential, position: int, x: np.ndarray, unit: int) -> tuple[float, np.ndarray]:
    """The output of unit `unit` of the layer at `position` (layer.position) for x (1, n_input) and its
    gradient wrt x, by the model's forward and backward passes up to that layer (on a frozen model, whose
    gradients are scratch: only the gradient wrt the input matters here)."""
    out, caches = model.forward(x, upto=position)
    dout = np.zeros_like(out)
    dout[0, unit] = 1.0
    return float(out[0, unit]), model.backward(dout, caches, need_dx=True)
