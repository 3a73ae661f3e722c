"""Convolution and max pooling as the layers call them: shapes checked in words, then the C core does the work.

Conventions (the same as Keras/TensorFlow's defaults, so their weights load without reordering):
- activations are (N, H, W, C): N samples, H rows, W columns, C channels last; float32, C-contiguous.
  PyTorch's (N, C, H, W) is x.transpose(0, 3, 1, 2). Flattening an (H, W, C) map reads it in that order, so a
  dense layer after it sees index (i * W + j) * C + c (PyTorch's flatten reads (c * H + i) * W + j).
- conv weights w are (K, K, C_in, F), Keras's HWIO (from PyTorch's (F, C_in, K, K): w_torch.transpose(2, 3, 1, 0)):
  the (N*Ho*Wo, K*K*C_in) matrix of input patches times w.reshape(K*K*C_in, F) is the output (N, Ho, Wo, F).
  The bias b is (F,).
- padding "valid": no padding, Ho = floor((H - K) / stride) + 1. "same" is TensorFlow's: Ho = ceil(H / stride),
  padded with zeros by max((Ho - 1) * stride + K - H, 0) rows, half before and the odd one after (PyTorch's
  padding="same" agrees; it allows stride 1 only, and a symmetric padding=p differs where the total is odd).
- max pooling: P x P windows, stride P, floor: trailing rows and columns that do not fill a window are dropped
  (Keras's "valid", PyTorch's default). The gradient goes to the window's first maximum in row-major order,
  as PyTorch's does.
- conv2d_backward ACCUMULATES (+=) into dw and db, as every layer's backward does (the model zeroes them once
  per step), and returns dx or None.

conv2d_forward may apply the activation itself (activation="relu", ...), fused with the bias as the dense
kernel does; backward then takes dy wrt the activated output. With the default "identity" the caller applies
the activation on its own.
"""
from __future__ import annotations

from math import ceil
from typing import NamedTuple

import numpy as np

from pynn import core
from pynn.errors import PynnError

PADDINGS = ("valid", "same")


def same_padding(n: int, k: int, stride: int) -> tuple[int, int]:
    """(before, after) zeros TensorFlow's "same" pads a side of n with, for kernel k at this stride."""
    total = max((ceil(n / stride) - 1) * stride + k - n, 0)
    return total // 2, total - total // 2


def conv_output_size(n: int, k: int, stride: int, padding: str) -> int:
    """Output positions along a side of n; 0 when the kernel does not fit (valid padding, k > n)."""
    if padding == "same":
        return ceil(n / stride)
    if padding == "valid":
        return max((n - k) // stride + 1, 0)
    raise PynnError(f"padding must be one of {', '.join(PADDINGS)}, not {padding!r}.")


def padding_amounts(H: int, W: int, K: int, stride: int, padding: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """((top, bottom), (left, right)) zeros around an H x W input."""
    if padding == "same":
        return same_padding(H, K, stride), same_padding(W, K, stride)
    return (0, 0), (0, 0)


class ConvCache(NamedTuple):
    x: np.ndarray        # (N, H, W, C) the input as the kernel read it
    y: np.ndarray        # (N, Ho, Wo, F) the output after the activation
    w: np.ndarray        # (K, K, C, F)
    stride: int
    padding: str
    activation: str
    alpha: float


class PoolCache(NamedTuple):
    argmax: np.ndarray   # (N, Ho, Wo, C) int32: where in its window (0 .. P*P-1, row-major) each max was
    x_shape: tuple       # (N, H, W, C) of the input
    p: int


def _activations(x, name: str) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 4:
        raise PynnError(f"{name} must be (samples, height, width, channels), not {x.ndim}-D with shape {x.shape}.")
    return x


def _whole(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise PynnError(f"{name} must be a whole number of at least 1, not {value!r}.")
    return int(value)


def _check_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride, padding) -> tuple[int, int]:
    """(Ho, Wo) after checking the shapes fit together."""
    if not isinstance(w, np.ndarray) or w.ndim != 4 or w.shape[0] != w.shape[1]:
        raise PynnError(f"w must be a square kernel (K, K, channels, filters), not shape {np.shape(w)}.")
    K, _, C, F = w.shape
    if x.shape[3] != C:
        raise PynnError(f"the kernel reads {C} channels; the input has {x.shape[3]} (shape {x.shape}).")
    if not isinstance(b, np.ndarray) or b.shape != (F,):
        raise PynnError(f"b must hold one bias per filter, shape ({F},), not {np.shape(b)}.")
    stride = _whole("stride", stride)
    if padding not in PADDINGS:
        raise PynnError(f"padding must be one of {', '.join(PADDINGS)}, not {padding!r}.")
    H, W = x.shape[1:3]
    Ho, Wo = conv_output_size(H, K, stride, padding), conv_output_size(W, K, stride, padding)
    if Ho < 1 or Wo < 1:
        raise PynnError(f"a {K}x{K} kernel does not fit in a {H}x{W} input without padding.")
    return Ho, Wo


def conv2d_forward(x, w, b, stride=1, padding="valid", *, activation="identity", alpha=0.01):
    """(y, cache): y = f(conv(x, w) + b), (N, Ho, Wo, F) for x (N, H, W, C), w (K, K, C, F), b (F,)."""
    x = _activations(x, "x")
    Ho, Wo = _check_conv(x, w, b, stride, padding)
    w, b = np.ascontiguousarray(w, dtype=np.float32), np.ascontiguousarray(b, dtype=np.float32)
    (top, _), (left, _) = padding_amounts(*x.shape[1:3], w.shape[0], stride, padding)
    y = core.conv2d_forward(x, w, b, int(stride), top, left, Ho, Wo, activation, alpha)
    return y, ConvCache(x, y, w, int(stride), padding, activation, alpha)


def conv2d_backward(dy, cache: ConvCache, dw: np.ndarray, db: np.ndarray, need_dx=True):
    """Accumulate dw (K, K, C, F) and db (F,) from dy, the gradient wrt the forward's output; return dx
    (N, H, W, C), or None when need_dx is False."""
    if np.shape(dy) != cache.y.shape:
        raise PynnError(f"dy has shape {dy.shape}; the convolution's output has {cache.y.shape}.")
    x, w = cache.x, cache.w
    (top, _), (left, _) = padding_amounts(*x.shape[1:3], w.shape[0], cache.stride, cache.padding)
    dz = np.array(dy, dtype=np.float32, order="C")  # the kernel overwrites it with the pre-activation's gradient
    return core.conv2d_backward(dz, cache.y, x, w, dw, db, cache.stride, top, left, cache.activation,
                                cache.alpha, need_dx=need_dx)


def maxpool_forward(x, p):
    """(y, cache): the max of each P x P window, stride P; y is (N, H // P, W // P, C)."""
    x = _activations(x, "x")
    p = _whole("pool size", p)
    if p > x.shape[1] or p > x.shape[2]:
        raise PynnError(f"a {p}x{p} pool does not fit in a {x.shape[1]}x{x.shape[2]} input.")
    y, argmax = core.maxpool_forward(x, p)
    return y, PoolCache(argmax, x.shape, p)


def maxpool_backward(dy, cache: PoolCache) -> np.ndarray:
    """dx (N, H, W, C): each output's gradient at its window's maximum, zero elsewhere."""
    dy = np.ascontiguousarray(dy, dtype=np.float32)
    if dy.shape != cache.argmax.shape:
        raise PynnError(f"dy has shape {dy.shape}; the pool's output has {cache.argmax.shape}.")
    return core.maxpool_backward(dy, cache.argmax, cache.x_shape, cache.p)
