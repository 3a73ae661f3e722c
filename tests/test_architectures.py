"""Architectures compared, not only widths (issue 20, section 2): a sweep over a model template with several
placeholders (784-{h}-{h2}-10) or a list of whole specs (dense against an LSTM reading the digits' rows) gives,
per architecture, the numbers of separate `pynn train` runs with the same settings and seeds; the rules of
thumb are marked only where one hidden layer's width varies; a template the sweep cannot fill is one sentence;
and `pynn compare` sets two architectures side by side."""
import numpy as np
import pytest

from pynn.errors import PynnError
from pynn.experiments.sweep import rules_apply, sweep_configs
from pynn_tui.cli import build_parser
from test_inspect_cli import pynn, pynn_json  # the commands, in this process

SMALL = ["--limit", "600", "--epochs", "2", "--lr", "1"]


def trained(capsys, model, seed):
    """A plain `pynn train` of the model with the sweep's settings."""
    return pynn_json(capsys, "train", "--model", model, *SMALL, "--seed", str(seed))


def test_a_two_placeholder_grid_gives_the_numbers_of_separate_train_runs(capsys):
    sweep = pynn_json(capsys, "sweep", "--model", "784-{h}-{h2}-10", "--h", "3,5", "--h2", "2,4", "--seeds", "1",
                      *SMALL)
    rows = sweep["sizes"]
    assert [(r["model"], r["hidden"], r["h2"]) for r in rows] == [
        ("784-3-2-10", 3, 2), ("784-3-4-10", 3, 4), ("784-5-2-10", 5, 2), ("784-5-4-10", 5, 4)]
    assert sweep["placeholders"] == {"h": [3, 5], "h2": [2, 4]} and sweep["rules_of_thumb"] == {}
    for row in rows:
        plain = trained(capsys, row["model"], 0)
        assert (row["test_accuracy_mean"], row["n_params"]) == (plain["test_accuracy"], plain["n_params"])
    assert len({r["test_accuracy_mean"] for r in rows}) > 1   # four networks, not one four times


def test_a_list_of_models_dense_and_lstm_gives_the_mean_and_spread_of_train_runs(capsys):
    models = ["784-25-15-10", "784-100-10", "28x28-lstm32-10"]
    args = ["sweep", "--model", ",".join(models), "--seeds", "2", *SMALL]
    sweep = pynn_json(capsys, *args)
    assert sweep["grid"] == {"model": models} and [r["model"] for r in sweep["sizes"]] == models
    for row in sweep["sizes"]:
        plain = [trained(capsys, row["model"], seed) for seed in (0, 1)]
        accuracy = np.array([p["test_accuracy"] for p in plain])
        assert (row["test_accuracy_mean"], row["test_accuracy_std"]) == (accuracy.mean(), accuracy.std())
        assert row["n_params"] == plain[0]["n_params"] and row["runs"] == 2 and row["seconds_mean"] > 0
    assert [r["n_params"] for r in sweep["sizes"]] == [784 * 25 + 25 + 25 * 15 + 15 + 15 * 10 + 10,
                                                       784 * 100 + 100 + 100 * 10 + 10,
                                                       4 * 32 * (28 + 32 + 1) + 32 * 10 + 10]
    status, out, err = pynn(capsys, *args)
    assert status == 0, err
    table = out.split("test accuracy by architecture")[1]
    assert all(f"│ {model} " in table for model in models)                   # rows named by architecture
    assert "parameters (log scale)" in out and "● 784-25-15-10: test accuracy" in out
    assert "┊a" not in out                                  # no rule of thumb sizes these


def test_the_rules_of_thumb_are_marked_where_one_hidden_layer_varies(capsys):
    def configs(model, **sizes):
        return sweep_configs([2], 1, data="digits", model=model, sizes=sizes)

    assert rules_apply(configs("784-{h}-10")) and rules_apply(configs(["784-{h}-10", "784-{h}:relu-drop0.5-10"]))
    assert not rules_apply(configs("784-{h}-{h}-10")) and not rules_apply(configs("28x28-lstm{h}-10"))
    assert not rules_apply(configs(["784-{h}-10", "784-100-10"])) and not rules_apply(configs("784-{h}-{h2}-10",
                                                                                              h2=[3]))
    out = pynn(capsys, "sweep", "--model", "784-{h}-10,784-{h}:relu-10", "--h", "2,4", "--seeds", "1", *SMALL)[1]
    assert "test accuracy by hidden-layer size" in out and "┊a √n_in = 28" in out
    assert "test accuracy: 784-{h}:relu-10: mean over seeds" in out


def test_placeholders_cross_in_order_and_only_where_held():
    configs = sweep_configs([4, 6], 1, data="digits", model=["784-{h2}-{h}-10", "28x28-lstm{h}-10", "784-30-10"],
                            sizes={"h2": [8]}, epochs=1)
    assert [c["model"] for c in configs] == ["784-8-4-10", "784-8-6-10", "28x28-lstm4-10", "28x28-lstm6-10",
                                             "784-30-10"]
    assert [(c["hidden"], c.get("h2")) for c in configs] == [(4, 8), (6, 8), (4, None), (6, None), (None, None)]
    with pytest.raises(PynnError, match=r"give them once"):
        sweep_configs([4], 1, model="784-{h}-10", sizes={"h": [5]})


@pytest.mark.parametrize("extra,fragment", [
    (["--model", "784-{width}-10"], "The model template '784-{width}-10' holds {width}, which a sweep does not fill"),
    (["--model", "784-{h}-{h2}-10", "--h", "3"], "--h2 needs sizes: the model template '784-{h}-{h2}-10' holds {h2}"),
    (["--model", "784-{h}-10", "--h2", "3"], "--model must hold {h2} where a sweep puts each size given for {h2}"),
    (["--model", "784-100-10,28x28-lstm32-10", "--hidden", "3"], "none of '784-100-10', '28x28-lstm32-10' has one"),
    (["--model", "784-{h}-{h2}-10", "--h2", "0"], "--h2 takes sizes of at least 1, not 0"),
    (["--model", "784-100-10,784-lstmx-10"], "Cannot read 'lstmx' in model spec '784-lstmx-10'"),
    (["--model", "784-100-10,28x28-lstm32-2"], "The output layer has 2 units but the data has 10 classes"),
])
def test_a_bad_template_is_one_sentence_and_exit_2(capsys, extra, fragment):
    status, out, err = pynn(capsys, "sweep", "--seeds", "1", *SMALL, *extra)
    assert status == 2 and fragment in err and len(err.strip().splitlines()) == 1
    assert "sweep on" not in out                                        # refused before anything trains


def test_compare_sets_two_architectures_side_by_side(capsys):
    args = ["compare", "--a", "model=784-25-15-10", "--b", "model=784-100-10", *SMALL]
    result = pynn_json(capsys, *args)
    a, b = result["runs"]
    assert result["same_architecture"] is False and result["first_layer_maps"] is None
    for run, model in ((a, "784-25-15-10"), (b, "784-100-10")):
        plain = trained(capsys, model, 0)
        assert (run["spec"], run["n_params"], run["test_accuracy"]) == (model, plain["n_params"],
                                                                         plain["test_accuracy"])
        assert run["seconds"] > 0
    status, out, err = pynn(capsys, *args)
    assert status == 0, err
    assert "a = 784-25-15-10 and b = 784-100-10" in out and "20,175" in out and "79,510" in out
    assert "are different architectures, so no neuron of one is a neuron of the other" in out
    assert "first-layer weight maps" not in out


def test_compare_sets_dense_against_an_lstm_on_the_digits_and_lstms_against_each_other(capsys):
    result = pynn_json(capsys, "compare", "--a", "model=784-30-10", "--b", "model=28x28-lstm16-10", *SMALL)
    assert [r["spec"] for r in result["runs"]] == ["784-30-10", "28x28-lstm16-10"]
    # the same LSTM twice: its first layer has no input maps, its dense head's weights still compare
    status, out, err = pynn(capsys, "compare", "--model", "28x28-lstm8-10", "--a", "init=normal", "--b", "l2=5",
                            *SMALL)
    assert status == 0, err
    assert "is not a dense layer reading the input" in out and "weights per layer" in out


def test_sweep_takes_every_flag_of_train():
    commands = build_parser()._subparsers._group_actions[0].choices

    def flags(name):
        return {s for action in commands[name]._actions for s in action.option_strings}

    # --from, like --resume, continues one model's training: a sweep builds a model per size
    missing = flags("train") - flags("sweep") - {"--seed", "--config", "--save", "--checkpoint-every", "--resume",
                                                 "--from"}
    assert not missing and {"--loss", "--h", "--hidden", "--h2"} <= flags("sweep")
