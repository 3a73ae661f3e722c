"""Float64 numpy reference of every kernel in the C core: the test oracle, never on a production path.

Each function mirrors one C function's contract (same argument order, same conventions) but computes in
float64 with the plainest numpy expression, so it can itself be checked against finite differences.
"""
from __future__ import annotations

import numpy as np


def sgemm(a, b, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, c=None):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    out = alpha * ((a.T if trans_a else a) @ (b.T if trans_b else b))
    return out if c is None or beta == 0.0 else out + beta * np.asarray(c, np.float64)


def activate(x, activation, alpha=0.01):
    x = np.asarray(x, np.float64)
    if activation == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * x))  # the overflow-free form of 1 / (1 + exp(-x))
    if activation == "tanh":
        return np.tanh(x)
    if activation == "relu":
        return np.maximum(x, 0.0)
    if activation == "leaky_relu":
        return np.where(x > 0, x, alpha * x)
    if activation == "identity":
        return x.copy()
    raise ValueError(activation)


def activate_backward(dy, y, activation, alpha=0.01):
    dy, y = np.asarray(dy, np.float64), np.asarray(y, np.float64)
    if activation == "sigmoid":
        return dy * y * (1.0 - y)
    if activation == "tanh":
        return dy * (1.0 - y * y)
    if activation == "relu":
        return np.where(y > 0, dy, 0.0)
    if activation == "leaky_relu":
        return np.where(y > 0, dy, alpha * dy)
    return dy.copy()


def dense_forward(x, W, b, activation, alpha=0.01):
    return activate(np.asarray(x, np.float64) @ np.asarray(W, np.float64).T + b, activation, alpha)


def dense_backward(dout, out, x, W, activation, alpha=0.01):
    """Returns (dx, dW, db) for out = f(x W^T + b)."""
    dz = activate_backward(dout, out, activation, alpha)
    x, W = np.asarray(x, np.float64), np.asarray(W, np.float64)
    return dz @ W, dz.T @ x, dz.sum(axis=0)


def log_softmax(z):
    z = np.asarray(z, np.float64)
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax_xent(logits, labels):
    """(mean loss, dlogits, probs)"""
    logp = log_softmax(logits)
    m = logp.shape[0]
    probs = np.exp(logp)
    onehot = np.zeros_like(probs)
    onehot[np.arange(m), labels] = 1.0
    return -logp[np.arange(m), labels].mean(), (probs - onehot) / m, probs


def sigmoid_bce(logits, targets):
    z = np.asarray(logits, np.float64)
    t = np.asarray(targets, np.float64)
    m = z.shape[0]
    loss = (np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))).sum() / m
    p = activate(z, "sigmoid")
    return loss, (p - t) / m, p


def mse(out, targets):
    e = np.asarray(out, np.float64) - np.asarray(targets, np.float64)
    m = e.shape[0]
    return 0.5 * (e * e).sum() / m, e / m, None


def output_loss(name, out, targets):
    """(loss, dout) of pynn.losses.Loss in its convention, for an output (m, k) or a per-step output (m, T, k):
    each row's loss summed over its k outputs, then averaged over the rows (samples, times steps). targets
    are labels shaped like out without its last axis for "xent", else values shaped like out. Written
    elementwise over the whole array, not through the (m, k) functions above, so it checks the reshaping too."""
    out = np.asarray(out, np.float64)
    n_rows = out.size // out.shape[-1]
    if name == "xent":
        shifted = out - out.max(axis=-1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        onehot = np.eye(out.shape[-1])[np.asarray(targets)]
        return -(onehot * logp).sum() / n_rows, (np.exp(logp) - onehot) / n_rows
    t = np.asarray(targets, np.float64).reshape(out.shape)
    if name == "bce":
        per_value = np.maximum(out, 0) - out * t + np.log1p(np.exp(-np.abs(out)))
        return per_value.sum() / n_rows, (activate(out, "sigmoid") - t) / n_rows
    if name == "mse":
        e = out - t
        return 0.5 * (e * e).sum() / n_rows, e / n_rows
    raise ValueError(name)


def softmax(z):
    """Softmax over the last axis."""
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def double_softmax_loss(out, targets):
    """(loss, dout) of a softmax on the output followed by cross-entropy that applies its own softmax (PyTorch's
    nn.Softmax before nn.CrossEntropyLoss), for an output (m, k) or (m, T, k) and labels shaped like out without
    its last axis. Built as the composition it is: p = softmax(out), the "xent" loss with p as its logits, and
    that loss's gradient carried back through the full Jacobian of the first softmax, d p_j / d out_i =
    p_j (delta_ij - p_i), written out as a matrix per row."""
    p = softmax(out)
    loss, dp = output_loss("xent", p, targets)
    jacobian = np.einsum("...j,ij->...ij", p, np.eye(p.shape[-1])) - np.einsum("...i,...j->...ij", p, p)
    return loss, np.einsum("...ij,...j->...i", jacobian, dp)  # the Jacobian is symmetric


def _decayed(p, g, n_decay, decay):
    g = np.array(g, np.float64)
    g[:n_decay] += decay * np.asarray(p, np.float64)[:n_decay]
    return g


def sgd_update(p, g, *, lr, n_decay=0, decay=0.0):
    return np.asarray(p, np.float64) - lr * _decayed(p, g, n_decay, decay)


def momentum_update(p, g, v, *, lr, mu=0.9, n_decay=0, decay=0.0):
    v = mu * np.asarray(v, np.float64) - lr * _decayed(p, g, n_decay, decay)
    return np.asarray(p, np.float64) + v, v


def adam_update(p, g, m, v, *, lr, t, beta1=0.9, beta2=0.999, eps=1e-8, n_decay=0, decay=0.0):
    """The textbook form (bias-corrected moments); the C kernel folds the corrections algebraically."""
    g = _decayed(p, g, n_decay, decay)
    m = beta1 * np.asarray(m, np.float64) + (1 - beta1) * g
    v = beta2 * np.asarray(v, np.float64) + (1 - beta2) * g * g
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    return np.asarray(p, np.float64) - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def clip_grad_norm(g, max_norm):
    g = np.asarray(g, np.float64)
    norm = np.sqrt((g * g).sum())
    return (g * (max_norm / norm) if 0 < max_norm < norm else g.copy()), norm


def dropout(x, mask, scale):
    return np.asarray(x, np.float64) * mask * scale


# ---------------------------------------------------------------------------------------------------------
# LSTM, gate blocks [i, f, g, o]

def _initial(state, B, U):
    return np.zeros((B, U)) if state is None else np.asarray(state, np.float64)


def lstm_forward(x, Wx, Wh, b, h0=None, c0=None):
    """(h, c, gates) as the C kernel returns them, in float64, from the state h0, c0 (B, U) (None: zero)."""
    x, Wx, Wh, b = (np.asarray(a, np.float64) for a in (x, Wx, Wh, b))
    B, T, _ = x.shape
    U = Wh.shape[1]
    h, c, gates = np.zeros((B, T, U)), np.zeros((B, T, U)), np.zeros((B, T, 4 * U))
    h_prev, c_prev = _initial(h0, B, U), _initial(c0, B, U)
    for t in range(T):
        z = x[:, t] @ Wx.T + h_prev @ Wh.T + b
        i, f, g, o = (activate(z[:, k * U:(k + 1) * U], "tanh" if k == 2 else "sigmoid") for k in range(4))
        c_prev = f * c_prev + i * g
        h_prev = o * np.tanh(c_prev)
        h[:, t], c[:, t], gates[:, t] = h_prev, c_prev, np.concatenate([i, f, g, o], axis=1)
    return h, c, gates


def lstm_backward(dh, x, Wx, Wh, b, h0=None, c0=None):
    """(dx, dWx, dWh, db) for the loss whose gradient wrt every hidden state is dh, by plain BPTT; the initial
    state h0, c0 is a constant (truncated BPTT), so no gradient is returned for it."""
    x, Wx, Wh = (np.asarray(a, np.float64) for a in (x, Wx, Wh))
    h, c, gates = lstm_forward(x, Wx, Wh, b, h0, c0)
    B, T, _ = x.shape
    U = Wh.shape[1]
    dx, dWx, dWh, db = np.zeros_like(x), np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(4 * U)
    dh_next, dc_next = np.zeros((B, U)), np.zeros((B, U))
    for t in reversed(range(T)):
        i, f, g, o = (gates[:, t, k * U:(k + 1) * U] for k in range(4))
        c_prev = c[:, t - 1] if t > 0 else _initial(c0, B, U)
        h_prev = h[:, t - 1] if t > 0 else _initial(h0, B, U)
        dht = dh[:, t] + dh_next
        tc = np.tanh(c[:, t])
        dc = dc_next + dht * o * (1 - tc ** 2)
        dz = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g ** 2),
                             dht * tc * o * (1 - o)], axis=1)
        dWx += dz.T @ x[:, t]
        dWh += dz.T @ h_prev
        db += dz.sum(axis=0)
        dx[:, t] = dz @ Wx
        dh_next, dc_next = dz @ Wh, dc * f
    return dx, dWx, dWh, db


# ---------------------------------------------------------------------------------------------------------
# convolution and max pooling, activations (N, H, W, C), kernels w (K, K, C, F), bias (F); pads is
# ((top, bottom), (left, right)) as pynn.conv.padding_amounts gives it

def _patches(x, K, stride, pads):
    """(N, Ho, Wo, K, K, C) view of the padded input's K x K windows, stride apart."""
    xp = np.pad(np.asarray(x, np.float64), ((0, 0), *pads, (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, (K, K), axis=(1, 2))  # (N, H', W', C, K, K)
    return windows[:, ::stride, ::stride].transpose(0, 1, 2, 4, 5, 3), xp.shape


def conv2d_forward(x, w, b, stride, pads, activation="identity", alpha=0.01):
    """y = f(conv(x, w) + b): y[n, i, j, f] = sum over (kh, kw, c) of xpad[n, i*s + kh, j*s + kw, c] w[kh, kw, c, f]."""
    w = np.asarray(w, np.float64)
    patches, _ = _patches(x, w.shape[0], stride, pads)
    return activate(np.einsum("nijabc,abcf->nijf", patches, w) + np.asarray(b, np.float64), activation, alpha)


def conv2d_backward(dy, x, w, b, stride, pads, activation="identity", alpha=0.01):
    """(dx, dw, db) for y = conv2d_forward(x, w, b, ...), given dy, the gradient wrt y."""
    w = np.asarray(w, np.float64)
    K = w.shape[0]
    y = conv2d_forward(x, w, b, stride, pads, activation, alpha)
    dz = activate_backward(dy, y, activation, alpha)
    patches, padded_shape = _patches(x, K, stride, pads)
    dw = np.einsum("nijabc,nijf->abcf", patches, dz)
    dpatches = np.einsum("nijf,abcf->nijabc", dz, w)
    dxp = np.zeros(padded_shape)
    Ho, Wo = dz.shape[1:3]
    for kh in range(K):
        for kw in range(K):
            dxp[:, kh:kh + stride * (Ho - 1) + 1:stride, kw:kw + stride * (Wo - 1) + 1:stride] += dpatches[:, :, :, kh, kw]
    (top, _), (left, _) = pads
    H, W = np.shape(x)[1:3]
    return dxp[:, top:top + H, left:left + W], dw, dz.sum(axis=(0, 1, 2))


def maxpool_forward(x, p):
    """(y, argmax): the max of each P x P window, stride P, trailing rows and columns dropped; argmax is the
    window's first maximum in row-major order (0 .. P*P-1), as PyTorch picks it."""
    x = np.asarray(x, np.float64)
    N, H, W, C = x.shape
    Ho, Wo = H // p, W // p
    windows = x[:, :Ho * p, :Wo * p].reshape(N, Ho, p, Wo, p, C).transpose(0, 1, 3, 5, 2, 4).reshape(N, Ho, Wo, C, p * p)
    argmax = windows.argmax(axis=-1)
    return np.take_along_axis(windows, argmax[..., None], axis=-1)[..., 0], argmax


def maxpool_backward(dy, argmax, x_shape, p):
    """dx: each output's gradient goes to its window's argmax, zero elsewhere."""
    N, H, W, C = x_shape
    Ho, Wo = argmax.shape[1:3]
    windows = np.zeros((N, Ho, Wo, C, p * p))
    np.put_along_axis(windows, argmax[..., None], np.asarray(dy, np.float64)[..., None], axis=-1)
    dx = np.zeros(x_shape)
    dx[:, :Ho * p, :Wo * p] = windows.reshape(N, Ho, Wo, C, p, p).transpose(0, 1, 4, 2, 5, 3).reshape(N, Ho * p, Wo * p, C)
    return dx
