"""Every layer's output for a batch, and running the rest of a network from a middle layer: the layers' own
forward pass, in inference mode, on a frozen copy of the weights (a trainer may be running in another thread,
and is not held up). Also which layers have units to look at: dense layers and LSTMs, whose hidden states are
hidden units too."""
from __future__ import annotations

import numpy as np

from pynn.errors import PynnError
from pynn.layers import Dense, Layer
from pynn.model import Sequential

BATCH = 2048  # large enough for the core's blocked matmul, small enough to keep memory flat
UNIT_KINDS = ("dense", "lstm")


def dense_layers(model: Sequential) -> list[Dense]:
    """The model's dense layers, input side first."""
    return [layer for layer in model.layers if isinstance(layer, Dense)]


def unit_layers(model: Sequential) -> list[Layer]:
    """The layers made of units, input side first: dense layers and LSTMs (an LSTM's units are its hidden
    states h). The last is the output layer."""
    return [layer for layer in model.layers if layer.kind in UNIT_KINDS]


def hidden_layers(model: Sequential) -> list[Layer]:
    """The unit layers below the output layer."""
    return unit_layers(model)[:-1]


def _choices(layers) -> str:
    return ", ".join(str(l.index) for l in layers)


def dense_layer(model: Sequential, index: int) -> Dense:
    """The dense layer numbered `index` (its W[index], as in the course: dropout takes no number), or a
    PynnError naming the ones there are."""
    layer = model.layer_numbered(index)
    if not isinstance(layer, Dense) or layer.per_step:
        choices = [l for l in dense_layers(model) if not l.per_step]
        if not choices:
            raise PynnError(f"Layer {index} is {_kind(model, index)}, and this model has no dense layer over "
                            "whole samples to choose instead.")
        raise PynnError(f"Layer {index} is {_kind(model, index)}, not a dense layer over whole samples; choose "
                        f"one of {_choices(choices)}.")
    return layer


def unit_layer(model: Sequential, index: int, layers: list[Layer] | None = None) -> Layer:
    """The layer numbered `index` (see dense_layer) among `layers` (default: every unit layer), or a PynnError
    naming the ones there are."""
    layers = unit_layers(model) if layers is None else layers
    layer = model.layer_numbered(index)
    if layer is None or layer not in layers:
        raise PynnError(f"Layer {index} is {_kind(model, index)}; choose one of {_choices(layers)}.")
    return layer


def _kind(model: Sequential, index: int) -> str:
    """'a dense layer', 'an LSTM', ... or 'not in the model', for messages."""
    layer = model.layer_numbered(index)
    if layer is None:
        numbered = len(model.param_layers)
        kinds = sorted({l.kind for l in model.layers if l.index is None})  # dropout, a conv model's pool
        unnumbered = (f" ({' and '.join(kinds)}, having no weights, take{'s' if len(kinds) == 1 else ''} no number)"
                      if kinds else "")
        return f"not in the model, whose layers are numbered 1-{numbered} as in W[1]-W[{numbered}]{unnumbered}"
    if layer.kind == "lstm":
        return "an LSTM"
    if layer.kind == "dense" and getattr(layer, "per_step", False):
        return "a dense layer applied at every step"
    return f"a {layer.kind} layer"


def layer_outputs(model: Sequential, x: np.ndarray) -> list[np.ndarray]:
    """Each layer's output for x (m, *input_shape), aligned with model.layers (a layer's is at its position - 1).
    The output layer's entry is its raw output (the logits under a fused softmax or sigmoid loss);
    model.loss.predictions turns it into probabilities."""
    x = np.asarray(x, dtype=np.float32)
    model = model.frozen()
    parts: list[list[np.ndarray]] = [[] for _ in model.layers]
    for start in range(0, len(x), BATCH):
        out = np.ascontiguousarray(x[start:start + BATCH])
        for i, layer in enumerate(model.layers):
            out = layer.forward(out, False)[0]
            parts[i].append(out)
    if not len(x):
        return [np.zeros((0, *layer.output_shape), np.float32) for layer in model.layers]
    return [np.concatenate(p) for p in parts]


def layer_input(model: Sequential, x: np.ndarray, position: int) -> np.ndarray:
    """What the layer at `position` in model.layers (1-based, dropout counted: layer.position) reads for x:
    the output of the layer below it, or x itself."""
    return np.asarray(x, np.float32) if position == 1 else layer_outputs(model, x)[position - 2]


def forward_from(model: Sequential, position: int, h: np.ndarray) -> np.ndarray:
    """The model's raw output when the layer at `position` (layer.position) is made to output h: the layers
    after it run as usual."""
    parts = []
    model = model.frozen()
    for start in range(0, len(h), BATCH):
        out = np.ascontiguousarray(h[start:start + BATCH], dtype=np.float32)
        for layer in model.layers[position:]:
            out = layer.forward(out, False)[0]
        parts.append(out)
    return np.concatenate(parts) if parts else np.zeros((0, *model.output_shape), np.float32)


def predicted_classes(model: Sequential, raw_output: np.ndarray) -> np.ndarray:
    """Class indices from the output layer's raw output: the most probable class, or for a single output
    unit, 1 where its probability passes one half. A per-step output (m, T, classes) gives (m, T)."""
    probs = model.loss.predictions(raw_output)
    probs = probs.reshape(*probs.shape[:max(probs.ndim - 1, 1)], -1)
    if probs.shape[-1] == 1:
        return (probs[..., 0] > 0.5).astype(np.int64)
    return probs.argmax(axis=-1)


def per_step_output(model: Sequential) -> bool:
    """Whether the model's output is one per step (a character model) rather than one per sample."""
    return len(model.output_shape) > 1
