"""What `pynn train` guards against: saving and resuming that lose nothing, and a run that goes wrong while
its loss stays finite (an exploding loss stops it like a NaN; accuracy stuck at chance gets a warning)."""
import json
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from pynn.data import load_dataset
from pynn.errors import TrainingDiverged
from pynn.files import load_model
from pynn.fused import fused_step
from pynn.model import build_model
from pynn.optim import Optimizer
from pynn.run import RunConfig
from pynn.train import BatchEnd, EpochEnd, Trainer

XOR = ["--data", "xor", "--model", "2-8:tanh-2", "--optimizer", "adam", "--lr", "0.05", "--batch", "4"]


def pynn(*args):
    """The command as a user runs it, from a scratch folder."""
    return subprocess.run([sys.executable, "-m", "pynn_tui.cli", *args], capture_output=True, text=True, timeout=600,
                          cwd=tempfile.gettempdir())


@pytest.fixture
def saved(tmp_path):
    """A run of 2 epochs saved with its checkpoint: (path, its bytes)."""
    path = tmp_path / "run.npz"
    proc = pynn("train", *XOR, "--epochs", "2", "--save", str(path))
    assert proc.returncode == 0, proc.stderr
    return path, path.read_bytes()


# -- saving and resuming -------------------------------------------------------------------------------------

def test_resuming_without_save_leaves_the_file_as_it_is_and_says_so(saved):
    path, before = saved
    proc = pynn("train", "--resume", str(path), "--epochs", "4")
    assert proc.returncode == 0, proc.stderr
    assert path.read_bytes() == before
    assert f"{path} stays as it is and this run will not be saved" in proc.stderr
    assert f"--save {path} continues the run in place" in proc.stderr
    assert "saved" not in proc.stdout


def test_resuming_writes_where_save_says(saved, tmp_path):
    path, before = saved
    elsewhere = tmp_path / "more.npz"
    proc = pynn("train", "--resume", str(path), "--epochs", "4", "--save", str(elsewhere))
    assert proc.returncode == 0, proc.stderr
    assert path.read_bytes() == before and "stays as it is" not in proc.stderr
    assert [h["epoch"] for h in load_model(elsewhere)[1]["history"]] == [1, 2, 3, 4]
    proc = pynn("train", "--resume", str(path), "--epochs", "3", "--save", str(path))  # in place, when asked
    assert proc.returncode == 0, proc.stderr
    assert len(load_model(path)[1]["history"]) == 3


@pytest.mark.parametrize("epochs,fragment", [
    (["--epochs", "1"], "has already trained 2 epochs, and --epochs 1 asks for no more"),
    (["--epochs", "2"], "has already trained 2 epochs, and --epochs 2 asks for no more"),
    ([], "has already trained 2 epochs, and its run asked for 2"),
])
def test_resuming_a_run_already_past_the_epochs_asked_changes_nothing(saved, epochs, fragment):
    path, before = saved
    stamp = path.stat().st_mtime_ns
    proc = pynn("train", "--resume", str(path), *epochs, "--save", str(path))
    assert proc.returncode == 2
    assert fragment in proc.stderr and "nothing was trained or saved" in proc.stderr
    assert "--epochs above 2" in proc.stderr and "Traceback" not in proc.stderr
    assert path.read_bytes() == before and path.stat().st_mtime_ns == stamp
    assert "epoch" not in proc.stdout  # refused before training


def test_resuming_says_nothing_about_a_softmax_the_user_never_wrote(saved):
    path, _ = saved
    proc = pynn("train", "--resume", str(path), "--epochs", "3")
    assert proc.returncode == 0, proc.stderr
    assert "softmax" not in proc.stderr


def test_save_into_a_missing_folder_is_refused_before_training(tmp_path):
    proc = pynn("train", *XOR, "--epochs", "2", "--save", str(tmp_path / "no" / "run.npz"))
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr and "Traceback" not in proc.stderr
    assert "epoch" not in proc.stdout and "training" not in proc.stdout


# -- a loss that explodes, a network that does not learn ---------------------------------------------------

@pytest.fixture(scope="module")
def digits_part():
    data = load_dataset("digits")
    return data.x_train[:2000], data.y_train[:2000]


@pytest.mark.parametrize("spec", ["784-30-10", "784-30-drop0.1-10"], ids=["fused path", "general path"])
def test_an_exploding_loss_stops_the_run_and_keeps_the_last_good_weights(digits_part, spec):
    """lr 1e9 keeps the loss finite (3e9) but useless: like a NaN it stops the run, with the weights from
    before the step that made it explode (those the last acceptable loss was measured on)."""
    x, y = digits_part
    model = build_model(spec, seed=0, n_outputs=10)
    assert (fused_step(model, Optimizer("sgd", 1.0), x, y, model.params.copy(), max_batch=10, decay=0, clip=0)
            is None) == ("drop" in spec)
    snapshots = [model.snapshot()]  # the weights each batch starts from

    def on_event(event):
        if isinstance(event, BatchEnd):
            snapshots.append(model.snapshot())
    trainer = Trainer(model, RunConfig(epochs=3, batch=10, optimizer="sgd", lr=1e9), on_event)
    with pytest.raises(TrainingDiverged, match=r"exploded to .*over 100 times the untrained network's .*"
                                               r"smaller learning rate than 1e\+09"):
        trainer.fit(x, y)
    # the batch that exploded never ended; the one before it is where the last acceptable loss came from
    assert np.array_equal(model.params, snapshots[-2])
    assert trainer.history == []


def test_one_bad_batch_is_not_an_explosion():
    """The loss is smoothed over batches: one batch at 400 times the start (an outlier) does not stop a run;
    only a loss that stays high does."""
    x = np.zeros((400, 1), np.float32)
    y = np.ones((400, 1), np.float32)
    y[300] = 20.0  # 0.5 * 20^2 = 200, against 0.5 for every other sample at the start
    model = build_model("1x1-1", loss="mse", task="regression", n_outputs=1)
    model.params[...] = 0.0
    losses = []
    trainer = Trainer(model, RunConfig(epochs=1, batch=1, optimizer="sgd", lr=1e-6),
                      lambda e: losses.append(e.loss) if isinstance(e, BatchEnd) else None)
    trainer.fit(x, y)
    assert len(trainer.history) == 1 and max(losses) > 100 * 0.5


def test_a_run_stuck_at_chance_gets_a_warning_naming_a_smaller_learning_rate(digits_part):
    x, y = digits_part
    model = build_model("784-30-10", seed=0, n_outputs=10)
    raised = []
    trainer = Trainer(model, RunConfig(epochs=2, batch=10, optimizer="sgd", lr=30.0),
                      lambda e: raised.append(e.warnings) if isinstance(e, EpochEnd) else None)
    trainer.fit(x, y)
    # which epoch first looks stuck depends on float32 rounding at this wild rate (each ISA's kernels round
    # differently); what holds on every one: it is said once, at the epoch it was seen, and at no other
    said = [i for i, warnings in enumerate(raised) if warnings]
    assert len(trainer.warnings) == 1 and len(said) == 1 and raised[said[0]] == trainer.warnings
    warning = trainer.warnings[0]
    assert warning.startswith(f"The network is not learning: after epoch {said[0] + 1}")
    assert "most common class" in warning and "smaller learning rate than 30" in warning


@pytest.mark.parametrize("lr", [0.5, 1e-6], ids=["learning", "creeping"])
def test_a_run_whose_loss_falls_gets_no_warning(digits_part, lr):
    """A healthy run, and one whose steps are too small to lift accuracy yet but whose loss falls: a
    smaller learning rate would be the wrong advice."""
    x, y = digits_part
    trainer = Trainer(build_model("784-30-10", seed=0, n_outputs=10),
                      RunConfig(epochs=1, batch=10, optimizer="sgd", lr=lr))
    trainer.fit(x, y)
    assert trainer.warnings == []


def test_the_command_reports_both_on_the_terminal_and_in_json():
    proc = pynn("train", "--lr", "1e9", "--json")
    assert proc.returncode == 2
    assert "exploded" in proc.stderr and "smaller learning rate than 1e+09" in proc.stderr
    result = json.loads(proc.stdout)
    assert result["stopped"] == "diverged" and "exploded" in result["warnings"][-1]

    proc = pynn("train", "--lr", "30", "--epochs", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "warning: The network is not learning" in proc.stderr
    result = json.loads(proc.stdout)
    assert len(result["warnings"]) == 1 and "smaller learning rate than 30" in result["warnings"][0]
    assert json.loads(pynn("train", "--epochs", "1", "--json").stdout)["warnings"] == []
