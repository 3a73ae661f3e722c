"""The LSTM kernel against the float64 reference, and the reference's BPTT against finite differences."""
import numpy as np
import pytest

from pynn import core, reference as ref


def weights(rng, n_in, U, scale=0.5):
    return ((rng.standard_normal((4 * U, n_in)) * scale).astype(np.float32),
            (rng.standard_normal((4 * U, U)) * scale).astype(np.float32),
            rng.standard_normal(4 * U).astype(np.float32))


@pytest.mark.parametrize("B,T,n_in,U", [(1, 1, 1, 1), (1, 3, 1, 2), (3, 1, 4, 5), (2, 7, 3, 5), (5, 13, 2, 17),
                                        (32, 20, 1, 30), (4, 6, 65, 33)])
def test_lstm_forward_and_backward_match_reference(rng, B, T, n_in, U):
    x = rng.standard_normal((B, T, n_in)).astype(np.float32)
    Wx, Wh, b = weights(rng, n_in, U)
    h, c, gates = core.lstm_forward(x, Wx, Wh, b)
    rh, rc, rg = ref.lstm_forward(x, Wx, Wh, b)
    for got, want in ((h, rh), (c, rc), (gates, rg)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    dh = rng.standard_normal((B, T, U)).astype(np.float32)
    dWx0, dWh0, db0 = (rng.standard_normal(a.shape).astype(np.float32) for a in (Wx, Wh, b))
    dWx, dWh, db = dWx0.copy(), dWh0.copy(), db0.copy()
    dx = core.lstm_backward(dh, x, h, c, gates, Wx, Wh, dWx, dWh, db)
    rdx, rdWx, rdWh, rdb = ref.lstm_backward(dh, x, Wx, Wh, b)
    scale = max(1.0, np.abs(rdWx).max())
    np.testing.assert_allclose(dx, rdx, rtol=1e-4, atol=1e-5 * scale)
    np.testing.assert_allclose(dWx, dWx0 + rdWx, rtol=1e-4, atol=1e-5 * scale)  # gradients accumulate
    np.testing.assert_allclose(dWh, dWh0 + rdWh, rtol=1e-4, atol=1e-5 * scale)
    np.testing.assert_allclose(db, db0 + rdb, rtol=1e-4, atol=1e-5 * scale)


def test_reference_bptt_matches_finite_differences(rng):
    B, T, n_in, U = 2, 4, 3, 3
    x = rng.standard_normal((B, T, n_in))
    Wx, Wh, b = (a.astype(np.float64) for a in weights(rng, n_in, U))
    w_out = rng.standard_normal((B, T, U))  # loss = sum(w_out * h), so dL/dh = w_out

    def loss():
        return float((w_out * ref.lstm_forward(x, Wx, Wh, b)[0]).sum())

    dx, dWx, dWh, db = ref.lstm_backward(w_out, x, Wx, Wh, b)
    for analytic, param in ((dx, x), (dWx, Wx), (dWh, Wh), (db, b)):
        numeric = np.zeros_like(param)
        for i in np.ndindex(param.shape):
            old = param[i]
            param[i] = old + 1e-6
            hi = loss()
            param[i] = old - 1e-6
            lo = loss()
            param[i] = old
            numeric[i] = (hi - lo) / 2e-6
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


def test_lstm_wrapper_rejects_bad_arguments(rng):
    Wx, Wh, b = weights(rng, 2, 3)
    with pytest.raises(ValueError, match="steps"):
        core.lstm_forward(np.zeros((4, 2), np.float32), Wx, Wh, b)
    with pytest.raises(ValueError, match="shape"):
        core.lstm_forward(np.zeros((1, 5, 3), np.float32), Wx, Wh, b)
    with pytest.raises(TypeError, match="float32"):
        core.lstm_forward(np.zeros((1, 5, 2)), Wx, Wh, b)
