"""The LSTM kernel against the float64 reference, and the reference's BPTT against finite differences."""
import numpy as np
import pytest

from pynn import core, reference as ref
from test_reference import numeric_grad


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
        np.testing.assert_allclose(analytic, numeric_grad(loss, param), rtol=1e-5, atol=1e-7)


def test_lstm_wrapper_rejects_bad_arguments(rng):
    Wx, Wh, b = weights(rng, 2, 3)
    with pytest.raises(ValueError, match="steps"):
        core.lstm_forward(np.zeros((4, 2), np.float32), Wx, Wh, b)
    with pytest.raises(ValueError, match="shape"):
        core.lstm_forward(np.zeros((1, 5, 3), np.float32), Wx, Wh, b)
    with pytest.raises(TypeError, match="float32"):
        core.lstm_forward(np.zeros((1, 5, 2)), Wx, Wh, b)


@pytest.mark.parametrize("B,T,n_in,U", [(1, 2, 1, 8), (2, 3, 2, 9), (3, 2, 1, 16), (2, 4, 3, 23), (32, 5, 1, 300),
                                        (2, 3, 5, 257), (7, 2, 65, 128)])
def test_lstm_vector_tails_and_packed_blocks_match_reference(rng, B, T, n_in, U):
    """Units that fill whole 8-wide vectors, leave tails of every length, and Wh deeper than one packed block."""
    x = rng.standard_normal((B, T, n_in)).astype(np.float32)
    Wx, Wh, b = weights(rng, n_in, U, scale=0.2)
    work = np.full(core.lstm_workspace(B, T, n_in, U), np.nan, np.float32)  # scratch is never read before written
    h, c, gates = core.lstm_forward(x, Wx, Wh, b, work=work)
    rh, rc, rg = ref.lstm_forward(x, Wx, Wh, b)
    for got, want in ((h, rh), (c, rc), (gates, rg)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5)
    dh = rng.standard_normal((B, T, U)).astype(np.float32)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    work[:] = np.nan
    dx = core.lstm_backward(dh, x, h, c, gates, Wx, Wh, dWx, dWh, db, work=work)
    rdx, rdWx, rdWh, rdb = ref.lstm_backward(dh, x, Wx, Wh, b)
    for got, want in ((dx, rdx), (dWx, rdWx), (dWh, rdWh), (db, rdb)):
        scale = max(1.0, np.abs(want).max())
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5 * scale)
    again = core.lstm_forward(x, Wx, Wh, b, work=work)  # the same scratch again: the same numbers
    for first, second in zip((h, c, gates), again):
        np.testing.assert_array_equal(first, second)


def test_lstm_gates_saturate_like_the_reference_and_nan_stays_nan(rng):
    """Pre-activations from -1000 to 1000 (sigmoid and tanh at their limits, exp clamped) and tiny ones
    (tanh's polynomial branch) against float64; a NaN input reaches the outputs instead of being clamped away."""
    B, T, n_in, U = 3, 4, 1, 11
    x = np.array([-1000, -90, -30, -1, -1e-3, 0, 1e-6, 0.3, 0.7, 20, 88, 1000], np.float32).reshape(B, T, n_in)
    Wx, Wh, b = weights(rng, n_in, U)
    Wh *= 0.01
    h, c, gates = core.lstm_forward(x, Wx, Wh, b)
    rh, rc, rg = ref.lstm_forward(x, Wx, Wh, b)
    for got, want in ((h, rh), (c, rc), (gates, rg)):
        assert np.isfinite(got).all()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    x[1, 2, 0] = np.nan
    h, c, gates = core.lstm_forward(x, Wx, Wh, b)
    assert np.isnan(h[1, 2:]).all() and np.isnan(gates[1, 2]).all()
    assert np.isfinite(h[[0, 2]]).all() and np.isfinite(h[1, :2]).all()


def test_lstm_rejects_a_workspace_too_small(rng):
    Wx, Wh, b = weights(rng, 2, 3)
    with pytest.raises(ValueError, match="work"):
        core.lstm_forward(np.zeros((1, 5, 2), np.float32), Wx, Wh, b, work=np.zeros(3, np.float32))


# -- a state carried in (stateful runs): h0 and c0 start the recurrence, and are constants for backward ------

@pytest.mark.parametrize("B,T,n_in,U", [(1, 1, 1, 1), (3, 1, 4, 5), (2, 7, 3, 9), (5, 13, 2, 17), (32, 5, 1, 300),
                                        (7, 2, 65, 128), (2, 3, 5, 257)])
def test_lstm_from_a_carried_state_matches_reference(rng, B, T, n_in, U):
    """Awkward sizes (one step, vector tails, Wh deeper than one packed block, a threaded batch) from a nonzero
    h0 and c0, forward and backward; the state ends in the last step's h and c."""
    x = rng.standard_normal((B, T, n_in)).astype(np.float32)
    Wx, Wh, b = weights(rng, n_in, U, scale=0.2)
    h0 = np.tanh(rng.standard_normal((B, U))).astype(np.float32)
    c0 = (2 * rng.standard_normal((B, U))).astype(np.float32)
    work = np.full(core.lstm_workspace(B, T, n_in, U), np.nan, np.float32)
    h, c, gates = core.lstm_forward(x, Wx, Wh, b, work=work, h0=h0, c0=c0)
    rh, rc, rg = ref.lstm_forward(x, Wx, Wh, b, h0, c0)
    for got, want in ((h, rh), (c, rc), (gates, rg)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5)
    zero_h = ref.lstm_forward(x, Wx, Wh, b)[0]
    assert np.abs(rh[:, 0] - zero_h[:, 0]).max() > 1e-3  # the state carried in does change the first step
    dh = rng.standard_normal((B, T, U)).astype(np.float32)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    work[:] = np.nan
    dx = core.lstm_backward(dh, x, h, c, gates, Wx, Wh, dWx, dWh, db, work=work, h0=h0, c0=c0)
    rdx, rdWx, rdWh, rdb = ref.lstm_backward(dh, x, Wx, Wh, b, h0, c0)
    for got, want in ((dx, rdx), (dWx, rdWx), (dWh, rdWh), (db, rdb)):
        scale = max(1.0, np.abs(want).max())
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5 * scale)


def test_a_zero_state_given_is_the_state_not_given(rng):
    """h0 = c0 = 0 passed explicitly gives the numbers of the default, bit for bit."""
    B, T, n_in, U = 3, 5, 2, 11
    x = rng.standard_normal((B, T, n_in)).astype(np.float32)
    Wx, Wh, b = weights(rng, n_in, U)
    zeros = np.zeros((B, U), np.float32)
    plain, given = core.lstm_forward(x, Wx, Wh, b), core.lstm_forward(x, Wx, Wh, b, h0=zeros, c0=zeros.copy())
    for a, b_ in zip(plain, given):
        np.testing.assert_array_equal(a, b_)


def test_two_windows_with_the_state_carried_are_one_window_twice_as_long(rng):
    """The kernel run on the second half of a sequence from the state the first half ended in gives the h and
    c of the whole sequence run at once."""
    B, T, n_in, U = 4, 6, 3, 13
    x = rng.standard_normal((B, 2 * T, n_in)).astype(np.float32)
    Wx, Wh, b = weights(rng, n_in, U)
    whole_h, whole_c, _ = core.lstm_forward(x, Wx, Wh, b)
    first_h, first_c, _ = core.lstm_forward(np.ascontiguousarray(x[:, :T]), Wx, Wh, b)
    second_h, second_c, _ = core.lstm_forward(np.ascontiguousarray(x[:, T:]), Wx, Wh, b,
                                              h0=np.ascontiguousarray(first_h[:, -1]),
                                              c0=np.ascontiguousarray(first_c[:, -1]))
    # bit for bit: each step's gates are computed by the same code in both runs
    np.testing.assert_array_equal(np.concatenate([first_h, second_h], axis=1), whole_h)
    np.testing.assert_array_equal(np.concatenate([first_c, second_c], axis=1), whole_c)


def test_reference_bptt_from_a_carried_state_matches_finite_differences(rng):
    """With h0 and c0 held constant (truncated BPTT), the reference's weight gradients are the loss's."""
    B, T, n_in, U = 2, 3, 2, 3
    x = rng.standard_normal((B, T, n_in))
    Wx, Wh, b = (a.astype(np.float64) for a in weights(rng, n_in, U))
    h0, c0 = np.tanh(rng.standard_normal((B, U))), rng.standard_normal((B, U))
    w_out = rng.standard_normal((B, T, U))

    def loss():
        return float((w_out * ref.lstm_forward(x, Wx, Wh, b, h0, c0)[0]).sum())

    dx, dWx, dWh, db = ref.lstm_backward(w_out, x, Wx, Wh, b, h0, c0)
    zero_state = ref.lstm_backward(w_out, x, Wx, Wh, b)
    assert np.abs(dWh - zero_state[2]).max() > 1e-3  # h0 reaches dWh through the first step
    for analytic, param in ((dx, x), (dWx, Wx), (dWh, Wh), (db, b)):
        np.testing.assert_allclose(analytic, numeric_grad(loss, param), rtol=1e-5, atol=1e-7)


def test_lstm_wrapper_checks_the_carried_state(rng):
    Wx, Wh, b = weights(rng, 2, 3)
    x = np.zeros((4, 5, 2), np.float32)
    with pytest.raises(ValueError, match="h0 has shape"):
        core.lstm_forward(x, Wx, Wh, b, h0=np.zeros((3, 3), np.float32))
    with pytest.raises(TypeError, match="c0 must be float32"):
        core.lstm_forward(x, Wx, Wh, b, c0=np.zeros((4, 3)))
