"""LSTM models: parameter counts in both conventions, a training step against the reference, the sine
forecaster beating the naive forecast, files, summaries, gate traces and the command line."""
import json
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from pynn import reference as ref
from pynn.data import load_dataset
from pynn.errors import PynnError
from pynn.files import load_model, save_model
from pynn.lstm import gate_trace, lstm_param_counts
from pynn.model import build_model
from pynn.summary import model_summary
from pynn.train import Trainer, TrainConfig


@pytest.mark.parametrize("n_in,units,keras,pytorch", [(1, 300, 362_400, 363_600), (65, 128, 99_328, 99_840),
                                                      (28, 128, 80_384, 80_896)])
def test_parameter_counts_in_both_conventions(n_in, units, keras, pytorch):
    assert lstm_param_counts(n_in, units) == {"keras": keras, "pytorch": pytorch}


def test_the_classic_spec_builds_with_the_right_shapes():
    model = build_model("20x1-lstm300-20", task="regression")
    lstm, dense = model.layers
    assert lstm.Wx.shape == (1200, 1) and lstm.Wh.shape == (1200, 300) and lstm.b.shape == (1200,)
    assert dense.W.shape == (20, 300) and model.n_params == 362_400 + 300 * 20 + 20
    assert np.all(lstm.b[300:600] == 1.0) and np.all(lstm.b[:300] == 0.0)  # forget-gate bias starts at 1
    summary = model_summary(model)
    assert "362,400" in summary["layers"][0]["arithmetic"] and "363,600" in summary["layers"][0]["arithmetic"]


def test_sequence_outputs_feed_a_dense_at_every_step():
    model = build_model("7x5-lstm6*-lstm4*-3", task="regression")
    out = model.forward(np.zeros((2, 7, 5), np.float32))
    assert out.shape == (2, 7, 3) and model.layers[2].per_step
    with pytest.raises(PynnError, match="steps x features"):
        build_model("10-lstm4-3", task="regression")


def test_one_training_step_matches_the_reference(rng):
    model = build_model("6x3-lstm5-2", task="regression", seed=2)
    lstm, dense = model.layers
    x = rng.standard_normal((4, 6, 3)).astype(np.float32)
    y = rng.standard_normal((4, 2)).astype(np.float32)
    h, _, _ = ref.lstm_forward(x, lstm.Wx, lstm.Wh, lstm.b)
    out = ref.dense_forward(h[:, -1], dense.W, dense.b, "identity")
    loss, d, _ = ref.mse(out, y)
    _, dW, db = ref.dense_backward(d, out, h[:, -1], dense.W, "identity")
    dh = np.zeros_like(h)
    dh[:, -1] = d @ dense.W.astype(np.float64)
    _, dWx, dWh, dbl = ref.lstm_backward(dh, x, lstm.Wx, lstm.Wh, lstm.b)
    got, _ = model.train_step(x, y)
    assert got == pytest.approx(loss, rel=1e-5)
    for mine, want in ((dense.dW, dW), (dense.db, db), (lstm.dWx, dWx), (lstm.dWh, dWh), (lstm.db, dbl)):
        np.testing.assert_allclose(mine, want, rtol=1e-4, atol=1e-6)


def test_sine_forecaster_beats_repeating_the_last_value():
    from pynn.forecast import forecast_errors

    data = load_dataset("sine", n=1200)
    model = build_model("lstm16-1", data, seed=0)
    Trainer(model, TrainConfig(epochs=8, batch_size=32, optimizer="adam", lr=0.01)).fit(data.x_train, data.y_train)
    errors = forecast_errors(model, data.x_test, data.y_test)
    assert errors["model_mse"] < 0.7 * errors["naive_mse"], errors


def test_save_load_round_trip_and_gate_trace(tmp_path, rng):
    model = build_model("9x2-lstm7*-lstm5-3", task="regression", seed=1)
    path = save_model(model, tmp_path / "lstm.npz")
    loaded, _ = load_model(path)
    x = rng.standard_normal((5, 9, 2)).astype(np.float32)
    assert np.array_equal(loaded.predict(x), model.predict(x))
    trace = gate_trace(loaded, x[0])
    assert trace.forget.shape == (9, 7) and trace.hidden.shape == (9, 7)
    for gate in (trace.input, trace.forget, trace.output):
        assert gate.min() >= 0.0 and gate.max() <= 1.0
    assert np.allclose(trace.hidden, trace.output * np.tanh(trace.cell), atol=1e-6)
    with pytest.raises(PynnError, match="no LSTM"):
        gate_trace(build_model("4-3-2"), x[0])


def test_train_reports_the_naive_forecast_in_text_and_json():
    args = [sys.executable, "-m", "tui.cli", "train", "--data", "sine", "--limit", "600", "--epochs", "3",
            "--optimizer", "adam", "--lr", "0.01", "--batch", "32"]
    text = subprocess.run(args, capture_output=True, text=True, cwd=tempfile.gettempdir())
    assert text.returncode == 0, text.stderr
    assert "naive 'repeat the last value'" in text.stdout
    result = json.loads(subprocess.run(args + ["--json"], capture_output=True, text=True,
                                       cwd=tempfile.gettempdir()).stdout)
    assert result["forecast"]["naive_mse"] > 0 and result["model"].startswith("20x1-lstm32")
