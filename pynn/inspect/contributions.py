"""Which hidden units an output neuron relies on — the "Lego blocks" an output digit is built from.

Two measures: the raw weight from each hidden unit, and that weight times the unit's mean activation on the
data, which discounts units that are rarely on. The class template projects the output's weights back onto
the input through the layers below (linearly, so it is an approximation)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pynn.errors import PynnError
from pynn.inspect.activations import dense_layers, layer_outputs
from pynn.inspect.weights import back_projection, check_units, input_layout
from pynn.model import Sequential


@dataclass
class Reliance:
    output_layer: int          # 1-based layer positions in the model
    hidden_layer: int
    output: int                # the output neuron (class index)
    weights: np.ndarray        # (n_hidden,) the output neuron's weights from the hidden layer
    mean_activation: np.ndarray  # (n_hidden,) each hidden unit's mean output on the data
    weighted: np.ndarray       # weights * mean_activation: the unit's average push on this output
    top_positive: list[int]    # by raw weight, strongest first; only units with a positive weight
    top_negative: list[int]    # by raw weight, most negative first
    top_positive_weighted: list[int]
    top_negative_weighted: list[int]
    template: np.ndarray       # (H, W) the output's weights back-projected onto the input


def top_contributors(values: np.ndarray, k: int) -> tuple[list[int], list[int]]:
    """The k largest positive and the k most negative entries' indices, strongest first. A sign that does
    not occur gives fewer (or no) indices rather than naming units that push the other way."""
    order = np.argsort(-values, kind="stable")
    positive = [int(i) for i in order if values[i] > 0][:k]
    negative = [int(i) for i in order[::-1] if values[i] < 0][:k]
    return positive, negative


def output_reliance(model: Sequential, output: int, x: np.ndarray, top: int = 3,
                    sample_shape: tuple[int, ...] | None = None) -> Reliance:
    """How output neuron `output` of the last layer depends on the hidden layer just below it, measured on
    the samples x; the template is laid out like sample_shape (see input_layout)."""
    dense = dense_layers(model)
    if len(dense) < 2:
        raise PynnError("This model has no hidden layer: its output reads the input directly, so its weight "
                        "maps (pynn weights) are the whole story.")
    out_layer, hidden = dense[-1], dense[-2]
    (output,) = check_units(out_layer, [output], "output")
    with model.lock:
        weights = np.array(out_layer.W[output], copy=True)
    if len(x):
        mean_activation = layer_outputs(model, x)[hidden.index - 1].reshape(len(x), -1).mean(axis=0)
    else:
        mean_activation = np.zeros_like(weights)
    weighted = weights * mean_activation
    pos, neg = top_contributors(weights, top)
    pos_w, neg_w = top_contributors(weighted, top)
    layout = input_layout(model.input_shape, sample_shape)
    template = back_projection(model, out_layer.index)[output].reshape(layout)
    return Reliance(out_layer.index, hidden.index, output, weights, mean_activation, weighted, pos, neg,
                    pos_w, neg_w, template)
