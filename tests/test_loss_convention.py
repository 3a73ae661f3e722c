"""One convention for every loss: summed over a sample's outputs, averaged over samples and steps.

Each loss (xent, bce, mse), on a per-sample output (m, k) and a per-step one (m, T, k), through the library's
Loss, a whole LSTM model's training step and the fused MLP step, against the float64 reference
(pynn.reference.output_loss, itself checked against finite differences in test_reference.py)."""
import numpy as np
import pytest

from pynn import reference as ref
from pynn.data.dataset import Dataset
from pynn.fused import fused_step
from pynn.losses import Loss
from pynn.model import build_model
from pynn.optim import Optimizer

LOSSES = ["xent", "bce", "mse"]
SHAPES = {"per-sample": (6, 7), "per-step": (6, 12, 7)}


def targets_for(name, shape, rng):
    """Labels for cross-entropy, 0/1 values for bce, real values for mse, shaped as each loss takes them."""
    if name == "xent":
        return rng.integers(0, shape[-1], shape[:-1]).astype(np.int32)
    if name == "bce":
        return (rng.random(shape) > 0.5).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


def close(got, want, rtol=1e-4):
    """float32 results against float64: relative to the largest value, so tiny entries do not dominate."""
    want = np.asarray(want, np.float64)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * max(np.abs(want).max(), 1e-30))


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_loss_and_its_gradient_match_the_reference(rng, name, shape):
    out = rng.standard_normal(shape).astype(np.float32) * 2
    y = targets_for(name, shape, rng)
    loss, dout, _ = Loss(name, shape[-1])(out, y)
    want_loss, want_dout = ref.output_loss(name, out, y)
    assert loss == pytest.approx(want_loss, rel=1e-5)
    assert dout.shape == out.shape
    close(dout, want_dout)


@pytest.mark.parametrize("name", LOSSES)
def test_a_sequence_of_one_repeated_step_weighs_like_that_step_alone(rng, name):
    """Averaged over steps: T copies of one step give that step's loss, and each copy 1/T of its gradient
    (summed over steps, the loss and gradients were T times larger)."""
    one = rng.standard_normal((5, 1, 4)).astype(np.float32)
    y_one = targets_for(name, (5, 1, 4), rng)
    many, y_many = np.repeat(one, 12, axis=1), np.repeat(y_one, 12, axis=1)
    loss = Loss(name, 4)
    single_loss, single_d, _ = loss(one[:, 0], y_one[:, 0])
    seq_loss, seq_d, _ = loss(many, y_many)
    assert seq_loss == pytest.approx(single_loss, rel=1e-5)
    close(seq_d, np.repeat(single_d[:, None] / 12, 12, axis=1))
    assert ref.output_loss(name, many, y_many)[0] == pytest.approx(ref.output_loss(name, one, y_one)[0], rel=1e-12)


def test_the_losses_relate_to_pytorchs_mean_reductions_as_the_readme_says(rng):
    """PyTorch's MSELoss and BCEWithLogitsLoss (reduction='mean') average over every value, outputs included;
    pynn sums a sample's k outputs (mse with Nielsen's 1/2), so on (m, T, k) pynn's mse is k/2 times theirs
    and its bce k times theirs; CrossEntropyLoss on (m*T, k) rows is pynn's xent exactly."""
    m, T, k = 6, 12, 7
    out = rng.standard_normal((m, T, k)).astype(np.float32)
    y = rng.standard_normal((m, T, k)).astype(np.float32)
    torch_mse = np.mean((out.astype(np.float64) - y) ** 2)
    assert Loss("mse", k)(out, y)[0] == pytest.approx(k / 2 * torch_mse, rel=1e-5)
    t = (rng.random((m, T, k)) > 0.5).astype(np.float32)
    z = out.astype(np.float64)
    torch_bce = np.mean(-(t * np.log(1 / (1 + np.exp(-z))) + (1 - t) * np.log(1 - 1 / (1 + np.exp(-z)))))
    assert Loss("bce", k)(out, t)[0] == pytest.approx(k * torch_bce, rel=1e-5)
    labels = rng.integers(0, k, (m, T)).astype(np.int32)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    torch_xent = -np.mean(np.take_along_axis(logp, labels[..., None], axis=-1))
    assert Loss("xent", k)(out, labels)[0] == pytest.approx(torch_xent, rel=1e-5)


def reference_lstm_step(model, x, y):
    """(loss, [dWx, dWh, db, dW, db]) of an `lstm*-k` model's training step, in float64 from the reference."""
    lstm, dense = model.layers
    h, _, _ = ref.lstm_forward(x, lstm.Wx, lstm.Wh, lstm.b)
    m, T, U = h.shape
    act = dense.kernel_activation
    z = ref.dense_forward(h.reshape(-1, U), dense.W, dense.b, act)
    loss, dz = ref.output_loss(model.loss.name, z.reshape(m, T, -1), y)
    dh, dW, db = ref.dense_backward(dz.reshape(m * T, -1), z, h.reshape(-1, U), dense.W, act)
    _, dWx, dWh, dbl = ref.lstm_backward(dh.reshape(m, T, U), x, lstm.Wx, lstm.Wh, lstm.b)
    return loss, [dWx, dWh, dbl, dW, db]


@pytest.mark.parametrize("name,spec", [("mse", "lstm16*-7"), ("bce", "lstm16*-7:sigmoid"), ("xent", "lstm16*-7")])
def test_a_per_step_lstm_step_matches_the_reference(rng, name, spec):
    """The issue's case: `lstm16*-7` on (m, 12, 7) targets, built from a dataset holding them."""
    x = rng.standard_normal((8, 12, 3)).astype(np.float32)
    y = targets_for(name, (8, 12, 7), rng)
    task = {"xent": "classification", "bce": "binary", "mse": "regression"}[name]
    data = Dataset("steps", x, y, x, y, (12, 3), task, class_names=[str(c) for c in range(7)])
    model = build_model(spec, data, loss=name, seed=2)
    loss, _ = model.train_step(x, y)
    want_loss, want_grads = reference_lstm_step(model, x, y)
    assert loss == pytest.approx(want_loss, rel=1e-5)
    lstm, dense = model.layers
    for got, want in zip([lstm.dWx, lstm.dWh, lstm.db, dense.dW, dense.db], want_grads):
        close(got, want, rtol=2e-4)
    assert model.evaluate(x, y)["loss"] == pytest.approx(want_loss, rel=1e-5)


@pytest.mark.parametrize("name", LOSSES)
def test_the_fused_mlp_step_follows_the_same_convention(rng, name):
    model = build_model("5-8:tanh-4", loss=name, task="regression" if name == "mse" else
                        ("binary" if name == "bce" else "classification"), n_outputs=4, seed=1)
    x = rng.standard_normal((20, 5)).astype(np.float32)
    y = targets_for(name, (20, 4), rng)
    h = ref.dense_forward(x, model.layers[0].W, model.layers[0].b, "tanh")
    want_loss, _ = ref.output_loss(name, ref.dense_forward(h, model.layers[1].W, model.layers[1].b, "identity"), y)
    fused = fused_step(model, Optimizer("sgd", 0.1), x, y, model.params.copy(), max_batch=20, decay=0.0, clip=0.0)
    assert fused is not None
    loss, _ = fused.step(np.arange(20, dtype=np.int64))
    assert loss == pytest.approx(want_loss, rel=1e-5)
