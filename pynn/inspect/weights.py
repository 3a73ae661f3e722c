"""Incoming weights drawn the way the input looks: each neuron's weights as a map shaped like one sample, and
for deeper layers the back-projection of its weights onto the input, which is only an approximation. An
LSTM's units have one weight set per gate, shared by every step: they are read per gate instead."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pynn.errors import PynnError
from pynn.inspect.activations import dense_layer, dense_layers, unit_layer
from pynn.lstm import GATES
from pynn.model import Sequential
from pynn.words import plural


@dataclass
class WeightMaps:
    layer: int               # the layer's number l, as in W[l] (dropout takes none)
    neurons: list[int]
    incoming: np.ndarray     # (k, n_in): each neuron's weights from the layer below it
    maps: np.ndarray | None  # (k, H, W): the same laid out like the input, or back-projected onto it; None
                             # when an LSTM below has no single weight matrix to project through
    back_projected: bool     # maps are W_l ... W_1: activations and biases in between are ignored
    no_map: str = ""         # why maps is None, in a sentence


@dataclass
class LSTMWeights:
    layer: int
    units: list[int]
    gates: tuple[str, ...]   # the order of the first axis below: input, forget, candidate, output
    input: np.ndarray        # (4, k, n_in): each unit's weights from the features of one step, per gate
    recurrent: np.ndarray    # (4, k, U): ... from the layer's own hidden state at the step before
    bias: np.ndarray         # (4, k)


def map_shape(input_shape: tuple[int, ...]) -> tuple[int, int]:
    """How one sample is laid out on screen: images as they are, other inputs as a one-row strip."""
    if len(input_shape) == 1:
        return 1, int(input_shape[0])
    return int(np.prod(input_shape[:-1])), int(input_shape[-1])


def input_layout(input_shape: tuple[int, ...], sample_shape: tuple[int, ...] | None = None) -> tuple[int, int]:
    """The (H, W) to draw input-sized maps in: the data's sample shape when given and the same size (a model
    built as 784-30-10 still reads 28x28 digits), else the model's input shape."""
    if sample_shape is not None and int(np.prod(sample_shape)) == int(np.prod(input_shape)):
        return map_shape(tuple(sample_shape))
    return map_shape(tuple(input_shape))


def check_units(layer, units, what: str = "neuron") -> list[int]:
    """The given unit indices, or a PynnError saying which exist."""
    units = list(range(layer.units)) if units is None else [int(u) for u in units]
    bad = [u for u in units if not 0 <= u < layer.units]
    if bad:
        raise PynnError(f"Layer {layer.index} has {plural(layer.units, what)} (0-{layer.units - 1}); there is no "
                        f"{what} {bad[0]}.")
    return units


def reads_the_input(model: Sequential, layer) -> bool:
    """True when nothing with parameters (an LSTM, another dense layer) sits between the input and layer."""
    return not any(l.param_specs() for l in model.layers[:layer.position - 1])


def why_no_back_projection(model: Sequential, layer) -> str:
    """Why layer's weights cannot be projected back onto the input, in a sentence, or "" when they can."""
    below = next((l for l in model.layers[:layer.position - 1] if l.param_specs() and l.kind != "dense"), None)
    if below is None:
        return ""
    if below.kind == "conv":
        return (f"Layer {layer.index} sits above conv layer {below.index}, whose filters slide over the image: "
                "there is no single weight matrix to project back onto the input (pynn "
                f"weights --layer {below.index} draws the filters).")
    return (f"Layer {layer.index} sits above layer {below.index} ({below.kind.upper()}), whose units read the "
            "input through four gates at every step: there is no single weight matrix to project back onto the "
            "input.")


def back_projection(model: Sequential, index: int) -> np.ndarray:
    """(n_index, n_input): the product W[index]·…·W[1] of the weight matrices from the first layer up to
    layer `index`. It is what each neuron would respond to if every layer below were linear, so it shows
    the input pattern a deep neuron favours only roughly."""
    model = model.frozen()
    target = dense_layer(model, index)
    chain = [layer for layer in dense_layers(model) if layer.index <= index]
    reason = why_no_back_projection(model, target)
    if reason:
        raise PynnError(reason)
    product = np.array(target.W, dtype=np.float64)
    for layer in reversed(chain[:-1]):
        product = product @ layer.W
    return product.astype(np.float32)


def weight_maps(model: Sequential, index: int | None = None, neurons: list[int] | None = None,
                sample_shape: tuple[int, ...] | None = None) -> WeightMaps:
    """The incoming weights of some neurons of dense layer `index` (default: the first) as maps laid out like
    a sample (see input_layout); above an LSTM, only the incoming weights. sample_shape defaults to that of
    the data the model was built or trained on, so a 784-30-10 model's maps come out 28x28."""
    if sample_shape is None and model.data_summary:
        sample_shape = model.data_summary.get("sample_shape")
    model = model.frozen()
    dense = dense_layers(model)
    if not dense:
        raise PynnError("This model has no dense layer to draw.")
    if index is not None and getattr(model.layer_numbered(index), "kind", None) == "lstm":
        raise PynnError(f"Layer {index} is an LSTM, whose weights come per gate: read them with lstm_weights.")
    layer = unit_layer(model, dense[0].index if index is None else index, dense)
    neurons = check_units(layer, neurons)
    incoming = layer.W[neurons]  # a copy: the indexing makes one
    height, width = input_layout(model.input_shape, sample_shape)
    if reads_the_input(model, layer):
        return WeightMaps(layer.index, neurons, incoming, incoming.reshape(len(neurons), height, width), False)
    reason = why_no_back_projection(model, layer)
    if reason:
        return WeightMaps(layer.index, neurons, incoming, None, False, reason)
    maps = back_projection(model, layer.index)[neurons].reshape(len(neurons), height, width)
    return WeightMaps(layer.index, neurons, incoming, maps, True)


def lstm_weights(model: Sequential, index: int, units: list[int] | None = None) -> LSTMWeights:
    """Each of some units of LSTM layer `index` (default: all): its weights per gate from the step's input
    features and from the layer's previous hidden state, and its biases."""
    model = model.frozen()
    layer = unit_layer(model, index, [l for l in model.layers if l.kind == "lstm"])
    units = check_units(layer, units, "unit")
    U = layer.units
    blocks = [(layer.Wx[k * U:(k + 1) * U][units], layer.Wh[k * U:(k + 1) * U][units],
               layer.b[k * U:(k + 1) * U][units]) for k in range(len(GATES))]
    return LSTMWeights(layer.index, units, GATES, *(np.stack(part) for part in zip(*blocks)))
