"""Which hidden units an output neuron relies on — the "Lego blocks" an output digit is built from.

Two measures: the raw weight from each hidden unit, and that weight times the unit's mean activation on the
data, which discounts units that are rarely on. The class template projects the output's weights back onto
the input through the layers below (linearly, so it is an approximation). The hidden layer may be an LSTM:
its units are its hidden states h, as the output layer reads them (the last step's, or every step's for
an output at every step)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pynn.errors import PynnError
from pynn.inspect.activations import hidden_layers, layer_outputs, unit_layers
from pynn.inspect.weights import back_projection, check_units, input_layout, why_no_back_projection
from pynn.model import Sequential


@dataclass
class Reliance:
    output_layer: int          # 1-based layer positions in the model
    hidden_layer: int
    output: int                # the output neuron (class index)
    weights: np.ndarray        # (n_hidden,) the output neuron's weights from the hidden layer
    mean_activation: np.ndarray  # (n_hidden,) each hidden unit's mean output on the data (over the samples, and
                                 # over the steps when the output layer reads every step)
    weighted: np.ndarray       # weights * mean_activation: the unit's average push on this output
    top_positive: list[int]    # by raw weight, strongest first; only units with a positive weight
    top_negative: list[int]    # by raw weight, most negative first
    top_positive_weighted: list[int]
    top_negative_weighted: list[int]
    template: np.ndarray | None  # (H, W) the output's weights back-projected onto the input; None below
    no_template: str = ""        # why there is none (an LSTM below), in a sentence


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
    model = model.frozen()
    hidden = hidden_layers(model)
    if not hidden:
        raise PynnError("This model has no hidden layer: its output reads the input directly, so its weight "
                        "maps (pynn weights) are the whole story.")
    out_layer, hidden = unit_layers(model)[-1], hidden[-1]
    (output,) = check_units(out_layer, [output], "output")
    weights = np.array(out_layer.W[output], copy=True)
    if len(x):
        mean_activation = layer_outputs(model, x)[hidden.position - 1].reshape(-1, hidden.units).mean(axis=0)
    else:
        mean_activation = np.zeros_like(weights)
    weighted = weights * mean_activation
    pos, neg = top_contributors(weights, top)
    pos_w, neg_w = top_contributors(weighted, top)
    no_template = why_no_back_projection(model, out_layer)
    template = None if no_template else \
        back_projection(model, out_layer.index)[output].reshape(input_layout(model.input_shape, sample_shape))
    return Reliance(out_layer.index, hidden.index, output, weights, mean_activation, weighted, pos, neg,
                    pos_w, neg_w, template, no_template)
