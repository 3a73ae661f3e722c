"""Every fast path against the float64 reference on awkward sizes (1, primes, the tail of every tiling), and
the fused MLP training step against the general path it replaces."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pynn.train
from pynn import core, reference as ref
from pynn.errors import TrainingDiverged
from pynn.fused import fused_step
from pynn.model import build_model
from pynn.optim import Optimizer
from pynn.run import RunConfig
from pynn.train import BatchEnd, Trainer

# the folder holding the pynn this test imported (installed or built in place), for the child processes
PYNN_HOME = Path(pynn.train.__file__).resolve().parent.parent


def f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def close(c_value, ref_value, rtol):
    c_value, ref_value = np.asarray(c_value, np.float64), np.asarray(ref_value, np.float64)
    scale = max(1.0, float(np.abs(ref_value).max(initial=0.0)))
    err = float(np.abs(c_value - ref_value).max(initial=0.0))
    assert err <= rtol * scale, f"largest difference {err:.3g} (scale {scale:.3g})"


# -- sgemm -------------------------------------------------------------------------------------------------
# Tiles are 6 x 16 (AVX2, portable) or 12 x 32 (AVX-512) on the packed path (a transposed operand is packed
# 8 x 8 at a time) and 3 x 4 over 8-wide k or 4 x 5 over 16-wide k on the dot path (A B^T with <= 16 rows, or
# <= 32 columns and <= 512 rows); blocks are 144 rows (MC), 256 deep (KC, balanced) and 512 columns (NC); a
# team takes one thread per 30 MFLOP and splits the rows of a product at most 64 columns wide (tests/test_isa.py
# runs these under every build).
SGEMM_SHAPES = [
    (1, 1, 1), (2, 3, 5), (7, 11, 13), (6, 16, 8), (5, 15, 7), (7, 17, 9), (13, 31, 255), (12, 33, 257),
    (16, 12, 30), (17, 13, 31), (16, 100, 784), (17, 100, 784), (100, 32, 129), (100, 33, 127), (143, 47, 513),
    (145, 511, 67), (289, 513, 97), (1, 1030, 3), (1030, 1, 3), (37, 1025, 300),
]


@pytest.mark.parametrize("m,n,k", SGEMM_SHAPES)
@pytest.mark.parametrize("ta,tb", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_sgemm_paths_match_the_reference(m, n, k, ta, tb):
    rng = np.random.default_rng(m * 1000 + n * 10 + k)
    a = f32(rng, *((k, m) if ta else (m, k)))
    b = f32(rng, *((n, k) if tb else (k, n)))
    c0 = f32(rng, m, n)
    for alpha, beta in ((1.0, 0.0), (0.7, 0.3), (-1.5, 1.0)):
        c = c0.copy()
        core.sgemm(a, b, trans_a=bool(ta), trans_b=bool(tb), alpha=alpha, beta=beta, out=c)
        close(c, ref.sgemm(a, b, trans_a=ta, trans_b=tb, alpha=alpha, beta=beta, c=c0), 3e-6 * np.sqrt(k) + 1e-6)


@pytest.mark.parametrize("ta,tb", [(0, 0), (0, 1), (1, 0)])
def test_sgemm_beta_zero_never_reads_c(ta, tb):
    rng = np.random.default_rng(1)
    for m, n, k in ((5, 7, 3), (10, 30, 784), (200, 300, 50)):
        a = f32(rng, *((k, m) if ta else (m, k)))
        b = f32(rng, *((n, k) if tb else (k, n)))
        c = np.full((m, n), np.nan, np.float32)
        core.sgemm(a, b, trans_a=bool(ta), trans_b=bool(tb), out=c)
        close(c, ref.sgemm(a, b, trans_a=ta, trans_b=tb), 3e-6 * np.sqrt(k))


def test_sgemm_with_no_depth_only_scales_c():
    c = np.full((3, 4), 2.0, np.float32)
    core.sgemm(np.zeros((3, 0), np.float32), np.zeros((0, 4), np.float32), beta=0.5, out=c)
    assert np.array_equal(c, np.full((3, 4), 1.0, np.float32))


SAME_ACROSS_THREADS = """
import sys
import numpy as np
from pynn import core
rng = np.random.default_rng(7)
out = []
for m, n, k, ta, tb in [(301, 517, 263, 0, 0), (256, 10, 1024, 0, 1), (14, 700, 900, 0, 1),
                        (1024, 784, 33, 1, 0), (97, 1100, 257, 1, 1), (4, 2000, 300, 1, 0),
                        (3001, 30, 784, 0, 1), (2003, 45, 700, 1, 0)]:  # narrow: each thread its rows
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    out.append(core.sgemm(a, b, trans_a=bool(ta), trans_b=bool(tb)))
np.savez(sys.argv[1], *out)
"""


def test_sgemm_gives_the_same_bits_on_one_thread_and_two(tmp_path):
    results = []
    for threads in (1, 2):
        path = tmp_path / f"threads{threads}.npz"
        # PYNN_ALL_CORES: two threads even when other work keeps a core busy, so two is really two
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYNN_ALL_CORES="1", PYTHONPATH=str(PYNN_HOME))
        subprocess.run([sys.executable, "-c", SAME_ACROSS_THREADS, str(path)], check=True, env=env, cwd=tmp_path)
        with np.load(path) as f:
            results.append([f[name] for name in sorted(f.files)])
    for one, two in zip(*results):
        assert np.array_equal(one, two)


# -- the fused MLP step ------------------------------------------------------------------------------------

def data(rng, n, n_in, n_out, loss):
    x = rng.random((n, n_in), dtype=np.float32)
    if loss == "xent":
        return x, rng.integers(0, n_out, n)
    if loss == "bce":
        return x, (rng.random((n, n_out)) > 0.5).astype(np.float32)
    return x, rng.standard_normal((n, n_out)).astype(np.float32)


def reference_gradient(model, x, y, clip):
    """The gradient of one batch's mean loss, flat like model.grads and clipped like the trainer does, and
    each layer's gradient norm before clipping; float64, from the reference kernels."""
    acts = [np.asarray(x, np.float64)]
    for layer in model.layers:
        acts.append(ref.dense_forward(acts[-1], layer.W, layer.b, layer.kernel_activation, layer.alpha))
    loss_fn = {"xent": ref.softmax_xent, "bce": ref.sigmoid_bce, "mse": ref.mse}[model.loss.name]
    _, dout, _ = loss_fn(acts[-1], y)
    grads = np.zeros(model.params.size)
    norms = []
    for i in range(len(model.layers) - 1, -1, -1):
        layer = model.layers[i]
        dout, dW, db = ref.dense_backward(dout, acts[i + 1], acts[i], layer.W, layer.kernel_activation,
                                          layer.alpha)
        for view, value in ((layer.W, dW), (layer.b, db)):
            start = (view.ctypes.data - model.params.ctypes.data) // 4
            grads[start:start + value.size] = value.ravel()
        norms.insert(0, np.sqrt((dW * dW).sum() + (db * db).sum()))
    return (ref.clip_grad_norm(grads, clip)[0] if clip > 0 else grads), norms


def reference_update(model, params, grads, optimizer, state, t, decay):
    """(params, optimiser state) after the reference update from the given gradient."""
    kw = dict(lr=optimizer.lr, n_decay=model.n_weights, decay=decay)
    if optimizer.name == "sgd":
        return ref.sgd_update(params, grads, **kw), []
    if optimizer.name == "momentum":
        params, v = ref.momentum_update(params, grads, state[0], mu=optimizer.momentum, **kw)
        return params, [v]
    params, m, v = ref.adam_update(params, grads, state[0], state[1], t=t, **kw)
    return params, [m, v]


@pytest.mark.parametrize("spec,act,loss,opt,m", [
    ("5x1-3", "sigmoid", "xent", "sgd", 1),  # one layer on a 5x1 input, flattened
    ("13-7-3", "tanh", "bce", "momentum", 7),
    ("31-17-11-5", "relu", "mse", "adam", 10),
    ("20-9-4", "leaky_relu", "xent", "adam", 17),
    ("784-30-10", "sigmoid", "xent", "sgd", 10),      # two update chunks of 16,384 parameters
    ("300-300-200-10", "relu", "xent", "adam", 5),     # 152,410 parameters: the update runs on every thread
])
@pytest.mark.parametrize("decay,clip", [(0.0, 0.0), (0.3, 0.05)])
def test_fused_steps_match_the_reference(spec, act, loss, opt, m, decay, clip):
    rng = np.random.default_rng(len(spec) + m)
    sizes = [int(s) for s in spec.replace("x1", "").split("-")]
    x, y = data(rng, 40, sizes[0], sizes[-1], loss)
    model = build_model(spec, loss=loss, hidden_activation=act, seed=3, task="classification" if loss == "xent"
                        else "regression", n_outputs=sizes[-1])
    optimizer = Optimizer(opt, lr=0.05)
    last_good = model.params.copy()
    fast = fused_step(model, optimizer, x, y, last_good, max_batch=m, decay=decay, clip=clip)
    assert fast is not None
    for t in range(1, 4):  # a few steps, so the optimiser state and t are exercised too
        rows = rng.choice(len(x), m, replace=False).astype(np.int64)
        before, state_before = model.params.copy(), [s.copy() for s in optimizer.state]
        want_grads, want_norms = reference_gradient(model, x[rows], model.loss.targets(y[rows]), clip)
        loss_value, norms = fast.step(rows)
        assert np.isfinite(loss_value) and optimizer.t == t
        assert np.array_equal(last_good, before)
        close(norms, want_norms, 1e-5)
        close(model.grads, want_grads, 1e-5)
        # the update from the gradient C computed: Adam divides by |g|, so a float32-sized difference in a
        # near-zero gradient would otherwise show up at the scale of the learning rate
        want_params, want_state = reference_update(model, before, model.grads, optimizer, state_before, t, decay)
        close(model.params, want_params, 1e-5)
        for mine, theirs in zip(optimizer.state, want_state):
            close(mine, theirs, 1e-4)  # 1 - 0.999 in float32 is 5e-5 off, and v scales with g * g


def train(spec, x, y, config, fused=True, on_event=None, **build):
    model = build_model(spec, seed=5, **build)
    trainer = Trainer(model, config, on_event)
    original = pynn.train.fused_step
    calls = []

    def spy(*args, **kwargs):
        result = original(*args, **kwargs) if fused else None
        calls.append(result)
        return result

    pynn.train.fused_step = spy
    try:
        trainer.fit(x, y)
    finally:
        pynn.train.fused_step = original
    assert (calls[0] is not None) == fused  # the fast path really ran (or really did not)
    return model, trainer


@pytest.mark.parametrize("spec,act,loss,config", [
    ("784-30-10", "sigmoid", "xent", RunConfig(epochs=2, batch=10, optimizer="sgd", lr=0.5)),
    ("64-33-17-10", "relu", "xent", RunConfig(epochs=2, batch=13, optimizer="adam", l2=2.0, clip=0.5, val_split=0.2)),
    ("50-7-3", "tanh", "bce", RunConfig(epochs=1, batch=1, optimizer="momentum")),
    ("50-11-2", "leaky_relu", "mse", RunConfig(epochs=2, batch=32, optimizer="sgd", lr=0.01)),
])
def test_fused_training_matches_the_general_path(spec, act, loss, config):
    rng = np.random.default_rng(11)
    sizes = [int(s) for s in spec.split("-")]
    x, y = data(rng, 301, sizes[0], sizes[-1], loss)  # 301: the last batch is always a short one
    build = dict(loss=loss, hidden_activation=act, task="classification" if loss == "xent" else "regression",
                 n_outputs=sizes[-1])
    fast, fast_trainer = train(spec, x, y, config, **build)
    slow, slow_trainer = train(spec, x, y, config, fused=False, **build)
    close(fast.params, slow.params, 1e-5)
    assert fast_trainer.optimizer.t == slow_trainer.optimizer.t
    for mine, theirs in zip(fast_trainer.optimizer.state, slow_trainer.optimizer.state):
        close(mine, theirs, 1e-5)
    for a, b in zip(fast_trainer.history, slow_trainer.history):
        assert a.loss == pytest.approx(b.loss, rel=1e-5)
        assert a.grad_norms == pytest.approx(b.grad_norms, rel=1e-4)


def test_a_stop_request_ends_the_fused_path_after_the_same_batch():
    rng = np.random.default_rng(2)
    x, y = data(rng, 200, 20, 4, "xent")
    results = []
    for fused in (True, False):
        holder = {}

        def on_event(event):
            if isinstance(event, BatchEnd) and event.batch == 7:
                holder["trainer"].stop()

        model = build_model("20-8-4", seed=1)
        trainer = Trainer(model, RunConfig(epochs=3, batch=10, optimizer="adam"), on_event)
        holder["trainer"] = trainer
        original = pynn.train.fused_step
        if not fused:
            pynn.train.fused_step = lambda *a, **k: None
        try:
            trainer.fit(x, y)
        finally:
            pynn.train.fused_step = original
        results.append((model.params.copy(), trainer.progress.batch, trainer.reason, trainer.optimizer.t))
    (p1, b1, r1, t1), (p2, b2, r2, t2) = results
    assert (b1, r1, t1) == (b2, r2, t2) == (7, "stopped on request", 7)
    close(p1, p2, 1e-6)


def test_divergence_on_the_fused_path_keeps_the_last_good_weights():
    rng = np.random.default_rng(3)
    x, y = data(rng, 100, 10, 3, "xent")
    x[60, 3] = np.nan  # whichever batch draws sample 60 gets a NaN loss
    kept = []
    for fused in (True, False):
        model = build_model("10-5-3", seed=2)
        trainer = Trainer(model, RunConfig(epochs=1, batch=10, optimizer="sgd", lr=0.1))
        original = pynn.train.fused_step
        if not fused:
            pynn.train.fused_step = lambda *a, **k: None
        try:
            with pytest.raises(TrainingDiverged, match="the loss became nan"):
                trainer.fit(x, y)
        finally:
            pynn.train.fused_step = original
        assert np.isfinite(model.params).all()
        kept.append(model.params.copy())
    close(kept[0], kept[1], 1e-6)


def test_models_the_fused_step_cannot_run_take_the_general_path():
    rng = np.random.default_rng(4)
    x, y = data(rng, 30, 12, 3, "xent")
    optimizer = Optimizer("adam")
    with_dropout = build_model("12-8-drop0.5-3")
    assert fused_step(with_dropout, optimizer, x, y, with_dropout.params.copy(), max_batch=5, decay=0.0,
                      clip=0.0) is None
    plain = build_model("12-8-3")
    assert fused_step(plain, optimizer, x.astype(np.float64), y, plain.params.copy(), max_batch=5, decay=0.0,
                      clip=0.0) is None
    assert fused_step(plain, optimizer, x, y, plain.params.copy(), max_batch=5, decay=0.0, clip=0.0) is not None


def test_the_step_wrapper_checks_rows():
    rng = np.random.default_rng(5)
    x, y = data(rng, 30, 12, 3, "xent")
    model = build_model("12-8-3")
    fast = fused_step(model, Optimizer("sgd"), x, y, model.params.copy(), max_batch=5, decay=0.0, clip=0.0)
    with pytest.raises(ValueError, match="lie in"):
        fast.step(np.array([0, 30], np.int64))
    with pytest.raises(ValueError, match="lie in"):
        fast.step(np.array([-1], np.int64))
    with pytest.raises(ValueError, match="1 to 5"):
        fast.step(np.arange(6, dtype=np.int64))
    with pytest.raises(TypeError, match="int64"):
        fast.step(np.arange(3, dtype=np.int32))


# -- LSTM ----------------------------------------------------------------------------------------------------
# Each thread runs the recurrence for its own share of the batch (odd batches split unevenly), every element
# computed the same way whoever owns its sample; the packed Wh is shared.
LSTM_ACROSS_THREADS = """
import sys
import numpy as np
from pynn import core
rng = np.random.default_rng(3)
out = []
for B, T, n_in, U in [(32, 20, 1, 300), (7, 9, 65, 129), (3, 31, 2, 64), (33, 4, 5, 97)]:
    x = rng.standard_normal((B, T, n_in)).astype(np.float32)
    Wx = (rng.standard_normal((4 * U, n_in)) * 0.3).astype(np.float32)
    Wh = (rng.standard_normal((4 * U, U)) * 0.1).astype(np.float32)
    b = rng.standard_normal(4 * U).astype(np.float32)
    h, c, g = core.lstm_forward(x, Wx, Wh, b)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dx = core.lstm_backward(rng.standard_normal(h.shape).astype(np.float32), x, h, c, g, Wx, Wh, dWx, dWh, db)
    out += [h, c, g, dx, dWx, dWh, db]
np.savez(sys.argv[1], *out)
"""


def test_lstm_gives_the_same_bits_on_one_thread_and_two(tmp_path):
    results = []
    for threads in (1, 2):
        path = tmp_path / f"threads{threads}.npz"
        # PYNN_ALL_CORES: two threads even when other work keeps a core busy, so two is really two
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYNN_ALL_CORES="1", PYTHONPATH=str(PYNN_HOME))
        subprocess.run([sys.executable, "-c", LSTM_ACROSS_THREADS, str(path)], check=True, env=env, cwd=tmp_path)
        with np.load(path) as f:
            results.append([f[name] for name in sorted(f.files, key=lambda s: int(s.split("_")[1]))])
    for one, two in zip(*results):
        assert np.array_equal(one, two)


@pytest.mark.parametrize("B,T,n_in,U", [(2, 2, 1, 1), (5, 3, 7, 31), (33, 4, 5, 97), (32, 3, 1, 300)])
def test_lstm_split_over_samples_matches_the_reference(rng, B, T, n_in, U):
    """Batches big enough to split over threads, with uneven shares, against float64."""
    x = f32(rng, B, T, n_in)
    Wx, Wh, b = f32(rng, 4 * U, n_in) * 0.3, f32(rng, 4 * U, U) * 0.1, f32(rng, 4 * U)
    h, c, g = core.lstm_forward(x, Wx, Wh, b)
    rh, rc, rg = ref.lstm_forward(x, Wx, Wh, b)
    for got, want in ((h, rh), (c, rc), (g, rg)):
        close(got, want, 2e-5)
    dh = f32(rng, B, T, U)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dx = core.lstm_backward(dh, x, h, c, g, Wx, Wh, dWx, dWh, db)
    for got, want in zip((dx, dWx, dWh, db), ref.lstm_backward(dh, x, Wx, Wh, b)):
        close(got, want, 1e-4)
