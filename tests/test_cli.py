"""The `pynn` command end to end, through a real subprocess: exit codes, plain and JSON output, errors."""
import json
import os
import subprocess
import sys
import tempfile

import pytest


def pynn(*args, env=None, check=True, cwd=None):
    """Run the installed command; from a scratch folder so the source tree cannot shadow the installed package."""
    run_env = dict(os.environ, **(env or {}))
    proc = subprocess.run([sys.executable, "-m", "pynn_tui.cli", *args], capture_output=True, text=True,
                          env=run_env, timeout=600, cwd=cwd or tempfile.gettempdir())
    if check and proc.returncode != 0:
        raise AssertionError(f"pynn {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def test_no_arguments_prints_help():
    assert "train" in pynn().stdout


def test_train_saves_and_eval_reads_back(tmp_path):
    path = tmp_path / "digits.npz"
    proc = pynn("train", "--epochs", "2", "--save", str(path))
    lines = proc.stdout.strip().splitlines()
    assert any(l.startswith("epoch   1") for l in lines) and any(l.startswith("epoch   2") for l in lines)
    assert "test accuracy" in lines[-2] and path.exists()
    result = json.loads(pynn("eval", str(path), "--json").stdout)
    assert result["test_accuracy"] > 0.85 and result["n_test"] == 2000
    assert sum(map(sum, result["confusion"])) == 2000


def test_train_json_prints_only_json():
    result = json.loads(pynn("train", "--data", "xor", "--model", "2-8:tanh-2", "--optimizer", "adam",
                             "--lr", "0.03", "--epochs", "100", "--json").stdout)
    assert result["test_accuracy"] >= 0.97 and len(result["history"]) == 100


def test_summary_shows_shapes_and_arithmetic():
    out = pynn("summary", "784-30-10").stdout
    assert "(30, 784)" in out and "30·784 + 30 = 23,550" in out and "23,860" in out
    data = json.loads(pynn("summary", "784-30-10", "--json").stdout)
    assert data["total_params"] == 23860 and data["layers"][0]["params"]["W"] == [30, 784]


@pytest.mark.parametrize("args,fragment", [
    (["train", "--data", "xor", "--model", "784-30-2"], "Layer 1 expects 784 features per sample; the data has 2"),
    (["train", "--model", "784-3x-10"], "Cannot read '3x'"),
    (["train", "--data", "no-such-data"], "no-such-data"),
    (["train", "--epochs", "0"], "--epochs"),
    (["eval", "missing.npz"], "No model file"),
    (["train", "--optimizer", "rmsprop"], "rmsprop"),
])
def test_user_errors_are_one_sentence_and_exit_2(args, fragment):
    proc = pynn(*args, check=False)
    assert proc.returncode == 2
    assert fragment in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_softmax_fold_is_reported_on_stderr():
    proc = pynn("train", "--data", "xor", "--model", "2-4-2:softmax", "--epochs", "1")
    assert "applied once" in proc.stderr
