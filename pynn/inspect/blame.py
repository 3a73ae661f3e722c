"""What decided a prediction: the gap between the logit of the predicted class and that of the true class (or,
for a sample the model gets right, the runner-up), split exactly over the units of the last hidden layer,
a_j·(w_pred,j − w_other,j), plus the bias difference; and the saliency of the input, the gradient of that gap
with respect to every input value, through the model's own forward and backward passes.

Logits are the output layer's pre-activations z = W a + b: the softmax (or sigmoid) only rescales them, so
the class with the larger z wins whatever the head does. An LSTM's units are its hidden states h at the last
step, and its saliency is a (steps x features) map; a model with an output per step is read at its last step."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pynn import core
from pynn.data.dataset import CLASSIFICATION
from pynn.errors import PynnError
from pynn.inspect.activations import hidden_layers, layer_outputs, per_step_output, predicted_classes
from pynn.inspect.contributions import top_contributors
from pynn.inspect.weights import WeightMaps, input_layout, weight_maps
from pynn.model import Sequential


@dataclass
class LogitGap:
    index: int                 # the sample
    predicted: int
    other: int                 # the class the prediction is compared with: the true one, or the runner-up
    other_is_true: bool        # False when the sample is right (or unlabelled) and other is the runner-up
    step: int | None           # the step read, for a model with an output per step
    logits: np.ndarray         # (n_outputs,) the output layer's pre-activations, from the model's own kernel
    gap: float                 # logit of predicted minus logit of other (a single output: its z, signed)
    hidden_layer: int          # 1-based layer whose units the gap is split over; 0 when the output reads the input
    activations: np.ndarray    # (n,) what the output layer reads: those units' outputs (or the input values)
    weight_difference: np.ndarray  # (n,) w_pred − w_other, the output layer's weights from each unit
    contributions: np.ndarray  # (n,) activations * weight_difference: each unit's share of the gap
    bias_term: float           # b_pred − b_other: contributions.sum() + bias_term == gap
    toward_predicted: list[int]  # units with the largest positive shares, largest first
    toward_other: list[int]      # units with the most negative shares, most negative first
    unit_maps: WeightMaps | None  # the weight maps (or back-projections) of those units, in that order
    no_unit_maps: str          # why unit_maps is None, in a sentence ("" when there are maps)
    saliency: np.ndarray       # d gap / d input, shaped like the sample
    layout: tuple[int, int]    # (H, W) to draw an input-shaped map in: images as they are, sequences as
                               # steps x features, other inputs as a one-row strip

    @property
    def units_total(self) -> float:
        return float(self.contributions.sum())


def logit_gap(model: Sequential, x: np.ndarray, y: np.ndarray | None, index: int, top: int = 3) -> LogitGap:
    """Why sample `index` of x (with class labels y, if any) got the class it got, rather than its true class
    (rather than the runner-up when it is right): the gap between the two logits split over the units the
    output layer reads, the maps of the `top` units on each side, and the gap's gradient wrt the input."""
    if not 0 <= index < len(x):
        raise PynnError(f"There is no sample {index}; the data has {len(x)} (0-{len(x) - 1}).")
    if model.task != CLASSIFICATION:
        raise PynnError("Why a prediction won is told by the gap between two class scores, and this model "
                        "predicts values, not classes.")
    model = model.frozen()
    sample = np.asarray(x[index:index + 1], np.float32)
    out_layer = model.layers[-1]
    per_step = per_step_output(model)
    outputs = layer_outputs(model, sample)
    reads = outputs[-2][0] if len(model.layers) > 1 else sample[0]
    a = np.ascontiguousarray(reads[-1] if per_step else reads, np.float32).reshape(-1)
    # the output kernel without the head's activation: a loss that does not fuse it (mse on a sigmoid) would
    # hand back probabilities, and the logits are what the classes compete with
    logits = core.dense_forward(a[None], out_layer.W, out_layer.b, "identity", out_layer.alpha)[0]
    raw = outputs[-1][:, -1] if per_step else outputs[-1]
    predicted = int(predicted_classes(model, raw)[0])
    true = _true_class(y, index, per_step)
    other = true if true is not None and true != predicted else _runner_up(logits, predicted)
    w_pred, b_pred = class_row(out_layer.W, out_layer.b, predicted)
    w_other, b_other = class_row(out_layer.W, out_layer.b, other)
    dw = w_pred - w_other
    contributions = a.astype(np.float64) * dw
    up, down = top_contributors(contributions, top)
    hidden = hidden_layers(model)
    maps, no_maps = _unit_maps(model, hidden[-1] if hidden else None, up + down, sample.shape[1:])
    gap = float(_class_logit(logits, predicted) - _class_logit(logits, other))
    return LogitGap(index, predicted, other, other == true, (reads.shape[0] - 1) if per_step else None,
                    logits.astype(np.float64), gap, hidden[-1].index if hidden else 0, a, dw, contributions,
                    float(b_pred - b_other), up, down, maps, no_maps,
                    gap_saliency(model, sample[0], predicted, other), _layout(model, sample.shape[1:]))


def gap_saliency(model: Sequential, sample: np.ndarray, predicted: int, other: int) -> np.ndarray:
    """d(z_predicted − z_other)/d input for one sample, shaped like it. The output layer is linear in what it
    reads, so the gradient entering the layer below it is w_pred − w_other; from there the model's own
    backward pass carries it down (through an LSTM, over every step). Computed on a snapshot of the weights."""
    model = model.frozen()
    out_layer = model.layers[-1]
    dw = (class_row(out_layer.W, out_layer.b, predicted)[0]
          - class_row(out_layer.W, out_layer.b, other)[0]).astype(np.float32)
    below, caches = model.forward(np.asarray(sample, np.float32)[None], training=False, upto=len(model.layers) - 1)
    d_below = np.zeros_like(below)
    if per_step_output(model):
        d_below[0, -1] = dw      # only the last step's output is explained
    else:
        d_below[0] = dw.reshape(d_below.shape[1:])
    grad = model.backward(d_below, caches, need_dx=True)  # a frozen model's grads are scratch
    return np.array(grad[0]).reshape(np.shape(sample))


def class_row(W: np.ndarray, b: np.ndarray, cls: int) -> tuple[np.ndarray, float]:
    """(weights, bias) of class cls's logit, in float64. A single output unit (a sigmoid) scores class 1 with
    z and class 0 with −z: the gap between them is then ±2z; here class 0's logit is taken as 0 instead, so
    the gap is z itself, the log-odds the sigmoid reads."""
    if W.shape[0] == 1:
        if cls == 1:
            return W[0].astype(np.float64), float(b[0])
        return np.zeros(W.shape[1]), 0.0
    return W[cls].astype(np.float64), float(b[cls])


def _class_logit(logits: np.ndarray, cls: int) -> float:
    if len(logits) == 1:
        return float(logits[0]) if cls == 1 else 0.0
    return float(logits[cls])


def _runner_up(logits: np.ndarray, predicted: int) -> int:
    if len(logits) == 1:
        return 1 - predicted
    order = np.argsort(-logits.astype(np.float64), kind="stable")
    return int(order[1] if order[0] == predicted else order[0])


def _true_class(y, index: int, per_step: bool) -> int | None:
    if y is None or not np.issubdtype(np.asarray(y).dtype, np.integer):
        return None
    label = np.asarray(y[index])
    if per_step and label.ndim == 1:
        label = label[-1]
    return int(label) if label.ndim == 0 else None


def _unit_maps(model: Sequential, hidden, units: list[int],
               sample_shape: tuple[int, ...]) -> tuple[WeightMaps | None, str]:
    """The named units' maps as `pynn weights` draws them (laid out like the data's samples), or None and why
    not."""
    if hidden is None:
        return None, ("The output layer reads the input directly: its units' shares are the input values "
                      "themselves, and the saliency map is the weight difference.")
    if hidden.kind == "lstm":
        return None, (f"Layer {hidden.index} is an LSTM, whose units read the input through four gates at every "
                      "step: they have no single weight map (the saliency shows which steps mattered).")
    if not units:
        return None, "No unit has a share in the gap."
    maps = weight_maps(model, hidden.index, units, sample_shape)
    return (maps, "") if maps.maps is not None else (None, maps.no_map)


def _layout(model: Sequential, sample_shape: tuple[int, ...]) -> tuple[int, int]:
    """How to draw the saliency: like the weight maps, in the data's own shape (28x28 digits even for a model
    written 784-30-10), sequences as steps x features, and a sequence of single values as a strip."""
    if len(sample_shape) == 2 and sample_shape[1] == 1:
        return 1, sample_shape[0]
    return input_layout(model.input_shape, sample_shape)
