"""The model doctor tells the truth: each verdict fires on a model that has the fault and stays quiet on one
that does not, parameters are counted as `pynn summary` counts them, the loss the user chose is the loss
checked, and a model whose outputs cannot be paired with the data's targets is refused in one sentence, by
the library, before any batch is trained (`pynn train`, the app's workbench and `pynn check` alike)."""
import json

import numpy as np
import pytest

from pynn.data import load_dataset
from pynn.data.dataset import REGRESSION, Dataset
from pynn.errors import PynnError
from pynn.files import load_model
from pynn.inspect.doctor import OK, PROBLEM, WARNING, check_saved, check_spec
from pynn.model import build_model
from pynn.summary import model_summary
from pynn.run import RunConfig
from pynn.train import Trainer
from pynn_tui.cli import main
from pynn_tui.workbench import Workbench

CHARS = 5000  # characters of Shakespeare: about 70 windows of 64 steps, enough for every shape question


@pytest.fixture(scope="module")
def small_digits():
    return load_dataset("digits", n=600)  # 480 train / 120 test


@pytest.fixture(scope="module")
def text():
    return load_dataset("shakespeare", n=CHARS)


@pytest.fixture(scope="module")
def sine():
    return load_dataset("sine", lookback=20, horizon=20)


def data_named(name, request):
    return {"xor": lambda: load_dataset("xor")}.get(name, lambda: request.getfixturevalue(name))()


def levels(findings, topic):
    return [f.level for f in findings if f.topic == topic]


# -- every verdict of a spec, where it must fire and where it must not ---------------------------------------

@pytest.mark.parametrize("spec,data,kwargs,topic,expected", [
    ("784-3x-10", "small_digits", {}, "spec", [PROBLEM]),
    ("784-30-10", "small_digits", {}, "spec", []),
    ("lstm8-2", "xor", {}, "build", [PROBLEM]),                 # an LSTM needs steps x features
    ("784-30-10", "small_digits", {}, "build", []),
    ("784-30-2", "xor", {}, "input size", [PROBLEM]),
    ("2-8-2", "xor", {}, "input size", [OK]),
    ("784-30-7", "small_digits", {}, "output size", [PROBLEM]),
    ("784-30-10", "small_digits", {}, "output size", []),
    ("784-30:softmax-10", "small_digits", {}, "hidden softmax", [PROBLEM]),
    ("784-30-10", "small_digits", {}, "hidden softmax", []),
    ("784-30-10:softmax", "small_digits", {}, "softmax before cross-entropy", [WARNING]),
    ("784-30-10", "small_digits", {}, "softmax before cross-entropy", []),
    ("784-30-10:sigmoid", "small_digits", {"loss": "bce"}, "sigmoid output for one-of-N classes", [WARNING]),
    ("784-30-10:sigmoid", "small_digits", {"loss": "mse"}, "sigmoid output for one-of-N classes", []),
    ("784-30-10:sigmoid", "small_digits", {}, "sigmoid output with cross-entropy", [PROBLEM]),
    ("784-30-10:sigmoid", "small_digits", {"loss": "mse"}, "sigmoid output with cross-entropy", []),
    ("784-30-10:sigmoid", "small_digits", {"loss": "quadratic"}, "quadratic cost for classes", [WARNING]),
    ("784-30-10", "small_digits", {}, "quadratic cost for classes", []),
    ("lstm8-20", "sine", {"loss": "mse"}, "quadratic cost for classes", []),   # real targets: the right cost
    ("784-500-10", "small_digits", {}, "hidden layer size", [PROBLEM]),       # 500 units for 480 samples
    ("28x28-lstm500-10", "small_digits", {}, "hidden layer size", [PROBLEM]),  # LSTM units are hidden units
    ("784-30-10", "small_digits", {}, "hidden layer size", []),
    ("784-100-10", "small_digits", {}, "parameters versus data", [WARNING]),  # 79,510 for 4,800 values
    ("784-5-10", "small_digits", {}, "parameters versus data", [OK]),
    ("784-30-30-30-30-30-10", "small_digits", {}, "vanishing gradients", [WARNING]),
    ("784-30-10", "small_digits", {}, "vanishing gradients", []),
    ("784-30-10", "small_digits", {}, "gradients", [OK]),
    ("784-30-10", "small_digits", {"init": "normal"}, "saturated at the start", [WARNING]),
    ("784-30-10", "small_digits", {}, "saturated at the start", []),
])
def test_each_verdict_fires_only_where_it_should(request, spec, data, kwargs, topic, expected):
    findings = check_spec(spec, data_named(data, request), **kwargs)
    assert levels(findings, topic) == expected
    for finding in findings:
        if finding.level != OK:
            assert finding.what and finding.why, finding


def test_exploding_and_vanishing_gradients_are_read_from_a_saved_history(small_digits):
    model = build_model("784-30-30-10", small_digits)
    history = {
        "exploding": [{"epoch": 1, "grad_norms": [0.5, 0.6, 0.9]}, {"epoch": 2, "grad_norms": [80, 90, 100]}],
        "vanishing": [{"epoch": 1, "grad_norms": [0.0001, 0.01, 0.9]}],
        "healthy": [{"epoch": 1, "grad_norms": [0.5, 0.6, 0.9]}, {"epoch": 2, "grad_norms": [0.4, 0.5, 0.8]}],
    }
    found = {name: check_saved(model, {"history": h}, small_digits) for name, h in history.items()}
    assert levels(found["exploding"], "exploding gradients") == [PROBLEM]
    assert levels(found["vanishing"], "vanishing gradients") == [WARNING]
    assert levels(found["healthy"], "gradients") == [OK]
    assert not levels(found["healthy"], "exploding gradients") + levels(found["healthy"], "vanishing gradients")


def test_dead_relu_units_are_found_in_a_saved_model_and_live_ones_are_not(small_digits):
    model = build_model("784-20:relu-10", small_digits, seed=3)
    assert levels(check_saved(model, {}, small_digits), "dead units") == []
    model.layers[0].W[:5] = -1.0      # pixels are >= 0: these five units can never fire
    model.layers[0].b[:5] = -1.0
    dead = [f for f in check_saved(model, {}, small_digits) if f.topic == "dead units"]
    assert [f.level for f in dead] == [WARNING] and "5 of layer 1's 20 ReLU units" in dead[0].what


# -- parameters counted as summary counts them ----------------------------------------------------------------

@pytest.mark.parametrize("spec,data,as_sequence,count", [
    ("20x1-lstm300-20", "sine", False, 368_420),         # the numbers, as `pynn summary` prints them
    ("28x28-lstm32-10", "digits", True, 8_138),
    ("64x62-lstm128*-62", "shakespeare", False, 105_790),
    ("784-30-10", "digits", False, 23_860),
])
def test_the_doctor_counts_parameters_as_summary_does(spec, data, as_sequence, count):
    options = {"lookback": 20, "horizon": 20} if data == "sine" else {}
    dataset = load_dataset(data, as_sequence=as_sequence, **options)
    assert model_summary(build_model(spec, dataset))["total_params"] == count
    finding = [f for f in check_spec(spec, dataset) if f.topic == "parameters versus data"][0]
    assert f"{count:,} parameters" in finding.what


def test_a_char_model_is_weighed_against_a_label_at_every_step():
    data = load_dataset("shakespeare")   # 2,812 windows of 64 steps over 62 characters
    findings = check_spec("lstm128*-62", data)
    assert levels(findings, "parameters versus data") == [OK]       # 105,790 for 11,157,... target values
    what = [f.what for f in findings if f.topic == "parameters versus data"][0]
    assert "2,812 training samples x 64 steps x 62 outputs" in what


# -- the loss the user chose, and the loss a saved model was trained with -------------------------------------

def test_nielsens_network_with_the_quadratic_cost_is_not_called_cross_entropy(capsys):
    status = main(["check", "784-30:sigmoid-10:sigmoid", "--loss", "mse", "--limit", "600"])
    out = capsys.readouterr().out
    assert status == 0
    assert "sigmoid output with cross-entropy" not in out and "quadratic cost for classes" in out
    assert "0 problem(s)" in out


def test_a_model_trained_with_the_quadratic_cost_is_checked_with_it(capsys, tmp_path):
    path = str(tmp_path / "nielsen.npz")
    assert main(["train", "--model", "784-30:sigmoid-10:sigmoid", "--loss", "mse", "--limit", "600",
                 "--epochs", "1", "--save", path]) == 0
    capsys.readouterr()
    model, header = load_model(path)
    assert model.loss.name == "mse"
    assert levels(check_saved(model, header), "sigmoid output with cross-entropy") == []
    assert levels(check_saved(model, header), "quadratic cost for classes") == [WARNING]
    assert main(["check", path]) == 0
    out = capsys.readouterr().out
    assert "sigmoid output with cross-entropy" not in out and "quadratic cost for classes" in out
    # --loss describes a spec; a saved model already knows its own loss, so a different one is refused
    assert main(["check", path, "--loss", "xent"]) == 2
    err = capsys.readouterr().err
    assert "mse" in err and len(err.strip().splitlines()) == 1


def test_a_saved_model_written_with_a_softmax_before_cross_entropy_is_warned_about(tmp_path, capsys):
    path = str(tmp_path / "softmax.npz")
    assert main(["train", "--model", "784-20-10:softmax", "--limit", "600", "--epochs", "1", "--save", path]) == 0
    plain = str(tmp_path / "plain.npz")
    assert main(["train", "--model", "784-20-10", "--limit", "600", "--epochs", "1", "--save", plain]) == 0
    capsys.readouterr()
    assert levels(check_saved(*load_model(path)), "softmax before cross-entropy") == [WARNING]
    assert levels(check_saved(*load_model(plain)), "softmax before cross-entropy") == []


# -- outputs that cannot be paired with the targets: one sentence before training ----------------------------

def test_an_lstm_returning_its_last_step_on_per_step_labels_is_refused_with_what_fits(text):
    v = text.n_outputs
    with pytest.raises(PynnError) as err:
        build_model(f"lstm16-{v}", text)
    message = str(err.value)
    assert f"lstm16*-{v}" in message and "one label per sequence" in message and "\n" not in message
    build_model(f"lstm16*-{v}", text)   # what it names fits


def test_an_lstm_returning_every_step_on_one_label_per_sample_is_refused_with_what_fits(small_digits):
    with pytest.raises(PynnError, match=r"lstm8-10 to classify from the last step"):
        build_model("28x28-lstm8*-10", small_digits)
    build_model("28x28-lstm8-10", small_digits)


def test_a_forecast_horizon_and_the_output_size_must_agree(sine):
    with pytest.raises(PynnError, match=r"10 units but the data has 20 target values per sample; end the spec "
                                        r"with -20"):
        build_model("lstm8-10", sine)
    with pytest.raises(PynnError, match=r"lstm8-20 to predict from the last step"):
        build_model("lstm8*-20", sine)   # 20 values at each of 20 steps is not a forecast of 20 values
    build_model("lstm8-20", sine)


def test_a_real_valued_target_at_every_step_needs_an_lstm_that_returns_every_step(rng):
    x = rng.standard_normal((40, 12, 3)).astype(np.float32)
    y = rng.standard_normal((40, 12, 7)).astype(np.float32)
    data = Dataset("steps", x[:30], y[:30], x[30:], y[30:], (12, 3), REGRESSION)
    model = build_model("lstm16*-7", data)      # one target of 7 values per step: fits
    assert model.output_shape == (12, 7)
    with pytest.raises(PynnError, match=r"lstm16\*-7 to predict every step"):
        build_model("lstm16-7", data)


def test_the_trainer_checks_the_targets_before_the_first_batch(text, sine):
    events = []
    model = build_model(f"64x{text.n_outputs}-lstm8-{text.n_outputs}", task="classification")
    with pytest.raises(PynnError, match=r"lstm8\*-"):
        Trainer(model, RunConfig(epochs=1, batch=32, optimizer="adam"), events.append).fit(text.x_train, text.y_train)
    model = build_model("20x1-lstm8-10", task="regression")
    with pytest.raises(PynnError, match="end the spec with -20"):
        Trainer(model, RunConfig(epochs=1, batch=32, optimizer="adam"), events.append).fit(sine.x_train, sine.y_train)
    assert events == []


@pytest.mark.parametrize("labels,fragment", [
    ([0, 3, 12], "labels up to 12, but the output layer has 10 units"),
    ([0, -1, 3], "negative"),
])
def test_class_labels_the_output_units_cannot_score_are_refused(labels, fragment):
    model = build_model("4-3-10")
    x = np.zeros((3, 4), np.float32)
    events = []
    with pytest.raises(PynnError, match=fragment):
        Trainer(model, RunConfig(epochs=1, batch=32, optimizer="adam"), events.append).fit(x, np.array(labels, np.int32))
    assert events == []


def test_pynn_train_says_what_fits_in_one_sentence_before_training(capsys, text):
    v = text.n_outputs
    status = main(["train", "--data", "shakespeare", "--limit", str(CHARS), "--model", f"lstm16-{v}",
                   "--epochs", "1"])
    out, err = capsys.readouterr()
    assert status == 2 and "training" not in out
    assert err.startswith("pynn: ") and len(err.strip().splitlines()) == 1 and f"lstm16*-{v}" in err


def test_pynn_check_finds_the_same_mismatch_and_exits_1(capsys, text):
    v = text.n_outputs
    status = main(["check", f"lstm16-{v}", "--data", "shakespeare", "--limit", str(CHARS), "--json"])
    result = json.loads(capsys.readouterr().out)
    output = [f for f in result["findings"] if f["topic"] == "output size"]
    assert status == 1 and [f["level"] for f in output] == [PROBLEM]
    assert f"lstm16*-{v}" in output[0]["fix"]
    assert main(["check", f"lstm16*-{v}", "--data", "shakespeare", "--limit", str(CHARS)]) == 0


def test_the_apps_workbench_refuses_the_spec_in_one_sentence_and_keeps_its_model(text):
    v = text.n_outputs
    bench = Workbench(data="shakespeare", data_options={"n": CHARS}, spec=f"lstm16*-{v}")
    before = bench.model
    with pytest.raises(PynnError, match=rf"lstm16\*-{v}"):
        bench.set_spec(f"lstm16-{v}")
    assert bench.model is before and bench.run.model == f"lstm16*-{v}"
