"""Models from Keras and PyTorch everywhere a model goes: pynn.load, every command's FILE (with --data, which a
file without a data recipe needs, and --model for a state dict), pynn train --from, pynn export and the app."""
import json

import numpy as np
import pytest

import pynn
from pynn.errors import PynnError
from interop_fixtures import FIXTURES, expected

LAB = str(FIXTURES / "keras_lab.keras")
TORCH_MLP = str(FIXTURES / "torch_mlp.safetensors")
TORCH_CONV = str(FIXTURES / "torch_conv.safetensors")
CONV_SPEC = "28x28-conv8k5-pool2-conv16k3s2:tanh-30:relu-10"


from test_run_cli import pynn as pynn_cli  # noqa: E402  (exit status, stdout, stderr) of a command in this process


def pynn_json(capsys, *args):
    status, out, err = pynn_cli(capsys, *args, "--json")
    assert status == 0, err
    return json.loads(out)


def test_pynn_load_reads_every_format_and_says_where_it_came_from():
    keras = pynn.load(LAB)
    torch = pynn.load(TORCH_MLP, spec="784-25:relu-15:relu-10")
    assert (keras.origin["framework"], torch.origin["framework"]) == ("Keras", "PyTorch")
    assert pynn.load(FIXTURES / "pynn_mlp.npz").origin is None  # pynn's own files as before
    with pytest.raises(PynnError, match=r"a spec is for a safetensors state dict"):
        pynn.load(LAB, spec="784-25-15-10")


def test_eval_equals_keras_accuracy_and_needs_data(capsys):
    result = pynn_json(capsys, "eval", LAB, "--data", "digits")
    assert abs(result["test_accuracy"] - float(expected("keras_lab")["accuracy"])) <= 1 / result["n_test"]
    status, _, err = pynn_cli(capsys, "eval", LAB)
    assert status == 2 and err.count("\n") == 1
    assert "comes from Keras" in err and "give it with --data" in err


def test_eval_of_a_state_dict_with_model_spec_equals_torch(capsys):
    result = pynn_json(capsys, "eval", TORCH_MLP, "--model", "784-25:relu-15:relu-10", "--data", "digits")
    assert abs(result["test_accuracy"] - float(expected("torch_mlp")["accuracy"])) <= 1 / result["n_test"]
    status, _, err = pynn_cli(capsys, "eval", LAB, "--model", "784-25-15-10", "--data", "digits")
    assert status == 2 and "--model SPEC is for a .safetensors state dict" in err


def test_eval_of_a_conv_state_dict_takes_its_shapes_from_model_and_equals_torch(capsys):
    result = pynn_json(capsys, "eval", TORCH_CONV, "--model", CONV_SPEC, "--data", "digits")
    assert abs(result["test_accuracy"] - float(expected("torch_conv")["accuracy"])) <= 1 / result["n_test"]
    status, out, err = pynn_cli(capsys, "eval", TORCH_CONV, "--data", "digits")
    assert status == 2 and not out and err.count("\n") == 1
    assert "holds convolutions (0.weight, 3.weight)" in err and "--model 28x28-conv8k5" in err


def test_without_model_spec_the_command_says_which_activation_it_assumed(capsys):
    status, _, err = pynn_cli(capsys, "eval", TORCH_MLP, "--data", "digits")
    assert status == 0
    assert "note: The tensors do not say the activations; pynn assumed relu" in err


def test_summary_shows_the_frameworks_count_beside_both_conventions(capsys):
    summary = pynn_json(capsys, "summary", str(FIXTURES / "torch_lstm.safetensors"))
    assert summary["conventions"] == {"keras": 3050, "pytorch": 3114}
    assert summary["framework"]["name"] == "PyTorch" and summary["framework"]["params"] == 3114
    status, out, _ = pynn_cli(capsys, "summary", str(FIXTURES / "keras_gates.h5"))
    assert "Keras's own count of this h5 file: 204" in out and "204 as Keras counts them" in out
    status, out, _ = pynn_cli(capsys, "summary", LAB)  # no LSTM: one count, no talk of LSTM gates
    assert "parameters: 20,175, as both Keras and PyTorch count them" in out and "LSTM" not in out


def test_weights_draws_a_keras_models_first_layer_as_digit_maps(capsys):
    result = pynn_json(capsys, "weights", LAB)
    model = pynn.load(LAB)
    assert result["map_shape"] == [28, 28]  # 784 flat inputs drawn as the square images they are
    np.testing.assert_allclose(np.array(result["maps"]).reshape(25, 784), model.layers[0].W, rtol=1e-6)


def test_probe_and_check_read_an_imported_model(capsys):
    probe = pynn_json(capsys, "probe", LAB, "--data", "digits", "--index", "0")["samples"][0]
    model = pynn.load(LAB)
    from pynn.data import load_dataset
    from pynn.losses import softmax

    logits = model.forward(load_dataset("digits").x_test[:1])[0]
    assert probe["predicted"] == int(logits.argmax())
    np.testing.assert_allclose(probe["probabilities"], softmax(logits)[0], rtol=1e-5, atol=1e-7)
    check = pynn_json(capsys, "check", str(FIXTURES / "keras_softmax.keras"), "--data", "digits")
    assert check["problems"] == 0 and "keras_softmax.keras" in check["subject"]


def test_predict_takes_an_imported_file_and_says_what_it_shows(capsys):
    status, _, err = pynn_cli(capsys, "predict", LAB, "--data", "digits")
    assert status == 2 and "was not trained on a series" in err


@pytest.mark.parametrize("command", [["explain", "--class", "3"], ["triggers", "--unit", "0"], ["health"],
                                     ["ablate"], ["probe", "--index", "1"]])
@pytest.mark.parametrize("file, data", [(LAB, ["--data", "digits"]),
                                        (str(FIXTURES / "keras_sequences.keras"),
                                         ["--data", "digits", "--as-sequence"]),
                                        (str(FIXTURES / "torch_lstm.safetensors"),
                                         ["--data", "digits", "--as-sequence"]),
                                        (str(FIXTURES / "keras_conv.keras"), ["--data", "digits"]),
                                        (TORCH_CONV, ["--data", "digits", "--model", CONV_SPEC])])
def test_every_inspection_command_takes_an_imported_file(capsys, command, file, data):
    status, out, err = pynn_cli(capsys, command[0], file, *data, *command[1:])
    assert status == 0, err
    assert out.strip()


def test_sample_reads_the_file_and_says_it_is_no_character_model(capsys):
    status, _, err = pynn_cli(capsys, "sample", LAB)
    assert status == 2 and "is not a character model" in err


def test_a_pickle_is_one_sentence_with_the_lines_that_save_safetensors(capsys, tmp_path):
    pt = tmp_path / "model.pth"
    pt.write_bytes(b"\x80\x04 anything")
    status, _, err = pynn_cli(capsys, "eval", pt, "--data", "digits")
    assert status == 2 and err.count("\n") == 1
    assert 'save_file(model.state_dict(), "model.safetensors")' in err


def test_a_refused_model_is_one_sentence_and_exit_2(capsys):
    status, out, err = pynn_cli(capsys, "summary", str(FIXTURES / "keras_branches.keras"))
    assert status == 2 and not out and err.count("\n") == 1 and "'right'" in err


# -- train --from ------------------------------------------------------------------------------------------

def test_train_from_a_keras_file_continues_from_its_weights(capsys, tmp_path):
    saved = tmp_path / "continued.npz"
    result = pynn_json(capsys, "train", "--from", LAB, "--data", "digits", "--limit", "1000", "--epochs", "1",
                       "--optimizer", "adam", "--lr", "0.0005", "--save", saved)
    keras_accuracy = float(expected("keras_lab")["accuracy"])
    # it starts from Keras's weights (91% on the full test set), not afresh: one short epoch from scratch at
    # this rate reaches far less
    assert result["model"] == "784-25:relu-15:relu-10" and result["test_accuracy"] > keras_accuracy - 0.1
    continued = pynn.load(saved)
    assert continued.origin is None and continued.spec == "784-25:relu-15:relu-10"
    assert not np.array_equal(continued.params, pynn.load(LAB).params)  # it trained


def test_train_from_refuses_what_would_change_the_layers_or_lacks_data(capsys):
    status, _, err = pynn_cli(capsys, "train", "--from", LAB, "--epochs", "1")
    assert status == 2 and "give it with --data" in err
    status, _, err = pynn_cli(capsys, "train", "--from", LAB, "--data", "digits", "--activation", "tanh")
    assert status == 2 and "--activation shapes the layers" in err
    status, _, err = pynn_cli(capsys, "train", "--from", LAB, "--data", "digits", "--model", "784-10")
    assert status == 2 and "only for a .safetensors state dict" in err


def test_train_from_a_state_dict_takes_its_spec_from_model(capsys):
    result = pynn_json(capsys, "train", "--from", TORCH_MLP, "--model", "784-25:relu-15:relu-10", "--data",
                       "digits", "--limit", "500", "--epochs", "1", "--optimizer", "adam", "--lr", "0.0001")
    assert result["model"] == "784-25:relu-15:relu-10" and result["test_accuracy"] > 0.8


# -- export ---------------------------------------------------------------------------------------------

def test_export_to_safetensors_round_trips_a_keras_model(capsys, tmp_path):
    out = tmp_path / "lab.safetensors"
    result = pynn_json(capsys, "export", LAB, "--to", out)
    assert result["torch_modules"] == ["Linear(784, 25)", "ReLU()", "Linear(25, 15)", "ReLU()", "Linear(15, 10)"]
    back, keras = pynn.load(out), pynn.load(LAB)
    np.testing.assert_array_equal(back.params, keras.params)
    assert back.spec == keras.spec and back.origin["framework"] == "PyTorch"


def test_export_to_onnx_runs_in_onnx_runtime_with_kerass_outputs(capsys, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    out = tmp_path / "lab.onnx"
    assert pynn_cli(capsys, "export", LAB, "--to", out)[0] == 0
    ref = expected("keras_lab")
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: ref["inputs"]})[0]
    # pynn's ONNX export ends as model.predict does, in probabilities: the softmax of Keras's logits
    from pynn.losses import softmax

    want = softmax(ref["outputs"].astype(np.float64))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * float(np.abs(want).max()))
    assert pynn.load(out).spec.startswith("784-25:relu-15:relu-10")


def test_export_refuses_a_suffix_it_does_not_write(capsys, tmp_path):
    status, _, err = pynn_cli(capsys, "export", LAB, "--to", tmp_path / "model.pt")
    assert status == 2 and "pynn exports to .onnx or .safetensors" in err
    assert not (tmp_path / "model.pt").exists()


# -- the app -----------------------------------------------------------------------------------------

async def test_the_app_opens_a_keras_model_and_asks_for_its_data():
    """pynn tui --load lab.keras: the workbench opens it (on the default data), and the app asks which data to
    look at it with, since the file does not say; ctrl+o of another framework's file asks again."""
    from apptext import screen_text, wait_until
    from pynn_tui.app import PynnApp
    from pynn_tui.screens.dialogs import InputDialog
    from pynn_tui.workbench import Workbench

    app = PynnApp(Workbench(load=LAB))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, InputDialog), what="the question for data")
        assert "comes from Keras; its file does not say what data" in screen_text(app)
        await pilot.press("enter")  # the offered default, digits
        await wait_until(pilot, lambda: not app.bench.data_unknown, what="the data chosen")
        await wait_until(pilot, lambda: "25·784 + 25" in screen_text(app), what="the Keras model's shapes")
        assert app.bench.model.origin["framework"] == "Keras" and app.bench.data.name == "digits"
        app._load_from(str(FIXTURES / "torch_lstm.safetensors"))  # what ctrl+o does with the path typed
        await wait_until(pilot, lambda: isinstance(app.screen, InputDialog), what="the question again")
        assert app.bench.model.origin["framework"] == "PyTorch"
        assert app.bench.model.input_shape == (28, 28)  # its steps taken from the data


def test_the_workbench_refuses_data_that_does_not_fit_and_keeps_what_it_had():
    from pynn_tui.workbench import Workbench

    bench = Workbench(load=LAB)
    with pytest.raises(PynnError, match=r"Layer 1 expects 784 features per sample; the data sine has"):
        bench.use_data("sine")
    assert bench.data.name == "digits" and bench.data_unknown


def test_the_doctor_says_an_imported_model_applies_the_softmax_twice_in_its_own_terms(capsys, tmp_path):
    """A Keras softmax output trained with from_logits=True: the doctor's problem speaks of the file, not of a
    pynn flag."""
    import zipfile

    twice = tmp_path / "twice.keras"
    with zipfile.ZipFile(LAB) as z, zipfile.ZipFile(twice, "w") as out:
        for name in z.namelist():
            data = z.read(name)
            if name == "config.json":
                config = json.loads(data)
                config["config"]["layers"][-1]["config"]["activation"] = "softmax"
                data = json.dumps(config).encode()
            out.writestr(name, data)
    status, out, _ = pynn_cli(capsys, "check", twice, "--data", "digits")
    assert status == 1
    assert "applied twice in this Keras model" in out and "make the output layer linear" in out
    assert "--double-softmax" not in out


def test_pynn_tui_load_of_a_foreign_file_leaves_the_data_to_the_app_unless_given():
    from pynn_tui.cli import build_parser
    from pynn_tui.commands.tui import app_run
    from pynn_tui.workbench import Workbench

    asked = build_parser().parse_args(["tui", "--load", LAB])
    assert app_run(asked) is None and Workbench(app_run(asked), load=LAB).data_unknown
    given = build_parser().parse_args(["tui", "--load", LAB, "--data", "digits"])
    assert app_run(given).data == "digits" and not Workbench(app_run(given), load=LAB).data_unknown


def test_pynn_tui_loads_a_state_dict_with_its_spec_and_refuses_model_with_another_file():
    from pynn_tui.cli import build_parser
    from pynn_tui.commands.tui import app_run
    from pynn_tui.workbench import Workbench

    args = build_parser().parse_args(["tui", "--load", TORCH_MLP, "--model", "784-25:tanh-15:tanh-10"])
    bench = Workbench(app_run(args), load=args.load, spec=args.model)
    assert bench.model.spec == "784-25:tanh-15:tanh-10" and bench.data_unknown
    with pytest.raises(PynnError, match=r"--model goes with --load only for a .safetensors state dict"):
        app_run(build_parser().parse_args(["tui", "--load", LAB, "--model", "784-10"]))
