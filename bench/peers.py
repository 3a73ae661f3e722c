"""The peers pynn is measured against: the same work written the way one would in PyTorch (on the CPU) and in
plain numpy (its matrix multiply is OpenBLAS or whatever BLAS numpy was built with).

Each `run_<peer>(w, data)` prepares untimed and returns a callable doing the timed work once, like
bench/workloads.py does for pynn. The PyTorch versions are the idiomatic fast ones (tensors made once,
index a permutation per batch, fused nn.LSTM, inference_mode); they skip what pynn's Trainer does on top
(per-layer gradient norms, the last-good copy), so any ratio leans, if anything, in PyTorch's favour.
"""
from __future__ import annotations

import numpy as np

from bench.workloads import Unavailable, Workload


# -- PyTorch -------------------------------------------------------------------------------------------------

def _torch():
    try:
        import torch
    except ImportError:
        raise Unavailable("PyTorch is not installed (pip install 'pynn[bench]')") from None
    return torch


def _torch_mlp(torch, w: Workload):
    nn = torch.nn
    act = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU}[w.activation]
    layers = []
    for a, b in zip(w.sizes[:-1], w.sizes[1:]):
        layers += [nn.Linear(a, b), act()]
    return nn.Sequential(*layers[:-1])


def _torch_conv(torch, w: Workload):
    """The conv spec (28x28-conv8k5-pool2-...-10) as nn.Conv2d/MaxPool2d/Linear, NCHW as PyTorch has it."""
    nn = torch.nn
    tokens = w.spec.split("-")
    channels, layers, flat = 1, [], None
    side = int(tokens[0].split("x")[0])
    for token in tokens[1:]:
        if token.startswith("conv"):
            filters, k = map(int, token[4:].split("k"))
            layers += [nn.Conv2d(channels, filters, k), nn.ReLU()]
            channels, side = filters, side - k + 1
        elif token.startswith("pool"):
            layers.append(nn.MaxPool2d(int(token[4:])))
            side //= int(token[4:])
        else:
            if flat is None:
                flat = channels * side * side
                layers.append(nn.Flatten())
            layers += [nn.Linear(flat, int(token)), nn.ReLU()]
            flat = int(token)
    return nn.Sequential(*layers[:-1])


def _torch_optimizer(torch, w: Workload, params):
    if w.optimizer == "sgd":
        return torch.optim.SGD(params, lr=w.lr)
    return torch.optim.Adam(params, lr=w.lr)


def _torch_epoch(torch, net, opt, loss_fn, xt, yt, batch, reshape=None):
    def epoch():
        order = torch.randperm(len(xt))
        for start in range(0, len(xt), batch):
            idx = order[start:start + batch]
            opt.zero_grad(set_to_none=True)
            out, target = net(xt[idx]), yt[idx]
            if reshape:
                out, target = reshape(out, target)
            loss_fn(out, target).backward()
            opt.step()
    return epoch


def run_torch(w: Workload, data):
    torch = _torch()
    torch.manual_seed(0)
    if w.kind == "gemm":
        a, b, out = map(torch.from_numpy, data)
        return lambda: torch.matmul(a, b, out=out)
    if w.kind == "mlp":
        x, y = data
        net = _torch_mlp(torch, w)
        opt = _torch_optimizer(torch, w, net.parameters())
        return _torch_epoch(torch, net, opt, torch.nn.CrossEntropyLoss(), torch.from_numpy(x),
                            torch.from_numpy(y), w.batch)
    if w.kind == "lstm":
        x, y = data
        nn = torch.nn

        class Recurrent(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = nn.LSTM(w.features, w.units, batch_first=True)
                self.head = nn.Linear(w.units, w.head)

            def forward(self, inputs):
                out, _ = self.lstm(inputs)
                return self.head(out if w.per_step else out[:, -1])

        net = Recurrent()
        opt = torch.optim.Adam(net.parameters(), lr=w.lr)
        if w.per_step:
            return _torch_epoch(torch, net, opt, nn.CrossEntropyLoss(), torch.from_numpy(x), torch.from_numpy(y),
                                w.batch, lambda out, t: (out.reshape(-1, w.head), t.reshape(-1)))
        return _torch_epoch(torch, net, opt, nn.MSELoss(), torch.from_numpy(x), torch.from_numpy(y), w.batch)
    if w.kind == "conv":
        x, y = data
        net = _torch_conv(torch, w)
        opt = torch.optim.Adam(net.parameters(), lr=w.lr)
        side = int(round(np.sqrt(x.shape[1])))
        return _torch_epoch(torch, net, opt, torch.nn.CrossEntropyLoss(),
                            torch.from_numpy(x.reshape(-1, 1, side, side)), torch.from_numpy(y), w.batch)
    if w.kind == "predict":
        net = _torch_mlp(torch, w)
        xt = torch.from_numpy(data)

        def predict():
            with torch.inference_mode():
                return torch.softmax(net(xt), dim=1).numpy()
        return predict
    raise Unavailable("PyTorch does not draw terminal pictures")


# -- numpy ---------------------------------------------------------------------------------------------------

F32 = np.float32


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow warnings, float32 in and out


class _Adam:
    """Adam over a list of arrays, in place, float32 throughout."""

    def __init__(self, params, lr, kind):
        self.params, self.lr, self.kind, self.t = params, lr, kind, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def step(self, grads):
        if self.kind == "sgd":
            for p, g in zip(self.params, grads):
                p -= F32(self.lr) * g
            return
        self.t += 1
        step = F32(self.lr * np.sqrt(1 - 0.999 ** self.t) / (1 - 0.9 ** self.t))
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= F32(0.9)
            m += F32(0.1) * g
            v *= F32(0.999)
            v += F32(0.001) * g * g
            p -= step * m / (np.sqrt(v) + F32(1e-8))


class _NumpyMLP:
    def __init__(self, w: Workload):
        rng = np.random.default_rng(0)
        pairs = list(zip(w.sizes[:-1], w.sizes[1:]))
        self.W = [(rng.standard_normal((b, a)) / np.sqrt(a)).astype(F32) for a, b in pairs]
        self.b = [np.zeros(b, F32) for _, b in pairs]
        self.sigmoid = w.activation == "sigmoid"
        self.opt = _Adam(self.W + self.b, w.lr, w.optimizer)

    def forward(self, x):
        acts = [x]
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            z = acts[-1] @ W.T + b
            if i < len(self.W) - 1:
                z = _sigmoid(z) if self.sigmoid else np.maximum(z, F32(0))
            acts.append(z)
        return acts

    def step(self, x, y):
        acts = self.forward(x)
        z = acts[-1] - acts[-1].max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(y)), y] -= 1
        dz = p / F32(len(y))
        gW, gb = [None] * len(self.W), [None] * len(self.W)
        for i in range(len(self.W) - 1, -1, -1):
            gW[i], gb[i] = dz.T @ acts[i], dz.sum(axis=0)
            if i:
                da = dz @ self.W[i]
                a = acts[i]
                dz = da * a * (F32(1) - a) if self.sigmoid else da * (a > 0)
        self.opt.step(gW + gb)


class _NumpyLSTM:
    """One LSTM layer (gates i, f, g, o from one multiply per step, the input projection for all steps in
    one multiply up front) and a dense head, with backpropagation through time."""

    def __init__(self, w: Workload):
        rng = np.random.default_rng(0)
        h, f = w.units, w.features
        s = 1 / np.sqrt(h)
        self.Wx = rng.uniform(-s, s, (4 * h, f)).astype(F32)
        self.Wh = rng.uniform(-s, s, (4 * h, h)).astype(F32)
        self.b = np.zeros(4 * h, F32)
        self.Wd = rng.uniform(-s, s, (w.head, h)).astype(F32)
        self.bd = np.zeros(w.head, F32)
        self.w = w
        self.opt = _Adam([self.Wx, self.Wh, self.b, self.Wd, self.bd], w.lr, "adam")

    def step(self, x, y):
        w, H = self.w, self.w.units
        B, T, _ = x.shape
        xproj = (x.reshape(B * T, -1) @ self.Wx.T + self.b).reshape(B, T, 4 * H)
        h, c = np.zeros((B, H), F32), np.zeros((B, H), F32)
        hs, cs, gates = [h], [c], []
        for t in range(T):
            g = xproj[:, t] + h @ self.Wh.T
            i, f, o = _sigmoid(g[:, :H]), _sigmoid(g[:, H:2 * H]), _sigmoid(g[:, 3 * H:])
            gg = np.tanh(g[:, 2 * H:3 * H])
            c = f * c + i * gg
            h = o * np.tanh(c)
            hs.append(h)
            cs.append(c)
            gates.append((i, f, gg, o))
        if w.per_step:
            top = np.stack(hs[1:], axis=1).reshape(B * T, H)
            z = top @ self.Wd.T + self.bd
            p = np.exp(z - z.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(B * T), y.reshape(-1)] -= 1
            dz = p / F32(B * T)
            dhs = (dz @ self.Wd).reshape(B, T, H)
        else:
            top = hs[-1]
            dz = (top @ self.Wd.T + self.bd - y) / F32(B)
            dhs = np.zeros((B, T, H), F32)
            dhs[:, -1] = dz @ self.Wd
        gWd, gbd = dz.T @ top, dz.sum(axis=0)
        dproj = np.empty((B, T, 4 * H), F32)
        gWh = np.zeros_like(self.Wh)
        dh_next, dc = np.zeros((B, H), F32), np.zeros((B, H), F32)
        for t in range(T - 1, -1, -1):
            i, f, gg, o = gates[t]
            dh = dhs[:, t] + dh_next
            tc = np.tanh(cs[t + 1])
            dc = dc + dh * o * (F32(1) - tc * tc)
            dg = dproj[:, t]
            dg[:, :H] = dc * gg * i * (F32(1) - i)
            dg[:, H:2 * H] = dc * cs[t] * f * (F32(1) - f)
            dg[:, 2 * H:3 * H] = dc * i * (F32(1) - gg * gg)
            dg[:, 3 * H:] = dh * tc * o * (F32(1) - o)
            gWh += dg.T @ hs[t]
            dh_next = dg @ self.Wh
            dc = dc * f
        flat = dproj.reshape(B * T, 4 * H)
        self.opt.step([flat.T @ x.reshape(B * T, -1), gWh, flat.sum(axis=0), gWd, gbd])


class _NumpyConv:
    """The conv spec in numpy, NHWC: each convolution one matmul over im2col patches (sliding_window_view),
    max pooling by reshaping into windows, then the dense layers; backward by hand, Adam as above."""

    def __init__(self, w: Workload):
        rng = np.random.default_rng(0)
        tokens = w.spec.split("-")
        side, channels = int(tokens[0].split("x")[0]), 1
        self.layers, params = [], []
        for token in tokens[1:]:
            if token.startswith("conv"):
                filters, k = map(int, token[4:].split("k"))
                fan_in = k * k * channels
                W = (rng.standard_normal((fan_in, filters)) * np.sqrt(2 / fan_in)).astype(F32)
                self.layers.append(("conv", k, W, np.zeros(filters, F32)))
                channels, side = filters, side - k + 1
            elif token.startswith("pool"):
                self.layers.append(("pool", int(token[4:]), None, None))
                side //= int(token[4:])
            else:
                n_in = side * side * channels if self.layers[-1][0] != "dense" else self.layers[-1][2].shape[0]
                W = (rng.standard_normal((int(token), n_in)) * np.sqrt(2 / n_in)).astype(F32)
                self.layers.append(("dense", 0, W, np.zeros(int(token), F32)))
        params = [p for _, _, W, b in self.layers if W is not None for p in (W, b)]
        self.side = int(tokens[0].split("x")[0])
        self.opt = _Adam(params, w.lr, "adam")

    @staticmethod
    def _patches(a, k):
        windows = np.lib.stride_tricks.sliding_window_view(a, (k, k), axis=(1, 2))  # (N, Ho, Wo, C, k, k)
        n, ho, wo = windows.shape[:3]
        return windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * ho * wo, -1), (n, ho, wo)

    def step(self, x, y):
        a = x.reshape(len(x), self.side, self.side, 1)
        caches = []
        last_dense = max(i for i, layer in enumerate(self.layers) if layer[0] == "dense")
        for i, (kind, k, W, b) in enumerate(self.layers):
            if kind == "conv":
                cols, (n, ho, wo) = self._patches(a, k)
                z = np.maximum(cols @ W + b, F32(0))
                caches.append((a.shape, cols, z))
                a = z.reshape(n, ho, wo, -1)
            elif kind == "pool":
                n, h, wd, c = a.shape
                win = a[:, :h // k * k, :wd // k * k].reshape(n, h // k, k, wd // k, k, c)
                out = win.max(axis=(2, 4))
                caches.append((a.shape, win == out[:, :, None, :, None], None))
                a = out
            else:
                flat = a.reshape(len(a), -1)
                z = flat @ W.T + b
                if i < last_dense:
                    z = np.maximum(z, F32(0))
                caches.append((a.shape, flat, z))
                a = z
        z = a - a.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(y)), y] -= 1
        d = p / F32(len(y))
        grads = []
        for i in range(len(self.layers) - 1, -1, -1):
            kind, k, W, b = self.layers[i]
            shape, saved, z = caches[i]
            if kind == "dense":
                if i < last_dense:
                    d = d * (z > 0)
                grads += [d.sum(axis=0), d.T @ saved]
                d = (d @ W).reshape(shape)
            elif kind == "pool":
                n, h, wd, c = shape
                dwin = saved * d[:, :, None, :, None]  # ties share the gradient: fine for timing
                d = np.zeros(shape, F32)
                d[:, :h // k * k, :wd // k * k] = dwin.reshape(n, h // k * k, wd // k * k, c)
            else:
                dz = d.reshape(len(saved), -1) * (z > 0)
                grads += [dz.sum(axis=0), saved.T @ dz]
                if i:
                    dcols = (dz @ W.T).reshape(*d.shape[:3], k, k, shape[3])
                    d = np.zeros(shape, F32)
                    for kh in range(k):
                        for kw in range(k):
                            d[:, kh:kh + dcols.shape[1], kw:kw + dcols.shape[2]] += dcols[:, :, :, kh, kw]
        grads = grads[::-1]  # (W, b) per layer, input side first, as the optimiser holds them
        self.opt.step(grads)


def _numpy_epoch(net, x, y, batch):
    rng = np.random.default_rng(0)

    def epoch():
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch):
            idx = order[start:start + batch]
            net.step(x[idx], y[idx])
    return epoch


def run_numpy(w: Workload, data):
    if w.kind == "gemm":
        a, b, out = data
        return lambda: np.matmul(a, b, out=out)
    if w.kind == "mlp":
        return _numpy_epoch(_NumpyMLP(w), *data, w.batch)
    if w.kind == "lstm":
        return _numpy_epoch(_NumpyLSTM(w), *data, w.batch)
    if w.kind == "conv":
        return _numpy_epoch(_NumpyConv(w), *data, w.batch)
    if w.kind == "predict":
        net = _NumpyMLP(w)

        def predict():
            z = net.forward(data)[-1]
            p = np.exp(z - z.max(axis=1, keepdims=True))
            return p / p.sum(axis=1, keepdims=True)
        return predict
    return _numpy_render(w)


def _numpy_render(w: Workload):
    """The same picture as pynn's (30 maps of 28x28, half-block cells, blue/red 24-bit colour, 5 per row)
    built with numpy: quantise, look up escape codes, join."""
    net = _NumpyMLP(w)
    levels = np.linspace(-1, 1, 256)
    zero, pos, neg = np.array([28, 28, 28]), np.array([40, 120, 255]), np.array([235, 50, 40])
    rgb = np.where(levels[:, None] > 0, zero + (pos - zero) * levels[:, None],
                   zero + (neg - zero) * -levels[:, None]).round().astype(int)
    fg = np.array([f"\x1b[38;2;{r};{g};{b}m" for r, g, b in rgb], dtype=object)
    bg = np.array([f"\x1b[48;2;{r};{g};{b}m" for r, g, b in rgb], dtype=object)

    def render() -> str:
        maps = net.W[0].reshape(-1, 28, 28)
        q = np.clip(((maps / np.abs(maps).max() + 1) * 127.5).astype(int), 0, 255)
        cells = fg[q[:, 0::2]] + bg[q[:, 1::2]] + "\u2580"          # (30, 14, 28) strings
        lines = []
        for row in range(0, len(maps), 5):
            lines.append("   ".join(f"h{i + 1}".ljust(28) for i in range(row, min(row + 5, len(maps)))))
            for y in range(cells.shape[1]):
                lines.append("\x1b[0m   ".join("".join(cells[i, y]) for i in range(row, min(row + 5, len(maps))))
                             + "\x1b[0m")
        return "\n".join(lines)

    return render
