"""What the wrappers in pynn/core.py refuse before C sees it, kernel family by kernel family: an output that
shares memory with another argument (C's pointers are `restrict`: it would compute garbage) and an output
that is read-only (C would write through it). And that the sanitizer build can see undefined behaviour."""
import importlib.util
import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from pynn import core, reference as ref
from pynn.model import build_model

SHARES = "shares memory"


def f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def read_only(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.flags.writeable = False
    return a


def refused(call, match: str, *untouched: np.ndarray) -> None:
    """call() raises ValueError matching `match`, and C never ran: every array in `untouched` keeps its values."""
    before = [a.copy() for a in untouched]
    with pytest.raises(ValueError, match=match):
        call()
    for a, was in zip(untouched, before):
        np.testing.assert_array_equal(a, was)


def test_sgemm_refuses_an_output_aliasing_an_operand_or_read_only(rng):
    a = f32(rng, 4, 4)
    refused(lambda: core.sgemm(a, f32(rng, 4, 4), out=a), "out shares memory with a", a)
    b = f32(rng, 4, 4)
    refused(lambda: core.sgemm(f32(rng, 4, 4), b, out=b, naive=True), "out shares memory with b", b)
    refused(lambda: core.sgemm(a, b, out=read_only(np.zeros((4, 4), np.float32))), "out must be writable")
    packed = core.sgemm_pack_b(b)
    refused(lambda: core.sgemm_packed(a, packed, 4, out=a), "out shares memory with a", a)
    refused(lambda: core.sgemm_packed(a, packed, 4, out=read_only(np.zeros((4, 4), np.float32))), "writable")


def test_activations_run_in_place_but_refuse_a_partial_overlap_or_a_read_only_output(rng):
    x = f32(rng, 3, 8)
    want = ref.activate(x, "tanh")
    core.activate(x, "tanh", out=x)  # the very same array: allowed, the kernel reads each value before writing it
    np.testing.assert_allclose(x, want, atol=1e-6)
    flat = f32(rng, 9)
    refused(lambda: core.activate(flat[1:], "relu", out=flat[:-1]), SHARES, flat)
    refused(lambda: core.activate(x, "relu", out=read_only(x)), "out must be writable")
    dy, y = f32(rng, 3, 8), core.activate(f32(rng, 3, 8), "sigmoid")
    want = ref.activate_backward(dy, y, "sigmoid")
    core.activate_backward(dy, y, "sigmoid", out=dy)
    np.testing.assert_allclose(dy, want, atol=1e-6)
    refused(lambda: core.activate_backward(dy, y, "sigmoid", out=y), "out shares memory with y", y)
    refused(lambda: core.dropout(x, np.ones(x.shape, np.uint8), 2.0, out=x), "out shares memory with x", x)
    refused(lambda: core.dropout(x, np.ones(x.shape, np.uint8), 2.0, out=read_only(x)), "writable")


def test_dense_forward_with_out_x_is_refused_instead_of_garbage(rng):
    x, W, b = f32(rng, 5, 5), f32(rng, 5, 5), f32(rng, 5)
    refused(lambda: core.dense_forward(x, W, b, "identity", out=x), "out shares memory with x", x)
    refused(lambda: core.dense_forward(x, W, b, "identity", out=W), "out shares memory with W", W)
    refused(lambda: core.dense_forward(x, W, b, "identity", out=read_only(x)), "out must be writable")
    out = core.dense_forward(x, W, b, "identity", out=np.empty_like(x))  # a separate array still works
    np.testing.assert_allclose(out, ref.dense_forward(x, W, b, "identity"), atol=1e-5)


def test_dense_backward_refuses_gradients_aliasing_each_other_or_the_inputs(rng):
    x, W = f32(rng, 4, 6), f32(rng, 3, 6)
    out = core.dense_forward(x, W, f32(rng, 3), "relu")
    dout, dW, db = f32(rng, 4, 3), np.zeros((3, 6), np.float32), np.zeros(3, np.float32)
    refused(lambda: core.dense_backward(dout, out, x, W, dW, db, "relu", dx=x), "dx shares memory with x", x)
    refused(lambda: core.dense_backward(dout, out, x, W, W, db, "relu"), "dW shares memory with W", W, dout)
    grads = np.zeros(21, np.float32)
    refused(lambda: core.dense_backward(dout, out, x, W, grads[:18].reshape(3, 6), grads[17:20], "relu"),
            "dW shares memory with db", grads, dout)
    refused(lambda: core.dense_backward(out, out, x, W, dW, db, "relu"), "dout shares memory with out", out)
    refused(lambda: core.dense_backward(dout, out, x, W, read_only(dW), db, "relu"), "dW must be writable", dout)


def test_losses_refuse_an_output_aliasing_the_logits_or_read_only(rng):
    logits, labels = f32(rng, 4, 3), np.array([0, 2, 1, 1], np.int32)
    refused(lambda: core.softmax_xent(logits, labels, dlogits=logits), "dlogits shares memory with logits", logits)
    refused(lambda: core.softmax_xent(logits, labels, probs=read_only(logits)), "probs must be writable")
    both = np.empty((4, 3), np.float32)
    refused(lambda: core.softmax_xent(logits, labels, dlogits=both, probs=both), "dlogits shares memory with probs")
    targets = np.ones((4, 3), np.float32)
    refused(lambda: core.sigmoid_bce(logits, targets, probs=targets), "probs shares memory with targets", targets)
    refused(lambda: core.mse(logits, targets, dout=logits), "dout shares memory with out", logits)
    refused(lambda: core.mse(logits, targets, dout=read_only(logits)), "dout must be writable")


def test_optimisers_refuse_state_aliasing_the_parameters_or_gradients(rng):
    p, g = f32(rng, 10), f32(rng, 10)
    refused(lambda: core.sgd_update(p, p, lr=0.1), "params shares memory with grads", p)
    refused(lambda: core.sgd_update(read_only(p), g, lr=0.1), "params must be writable")
    refused(lambda: core.momentum_update(p, g, p, lr=0.1), "params shares memory with state0", p)
    m = np.zeros(10, np.float32)
    refused(lambda: core.adam_update(p, g, m, g, lr=0.1, t=1), "state1 shares memory with grads", p, m, g)
    refused(lambda: core.adam_update(p, g, m, read_only(m), lr=0.1, t=1), "state1 must be writable", p, m)
    refused(lambda: core.clip_grad_norm(read_only(g), 1.0), "grads must be writable")


def test_the_fused_step_refuses_buffers_aliasing_each_other_or_the_data():
    rng = np.random.default_rng(0)
    model = build_model("6-4-3")
    x, y = f32(rng, 12, 6), rng.integers(0, 3, 12).astype(np.int32)
    n = model.params.size

    def step(**change):
        kw = dict(sizes=[6, 4, 3], activations=["sigmoid", "identity"], alphas=[0.0, 0.0],
                  w_offsets=[0, 24], b_offsets=[36, 40], loss="xent", params=model.params, grads=model.grads,
                  n_decay=36, optimizer="sgd", state=[], lr=0.1, t=0, last_good=np.zeros(n, np.float32), x=x,
                  labels=y, max_batch=4)
        return core.MLPTrainStep(**{**kw, **change})

    step()  # the arguments are fine as they are
    refused(lambda: step(grads=model.params), "params shares memory with grads")
    refused(lambda: step(last_good=read_only(model.params)), "last_good must be writable")
    refused(lambda: step(optimizer="momentum", state=[model.grads]), "grads shares memory with optimizer state 0")
    data = np.zeros(x.size + n, np.float32)  # the parameters overlap the last sample
    refused(lambda: step(params=data[x.size - 6:x.size - 6 + n], x=data[:x.size].reshape(x.shape)),
            "params shares memory with x")


def test_lstm_refuses_a_workspace_or_gradient_aliasing_its_inputs(rng):
    B, T, n_in, U = 2, 3, 4, 5
    x, Wx, Wh, b = f32(rng, B, T, n_in), f32(rng, 4 * U, n_in), f32(rng, 4 * U, U), f32(rng, 4 * U)
    need = core.lstm_workspace(B, T, n_in, U)
    inputs = np.zeros(need + Wx.size, np.float32)
    inputs[need:] = Wx.ravel()
    refused(lambda: core.lstm_forward(x, inputs[need:].reshape(Wx.shape), Wh, b, work=inputs[Wx.size:]),
            "work shares memory with Wx", inputs)
    refused(lambda: core.lstm_forward(x, Wx, Wh, b, work=read_only(np.zeros(need, np.float32))), "work must be")
    h, c, gates = core.lstm_forward(x, Wx, Wh, b)
    dh, dWx, db = f32(rng, B, T, U), np.zeros_like(Wx), np.zeros_like(b)
    refused(lambda: core.lstm_backward(dh, x, h, c, gates, Wx, Wh, dWx, Wh, db), "dWh shares memory with Wh", Wh)
    refused(lambda: core.lstm_backward(dh, x, h, c, gates, Wx, Wh, dWx, np.zeros_like(Wh), read_only(db)),
            "db must be writable", dWx)


# -- the sanitizer build ---------------------------------------------------------------------------------------
# What `PYNN_SANITIZE=1 python -m pynn._build` compiles with: Python's own CFLAGS first (distutils puts them
# there, -fwrapv among them), then pynn's. The checkout's build script, whichever pynn is installed.
BUILD_SCRIPT = Path(__file__).resolve().parent.parent / "pynn" / "_build.py"

UNDEFINED = {
    "signed integer overflow": "#include <limits.h>\nint main(int argc, char **argv) {\n"
                               "    (void)argv; int big = INT_MAX - 1 + argc; return big + argc > 0 ? 0 : 3;\n}\n",
    "is outside the range of representable values": "#include <math.h>\nint main(int argc, char **argv) {\n"
                               "    (void)argv; volatile float x = NAN * argc; return (int)x == 7 ? 3 : 0;\n}\n",
}


@pytest.mark.skipif(not shutil.which(sysconfig.get_config_var("CC") or "gcc"), reason="no C compiler")
@pytest.mark.parametrize("report", list(UNDEFINED))
def test_the_sanitizer_build_reports_undefined_behaviour(tmp_path, monkeypatch, report):
    monkeypatch.setenv("PYNN_SANITIZE", "1")
    spec = importlib.util.spec_from_file_location("pynn_build_script", BUILD_SCRIPT)
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    cflags, ldflags = build.compile_flags()
    source, program = tmp_path / "undefined.c", tmp_path / "undefined"
    source.write_text(UNDEFINED[report])
    cc = (sysconfig.get_config_var("CC") or "gcc").split()
    python_flags = (sysconfig.get_config_var("CFLAGS") or "").split()
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}  # .ci/run preloads the runtimes for Python
    built = subprocess.run([*cc, *python_flags, *cflags, str(source), "-o", str(program), *ldflags, "-lm"],
                           capture_output=True, text=True, env=env)
    if built.returncode != 0:
        pytest.skip(f"the sanitizer runtimes are not installed: {built.stderr.strip()[-200:]}")
    ran = subprocess.run([str(program)], capture_output=True, text=True, env=env)
    assert report in ran.stderr
    assert ran.returncode != 0
