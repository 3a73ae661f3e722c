"""The LSTM layer: a whole sequence per call into the C core, and the gate traces the library shows.

An LSTM of U units on n_in features has one weight set, reused at every step: Wx (4U, n_in), Wh (4U, U) and
b (4U), the four blocks being the input, forget and output gates and the candidate cell value. Its outputs
are the hidden states h_t, one per step (all of them with return_sequences, else the last); its states are
the pair (h_t, c_t) carried from one step to the next. A window starts from the zero state, or, read statefully
(a stream's windows one after another), from the state the stream's previous window ended in.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from pynn import core
from pynn.errors import PynnError
from pynn.layers import Layer, ParamSpec, real_number, whole_number
from pynn.words import plural

GATES = ("input", "forget", "candidate", "output")


def lstm_param_counts(n_in: int, units: int) -> dict[str, int]:
    """Parameters in the Keras convention (one bias per gate) and the PyTorch one (two: b_ih and b_hh)."""
    weights = 4 * units * (n_in + units)
    return {"keras": weights + 4 * units, "pytorch": weights + 8 * units}


class LSTMCache(NamedTuple):
    """What one forward call computed, all of it kept for backward and for the gate traces."""
    x: np.ndarray               # (B, T, n_in)
    h: np.ndarray               # (B, T, U) the hidden state after every step
    c: np.ndarray               # (B, T, U) the cell state after every step
    gates: np.ndarray           # (B, T, 4U) after their nonlinearities, in the blocks input, forget, candidate, output
    h0: np.ndarray | None = None  # (B, U) the state the window started from (None: zero)
    c0: np.ndarray | None = None


class LSTM(Layer):
    kind = "lstm"

    def __init__(self, units: int, return_sequences: bool = False, forget_bias: float = 1.0):
        if not isinstance(return_sequences, (bool, np.bool_)):
            raise PynnError(f"return_sequences must be True or False, not {return_sequences!r}.")
        self.units, self.return_sequences = whole_number("units", units), bool(return_sequences)
        self.forget_bias = real_number("forget_bias", forget_bias)
        self.n_in = 0

    def build(self, input_shape, index, per_step=False):
        if len(input_shape) != 2:
            raise PynnError(f"Layer {index} (LSTM) needs sequences of steps x features, e.g. 20x1, not samples "
                            f"of shape {'x'.join(map(str, input_shape))}.")
        self.index, self.input_shape = index, tuple(input_shape)
        self.steps, self.n_in = input_shape
        self.output_shape = (self.steps, self.units) if self.return_sequences else (self.units,)
        return self.output_shape

    def param_specs(self):
        U = self.units
        return [ParamSpec("Wx", (4 * U, self.n_in), True), ParamSpec("Wh", (4 * U, U), True),
                ParamSpec("b", (4 * U,), False)]

    def bind(self, params, grads):
        super().bind(params, grads)
        self.Wx, self.Wh, self.b = params["Wx"], params["Wh"], params["b"]
        self.dWx, self.dWh, self.db = grads["Wx"], grads["Wh"], grads["b"]
        # the kernels' scratch, one per thread: a trainer and a reader never write into the same one (and a
        # layer bound to other buffers, as a frozen model's are, starts with its own)
        self._scratch = threading.local()

    def initialise(self, init, rng):
        from pynn.init import weight_scale
        self.Wx[...] = rng.standard_normal(self.Wx.shape) * weight_scale(init, self.n_in)
        self.Wh[...] = rng.standard_normal(self.Wh.shape) * weight_scale(init, self.units)
        self.b[...] = 0.0
        # a forget bias of 1 keeps the cell's memory open at the start, so gradients reach early steps
        self.b[self.units:2 * self.units] = self.forget_bias

    def forward(self, x, training, state=None):
        """state: (h0, c0), each (B, U), the state to start from (a stateful run's, carried from the window
        before), else zero. It is a constant of this window: backward sends no gradient into it."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim != 3 or x.shape[2] != self.n_in:
            raise PynnError(f"Layer {self.index} (LSTM) expects {plural(self.n_in, 'feature')} per step; the data has "
                            f"samples of shape {'x'.join(map(str, x.shape[1:]))}.")
        h0, c0 = (None, None) if state is None else (np.ascontiguousarray(s, dtype=np.float32) for s in state)
        h, c, gates = core.lstm_forward(x, self.Wx, self.Wh, self.b, work=self._workspace(x.shape), h0=h0, c0=c0)
        return (h if self.return_sequences else np.ascontiguousarray(h[:, -1])), LSTMCache(x, h, c, gates, h0, c0)

    def backward(self, dy, cache: LSTMCache, need_dx=True):
        if self.return_sequences:
            dh = np.ascontiguousarray(dy, dtype=np.float32)
        else:
            dh = np.zeros_like(cache.h)
            dh[:, -1] = dy
        return core.lstm_backward(dh, cache.x, cache.h, cache.c, cache.gates, self.Wx, self.Wh, self.dWx,
                                  self.dWh, self.db, need_dx=need_dx, work=self._workspace(cache.x.shape),
                                  h0=cache.h0, c0=cache.c0)

    def silenced(self, units) -> "LSTM":
        """A copy of this layer with `units` silenced: their h and c stay 0 at every step, so the other units
        get nothing from them through Wh either. Its weights are copies whose candidate rows (Wx, Wh and b) are
        zero: the candidate is then tanh(0) = 0 exactly, so c_t = f c_{t-1} + i * 0 stays at c_0 = 0 and
        h_t = o tanh(0) = 0. The caller reads the weights from a frozen model, which no trainer changes."""
        rows = 2 * self.units + np.asarray(units, dtype=np.int64)
        params = {name: np.array(view) for name, view in self.param_views.items()}
        for weights in params.values():
            weights[rows] = 0.0
        twin = self.twin()
        twin.bind(params, {name: np.zeros_like(weights) for name, weights in params.items()})
        return twin

    def _workspace(self, shape) -> np.ndarray:
        """This thread's scratch for the kernels, kept between batches (the largest any batch needed so far).
        It holds nothing a result depends on once a call returns."""
        need = core.lstm_workspace(shape[0], shape[1], self.n_in, self.units)
        work = getattr(self._scratch, "work", None)
        if work is None or work.size < need:
            work = self._scratch.work = np.empty(max(need, 1), np.float32)
        return work

    def describe(self):
        return {"kind": self.kind, "units": self.units, "return_sequences": self.return_sequences}

    def summary_row(self, stateful: bool = False) -> dict:
        """stateful: the model trains with its states carried from one batch to the next (RunConfig.stateful)."""
        U, n, T = self.units, self.n_in, self.steps
        counts = lstm_param_counts(n, U)
        out = f"(m, {T}, {U})" if self.return_sequences else f"(m, {U})"
        return {
            "index": self.index, "kind": "lstm", "steps": T, "n_in": n, "units": U,
            "return_sequences": self.return_sequences, "stateful": bool(stateful),
            "name": f"LSTM({U}{', return_sequences' if self.return_sequences else ''})", "activation": None,
            "params": {"Wx": [4 * U, n], "Wh": [4 * U, U], "b": [4 * U, 1]},
            "math_view": f"per step: x_t (m, {n}) -> gates (m, {4 * U}) -> c_t, h_t (m, {U})",
            "batch_view": out, "output_shape": ["m", T, U] if self.return_sequences else ["m", U],
            "n_params": counts["keras"],
            "arithmetic": (f"4·{U}·({n} + {U} + 1) = {counts['keras']:,} with one bias per gate (Keras); "
                           f"{counts['pytorch']:,} with two (PyTorch)"),
        }


def final_state(cache: LSTMCache) -> tuple[np.ndarray, np.ndarray]:
    """The state a forward ended in, the last step's (h, c), each (B, U): where the next window of each row's
    stream starts when the stream is read statefully."""
    return np.ascontiguousarray(cache.h[:, -1]), np.ascontiguousarray(cache.c[:, -1])


def carried_states(model, caches: list) -> list:
    """Per layer of model.layers that the forward ran, the state its LSTM ended in (None for other layers):
    the `states` of the model's forward on the windows that follow."""
    return [final_state(cache) if layer.kind == "lstm" else None for layer, cache in zip(model.layers, caches)]


def stream_states(model, windows: np.ndarray) -> list | None:
    """The states a model's LSTMs are in after reading windows (k, T, n_in), one stream's consecutive windows,
    in order from the zero state (None for no windows): where the window after them starts in a stateful
    reading. Read as one sequence of k·T steps, which gives the states of k windows chained one by one."""
    if not len(windows):
        return None
    last_lstm = max(i for i, layer in enumerate(model.layers, start=1) if layer.kind == "lstm")
    stream = np.asarray(windows, np.float32).reshape(1, -1, windows.shape[-1])
    return carried_states(model, model.forward(stream, upto=last_lstm)[1])


@dataclass
class GateTrace:
    """One sample's journey through an LSTM layer, each array (T, U), and the state it started from (U,)."""
    input: np.ndarray
    forget: np.ndarray
    candidate: np.ndarray
    output: np.ndarray
    cell: np.ndarray
    hidden: np.ndarray
    start_cell: np.ndarray | None = None    # c_0: zero, or carried from the windows before in a stateful reading
    start_hidden: np.ndarray | None = None  # h_0


def gate_trace(model, x: np.ndarray, layer_index: int | None = None, before: np.ndarray | None = None) -> GateTrace:
    """The gates, cell and hidden states of an LSTM layer over time for one sample x (T, n_in): what the
    model's forward pass keeps for backward, read from its cache, on a frozen copy of the weights. before: the
    windows of x's stream that come before it (k, T, n_in), for a stateful model: the trace then starts from
    the state they leave, as a stateful run reads the stream; else from the zero state."""
    lstms = [layer for layer in model.layers if layer.kind == "lstm"]
    if not lstms:
        raise PynnError("This model has no LSTM layer.")
    layer = lstms[0] if layer_index is None else next((l for l in lstms if l.index == layer_index), None)
    if layer is None:
        raise PynnError(f"Layer {layer_index} is not an LSTM.")
    frozen = model.frozen()
    states = stream_states(frozen, before) if before is not None else None
    cache = frozen.forward(x[None], states=states, upto=layer.position)[1][-1]
    U = layer.units
    blocks = [cache.gates[0, :, k * U:(k + 1) * U] for k in range(len(GATES))]
    zero = np.zeros(U, np.float32)
    return GateTrace(*blocks, cell=cache.c[0], hidden=cache.h[0],
                     start_cell=zero if cache.c0 is None else cache.c0[0],
                     start_hidden=zero if cache.h0 is None else cache.h0[0])
