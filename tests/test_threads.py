"""A reader in another thread (the Textual app) never sees a half-updated model while a worker trains.

The counts here are the test's, not the machine's: training goes on until the reader has taken as many
snapshots as the test wants, and each step waits until the reader has had its turn, so a slow or loaded
machine makes the test take longer, never pass or fail differently."""
import hashlib
import threading
import time

import numpy as np

from pynn.model import build_model
from pynn.run import RunConfig
from pynn.train import BatchEnd, Trainer

PATIENCE_S = 120.0  # a safety net: both tests finish in seconds on an idle machine
ENDLESS = 10_000    # epochs: more than any test lets a run do before it stops it


def test_snapshots_taken_during_training_are_always_whole_steps():
    rng = np.random.default_rng(0)
    x = rng.random((2000, 64), dtype=np.float32)
    y = (x[:, :32].sum(axis=1) > x[:, 32:].sum(axis=1)).astype(np.int32)
    model = build_model("64-256:relu-2", seed=0)  # large enough that an update takes measurable time
    digest = lambda a: hashlib.sha1(a.tobytes()).hexdigest()
    legit = {digest(model.params)}
    wanted = 300  # snapshots, and steps, that overlap each other
    steps = [0]

    def on_event(event):
        if isinstance(event, BatchEnd):  # runs in the training thread between steps
            legit.add(digest(model.params))
            steps[0] += 1

    trainer = Trainer(model, RunConfig(epochs=ENDLESS, batch=8, optimizer="adam"),
                      on_event, eval_train=False)
    worker = threading.Thread(target=trainer.fit, args=(x, y))
    seen = []
    worker.start()
    try:
        # read for as long as it takes both sides to reach the count: the steps go on until the test stops them
        deadline = time.monotonic() + PATIENCE_S
        while (len(seen) < wanted or steps[0] < wanted) and time.monotonic() < deadline and worker.is_alive():
            seen.append(digest(model.snapshot()))
    finally:
        trainer.stop()
        worker.join()
    assert len(seen) >= wanted and steps[0] >= wanted, f"{len(seen)} snapshots and {steps[0]} steps"
    torn = [s for s in seen if s not in legit]
    assert not torn, f"{len(torn)} of {len(seen)} snapshots mixed two steps"


def test_predict_from_another_thread_does_not_disturb_training():
    """Layers cache activations for backward; a concurrent predict must not corrupt a step's gradients."""
    rng = np.random.default_rng(1)
    x = rng.random((600, 16), dtype=np.float32)
    y = (x.sum(axis=1) > 8).astype(np.int32)

    def train(with_reader):
        model = build_model("16-32:tanh-2", seed=4)
        done = threading.Event()
        turn = threading.Condition()
        predicts = [0]

        def reader():
            while not done.is_set():
                model.predict(x[:50])
                with turn:
                    predicts[0] += 1
                    turn.notify_all()

        def after_step(event):
            # each step waits for a predict that ran after the previous one, so the reader is busy through
            # the whole run however the two threads are scheduled
            if with_reader and isinstance(event, BatchEnd):
                with turn:
                    mark = predicts[0]
                    assert turn.wait_for(lambda: predicts[0] > mark, timeout=PATIENCE_S), "the reader stalled"

        thread = threading.Thread(target=reader)
        if with_reader:
            thread.start()
        try:
            Trainer(model, RunConfig(epochs=2, batch=4, optimizer="sgd", lr=0.1), after_step).fit(x, y)
        finally:
            done.set()
            if with_reader:
                thread.join()
        return model.params.copy(), predicts[0]

    alone, _ = train(False)
    beside, predicts = train(True)
    assert predicts >= 2 * len(x) // 4  # at least one predict after each step: 2 epochs of batches of 4
    assert np.array_equal(alone, beside)
