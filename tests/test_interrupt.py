"""Ctrl-C during `pynn train` stops after the current batch, saves, exits 130; --resume then reaches exactly
the weights of an uninterrupted run with the same seed.

The interrupted run is asked for more epochs than it could ever finish, and the signal is sent once it has
printed its first epoch, so it always lands mid-run however fast or loaded the machine; the resumed and the
straight runs then go one epoch past wherever it stopped."""
import signal
import subprocess
import sys
import tempfile

import numpy as np

from pynn.files import load_model

ARGS = ["--model", "784-20-10", "--batch", "10", "--seed", "3"]
ENDLESS = "100000"   # epochs: the run is still going whenever the signal arrives
PATIENCE_S = 300     # a safety net for each command; none of them takes more than seconds on an idle machine


def train(*args):
    return subprocess.Popen([sys.executable, "-m", "pynn_tui.cli", "train", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tempfile.gettempdir())


def finish(proc) -> tuple[int, str]:
    """The command's exit status and standard error, once it has ended."""
    _, err = proc.communicate(timeout=PATIENCE_S)
    return proc.returncode, err


def test_ctrl_c_saves_a_checkpoint_and_resume_matches_an_uninterrupted_run(tmp_path):
    interrupted = tmp_path / "interrupted.npz"
    proc = train(*ARGS, "--epochs", ENDLESS, "--save", str(interrupted))
    for line in proc.stdout:  # the per-epoch line: training is really under way, Ctrl-C handling in place
        if line.startswith("epoch   1"):
            break
    else:
        raise AssertionError(f"the run ended before its first epoch: {finish(proc)}")
    proc.send_signal(signal.SIGINT)
    status, err = finish(proc)
    assert status == 130, err
    assert "Traceback" not in err and interrupted.exists()
    _, header = load_model(interrupted)
    stopped_in = header["checkpoint"]["epoch"]
    assert stopped_in >= 2  # stopped inside a later epoch (or at its start), not at the very beginning
    assert len(header["history"]) == stopped_in - 1  # the epochs it finished, and no partial one

    epochs = str(stopped_in + 1)  # past where it stopped, so the resumed run trains at least one epoch
    resumed, straight = tmp_path / "resumed.npz", tmp_path / "straight.npz"
    status, err = finish(train("--resume", str(interrupted), "--epochs", epochs, "--save", str(resumed)))
    assert status == 0, err
    status, err = finish(train(*ARGS, "--epochs", epochs, "--save", str(straight)))
    assert status == 0, err
    a, b = load_model(resumed)[0], load_model(straight)[0]
    assert np.array_equal(a.params, b.params)


def test_resume_of_a_file_without_checkpoint_is_a_clear_error(tmp_path):
    from pynn.files import save_model
    from pynn.model import build_model

    path = save_model(build_model("784-30-10"), tmp_path / "bare.npz")
    proc = subprocess.run([sys.executable, "-m", "pynn_tui.cli", "train", "--resume", str(path)],
                          capture_output=True, text=True, cwd=tempfile.gettempdir())
    assert proc.returncode == 2 and "no training checkpoint" in proc.stderr
