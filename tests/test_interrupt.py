"""Ctrl-C during `pynn train` stops after the current batch, saves, exits 130; --resume then reaches exactly
the weights of an uninterrupted run with the same seed."""
import os
import signal
import subprocess
import sys
import tempfile

import numpy as np

from pynn.files import load_model

ARGS = ["--model", "784-20-10", "--batch", "10", "--seed", "3"]


def start(*args):
    return subprocess.Popen([sys.executable, "-m", "tui.cli", "train", *ARGS, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tempfile.gettempdir())


def test_ctrl_c_saves_a_checkpoint_and_resume_matches_an_uninterrupted_run(tmp_path):
    interrupted = tmp_path / "interrupted.npz"
    proc = start("--epochs", "50", "--save", str(interrupted))
    for line in proc.stdout:  # wait until training is really under way
        if line.startswith("epoch   1"):
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and interrupted.exists()
    _, header = load_model(interrupted)
    assert header["checkpoint"]["epoch"] >= 2  # stopped inside a later epoch, not at the start

    resumed = subprocess.run([sys.executable, "-m", "tui.cli", "train", "--resume", str(interrupted),
                              "--epochs", "3", "--save", str(interrupted)], capture_output=True, text=True,
                             cwd=tempfile.gettempdir())
    assert resumed.returncode == 0, resumed.stderr

    straight = tmp_path / "straight.npz"
    proc = start("--epochs", "3", "--save", str(straight))
    proc.communicate(timeout=300)
    assert proc.returncode == 0
    a, b = load_model(interrupted)[0], load_model(straight)[0]
    assert np.array_equal(a.params, b.params)


def test_resume_of_a_file_without_checkpoint_is_a_clear_error(tmp_path):
    from pynn.files import save_model
    from pynn.model import build_model

    path = save_model(build_model("784-30-10"), tmp_path / "bare.npz")
    proc = subprocess.run([sys.executable, "-m", "tui.cli", "train", "--resume", str(path)],
                          capture_output=True, text=True, cwd=tempfile.gettempdir())
    assert proc.returncode == 2 and "no training checkpoint" in proc.stderr
