"""Layers numbered as the course numbers them: the layers with weights are W[1], W[2], W[3] and dropout, which has
no W, sits between them unnumbered. The number `pynn summary` shows is the number every --layer takes, the
library's layer arguments, the app's screens and the JSON; a dropout's old place in the list is refused in one
sentence; model files, which store layers as a list, load with the course's numbers whatever number they hold.
Also summary's Z = WX + b with its broadcast bias and the shapes of dW and db beside W and b."""
from __future__ import annotations

import json

import numpy as np
import pytest

from apptext import plain
from pynn.data import load_dataset
from pynn.errors import PynnError
from pynn.files import load_model
from pynn.inspect.ablation import ablate
from pynn.inspect.activations import layer_outputs
from pynn.inspect.weights import weight_maps
from pynn.lstm import gate_trace
from pynn.model import build_model
from pynn.summary import model_summary
from pynn_tui.app import PynnApp
from pynn_tui.cli import main
from pynn_tui.workbench import Workbench
from test_inspect_cli import pynn, pynn_json  # the commands, in this process

SPEC = "784-100:relu-drop0.5-30-drop0.2-10"
WIDTHS = {1: 100, 2: 30, 3: 10}   # the course's W[l] has n_l rows
LIMIT = "600"                      # digits for the saved model: enough for every command, quick to train


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("numbers") / "dropout.npz"
    assert main(["train", "--model", SPEC, "--limit", LIMIT, "--epochs", "1", "--save", str(path)]) == 0
    return str(path)


# -- the numbers ------------------------------------------------------------------------------------------

def test_the_layers_with_weights_are_numbered_as_W_l_and_dropout_is_not():
    model = build_model(SPEC, task="classification")
    assert [layer.index for layer in model.layers] == [1, None, 2, None, 3]
    assert [layer.position for layer in model.layers] == [1, 2, 3, 4, 5]   # the code's places, dropout counted
    for number, units in WIDTHS.items():
        layer = model.layer_numbered(number)
        assert layer is model.param_layers[number - 1] and layer.W.shape[0] == units
    assert model.layer_numbered(4) is None and model.layer_numbered(0) is None
    assert [layer.index for layer in model.frozen().layers] == [1, None, 2, None, 3]


def test_summary_numbers_W1_to_W3_with_dropout_unnumbered_between(capsys):
    rows = model_summary(build_model(SPEC, task="classification"))["layers"]
    assert [(r["index"], r["kind"]) for r in rows] == [(1, "dense"), (None, "dropout"), (2, "dense"),
                                                       (None, "dropout"), (3, "dense")]
    assert [r["math_view"] for r in rows] == ["Z[1], A[1]: (100, m)", "A[1] ⊙ D[1] / 0.5: (100, m)",
                                              "Z[2], A[2]: (30, m)", "A[2] ⊙ D[2] / 0.8: (30, m)",
                                              "Z[3], A[3]: (10, m)"]
    status, out, _ = pynn(capsys, "summary", SPEC)
    names = [line.split("│")[1].strip() for line in out.splitlines() if line.startswith("│ ")]
    assert status == 0 and names == ["0 input", "1 Dense(100, relu)", "Dropout(p=0.5)", "2 Dense(30, sigmoid)",
                                     "Dropout(p=0.2)", "3 Dense(10, head follows the data)"]
    assert "layer 2: 30·100 + 30 = 3,030" in out and "layer 3: 10·30 + 10 = 310" in out
    assert "layer 4" not in out and "layer 5" not in out


def test_summary_shows_the_broadcast_bias_and_the_gradients_shapes(capsys):
    out = pynn(capsys, "summary", SPEC)[1]
    assert ("Z[2] = W[2]·A[1] + b[2]: (30, 100)·(100, m) = (30, m), plus b[2] (30, 1) broadcast across the m "
            "columns; dW[2] (30, 100) like W[2], db[2] (30, 1) like b[2]") in out
    assert ("Z[2] = A[1]·W[2]ᵀ + b[2]: (m, 100)·(100, 30) = (m, 30), plus b[2] as a row (1, 30) broadcast down "
            "the m rows; dW[2] (30, 100) like W[2], db[2] (1, 30) like b[2]") in out
    assert "W, dW (30, 100)  b, db (30, 1)" in out


def test_summary_json_carries_the_shapes_of_dW_and_db(capsys):
    summary = pynn_json(capsys, "summary", SPEC)
    model = build_model(SPEC, task="classification")
    for row in summary["layers"]:
        if row["kind"] == "dropout":
            assert row["index"] is None and row["params"] == row["grads"] == {}
            continue
        layer = model.layer_numbered(row["index"])
        n, n_in = layer.W.shape
        assert row["params"] == {"W": [n, n_in], "b": [n, 1]} and row["grads"] == {"dW": [n, n_in], "db": [n, 1]}
        assert row["batch_params"] == {"W": [n, n_in], "b": [1, n]}
        assert row["batch_grads"] == {"dW": [n, n_in], "db": [1, n]}
        # the shapes the gradients really have: a layer's dW and db are views shaped like its W and b
        assert layer.dW.shape == layer.W.shape and layer.db.size == n
    lstm = model_summary(build_model("20x1-lstm8-drop0.1-1", task="regression"))["layers"][0]
    assert lstm["grads"] == {"dWx": [32, 1], "dWh": [32, 8], "db": [32, 1]}


def test_a_dropout_on_the_input_lets_in_the_data_layer_1_reads():
    data = load_dataset("digits", n=300)                      # 28x28 samples, which layer 1 reads as 784
    model = build_model("784-drop0.2-30-10", data)
    assert [layer.index for layer in model.layers] == [None, 1, 2]


def test_a_hidden_softmax_is_named_by_its_number():
    with pytest.raises(PynnError, match="^Layer 2 is a hidden softmax"):
        build_model("784-100-drop0.5-30:softmax-10", task="classification")


# -- every --layer takes the number summary shows ----------------------------------------------------------

def test_weights_layer_2_is_the_30_unit_layer(capsys, model_file):
    model = load_model(model_file)[0]
    result = pynn_json(capsys, "weights", model_file, "--layer", "2")
    assert result["layer"] == 2 and result["neurons"] == list(range(30))
    assert np.allclose(result["incoming"], model.layer_numbered(2).W)
    status, out, _ = pynn(capsys, "weights", model_file, "--layer", "2")
    assert status == 0 and out.startswith("layer 2: incoming weights of 30 neurons from the 100 units")
    assert "W[2]·…·W[1]" in out


def test_triggers_takes_the_course_number(capsys, model_file):
    model = load_model(model_file)[0]
    x = load_dataset("digits", n=int(LIMIT)).x_test
    result = pynn_json(capsys, "triggers", model_file, "--layer", "2", "--unit", "29", "--steps", "3")
    thirty = layer_outputs(model, x)[model.layer_numbered(2).position - 1]
    assert result["layer"] == 2 and np.allclose(result["most_values"], thirty[result["most_exciting"], 29])
    assert result["maximised_input"] is not None


def test_ablate_takes_the_course_number(capsys, model_file):
    result = pynn_json(capsys, "ablate", model_file, "--layer", "2")
    assert result["layer"] == 2 and len(result["groups"]) == 30
    status, out, _ = pynn(capsys, "ablate", model_file, "--layer", "2", "--units", "0-2")
    assert status == 0 and "silencing units of layer 2" in out


def test_health_takes_the_course_number(capsys, model_file):
    result = pynn_json(capsys, "health", model_file, "--layer", "2")
    assert [(u["layer"], u["units"]) for u in result["units"]] == [(2, 30)]
    assert [h["layer"] for h in result["weight_histograms"]] == [2]
    assert result["gradients"]["layers"] == [1, 2, 3]   # gradient norms are per numbered layer


@pytest.mark.parametrize("command", [["weights"], ["triggers", "--unit", "0"], ["ablate"], ["health"]])
@pytest.mark.parametrize("number", ["4", "5"])   # where the second dropout and the output stood in the list
def test_a_number_past_the_last_weighted_layer_is_refused_in_one_sentence(capsys, model_file, command, number):
    status, out, err = pynn(capsys, command[0], model_file, "--layer", number, *command[1:])
    assert status == 2 and out == "" and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert (f"Layer {number} is not in the model, whose layers are numbered 1-3 as in W[1]-W[3] (dropout, having "
            "no weights, takes no number)") in err
    assert "choose one of 1, 2, 3." in err or "choose a hidden layer (1, 2)" in err


def test_ablate_refuses_the_output_layer_by_its_number(capsys, model_file):
    status, _, err = pynn(capsys, "ablate", model_file, "--layer", "3")
    assert status == 2 and "Layer 3 is the output layer; choose a hidden layer (1, 2)." in err


def test_the_library_takes_the_same_numbers(model_file):
    model = load_model(model_file)[0]
    data = load_dataset("digits", n=int(LIMIT))
    assert weight_maps(model, 2).maps.shape == (30, 28, 28)           # back-projected through W[1]
    assert ablate(model, data.x_test, data.y_test, index=2).layer == 2
    model = build_model("20x1-lstm8*-drop0.2-lstm4-1", task="regression")
    assert gate_trace(model, np.zeros((20, 1), np.float32), 2).hidden.shape == (20, 4)


def test_old_files_whose_layers_hold_list_places_load_with_the_course_numbers(model_file, tmp_path):
    """Files written before this numbering stored each layer's place in the list as its index; loading reads
    the layers as a list and numbers them afresh."""
    arrays = dict(np.load(model_file))
    header = json.loads(arrays["header"].tobytes())
    for place, layer in enumerate(header["layers"], start=1):
        layer["index"] = place
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    old = tmp_path / "old.npz"
    np.savez(old, **arrays)
    model = load_model(str(old))[0]
    assert [layer.index for layer in model.layers] == [1, None, 2, None, 3]
    assert np.array_equal(model.params, load_model(model_file)[0].params)


# -- the app ----------------------------------------------------------------------------------------------

async def test_the_model_screen_numbers_layers_as_summary_does():
    app = PynnApp(Workbench(spec=SPEC))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        shown = plain(app.screen.query_one("#model-summary").content, width=160)
    names = [line.split("│")[1].strip() for line in shown.splitlines() if line.startswith("│ ")]
    assert names == ["0 input", "1 Dense(100, relu)", "Dropout(p=0.5)", "2 Dense(30, sigmoid)", "Dropout(p=0.2)",
                     "3 Dense(10, softmax)"]
    assert "layer 2: 30·100 + 30 = 3,030" in shown and "broadcast across the m columns" in shown


async def test_the_weights_screen_steps_through_the_numbered_layers():
    app = PynnApp(Workbench(spec=SPEC), first_screen="weights")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert screen.dense_choices() == [1, 2, 3] and screen.layer_index == 1
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert screen.layer_index == 2 and len(screen.cells) == 30
        assert str(screen.head_text()).startswith("layer 2 (2/3) · 30 neurons")


async def test_the_lstm_screen_numbers_its_lstms_as_summary_does():
    app = PynnApp(Workbench(data="sine", spec="20x1-lstm8*-drop0.2-lstm4-1"), first_screen="lstm")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert screen.lstm_layers() == [1, 2]
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert screen.layer_index == 2 and screen.trace.hidden.shape[1] == 4
