"""Unit health: units that never fire (dead ReLUs) or sit in a sigmoid's flat tails, gradient norms through
training (do they vanish toward the input or explode?), and the spread of each layer's weights."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pynn.inspect.activations import dense_layers, layer_outputs
from pynn.model import Sequential

# A sigmoid output within this distance of 0 or 1 (tanh: of -1 or 1) has a slope below ~0.01: the unit's
# incoming weights barely learn while it sits there.
TAIL = 0.01
# A unit counts as saturated when it sits in a tail for at least this share of the samples.
SATURATED_SHARE = 0.95
# The input-side layer's gradient norm at this fraction of the largest layer's or less: vanishing. Healthy
# sigmoid and ReLU nets on digits sit near 0.5-1; a stalled 4-hidden-layer sigmoid stack near 0.01.
VANISHING_RATIO = 0.05
# Gradient norms that grow this many times from the first epoch to the last: exploding.
EXPLODING_GROWTH = 100.0


@dataclass
class LayerHealth:
    layer: int
    activation: str
    units: int
    dead: list[int]            # ReLU-like units whose output is never above zero on the data
    saturated: list[int]       # sigmoid/tanh units in a flat tail on >= SATURATED_SHARE of the samples
    active_share: np.ndarray   # (units,) share of samples on which each unit is above zero (ReLU) or
                               # outside the tails (sigmoid, tanh)
    mean: np.ndarray           # (units,) mean output


@dataclass
class GradientTrend:
    layers: list[int]          # the layers the columns belong to
    norms: np.ndarray          # (epochs, layers) mean gradient norm per epoch, input side first
    verdict: str               # "vanishing", "exploding" or "healthy"
    detail: str                # the numbers behind the verdict, in words


@dataclass
class WeightHistogram:
    layer: int
    counts: np.ndarray         # (bins,)
    edges: np.ndarray          # (bins + 1,)
    mean: float
    std: float
    norm: float                # Frobenius norm of W


def unit_health(model: Sequential, x: np.ndarray) -> list[LayerHealth]:
    """Health of each hidden dense layer's units on the samples x."""
    outputs = layer_outputs(model, x)
    report = []
    for layer in dense_layers(model)[:-1]:
        a = outputs[layer.index - 1].reshape(len(x), -1)
        if layer.activation in ("relu", "leaky_relu"):
            alive = a > 0
            dead = [int(u) for u in np.flatnonzero(~alive.any(axis=0))]
            report.append(LayerHealth(layer.index, layer.activation, layer.units, dead, [], alive.mean(axis=0),
                                      a.mean(axis=0)))
        elif layer.activation in ("sigmoid", "tanh"):
            low = 0.0 if layer.activation == "sigmoid" else -1.0
            in_tail = (a < low + TAIL) | (a > 1.0 - TAIL)
            saturated = [int(u) for u in np.flatnonzero(in_tail.mean(axis=0) >= SATURATED_SHARE)]
            report.append(LayerHealth(layer.index, layer.activation, layer.units, [], saturated,
                                      1.0 - in_tail.mean(axis=0), a.mean(axis=0)))
        else:  # identity units cannot die or saturate
            report.append(LayerHealth(layer.index, layer.activation, layer.units, [], [],
                                      np.ones(layer.units), a.mean(axis=0)))
    return report


def gradient_trend(history: list[dict], layers: list[int]) -> GradientTrend | None:
    """What the per-layer gradient norms saved in a training history say, or None if none were saved."""
    rows = [h.get("grad_norms") for h in history if h.get("grad_norms")]
    if not rows:
        return None
    norms = np.array(rows, dtype=np.float64)
    last = norms[-1]
    tiny = np.finfo(np.float32).tiny
    ratio = last[0] / max(last.max(), tiny)
    growth = norms.sum(axis=1)[-1] / max(norms.sum(axis=1)[0], tiny)
    when = " in the last epoch" if len(norms) > 1 else ""
    if not np.isfinite(norms).all():
        verdict, detail = "exploding", "the gradient norms became infinite or NaN"
    elif growth >= EXPLODING_GROWTH:
        verdict, detail = "exploding", f"the gradient norms grew {growth:,.0f}x from the first epoch to the last"
    elif len(last) > 1 and ratio <= VANISHING_RATIO:
        verdict = "vanishing"
        detail = (f"layer {layers[0]}'s gradient was {1 / max(ratio, tiny):,.0f}x smaller than layer "
                  f"{layers[int(last.argmax())]}'s{when}")
    else:
        verdict = "healthy"
        detail = f"layer {layers[0]}'s gradient was {ratio:.2g}x the largest layer's{when}"
        if len(norms) > 1:
            detail += f", and the norms changed {growth:.2g}x from the first epoch"
    return GradientTrend(layers, norms, verdict, detail)


def weight_histograms(model: Sequential, bins: int = 24) -> list[WeightHistogram]:
    """A histogram of each dense layer's weights (biases left out), on the layer's own range."""
    result = []
    with model.lock:
        weights = [(layer.index, np.array(layer.W, np.float64).ravel()) for layer in dense_layers(model)]
    for index, w in weights:
        counts, edges = np.histogram(w, bins=bins)
        result.append(WeightHistogram(index, counts, edges, float(w.mean()), float(w.std()),
                                      float(np.linalg.norm(w))))
    return result
