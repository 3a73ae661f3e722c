"""The series file every LSTM tutorial uses, made here: a quoted "Month" column of dates beside a trending,
seasonal "Passengers" column, 144 rows. It loads as a series whose dates label the forecasts; a forecaster that
loses to the naive forecast says so and why; --difference models the change from the last value; and the loss
and the error in the column's units say what they are."""
import json
import subprocess
import sys

import numpy as np
import pytest

from pynn.data import load_dataset
from pynn.data.series import series_dataset
from pynn.errors import PynnError
from pynn.files import load_model
from pynn.forecast import regression_report, series_errors

MONTHS = [f"{1949 + i // 12}-{i % 12 + 1:02d}" for i in range(144)]


def passengers(seed: int = 0) -> np.ndarray:
    """Monthly counts growing 13% a year with a ±20% season, like the airline series (112 to 622)."""
    t = np.arange(144)
    season = 1 + 0.2 * np.sin(2 * np.pi * (t % 12 - 3) / 12)
    return np.round(112 * 1.13 ** (t / 12) * season + np.random.default_rng(seed).normal(0, 5, 144))


@pytest.fixture
def airline(tmp_path):
    """The file as it is usually downloaded: quoted header and dates, and here a blank line in the middle."""
    path = tmp_path / "passengers.csv"
    rows = [f'"{m}",{v:.0f}' for m, v in zip(MONTHS, passengers())]
    path.write_text('"Month","Passengers"\n' + "\n".join(rows[:70] + [""] + rows[70:]) + "\n")
    return path


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "pynn_tui.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_the_date_column_is_the_time_axis_and_labels_the_forecast(airline, tmp_path):
    data = load_dataset(str(airline), target="Passengers", lookback=12, horizon=1)
    assert data.meta["kind"] == "series" and data.meta["time_name"] == "Month"
    assert data.meta["time"] == MONTHS and np.array_equal(data.meta["levels"], passengers())  # blank line skipped
    assert data.describe()["series"]["first"] == "1949-01" and data.describe()["series"]["last"] == "1960-12"

    model = tmp_path / "m.npz"
    run = cli("train", "--data", str(airline), "--target", "Passengers", "--lookback", "12", "--horizon", "1",
              "--epochs", "2", "--optimizer", "adam", "--save", str(model), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    shown = json.loads(cli("predict", str(model), "--index", "4", "--json", cwd=tmp_path).stdout)
    start = (144 - 13) - (len(data.x_test) - 1) + 4  # held-out window 4: the last window starts 13 from the end
    assert shown["history_time"] == MONTHS[start:start + 12] and shown["time"] == [MONTHS[start + 12]]
    assert shown["truth"] == [passengers()[start + 12]]
    table = cli("predict", str(model), "--index", "4", cwd=tmp_path).stdout
    assert table.startswith(f"{MONTHS[start + 12]}: truth {passengers()[start + 12]:.4f}")


def test_other_text_columns_are_left_out_with_a_note_and_numbers_alone_make_a_series(tmp_path):
    values = passengers()[:60]
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("date,remark,count,code\n" + "".join(f"{m},r{i},{v:g},{i % 3}\n"
                                                         for i, (m, v) in enumerate(zip(MONTHS, values))))
    data = load_dataset(str(mixed), target="count", lookback=6)
    assert np.array_equal(data.meta["levels"], values) and data.meta["time"] == MONTHS[:60]
    assert any("left out 'remark' (text), 'code' (numbers)" in note for note in data.notes)

    one = tmp_path / "one.csv"
    one.write_text("Passengers\n" + "".join(f"{v:g}\n" for v in values))
    series = load_dataset(str(one))  # no --lookback: a lone column can only be a series
    assert series.meta["kind"] == "series" and np.array_equal(series.meta["levels"], values)
    assert any("one column" in note and "--lookback" in note for note in series.notes)

    headless = tmp_path / "headless.csv"  # dates in the first row are data, not column names
    headless.write_text("".join(f'"{m}",{v:g}\n' for m, v in zip(MONTHS, values)))
    dated = load_dataset(str(headless), lookback=6)
    assert len(dated.meta["levels"]) == 60 and dated.meta["time"][0] == "1949-01"


def test_data_info_describes_a_series_csv_with_target(airline, capsys):
    from pynn_tui.cli import main

    assert main(["data", "info", str(airline), "--target", "Passengers", "--lookback", "12"]) == 0
    shown = capsys.readouterr().out
    assert "column Passengers" in shown and "time_axis Month" in shown and "first 1949-01" in shown
    assert "n_features: 12" in shown
    assert main(["data", "info", str(airline), "--target", "Nope"]) == 2
    assert "no column 'Nope'" in capsys.readouterr().err


def test_a_forecaster_that_loses_to_the_naive_forecast_says_why_and_difference_fixes_it(airline, tmp_path):
    args = ["train", "--data", str(airline), "--target", "Passengers", "--lookback", "12", "--horizon", "1",
            "--model", "lstm32-1", "--epochs", "60", "--optimizer", "adam", "--lr", "0.01"]
    plain = cli(*args, cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert "worse than repeating the last value" in plain.stdout and "Try --difference" in plain.stdout
    assert "outside the" in plain.stdout  # the likely reason: the held-out years run past the training range

    model = tmp_path / "diff.npz"
    run = cli(*args, "--difference", "--save", str(model), "--json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    forecast = json.loads(run.stdout)["forecast"]
    assert forecast["verdict"] is None and forecast["model_mse"] < forecast["naive_mse"]

    # predict reads --difference from the model file: its forecast is the last value plus the predicted change
    loaded, _ = load_model(model)
    data = load_dataset(str(airline), target="Passengers", lookback=12, horizon=1, difference=True)
    shown = json.loads(cli("predict", str(model), "--index", "2", "--json", cwd=tmp_path).stdout)
    change = float(loaded.predict(data.x_test[2:3])[0, 0]) * data.meta["std"] + data.meta["mean"]
    assert shown["difference"] and shown["forecast"][0] == pytest.approx(shown["history"][-1] + change, rel=1e-6)
    start = (144 - 13) - (len(data.x_test) - 1) + 2
    assert shown["history"] == passengers()[start:start + 12].tolist()
    assert shown["truth"] == [passengers()[start + 12]]


class Constant:
    """A stand-in model that forecasts one fixed standardised value."""

    def __init__(self, value):
        self.value = value

    def predict(self, x):
        return np.full((len(x), 1), self.value, np.float32)


def test_the_verdict_names_the_likely_reason():
    flat = series_dataset("wave", np.sin(np.arange(400) * 2 * np.pi / 50), 20, 1, "test")  # never leaves its range
    verdict = series_errors(Constant(3.0), flat)["verdict"]
    assert "worse than repeating the last value" in verdict and "outside" not in verdict
    assert "--difference" in verdict
    assert series_errors(Constant(3.0), load_dataset("sine", n=400, difference=True))["verdict"].count(
        "even modelling the changes") == 1
    with pytest.raises(PynnError, match="^difference models .* not a series"):  # the parameter; the CLI says --difference
        load_dataset("digits", difference=True)


def test_the_loss_and_the_error_in_the_columns_units_say_what_they_are(airline, tmp_path):
    run = cli("train", "--data", str(airline), "--target", "Passengers", "--lookback", "12", "--horizon", "2",
              "--epochs", "3", "--optimizer", "adam", "--json", cwd=tmp_path)
    result = json.loads(run.stdout)
    data = load_dataset(str(airline), target="Passengers", lookback=12, horizon=2)
    std = data.meta["std"]
    # the loss is ½·Σ over the 2 steps on standardised values; the MSE is a mean over steps in passengers
    assert result["forecast"]["model_mse"] == pytest.approx(2 * std ** 2 / 2 * result["test_loss"], rel=1e-4)
    assert "standardised values" in result["loss_means"] and f"{std:.4g}" in result["loss_means"]
    assert f"{2 * std ** 2 / 2:.4g} x this loss" in result["loss_means"]
    assert result["forecast"]["units"] == "column Passengers"


def test_a_plain_regression_shows_the_loss_of_predicting_the_training_mean(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 3))
    y = x @ [1.5, -2.0, 0.5] + 10 + 0.1 * rng.standard_normal(300)
    path = tmp_path / "table.csv"
    path.write_text("a,b,c,y\n" + "".join(f"{r[0]:.5f},{r[1]:.5f},{r[2]:.5f},{t:.5f}\n" for r, t in zip(x, y)))
    run = cli("train", "--data", str(path), "--target", "y", "--model", "3-8:tanh-1", "--epochs", "5", "--lr",
              "0.05", "--json", cwd=tmp_path)
    result = json.loads(run.stdout)
    data = load_dataset(str(path), target="y")
    expected = 0.5 * np.mean((data.y_test - data.y_train.mean()) ** 2)  # ½·(a−y)² of the mean, over test rows
    assert result["mean_baseline_loss"] == pytest.approx(expected, rel=1e-4)
    assert result["test_loss"] < result["mean_baseline_loss"]
    text = cli("train", "--data", str(path), "--target", "y", "--model", "3-8:tanh-1", "--epochs", "1",
               cwd=tmp_path).stdout
    assert f"predicting the training mean for every test sample gives loss {expected:.5f}" in text


def test_regression_report_is_for_regressions_only(digits):
    from pynn.model import build_model

    assert regression_report(build_model("784-10-10", digits), digits) is None
