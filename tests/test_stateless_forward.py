"""A forward pass without hidden state: forward returns its output and a cache that backward takes, layers keep
no batch, and readers work on a frozen copy of the weights, so they never hold up (or see half of) a training
step. Also that the inspections run the layers' one forward pass instead of calling the kernels themselves.

The threaded tests count steps, never time: the trainer is held between batches (its on_event waits) and let go
one batch at a time by the reader; a wait that runs out (PATIENCE_S) means the trainer was stuck behind the
reader, and fails the test."""
import threading

import numpy as np
import pytest

from pynn import core
from pynn.inspect.ablation import ablate
from pynn.inspect.activations import layer_outputs
from pynn.inspect.health import gate_health
from pynn.inspect.probe import sample_journey
from pynn.inspect.triggers import maximise_activation
from pynn.layers import Dense
from pynn.lstm import LSTM, gate_trace
from pynn.model import Sequential, build_model
from pynn.train import BatchEnd, Trainer

PATIENCE_S = 3.0  # a safety net for a stuck thread: every wait below ends in well under a second when it works

MODELS = {  # spec, one sample's shape, integer labels' shape per sample (() one per sample)
    "mlp with dropout": ("12-10:tanh-drop0.4-8:relu-3", (12,), ()),
    "stacked lstm": ("6x4-lstm5*-lstm3-3", (6, 4), ()),
    "per-step lstm": ("6x4-lstm5*-3", (6, 4), (6,)),
}


def batch(rng, sample_shape, label_shape, m=9):
    return rng.random((m, *sample_shape), dtype=np.float32), rng.integers(0, 3, (m, *label_shape))


@pytest.mark.parametrize("name", MODELS)
def test_interleaved_forwards_give_the_gradients_of_forward_backward_pairs(name):
    """Two batches forward, then both backward in the other order: each backward gets its own forward's
    cache, so the gradients are those of forward-backward pairs run one after the other. A layer that kept the
    last batch on itself would give the first backward the second batch's activations."""
    spec, sample_shape, label_shape = MODELS[name]
    rng = np.random.default_rng(3)
    batches = [batch(rng, sample_shape, label_shape) for _ in range(2)]

    def gradients(model, order):
        """Gradients of each batch's loss, with the forwards run first in order and the backwards after."""
        model.grads.fill(0.0)
        done = {}
        runs = [(i, *model.forward(batches[i][0], training=True)) for i in order]
        for i, out, caches in reversed(runs):
            dout = model.loss(out, batches[i][1])[1]
            model.grads.fill(0.0)
            model.backward(dout, caches)
            done[i] = model.grads.copy()
        return done

    one_by_one = build_model(spec, task="classification", seed=5)
    paired = {}
    for i in (0, 1):  # forward, backward, forward, backward
        paired.update(gradients(one_by_one, [i]))
    interleaved = gradients(build_model(spec, task="classification", seed=5), [0, 1])
    for i in (0, 1):
        assert np.any(paired[i] != 0.0)
        assert np.array_equal(interleaved[i], paired[i]), f"batch {i}"
    assert not np.array_equal(paired[0], paired[1])  # the batches differ, so a mixed-up cache would show


def test_layers_keep_no_batch():
    model = build_model("6x4-lstm5*-drop0.3-3", task="classification", seed=0)
    before = [dict(vars(layer)) for layer in model.layers]
    x = np.random.default_rng(0).random((4, 6, 4), dtype=np.float32)
    _, caches = model.forward(x, training=True)
    model.backward(np.ones((4, 6, 3), np.float32), caches)
    for layer, attributes in zip(model.layers, before):
        changed = {k for k, v in vars(layer).items() if k not in attributes or v is not attributes[k]}
        assert not changed, f"layer {layer.index} kept {sorted(changed)}"


class GatedTrainer:
    """A training run in a thread that stops after each batch until let go: run(k) lets k more batches through
    and returns when they are done. At each batch end (where the trainer holds no lock) it notes whether the
    model's lock was free, i.e. held by no reader either, and the weights it finished the batch with.
    train(on_event) runs the training; stop() asks it to end."""

    def __init__(self, model, train, stop):
        self.model, self.done, self.lock_free, self.weights = model, 0, [], []
        self._allowed, self._changed = 0, threading.Condition()
        self._stop = stop
        self.thread = threading.Thread(target=train, args=(self.on_event,))

    @classmethod
    def fitting(cls, model, x, y) -> "GatedTrainer":
        """A library Trainer with its default settings, fitting x, y."""
        made = []

        def train(on_event):
            made.append(Trainer(model, on_event=on_event))
            made[0].fit(x, y)

        return cls(model, train, lambda: made[0].stop())

    def on_event(self, event):
        if not isinstance(event, BatchEnd):
            return
        free = self.model.lock.acquire(blocking=False)
        if free:
            self.model.lock.release()
        with self._changed:
            self.done += 1
            self.lock_free.append(free)
            self.weights.append(self.model.params.copy())
            self._changed.notify_all()
            assert self._changed.wait_for(lambda: self._allowed > self.done, timeout=PATIENCE_S)

    def run(self, batches: int) -> None:
        with self._changed:
            self._allowed += batches
            target = self._allowed
            self._changed.notify_all()
            assert self._changed.wait_for(lambda: self.done >= target, timeout=PATIENCE_S), \
                f"the trainer stopped at batch {self.done} of {target}: something held it up"

    def __enter__(self):
        self.thread.start()
        self.run(1)
        return self

    def __exit__(self, *exc):
        self._stop()
        with self._changed:
            self._allowed = 10**9
            self._changed.notify_all()
        self.thread.join(PATIENCE_S)


def test_an_analysis_sees_one_set_of_weights_while_the_trainer_goes_on(monkeypatch):
    """Activation maximisation on the live model: the trainer takes three steps in the middle of the ascent,
    with the model's lock free all the while, and the ascent ends exactly as it would on the weights it started
    with."""
    import pynn.inspect.triggers as triggers

    rng = np.random.default_rng(0)
    x = rng.random((300, 16), dtype=np.float32)
    y = (x[:, :8].sum(axis=1) > x[:, 8:].sum(axis=1)).astype(np.int64)
    model = build_model("16-12:tanh-2", seed=1)
    ascent_steps, calls = 6, []
    unit_gradient = triggers._unit_gradient

    def halfway(*args):
        calls.append(len(calls))
        if len(calls) == ascent_steps // 2:
            gate.run(3)  # three training steps inside the analysis
        return unit_gradient(*args)

    monkeypatch.setattr(triggers, "_unit_gradient", halfway)
    with GatedTrainer.fitting(model, x, y) as gate:
        found = maximise_activation(model, 1, 2, x.mean(axis=0), steps=ascent_steps)
        during = gate.lock_free[1:]
    start_weights, end_weights = gate.weights[0], gate.weights[3]
    assert len(during) == 3 and all(during), during
    assert not np.array_equal(start_weights, end_weights)  # the weights did change under the analysis

    still = build_model("16-12:tanh-2", seed=1)
    still.params[...] = start_weights
    monkeypatch.setattr(triggers, "_unit_gradient", unit_gradient)
    alone = maximise_activation(still, 1, 2, x.mean(axis=0), steps=ascent_steps)
    assert np.array_equal(found.x, alone.x) and np.array_equal(found.trace, alone.trace)


def test_the_app_reads_a_snapshot_while_its_run_goes_on():
    """The workbench's read() hands a reader a frozen model: while the reader holds it, the app's own run takes
    steps (the lock free throughout), and what the reader sees stays the weights it was handed."""
    from pynn_tui.workbench import Workbench

    bench = Workbench(data="spiral3", spec="2-16:tanh-3")
    x = bench.data.x_test

    def analysis(frozen):
        first = layer_outputs(frozen, x)
        gate.run(2)
        assert frozen.frozen() is frozen and not frozen.params.flags.writeable
        return frozen.params.copy(), first, layer_outputs(frozen, x), bench.model.params.copy()

    with GatedTrainer(bench.model, bench.train, bench.stop) as gate:
        seen, first, second, live = bench.read(analysis)
        during = gate.lock_free[1:]
    assert len(during) == 2 and all(during), during
    assert np.array_equal(seen, gate.weights[0]) and not np.array_equal(live, seen)
    for a, b in zip(first, second):
        assert np.array_equal(a, b)


def test_a_frozen_model_has_its_own_weights_and_scratch():
    model = build_model("6x4-lstm5-3", task="classification", seed=0)
    frozen = model.frozen()
    assert frozen.frozen() is frozen and model.frozen() is not frozen
    with pytest.raises(ValueError):
        frozen.params[0] = 1.0
    before = frozen.params.copy()
    model.params += 1.0  # training the original leaves the copy as it was
    assert np.array_equal(frozen.params, before)
    shape = (2, 6, 4)
    trainer_scratch = model.layers[0]._workspace(shape)
    assert frozen.layers[0]._workspace(shape) is not trainer_scratch
    assert model.layers[0]._workspace(shape) is trainer_scratch  # kept between batches in one thread
    other = []
    thread = threading.Thread(target=lambda: other.append(model.layers[0]._workspace(shape)))
    thread.start()
    thread.join()
    assert other[0] is not trainer_scratch  # a second thread never writes into the first one's scratch


def test_the_gate_trace_is_read_from_the_cache_of_the_models_forward(monkeypatch):
    model = build_model("6x4-lstm5*-lstm3-3", task="classification", seed=2)
    x = np.random.default_rng(1).random((6, 4), dtype=np.float32)
    forward, runs = Sequential.forward, []

    def recorded(self, *args, **kwargs):
        runs.append(forward(self, *args, **kwargs))
        return runs[-1]

    monkeypatch.setattr(Sequential, "forward", recorded)
    trace = gate_trace(model, x, 2)
    assert len(runs) == 1
    cache = runs[0][1][1]  # the second layer's: the LSTM traced
    assert np.shares_memory(trace.forget, cache.gates) and np.shares_memory(trace.hidden, cache.h)
    assert np.shares_memory(trace.cell, cache.c)
    assert np.array_equal(trace.output, cache.gates[0, :, 9:12])


ANALYSES = {
    "gate trace": lambda model, x, y: gate_trace(model, x[0], 1),
    "gate health": lambda model, x, y: gate_health(model, x),
    "lstm ablation": lambda model, x, y: ablate(model, x, y, 1),
    "journey": lambda model, x, y: sample_journey(model, x, y, 2),
    "activation maximisation": lambda model, x, y: maximise_activation(model, 1, 0, x[0].ravel(), steps=3),
}


@pytest.mark.parametrize("name", ANALYSES)
def test_analyses_run_the_layers_forward_instead_of_the_kernels(monkeypatch, name):
    """Every kernel call an analysis makes happens inside a layer's forward or backward: no analysis keeps a
    forward pass of its own."""
    spec = "12-6:tanh-3" if name == "activation maximisation" else "6x4-lstm5-3"
    model = build_model(spec, task="classification", seed=0)
    rng = np.random.default_rng(0)
    x = rng.random((8, *model.input_shape), dtype=np.float32)
    y = rng.integers(0, 3, 8)
    depth, calls = threading.local(), []

    def inside(method):
        def wrapped(*args, **kwargs):
            depth.n = getattr(depth, "n", 0) + 1
            try:
                return method(*args, **kwargs)
            finally:
                depth.n -= 1
        return wrapped

    def kernel(function):
        def wrapped(*args, **kwargs):
            calls.append((function.__name__, getattr(depth, "n", 0) > 0))
            return function(*args, **kwargs)
        return wrapped

    for layer_class in (Dense, LSTM):
        for method in ("forward", "backward"):
            monkeypatch.setattr(layer_class, method, inside(getattr(layer_class, method)))
    for name_ in ("dense_forward", "dense_backward", "lstm_forward", "lstm_backward"):
        monkeypatch.setattr(core, name_, kernel(getattr(core, name_)))
    ANALYSES[name](model, x, y)
    assert calls and all(in_layer for _, in_layer in calls), calls
