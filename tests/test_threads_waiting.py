"""OpenMP's threads sleep while they wait, so a busy shared machine does not starve the thread they wait for."""
import os
import subprocess
import sys


def _policy(env: dict, folder) -> str:
    code = "import pynn.core, os; print(os.environ['OMP_WAIT_POLICY'])"
    # from a folder of its own: in the checkout, `python -c` would import the checkout's pynn, whose core exists
    # only in an editable install
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                          cwd=folder).stdout.strip()


def test_the_core_starts_openmp_with_sleeping_waits_unless_the_user_chose(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert _policy(env, tmp_path) == "PASSIVE"
    assert _policy({**env, "OMP_WAIT_POLICY": "ACTIVE"}, tmp_path) == "ACTIVE"
