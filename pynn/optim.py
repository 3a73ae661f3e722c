"""Optimisers: each keeps its state in flat buffers shaped like the model's and updates it in one C call."""
from __future__ import annotations

import numpy as np

from pynn import core
from pynn.errors import PynnError
from pynn.run import DEFAULT_LR


class Optimizer:
    def __init__(self, name: str, lr: float | None = None, momentum: float = 0.9,
                 beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        if name not in DEFAULT_LR:
            raise PynnError(f"Unknown optimizer {name!r}; choose sgd, momentum or adam.")
        self.name = name
        self.lr = DEFAULT_LR[name] if lr is None else float(lr)
        if not np.isfinite(self.lr) or self.lr <= 0:
            raise PynnError(f"The learning rate must be a positive number, not {lr}.")
        self.momentum, self.beta1, self.beta2, self.eps = momentum, beta1, beta2, eps
        self.t = 0
        self.state: list[np.ndarray] = []

    def step(self, params: np.ndarray, grads: np.ndarray, n_decay: int, decay: float) -> None:
        """One update of the flat parameter buffer; decay is the L2 coefficient on the first n_decay values."""
        if not self.state:
            n_state = {"sgd": 0, "momentum": 1, "adam": 2}[self.name]
            self.state = [np.zeros_like(params) for _ in range(n_state)]
        self.t += 1
        if self.name == "sgd":
            core.sgd_update(params, grads, lr=self.lr, n_decay=n_decay, decay=decay)
        elif self.name == "momentum":
            core.momentum_update(params, grads, self.state[0], lr=self.lr, mu=self.momentum, n_decay=n_decay,
                                 decay=decay)
        else:
            core.adam_update(params, grads, *self.state, lr=self.lr, t=self.t, beta1=self.beta1,
                             beta2=self.beta2, eps=self.eps, n_decay=n_decay, decay=decay)

    def load_state_dict(self, d: dict) -> None:
        self.t = int(d["t"])
        self.state = [np.array(s, np.float32) for s in d["state"]]
