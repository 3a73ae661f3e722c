"""The Trainer's fast path for plain dense MLPs: a whole per-batch step (forward, loss, backward, gradient
norms, clipping, last-good copy, optimiser update) in one call into C.

A model qualifies when every layer is a Dense on flat input (no dropout, no recurrent layer), the data is
float32 and the loss and optimiser are ones the C step implements (a softmax applied twice is not). It calls
the same kernels in the same order as the general path, so the two agree to float32 rounding.
"""
from __future__ import annotations

import numpy as np

from pynn import core
from pynn.layers import Dense
from pynn.model import Sequential
from pynn.optim import Optimizer


class FusedMLPStep:
    """Trains on one batch per call, keeping the optimiser's step count and learning rate in step."""

    def __init__(self, step: core.MLPTrainStep, optimizer: Optimizer):
        self._step, self._optimizer = step, optimizer

    def step(self, rows: np.ndarray, loss_limit: float = np.inf) -> tuple[float, list[float]]:
        """(mean loss, gradient norm per layer) for the samples `rows` picks; a non-finite loss, or one above
        loss_limit, comes back with the parameters, last-good copy and optimiser untouched."""
        self._step.lr, self._step.t, self._step.loss_limit = self._optimizer.lr, self._optimizer.t, loss_limit
        loss, norms = self._step.step(rows)
        self._optimizer.t = self._step.t
        return loss, norms


def fused_step(model: Sequential, optimizer: Optimizer, x: np.ndarray, y: np.ndarray, last_good: np.ndarray,
               *, max_batch: int, decay: float, clip: float) -> FusedMLPStep | None:
    """The fast path for training `model` on (x, y), or None when the model or data does not qualify (the
    general path then does the same work, and reports any problem with the data in its own words)."""
    layers = model.layers
    if not all(isinstance(layer, Dense) and not layer.per_step for layer in layers):
        return None
    if model.loss.name not in core.LOSS_KINDS or optimizer.name not in core.OPTIMIZER_KINDS:
        return None
    if model.loss.double_softmax:  # the C step applies the softmax once; the general path applies it twice
        return None
    if x.dtype != np.float32 or len(x) == 0:
        return None
    x2 = np.ascontiguousarray(x.reshape(len(x), -1))
    sizes = [x2.shape[1]] + [layer.units for layer in layers]
    if sizes[0] != layers[0].n_in:
        return None
    targets = model.loss.targets(y)
    k = sizes[-1]
    if model.loss.name == "xent":
        if targets.shape != (len(x),) or targets.min() < 0 or targets.max() >= k:
            return None
    elif targets.shape != (len(x), k):
        return None
    if not optimizer.state:  # what Optimizer.step would allocate on its first call
        n_state = core.OPTIMIZER_STATE_BUFFERS[optimizer.name]
        optimizer.state = [np.zeros_like(model.params) for _ in range(n_state)]
    base, itemsize = model.params.ctypes.data, model.params.itemsize

    def offset(view: np.ndarray) -> int:  # where a layer's view starts in the flat buffers
        return (view.ctypes.data - base) // itemsize

    step = core.MLPTrainStep(
        sizes=sizes, activations=[layer.kernel_activation for layer in layers],
        alphas=[layer.alpha for layer in layers],
        w_offsets=[offset(layer.W) for layer in layers], b_offsets=[offset(layer.b) for layer in layers],
        loss=model.loss.name, params=model.params, grads=model.grads, n_decay=model.n_weights,
        optimizer=optimizer.name, state=optimizer.state, lr=optimizer.lr, t=optimizer.t, last_good=last_good,
        x=x2, labels=targets if model.loss.name == "xent" else None,
        targets=None if model.loss.name == "xent" else targets, max_batch=max_batch, mu=optimizer.momentum,
        beta1=optimizer.beta1, beta2=optimizer.beta2, eps=optimizer.eps, decay=decay, clip=clip)
    return FusedMLPStep(step, optimizer)
