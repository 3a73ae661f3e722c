"""Every instruction-set build of the core (portable, AVX2, AVX-512) that this machine runs: PYNN_ISA forces
it, its kernels agree with the float64 reference and with each other to float32 rounding, and the kernel
tests pass under it. Each ISA runs in a process of its own, since a process loads one build."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pynn import core, reference as ref

HERE = Path(__file__).resolve().parent
ISAS = core.available_isas()
# The kernel tests the default build already passes in this run; here they run under every other build.
KERNEL_TESTS = ["test_kernels.py", "test_lstm_kernels.py", "test_fast_paths.py"]

# What each build computes, written as JSON lists: awkward sizes that cross the tiles of every build (12 x 32
# and 6 x 16), both transposes, the dot path, the LSTM forward and backward, the vector squashes' tails, Adam.
KERNEL_OUTPUTS = r"""
import json, sys
import numpy as np
from pynn import core
rng = np.random.default_rng(7)
a, b = rng.standard_normal((37, 301), np.float32), rng.standard_normal((301, 45), np.float32)
x = rng.standard_normal((5, 7, 3), np.float32)
Wx, Wh = 0.5 * rng.standard_normal((4 * 19, 3), np.float32), 0.5 * rng.standard_normal((4 * 19, 19), np.float32)
bias = 0.1 * rng.standard_normal(4 * 19, np.float32)
h, c, gates = core.lstm_forward(x, Wx, Wh, bias)
dh = rng.standard_normal(h.shape, np.float32)
dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(bias)
dx = core.lstm_backward(dh, x, h, c, gates, Wx, Wh, dWx, dWh, db)
z = 6 * rng.standard_normal(203, np.float32)
p, g = rng.standard_normal(1001, np.float32), rng.standard_normal(1001, np.float32)
m, v = np.zeros_like(p), np.zeros_like(p)
core.adam_update(p, g, m, v, lr=1e-2, t=1)
out = {"isa": core.ISA,
       "ab": core.sgemm(a, b), "ab_tt": core.sgemm(b, a, trans_a=True, trans_b=True),
       "dot": core.sgemm(a[:9], b.T.copy(), trans_b=True),
       "h": h, "c": c, "dx": dx, "dWx": dWx, "dWh": dWh, "db": db,
       "sigmoid": core.activate(z, "sigmoid"), "tanh": core.activate(z, "tanh"), "adam": p}
print(json.dumps({k: (val.tolist() if isinstance(val, np.ndarray) else val) for k, val in out.items()}))
"""


def _run(code_or_args: list[str], isa: str, folder) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYNN_ISA=isa, PYTHONPATH=os.pathsep.join(sys.path))
    # from a folder of its own, so `python -c` imports the pynn this test imported, not a bare checkout's
    return subprocess.run([sys.executable, *code_or_args], env=env, capture_output=True, text=True, cwd=folder)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("isa")
    found = {}
    for isa in ISAS:
        proc = _run(["-c", KERNEL_OUTPUTS], isa, folder)
        assert proc.returncode == 0, proc.stderr
        found[isa] = {k: np.asarray(v) if isinstance(v, list) else v
                      for k, v in json.loads(proc.stdout.splitlines()[-1]).items()}
    return found


def _expected():
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((37, 301), np.float32), rng.standard_normal((301, 45), np.float32)
    x = rng.standard_normal((5, 7, 3), np.float32)
    Wx, Wh = 0.5 * rng.standard_normal((4 * 19, 3), np.float32), 0.5 * rng.standard_normal((4 * 19, 19), np.float32)
    bias = 0.1 * rng.standard_normal(4 * 19, np.float32)
    h, c, _ = ref.lstm_forward(x, Wx, Wh, bias)
    dh = rng.standard_normal(h.shape, np.float32)
    dx, dWx, dWh, db = ref.lstm_backward(dh, x, Wx, Wh, bias)
    z = 6 * rng.standard_normal(203, np.float32)
    p, g = rng.standard_normal(1001, np.float32), rng.standard_normal(1001, np.float32)
    ref_p, _, _ = ref.adam_update(p, g, np.zeros(p.shape), np.zeros(p.shape), lr=1e-2, t=1)
    return {"ab": ref.sgemm(a, b), "ab_tt": ref.sgemm(b, a, trans_a=True, trans_b=True),
            "dot": ref.sgemm(a[:9], b.T, trans_b=True), "h": h, "c": c, "dx": dx, "dWx": dWx, "dWh": dWh,
            "db": db, "sigmoid": ref.activate(z, "sigmoid"), "tanh": ref.activate(z, "tanh"), "adam": ref_p}


def test_the_machine_runs_the_portable_build_and_the_widest_is_chosen_by_default():
    assert ISAS[0] == "generic"
    assert core.ISA == (os.environ.get("PYNN_ISA") or ISAS[-1])


@pytest.mark.parametrize("isa", ISAS)
def test_pynn_isa_forces_the_build(outputs, isa):
    assert outputs[isa]["isa"] == isa


@pytest.mark.parametrize("isa", ISAS)
def test_every_build_agrees_with_the_float64_reference(outputs, isa):
    for name, want in _expected().items():
        got = outputs[isa][name]
        assert got.shape == np.shape(want), name
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4 * max(1.0, np.abs(want).max()), err_msg=name)


def test_the_builds_agree_with_each_other_to_float32_rounding(outputs):
    first, *others = ISAS
    for isa in others:
        for name, got in outputs[isa].items():
            if name != "isa":
                base = outputs[first][name]
                np.testing.assert_allclose(got, base, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(base).max()),
                                           err_msg=f"{name}: {isa} against {first}")


def test_an_unknown_isa_is_one_sentence(tmp_path):
    proc = _run(["-c", "import pynn.core"], "sse9", tmp_path)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].endswith(
        "PynnError: PYNN_ISA=sse9 is not one of generic, avx2, avx512")


@pytest.mark.parametrize("isa", [isa for isa in ISAS if isa != core.ISA])
def test_the_kernel_tests_pass_under(isa, tmp_path):
    """The default build runs these files in the suite itself; here every other build the machine has."""
    proc = _run(["-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "--rootdir", str(HERE.parent),
                 *(str(HERE / name) for name in KERNEL_TESTS)], isa, HERE.parent)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
