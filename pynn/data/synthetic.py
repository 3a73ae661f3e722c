"""Small seeded synthetic datasets for quick experiments and tests."""
from __future__ import annotations

import numpy as np

from pynn.data.dataset import CLASSIFICATION, Dataset


def xor(seed: int = 0, n: int | None = None) -> Dataset:
    """The four XOR patterns, repeated: the smallest problem a network without a hidden layer cannot solve."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    y = np.array([0, 1, 1, 0], np.int32)
    reps = max(1, (n or 64) // 4)
    return Dataset("xor", np.tile(x, (reps, 1)), np.tile(y, reps), x.copy(), y.copy(), (2,), CLASSIFICATION,
                   ["0", "1"], source="synthetic")
