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
from pynn.run import RunConfig
from pynn.train import Trainer


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
    out, _ = model.forward(np.zeros((2, 7, 5), np.float32))
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
    Trainer(model, RunConfig(epochs=8, batch=32, optimizer="adam", lr=0.01)).fit(data.x_train, data.y_train)
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
    args = [sys.executable, "-m", "pynn_tui.cli", "train", "--data", "sine", "--limit", "600", "--epochs", "3",
            "--optimizer", "adam", "--lr", "0.01", "--batch", "32"]
    text = subprocess.run(args, capture_output=True, text=True, cwd=tempfile.gettempdir())
    assert text.returncode == 0, text.stderr
    assert "naive 'repeat the last value'" in text.stdout
    result = json.loads(subprocess.run(args + ["--json"], capture_output=True, text=True,
                                       cwd=tempfile.gettempdir()).stdout)
    assert result["forecast"]["naive_mse"] > 0 and result["model"].startswith("20x1-lstm32")


def test_a_character_model_learns_well_below_a_uniform_guess():
    data = load_dataset("shakespeare", n=30_000, lookback=32)
    vocab = len(data.class_names)
    model = build_model(f"lstm64*-{vocab}", data, seed=0)
    assert model.layers[1].per_step and model.output_shape == (32, vocab)
    history = Trainer(model, RunConfig(epochs=6, batch=32, optimizer="adam", lr=0.01, clip=5), eval_train=False).fit(data.x_train, data.y_train)
    test_loss = model.evaluate(data.x_test, data.y_test)["loss"]
    assert history[-1].loss < 0.75 * np.log(vocab) and test_loss < 0.8 * np.log(vocab)


def test_text_files_and_their_errors(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("abcabcabd " * 50)
    data = load_dataset(str(path), lookback=8)
    assert data.class_names == [" ", "a", "b", "c", "d"] and data.x_train.shape[1:] == (8, 5)
    assert np.array_equal(data.x_train[0].argmax(axis=1)[1:], data.y_train[0][:-1])  # targets are the next char
    (tmp_path / "short.txt").write_text("abc")
    with pytest.raises(PynnError, match="characters"):
        load_dataset(str(tmp_path / "short.txt"))
    (tmp_path / "latin.txt").write_bytes("caf\xe9 ".encode("latin-1") * 40)
    with pytest.raises(PynnError, match="not UTF-8"):
        load_dataset(str(tmp_path / "latin.txt"))


def cli(*args):
    return subprocess.run([sys.executable, "-m", "pynn_tui.cli", *args], capture_output=True, text=True,
                          cwd=tempfile.gettempdir())


def test_sample_predict_and_the_unrolled_summary_end_to_end(tmp_path):
    text_model = tmp_path / "chars.npz"
    text = tmp_path / "corpus.txt"
    text.write_text("to be or not to be, that is the question. " * 40)
    assert cli("train", "--data", str(text), "--lookback", "16", "--model", "lstm16*-15", "--epochs", "2",
               "--optimizer", "adam", "--save", str(text_model)).returncode == 0
    sampled = json.loads(cli("sample", str(text_model), "--length", "40", "--prime", "to be", "--json").stdout)
    assert sampled["text"].startswith("to be") and len(sampled["text"]) == 45
    assert set(sampled["text"]) <= set("to be or not to be, that is the question. ")
    bad = cli("sample", str(text_model), "--prime", "xyz")
    assert bad.returncode == 2 and "never saw" in bad.stderr

    series_model = tmp_path / "sine.npz"
    assert cli("train", "--data", "sine", "--limit", "400", "--horizon", "3", "--epochs", "2", "--optimizer",
               "adam", "--save", str(series_model)).returncode == 0
    forecast = json.loads(cli("predict", str(series_model), "--index", "2", "--json").stdout)
    assert len(forecast["truth"]) == len(forecast["forecast"]) == 3 and len(forecast["history"]) == 20
    assert cli("predict", str(text_model)).returncode == 2

    summary = cli("summary", "20x1-lstm300-20").stdout
    assert "362,400" in summary and "363,600" in summary and "unrolled over 20 steps" in summary
    assert "only the last hidden state h_20, shape (m, 300)" in summary
    assert max(len(line) for line in summary.splitlines() if "│ cell │" in line) <= 80


def test_a_csv_column_is_scaled_for_training_and_reported_in_its_own_units(tmp_path):
    rng = np.random.default_rng(3)
    days = np.arange(600)
    temps = 15 + 8 * np.sin(2 * np.pi * days / 60) + 0.5 * rng.standard_normal(600)
    path = tmp_path / "temps.csv"
    path.write_text("day,temp\n" + "".join(f"{d},{t:.3f}\n" for d, t in zip(days, temps)))
    data = load_dataset(str(path), target="temp", lookback=12, horizon=2)
    assert data.meta["kind"] == "series" and abs(data.meta["mean"] - 15) < 1 and 4 < data.meta["std"] < 7
    assert abs(float(data.x_train.mean())) < 0.2 and abs(float(data.x_train.std()) - 1) < 0.2  # trained scaled

    model_path = tmp_path / "temps.npz"
    run = cli("train", "--data", str(path), "--target", "temp", "--lookback", "12", "--horizon", "2", "--model",
              "lstm16-2", "--epochs", "8", "--optimizer", "adam", "--lr", "0.01", "--save", str(model_path),
              "--json")
    assert run.returncode == 0, run.stderr
    forecast = json.loads(run.stdout)["forecast"]
    # the naive forecast's error in degrees, computed here from the file itself
    x_test = data.x_test[:, :, 0] * data.meta["std"] + data.meta["mean"]
    y_test = data.y_test * data.meta["std"] + data.meta["mean"]
    naive_mse = float(np.mean((x_test[:, -1:] - y_test) ** 2))
    assert forecast["naive_mse"] == pytest.approx(naive_mse, rel=1e-4)
    assert forecast["model_mse"] < 0.7 * forecast["naive_mse"]

    shown = json.loads(cli("predict", str(model_path), "--index", "5", "--json").stdout)
    start = (600 - 12 - 2 + 1) - len(data.x_test) + 5  # the 6th held-out window, straight from the file
    assert np.allclose(shown["history"], temps[start:start + 12], atol=1e-3)
    assert np.allclose(shown["truth"], temps[start + 12:start + 14], atol=1e-3)


def test_digits_read_as_sequences_of_rows_train_an_lstm():
    from pynn.run import default_spec

    data = load_dataset("digits", n=1500, as_sequence=True)
    assert data.meta["kind"] == "sequence" and default_spec(data) == "lstm128-10"
    model = build_model("lstm32-10", data, seed=0)
    assert model.spec.startswith("28x28-lstm32")  # 28 steps of 28 pixels, the top row first
    Trainer(model, RunConfig(epochs=4, batch=32, optimizer="adam", lr=0.01), eval_train=False).fit(
        data.x_train, data.y_train)
    assert model.evaluate(data.x_test, data.y_test)["accuracy"] > 0.6  # chance is 0.1
    with pytest.raises(PynnError, match="as sequences of rows"):
        load_dataset("sine", as_sequence=True)
