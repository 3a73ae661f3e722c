"""Run from a checkout whose C core was never built (`pip install '.[test]'` builds it into the installed package
only), `python -m pytest` and the benchmark scripts use the installed pynn, not the checkout's."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pynn
import pynn_tui

CHECKOUT = Path(__file__).resolve().parent.parent
INSTALLED = Path(pynn.__file__).resolve().parent  # the pynn this run imported, with its compiled core
FRONT_END = Path(pynn_tui.__file__).resolve().parent  # the front end it imported (installed as pynn_tui)
SOURCE_ONLY = shutil.ignore_patterns("_core*", "__pycache__")

WHICH_PYNN = """
from pathlib import Path

import numpy as np

import pynn
from pynn import core

def test_the_installed_pynn_is_imported():
    assert Path(pynn.__file__).parent.parent.name == "site"
    assert core.sgemm(np.eye(2, dtype=np.float32), np.ones((2, 2), np.float32)).sum() == 4
"""


@pytest.fixture
def clone_and_site(tmp_path):
    """(a copy of the checkout without a built core, a folder holding an installed pynn and pynn_tui)."""
    site = tmp_path / "site"
    shutil.copytree(INSTALLED, site / "pynn", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(FRONT_END, site / "pynn_tui", ignore=SOURCE_ONLY)
    clone = tmp_path / "clone"
    for folder in ("pynn", "tui", "bench"):
        shutil.copytree(CHECKOUT / folder, clone / folder, ignore=SOURCE_ONLY)
    for name in ("conftest.py", "pyproject.toml", "tests/conftest.py"):
        (clone / name).parent.mkdir(exist_ok=True)
        shutil.copy(CHECKOUT / name, clone / name)
    (clone / "tests" / "test_which_pynn.py").write_text(WHICH_PYNN)
    return clone, site


def run_in(clone: Path, site: Path, *args: str, **env_vars: str) -> subprocess.CompletedProcess:
    # PYTHONPATH stands in for site-packages: like it, it comes after the folder `python -m` or a script's
    # own folder puts first on sys.path
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONSAFEPATH", "PYTEST_ADDOPTS")}
    env.update(env_vars, PYTHONPATH=str(site))
    return subprocess.run([sys.executable, *args], cwd=clone, env=env, capture_output=True, text=True, timeout=300)


def test_python_m_pytest_in_the_checkout_tests_the_installed_pynn(clone_and_site):
    clone, site = clone_and_site
    done = run_in(clone, site, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_which_pynn.py")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout


def test_the_benchmark_runs_the_installed_pynn(clone_and_site):
    clone, site = clone_and_site
    done = run_in(clone, site, "bench/run.py", "--worker", "W6", "pynn", "--reps", "1", "--quick",
                  PYNN_BENCH_THREADS="1", OMP_NUM_THREADS="1")
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == "ok", result
    assert Path(result["pynn_core"]).parent == site / "pynn"
