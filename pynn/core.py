"""The only module that touches the compiled core: checks every argument once, then calls C.

C trusts what it is given, so each wrapper here verifies dtype (float32 / int32 / uint8), C-contiguity and the
shapes that tie the arguments together, and that what C writes is writable and overlaps nothing else it is
given, before handing raw pointers over. cffi releases the GIL for every call, so a front end can train in a
thread and stay responsive.
"""
from __future__ import annotations

import os

import numpy as np

# OpenMP threads that wait for work by spinning take whole time slices from the thread they wait for when the
# cores are shared (an SSH server, a test run beside other jobs): an LSTM epoch measured 3-8 s spinning against
# 0.1 s sleeping on a loaded 2-core box. Read once, when the runtime starts with the core below; a user's own
# setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    from pynn import _core as _portable
except ModuleNotFoundError as err:
    if err.name != "pynn._core":
        raise
    raise ModuleNotFoundError(f"{err}: pynn's C core is not built here; install pynn (pip install .) or build "
                              "it in place (python -m pynn._build)", name=err.name) from err

# The core is built once per instruction set (pynn/_build.py): the portable build says what the processor runs,
# and the widest build that runs is loaded, or the one PYNN_ISA names (so the tests can run every path).
ISAS = ("generic", "avx2", "avx512")  # narrowest first


def available_isas() -> list[str]:
    """The instruction sets this processor runs and this installation has a build of, narrowest first."""
    import importlib.util
    return [isa for isa in ISAS if _portable.lib.pynn_cpu_runs(isa.encode())
            and (isa == "generic" or importlib.util.find_spec(f"pynn._core_{isa}") is not None)]


def _load_core():
    available = available_isas()
    wanted = os.environ.get("PYNN_ISA", "").strip().lower()
    if wanted and wanted not in available:
        from pynn.errors import PynnError
        why = "is not one of" if wanted not in ISAS else "is not available here; choose from"
        raise PynnError(f"PYNN_ISA={wanted} {why} {', '.join(available if wanted in ISAS else ISAS)}")
    isa = wanted or available[-1]
    if isa == "generic":
        return _portable
    import importlib
    return importlib.import_module(f"pynn._core_{isa}")


_core = _load_core()
ffi, lib = _core.ffi, _core.lib
ISA = ffi.string(lib.pynn_build_isa()).decode()  # the instruction set of the kernels in use

ACTIVATIONS = {
    "identity": lib.PYNN_IDENTITY,
    "sigmoid": lib.PYNN_SIGMOID,
    "tanh": lib.PYNN_TANH,
    "relu": lib.PYNN_RELU,
    "leaky_relu": lib.PYNN_LEAKY_RELU,
}

_CTYPE = {np.dtype(np.float32): "float[]", np.dtype(np.int32): "int32_t[]", np.dtype(np.uint8): "uint8_t[]"}


def _ptr(a: np.ndarray, name: str, dtype=np.float32, shape: tuple | None = None):
    """A C pointer to a's data after checking it is what C will assume."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, not {type(a).__name__}")
    if a.dtype != dtype:
        raise TypeError(f"{name} must be {np.dtype(dtype).name}, not {a.dtype}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")
    if shape is not None and a.shape != tuple(shape):
        raise ValueError(f"{name} has shape {a.shape}; expected {tuple(shape)}")
    return ffi.from_buffer(_CTYPE[np.dtype(dtype)], a)


def _check_outputs(outputs: dict, inputs: dict, in_place: tuple = ()) -> None:
    """Every output must be writable and share no memory with any other argument: C writes the outputs while
    it still reads the rest, through `restrict` pointers that promise no overlap, so an alias gives garbage.
    `in_place` names the (output, input) pairs whose kernel allows them to be the very same array. An output
    left None is skipped: the wrapper allocates it afterwards, sharing nothing."""
    args = [*outputs.items(), *inputs.items()]
    for i, (name, out) in enumerate(outputs.items()):
        if not isinstance(out, np.ndarray):
            continue  # no buffer, or not an array (_ptr says so)
        if not out.flags.writeable:
            raise ValueError(f"{name} must be writable")
        for other, arr in args[i + 1:]:  # each pair once: later outputs, then every input
            if (isinstance(arr, np.ndarray) and np.shares_memory(out, arr)
                    and not ((name, other) in in_place and _same_array(out, arr))):
                raise ValueError(f"{name} shares memory with {other}, which the kernel uses while it writes "
                                 f"{name}; give {name} an array of its own")


def _same_array(a: np.ndarray, b: np.ndarray) -> bool:
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0] and a.shape == b.shape
            and a.strides == b.strides)


def _act(activation: str) -> int:
    try:
        return ACTIVATIONS[activation]
    except KeyError:
        raise ValueError(f"unknown activation {activation!r}") from None


def _matrix(a: np.ndarray, name: str) -> tuple[int, int]:
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D, not {a.ndim}-D")
    return a.shape


# ---------------------------------------------------------------------------------------------------------
# matrix multiply

def sgemm(a: np.ndarray, b: np.ndarray, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0,
          out: np.ndarray | None = None, naive=False) -> np.ndarray:
    """out = alpha * op(a) @ op(b) + beta * out, with op a transpose when asked."""
    ar, ac = _matrix(a, "a")
    br, bc = _matrix(b, "b")
    m, k = (ac, ar) if trans_a else (ar, ac)
    k2, n = (bc, br) if trans_b else (br, bc)
    if k != k2:
        raise ValueError(f"inner dimensions differ: op(a) is {m}x{k}, op(b) is {k2}x{n}")
    _check_outputs({"out": out}, {"a": a, "b": b})
    if out is None:
        out = np.zeros((m, n), np.float32)
    fn = lib.pynn_sgemm_naive if naive else lib.pynn_sgemm
    fn(int(trans_a), int(trans_b), m, n, k, alpha, _ptr(a, "a"), ac, _ptr(b, "b"), bc,
       beta, _ptr(out, "out", shape=(m, n)), n)
    return out


def sgemm_pack_b(b: np.ndarray, *, trans_b=False) -> np.ndarray:
    """op(b) packed for sgemm_packed: the form an operand multiplied many times is kept in."""
    br, bc = _matrix(b, "b")
    k, n = (bc, br) if trans_b else (br, bc)
    packed = np.empty(max(int(lib.pynn_sgemm_packed_size(n, k)), 1), np.float32)
    lib.pynn_sgemm_pack_b(int(trans_b), n, k, _ptr(b, "b"), bc, _ptr(packed, "packed"))
    return packed


def sgemm_packed(a: np.ndarray, packed: np.ndarray, n: int, *, trans_a=False, alpha=1.0, beta=0.0,
                 out: np.ndarray | None = None) -> np.ndarray:
    """out = alpha * op(a) @ op(b) + beta * out, with op(b) (k, n) from sgemm_pack_b."""
    ar, ac = _matrix(a, "a")
    m, k = (ac, ar) if trans_a else (ar, ac)
    if packed.ndim != 1 or packed.size < int(lib.pynn_sgemm_packed_size(n, k)):
        raise ValueError(f"packed holds {packed.size} values, too few for a packed {k}x{n} operand")
    _check_outputs({"out": out}, {"a": a, "packed": packed})
    if out is None:
        out = np.zeros((m, n), np.float32)
    lib.pynn_sgemm_packed(int(trans_a), m, n, k, alpha, _ptr(a, "a"), ac, _ptr(packed, "packed"), beta,
                          _ptr(out, "out", shape=(m, n)), n)
    return out


# ---------------------------------------------------------------------------------------------------------
# activations and dense layers

def activate(x: np.ndarray, activation: str, alpha=0.01, out: np.ndarray | None = None) -> np.ndarray:
    """f(x) elementwise; out may be x itself."""
    _check_outputs({"out": out}, {"x": x}, in_place=(("out", "x"),))
    out = np.empty_like(x) if out is None else out
    lib.pynn_activate(_ptr(out, "out", shape=x.shape), _ptr(x, "x"), x.size, _act(activation), alpha)
    return out


def activate_backward(dy: np.ndarray, y: np.ndarray, activation: str, alpha=0.01,
                      out: np.ndarray | None = None) -> np.ndarray:
    """dy * f'(.) from the activation's output y; out may be dy itself."""
    _check_outputs({"out": out}, {"dy": dy, "y": y}, in_place=(("out", "dy"),))
    out = np.empty_like(dy) if out is None else out
    lib.pynn_activate_backward(_ptr(out, "out", shape=dy.shape), _ptr(dy, "dy"), _ptr(y, "y", shape=dy.shape),
                               dy.size, _act(activation), alpha)
    return out


def dense_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray, activation: str, alpha=0.01,
                  out: np.ndarray | None = None) -> np.ndarray:
    """f(x @ W.T + b): x (m, n_in), W (n_out, n_in), b (n_out) -> (m, n_out)."""
    m, n_in = _matrix(x, "x")
    n_out = _matrix(W, "W")[0]
    _check_outputs({"out": out}, {"x": x, "W": W, "b": b})
    out = np.empty((m, n_out), np.float32) if out is None else out
    lib.pynn_dense_forward(_ptr(out, "out", shape=(m, n_out)), _ptr(x, "x"), _ptr(W, "W", shape=(n_out, n_in)),
                           _ptr(b, "b", shape=(n_out,)), m, n_in, n_out, _act(activation), alpha)
    return out


def dense_backward(dout: np.ndarray, out: np.ndarray, x: np.ndarray, W: np.ndarray, dW: np.ndarray,
                   db: np.ndarray, activation: str, alpha=0.01, dx: np.ndarray | None = None,
                   need_dx=True) -> np.ndarray | None:
    """Accumulate dW, db; overwrite dout with dz; return dx (or None when need_dx is False)."""
    m, n_in = _matrix(x, "x")
    n_out = _matrix(W, "W")[0]
    _check_outputs({"dx": dx if need_dx else None, "dW": dW, "db": db, "dout": dout},
                   {"out": out, "x": x, "W": W})
    if need_dx and dx is None:
        dx = np.empty((m, n_in), np.float32)
    dx_ptr = _ptr(dx, "dx", shape=(m, n_in)) if need_dx else ffi.NULL
    lib.pynn_dense_backward(dx_ptr, _ptr(dW, "dW", shape=(n_out, n_in)), _ptr(db, "db", shape=(n_out,)),
                            _ptr(dout, "dout", shape=(m, n_out)), _ptr(out, "out", shape=(m, n_out)),
                            _ptr(x, "x"), _ptr(W, "W", shape=(n_out, n_in)), m, n_in, n_out,
                            _act(activation), alpha)
    return dx if need_dx else None


# ---------------------------------------------------------------------------------------------------------
# losses: each returns (mean loss, gradient wrt its input, probabilities or None)

def softmax_xent(logits: np.ndarray, labels: np.ndarray, dlogits=None, probs=None):
    m, k = _matrix(logits, "logits")
    if labels.shape != (m,):
        raise ValueError(f"labels has shape {labels.shape}; expected ({m},)")
    if m and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"labels must lie in [0, {k})")
    _check_outputs({"dlogits": dlogits, "probs": probs}, {"logits": logits, "labels": labels})
    dlogits = np.empty_like(logits) if dlogits is None else dlogits
    probs = np.empty_like(logits) if probs is None else probs
    loss = lib.pynn_softmax_xent(_ptr(dlogits, "dlogits", shape=(m, k)), _ptr(probs, "probs", shape=(m, k)),
                                 _ptr(logits, "logits"), _ptr(labels, "labels", np.int32), m, k)
    return float(loss), dlogits, probs


def sigmoid_bce(logits: np.ndarray, targets: np.ndarray, dlogits=None, probs=None):
    m, k = _matrix(logits, "logits")
    _check_outputs({"dlogits": dlogits, "probs": probs}, {"logits": logits, "targets": targets})
    dlogits = np.empty_like(logits) if dlogits is None else dlogits
    probs = np.empty_like(logits) if probs is None else probs
    loss = lib.pynn_sigmoid_bce(_ptr(dlogits, "dlogits", shape=(m, k)), _ptr(probs, "probs", shape=(m, k)),
                                _ptr(logits, "logits"), _ptr(targets, "targets", shape=(m, k)), m, k)
    return float(loss), dlogits, probs


def mse(out: np.ndarray, targets: np.ndarray, dout=None):
    m, k = _matrix(out, "out")
    _check_outputs({"dout": dout}, {"out": out, "targets": targets})
    dout = np.empty_like(out) if dout is None else dout
    loss = lib.pynn_mse(_ptr(dout, "dout", shape=(m, k)), _ptr(out, "out"), _ptr(targets, "targets", shape=(m, k)),
                        m, k)
    return float(loss), dout, None


# ---------------------------------------------------------------------------------------------------------
# optimisers over flat buffers; the first n_decay values are decayed by L2

def _flat(p: np.ndarray, g: np.ndarray, *state: np.ndarray):
    if p.ndim != 1:
        raise ValueError("parameters must be a flat 1-D buffer")
    _check_outputs({"params": p, **{f"state{i}": s for i, s in enumerate(state)}}, {"grads": g})
    return [_ptr(p, "params"), _ptr(g, "grads", shape=p.shape),
            *(_ptr(s, f"state{i}", shape=p.shape) for i, s in enumerate(state))]


def _check_decay(p: np.ndarray, n_decay: int) -> int:
    if not 0 <= n_decay <= p.size:
        raise ValueError(f"n_decay {n_decay} outside [0, {p.size}]")
    return int(n_decay)


def sgd_update(p, g, *, lr, n_decay=0, decay=0.0):
    pp, gp = _flat(p, g)
    lib.pynn_sgd_update(pp, gp, p.size, _check_decay(p, n_decay), lr, decay)


def momentum_update(p, g, v, *, lr, mu=0.9, n_decay=0, decay=0.0):
    pp, gp, vp = _flat(p, g, v)
    lib.pynn_momentum_update(pp, gp, vp, p.size, _check_decay(p, n_decay), lr, mu, decay)


def adam_update(p, g, m, v, *, lr, t, beta1=0.9, beta2=0.999, eps=1e-8, n_decay=0, decay=0.0):
    if t < 1:
        raise ValueError("Adam's step count t starts at 1")
    pp, gp, mp, vp = _flat(p, g, m, v)
    lib.pynn_adam_update(pp, gp, mp, vp, p.size, _check_decay(p, n_decay), lr, beta1, beta2, eps, t, decay)


def clip_grad_norm(g: np.ndarray, max_norm: float) -> float:
    _check_outputs({"grads": g}, {})
    return float(lib.pynn_clip_grad_norm(_ptr(g, "grads"), g.size, max_norm))


def dropout(x: np.ndarray, mask: np.ndarray, scale: float, out: np.ndarray | None = None) -> np.ndarray:
    _check_outputs({"out": out}, {"x": x, "mask": mask})
    out = np.empty_like(x) if out is None else out
    lib.pynn_dropout(_ptr(out, "out", shape=x.shape), _ptr(x, "x"), _ptr(mask, "mask", np.uint8, x.shape),
                     x.size, scale)
    return out


# ---------------------------------------------------------------------------------------------------------
# fused training step for plain dense MLPs (csrc/mlp.c)

LOSS_KINDS = {"xent": lib.PYNN_LOSS_XENT, "bce": lib.PYNN_LOSS_BCE, "mse": lib.PYNN_LOSS_MSE}
OPTIMIZER_KINDS = {"sgd": lib.PYNN_OPT_SGD, "momentum": lib.PYNN_OPT_MOMENTUM, "adam": lib.PYNN_OPT_ADAM}
OPTIMIZER_STATE_BUFFERS = {"sgd": 0, "momentum": 1, "adam": 2}
_CTYPE[np.dtype(np.int64)] = "int64_t[]"  # row indices and parameter offsets
_CTYPE[np.dtype(np.float64)] = "double[]"  # the step's sums of squares


def _buffer(a: np.ndarray, name: str, like: np.ndarray):
    """A pointer to a float32 buffer shaped like the parameters."""
    return _ptr(a, name, shape=like.shape)


class MLPTrainStep:
    """One C call per training step of a dense MLP whose parameters live in one flat buffer.

    What stays fixed between steps (layer sizes and offsets, the parameter, gradient, optimiser-state and
    last-good buffers, the training set and its labels or targets) is checked once here and its address
    pinned, so step() checks only the batch's rows. The caller keeps using these very arrays: C holds their
    addresses. lr and t mirror the optimiser's and may be set between steps."""

    def __init__(self, *, sizes, activations, alphas, w_offsets, b_offsets, loss: str, params: np.ndarray,
                 grads: np.ndarray, n_decay: int, optimizer: str, state: list[np.ndarray], lr: float, t: int,
                 last_good: np.ndarray, x: np.ndarray, labels: np.ndarray | None = None,
                 targets: np.ndarray | None = None, max_batch: int, mu=0.9, beta1=0.9, beta2=0.999, eps=1e-8,
                 decay=0.0, clip=0.0):
        n_layers = len(activations)
        self._sizes = np.array(sizes, np.int32)
        if n_layers < 1 or self._sizes.shape != (n_layers + 1,) or self._sizes.min() < 1:
            raise ValueError(f"sizes {list(sizes)} must be {n_layers + 1} positive layer widths")
        self._act = np.array([_act(a) for a in activations], np.int32)
        self._alpha = np.array(alphas, np.float32).reshape(n_layers)
        self._w_off = np.array(w_offsets, np.int64).reshape(n_layers)
        self._b_off = np.array(b_offsets, np.int64).reshape(n_layers)
        if not isinstance(params, np.ndarray) or params.ndim != 1:
            raise ValueError("params must be a flat 1-D numpy buffer")
        n = params.size
        for l in range(n_layers):
            n_out, n_in = int(self._sizes[l + 1]), int(self._sizes[l])
            if not (0 <= self._w_off[l] <= n - n_out * n_in and 0 <= self._b_off[l] <= n - n_out):
                raise ValueError(f"layer {l + 1}'s W or b lies outside the {n} parameters")
        if loss not in LOSS_KINDS:
            raise ValueError(f"unknown loss {loss!r}")
        if optimizer not in OPTIMIZER_KINDS:
            raise ValueError(f"unknown optimizer {optimizer!r}")
        if len(state) != OPTIMIZER_STATE_BUFFERS[optimizer]:
            raise ValueError(f"{optimizer} keeps {OPTIMIZER_STATE_BUFFERS[optimizer]} state buffers, "
                             f"not {len(state)}")
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        # rows, the one argument step() takes, is read before C writes anything but its private work
        _check_outputs({"params": params, "grads": grads, "last_good": last_good,
                        **{f"optimizer state {i}": s for i, s in enumerate(state)}},
                       {"x": x, "labels": labels, "targets": targets})
        ptrs = [_buffer(params, "params", params), _buffer(grads, "grads", params),
                _buffer(last_good, "last_good", params)]
        ptrs += [_buffer(s, f"optimizer state {i}", params) for i, s in enumerate(state)]
        if not isinstance(x, np.ndarray) or x.ndim != 2:
            raise ValueError("x must be a 2-D numpy array of samples")
        n_samples, k = x.shape[0], int(self._sizes[-1])
        x_ptr = _ptr(x, "x", shape=(n_samples, int(self._sizes[0])))
        if loss == "xent":
            y_ptr = _ptr(labels, "labels", np.int32, shape=(n_samples,))
            if n_samples and (labels.min() < 0 or labels.max() >= k):
                raise ValueError(f"labels must lie in [0, {k})")
            labels_ptr, targets_ptr = y_ptr, ffi.NULL
        else:
            labels_ptr, targets_ptr = ffi.NULL, _ptr(targets, "targets", shape=(n_samples, k))

        self._net = ffi.new("struct pynn_mlp *")
        net = self._net
        net.n_layers, net.loss, net.n_params = n_layers, LOSS_KINDS[loss], n
        net.n_decay = _check_decay(params, n_decay)
        keep = [_ptr(self._sizes, "sizes", np.int32), _ptr(self._act, "act", np.int32),
                _ptr(self._alpha, "alpha"), _ptr(self._w_off, "w_offsets", np.int64),
                _ptr(self._b_off, "b_offsets", np.int64)]
        net.sizes, net.act, net.alpha, net.w_offset, net.b_offset = keep
        net.params, net.grads = ptrs[0], ptrs[1]
        net.loss_limit = float("inf")
        self._work = np.empty(lib.pynn_mlp_workspace(net, max_batch), np.float32)
        self._squares = np.empty(lib.pynn_mlp_squares(net), np.float64)
        net.work, net.squares = _ptr(self._work, "work"), _ptr(self._squares, "squares", np.float64)

        self._opt = ffi.new("struct pynn_optimizer *")
        opt = self._opt
        opt.kind, opt.lr, opt.t = OPTIMIZER_KINDS[optimizer], lr, t
        opt.mu, opt.beta1, opt.beta2, opt.eps, opt.decay, opt.clip = mu, beta1, beta2, eps, decay, clip
        opt.state0 = ptrs[3] if len(ptrs) > 3 else ffi.NULL
        opt.state1 = ptrs[4] if len(ptrs) > 4 else ffi.NULL

        self._norms = np.zeros(n_layers, np.float32)
        self._last_good, self._x, self._labels, self._targets = ptrs[2], x_ptr, labels_ptr, targets_ptr
        self._norms_ptr = _ptr(self._norms, "norms")
        self._keep = (keep, ptrs, params, grads, last_good, state, x, labels, targets)
        self.n_samples, self.max_batch = n_samples, int(max_batch)

    lr = property(lambda self: self._opt.lr, lambda self, v: setattr(self._opt, "lr", v))
    t = property(lambda self: self._opt.t, lambda self, v: setattr(self._opt, "t", int(v)))
    # a batch loss above this comes back with nothing updated, as a non-finite one does (the Trainer's
    # explosion check); a limit beyond float32's range becomes inf
    loss_limit = property(lambda self: self._net.loss_limit,
                          lambda self, v: setattr(self._net, "loss_limit", float(v)))

    def step(self, rows: np.ndarray) -> tuple[float, list[float]]:
        """Train on the samples `rows` picks: returns (mean loss, gradient norm per layer). A non-finite loss, or
        one above loss_limit, comes back with nothing updated."""
        rows_ptr = _ptr(rows, "rows", np.int64)
        if rows.ndim != 1 or not 1 <= rows.size <= self.max_batch:
            raise ValueError(f"rows must be 1-D with 1 to {self.max_batch} entries")
        if rows.view(np.uint64).max() >= self.n_samples:  # one pass: negative rows wrap to huge values
            raise ValueError(f"rows must lie in [0, {self.n_samples})")
        loss = lib.pynn_mlp_train_step(self._net, self._opt, self._x, rows_ptr, rows.size, self._labels,
                                       self._targets, self._last_good, self._norms_ptr)
        return float(loss), self._norms.tolist()


# ---------------------------------------------------------------------------------------------------------
# LSTM over a whole sequence

def lstm_workspace(B: int, T: int, n_in: int, U: int) -> int:
    """Floats of scratch lstm_forward and lstm_backward need for these sizes (one buffer serves both)."""
    return int(lib.pynn_lstm_workspace(B, T, n_in, U))


def _lstm_work(work: np.ndarray | None, B: int, T: int, n_in: int, U: int):
    need = lstm_workspace(B, T, n_in, U)
    if work is None:
        work = np.empty(max(need, 1), np.float32)
    if not isinstance(work, np.ndarray) or work.ndim != 1 or work.size < need:
        raise ValueError(f"work must be a 1-D float32 buffer of at least {need} values")
    return _ptr(work, "work")


def _initial_state(state: np.ndarray | None, name: str, B: int, U: int):
    """The pointer to an initial h0 or c0 (B, U), or NULL for the zero state."""
    return ffi.NULL if state is None else _ptr(state, name, shape=(B, U))


def lstm_forward(x: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray, work: np.ndarray | None = None, *,
                 h0: np.ndarray | None = None, c0: np.ndarray | None = None):
    """(h, c, gates) for x (B, T, n_in): every step's hidden and cell state (B, T, U) and the gates after
    their nonlinearities (B, T, 4U) in the blocks [i, f, g, o]. The state starts from h0 and c0 (B, U), zero
    where not given; the state it ends in is the last step's, h[:, -1] and c[:, -1]. work: optional scratch of
    lstm_workspace(...) floats, kept by a caller that runs many batches."""
    if x.ndim != 3:
        raise ValueError(f"x must be (batch, steps, features), not {x.ndim}-D")
    B, T, n_in = x.shape
    U = _matrix(Wh, "Wh")[1]
    _check_outputs({"work": work}, {"x": x, "h0": h0, "c0": c0, "Wx": Wx, "Wh": Wh, "b": b})
    h = np.empty((B, T, U), np.float32)
    c = np.empty((B, T, U), np.float32)
    gates = np.empty((B, T, 4 * U), np.float32)
    lib.pynn_lstm_forward(_ptr(h, "h"), _ptr(c, "c"), _ptr(gates, "gates"), _ptr(x, "x"),
                          _initial_state(h0, "h0", B, U), _initial_state(c0, "c0", B, U),
                          _ptr(Wx, "Wx", shape=(4 * U, n_in)), _ptr(Wh, "Wh", shape=(4 * U, U)),
                          _ptr(b, "b", shape=(4 * U,)), B, T, n_in, U, _lstm_work(work, B, T, n_in, U))
    return h, c, gates


def lstm_backward(dh: np.ndarray, x: np.ndarray, h: np.ndarray, c: np.ndarray, gates: np.ndarray,
                  Wx: np.ndarray, Wh: np.ndarray, dWx: np.ndarray, dWh: np.ndarray, db: np.ndarray,
                  need_dx=True, work: np.ndarray | None = None, *, h0: np.ndarray | None = None,
                  c0: np.ndarray | None = None) -> np.ndarray | None:
    """Accumulate dWx, dWh, db from dh (B, T, U), the loss gradient wrt every hidden state; return dx.
    h0 and c0 are the forward's initial state, constants here: no gradient flows into them."""
    B, T, n_in = x.shape
    U = Wh.shape[1]
    _check_outputs({"dWx": dWx, "dWh": dWh, "db": db, "work": work},
                   {"dh": dh, "x": x, "h0": h0, "c0": c0, "h": h, "c": c, "gates": gates, "Wx": Wx, "Wh": Wh})
    dgates = np.empty((B, T, 4 * U), np.float32)
    dx = np.empty((B, T, n_in), np.float32) if need_dx else None
    lib.pynn_lstm_backward(_ptr(dx, "dx") if need_dx else ffi.NULL, _ptr(dWx, "dWx", shape=(4 * U, n_in)),
                           _ptr(dWh, "dWh", shape=(4 * U, U)), _ptr(db, "db", shape=(4 * U,)),
                           _ptr(dgates, "dgates"), _lstm_work(work, B, T, n_in, U),
                           _ptr(dh, "dh", shape=(B, T, U)),
                           _ptr(x, "x"), _initial_state(h0, "h0", B, U), _initial_state(c0, "c0", B, U),
                           _ptr(h, "h", shape=(B, T, U)), _ptr(c, "c", shape=(B, T, U)),
                           _ptr(gates, "gates", shape=(B, T, 4 * U)), _ptr(Wx, "Wx", shape=(4 * U, n_in)),
                           _ptr(Wh, "Wh", shape=(4 * U, U)), B, T, n_in, U)
    return dx


# ---------------------------------------------------------------------------------------------------------
# convolution and max pooling, activations (N, H, W, C) channels last (pynn/conv.py explains the conventions)

def _images(a: np.ndarray, name: str) -> tuple[int, int, int, int]:
    if not isinstance(a, np.ndarray) or a.ndim != 4:
        raise ValueError(f"{name} must be a 4-D (N, H, W, C) array, not shape {np.shape(a)}")
    return a.shape


def _conv_sizes(x, w, stride, pad_top, pad_left, Ho, Wo):
    """(N, H, W, C, K, F) after checking the geometry: every output position's window starts inside the
    padded input and the padding is smaller than the kernel, so C never reads outside x."""
    N, H, W, C = _images(x, "x")
    if not isinstance(w, np.ndarray) or w.ndim != 4 or w.shape[:3] != (w.shape[0], w.shape[0], C):
        raise ValueError(f"w must be (K, K, {C}, F) for an input of {C} channels, not shape {np.shape(w)}")
    K, F = w.shape[0], w.shape[3]
    if stride < 1 or not 0 <= pad_top < K or not 0 <= pad_left < K or Ho < 1 or Wo < 1 or K < 1:
        raise ValueError(f"stride {stride}, padding ({pad_top}, {pad_left}) and output {Ho}x{Wo} do not make a "
                         f"convolution with a {K}x{K} kernel")
    if (Ho - 1) * stride - pad_top >= H or (Wo - 1) * stride - pad_left >= W:
        raise ValueError(f"an output of {Ho}x{Wo} at stride {stride} reads past a {H}x{W} input")
    return N, H, W, C, K, F


def _allocated(status: int) -> None:
    if status != 0:
        raise MemoryError("the convolution's scratch memory could not be allocated")


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad_top: int, pad_left: int,
                   Ho: int, Wo: int, activation: str = "identity", alpha=0.01,
                   out: np.ndarray | None = None) -> np.ndarray:
    """f(conv(x, w) + b): x (N, H, W, C), w (K, K, C, F), b (F) -> (N, Ho, Wo, F)."""
    N, H, W, C, K, F = _conv_sizes(x, w, stride, pad_top, pad_left, Ho, Wo)
    _check_outputs({"out": out}, {"x": x, "w": w, "b": b})
    out = np.empty((N, Ho, Wo, F), np.float32) if out is None else out
    _allocated(lib.pynn_conv2d_forward(_ptr(out, "out", shape=(N, Ho, Wo, F)), _ptr(x, "x"), _ptr(w, "w"),
                                       _ptr(b, "b", shape=(F,)), N, H, W, C, K, F, stride, pad_top, pad_left,
                                       Ho, Wo, _act(activation), alpha))
    return out


def conv2d_backward(dy: np.ndarray, y: np.ndarray, x: np.ndarray, w: np.ndarray, dw: np.ndarray,
                    db: np.ndarray, stride: int, pad_top: int, pad_left: int, activation: str = "identity",
                    alpha=0.01, dx: np.ndarray | None = None, need_dx=True) -> np.ndarray | None:
    """Accumulate dw, db; overwrite dy with the pre-activation's gradient; return dx (None when need_dx is
    False). y is the forward's output, x its input."""
    N, Ho, Wo, _ = _images(y, "y")
    N, H, W, C, K, F = _conv_sizes(x, w, stride, pad_top, pad_left, Ho, Wo)
    _check_outputs({"dx": dx if need_dx else None, "dw": dw, "db": db, "dy": dy}, {"y": y, "x": x, "w": w})
    if need_dx and dx is None:
        dx = np.empty((N, H, W, C), np.float32)
    dx_ptr = _ptr(dx, "dx", shape=(N, H, W, C)) if need_dx else ffi.NULL
    _allocated(lib.pynn_conv2d_backward(dx_ptr, _ptr(dw, "dw", shape=w.shape), _ptr(db, "db", shape=(F,)),
                                        _ptr(dy, "dy", shape=(N, Ho, Wo, F)), _ptr(y, "y", shape=(N, Ho, Wo, F)),
                                        _ptr(x, "x"), _ptr(w, "w"), N, H, W, C, K, F, stride, pad_top,
                                        pad_left, Ho, Wo, _act(activation), alpha))
    return dx if need_dx else None


def _check_pool(shape: tuple, p: int) -> None:
    if p < 1 or p > shape[1] or p > shape[2]:
        raise ValueError(f"a {p}x{p} pool does not fit in a {shape[1]}x{shape[2]} input")


def maxpool_forward(x: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """(y, argmax): the max of each p x p window, stride p, trailing rows and columns dropped; argmax (int32)
    is where in its window (a * p + q, row-major, first on a tie) each maximum was."""
    N, H, W, C = _images(x, "x")
    _check_pool(x.shape, p)
    y = np.empty((N, H // p, W // p, C), np.float32)
    argmax = np.empty(y.shape, np.int32)
    lib.pynn_maxpool_forward(_ptr(y, "y"), _ptr(argmax, "argmax", np.int32), _ptr(x, "x"), N, H, W, C, p)
    return y, argmax


def maxpool_backward(dy: np.ndarray, argmax: np.ndarray, x_shape: tuple, p: int) -> np.ndarray:
    """dx of x_shape: each dy at its window's argmax, zero elsewhere."""
    N, H, W, C = x_shape
    _check_pool(x_shape, p)
    pooled = (N, H // p, W // p, C)
    if not isinstance(argmax, np.ndarray) or argmax.shape != pooled or argmax.size and (
            argmax.min() < 0 or argmax.max() >= p * p):
        raise ValueError(f"argmax must be {pooled} with values in [0, {p * p})")
    dx = np.empty(x_shape, np.float32)
    lib.pynn_maxpool_backward(_ptr(dx, "dx"), _ptr(dy, "dy", shape=pooled), _ptr(argmax, "argmax", np.int32),
                              N, H, W, C, p)
    return dx
