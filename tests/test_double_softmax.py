"""The softmax applied twice on purpose (double_softmax): its loss and gradient against finite differences and
the float64 reference, the general training path it takes, where it is refused, and the freeze it shows —
total on the character model, partial on the digits — side by side with the softmax applied once."""
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest

import pynn
from pynn import reference as ref
from pynn.data import load_dataset
from pynn.errors import PynnError
from pynn.experiments.compare import parse_variant, train_variant, variant_config
from pynn.experiments.freeze import explanation, freeze_bounds, softmax_freeze
from pynn.files import load_model, save_model
from pynn.fused import fused_step
from pynn.inspect.doctor import PROBLEM, check_saved, check_spec
from pynn.losses import Loss
from pynn.optim import Optimizer
from pynn.run import ConfigError, RunConfig
from pynn.train import Trainer


def pynn_cli(*args):
    """The installed command, from a scratch folder so the source tree cannot shadow the installed package."""
    return subprocess.run([sys.executable, "-m", "pynn_tui.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=600, cwd=tempfile.gettempdir())


# -- the loss and its gradient -------------------------------------------------------------------------------

def test_the_reference_twice_matches_finite_differences(rng):
    z, y = rng.normal(size=(4, 3, 7)), rng.integers(0, 7, size=(4, 3))
    _, dz = ref.double_softmax_loss(z, y)
    eps, numeric = 1e-6, np.zeros_like(z)
    for i in np.ndindex(z.shape):
        up, down = z.copy(), z.copy()
        up[i] += eps
        down[i] -= eps
        numeric[i] = (ref.double_softmax_loss(up, y)[0] - ref.double_softmax_loss(down, y)[0]) / (2 * eps)
    assert np.abs(numeric - dz).max() < 1e-6 * np.abs(dz).max()


@pytest.mark.parametrize("shape", [(6, 10), (3, 5, 65)])
def test_the_loss_applies_the_softmax_twice_as_the_reference_does(rng, shape):
    z = rng.normal(scale=3.0, size=shape).astype(np.float32)
    y = rng.integers(0, shape[-1], size=shape[:-1]).astype(np.int32)
    loss, dz, pred = Loss("xent", shape[-1], double_softmax=True)(z, y)
    want_loss, want_dz = ref.double_softmax_loss(z, y)
    assert loss == pytest.approx(want_loss, rel=1e-5)
    np.testing.assert_allclose(dz, want_dz, rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(pred, ref.softmax(z), rtol=1e-5, atol=1e-7)   # the output layer's softmax
    bounds = freeze_bounds(shape[-1])   # the second softmax's inputs lie in [0, 1]: one nat is all it can move
    assert bounds["loss_floor"] <= loss <= bounds["loss_floor"] + 1
    _, once_dz, _ = Loss("xent", shape[-1])(z, y)
    assert np.abs(dz).max() < np.abs(once_dz).max()


def _small_digits(n=40):
    data = load_dataset("digits", n=200)
    return data, data.x_train[:n].reshape(n, -1), data.y_train[:n]


def _reference_mlp(params, x, y):
    """(loss, [dW1, db1, dW2, db2]) of a sigmoid hidden layer and a softmax output trained with cross-entropy
    over that softmax's output, in float64."""
    W1, b1, W2, b2 = params
    h = ref.dense_forward(x, W1, b1, "sigmoid")
    z = ref.dense_forward(h, W2, b2, "identity")
    loss, dz = ref.double_softmax_loss(z, y)
    dh, dW2, db2 = ref.dense_backward(dz, z, h, W2, "identity")
    _, dW1, db1 = ref.dense_backward(dh, h, x, W1, "sigmoid")
    return loss, [dW1, db1, dW2, db2]


def test_a_dense_model_gets_the_gradient_of_the_reference_and_of_finite_differences():
    data, x, y = _small_digits()
    model = pynn.build("784-12-10", data, double_softmax=True, seed=3)
    first, out = model.layers
    params = [np.array(a, np.float64) for a in (first.W, first.b, out.W, out.b)]
    _, want = _reference_mlp(params, x, y)
    model.train_step(x, y)
    for got, expected in zip((first.dW, first.db, out.dW, out.db), want):
        np.testing.assert_allclose(got, expected, rtol=2e-3, atol=1e-7 * np.abs(expected).max())
    eps = 1e-6
    for k, i in [(0, (3, 300)), (0, (11, 400)), (1, (5,)), (2, (7, 2)), (3, (4,))]:
        up, down = [p.copy() for p in params], [p.copy() for p in params]
        up[k][i] += eps
        down[k][i] -= eps
        numeric = (_reference_mlp(up, x, y)[0] - _reference_mlp(down, x, y)[0]) / (2 * eps)
        assert numeric == pytest.approx(want[k][i], rel=1e-5, abs=1e-11)


def test_an_lstm_model_gets_the_gradient_of_the_reference():
    data = load_dataset("shakespeare", n=3000, lookback=12)
    model = pynn.build(f"lstm6*-{data.n_outputs}", data, double_softmax=True, seed=1)
    lstm, out = model.layers
    x, y = data.x_train[:5], data.y_train[:5]
    h = ref.lstm_forward(x, lstm.Wx, lstm.Wh, lstm.b)[0]
    z = h @ np.asarray(out.W, np.float64).T + out.b
    _, dz = ref.double_softmax_loss(z, y)
    dW, db, dh = np.einsum("mtk,mtu->ku", dz, h), dz.sum(axis=(0, 1)), dz @ np.asarray(out.W, np.float64)
    _, dWx, dWh, dbl = ref.lstm_backward(dh, x, lstm.Wx, lstm.Wh, lstm.b)
    model.train_step(x, y)
    for got, expected in zip((out.dW, out.db, lstm.dWx, lstm.dWh, lstm.db), (dW, db, dWx, dWh, dbl)):
        np.testing.assert_allclose(got, expected, rtol=5e-3, atol=1e-6 * np.abs(expected).max())


def test_training_takes_the_general_path_and_steps_down_the_reference_gradient():
    data, x, y = _small_digits()
    model = pynn.build("784-12-10", data, double_softmax=True, seed=3)
    run = RunConfig(epochs=1, batch=len(x), lr=0.5)   # one batch of every sample: the order cannot matter
    assert fused_step(model, Optimizer("sgd", 0.5), x, y, model.params.copy(), max_batch=len(x), decay=0.0,
                      clip=0.0) is None
    single = pynn.build("784-12-10", data, seed=3)
    assert fused_step(single, Optimizer("sgd", 0.5), x, y, single.params.copy(), max_batch=len(x), decay=0.0,
                      clip=0.0) is not None
    first, out = model.layers
    params = [np.array(a, np.float64) for a in (first.W, first.b, out.W, out.b)]
    _, grads = _reference_mlp(params, x, y)
    Trainer(model, run, eval_train=False).fit(x, y)
    for now, before, g in zip((first.W, first.b, out.W, out.b), params, grads):
        np.testing.assert_allclose(now, before - 0.5 * g, rtol=1e-4, atol=1e-6)


# -- asked for by name, refused where it makes no sense, kept in the model file --------------------------

def test_a_written_softmax_still_folds_and_only_the_field_applies_it_twice():
    data, x, y = _small_digits()
    written = pynn.build("784-12-10:softmax", data, seed=3)
    bare = pynn.build("784-12-10", data, seed=3)
    twice = pynn.build("784-12-10:softmax", data, seed=3, double_softmax=True)
    assert not written.loss.double_softmax and any("folded" in n for n in written.notes)
    assert twice.loss.double_softmax and any("applied twice" in n for n in twice.notes)
    losses = [m.train_step(x, y)[0] for m in (written, bare, twice)]
    assert losses[0] == losses[1] != losses[2]
    np.testing.assert_array_equal(written.grads, bare.grads)


@pytest.mark.parametrize("data, fields, words", [
    ("digits", {"loss": "bce"}, "needs loss xent"),
    ("digits", {"loss": "mse"}, "needs loss xent"),
    ("sine", {}, "needs class labels"),
])
def test_the_softmax_twice_is_refused_where_there_is_no_cross_entropy(data, fields, words):
    with pytest.raises(ConfigError, match="^double_softmax .*" + words):
        pynn.build(None or ("784-10" if data == "digits" else "8-1"), load_dataset(data, n=100),
                   double_softmax=True, **fields)


def test_the_command_line_refuses_in_one_sentence_naming_the_flag():
    proc = pynn_cli("train", "--double-softmax", "--model", "784-30-10:sigmoid", "--epochs", "1")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == ("pynn: --double-softmax applies a softmax on the output layer, but the spec "
                                   "writes sigmoid there; leave the last layer bare.")


def test_fit_does_not_change_the_head_of_a_model_that_has_one():
    data, _, _ = _small_digits()
    with pytest.raises(ConfigError, match="^double_softmax shapes the layers"):
        pynn.build("784-12-10", data).fit(data, double_softmax=True, epochs=1)


def test_a_model_of_layers_takes_the_softmax_twice_when_it_first_sees_data():
    data, x, y = _small_digits()
    model = pynn.Sequential([pynn.Dense(12), pynn.Dense(10)])
    model.fit(data, double_softmax=True, epochs=1)
    assert model.loss.double_softmax and model.run.double_softmax


def test_a_saved_model_trained_twice_loads_with_its_softmax_twice(tmp_path):
    data, x, y = _small_digits()
    model = pynn.build("784-12-10", data, double_softmax=True, seed=3)
    model.fit(data, epochs=1)
    path = save_model(model, tmp_path / "twice.npz")
    loaded, _ = load_model(path)
    assert loaded.loss.double_softmax and loaded.run.double_softmax
    assert loaded.evaluate(data) == model.evaluate(data)
    assert RunConfig.from_file(path).double_softmax
    assert RunConfig.from_toml(_toml(tmp_path, "double_softmax = true\n")).double_softmax


def _toml(tmp_path, text):
    path = tmp_path / "run.toml"
    path.write_text(text)
    return path


def test_a_comparison_sets_it_like_any_field():
    assert parse_variant("double_softmax=true") == {"double_softmax": True}
    base = RunConfig(model="784-12-10", limit=200, epochs=1)
    a, b = (train_variant(variant_config(label, {"double_softmax": twice}, base))
            for label, twice in (("a", False), ("b", True)))
    assert b["history"][0]["loss"] > a["history"][0]["loss"]
    assert sum(b["history"][0]["grad_norms"]) < sum(a["history"][0]["grad_norms"])


# -- the doctor points to the command that shows it ------------------------------------------------------

def test_the_doctor_points_to_pynn_freeze_and_flags_the_softmax_twice(tmp_path):
    data, _, _ = _small_digits()
    written = [f for f in check_spec("784-30-10:softmax", data) if f.topic == "softmax before cross-entropy"]
    assert len(written) == 1 and "pynn freeze" in written[0].why
    twice = [f for f in check_spec("784-30-10", data, double_softmax=True) if f.topic == "softmax applied twice"]
    assert [f.level for f in twice] == [PROBLEM] and "pynn freeze" in twice[0].why and "1.461" in twice[0].why
    path = save_model(pynn.build("784-12-10", data, double_softmax=True), tmp_path / "twice.npz")
    assert "softmax applied twice" in {f.topic for f in check_saved(*load_model(path), data)}
    assert "softmax applied twice" not in {f.topic for f in check_spec("784-30-10", data)}


# -- the freeze, side by side ----------------------------------------------------------------------------

def _ratios(result, key):
    once, twice = result["heads"]
    return [a / b for a, b in zip(once[key], twice[key])]


def _loss_drop(head):
    curve = head["loss_curve"]["loss"]
    return curve[0] - curve[-1]


@pytest.fixture(scope="module")
def characters_sgd():
    return softmax_freeze(RunConfig(data="shakespeare", limit=20000, epochs=2, seed=0))


def test_on_characters_the_softmax_twice_keeps_the_output_near_uniform_with_gradients_ten_times_smaller(
        characters_sgd):
    once, twice = characters_sgd["heads"]
    k = characters_sgd["classes"]
    assert k > 50 and once["spec"] == twice["spec"] and "lstm" in once["spec"]
    assert twice["answered"]["largest"] < 2 / k          # every output near uniform
    assert once["answered"]["largest"] > 4 / k
    assert min(_ratios(characters_sgd, "start_grad_norms")) >= 10
    assert min(_ratios(characters_sgd, "last_grad_norms")) >= 10
    assert _loss_drop(once) > 0.5 and abs(_loss_drop(twice)) < 0.05   # falling against flat
    assert twice["scored"]["largest"] <= freeze_bounds(k)["scored_largest"] + 1e-6


def test_on_characters_with_adam_the_softmax_twice_freezes_on_the_most_common_character():
    result = softmax_freeze(RunConfig(data="shakespeare", limit=20000, epochs=2, seed=0, optimizer="adam"))
    once, twice = result["heads"]
    k = result["classes"]
    # Adam undoes the squash in scale, so the network heads for the floor's cheapest answer: the most common
    # character for every input, with certainty, where the first softmax saturates and the gradients die
    assert twice["answered"]["common_share"] == 1.0 and twice["answered"]["common_answer"] == twice["majority_class"]
    assert twice["answered"]["mean_top"] > 0.9
    assert twice["scored"]["largest"] <= freeze_bounds(k)["scored_largest"] + 1e-6
    assert min(_ratios(result, "last_grad_norms")) >= 10
    assert _loss_drop(once) > 0.5 and _loss_drop(twice) < 0.2
    assert "total freeze" in result["explanation"]


def test_on_digits_the_freeze_is_partial():
    result = softmax_freeze(RunConfig(epochs=3, seed=0))
    once, twice = result["heads"]
    floor = freeze_bounds(10)["loss_floor"]
    assert twice["test_accuracy"] > 0.5 and twice["test_accuracy"] < once["test_accuracy"] - 0.1
    assert min(_ratios(result, "start_grad_norms")) >= 5
    assert twice["test_loss"] > floor > once["test_loss"]
    assert _loss_drop(twice) > 0.2   # it still learns
    assert "partial freeze" in result["explanation"]


def test_the_bounds_and_which_freeze_follow_the_number_of_classes():
    assert freeze_bounds(10)["loss_floor"] == pytest.approx(math.log(math.e + 9) - 1)
    assert freeze_bounds(10)["scored_largest"] == pytest.approx(math.e / (math.e + 9))
    # the most common class pays to answer for every input once ln((e+K-1)/K) of the targets are it
    assert "total freeze" in explanation(65, 0.05) and "partial freeze" in explanation(10, 0.11)
    assert "partial freeze" in explanation(65, 0.02)


def test_pynn_freeze_shows_both_heads_and_why():
    proc = pynn_cli("freeze", "--limit", "500", "--epochs", "2", "--model", "784-12-10")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    for part in ("softmax once", "softmax twice", "training loss, batch by batch", "ln(e+K-1) - 1 = 1.461",
                 "output probabilities", "gradient norm per layer", "Why: "):
        assert part in text
    proc = pynn_cli("freeze", "--limit", "500", "--epochs", "1", "--model", "784-12-10", "--json")
    result = json.loads(proc.stdout)
    assert [h["double_softmax"] for h in result["heads"]] == [False, True]
    assert pynn_cli("freeze", "--double-softmax").returncode == 2


def test_a_run_stuck_at_chance_with_the_softmax_twice_is_told_the_cause_not_a_smaller_step():
    from pynn.train import Trainer

    data = load_dataset("digits", n=200)
    twice = Trainer(pynn.build("784-5-10", data, double_softmax=True), RunConfig(double_softmax=True))
    once = Trainer(pynn.build("784-5-10", data), RunConfig())
    assert "double_softmax" in twice._chance_advice() and "smaller learning rate" not in twice._chance_advice()
    assert "smaller learning rate" in once._chance_advice()
