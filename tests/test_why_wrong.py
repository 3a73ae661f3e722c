"""Why a sample got its class (pynn.inspect.blame, `pynn probe --why`, the Probe screen's w): the units' shares of the
logit gap plus the bias difference add up to the gap the model itself computes, the saliency is the gap's true
gradient (a linear model's weight difference; finite differences of an independent float64 forward pass
otherwise, through dense layers and through an LSTM), and both front ends show it."""
from __future__ import annotations

import json

import numpy as np
import pytest
from textual.app import App

from apptext import plain, screen_text
from pynn import reference as ref
from pynn.data import load_dataset
from pynn.errors import PynnError
from pynn.files import load_model
from pynn.inspect.activations import layer_outputs
from pynn.inspect.blame import gap_saliency, logit_gap
from pynn.inspect.probe import misclassified
from pynn.model import build, build_model
from pynn_tui.cli import main
from pynn_tui.render.blame import blame_view
from pynn_tui.screens.probe import ProbeScreen
from pynn_tui.workbench import Workbench


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", n=1000)


def trained(spec: str, data, **fields):
    model = build(spec, data, **fields)
    model.fit(data, epochs=1)
    return model


def logits64(model, sample: np.ndarray) -> np.ndarray:
    """The output layer's pre-activations for one sample, by a float64 forward pass of our own (dense layers
    with their activations, an LSTM by the reference), read at the last step."""
    a = np.asarray(sample, np.float64)[None]
    for layer in model.layers[:-1]:
        if layer.kind == "lstm":
            h = ref.lstm_forward(a, layer.Wx, layer.Wh, layer.b)[0]
            a = h if layer.return_sequences else h[:, -1]
        elif layer.kind == "dense":
            a = ref.dense_forward(a.reshape(-1, layer.n_in), layer.W, layer.b, layer.activation).reshape(
                *a.shape[:-1] if layer.per_step else a.shape[:1], layer.units)
    if a.ndim == 3:
        a = a[:, -1]
    out = model.layers[-1]
    return (a.reshape(1, -1) @ np.asarray(out.W, np.float64).T + out.b)[0]


# -- the shares add up to the gap --------------------------------------------------------------------------

@pytest.mark.parametrize("spec,fields", [("784-30-10", {}), ("784-24:relu-drop0.3-16:tanh-10", {}),
                                         ("784-20-10:sigmoid", {"loss": "mse"})],
                         ids=["sigmoid", "relu-dropout-tanh", "unfused-sigmoid-head"])
def test_the_units_shares_and_the_bias_add_up_to_the_gap_between_the_two_logits(digits, spec, fields):
    model = trained(spec, digits, **fields)
    x, y = digits.x_test, digits.y_test
    wrong = misclassified(model, x, y)
    assert len(wrong)
    for index in wrong[:5]:
        g = logit_gap(model, x, y, int(index))
        logits = logits64(model, x[index])
        assert g.other == y[index] and g.other_is_true and g.predicted != y[index]
        assert g.predicted == int(np.argmax(model.predict(x[index:index + 1])[0]))
        # the gap is the logits' (pre-activation, not probabilities') difference, as the model computes them
        assert g.gap == pytest.approx(logits[g.predicted] - logits[g.other], rel=1e-4, abs=1e-5) and g.gap > 0
        assert g.contributions.sum() + g.bias_term == pytest.approx(g.gap, rel=1e-5, abs=1e-6)
        hidden = layer_outputs(model, x[index:index + 1])[-2][0]  # what the output layer reads (dropout: as is)
        W, b = model.layers[-1].W, model.layers[-1].b
        assert np.allclose(g.contributions, hidden * (W[g.predicted].astype(np.float64) - W[g.other]), atol=1e-6)
        assert g.bias_term == pytest.approx(float(b[g.predicted]) - float(b[g.other]))
        ranked = g.contributions[g.toward_predicted]
        assert list(ranked) == sorted(ranked, reverse=True) and ranked[0] == g.contributions.max()
        assert g.contributions[g.toward_other][0] == g.contributions.min() < 0


def test_a_right_answer_is_explained_against_the_runner_up(digits):
    model = trained("784-30-10", digits)
    x, y = digits.x_test, digits.y_test
    right = int(np.flatnonzero(model.predict(x).argmax(axis=1) == y)[0])
    g = logit_gap(model, x, y, right)
    order = np.argsort(-model.forward(x[right:right + 1])[0][0])
    assert (g.predicted, g.other, g.other_is_true) == (y[right], order[1], False)
    assert g.contributions.sum() + g.bias_term == pytest.approx(g.gap, rel=1e-5) and g.gap > 0


# -- the saliency is the gap's gradient --------------------------------------------------------------------

def test_the_saliency_of_a_linear_model_is_its_weight_difference(digits):
    model = trained("28x28-10", digits)  # the input, then the output: no hidden layer
    x, y = digits.x_test, digits.y_test
    index = int(misclassified(model, x, y)[0])
    g = logit_gap(model, x, y, index)
    W = model.layers[0].W
    assert g.saliency.shape == (28, 28) and g.hidden_layer == 0 and g.unit_maps is None
    assert np.allclose(g.saliency.reshape(-1), W[g.predicted] - W[g.other], rtol=0, atol=1e-7)
    # with no hidden layer the shares are the pixels', and they still add up
    assert g.contributions.sum() + g.bias_term == pytest.approx(g.gap, rel=1e-5, abs=1e-6)


def central_differences(model, sample: np.ndarray, predicted: int, other: int, eps: float = 1e-5) -> np.ndarray:
    sample = np.asarray(sample, np.float64)
    grad = np.zeros_like(sample)
    for i in np.ndindex(sample.shape):
        up, down = sample.copy(), sample.copy()
        up[i] += eps
        down[i] -= eps
        gap_up, gap_down = logits64(model, up), logits64(model, down)
        grad[i] = ((gap_up[predicted] - gap_up[other]) - (gap_down[predicted] - gap_down[other])) / (2 * eps)
    return grad


@pytest.mark.parametrize("spec,fields", [("12-9:tanh-7-5", {}), ("12-9:tanh-7-5:sigmoid", {"loss": "mse"}),
                                         ("6x4-lstm5-3", {}), ("6x4-lstm5*-4:tanh-3", {})],
                         ids=["mlp", "mlp-unfused-head", "lstm", "lstm-every-step"])
def test_the_saliency_matches_finite_differences_of_the_logit_gap(spec, fields):
    model = build(spec, seed=3, **fields)
    sample = np.random.default_rng(1).normal(size=model.input_shape).astype(np.float32)
    saliency = gap_saliency(model, sample, 2, 0)
    expected = central_differences(model, sample, 2, 0)
    assert saliency.shape == sample.shape and np.abs(expected).max() > 1e-3
    assert np.allclose(saliency, expected, rtol=1e-3, atol=1e-5), np.abs(saliency - expected).max()


def test_an_lstm_is_explained_through_its_last_h_with_a_steps_by_features_saliency():
    model = build("7x5-lstm6*-5", seed=2)
    x = np.eye(5, dtype=np.float32)[np.random.default_rng(0).integers(0, 5, size=(4, 7))]  # one-hot characters
    y = np.zeros((4, 7), np.int64)
    g = logit_gap(model, x, y, 1)
    out = model.forward(x[1:2])[0][0, -1]
    assert g.step == 6 and g.saliency.shape == (7, 5) and g.hidden_layer == 1 and g.unit_maps is None
    assert g.gap == pytest.approx(float(out[g.predicted] - out[g.other]), rel=1e-5, abs=1e-6)
    assert g.contributions.sum() + g.bias_term == pytest.approx(g.gap, rel=1e-5, abs=1e-6)
    text = plain(blame_view(g, x[1], str, chars=list("abcde")), width=80)
    assert "at the last step (step 7)" in text and "is an LSTM" in text and "the 5 characters that would move it most" in text
    assert "".join("abcde"[i] for i in x[1].argmax(axis=1)) in text


def test_a_regression_has_no_logit_gap():
    model = build_model("4-3-1", task="regression")
    with pytest.raises(PynnError, match="predicts values"):
        logit_gap(model, np.zeros((2, 4), np.float32), None, 0)


# -- the command --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "digits.npz"
    assert main(["train", "--limit", "1500", "--epochs", "2", "--save", str(path)]) == 0
    return str(path)


def test_probe_misclassified_shows_why_and_why_can_be_asked_for_any_sample(capsys, model_file):
    model, _ = load_model(model_file)
    data = load_dataset("digits", n=1500)
    wrong = int(misclassified(model, data.x_test, data.y_test)[0])
    capsys.readouterr()
    assert main(["probe", model_file, "--misclassified"]) == 0
    out = capsys.readouterr().out
    g = logit_gap(model, data.x_test, data.y_test, wrong)
    p, t = g.predicted, g.other
    assert f"why {p} and not {t} (the true class): the logit gap z[{p}] − z[{t}] = {g.gap:+.3f}" in out
    assert f"#{g.toward_predicted[0]} " in out and "their weight maps" in out and "saliency" in out
    assert main(["probe", model_file, "--misclassified", "--no-why"]) == 0
    assert "why " not in capsys.readouterr().out
    assert main(["probe", model_file, "--index", "0"]) == 0
    assert "why " not in capsys.readouterr().out
    assert main(["probe", model_file, "--index", "0", "--why", "--json"]) == 0
    why = json.loads(capsys.readouterr().out)["samples"][0]["why"]
    assert sum(why["contributions"]) + why["bias_term"] == pytest.approx(why["gap"], rel=1e-5)
    assert np.array(why["saliency"]).shape == (28, 28)


def test_probe_why_on_a_regression_is_one_sentence(capsys, tmp_path):
    path = str(tmp_path / "sine.npz")
    assert main(["train", "--data", "sine", "--model", "20-4-1", "--epochs", "1", "--save", path]) == 0
    capsys.readouterr()
    assert main(["probe", path, "--why"]) == 2
    err = capsys.readouterr().err
    assert "--why" in err and len(err.strip().splitlines()) == 1


# -- the Probe screen ---------------------------------------------------------------------------------------

class Host(App):
    def __init__(self, bench):
        super().__init__()
        self.bench = bench

    def on_mount(self) -> None:
        self.push_screen(ProbeScreen(self.bench))


async def test_the_probe_screen_shows_why_on_w_at_80x24():
    bench = Workbench()
    bench.configure(epochs=1)
    bench.train()
    app = Host(bench)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        await pilot.press("m", "w")
        await pilot.pause()
        g = screen.gap
        assert screen.why and g.index == screen.index and g.other_is_true
        shown = screen_text(app)  # what the 80x24 terminal shows, without scrolling
        assert f"why {screen.class_label(g.predicted)} and not {screen.class_label(g.other)} (the true class)" in shown
        assert f"#{g.toward_predicted[0]} " in shown and "largest shares" in shown
        await pilot.press("n")
        await pilot.pause()
        assert screen.gap.index == screen.index != g.index
        await pilot.press("w")
        await pilot.pause()
        assert not screen.why and "output probabilities" in plain(screen.query_one("#journey").content)


async def test_the_probe_screens_why_on_a_regression_is_a_notification():
    app = Host(Workbench(data="sine", spec="20-8-1"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("w")
        await pilot.pause()
        assert not app.screen.why and app.is_running
        assert any("predicts values" in n.message for n in app._notifications)
