"""Sweeps and comparisons speak the run description: a sweep is a RunConfig plus the fields it varies, a
comparison a RunConfig plus two sets of field changes. A sweep's run gives the numbers of a plain training with
the same settings; every training flag of `pynn train` works on `pynn sweep` and `pynn compare`; and a field
added to RunConfig reaches both, their grids and their flags without touching them."""
import dataclasses
import json

import numpy as np
import pytest

import pynn.experiments.training
import pynn.run
from pynn.data import load_dataset
from pynn.errors import PynnError
from pynn.experiments.compare import parse_variant, train_variant, variant_config
from pynn.experiments.sweep import describe_config, sweep_configs, train_one
from pynn.experiments.workers import SerialExecutor
from pynn.model import build_model
from pynn.run import RunConfig
from pynn.train import Trainer
import pynn_tui.commands.sweep
from pynn_tui.cli import main


def pynn_json(capsys, *args):
    status = main([*args, "--json"])
    out, err = capsys.readouterr()
    assert status == 0, err
    return json.loads(out)


def numbers(results):
    """Everything but the time a run took, which no two runs share."""
    return [{k: v for k, v in r.items() if k != "seconds"} for r in results]


# -- a sweep is a description plus the fields it varies -------------------------------------------------------

def test_a_sweep_run_gives_the_numbers_of_a_plain_training_with_the_same_settings():
    configs = sweep_configs([3], 2, data="digits", limit=600, epochs=2, init="normal", l2=1.0, lr=0.3,
                            activation="tanh")
    config = configs[1]
    assert (config["model"], config["seed"], config["hidden"]) == ("3-10", 1, 3)
    result = train_one(config)
    # the same run written out by hand, without the sweep or the description building anything
    data = load_dataset("digits", n=600)
    model = build_model("3-10", data, init="normal", seed=1, hidden_activation="tanh")
    Trainer(model, RunConfig(epochs=2, lr=0.3, l2=1.0, seed=1)).fit(data.x_train, data.y_train)
    test = model.evaluate(data.x_test, data.y_test)
    assert result["n_params"] == model.n_params
    assert (result["test_loss"], result["test_accuracy"]) == (test["loss"], test["accuracy"])
    assert result["test_loss"] != train_one(configs[0])["test_loss"]   # seed 0 is another network


def test_the_hidden_size_goes_where_the_model_template_says():
    assert [c["model"] for c in sweep_configs([4, 7], 1, data="xor", model="2-{h}-{h}:relu-2")] == \
        ["2-4-4:relu-2", "2-7-7:relu-2"]
    assert [c["model"] for c in sweep_configs([4], 1, data="xor")] == ["4-2"]   # one hidden layer, the data's outputs
    with pytest.raises(PynnError, match=r"model must hold \{h\}"):
        sweep_configs([4], 1, data="xor", model="2-8-2")


def test_any_field_is_a_grid_axis_and_only_a_list_varies_it():
    base = RunConfig(data="xor", epochs=1, batch=4)
    configs = sweep_configs([2], 2, base, optimizer=["sgd", "adam"], loss="mse", l2=[0, 0.0])
    assert [(c["optimizer"], c["seed"]) for c in configs] == [("sgd", 0), ("sgd", 1), ("adam", 0), ("adam", 1)]
    assert all(c["varies"] == ["optimizer"] and c["loss"] == "mse" and c["batch"] == 4 for c in configs)
    assert describe_config(configs[3]) == "hidden 2, seed 1, optimizer adam"
    results = [train_one(c) for c in configs]
    assert [r["optimizer"] for r in results] == ["sgd", "sgd", "adam", "adam"]


def test_sweep_and_compare_take_every_training_flag(capsys):
    sweep = ["sweep", "--hidden", "2", "--seeds", "1", "--epochs", "1", "--limit", "300"]
    result = pynn_json(capsys, *sweep, "--loss", "mse", "--optimizer", "momentum")
    assert result["run"]["loss"] == "mse" and result["run"]["optimizer"] == "momentum" and result["grid"] == {}
    expected = [train_one(c) for c in sweep_configs([2], 1, data="digits", limit=300, epochs=1, loss="mse",
                                                     optimizer="momentum")]
    assert numbers(result["runs"]) == numbers(expected)
    grid = pynn_json(capsys, *sweep, "--loss", "mse,xent", "--optimizer", "momentum")
    assert grid["grid"] == {"loss": ["mse", "xent"]} and [r["loss"] for r in grid["runs"]] == ["mse", "xent"]
    assert numbers(grid["runs"][:1]) == numbers([{**expected[0], "loss": "mse"}])   # varied or set, one run

    compare = pynn_json(capsys, "compare", "--a", "init=normal", "--b", "optimizer=sgd", "--optimizer", "adam",
                        "--epochs", "1", "--limit", "300", "--seed", "4")
    a, b = compare["runs"]
    assert compare["run"]["optimizer"] == "adam" and compare["seed"] == 4
    assert (a["lr"], b["lr"]) == (0.001, 0.5)   # each optimizer's own default rate: the description's


# -- a new field of the description ---------------------------------------------------------------------------

@pytest.fixture
def warmup_field(monkeypatch):
    """RunConfig with one more training field, as a future option would add it; and the Trainer recording the
    value each run hands it."""
    extended = dataclasses.make_dataclass(
        "RunConfig", [("warmup", "int", pynn.run.setting(0, "training", "epochs of warm-up"))],
        bases=(RunConfig,))
    monkeypatch.setattr(pynn.run, "RunConfig", extended)
    seen = []

    class RecordingTrainer(Trainer):
        def __init__(self, model, config, *args, **kwargs):
            seen.append(config.warmup)
            super().__init__(model, config, *args, **kwargs)

    monkeypatch.setattr(pynn.experiments.training, "Trainer", RecordingTrainer)
    return extended, seen


def test_a_new_field_reaches_sweeps_and_comparisons_without_touching_them(warmup_field, capsys, monkeypatch):
    extended, seen = warmup_field
    base = extended(data="xor", epochs=1)
    configs = sweep_configs([2], 1, base, warmup=[1, 2])
    assert [c["warmup"] for c in configs] == [1, 2] and configs[0]["varies"] == ["warmup"]
    assert [r["warmup"] for r in map(train_one, configs)] == [1, 2] and seen == [1, 2]

    settings = parse_variant("warmup=3, l2=5")
    assert settings == {"warmup": 3, "l2": 5.0}
    a = train_variant(variant_config("a", {}, extended(data="xor", epochs=1, warmup=1)))
    b = train_variant(variant_config("b", settings, extended(data="xor", epochs=1, warmup=1)))
    assert seen[2:] == [1, 3] and (a["settings"], b["settings"]) == ({}, settings)

    # the commands: runs in this process, where the new field exists (a spawned worker imports pynn afresh)
    monkeypatch.setattr(pynn_tui.commands.sweep, "ProcessExecutor", lambda jobs: SerialExecutor())
    seen.clear()
    result = pynn_json(capsys, "sweep", "--data", "xor", "--hidden", "2", "--seeds", "1", "--epochs", "1",
                       "--warmup", "4,5")
    assert result["grid"] == {"warmup": [4, 5]} and [r["warmup"] for r in result["runs"]] == [4, 5] == seen
    result = pynn_json(capsys, "compare", "--data", "xor", "--a", "l2=1", "--b", "warmup=7", "--warmup", "6",
                       "--epochs", "1")
    assert result["run"]["warmup"] == 6 and [r["settings"] for r in result["runs"]] == [{"l2": 1.0}, {"warmup": 7}]
    assert seen[2:] == [6, 7]


def test_a_variant_cannot_set_the_shared_seed():
    for attempt in (lambda: parse_variant("l2=5,seed=3"), lambda: variant_config("a", {"seed": 3})):
        with pytest.raises(PynnError, match="^A variant cannot set the seed: both runs share it"):
            attempt()
