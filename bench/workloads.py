"""The benchmark's workloads: what each one computes, its data, its arithmetic, and how pynn runs it.

Each workload's `run_<impl>(data, scale)` prepares everything untimed and returns a callable that does the
timed work once; bench/run.py times it in a fresh process per (workload, implementation). The peers'
versions of the same work live in bench/peers.py.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    kind: str                 # "mlp", "lstm", "predict", "render", "conv"
    sizes: tuple = ()         # dense layer widths, input first (mlp, predict)
    activation: str = "relu"
    optimizer: str = "adam"
    lr: float = 1e-3
    batch: int = 32
    steps: int = 20           # lstm: sequence length
    features: int = 1         # lstm: inputs per step
    units: int = 0            # lstm: hidden units
    head: int = 0             # lstm: outputs of the dense head
    per_step: bool = False    # lstm: the head applies at every step (return sequences)
    spec: str = ""            # conv: the model as pynn writes it (stride 1, valid padding, pool stride = size)
    n: int = 60000            # samples (mlp, predict) or sequences (lstm) in one timed run
    quick_n: int = 6000

    def samples(self, quick: bool) -> int:
        return self.quick_n if quick else self.n

    def flops(self, quick: bool) -> float:
        """Floating-point operations of the multiplies in one timed run (elementwise work not counted): a
        dense layer costs 2 m n_in n_out forward, as much for dW and again for dx below the first layer."""
        m = self.samples(quick)
        if self.kind in ("mlp", "predict"):
            pairs = list(zip(self.sizes[:-1], self.sizes[1:]))
            forward = sum(2.0 * m * a * b for a, b in pairs)
            if self.kind == "predict":
                return forward
            return 2 * forward + sum(2.0 * m * a * b for a, b in pairs[1:])
        if self.kind == "lstm":
            gates = 2.0 * m * self.steps * 4 * self.units * (self.features + self.units)
            head = 2.0 * m * (self.steps if self.per_step else 1) * self.units * self.head
            return 3 * (gates + head)  # forward, then dW and dx of the same size in backward
        if self.kind == "conv":
            return m * conv_net_flops(self.spec)
        if self.kind == "gemm":
            return 2.0 * m ** 3
        return 0.0


def conv_net_flops(spec: str) -> float:
    """One sample's multiply flops through a conv spec (28x28-conv8k5-pool2-...-10), forward and backward:
    a conv costs 2 Ho Wo K K C F forward, as much for dw, and again for dx except on the first layer; a dense
    layer likewise with 2 n_in n_out; pooling is not counted."""
    tokens = spec.split("-")
    H, W, *C = map(int, tokens[0].split("x"))
    shape, total, first = [H, W, C[0] if C else 1], 0.0, True
    for token in tokens[1:]:
        if token.startswith("conv"):
            F, K = map(int, token[4:].split("k"))
            H, W, C = shape if len(shape) == 3 else (1, 1, shape[0])
            forward = 2.0 * (H - K + 1) * (W - K + 1) * K * K * C * F
            shape = [H - K + 1, W - K + 1, F]
        elif token.startswith("pool"):
            P = int(token[4:])
            shape = [shape[0] // P, shape[1] // P, shape[2]]
            continue
        else:
            n_in, n_out = int(np.prod(shape)), int(token)
            forward, shape = 2.0 * n_in * n_out, [n_out]
        total += forward * (2 if first else 3)
        first = False
    return total


WORKLOADS = {w.key: w for w in [
    Workload("W0", "sgemm 2048x2048 by 2048x2048 alone, float32", "gemm", n=2048, quick_n=1024),
    Workload("W1", "784-30-10 sigmoid, SGD, batch 10, one epoch", "mlp", (784, 30, 10), "sigmoid", "sgd", 0.1,
             batch=10),
    Workload("W2", "784-256-128-10 relu, Adam, batch 128, one epoch", "mlp", (784, 256, 128, 10), batch=128),
    Workload("W3", "784-1024-1024-10 relu, Adam, batch 256, one epoch", "mlp", (784, 1024, 1024, 10),
             batch=256, quick_n=3072),
    Workload("W4", "LSTM 20x1, 300 units, Dense 20, Adam, batch 32", "lstm", batch=32, steps=20, features=1,
             units=300, head=20, n=3200, quick_n=640),
    Workload("W5", "LSTM 50x65, 128 units, per-step Dense 65, Adam, batch 32", "lstm", batch=32, steps=50,
             features=65, units=128, head=65, per_step=True, n=3200, quick_n=640),
    Workload("W6", "predict 10,000 digits with 784-30-10", "predict", (784, 30, 10), "sigmoid", n=10000,
             quick_n=10000),
    Workload("W7", "render the 30 weight maps of 784-30-10", "render", (784, 30, 10), "sigmoid", n=30,
             quick_n=30),
    Workload("W8", "28x28-conv8k5-pool2-conv16k5-pool2-100-10, Adam, batch 64", "conv",
             batch=64, spec="28x28-conv8k5-pool2-conv16k5-pool2-100-10", quick_n=6400),
]}


class Unavailable(Exception):
    """This implementation cannot run this workload here (a module not written yet, a peer not installed)."""


# -- data ----------------------------------------------------------------------------------------------------

def _read_idx(path: Path) -> np.ndarray:
    from pynn.data import read_idx
    return read_idx(path)


def fashion_mnist(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first n Fashion-MNIST training images as float32 (n, 784) in [0, 1] and int64 labels; pynn's own
    loader when it has one, else the Debian package's IDX files."""
    try:
        from pynn.data import load_dataset
        data = load_dataset("fashion-mnist")
        x, y = data.x_train, data.y_train
    except Exception:  # the loader is being written; the files are the same
        if not FASHION_DIR.is_dir():
            raise Unavailable("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)") from None
        x = _read_idx(FASHION_DIR / "train-images-idx3-ubyte.gz")
        y = _read_idx(FASHION_DIR / "train-labels-idx1-ubyte.gz")
    x = x[:n].reshape(min(n, len(x)), -1)
    if x.dtype == np.uint8:
        x = np.multiply(x, np.float32(1 / 255), dtype=np.float32)
    return np.ascontiguousarray(x, np.float32), np.asarray(y[:n], np.int64)


def digits(n: int) -> np.ndarray:
    """The 10,000 MNIST test digits bundled with pynn, float32 (n, 784)."""
    images = _read_idx(ROOT / "pynn" / "data" / "digits" / "t10k-images-idx3-ubyte.gz")[:n]
    return np.multiply(images.reshape(len(images), -1), np.float32(1 / 255), dtype=np.float32)


def sequences(w: Workload, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (n, steps, features) and targets for an LSTM workload: noisy sine windows and the next `head`
    values (W4), or one-hot characters and the next character at every step (W5)."""
    rng = np.random.default_rng(0)
    if not w.per_step:
        t = rng.uniform(0, 100, (n, 1)) + 0.1 * np.arange(w.steps + w.head)
        series = (np.sin(t) + 0.05 * rng.standard_normal(t.shape)).astype(np.float32)
        return series[:, :w.steps, None].copy(), series[:, w.steps:].copy()
    chars = rng.integers(0, w.features, (n, w.steps + 1))
    x = np.zeros((n, w.steps, w.features), np.float32)
    np.put_along_axis(x, chars[:, :-1, None], 1.0, axis=2)
    return x, chars[:, 1:].astype(np.int64)


def data_for(w: Workload, quick: bool):
    n = w.samples(quick)
    if w.kind in ("mlp", "conv"):
        return fashion_mnist(n)  # flat 784 per image: a conv model reads it as 28x28x1
    if w.kind == "lstm":
        return sequences(w, n)
    if w.kind == "gemm":  # two n x n matrices and the product's place
        rng = np.random.default_rng(0)
        return rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32), np.empty((n, n), np.float32)
    return digits(n)


# -- pynn ----------------------------------------------------------------------------------------------------

def _pynn_mlp(w: Workload):
    from pynn.model import build_model
    spec = "-".join(map(str, w.sizes))
    return build_model(spec, hidden_activation=w.activation, seed=0)


def _pynn_conv(w: Workload):
    from pynn.errors import PynnError
    from pynn.model import build_model
    try:
        return build_model(w.spec, hidden_activation=w.activation, seed=0)
    except PynnError as err:  # a pynn without conv layers
        raise Unavailable(str(err)) from None


def run_pynn(w: Workload, data):
    from pynn.run import RunConfig
    from pynn.train import Trainer

    if w.kind in ("mlp", "conv"):
        x, y = data
        model = _pynn_mlp(w) if w.kind == "mlp" else _pynn_conv(w)
        config = RunConfig(epochs=1, batch=w.batch, optimizer=w.optimizer, lr=w.lr)
        return lambda: Trainer(model, config, eval_train=False).fit(x, y)
    if w.kind == "lstm":
        from pynn.errors import PynnError
        from pynn.model import build_model
        x, y = data
        spec = f"{w.steps}x{w.features}-lstm{w.units}{'*' if w.per_step else ''}-{w.head}"
        try:
            model = build_model(spec, task="classification" if w.per_step else "regression", n_outputs=w.head)
        except PynnError as err:
            raise Unavailable(str(err)) from None
        config = RunConfig(epochs=1, batch=w.batch, optimizer="adam", lr=w.lr)
        return lambda: Trainer(model, config, eval_train=False).fit(x, y)
    if w.kind == "predict":
        model = _pynn_mlp(w)
        return lambda: model.predict(data)
    if w.kind == "gemm":
        from pynn import core
        a, b, out = data
        return lambda: core.sgemm(a, b, out=out)
    return _pynn_render(w)


def _pynn_render(w: Workload):
    try:
        from rich.console import Console

        from pynn.inspect.weights import weight_maps
        from pynn_tui.render.heatmap import map_grid
    except ImportError as err:
        raise Unavailable(f"the heat-map renderer is not there yet ({err})") from None
    # the input is a 28x28 image, as the numpy peer draws it (without the shape pynn would draw 784-long strips)
    from pynn.model import build_model
    model = build_model("28x28-" + "-".join(map(str, w.sizes[1:])), hidden_activation=w.activation, seed=0)

    def render() -> str:
        maps = weight_maps(model, 1)
        console = Console(file=io.StringIO(), force_terminal=True, color_system="truecolor", width=160)
        console.print(map_grid(maps.maps, [f"h{i + 1}" for i in range(len(maps.maps))]))
        return console.file.getvalue()

    return render
