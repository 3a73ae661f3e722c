"""Every layer's output for a batch, and running the rest of a network from a middle layer: the forward pass
the other inspections share, in inference mode and under the model's lock (a trainer may be running in
another thread)."""
from __future__ import annotations

import numpy as np

from pynn.errors import PynnError
from pynn.layers import Dense
from pynn.model import Sequential

BATCH = 2048  # large enough for the core's blocked matmul, small enough to keep memory flat


def dense_layers(model: Sequential) -> list[Dense]:
    """The model's dense layers, input side first."""
    return [layer for layer in model.layers if isinstance(layer, Dense)]


def dense_layer(model: Sequential, index: int) -> Dense:
    """The dense layer at 1-based position `index` in the model, or a PynnError naming the ones there are."""
    layer = model.layers[index - 1] if 1 <= index <= len(model.layers) else None
    if not isinstance(layer, Dense) or layer.per_step:
        choices = ", ".join(str(l.index) for l in dense_layers(model) if not l.per_step)
        raise PynnError(f"Layer {index} is not a dense layer of this model; choose one of {choices}.")
    return layer


def layer_outputs(model: Sequential, x: np.ndarray) -> list[np.ndarray]:
    """Each layer's output for x (m, *input_shape), aligned with model.layers. The output layer's entry is
    its raw output (the logits under a fused softmax or sigmoid loss); model.loss.predictions turns it into
    probabilities."""
    x = np.asarray(x, dtype=np.float32)
    parts: list[list[np.ndarray]] = [[] for _ in model.layers]
    with model.lock:
        for start in range(0, len(x), BATCH):
            out = np.ascontiguousarray(x[start:start + BATCH])
            for i, layer in enumerate(model.layers):
                out = layer.forward(out, False)
                parts[i].append(np.array(out, copy=True))  # a layer may reuse its buffer on the next call
    if not len(x):
        return [np.zeros((0, *layer.output_shape), np.float32) for layer in model.layers]
    return [np.concatenate(p) for p in parts]


def forward_from(model: Sequential, index: int, h: np.ndarray) -> np.ndarray:
    """The model's raw output when layer `index` (1-based) is made to output h (m, n_index): the layers
    after it run as usual."""
    parts = []
    with model.lock:
        for start in range(0, len(h), BATCH):
            out = np.ascontiguousarray(h[start:start + BATCH], dtype=np.float32)
            for layer in model.layers[index:]:
                out = layer.forward(out, False)
            parts.append(np.array(out, copy=True))
    return np.concatenate(parts) if parts else np.zeros((0, *model.output_shape), np.float32)


def predicted_classes(model: Sequential, raw_output: np.ndarray) -> np.ndarray:
    """Class indices from the output layer's raw output: the most probable class, or for a single output
    unit, 1 where its probability passes one half."""
    probs = model.loss.predictions(raw_output).reshape(len(raw_output), -1)
    if probs.shape[1] == 1:
        return (probs[:, 0] > 0.5).astype(np.int64)
    return probs.argmax(axis=1)
