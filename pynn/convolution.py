"""Convolution and pooling layers: Conv2D slides F small filters over an image, each sharing its K·K·C_in weights
across every position it visits; MaxPool2D keeps the largest value of each P x P window.

Feature maps are (m, H, W, C) as Keras has them (PyTorch's (m, C, H, W) in the summaries too); conv weights
are (K, K, C_in, F), Keras's HWIO. An image input may be written 28x28 (one channel), 32x32x3, or come flat
when it is square (784 values read as 28x28x1): Conv2D reads its input in its own (H, W, C) shape. A Dense layer
after a conv flattens the maps in H, W, C order, as Keras's Flatten does, so there is no Flatten layer. Conv
layers have weights and take the course's numbers W[l]; a pool has none and, like dropout, takes no number.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from pynn import conv
from pynn.errors import PynnError
from pynn.layers import Layer, ParamSpec, activation_name, real_number, whole_number
from pynn.words import plural

PADDINGS = ("valid", "same")


class ImageShapeError(PynnError):
    """An image layer that does not fit what it reads (a kernel or pool larger than its input, samples that are
    no image): the doctor tells it apart from other reasons a model cannot be built."""


def _shape(shape) -> str:
    return "x".join(map(str, shape))


def image_shape(shape: tuple[int, ...], what: str) -> tuple[int, int, int]:
    """(H, W, C) of samples of `shape`: an image as written (H, W, C), one channel for (H, W), and a flat sample
    as a square one-channel image when its size is a square; else one sentence naming `what` reads it."""
    shape = tuple(int(v) for v in shape)
    if len(shape) == 3:
        return shape
    if len(shape) == 2:
        return (*shape, 1)
    if len(shape) == 1:
        side = math.isqrt(shape[0])
        if side * side == shape[0]:
            return side, side, 1
        raise ImageShapeError(f"{what} reads images, and samples of {plural(shape[0], 'value')} are not a square image; "
                        "write the input's shape first in the spec, e.g. 28x28 or 32x32x3.")
    raise ImageShapeError(f"{what} reads images (height x width x channels), not samples of shape {_shape(shape)}.")


class ConvLayerCache(NamedTuple):
    op: conv.ConvCache       # what the convolution kept for its backward pass (its input, activated output)
    batch_shape: tuple       # the input's own shape (a flat or one-channel image), which dx takes


class Conv2D(Layer):
    """y = f(conv(x, W) + b): F filters of K x K x C_in, each slid over the input with stride S, with "valid"
    padding (none) or "same" (zeros, so that the output is ceil(H / S) wide)."""

    kind = "conv"
    per_step = False  # a layer over whole samples (the model reads per_step on the layer it checks input with)

    def __init__(self, filters: int, kernel: int, stride: int = 1, padding: str = "valid",
                 activation: str = "relu", alpha: float = 0.01):
        self.filters = whole_number("filters", filters)
        self.kernel = whole_number("kernel", kernel)
        self.stride = whole_number("stride", stride)
        if padding not in PADDINGS:
            raise PynnError(f"padding must be one of {', '.join(PADDINGS)}, not {padding!r}.")
        self.padding = padding
        if not isinstance(activation, str):
            raise PynnError(f"activation must be a name such as 'relu', not {activation!r}.")
        self.activation = activation_name(activation)
        if self.activation == "softmax":
            raise PynnError("A conv layer's activation cannot be softmax, which pynn applies only on the output; use "
                            "relu, tanh, sigmoid or identity.")
        self.alpha = real_number("alpha", alpha)
        self.image: tuple[int, int, int] = (0, 0, 0)

    @property
    def units(self) -> int:
        """The filters are the layer's units: one feature map each."""
        return self.filters

    @property
    def n_in(self) -> int:
        """Each filter's weights: one K x K patch of every input channel (the fan-in)."""
        return self.kernel * self.kernel * self.image[2]

    def name(self) -> str:
        return f"layer {self.index} ({self.token()})"

    def token(self) -> str:
        from pynn.model import layer_spec
        return layer_spec(self).token()

    def build(self, input_shape, index, per_step=False):
        self.index, self.input_shape = index, tuple(input_shape)
        what = f"Layer {index} ({self.token()})"
        if per_step:
            raise PynnError(f"{what} reads images, not a sequence's steps.")
        H, W, C = self.image = image_shape(input_shape, what)
        K, S = self.kernel, self.stride
        if self.padding == "valid" and (K > H or K > W):
            raise ImageShapeError(f"{what} has a {K}x{K} kernel, larger than its {H}x{W} input; use a kernel of at most "
                            f"{min(H, W)}, or same padding (conv{self.filters}k{K}psame).")
        self.output_shape = (conv.conv_output_size(H, K, S, self.padding),
                             conv.conv_output_size(W, K, S, self.padding), self.filters)
        return self.output_shape

    def param_specs(self):
        return [ParamSpec("W", (self.kernel, self.kernel, self.image[2], self.filters), True),
                ParamSpec("b", (self.filters,), False)]

    def bind(self, params, grads):
        super().bind(params, grads)
        self.W, self.b = params["W"], params["b"]
        self.dW, self.db = grads["W"], grads["b"]

    def initialise(self, init, rng):
        from pynn.init import weight_scale
        self.W[...] = rng.standard_normal(self.W.shape) * weight_scale(init, self.n_in)
        self.b[...] = rng.standard_normal(self.b.shape) if init == "normal" else 0.0

    def forward(self, x, training):
        images = np.ascontiguousarray(x.reshape(len(x), *self.image), dtype=np.float32)
        out, op = conv.conv2d_forward(images, self.W, self.b, self.stride, self.padding,
                                      activation=self.activation, alpha=self.alpha)
        return out, ConvLayerCache(op, x.shape)

    def backward(self, dy, cache: ConvLayerCache, need_dx=True):
        dx = conv.conv2d_backward(dy, cache.op, self.dW, self.db, need_dx=need_dx)
        return None if dx is None else dx.reshape(cache.batch_shape)

    def describe(self):
        return {"kind": self.kind, "filters": self.filters, "kernel": self.kernel, "stride": self.stride,
                "padding": self.padding, "activation": self.activation}

    def summary_row(self, stateful: bool = False) -> dict:
        from pynn.summary import conv_row
        return conv_row(self)


class PoolLayerCache(NamedTuple):
    op: conv.PoolCache
    batch_shape: tuple


class MaxPool2D(Layer):
    """The largest value of each P x P window, stride P; rows and columns that do not fill a window are dropped.
    No weights, so no number (as dropout)."""

    kind = "pool"
    numbered = False

    def __init__(self, size: int):
        self.size = whole_number("size", size)
        self.image: tuple[int, int, int] = (0, 0, 0)

    def build(self, input_shape, index, per_step=False):
        self.index, self.input_shape = index, tuple(input_shape)
        what = f"pool{self.size}"
        H, W, C = self.image = image_shape(input_shape, what)
        if per_step:
            raise PynnError(f"{what} reads images, not a sequence's steps.")
        if self.size > H or self.size > W:
            raise ImageShapeError(f"{what} takes {self.size}x{self.size} windows, larger than the {H}x{W} maps it would pool; "
                            f"use a pool of at most {min(H, W)}.")
        self.output_shape = (H // self.size, W // self.size, C)
        return self.output_shape

    def forward(self, x, training):
        images = np.ascontiguousarray(x.reshape(len(x), *self.image), dtype=np.float32)
        out, op = conv.maxpool_forward(images, self.size)
        return out, PoolLayerCache(op, x.shape)

    def backward(self, dy, cache: PoolLayerCache, need_dx=True):
        return conv.maxpool_backward(dy, cache.op).reshape(cache.batch_shape)

    def describe(self):
        return {"kind": self.kind, "size": self.size}


def layer_of_spec(ls) -> Layer:
    """The layer a conv or pool token of a spec (pynn.spec.LayerSpec) names."""
    if ls.kind == "conv":
        return Conv2D(ls.units, ls.kernel, ls.stride, ls.padding, ls.activation or "relu")
    return MaxPool2D(ls.kernel)


def image_layers(model) -> list[Layer]:
    """The model's conv and pool layers, input side first."""
    return [layer for layer in model.layers if layer.kind in ("conv", "pool")]
