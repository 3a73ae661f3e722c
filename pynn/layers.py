"""Layers: each owns views into the model's flat parameter and gradient buffers and knows its shapes.

A layer declares its parameters (name, shape, whether L2 applies) and the model lays them out in one
allocation. forward returns its output and a cache of what backward needs; backward takes that cache,
accumulates parameter gradients and returns the gradient wrt its input. A layer holds parameters and settings,
never the last batch, so any number of forwards may be in flight at once (a trainer's, and a reader's on a
frozen copy). Shapes here are of one sample; the batch dimension is implicit.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from pynn import core
from pynn.errors import PynnError

ACTIVATION_NAMES = {
    "identity": "identity", "linear": "identity", "sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu",
    "leaky": "leaky_relu", "leaky_relu": "leaky_relu", "leakyrelu": "leaky_relu", "softmax": "softmax",
}


def written_activation(kernel_name: str) -> str:
    """The name a spec and the run description write for a kernel activation (leaky_relu is written leaky)."""
    return "leaky" if kernel_name == "leaky_relu" else kernel_name


def activation_name(name: str) -> str:
    try:
        return ACTIVATION_NAMES[name.lower()]
    except KeyError:
        raise PynnError(f"Unknown activation {name!r}; choose one of identity, sigmoid, tanh, relu, leaky_relu, "
                        "softmax.") from None


# -- checking a layer's arguments: one sentence naming the parameter, as a user wrote it in Python ----------

def whole_number(name: str, value, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise PynnError(f"{name} must be a whole number, not {value!r}.")
    if value < least:
        raise PynnError(f"{name} must be at least {least}, not {value}.")
    return int(value)


def real_number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value):
        raise PynnError(f"{name} must be a number, not {value!r}.")
    return float(value)


@dataclass
class ParamSpec:
    name: str
    shape: tuple[int, ...]
    decays: bool  # L2 applies (weights) or not (biases)


class Layer:
    kind = "layer"
    input_shape: tuple[int, ...] = ()
    output_shape: tuple[int, ...] = ()
    # Layers with weights are numbered as the course numbers W[l], Z[l], A[l]: 1, 2, ... from the input side.
    # Dropout has no W of its own and acts on the A[l] below it, so it takes no number (index None); that
    # number is what users see and type (`--layer 2`). position is the place in model.layers, dropout
    # counted, which the code indexes lists with and users never see.
    numbered = True
    index: int | None = 0   # the course's l, set by the model (Sequential.plan); None when not numbered
    position = 0            # 1-based place in model.layers, set by the model

    def build(self, input_shape: tuple[int, ...], index: int | None) -> tuple[int, ...]:
        """Work out the shapes for samples of input_shape; index is the layer's number l (None unnumbered)."""
        raise NotImplementedError

    def param_specs(self) -> list[ParamSpec]:
        return []

    def bind(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Receive views into the model's flat buffers."""
        self.param_views, self.grad_views = params, grads

    def twin(self) -> "Layer":
        """A copy with the same shapes and settings, to be bound to other buffers (Sequential.frozen): it shares
        nothing that a forward pass changes."""
        return copy.copy(self)

    def grad_norm(self) -> float:
        """L2 norm of all of this layer's parameter gradients: the vanishing/exploding-gradient signal."""
        return float(np.sqrt(sum(np.dot(g.ravel(), g.ravel()) for g in self.grad_views.values())))

    def initialise(self, init: str, rng: np.random.Generator) -> None:
        """Fill parameters."""

    def forward(self, x: np.ndarray, training: bool) -> tuple[np.ndarray, Any]:
        """(output, cache) for a batch x: the cache is what backward needs from this call."""
        raise NotImplementedError

    def backward(self, dy: np.ndarray, cache: Any, need_dx: bool = True) -> np.ndarray | None:
        """Accumulate the parameter gradients for the forward call that made `cache`, given dy, the loss's
        gradient wrt that call's output; return the gradient wrt its input (None when need_dx is False)."""
        raise NotImplementedError

    def describe(self) -> dict:
        return {"kind": self.kind}


class DenseCache(NamedTuple):
    x: np.ndarray               # (m, n_in) the input as the kernel read it (every step's rows, per step)
    out: np.ndarray             # (m, units) the output after the activation
    batch_shape: tuple          # the input's own shape, which dx takes


class Dense(Layer):
    """y = f(x W^T + b) with W (units, n_in). A multi-dimensional input is flattened, except a sequence
    (T, n) from a recurrent layer that returns sequences, which gets the same Dense at every step."""

    kind = "dense"

    def __init__(self, units: int, activation: str | None = None, alpha: float = 0.01):
        """activation None: on a hidden layer the run's hidden activation (sigmoid unless told), on the output
        the one the task needs (softmax for classes); the model settles it (Sequential.set_head)."""
        self.units = whole_number("units", units)
        if activation is not None and not isinstance(activation, str):
            raise PynnError(f"activation must be a name such as 'relu', not {activation!r}.")
        self.activation = None if activation is None else activation_name(activation)
        self.alpha = real_number("alpha", alpha)  # the slope of leaky_relu below 0
        if self.alpha < 0:
            raise PynnError(f"alpha must not be negative, not {alpha}.")
        self.per_step = False
        self.n_in = 0
        self.fused_into_loss = False  # set on an output layer whose activation the loss kernel applies

    @property
    def kernel_activation(self) -> str:
        # softmax runs only inside cross-entropy, and a sigmoid feeding binary cross-entropy only inside that
        # loss (pynn.losses), so the kernel stays linear rather than applying either twice
        return "identity" if self.fused_into_loss else self.activation

    def build(self, input_shape, index, per_step=False):
        self.index, self.input_shape, self.per_step = index, tuple(input_shape), per_step
        if per_step:
            self.n_in = input_shape[-1]
            self.output_shape = (*input_shape[:-1], self.units)
        else:
            self.n_in = int(np.prod(input_shape))
            self.output_shape = (self.units,)
        return self.output_shape

    def param_specs(self):
        return [ParamSpec("W", (self.units, self.n_in), True), ParamSpec("b", (self.units,), False)]

    def bind(self, params, grads):
        super().bind(params, grads)
        self.W, self.b = params["W"], params["b"]
        self.dW, self.db = grads["W"], grads["b"]

    def initialise(self, init, rng):
        from pynn.init import initialise
        initialise(self.W, self.b, init, rng)

    def forward(self, x, training):
        rows = np.ascontiguousarray(x.reshape(-1, self.n_in), dtype=np.float32)
        out = core.dense_forward(rows, self.W, self.b, self.kernel_activation, self.alpha)
        return (out.reshape(*x.shape[:-1], self.units) if self.per_step else out), DenseCache(rows, out, x.shape)

    def backward(self, dy, cache: DenseCache, need_dx=True):
        dout = np.array(dy.reshape(cache.out.shape), dtype=np.float32, order="C")  # overwritten with dz
        dx = core.dense_backward(dout, cache.out, cache.x, self.W, self.dW, self.db, self.kernel_activation,
                                 self.alpha, need_dx=need_dx)
        return None if dx is None else dx.reshape(cache.batch_shape)

    def describe(self):
        return {"kind": self.kind, "units": self.units, "activation": self.activation}


class Dropout(Layer):
    """Inverted dropout: in training each value is kept with probability 1 - p and scaled by 1 / (1 - p), so
    nothing changes at inference. Masks come from the model's seeded generator."""

    kind = "dropout"
    numbered = False  # no weights: it acts on the A[l] of the layer below, as in the course's D[l] masks

    def __init__(self, p: float):
        self.p = real_number("p", p)  # the probability of dropping a value
        if not 0.0 <= self.p < 1.0:
            raise PynnError(f"p must be in [0, 1), not {p}.")
        self.rng = np.random.default_rng(0)

    def build(self, input_shape, index, per_step=False):
        self.index, self.input_shape = index, tuple(input_shape)
        self.output_shape = self.input_shape
        return self.output_shape

    def initialise(self, init, rng):
        self.rng = np.random.default_rng(rng.integers(2**63))

    def twin(self):
        twin = super().twin()
        twin.rng = copy.deepcopy(self.rng)  # a copy's masks must not move the original's stream
        return twin

    def forward(self, x, training):
        """The cache is the mask kept (None outside training)."""
        if not training or self.p == 0.0:
            return x, None
        x = np.ascontiguousarray(x, dtype=np.float32)
        mask = (self.rng.random(x.shape, dtype=np.float32) >= self.p).view(np.uint8)
        return core.dropout(x, mask, 1.0 / (1.0 - self.p)), mask

    def backward(self, dy, cache: np.ndarray | None, need_dx=True):
        if cache is None:
            return dy
        return core.dropout(np.ascontiguousarray(dy, dtype=np.float32), cache, 1.0 / (1.0 - self.p))

    def describe(self):
        return {"kind": self.kind, "p": self.p}
