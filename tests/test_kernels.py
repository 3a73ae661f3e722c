"""Every C kernel against the float64 reference, on awkward shapes: 1x1, odd sizes, batch 1, block tails."""
import numpy as np
import pytest

from pynn import core, reference as ref

SHAPES = [(1, 1, 1), (1, 7, 3), (3, 1, 5), (5, 3, 1), (4, 4, 4), (13, 17, 19), (1, 784, 30), (10, 30, 784),
          (33, 129, 257), (130, 300, 70), (67, 513, 31)]
ACTS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu"]


def f32(rng, *shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def close(c_value, ref_value, rtol=2e-5, atol=2e-5):
    """float32 kernels against float64: error grows with the reduction length, so compare scaled."""
    c_value, ref_value = np.asarray(c_value, np.float64), np.asarray(ref_value, np.float64)
    scale = max(1.0, float(np.abs(ref_value).max(initial=0.0)))
    err = float(np.abs(c_value - ref_value).max(initial=0.0))
    assert err <= atol * scale + rtol * scale, f"largest difference {err:.3g} (scale {scale:.3g})"


@pytest.mark.parametrize("m,n,k", SHAPES)
@pytest.mark.parametrize("ta,tb", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_sgemm_matches_reference(rng, m, n, k, ta, tb):
    a = f32(rng, *((k, m) if ta else (m, k)))
    b = f32(rng, *((n, k) if tb else (k, n)))
    c0 = f32(rng, m, n)
    for fn_naive in (False, True):
        c = c0.copy()
        core.sgemm(a, b, trans_a=bool(ta), trans_b=bool(tb), alpha=0.7, beta=0.3, out=c, naive=fn_naive)
        close(c, ref.sgemm(a, b, trans_a=ta, trans_b=tb, alpha=0.7, beta=0.3, c=c0), rtol=1e-5 * np.sqrt(k))


def test_sgemm_beta_zero_ignores_garbage_in_c(rng):
    a, b = f32(rng, 5, 6), f32(rng, 6, 7)
    c = np.full((5, 7), np.nan, np.float32)
    core.sgemm(a, b, out=c)
    close(c, ref.sgemm(a, b))


def test_sgemm_threaded_result_is_deterministic(rng):
    a, b = f32(rng, 300, 400), f32(rng, 400, 500)
    first = core.sgemm(a, b)
    for _ in range(3):
        assert np.array_equal(core.sgemm(a, b), first)


@pytest.mark.parametrize("act", ACTS)
def test_activations_match_reference(rng, act):
    x = f32(rng, 7, 11, scale=4)
    x[0, :4] = [0.0, 100.0, -100.0, 1e-3]
    y = core.activate(x, act, alpha=0.05)
    close(y, ref.activate(x, act, alpha=0.05))
    dy = f32(rng, 7, 11)
    close(core.activate_backward(dy, y, act, alpha=0.05), ref.activate_backward(dy, y, act, alpha=0.05))


@pytest.mark.parametrize("m,n_in,n_out", [(1, 1, 1), (1, 784, 30), (10, 784, 30), (7, 13, 5), (64, 100, 10)])
@pytest.mark.parametrize("act", ACTS)
def test_dense_forward_backward_match_reference(rng, m, n_in, n_out, act):
    x, W, b = f32(rng, m, n_in), f32(rng, n_out, n_in, scale=1 / np.sqrt(n_in)), f32(rng, n_out)
    out = core.dense_forward(x, W, b, act, alpha=0.1)
    close(out, ref.dense_forward(x, W, b, act, alpha=0.1))
    dout = f32(rng, m, n_out)
    dW0, db0 = f32(rng, n_out, n_in), f32(rng, n_out)
    dW, db = dW0.copy(), db0.copy()
    dx = core.dense_backward(dout.copy(), out, x, W, dW, db, act, alpha=0.1)
    rdx, rdW, rdb = ref.dense_backward(dout, out, x, W, act, alpha=0.1)
    close(dx, rdx)
    close(dW, dW0 + rdW)  # gradients accumulate
    close(db, db0 + rdb)


@pytest.mark.parametrize("m,k", [(1, 1), (1, 10), (5, 3), (32, 10), (17, 65)])
def test_softmax_xent_matches_reference(rng, m, k):
    logits = f32(rng, m, k, scale=3)
    labels = rng.integers(0, k, m).astype(np.int32)
    loss, d, p = core.softmax_xent(logits, labels)
    rloss, rd, rp = ref.softmax_xent(logits, labels)
    assert loss == pytest.approx(rloss, rel=1e-5, abs=1e-6)
    close(d, rd)
    close(p, rp)


def test_softmax_xent_is_finite_for_huge_logits():
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0]], np.float32)
    loss, d, p = core.softmax_xent(logits, np.array([1, 2], np.int32))
    assert np.isfinite(loss) and np.isfinite(d).all() and np.isfinite(p).all()
    assert loss == pytest.approx(1000.0, rel=1e-6)  # sample 0 is 2000 below the winner, sample 1 is right


@pytest.mark.parametrize("m,k", [(1, 1), (4, 3), (20, 1)])
def test_sigmoid_bce_matches_reference(rng, m, k):
    logits = f32(rng, m, k, scale=5)
    logits.flat[0] = 800.0
    targets = rng.integers(0, 2, (m, k)).astype(np.float32)
    loss, d, p = core.sigmoid_bce(logits, targets)
    rloss, rd, rp = ref.sigmoid_bce(logits, targets)
    assert np.isfinite(loss) and loss == pytest.approx(rloss, rel=1e-5)
    close(d, rd)
    close(p, rp)


def test_mse_matches_reference(rng):
    out, t = f32(rng, 6, 4), f32(rng, 6, 4)
    loss, d, _ = core.mse(out, t)
    rloss, rd, _ = ref.mse(out, t)
    assert loss == pytest.approx(rloss, rel=1e-6)
    close(d, rd)


@pytest.mark.parametrize("n,n_decay", [(1, 0), (1, 1), (37, 20), (1000, 1000)])
def test_optimisers_match_reference(rng, n, n_decay):
    p0, g = f32(rng, n), f32(rng, n)
    p = p0.copy()
    core.sgd_update(p, g, lr=0.1, n_decay=n_decay, decay=0.01)
    close(p, ref.sgd_update(p0, g, lr=0.1, n_decay=n_decay, decay=0.01))

    p, v0 = p0.copy(), f32(rng, n)
    v = v0.copy()
    core.momentum_update(p, g, v, lr=0.1, mu=0.9, n_decay=n_decay, decay=0.01)
    rp, rv = ref.momentum_update(p0, g, v0, lr=0.1, mu=0.9, n_decay=n_decay, decay=0.01)
    close(p, rp)
    close(v, rv)

    p, m0, v0 = p0.copy(), f32(rng, n) * 0.1, np.abs(f32(rng, n)) * 0.1
    m, v = m0.copy(), v0.copy()
    for t in (1, 2, 50):
        core.adam_update(p, g, m, v, lr=0.01, t=t, n_decay=n_decay, decay=0.01)
        rp, m0, v0 = ref.adam_update(p0, g, m0, v0, lr=0.01, t=t, n_decay=n_decay, decay=0.01)
        close(p, rp, rtol=1e-5, atol=1e-6)
        p0 = rp.astype(np.float32)
        p = p0.copy()


def test_clip_grad_norm_matches_reference(rng):
    g = f32(rng, 50) * 10
    want, norm = ref.clip_grad_norm(g, 1.0)
    got = g.copy()
    assert core.clip_grad_norm(got, 1.0) == pytest.approx(norm, rel=1e-6)
    close(got, want)
    assert np.linalg.norm(got) == pytest.approx(1.0, rel=1e-5)
    small = np.array([0.1, 0.2], np.float32)
    core.clip_grad_norm(small, 1.0)
    assert np.array_equal(small, np.array([0.1, 0.2], np.float32))  # under the limit: untouched


def test_dropout_matches_reference(rng):
    x = f32(rng, 9, 8)
    mask = (rng.random((9, 8)) > 0.3).astype(np.uint8)
    close(core.dropout(x, mask, 1 / 0.7), ref.dropout(x, mask, 1 / 0.7))


# -- the wrapper rejects what C would misread -------------------------------------------------------------

def test_wrapper_rejects_wrong_dtype_shape_and_layout(rng):
    x, W, b = f32(rng, 4, 6), f32(rng, 3, 6), f32(rng, 3)
    with pytest.raises(TypeError, match="float32"):
        core.dense_forward(x.astype(np.float64), W, b, "relu")
    with pytest.raises(ValueError, match="shape"):
        core.dense_forward(x, W, f32(rng, 4), "relu")
    with pytest.raises(ValueError, match="contiguous"):
        core.dense_forward(np.asfortranarray(x), W, b, "relu")
    with pytest.raises(ValueError, match="inner dimensions"):
        core.sgemm(x, W)
    with pytest.raises(ValueError, match="labels"):
        core.softmax_xent(f32(rng, 2, 3), np.array([0, 3], np.int32))
    with pytest.raises(TypeError, match="int32"):
        core.softmax_xent(f32(rng, 2, 3), np.array([0, 1], np.int64))
    with pytest.raises(ValueError, match="activation"):
        core.activate(x, "swish")


@pytest.mark.parametrize("m,n,k", SHAPES + [(32, 1200, 300), (32, 300, 1200), (7, 17, 513)])
@pytest.mark.parametrize("ta,tb", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_sgemm_with_prepacked_b_matches_reference_and_the_blocked_path(rng, m, n, k, ta, tb):
    a = f32(rng, *((k, m) if ta else (m, k)))
    b = f32(rng, *((n, k) if tb else (k, n)))
    c0 = f32(rng, m, n)
    packed = core.sgemm_pack_b(b, trans_b=bool(tb))
    c = c0.copy()
    core.sgemm_packed(a, packed, n, trans_a=bool(ta), alpha=0.7, beta=0.3, out=c)
    close(c, ref.sgemm(a, b, trans_a=ta, trans_b=tb, alpha=0.7, beta=0.3, c=c0), rtol=1e-5 * np.sqrt(k))
    if not (not ta and tb and (m <= 16 or n <= 32)):  # the dot-product path sums in another order
        blocked = c0.copy()
        core.sgemm(a, b, trans_a=bool(ta), trans_b=bool(tb), alpha=0.7, beta=0.3, out=blocked)
        np.testing.assert_array_equal(c, blocked)
    again = np.full((m, n), np.nan, np.float32)  # beta 0 never reads C; the packed copy is reusable
    core.sgemm_packed(a, packed, n, trans_a=bool(ta), out=again)
    close(again, ref.sgemm(a, b, trans_a=ta, trans_b=tb), rtol=1e-5 * np.sqrt(k))


def test_sgemm_packed_rejects_a_packed_buffer_too_small(rng):
    packed = core.sgemm_pack_b(f32(rng, 8, 20))
    with pytest.raises(ValueError, match="too few"):
        core.sgemm_packed(f32(rng, 3, 9), packed, 20)
