"""Specs, shape checks in words, one whole training step against the reference, and convergence."""
import numpy as np
import pytest

from pynn import reference as ref
from pynn.errors import PynnError, TrainingDiverged
from pynn.model import build_model
from pynn.spec import parse_spec
from pynn.run import RunConfig
from pynn.train import Trainer


@pytest.mark.parametrize("text,input_shape,tokens", [
    ("784-30-10", (784,), ["30", "10"]),
    ("30-10", None, ["30", "10"]),
    ("10", None, ["10"]),
    ("784-100:relu-10", (784,), ["100:relu", "10"]),
    ("784-100:relu-drop0.5-10", (784,), ["100:relu", "drop0.5", "10"]),
    ("28x28-30-10", (28, 28), ["30", "10"]),
    ("20x1-lstm300-20", (20, 1), ["lstm300", "20"]),
    ("lstm128*-65", None, ["lstm128*", "65"]),
    ("784-30:leaky-10:softmax", (784,), ["30:leaky", "10:softmax"]),  # written as typed
])
def test_spec_parsing(text, input_shape, tokens):
    spec = parse_spec(text)
    assert spec.input_shape == input_shape
    assert [l.token() for l in spec.layers] == tokens


@pytest.mark.parametrize("text,fragment", [
    ("", "empty"), ("784--10", "empty"), ("784-abc-10", "'abc'"), ("784-30:swish-10", "swish"),
    ("784-drop1.0-10", "drop"), ("drop0.5", "no layer"), ("784-30-lstm5", "end with a dense"),
])
def test_bad_specs_say_what_is_wrong(text, fragment):
    with pytest.raises(PynnError, match=fragment):
        parse_spec(text)


def test_input_size_mismatch_is_explained_in_words():
    from pynn.data import load_dataset

    xor = load_dataset("xor")
    with pytest.raises(PynnError, match="Layer 1 expects 784 features per sample; the data has 2"):
        build_model("784-30-2", xor)


def test_output_size_must_match_the_classes(digits):
    with pytest.raises(PynnError, match="10 classes"):
        build_model("784-30-7", digits)


def test_input_from_the_data_and_parameter_layout(digits):
    model = build_model("30-10", digits)
    assert model.input_shape == (28, 28)
    assert model.n_params == 30 * 784 + 30 + 10 * 30 + 10 == 23860
    assert model.n_weights == 30 * 784 + 10 * 30   # weights first: L2 touches exactly these
    dense1 = model.layers[0]
    assert dense1.W.shape == (30, 784) and np.shares_memory(dense1.W, model.params)


def test_softmax_before_cross_entropy_is_folded_and_reported():
    model = build_model("4-8-3:softmax", loss="xent")
    assert model.layers[-1].kernel_activation == "identity"
    assert any("applied once" in note for note in model.notes)


@pytest.mark.parametrize("loss,out_act,fragment", [("xent", "sigmoid", "softmax output"),
                                                   ("mse", "softmax", "not supported"),
                                                   ("bce", "relu", "sigmoid output")])
def test_mismatched_output_and_loss_are_refused(loss, out_act, fragment):
    with pytest.raises(PynnError, match=fragment):
        build_model(f"4-8-3:{out_act}", loss=loss)


@pytest.mark.parametrize("loss,spec", [("xent", "7-5:tanh-4:relu-3"), ("mse", "7-5:sigmoid-3:sigmoid"),
                                       ("bce", "7-5:relu-3")])
def test_one_training_step_matches_the_reference(rng, loss, spec):
    model = build_model(spec, loss=loss, seed=3)
    x = rng.standard_normal((6, 7)).astype(np.float32)
    y = rng.integers(0, 3, 6).astype(np.int32)
    dense = [l for l in model.layers if l.kind == "dense"]
    Ws = [l.W.astype(np.float64) for l in dense]
    bs = [l.b.astype(np.float64) for l in dense]
    acts = [l.kernel_activation for l in dense]

    # reference forward and backward in float64
    inputs, a = [], x.astype(np.float64)
    for W, b, act in zip(Ws, bs, acts):
        inputs.append(a)
        a = ref.dense_forward(a, W, b, act)
    onehot = np.eye(3)[y]
    rloss, d, _ = {"xent": lambda: ref.softmax_xent(a, y), "mse": lambda: ref.mse(a, onehot),
                   "bce": lambda: ref.sigmoid_bce(a, onehot)}[loss]()
    grads = []
    outs = [ref.dense_forward(i, W, b, act) for i, W, b, act in zip(inputs, Ws, bs, acts)]
    for i in reversed(range(len(dense))):
        d, dW, db = ref.dense_backward(d, outs[i], inputs[i], Ws[i], acts[i])
        grads.insert(0, (dW, db))

    got_loss, _ = model.train_step(x, y)
    assert got_loss == pytest.approx(rloss, rel=1e-5)
    for layer, (dW, db) in zip(dense, grads):
        np.testing.assert_allclose(layer.dW, dW, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(layer.db, db, rtol=1e-4, atol=1e-6)


def test_xor_trains_to_97_percent():
    from pynn.data import load_dataset

    xor = load_dataset("xor")
    model = build_model("2-8:tanh-2", xor, seed=0)
    Trainer(model, RunConfig(epochs=100, optimizer="adam", lr=0.03)).fit(xor.x_train, xor.y_train)  # Playground's
    assert model.evaluate(xor.x_test, xor.y_test)["accuracy"] >= 0.97  # Playground's xor: points near the axes


def test_digits_784_30_10_reaches_90_percent_in_a_few_epochs(digits):
    model = build_model("784-30-10", digits, seed=0)
    history = Trainer(model, RunConfig(epochs=5, batch=10, optimizer="sgd", lr=0.5)).fit(
        digits.x_train, digits.y_train)
    assert len(history) == 5 and history[-1].loss < history[0].loss
    assert model.evaluate(digits.x_test, digits.y_test)["accuracy"] >= 0.90


def test_training_is_deterministic_for_a_seed(digits):
    def run():
        model = build_model("784-16-10", digits, seed=7)
        Trainer(model, RunConfig(epochs=1, batch=32, optimizer="adam", seed=7)).fit(
            digits.x_train[:2000], digits.y_train[:2000])
        return model.params.copy()
    assert np.array_equal(run(), run())


def test_early_stopping_restores_the_best_weights(digits):
    model = build_model("784-30-10", digits, seed=0)
    seen = {}

    def on_event(event):
        if type(event).__name__ == "EpochEnd":
            seen[event.record.epoch] = (event.record.val_loss, model.snapshot())
    trainer = Trainer(model, RunConfig(epochs=40, batch=10, optimizer="sgd", lr=3.0, val_split=0.2, early_stop=2), on_event)
    history = trainer.fit(digits.x_train[:1000], digits.y_train[:1000])
    assert len(history) < 40 and "early stop" in trainer.reason
    best_epoch = min(seen, key=lambda e: seen[e][0])
    assert np.array_equal(model.params, seen[best_epoch][1])


def test_divergence_is_caught_and_last_good_weights_kept(digits):
    model = build_model("784-30:relu-10", digits, init="normal", seed=0)
    trainer = Trainer(model, RunConfig(epochs=3, batch=10, optimizer="sgd", lr=1e30))
    with pytest.raises(TrainingDiverged, match="smaller learning rate"):
        trainer.fit(digits.x_train[:500], digits.y_train[:500])
    assert np.isfinite(model.params).all()


def test_stop_request_ends_after_the_current_batch(digits):
    model = build_model("784-30-10", digits)
    batches = []

    def on_event(event):
        if type(event).__name__ == "BatchEnd":
            batches.append(event.batch)
            if event.batch == 3:
                trainer.stop()
    trainer = Trainer(model, RunConfig(epochs=5, batch=10, optimizer="adam"), on_event)
    history = trainer.fit(digits.x_train, digits.y_train)
    assert batches == [1, 2, 3] and history == [] and trainer.reason == "stopped on request"


def test_l2_shrinks_weights(digits):
    norms = []
    for l2 in (0.0, 50.0):
        model = build_model("784-30-10", digits, init="normal", seed=0)
        Trainer(model, RunConfig(epochs=2, batch=10, optimizer="sgd", lr=0.1, l2=l2)).fit(
            digits.x_train[:2000], digits.y_train[:2000])
        norms.append(np.linalg.norm(model.params[:model.n_weights]))
    assert norms[1] < 0.8 * norms[0]


def test_sigmoid_output_feeding_bce_is_applied_once(rng):
    """The loss kernel applies the sigmoid; the layer must not apply it again (predictions would sit in
    [0.5, 0.73] instead of spanning (0, 1))."""
    model = build_model("3-4:tanh-2:sigmoid", loss="bce", seed=0)
    assert model.layers[-1].kernel_activation == "identity"
    x = rng.standard_normal((64, 3)).astype(np.float32) * 5
    model.layers[-1].W[...] = 10.0
    pred = model.predict(x)
    assert pred.min() < 0.1 and pred.max() > 0.9


def test_hidden_softmax_is_refused():
    with pytest.raises(PynnError, match="hidden softmax"):
        build_model("4-8:softmax-3")
