"""Small seeded synthetic datasets for quick experiments and tests: a three-armed spiral and a sine series (the
Playground's 2-D sets are in playground.py)."""
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


def spiral3(seed: int = 0, n: int | None = None, classes: int = 3) -> Dataset:
    """Three interleaved spiral arms, one class each: needs a hidden layer that bends space a lot."""
    rng = np.random.default_rng(seed)
    per = (n or 900) // classes
    r = np.tile(np.linspace(0.05, 1.0, per), classes)
    y = np.repeat(np.arange(classes), per).astype(np.int32)
    t = y * (2 * np.pi / classes) + r * 4.0 + rng.normal(0, 0.2, len(r))
    x = np.stack([r * np.sin(t), r * np.cos(t)], axis=1).astype(np.float32)
    return _split("spiral3", x, y, rng, classes)


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


GENERATORS = {"spiral3": spiral3, "sine": sine}  # the Playground sets live in playground.py
