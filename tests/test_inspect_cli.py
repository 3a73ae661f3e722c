"""The inspection commands end to end: each prints its picture, its numbers with --json (checked against the
saved model), one sentence for a user's mistake, colour on a terminal and characters when colour is off."""
import json
import os
import pty
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from pynn.data import load_dataset
from pynn.files import load_model
from pynn_tui.cli import main

LIMIT = "1500"   # digits used for the saved model: 1,200 train / 300 test


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "digits.npz"
    assert main(["train", "--limit", LIMIT, "--epochs", "2", "--save", str(path)]) == 0
    return str(path)


@pytest.fixture(scope="module")
def saved(model_file):
    model, header = load_model(model_file)
    return model, header, load_dataset("digits", n=int(LIMIT))


def pynn(capsys, *args):
    """Run a command in this process; (exit status, stdout, stderr). Not a terminal, so output is plain."""
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def pynn_json(capsys, *args):
    status, out, err = pynn(capsys, *args, "--json")
    assert status == 0, err
    return json.loads(out)


# -- weights --------------------------------------------------------------------------------------------

def test_weights_draws_first_layer_maps_in_the_datas_shape(capsys, model_file, saved):
    model = saved[0]
    result = pynn_json(capsys, "weights", model_file, "--neurons", "0-2,5")
    assert result["neurons"] == [0, 1, 2, 5] and result["map_shape"] == [28, 28] and not result["back_projected"]
    assert np.allclose(np.array(result["maps"]).reshape(4, 784), model.layers[0].W[[0, 1, 2, 5]])
    status, out, _ = pynn(capsys, "weights", model_file, "--neurons", "0-2", "--cols", "3")
    lines = out.splitlines()
    assert status == 0 and lines[1].split() == ["#0", "#1", "#2"] and "likes" in lines[-1]
    assert len(lines) == 1 + 1 + 28 + 1 and "\x1b[" not in out


def test_weights_of_a_deeper_layer_are_a_strip_and_an_approximate_map(capsys, model_file, saved):
    model = saved[0]
    result = pynn_json(capsys, "weights", model_file, "--layer", "2", "--neurons", "7")
    assert result["back_projected"] and np.allclose(result["incoming"], model.layers[1].W[[7]])
    back = model.layers[1].W[7].astype(np.float64) @ model.layers[0].W
    assert np.allclose(np.ravel(result["maps"]), back, atol=1e-4)
    out = pynn(capsys, "weights", model_file, "--layer", "2", "--neurons", "7")[1]
    assert "an approximation" in out and out.splitlines()[1].startswith("#7 ")


# -- explain --------------------------------------------------------------------------------------------

def test_explain_names_the_strongest_hidden_units_of_a_class(capsys, model_file, saved):
    model = saved[0]
    result = pynn_json(capsys, "explain", model_file, "--class", "3", "--top", "2")
    w = model.layers[1].W[3]
    assert result["top_positive"] == list(np.argsort(-w)[:2]) and result["top_negative"] == list(np.argsort(w)[:2])
    assert np.allclose(result["weight_x_mean_activation"], np.array(result["weights"]) *
                       np.array(result["mean_activation"]))
    assert np.array(result["template"]).shape == (28, 28)
    out = pynn(capsys, "explain", model_file, "--class", "3")[1]
    first = int(np.argmax(w))
    assert f"most positive #{first} " in out and "template of class '3'" in out


# -- probe ----------------------------------------------------------------------------------------------

def test_probe_follows_a_sample_and_steps_through_the_errors(capsys, model_file, saved):
    model, _, data = saved
    result = pynn_json(capsys, "probe", model_file, "--index", "5")
    sample = result["samples"][0]
    probs = model.predict(data.x_test[5:6])[0]
    assert np.allclose(sample["probabilities"], probs, atol=1e-5) and sample["predicted"] == int(probs.argmax())
    assert sample["true"] == int(data.y_test[5]) and len(sample["layers"][0]["values"]) == 30
    wrong = np.flatnonzero(model.predict(data.x_test).argmax(axis=1) != data.y_test)
    result = pynn_json(capsys, "probe", model_file, "--misclassified", "--index", "1", "--count", "2")
    assert [s["index"] for s in result["samples"]] == list(wrong[1:3])
    out = pynn(capsys, "probe", model_file, "--misclassified")[1]
    assert f"sample {wrong[0]}: predicted" in out and "✗ (true:" in out and "← true" in out


def test_probe_on_a_regression_shows_the_predicted_value_and_the_target(capsys, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 10))
    y = x @ rng.normal(size=10)
    path = tmp_path / "real.csv"
    path.write_text(",".join([f"f{i}" for i in range(10)] + ["y"]) + "\n" +
                    "".join(",".join(f"{v:.5f}" for v in (*row, t)) + "\n" for row, t in zip(x, y)))
    model_path = str(tmp_path / "real.npz")
    assert main(["train", "--data", str(path), "--target", "y", "--model", "10-5-1", "--epochs", "2",
                 "--save", model_path]) == 0
    capsys.readouterr()
    model, _ = load_model(model_path)
    data = load_dataset(str(path), target="y")
    sample = pynn_json(capsys, "probe", model_path, "--index", "3")["samples"][0]
    assert sample["probabilities"] is None and sample["predicted"] is None
    assert np.allclose(sample["values"], model.predict(data.x_test[3:4])[0], atol=1e-5)
    assert np.allclose(sample["target"], data.y_test[3], atol=1e-5)
    status, out, err = pynn(capsys, "probe", model_path, "--index", "3")
    assert status == 0 and f"sample 3: predicted {sample['values'][0]:.4g}" in out and "pushing the value up" in out
    status, _, err = pynn(capsys, "probe", model_path, "--misclassified")
    assert status == 2 and "not classes" in err and len(err.strip().splitlines()) == 1


# -- triggers -------------------------------------------------------------------------------------------

def test_triggers_finds_exciting_samples_and_an_input_that_excites_more(capsys, model_file, saved):
    model, _, data = saved
    result = pynn_json(capsys, "triggers", model_file, "--unit", "4", "--top", "2", "--steps", "40")
    hidden = 1 / (1 + np.exp(-(data.x_test.reshape(-1, 784) @ model.layers[0].W[4].astype(np.float64)
                               + model.layers[0].b[4])))
    assert result["most_exciting"] == list(np.argsort(-hidden)[:2])
    trace = result["activation_trace"]
    assert len(trace) == 41 and trace[-1] > trace[0]
    out = pynn(capsys, "triggers", model_file, "--unit", "4", "--top", "2", "--steps", "5")[1]
    assert "most exciting" in out and "least exciting" in out and "the input that excites it most" in out


# -- health ---------------------------------------------------------------------------------------------

def test_health_reports_units_gradients_histograms_and_a_filmstrip(capsys, model_file, saved):
    _, header, _ = saved
    result = pynn_json(capsys, "health", model_file, "--filmstrip", "3")
    assert result["units"][0]["units"] == 30 and result["units"][0]["activation"] == "sigmoid"
    assert np.allclose(result["gradients"]["norms"], [h["grad_norms"] for h in header["history"]])
    assert [sum(h["counts"]) for h in result["weight_histograms"]] == [784 * 30, 30 * 10]
    film = result["filmstrip"]
    assert film["matches_saved"] and film["epochs"] == [0, 1, 2] and np.array(film["maps"]).shape == (3, 1, 28, 28)
    status, out, err = pynn(capsys, "health", model_file, "--filmstrip", "3")
    assert "replaying 2 epochs" in err and "epoch 2 " in out and "the replay ended on exactly the saved weights" in out


# -- ablate ---------------------------------------------------------------------------------------------

def test_ablate_silences_units_in_turn_and_as_a_set(capsys, model_file, saved):
    model, _, data = saved
    result = pynn_json(capsys, "ablate", model_file)
    assert len(result["groups"]) == 30 and np.isclose(result["baseline"],
                                                      model.evaluate(data.x_test, data.y_test)["accuracy"])
    assert np.allclose(result["drop"], result["baseline"] - np.array(result["accuracy"]))
    together = pynn_json(capsys, "ablate", model_file, "--units", "1-3", "--together")
    assert together["groups"] == [[1, 2, 3]] and len(together["drop_per_class"][0]) == 10
    out = pynn(capsys, "ablate", model_file, "--units", "1-3", "--together")[1]
    assert "#1-3" in out and "accuracy lost per class" in out


def test_ablate_writes_accuracy_lost_in_percentage_points(capsys, model_file):
    result = pynn_json(capsys, "ablate", model_file, "--units", "0-4")
    out = pynn(capsys, "ablate", model_file, "--units", "0-4")[1]
    rows = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]]
            for line in out.splitlines() if line.startswith("│ #")}
    for group, drop in zip(result["groups"], result["drop"]):
        accuracy, lost, _, its_loss = rows[f"#{group[0]}"]
        assert lost == f"{100 * drop:+.2f} pp" and accuracy.endswith("%")   # points, not a percent
        assert its_loss == "—" or its_loss.endswith(" pp")
    assert "(percentage points)" in out and not any(line.rstrip().endswith("%") for line in
                                                    out.split("(percentage points)")[1].splitlines())


# -- sweep and compare ----------------------------------------------------------------------------------

def test_sweep_reports_sizes_with_the_rules_of_thumb(capsys):
    args = ["sweep", "--hidden", "2,4", "--seeds", "2", "--epochs", "1", "--limit", "600", "--jobs", "2"]
    result = pynn_json(capsys, *args)
    assert [r["hidden"] for r in result["sizes"]] == [2, 4] and result["sizes"][0]["runs"] == 2
    assert result["rules_of_thumb"]["√n_in"] == 28.0 and len(result["runs"]) == 4
    out = pynn(capsys, *args)[1]
    assert "test accuracy by hidden-layer size" in out and "┊a √n_in = 28" in out and "4 runs in" in out


def test_compare_trains_two_variants_with_one_seed(capsys):
    args = ["compare", "--a", "init=normal", "--b", "init=lecun,l2=5", "--epochs", "1", "--limit", "600",
            "--neurons", "0-1"]
    result = pynn_json(capsys, *args)
    a, b = result["runs"]
    assert a["settings"] == {"init": "normal"} and b["settings"] == {"init": "lecun", "l2": 5.0}
    assert np.array(result["first_layer_maps"]["a"]).shape == (2, 784)
    norms = result["weight_differences"][0]
    assert norms["norm_a"] > 5 * norms["norm_b"]          # randn weights against randn/sqrt(784) with L2
    out = pynn(capsys, *args)[1]
    assert "a (init=normal): first-layer weight maps" in out and "‖W‖ a" in out


# -- check ----------------------------------------------------------------------------------------------

def test_check_passes_a_sound_spec_and_exits_1_on_a_problem(capsys, model_file):
    status, out, _ = pynn(capsys, "check", "784-30-10")
    assert status == 0 and "0 problem(s)" in out
    status, out, _ = pynn(capsys, "check", "784-30-2", "--data", "xor")
    assert status == 1 and "Layer 1 expects vectors of 784 features, but the data has vectors of 2" in out
    assert "why:" in out and "do:" in out
    result = json.loads(pynn(capsys, "check", model_file, "--json")[1])
    assert result["problems"] == 0 and any(f["topic"] == "gradients" for f in result["findings"])


# -- mistakes, colour -----------------------------------------------------------------------------------

@pytest.mark.parametrize("args,fragment", [
    (["weights", "{file}", "--neurons", "40"], "there is no neuron 40"),
    (["weights", "{file}", "--neurons", "5-2"], "runs backwards"),
    (["explain", "{file}", "--class", "twelve"], "no class 'twelve'"),
    (["probe", "{file}", "--index", "99999"], "no sample 99999"),
    (["ablate", "{file}", "--together"], "--together"),
    (["ablate", "{file}", "--layer", "2"], "output layer"),
    (["compare", "--a", "bogus=1", "--b", "l2=1"], "Cannot read 'bogus=1'"),
    (["sweep", "--hidden", "0,5"], "at least 1"),
])
def test_mistakes_are_one_sentence_and_exit_2(capsys, model_file, args, fragment):
    status, out, err = pynn(capsys, *[a.replace("{file}", model_file) for a in args])
    assert status == 2 and fragment in err and len(err.strip().splitlines()) == 1


def on_terminal(args, **env):
    """Run the command with a pseudo-terminal as stdout, as a person at a terminal would; its output."""
    master, slave = pty.openpty()
    run_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM", "COLORTERM")}
    run_env.update(COLUMNS="100", LINES="40", **env)
    proc = subprocess.Popen([sys.executable, "-m", "pynn_tui.cli", *args], stdout=slave, stderr=subprocess.PIPE,
                            cwd=tempfile.gettempdir(), env=run_env)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:            # the terminal closes when the command exits
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.wait(timeout=60) == 0, proc.stderr.read().decode()
    return b"".join(chunks).decode()


def test_colour_on_a_terminal_and_characters_without_it(model_file):
    args = ["weights", model_file, "--neurons", "0"]
    coloured = on_terminal(args, TERM="xterm-256color", COLORTERM="truecolor")
    assert "▀" in coloured and "\x1b[38;2;" in coloured and "48;2;" in coloured
    for env in ({"TERM": "xterm-256color", "NO_COLOR": "1"}, {"TERM": "dumb"}):
        plain = on_terminal(args, **env)
        assert "▀" not in plain and "38;2;" not in plain and "(blank near 0)" in plain
        assert any(ch in plain for ch in "#X")
    piped = subprocess.run([sys.executable, "-m", "pynn_tui.cli", *args], capture_output=True, text=True,
                           cwd=tempfile.gettempdir(), env=dict(os.environ, TERM="xterm-256color"))
    assert piped.returncode == 0 and "\x1b[" not in piped.stdout and "(blank near 0)" in piped.stdout
