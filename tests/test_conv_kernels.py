"""Convolution and max pooling: the C core against the float64 reference on awkward sizes, the reference against
finite differences, the same bits on one thread and two, and bad shapes refused in one sentence."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pynn.conv
from pynn import conv, core, reference as ref
from pynn.errors import PynnError
from test_reference import numeric_grad

# the folder holding the pynn this test imported (installed or built in place), for the child processes
PYNN_HOME = Path(pynn.conv.__file__).resolve().parent.parent

ACTS = ["identity", "relu", "tanh", "sigmoid", "leaky_relu"]

# (N, H, W, C, K, F, stride, padding): 1x1 kernels, primes, strides 2 and 3, odd images, "same" padding,
# several input channels, batch 1, a kernel as large as the image, batches that split into several chunks
CONV_CASES = [
    (1, 1, 1, 1, 1, 1, 1, "valid"),
    (2, 5, 7, 3, 1, 4, 1, "valid"),
    (1, 7, 7, 1, 7, 3, 1, "valid"),
    (3, 11, 13, 2, 3, 5, 2, "valid"),
    (2, 13, 11, 3, 5, 7, 3, "valid"),
    (1, 9, 8, 4, 3, 2, 1, "same"),
    (2, 7, 10, 3, 4, 3, 2, "same"),
    (3, 17, 13, 1, 5, 6, 3, "same"),
    (2, 6, 6, 5, 6, 3, 2, "same"),
    (5, 28, 28, 1, 5, 8, 1, "valid"),
    (7, 12, 12, 8, 5, 16, 1, "valid"),
    (37, 9, 9, 3, 3, 5, 1, "same"),
    # the direct paths: F a multiple of 8 up to 32, and C a multiple of 8 for dx; with padding to crop,
    # strides, and windows that leave the last rows and columns unread
    (3, 9, 7, 8, 3, 8, 2, "same"),
    (2, 10, 11, 16, 5, 24, 1, "same"),
    (2, 14, 13, 8, 3, 16, 3, "valid"),
    (3, 8, 9, 24, 2, 32, 1, "same"),
    (2, 6, 5, 8, 1, 40, 2, "valid"),
    (2, 7, 6, 3, 3, 24, 1, "valid"),
    (2, 5, 7, 19, 1, 32, 1, "valid"),
    (2, 6, 6, 32, 3, 8, 2, "same"),
    (1, 5, 5, 40, 3, 8, 1, "valid"),
]


def f32(rng, *shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def close(c_value, ref_value, rtol=2e-5):
    """float32 against float64, scaled by the reference's largest value (errors grow with the reduction)."""
    c_value, ref_value = np.asarray(c_value, np.float64), np.asarray(ref_value, np.float64)
    assert c_value.shape == ref_value.shape
    scale = max(1.0, float(np.abs(ref_value).max(initial=0.0)))
    err = float(np.abs(c_value - ref_value).max(initial=0.0))
    assert err <= rtol * scale, f"largest difference {err:.3g} (scale {scale:.3g})"


def conv_case(rng, N, H, W, C, K, F):
    return f32(rng, N, H, W, C), f32(rng, K, K, C, F, scale=1 / np.sqrt(K * K * C)), f32(rng, F, scale=0.1)


# -- sizes -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n,k,stride,padding,size,pads", [
    (28, 5, 1, "valid", 24, (0, 0)), (28, 5, 1, "same", 28, (2, 2)), (7, 3, 2, "same", 4, (1, 1)),
    (6, 3, 2, "same", 3, (0, 1)), (5, 4, 1, "same", 5, (1, 2)), (13, 5, 3, "valid", 3, (0, 0)),
    (5, 7, 1, "valid", 0, (0, 0)), (5, 7, 2, "same", 3, (3, 3)), (1, 1, 3, "same", 1, (0, 0)),
])
def test_output_size_and_same_padding_as_tensorflow(n, k, stride, padding, size, pads):
    """TensorFlow's rule: "same" gives ceil(n / stride) and pads max((out - 1) s + k - n, 0), the odd one after."""
    assert conv.conv_output_size(n, k, stride, padding) == size
    if padding == "same":
        assert conv.same_padding(n, k, stride) == pads


# -- C against the float64 reference ---------------------------------------------------------------------------

@pytest.mark.parametrize("N,H,W,C,K,F,stride,padding", CONV_CASES)
def test_conv_forward_backward_match_reference(rng, N, H, W, C, K, F, stride, padding):
    x, w, b = conv_case(rng, N, H, W, C, K, F)
    pads = conv.padding_amounts(H, W, K, stride, padding)
    for act in ("identity", "relu"):
        y, cache = conv.conv2d_forward(x, w, b, stride, padding, activation=act)
        close(y, ref.conv2d_forward(x, w, b, stride, pads, act))
        dy = f32(rng, *y.shape)
        dw0, db0 = f32(rng, *w.shape), f32(rng, F)
        dw, db = dw0.copy(), db0.copy()
        dy_before = dy.copy()
        dx = conv.conv2d_backward(dy, cache, dw, db)
        rdx, rdw, rdb = ref.conv2d_backward(dy, x, w, b, stride, pads, act)
        close(dx, rdx)
        close(dw, dw0 + rdw)   # accumulates
        close(db, db0 + rdb)
        assert np.array_equal(dy, dy_before)  # the caller's dy is left alone


@pytest.mark.parametrize("act", ACTS)
def test_conv_activations_fused_match_reference(rng, act):
    x, w, b = conv_case(rng, 3, 9, 8, 2, 3, 5)
    pads = conv.padding_amounts(9, 8, 3, 2, "same")
    y, cache = conv.conv2d_forward(x, w, b, 2, "same", activation=act, alpha=0.05)
    close(y, ref.conv2d_forward(x, w, b, 2, pads, act, alpha=0.05))
    dy = f32(rng, *y.shape)
    dw, db = np.zeros_like(w), np.zeros_like(b)
    dx = conv.conv2d_backward(dy, cache, dw, db)
    for got, want in zip((dx, dw, db), ref.conv2d_backward(dy, x, w, b, 2, pads, act, alpha=0.05)):
        close(got, want)


def test_conv_backward_without_dx_leaves_the_gradients_the_same(rng):
    x, w, b = conv_case(rng, 4, 10, 10, 2, 3, 4)
    y, cache = conv.conv2d_forward(x, w, b, 1, "valid", activation="relu")
    dy = f32(rng, *y.shape)
    grads = []
    for need_dx in (True, False):
        dw, db = np.zeros_like(w), np.zeros_like(b)
        dx = conv.conv2d_backward(dy, cache, dw, db, need_dx=need_dx)
        assert (dx is None) == (not need_dx)
        grads.append((dw, db))
    assert all(np.array_equal(a, b) for a, b in zip(*grads))


@pytest.mark.parametrize("N,H,W,C,P", [(1, 1, 1, 1, 1), (2, 4, 4, 3, 2), (3, 7, 5, 2, 2), (1, 9, 11, 4, 3),
                                       (2, 5, 5, 1, 5), (64, 24, 24, 8, 2), (5, 13, 6, 3, 4)])
def test_maxpool_matches_reference(rng, N, H, W, C, P):
    x = f32(rng, N, H, W, C)
    y, cache = conv.maxpool_forward(x, P)
    ry, rarg = ref.maxpool_forward(x, P)
    assert y.shape == (N, H // P, W // P, C)  # floor: trailing rows and columns dropped
    assert np.array_equal(y, ry.astype(np.float32)) and np.array_equal(cache.argmax, rarg)
    dy = f32(rng, *y.shape)
    assert np.array_equal(conv.maxpool_backward(dy, cache), ref.maxpool_backward(dy, rarg, x.shape, P))


@pytest.mark.parametrize("channels", [2, 8])  # the scalar loop and the 8-channel vectors
def test_maxpool_ties_go_to_the_first_maximum_in_row_major_order(channels):
    """PyTorch's rule: in a window of equal values the gradient goes to its top-left one."""
    x = np.zeros((1, 4, 4, channels), np.float32)
    x[0, 2:, 2:, 1] = [[1, 3], [3, 3]]   # the window's maximum 3 appears three times
    y, cache = conv.maxpool_forward(x, 2)
    dx = conv.maxpool_backward(np.ones_like(y), cache)
    assert cache.argmax[0, 1, 1, 1] == 1
    assert dx[0, :2, :2, 0].tolist() == [[1, 0], [0, 0]]   # all zeros: the first
    assert dx[0, 2:, 2:, 1].tolist() == [[0, 1], [0, 0]]


@pytest.mark.parametrize("channels", [1, 8])
def test_maxpool_passes_a_nan_on(channels):
    x = np.ones((1, 2, 2, channels), np.float32)
    x[0, 1, 0, :] = np.nan
    assert np.isnan(conv.maxpool_forward(x, 2)[0]).all()


# -- the reference against finite differences -----------------------------------------------------------------

@pytest.mark.parametrize("N,H,W,C,K,F,stride,padding,act", [
    (2, 5, 6, 2, 3, 3, 1, "valid", "tanh"), (1, 7, 5, 3, 3, 2, 2, "same", "sigmoid"),
    (2, 6, 7, 1, 4, 2, 3, "same", "identity"), (1, 4, 4, 2, 1, 3, 1, "valid", "tanh"),
])
def test_conv_reference_backward_matches_finite_differences(rng, N, H, W, C, K, F, stride, padding, act):
    x, w, b = (rng.standard_normal(s) for s in ((N, H, W, C), (K, K, C, F), (F,)))
    pads = conv.padding_amounts(H, W, K, stride, padding)
    dy = rng.standard_normal(ref.conv2d_forward(x, w, b, stride, pads, act).shape)

    def loss():
        return float((ref.conv2d_forward(x, w, b, stride, pads, act) * dy).sum())

    dx, dw, db = ref.conv2d_backward(dy, x, w, b, stride, pads, act)
    for analytic, wrt in ((dx, x), (dw, w), (db, b)):
        np.testing.assert_allclose(analytic, numeric_grad(loss, wrt), rtol=1e-6, atol=1e-7)


def test_maxpool_reference_backward_matches_finite_differences(rng):
    x = rng.standard_normal((2, 7, 5, 3))  # distinct values, so every maximum has a derivative
    y, argmax = ref.maxpool_forward(x, 2)
    dy = rng.standard_normal(y.shape)

    def loss():
        return float((ref.maxpool_forward(x, 2)[0] * dy).sum())

    np.testing.assert_allclose(ref.maxpool_backward(dy, argmax, x.shape, 2), numeric_grad(loss, x),
                               rtol=1e-6, atol=1e-7)


# -- threads ---------------------------------------------------------------------------------------------------

ACROSS_THREADS = """
import sys
import numpy as np
from pynn import conv
rng = np.random.default_rng(3)
out = []
for N, H, W, C, K, F, s, pad in [(64, 28, 28, 1, 5, 8, 1, "valid"), (64, 12, 12, 8, 5, 16, 1, "valid"),
                                 (45, 15, 15, 3, 3, 7, 2, "same")]:
    x = rng.standard_normal((N, H, W, C)).astype(np.float32)
    w = rng.standard_normal((K, K, C, F)).astype(np.float32)
    b = rng.standard_normal(F).astype(np.float32)
    y, cache = conv.conv2d_forward(x, w, b, s, pad, activation="relu")
    dw, db = np.zeros_like(w), np.zeros_like(b)
    dx = conv.conv2d_backward(rng.standard_normal(y.shape).astype(np.float32), cache, dw, db)
    p, pcache = conv.maxpool_forward(y, 2)
    out += [y, dx, dw, db, p, conv.maxpool_backward(np.ones_like(p), pcache)]
np.savez(sys.argv[1], *out)
"""


def test_conv_and_pool_give_the_same_bits_on_one_thread_and_two(tmp_path):
    results = []
    for threads in (1, 2):
        path = tmp_path / f"threads{threads}.npz"
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=str(PYNN_HOME))
        subprocess.run([sys.executable, "-c", ACROSS_THREADS, str(path)], check=True, env=env, cwd=tmp_path)
        with np.load(path) as f:
            results.append([f[name] for name in sorted(f.files, key=lambda s: int(s.split("_")[1]))])
    assert len(results[0]) == 18
    for one, two in zip(*results):
        assert np.array_equal(one, two)


# -- bad input -------------------------------------------------------------------------------------------------

def one_sentence(err: PynnError) -> str:
    text = str(err)
    assert "\n" not in text and text.endswith(".") and text.count(". ") == 0, text
    return text


@pytest.mark.parametrize("x_shape,w_shape,b_shape,stride,padding,words", [
    ((2, 8, 8, 3), (3, 3, 1, 4), (4,), 1, "valid", "reads 1 channels; the input has 3"),
    ((2, 4, 4, 1), (5, 5, 1, 4), (4,), 1, "valid", "does not fit in a 4x4 input"),
    ((2, 8, 8, 1), (3, 2, 1, 4), (4,), 1, "valid", "square kernel"),
    ((2, 8, 8, 1), (3, 3, 1, 4), (3,), 1, "valid", "one bias per filter"),
    ((2, 8, 8, 1), (3, 3, 1, 4), (4,), 0, "valid", "stride must be a whole number"),
    ((2, 8, 8, 1), (3, 3, 1, 4), (4,), 1, "full", "padding must be one of valid, same"),
    ((8, 8, 1), (3, 3, 1, 4), (4,), 1, "valid", "must be (samples, height, width, channels)"),
])
def test_conv_bad_shapes_are_one_sentence(x_shape, w_shape, b_shape, stride, padding, words):
    with pytest.raises(PynnError) as err:
        conv.conv2d_forward(np.zeros(x_shape, np.float32), np.zeros(w_shape, np.float32),
                            np.zeros(b_shape, np.float32), stride, padding)
    assert words in one_sentence(err.value)


def test_pool_bad_sizes_are_one_sentence():
    with pytest.raises(PynnError) as err:
        conv.maxpool_forward(np.zeros((1, 3, 5, 2), np.float32), 4)
    assert "a 4x4 pool does not fit in a 3x5 input" in one_sentence(err.value)
    with pytest.raises(PynnError) as err:
        conv.maxpool_forward(np.zeros((1, 3, 5, 2), np.float32), 0)
    assert "pool size" in one_sentence(err.value)


def test_backward_refuses_a_gradient_of_the_wrong_shape(rng):
    x, w, b = conv_case(rng, 2, 6, 6, 1, 3, 2)
    y, cache = conv.conv2d_forward(x, w, b)
    with pytest.raises(PynnError, match="dy has shape"):
        conv.conv2d_backward(np.zeros((2, 4, 4, 3), np.float32), cache, np.zeros_like(w), np.zeros_like(b))
    p, pcache = conv.maxpool_forward(x, 2)
    with pytest.raises(PynnError, match="dy has shape"):
        conv.maxpool_backward(np.zeros((2, 2, 2, 1), np.float32), pcache)


def test_core_wrappers_check_what_c_trusts(rng):
    """The geometry C relies on to stay inside its buffers, and outputs that alias inputs."""
    x, w, b = conv_case(rng, 2, 6, 6, 1, 3, 2)
    with pytest.raises(ValueError, match="reads past"):
        core.conv2d_forward(x, w, b, 1, 0, 0, 7, 4)
    with pytest.raises(ValueError, match="do not make a convolution"):
        core.conv2d_forward(x, w, b, 1, 3, 0, 4, 4)   # padding as large as the kernel
    y = core.conv2d_forward(x, w, b, 1, 0, 0, 4, 4)
    with pytest.raises(ValueError, match="dw shares memory with w"):
        core.conv2d_backward(y.copy(), y, x, w, w, np.zeros_like(b), 1, 0, 0)
    with pytest.raises(TypeError, match="x must be float32"):
        core.conv2d_forward(x.astype(np.float64), w, b, 1, 0, 0, 4, 4)
    p, argmax = core.maxpool_forward(x, 2)
    with pytest.raises(ValueError, match="argmax must be"):
        core.maxpool_backward(p, argmax + 4, x.shape, 2)


# -- PyTorch parity --------------------------------------------------------------------------------------------

PARITY = Path(__file__).resolve().parent / "fixtures" / "conv" / "parity.npz"


def parity_pass(f, ops):
    """Loss and gradients of tests/fixtures/conv/make_parity.py's model through pynn's operations: conv, relu,
    pool, conv at stride 2 with "same" padding, relu, flatten (NHWC order), dense, softmax cross-entropy."""
    conv_forward, conv_backward, pool_forward, pool_backward, dense, xent = ops
    a1, c1 = conv_forward(f["x"], f["w1"], f["b1"], 1, "valid")
    p1, cp = pool_forward(a1)
    a2, c2 = conv_forward(p1, f["w2"], f["b2"], 2, "same")
    flat = a2.reshape(len(a2), -1)
    logits = dense(flat)
    loss, dlogits = xent(logits)
    dflat, dw3, db3 = dlogits @ f["w3"], dlogits.T @ flat, dlogits.sum(axis=0)
    dp1, dw2, db2 = conv_backward(dflat.reshape(a2.shape), c2)
    dx, dw1, db1 = conv_backward(pool_backward(dp1, cp), c1)
    return dict(loss=loss, logits=logits, a1=a1, p1=p1, a2=a2, dx=dx, dw1=dw1, db1=db1, dw2=dw2, db2=db2,
                dw3=dw3, db3=db3)


def c_core_ops(f):
    def forward(x, w, b, stride, padding):
        return conv.conv2d_forward(x.astype(np.float32), w.astype(np.float32), b.astype(np.float32), stride,
                                   padding, activation="relu")

    def backward(dy, cache):
        dw, db = np.zeros(cache.w.shape, np.float32), np.zeros(cache.w.shape[3], np.float32)
        return conv.conv2d_backward(dy.astype(np.float32), cache, dw, db), dw, db

    def dense(flat):
        return core.dense_forward(np.ascontiguousarray(flat), f["w3"].astype(np.float32),
                                  f["b3"].astype(np.float32), "identity")

    def xent(logits):
        loss, dlogits, _ = core.softmax_xent(logits, f["labels"])
        return loss, dlogits

    return (forward, backward, lambda a: conv.maxpool_forward(a, 2), conv.maxpool_backward, dense, xent)


def reference_ops(f):
    def forward(x, w, b, stride, padding):
        pads = conv.padding_amounts(*x.shape[1:3], w.shape[0], stride, padding)
        return ref.conv2d_forward(x, w, b, stride, pads, "relu"), (x, w, b, stride, pads)

    def backward(dy, cache):
        return ref.conv2d_backward(dy, *cache, "relu")

    def pool_forward(a):
        y, argmax = ref.maxpool_forward(a, 2)
        return y, (argmax, a.shape)

    def xent(logits):
        loss, dlogits, _ = ref.softmax_xent(logits, f["labels"])
        return loss, dlogits

    return (forward, backward, pool_forward, lambda dy, c: ref.maxpool_backward(dy, c[0], c[1], 2),
            lambda flat: flat @ f["w3"].T + f["b3"], xent)


@pytest.mark.parametrize("ops,rtol", [(c_core_ops, 1e-5), (reference_ops, 1e-10)])
def test_loss_and_gradients_match_pytorch(ops, rtol):
    """Same weights, same inputs -> PyTorch's loss and every gradient: float32 C within 1e-5 of the largest
    value, the float64 reference within 1e-10 (so the conventions, not only the rounding, agree)."""
    with np.load(PARITY) as f:
        f = dict(f)
    ours = parity_pass(f, ops(f))
    assert ours["a1"].shape == (6, 13, 12, 4) and ours["p1"].shape == (6, 6, 6, 4)  # the pool's floor
    for name, value in ours.items():
        want = np.asarray(f[name], np.float64)
        err = float(np.abs(np.asarray(value, np.float64) - want).max())
        assert err <= rtol * float(np.abs(want).max()), f"{name}: largest difference {err:.3g}"
