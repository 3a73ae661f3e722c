"""The run description through the command line and the model file: `pynn train --config` (a TOML file or a
saved model) equals the same flags, flags override its fields, a saved model's description runs it again to
the same weights, --json and the file carry it, format-1 files still load, and a field added to RunConfig
becomes a flag and a recorded field without the command or the file format knowing it."""
import dataclasses
import json

import numpy as np
import pytest

import pynn.run as run_module
from pynn.data import load_dataset
from pynn.errors import TrainingDiverged
from pynn.files import load_model, read_header, save_model
from pynn.model import build_model
from pynn.run import RunConfig, setting
from pynn.train import Trainer
from pynn_tui.cli import main

SMALL = ["--limit", "300", "--model", "784-12-10", "--epochs", "2", "--seed", "4"]  # 240 train / 60 test
SMALL_TOML = 'model = "784-12-10"\nlimit = 300\nepochs = 2\nseed = 4\n'


def pynn(capsys, *args):
    """Run a command in this process; (exit status, stdout, stderr)."""
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def train_json(capsys, *args) -> dict:
    status, out, err = pynn(capsys, "train", *args, "--json")
    assert status == 0, err
    return json.loads(out)


def saved(path):
    model, header = load_model(path)
    return model.run, model.params, header


def test_a_toml_description_equals_the_same_flags(capsys, tmp_path):
    (tmp_path / "run.toml").write_text(SMALL_TOML)
    by_file = train_json(capsys, "--config", tmp_path / "run.toml", "--save", tmp_path / "file.npz")
    by_flags = train_json(capsys, *SMALL, "--save", tmp_path / "flags.npz")
    assert by_file["run"] == by_flags["run"] and by_file["history"][-1]["loss"] == by_flags["history"][-1]["loss"]
    (run_a, params_a, _), (run_b, params_b, _) = saved(tmp_path / "file.npz"), saved(tmp_path / "flags.npz")
    assert run_a == run_b and np.array_equal(params_a, params_b)


def test_flags_override_the_fields_of_the_file(capsys, tmp_path):
    (tmp_path / "run.toml").write_text(SMALL_TOML + 'optimizer = "adam"\n')
    result = train_json(capsys, "--config", tmp_path / "run.toml", "--epochs", "1", "--batch", "20")
    run = result["run"]
    assert (run["epochs"], run["batch"], len(result["history"])) == (1, 20, 1)
    assert (run["optimizer"], run["model"], run["limit"], run["seed"]) == ("adam", "784-12-10", 300, 4)
    assert result["lr"] == run_module.DEFAULT_LR["adam"]


def test_json_carries_the_description_with_the_model_it_built(capsys):
    result = train_json(capsys, "--limit", "300", "--epochs", "1", "--val-split", "0.1")
    assert result["run"] == RunConfig(model="784-30-10", limit=300, epochs=1, val_split=0.1).to_dict()


def test_a_saved_model_runs_again_to_the_same_weights(capsys, tmp_path):
    """--config FILE.npz re-runs what made the model: the description it saved, so the same seed gives the same
    weights, and the re-run saves the very same description."""
    first = tmp_path / "first.npz"
    train_json(capsys, *SMALL, "--optimizer", "momentum", "--l2", "0.5", "--dropout", "0.2", "--save", first)
    again = train_json(capsys, "--config", first, "--save", tmp_path / "again.npz")
    (run_a, params_a, header_a), (run_b, params_b, header_b) = saved(first), saved(tmp_path / "again.npz")
    assert header_a["run"] == header_b["run"] == again["run"] and run_a.dropout == 0.2 and run_a.l2 == 0.5
    assert "drop0.2" in header_a["spec"] and np.array_equal(params_a, params_b)


def test_the_inspecting_commands_take_the_models_own_data_and_the_flags_change_it(capsys, tmp_path):
    path = tmp_path / "m.npz"
    train_json(capsys, *SMALL, "--save", path)
    assert json.loads(pynn(capsys, "eval", path, "--json")[1])["n_test"] == 60        # its --limit 300
    assert json.loads(pynn(capsys, "eval", path, "--limit", "100", "--json")[1])["n_test"] == 20
    assert json.loads(pynn(capsys, "eval", path, "--data", "digits", "--json")[1])["n_test"] == 2000


@pytest.mark.parametrize("toml,fragment", [
    ("epoch = 2\n", "Unknown field 'epoch' in {path}"),
    ('epochs = "many"\n', "--epochs must be a whole number, not 'many' (in {path})."),
    ("val_split = 1.5\n", "--val-split must be in [0, 1), not 1.5."),
    ("epochs = [\n", "{path} is not valid TOML"),
])
def test_a_bad_description_file_is_one_sentence_naming_the_field(capsys, tmp_path, toml, fragment):
    path = tmp_path / "run.toml"
    path.write_text(toml)
    status, out, err = pynn(capsys, "train", "--config", path)
    assert status == 2 and out == "" and fragment.format(path=path) in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("args,fragment", [
    (["--val-split", "2"], "--val-split must be in [0, 1), not 2.0."),
    (["--early-stop", "2"], "--early-stop watches the validation loss, so it needs --val-split"),
    (["--epochs", "x"], "--epochs"),
    (["--optimizer", "rmsprop"], "--optimizer"),
])
def test_a_bad_flag_is_one_sentence_naming_it(capsys, args, fragment):
    status, out, err = pynn(capsys, "train", *args)
    assert status == 2 and fragment in err and len(err.strip().splitlines()) == 1


def test_resume_refuses_a_flag_that_would_change_the_saved_run(capsys, tmp_path):
    path = tmp_path / "m.npz"
    train_json(capsys, *SMALL, "--save", path)
    before = path.read_bytes()
    status, _, err = pynn(capsys, "train", "--resume", path, "--epochs", "3", "--lr", "0.1", "--save", path)
    assert status == 2 and "--lr would change it" in err and path.read_bytes() == before


def test_the_library_names_lr_and_the_command_line_says_the_flag(capsys, digits):
    model = build_model("784-30:relu-10", digits, init="normal", seed=0)
    with pytest.raises(TrainingDiverged, match=r"smaller learning rate than 1e\+30 \(lr\)\."):
        Trainer(model, RunConfig(epochs=1, lr=1e30)).fit(digits.x_train[:300], digits.y_train[:300])
    status, _, err = pynn(capsys, "train", "--limit", "300", "--model", "784-30:relu-10", "--init", "normal",
                          "--lr", "1e30")
    assert status == 2 and "smaller learning rate than 1e+30 (--lr)." in err


# -- files written before the run description (format 1) --------------------------------------------------

def as_format_1(path, training: dict, data: dict) -> None:
    """Rewrite a model file's header as format 1 had it: a front end's training record and a data record
    with how to load the data, no run description."""
    with np.load(path) as f:
        arrays = dict(f)
    header, _ = read_header(path)
    del header["run"]
    header.update(format_version=1, training=training, data=data)
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    np.savez(path, **arrays)


def test_a_format_1_file_loads_with_its_description(tmp_path):
    data = load_dataset("digits", n=300)
    model = build_model("784-12:relu-10", data, seed=7)
    path = save_model(model, tmp_path / "old.npz")
    as_format_1(path, {"epochs": 3, "batch_size": 20, "optimizer": "adam", "lr": 0.001, "l2": 0.0, "clip": 0.0,
                       "val_split": 0.1, "early_stop": 0, "seed": 7, "eval_train": True},
                dict(data.describe(), load="digits", options={"n": 300, "standardize": True}))
    loaded, header = load_model(path)
    assert header["format_version"] == 1 and np.array_equal(loaded.params, model.params)
    assert loaded.run == RunConfig(model=model.spec, activation="relu", loss="xent", seed=7, data="digits",
                                   limit=300, standardize=True, epochs=3, batch=20, optimizer="adam", lr=0.001,
                                   val_split=0.1)
    assert loaded.run.data_recipe() == {"name": "digits", "options": {"n": 300, "standardize": True}}


def test_a_format_1_checkpoint_resumes_like_an_uninterrupted_run(capsys, tmp_path):
    """A run of 1 epoch saved (with its checkpoint) in the old layout, resumed to 2, ends on the weights of a
    straight 2-epoch run: its training record and its data record are the run it continues."""
    old, resumed, straight = tmp_path / "old.npz", tmp_path / "resumed.npz", tmp_path / "straight.npz"
    flags = ["--limit", "300", "--model", "784-12-10", "--seed", "4", "--batch", "20"]
    train_json(capsys, *flags, "--epochs", "1", "--save", old)
    as_format_1(old, {"epochs": 1, "batch_size": 20, "optimizer": "sgd", "lr": 0.5, "seed": 4, "eval_train": True},
                {"name": "digits", "load": "digits", "options": {"n": 300}})
    resumed_run = train_json(capsys, "--resume", old, "--epochs", "2", "--save", resumed)
    train_json(capsys, *flags, "--epochs", "2", "--save", straight)
    assert resumed_run["run"]["limit"] == 300 and resumed_run["run"]["batch"] == 20
    assert np.array_equal(saved(resumed)[1], saved(straight)[1])


# -- a field added to the description ---------------------------------------------------------------------

def test_a_new_field_becomes_a_flag_and_a_recorded_field(capsys, tmp_path, monkeypatch):
    """The command's flags and the model file read RunConfig's fields when they run: a field added to the
    description (here by a subclass standing in for an edit of pynn/run.py) is a flag of `pynn train`, a
    field of --config files and --json, and is saved and read back with the model, with no edit of theirs."""
    extended = dataclasses.make_dataclass(
        "RunConfig", [("warmup", int, setting(0, "training", "epochs of warm-up", metavar="N"))],
        bases=(RunConfig,))
    monkeypatch.setattr(run_module, "RunConfig", extended)
    path = tmp_path / "m.npz"
    result = train_json(capsys, *SMALL, "--warmup", "3", "--save", path)
    assert result["run"]["warmup"] == 3
    assert read_header(path)[0]["run"]["warmup"] == 3 and load_model(path)[0].run.warmup == 3
    (tmp_path / "run.toml").write_text(SMALL_TOML + "warmup = 2\n")
    assert train_json(capsys, "--config", tmp_path / "run.toml")["run"]["warmup"] == 2
    assert train_json(capsys, "--config", path, "--epochs", "1")["run"]["warmup"] == 3
    status, _, err = pynn(capsys, "train", "--warmup", "soon")
    assert status == 2 and "--warmup" in err
    assert "epochs of warm-up" in pynn_help(capsys, "train")


def pynn_help(capsys, command: str) -> str:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    return capsys.readouterr().out
