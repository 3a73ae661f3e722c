"""The float64 reference against central finite differences: the oracle must itself be right."""
import numpy as np
import pytest

from pynn import reference as ref


def numeric_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        hi = f()
        x[i] = old - eps
        lo = f()
        x[i] = old
        g[i] = (hi - lo) / (2 * eps)
    return g


@pytest.mark.parametrize("act", ["identity", "sigmoid", "tanh", "relu", "leaky_relu"])
def test_dense_backward_matches_finite_differences(rng, act):
    x, W, b = rng.standard_normal((4, 5)), rng.standard_normal((3, 5)), rng.standard_normal(3)
    w_out = rng.standard_normal((4, 3))  # loss = sum(w_out * out), so dL/dout = w_out

    def loss():
        return float((w_out * ref.dense_forward(x, W, b, act, alpha=0.1)).sum())

    out = ref.dense_forward(x, W, b, act, alpha=0.1)
    dx, dW, db = ref.dense_backward(w_out, out, x, W, act, alpha=0.1)
    np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dW, numeric_grad(loss, W), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(db, numeric_grad(loss, b), rtol=1e-5, atol=1e-7)


def test_softmax_xent_gradient_matches_finite_differences(rng):
    z = rng.standard_normal((5, 4)) * 3
    y = rng.integers(0, 4, 5)
    _, d, _ = ref.softmax_xent(z, y)
    np.testing.assert_allclose(d, numeric_grad(lambda: ref.softmax_xent(z, y)[0], z), rtol=1e-5, atol=1e-8)


def test_sigmoid_bce_gradient_matches_finite_differences(rng):
    z = rng.standard_normal((5, 3)) * 3
    t = rng.integers(0, 2, (5, 3)).astype(float)
    _, d, _ = ref.sigmoid_bce(z, t)
    np.testing.assert_allclose(d, numeric_grad(lambda: ref.sigmoid_bce(z, t)[0], z), rtol=1e-5, atol=1e-8)


def test_mse_gradient_matches_finite_differences(rng):
    a, t = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    _, d, _ = ref.mse(a, t)
    np.testing.assert_allclose(d, numeric_grad(lambda: ref.mse(a, t)[0], a), rtol=1e-6, atol=1e-9)


def test_l2_decay_is_the_gradient_of_the_penalty(rng):
    """sgd with decay lam/n equals a step on loss + lam/(2n) * sum(w^2) for the decayed block only."""
    p, g = rng.standard_normal(6), rng.standard_normal(6)
    got = ref.sgd_update(p, g, lr=0.1, n_decay=4, decay=0.5)
    penalty_grad = numeric_grad(lambda: 0.25 * float((p[:4] ** 2).sum()), p)
    np.testing.assert_allclose(got, p - 0.1 * (g + penalty_grad), rtol=1e-6)


def test_adam_first_step_moves_each_parameter_by_about_lr(rng):
    p, g = rng.standard_normal(10), rng.standard_normal(10)
    new, _, _ = ref.adam_update(p, g, np.zeros(10), np.zeros(10), lr=0.01, t=1)
    np.testing.assert_allclose(np.abs(new - p), 0.01, rtol=1e-4)
    assert np.all(np.sign(p - new) == np.sign(g))


@pytest.mark.parametrize("name", ["xent", "bce", "mse"])
@pytest.mark.parametrize("shape", [(5, 3), (4, 6, 3)], ids=["per-sample", "per-step"])
def test_output_loss_gradient_matches_finite_differences(rng, name, shape):
    out = rng.standard_normal(shape) * 2
    targets = {"xent": rng.integers(0, 3, shape[:-1]), "bce": rng.integers(0, 2, shape).astype(float),
               "mse": rng.standard_normal(shape)}[name]
    _, d = ref.output_loss(name, out, targets)
    np.testing.assert_allclose(d, numeric_grad(lambda: ref.output_loss(name, out, targets)[0], out),
                               rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("name", ["xent", "bce", "mse"])
def test_output_loss_on_plain_rows_is_the_kernels_reference(rng, name):
    """On (m, k) the convention is exactly the kernels' own: the mean over samples of a sum over outputs."""
    out = rng.standard_normal((6, 4))
    targets = rng.integers(0, 4, 6) if name == "xent" else rng.random((6, 4))
    kernel = {"xent": ref.softmax_xent, "bce": ref.sigmoid_bce, "mse": ref.mse}[name]
    want_loss, want_d, _ = kernel(out, targets)
    loss, d = ref.output_loss(name, out, targets)
    assert loss == pytest.approx(want_loss, rel=1e-12)
    np.testing.assert_allclose(d, want_d, rtol=1e-12, atol=1e-15)
