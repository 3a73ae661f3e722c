"""Incoming weights drawn the way the input looks: each neuron's weights as a map shaped like one sample, and
for deeper layers the back-projection of its weights onto the input, which is only an approximation."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pynn.errors import PynnError
from pynn.inspect.activations import dense_layer, dense_layers
from pynn.model import Sequential
from pynn.words import plural


@dataclass
class WeightMaps:
    layer: int               # 1-based position of the layer in the model
    neurons: list[int]
    incoming: np.ndarray     # (k, n_in): each neuron's weights from the layer below it
    maps: np.ndarray         # (k, H, W): the same laid out like the input, or back-projected onto it
    back_projected: bool     # maps are W_l ... W_1: activations and biases in between are ignored


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
    return not any(l.param_specs() for l in model.layers[:layer.index - 1])


def back_projection(model: Sequential, index: int) -> np.ndarray:
    """(n_index, n_input): the product of the weight matrices from the first layer up to layer `index`.
    It is what each neuron would respond to if every layer below were linear, so it shows the input
    pattern a deep neuron favours only roughly."""
    target = dense_layer(model, index)
    chain = [layer for layer in dense_layers(model) if layer.index <= index]
    if not reads_the_input(model, chain[0]):
        raise PynnError(f"Layer {index} sits above a {model.layers[0].kind} layer, whose weights cannot be "
                        "projected back onto the input.")
    with model.lock:
        product = np.array(target.W, dtype=np.float64)
        for layer in reversed(chain[:-1]):
            product = product @ layer.W
    return product.astype(np.float32)


def weight_maps(model: Sequential, index: int | None = None, neurons: list[int] | None = None,
                sample_shape: tuple[int, ...] | None = None) -> WeightMaps:
    """The incoming weights of some neurons of layer `index` (default: the first dense layer) as maps laid
    out like a sample (see input_layout)."""
    if not dense_layers(model):
        raise PynnError("This model has no dense layer to draw.")
    layer = dense_layer(model, dense_layers(model)[0].index if index is None else index)
    neurons = check_units(layer, neurons)
    with model.lock:
        incoming = np.array(layer.W[neurons], copy=True)
    height, width = input_layout(model.input_shape, sample_shape)
    if reads_the_input(model, layer):
        return WeightMaps(layer.index, neurons, incoming, incoming.reshape(len(neurons), height, width), False)
    maps = back_projection(model, layer.index)[neurons].reshape(len(neurons), height, width)
    return WeightMaps(layer.index, neurons, incoming, maps, True)
