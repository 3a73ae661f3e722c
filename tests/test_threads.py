"""A reader in another thread (the Textual app) never sees a half-updated model while a worker trains."""
import hashlib
import threading

import numpy as np

from pynn.model import build_model
from pynn.train import BatchEnd, Trainer, TrainConfig


def test_snapshots_taken_during_training_are_always_whole_steps():
    rng = np.random.default_rng(0)
    x = rng.random((2000, 64), dtype=np.float32)
    y = (x[:, :32].sum(axis=1) > x[:, 32:].sum(axis=1)).astype(np.int32)
    model = build_model("64-256:relu-2", seed=0)  # large enough that an update takes measurable time
    digest = lambda a: hashlib.sha1(a.tobytes()).hexdigest()
    legit = {digest(model.params)}

    def on_event(event):
        if isinstance(event, BatchEnd):  # runs in the training thread between steps
            legit.add(digest(model.params))

    seen, done = [], threading.Event()

    def reader():
        while not done.is_set():
            seen.append(digest(model.snapshot()))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        Trainer(model, TrainConfig(epochs=2, batch_size=8, optimizer="adam", eval_train=False),
                on_event).fit(x, y)
    finally:
        done.set()
        thread.join()
    assert len(seen) > 50
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

        def reader():
            while not done.is_set():
                model.predict(x[:50])
        thread = threading.Thread(target=reader)
        if with_reader:
            thread.start()
        try:
            Trainer(model, TrainConfig(epochs=2, batch_size=4, optimizer="sgd", lr=0.1)).fit(x, y)
        finally:
            done.set()
            if with_reader:
                thread.join()
        return model.params.copy()

    assert np.array_equal(train(False), train(True))
