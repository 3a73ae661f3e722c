"""What `pynn train` guards against: saving and resuming that lose nothing."""
import subprocess
import sys
import tempfile

import pytest

from pynn.files import load_model

XOR = ["--data", "xor", "--model", "2-8:tanh-2", "--optimizer", "adam", "--lr", "0.05", "--batch", "4"]


def pynn(*args):
    """The command as a user runs it, from a scratch folder."""
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True, timeout=600,
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
