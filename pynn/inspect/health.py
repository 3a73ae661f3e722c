"""Unit health: units that never fire (dead ReLUs) or sit in a sigmoid's flat tails, an LSTM's gates stuck
shut or open, gradient norms through training (do they vanish toward the input or explode?), and the spread of
each layer's weights."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pynn.inspect.activations import dense_layers, layer_input, layer_outputs
from pynn.lstm import GATES
from pynn.model import Sequential

# A sigmoid output within this distance of 0 or 1 (tanh: of -1 or 1) has a slope below ~0.01: the unit's
# incoming weights barely learn while it sits there.
TAIL = 0.01
# A unit counts as saturated when it sits in a tail for at least this share of the samples.
SATURATED_SHARE = 0.95
SEQUENCE_BATCH = 256  # sequences per LSTM forward when reading gates: they take B x T x 4U floats
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
class GateHealth:
    layer: int                 # an LSTM layer
    gate: str                  # input, forget, candidate or output
    activation: str            # sigmoid for the three gates, tanh for the candidate
    units: int
    saturated: list[int]       # units whose gate sits in a flat tail on >= SATURATED_SHARE of the steps
    low_share: np.ndarray      # (units,) share of (sample, step) pairs in the low tail (a gate shut, -1)
    high_share: np.ndarray     # (units,) ... in the high tail (a gate wide open, +1)
    mean: np.ndarray           # (units,) mean gate value

    @property
    def active_share(self) -> np.ndarray:
        """(units,) share of the steps on which the gate is outside its tails, where it still learns."""
        return 1.0 - self.low_share - self.high_share


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
    """Health of each hidden dense layer's units on the samples x (on every step, for a layer applied at
    every step). An LSTM's units are in gate_health."""
    model = model.frozen()
    outputs = layer_outputs(model, x)
    report = []
    for layer in dense_layers(model)[:-1]:
        a = outputs[layer.position - 1].reshape(-1, layer.units)
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


def gate_health(model: Sequential, x: np.ndarray) -> list[GateHealth]:
    """For every LSTM layer, each gate's saturation on the samples x, over every step: a unit whose input
    gate is always shut takes nothing in, one whose forget gate is always open keeps everything, and a gate
    in a flat tail barely learns."""
    model = model.frozen()
    report = []
    for layer in (l for l in model.layers if l.kind == "lstm"):
        below = layer_input(model, x, layer.position)
        U = layer.units
        low, high, total = np.zeros(4 * U), np.zeros(4 * U), np.zeros(4 * U)
        floor = np.zeros(4 * U, np.float32)
        floor[2 * U:3 * U] = -1.0                                      # the candidate is a tanh
        for start in range(0, len(below), SEQUENCE_BATCH):
            gates = layer.forward(below[start:start + SEQUENCE_BATCH], False)[1].gates.reshape(-1, 4 * U)
            low += (gates < floor + TAIL).sum(axis=0)
            high += (gates > 1.0 - TAIL).sum(axis=0)
            total += gates.sum(axis=0)
        steps = max(len(below) * layer.steps, 1)
        for k, gate in enumerate(GATES):
            part = slice(k * U, (k + 1) * U)
            in_tail = (low[part] + high[part]) / steps
            report.append(GateHealth(layer.index, gate, "tanh" if gate == "candidate" else "sigmoid", U,
                                     [int(u) for u in np.flatnonzero(in_tail >= SATURATED_SHARE)],
                                     low[part] / steps, high[part] / steps, total[part] / steps))
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
    """A histogram of each dense and LSTM layer's weights (biases left out; an LSTM's Wx and Wh together), on
    the layer's own range."""
    result = []
    model = model.frozen()
    weights = [(layer.index, np.concatenate([np.array(w, np.float64).ravel() for w in
                                             ((layer.Wx, layer.Wh) if layer.kind == "lstm" else (layer.W,))]))
               for layer in model.layers if layer.kind in ("dense", "lstm")]
    for index, w in weights:
        counts, edges = np.histogram(w, bins=bins)
        result.append(WeightHistogram(index, counts, edges, float(w.mean()), float(w.std()),
                                      float(np.linalg.norm(w))))
    return result
