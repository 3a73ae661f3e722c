"""Output losses and how they pair with the output activation and the task.

The fused kernels take the output layer's pre-activation: softmax runs only inside cross-entropy and the
sigmoid only inside binary cross-entropy, so a softmax written before cross-entropy is applied once, never
twice (the classic bug where a network stops learning). Only a run that asks for it by name (double_softmax)
applies it twice, to show that bug: the output's softmax, then cross-entropy over its probabilities as logits.

One convention for every loss: summed over a sample's outputs, averaged over samples and, when the output
has a value per step (m, T, k), over steps too, so a sequence's loss does not grow with its length (PyTorch's
and Keras's mean reductions also average over steps; they average over the k outputs too, where pynn sums,
as Nielsen's quadratic cost 1/2 ||a - y||^2 does). Cross-entropy is -log p(label) per row, binary
cross-entropy and the quadratic cost are summed over the row's k outputs."""
from __future__ import annotations

import numpy as np

from pynn import core
from pynn.data.dataset import BINARY, CLASSIFICATION, REGRESSION
from pynn.errors import PynnError
from pynn.run import ConfigError

LOSS_NAMES = {
    "xent": "xent", "ce": "xent", "cross-entropy": "xent", "crossentropy": "xent", "cross_entropy": "xent",
    "bce": "bce", "binary-cross-entropy": "bce", "binary_cross_entropy": "bce",
    "mse": "mse", "quadratic": "mse",
}
DEFAULT_FOR_TASK = {CLASSIFICATION: ("xent", "softmax"), BINARY: ("bce", "sigmoid"), REGRESSION: ("mse", "identity")}
DESCRIPTIONS = {
    "xent": "softmax + cross-entropy (fused)",
    "bce": "sigmoid + binary cross-entropy (fused)",
    "mse": "quadratic cost 1/(2n) sum ||a - y||^2 over n samples (x steps)",
}


def loss_name(name: str) -> str:
    try:
        return LOSS_NAMES[name.lower()]
    except KeyError:
        raise PynnError(f"Unknown loss {name!r}; choose xent (cross-entropy), bce or mse.") from None


def resolve_head(task: str, loss: str | None, output_activation: str | None,
                 double_softmax: bool = False) -> tuple[str, str, list[str]]:
    """(loss, output activation, notes for the user) from the task and what the user wrote, if anything;
    double_softmax: the softmax is applied twice on purpose (only with cross-entropy on class labels)."""
    notes: list[str] = []
    default_loss, default_act = DEFAULT_FOR_TASK[task]
    loss = loss_name(loss) if loss else None
    if double_softmax:
        _check_double_softmax(task, loss, output_activation)
        return "xent", "softmax", [DOUBLE_SOFTMAX_NOTE]
    if loss is None:
        loss = {"softmax": "xent"}.get(output_activation, default_loss)
        if output_activation == "sigmoid" and task != REGRESSION:
            loss = "bce" if task == BINARY else default_loss
    if output_activation is None:
        output_activation = {"xent": "softmax", "bce": "sigmoid"}.get(loss, "identity")
    elif output_activation == "softmax" and loss == "xent":
        notes.append("The softmax written on the output layer is folded into the fused cross-entropy, so it is "
                      "applied once, not twice (`pynn freeze` shows how applying it twice flattens the gradients "
                      "and stalls learning).")
    if loss == "xent" and output_activation != "softmax":
        raise ConfigError("loss", f"xent (cross-entropy) needs a softmax output, but the output layer is "
                          f"{output_activation}; drop the activation from the last layer, or use {{loss}} bce for "
                          "independent sigmoids")
    if loss == "bce" and output_activation != "sigmoid":
        raise PynnError(f"Binary cross-entropy needs a sigmoid output, but the output layer is "
                        f"{output_activation}; write the last layer as N:sigmoid or leave it bare.")
    if loss == "mse" and output_activation == "softmax":
        raise ConfigError("loss", "mse (the quadratic cost) with a softmax output is not supported; use a sigmoid "
                          "or linear output with it, or cross-entropy with the softmax")
    if loss == "xent" and task != CLASSIFICATION:
        raise PynnError(f"Cross-entropy needs class labels, but this data's task is {task}.")
    return loss, output_activation, notes


DOUBLE_SOFTMAX_NOTE = ("The softmax is applied twice, as asked (double_softmax): on the output layer, then again "
                       "inside cross-entropy over its probabilities, as nn.Softmax before PyTorch's "
                       "CrossEntropyLoss does — expect the loss to stall (pynn freeze shows why).")


def _check_double_softmax(task: str, loss: str | None, output_activation: str | None) -> None:
    """One sentence unless a softmax twice makes sense here: class labels, cross-entropy, a softmax output."""
    if task != CLASSIFICATION:
        raise ConfigError("double_softmax", f"puts a softmax before cross-entropy, which needs class labels, but "
                          f"this data's task is {task}")
    if loss not in (None, "xent"):
        raise ConfigError("double_softmax", f"puts a softmax before cross-entropy, so it needs {{loss}} xent, not "
                          f"{loss}")
    if output_activation not in (None, "softmax"):
        raise ConfigError("double_softmax", f"applies a softmax on the output layer, but the spec writes "
                          f"{output_activation} there; leave the last layer bare")


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, shifted by the row's maximum so it cannot overflow."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class Loss:
    """Turns dataset targets into what a kernel needs and returns (mean loss, dout, predictions)."""

    def __init__(self, name: str, n_outputs: int, double_softmax: bool = False):
        """double_softmax (cross-entropy only): the output's softmax comes first and cross-entropy then takes
        its probabilities as logits, applying a second softmax (see __call__)."""
        self.name = loss_name(name)
        self.n_outputs = n_outputs
        self.double_softmax = double_softmax and self.name == "xent"

    def targets(self, y: np.ndarray, per_step: bool = False) -> np.ndarray:
        """One target row per sample, or per sample and step when the output is per step (y is then (m, T)
        labels or (m, T, k) values): class labels for cross-entropy, else (rows, k) float32 values, class
        labels under bce or mse becoming one-hot rows."""
        if self.name == "xent":
            return np.ascontiguousarray(y.reshape(-1), dtype=np.int32)
        rows = len(y) * (y.shape[1] if per_step else 1)
        if np.issubdtype(y.dtype, np.integer) and y.ndim == (2 if per_step else 1):
            onehot = np.zeros((rows, self.n_outputs), np.float32)
            onehot[np.arange(rows), y.reshape(-1)] = 1.0
            return onehot
        return np.ascontiguousarray(y.reshape(rows, -1), dtype=np.float32)

    def __call__(self, out: np.ndarray, y: np.ndarray):
        # the kernels average over their rows, so a per-step output (m, T, k) becomes m*T rows of k: every
        # loss is then averaged over samples and steps alike
        per_step = out.ndim == 3
        rows = np.ascontiguousarray(out.reshape(-1, out.shape[-1]) if per_step else out.reshape(len(out), -1),
                                    dtype=np.float32)
        t = self.targets(y, per_step)
        if self.double_softmax:
            loss, d, pred = _twice(rows, t)
        elif self.name == "xent":
            loss, d, pred = core.softmax_xent(rows, t)
        elif self.name == "bce":
            loss, d, pred = core.sigmoid_bce(rows, t)
        else:
            loss, d, _ = core.mse(rows, t)
            pred = rows
        return loss, d.reshape(out.shape), pred.reshape(out.shape)

    def predictions(self, out: np.ndarray) -> np.ndarray:
        """What the model outputs to a user: probabilities for the fused heads, the values otherwise. With the
        softmax applied twice they are the output layer's softmax, what PyTorch's model would return."""
        if self.name == "xent":
            return softmax(out)
        if self.name == "bce":
            return core.activate(np.ascontiguousarray(out, dtype=np.float32), "sigmoid")
        return out


def _twice(z: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(mean loss, dz, probabilities) for rows of logits z (rows, k) when the output layer applies a softmax,
    p = softmax(z), and cross-entropy then applies its own to p: loss -log softmax(p)[label].

    Backward, cross-entropy's gradient wrt its logits p is dp = (softmax(p) - onehot) / rows, and it passes
    through the first softmax's Jacobian, dz = (diag(p) - p pᵀ) dp = p * (dp - <p, dp>). That Jacobian is what
    squashes the gradient: while p is near uniform every entry is about 1/k."""
    p = np.ascontiguousarray(softmax(z), dtype=np.float32)
    loss, dp, _ = core.softmax_xent(p, labels)
    dz = p * (dp - (p * dp).sum(axis=-1, keepdims=True))
    return loss, np.ascontiguousarray(dz, dtype=np.float32), p
