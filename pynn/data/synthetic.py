"""Small seeded synthetic datasets for quick experiments and tests: 2-D classification sets and a sine series."""
from __future__ import annotations

import numpy as np

from pynn.data.dataset import CLASSIFICATION, Dataset
from pynn.data.series import series_dataset

SOURCE = "synthetic, seeded"


def _split(name, x, y, rng, classes, test_fraction=0.25) -> Dataset:
    order = rng.permutation(len(x))
    n_test = max(1, int(len(x) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return Dataset(name, x[train], y[train], x[test], y[test], (x.shape[1],), CLASSIFICATION,
                   [str(c) for c in range(classes)], source=SOURCE)


def xor(seed: int = 0, n: int | None = None) -> Dataset:
    """The four XOR patterns, repeated: the smallest problem a network without a hidden layer cannot solve."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    y = np.array([0, 1, 1, 0], np.int32)
    reps = max(1, (n or 64) // 4)
    return Dataset("xor", np.tile(x, (reps, 1)), np.tile(y, reps), x.copy(), y.copy(), (2,), CLASSIFICATION,
                   ["0", "1"], source=SOURCE)


def spiral(seed: int = 0, n: int | None = None, classes: int = 3) -> Dataset:
    """Interleaved spiral arms, one class each: needs a hidden layer that bends space a lot."""
    rng = np.random.default_rng(seed)
    per = (n or 900) // classes
    r = np.tile(np.linspace(0.05, 1.0, per), classes)
    y = np.repeat(np.arange(classes), per).astype(np.int32)
    t = y * (2 * np.pi / classes) + r * 4.0 + rng.normal(0, 0.2, len(r))
    x = np.stack([r * np.sin(t), r * np.cos(t)], axis=1).astype(np.float32)
    return _split("spiral", x, y, rng, classes)


def circles(seed: int = 0, n: int | None = None) -> Dataset:
    """A disc inside a ring: not separable by any straight line."""
    rng = np.random.default_rng(seed)
    m = n or 800
    y = (np.arange(m) % 2).astype(np.int32)
    radius = np.where(y == 0, 0.4, 1.0) + rng.normal(0, 0.08, m)
    angle = rng.uniform(0, 2 * np.pi, m)
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1).astype(np.float32)
    return _split("circles", x, y, rng, 2)


def moons(seed: int = 0, n: int | None = None) -> Dataset:
    """Two interlocking half-moons."""
    rng = np.random.default_rng(seed)
    m = n or 800
    y = (np.arange(m) % 2).astype(np.int32)
    angle = rng.uniform(0, np.pi, m)
    x = np.where(y[:, None] == 0, np.stack([np.cos(angle), np.sin(angle)], 1),
                 np.stack([1 - np.cos(angle), 0.5 - np.sin(angle)], 1))
    x = (x + rng.normal(0, 0.1, x.shape)).astype(np.float32)
    return _split("moons", x, y, rng, 2)


def sine(seed: int = 0, n: int | None = None, lookback: int | None = None, horizon: int | None = None,
         noise: float = 0.1, difference: bool = False) -> Dataset:
    """A noisy sine series (period 50) cut into windows: `lookback` steps in (default 20), the next `horizon`
    steps out (default 1)."""
    lookback, horizon = 20 if lookback is None else lookback, 1 if horizon is None else horizon
    rng = np.random.default_rng(seed)
    length = (n or 2000) + lookback + horizon
    t = np.arange(length, dtype=np.float64)
    series = np.sin(2 * np.pi * t / 50.0) + noise * rng.standard_normal(length)
    return series_dataset("sine", series, lookback, horizon, SOURCE, difference=difference)


GENERATORS = {"xor": xor, "spiral": spiral, "circles": circles, "moons": moons, "sine": sine}
