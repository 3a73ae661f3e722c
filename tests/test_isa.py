"""Every instruction-set build of the core (portable, AVX2, AVX-512) that this machine runs: PYNN_ISA forces
it, its kernels agree with the float64 reference and with each other to float32 rounding, and the kernel
tests pass under it. Each ISA runs in a process of its own, since a process loads one build."""
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
KERNEL_TESTS = ["test_kernels.py", "test_lstm_kernels.py", "test_fast_paths.py", "test_conv_kernels.py"]

# What each build computes from the same inputs: awkward sizes that cross the tiles of every build (12 x 32 and
# 6 x 16), both transposes, the dot path, the LSTM forward and backward, the vector squashes' tails, Adam.
KERNEL_OUTPUTS = r"""
import sys
import numpy as np
from pynn import core
i = dict(np.load(sys.argv[1]))
h, c, gates = core.lstm_forward(i["x"], i["Wx"], i["Wh"], i["bias"])
dWx, dWh, db = np.zeros_like(i["Wx"]), np.zeros_like(i["Wh"]), np.zeros_like(i["bias"])
dx = core.lstm_backward(i["dh"], i["x"], h, c, gates, i["Wx"], i["Wh"], dWx, dWh, db)
p = i["p"].copy()
core.adam_update(p, i["g"], np.zeros_like(p), np.zeros_like(p), lr=1e-2, t=1)
np.savez(sys.argv[2], isa=core.ISA, ab=core.sgemm(i["a"], i["b"]),
         ab_tt=core.sgemm(i["b"], i["a"], trans_a=True, trans_b=True),
         dot=core.sgemm(i["a"][:9], np.ascontiguousarray(i["b"].T), trans_b=True),
         h=h, c=c, dx=dx, dWx=dWx, dWh=dWh, db=db,
         sigmoid=core.activate(i["z"], "sigmoid"), tanh=core.activate(i["z"], "tanh"), adam=p)
"""


def _run(code_or_args: list[str], isa: str, folder) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYNN_ISA=isa, PYTHONPATH=os.pathsep.join(sys.path))
    # from a folder of its own, so `python -c` imports the pynn this test imported, not a bare checkout's
    return subprocess.run([sys.executable, *code_or_args], env=env, capture_output=True, text=True, cwd=folder)


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(7)
    f32 = lambda *shape, scale=1.0: (scale * rng.standard_normal(shape)).astype(np.float32)
    B, T, n_in, U = 5, 7, 3, 19
    return {"a": f32(37, 301), "b": f32(301, 45), "x": f32(B, T, n_in), "Wx": f32(4 * U, n_in, scale=0.5),
            "Wh": f32(4 * U, U, scale=0.5), "bias": f32(4 * U, scale=0.1), "dh": f32(B, T, U),
            "z": f32(203, scale=6.0), "p": f32(1001), "g": f32(1001)}


@pytest.fixture(scope="module")
def outputs(inputs, tmp_path_factory):
    folder = tmp_path_factory.mktemp("isa")
    np.savez(folder / "inputs.npz", **inputs)
    found = {}
    for isa in ISAS:
        proc = _run(["-c", KERNEL_OUTPUTS, str(folder / "inputs.npz"), str(folder / f"{isa}.npz")], isa, folder)
        assert proc.returncode == 0, proc.stderr
        found[isa] = dict(np.load(folder / f"{isa}.npz"))
    return found


def _expected(i):
    h, c, _ = ref.lstm_forward(i["x"], i["Wx"], i["Wh"], i["bias"])
    dx, dWx, dWh, db = ref.lstm_backward(i["dh"], i["x"], i["Wx"], i["Wh"], i["bias"])
    adam, _, _ = ref.adam_update(i["p"], i["g"], np.zeros(i["p"].shape), np.zeros(i["p"].shape), lr=1e-2, t=1)
    return {"ab": ref.sgemm(i["a"], i["b"]), "ab_tt": ref.sgemm(i["b"], i["a"], trans_a=True, trans_b=True),
            "dot": ref.sgemm(i["a"][:9], i["b"].T, trans_b=True), "h": h, "c": c, "dx": dx, "dWx": dWx,
            "dWh": dWh, "db": db, "sigmoid": ref.activate(i["z"], "sigmoid"), "tanh": ref.activate(i["z"], "tanh"),
            "adam": adam}


def test_the_machine_runs_the_portable_build_and_the_widest_is_chosen_by_default():
    assert ISAS[0] == "generic"
    assert core.ISA == (os.environ.get("PYNN_ISA") or ISAS[-1])


@pytest.mark.parametrize("isa", ISAS)
def test_pynn_isa_forces_the_build(outputs, isa):
    assert str(outputs[isa]["isa"]) == isa


@pytest.mark.parametrize("isa", ISAS)
def test_every_build_agrees_with_the_float64_reference(inputs, outputs, isa):
    for name, want in _expected(inputs).items():
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
