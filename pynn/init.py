"""Weight initialisers, seeded. Biases start at zero except under `normal`, which follows Nielsen's network.py
and draws them from randn too."""
from __future__ import annotations

import numpy as np

from pynn.errors import PynnError

INITIALISERS = {
    "normal": "randn: standard normal weights and biases, the 'large' initialisation",
    "lecun": "randn / sqrt(n_in): keeps each neuron's input sum near unit variance",
    "xavier": "randn / sqrt(n_in), as Nielsen's book names it (same as lecun)",
    "he": "randn * sqrt(2 / n_in): for ReLU layers, which zero half their inputs",
}


def weight_scale(init: str, n_in: int) -> float:
    if init == "normal":
        return 1.0
    if init in ("lecun", "xavier"):
        return 1.0 / np.sqrt(n_in)
    if init == "he":
        return np.sqrt(2.0 / n_in)
    raise PynnError(f"Unknown initialisation {init!r}; choose one of {', '.join(INITIALISERS)}.")


def initialise(W: np.ndarray, b: np.ndarray, init: str, rng: np.random.Generator) -> None:
    """Fill W (n_out, n_in) and b in place."""
    W[...] = rng.standard_normal(W.shape) * weight_scale(init, W.shape[-1])
    b[...] = rng.standard_normal(b.shape) if init == "normal" else 0.0
