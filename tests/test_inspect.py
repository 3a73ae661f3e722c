"""Inspection on hand-made models with known answers: weight maps, reliance, journeys, triggers, activation
maximisation, unit health, ablation, filmstrips, sweeps (the same for any number of jobs), comparisons and
the doctor's findings."""
import numpy as np
import pytest

from pynn.data import load_dataset
from pynn.errors import PynnError
from pynn.files import save_model
from pynn.inspect.ablation import ablate
from pynn.experiments.compare import parse_variant, train_variant, variant_config, weight_differences
from pynn.inspect.contributions import output_reliance, top_contributors
from pynn.inspect.doctor import OK, PROBLEM, WARNING, check_saved, check_spec
from pynn.inspect.filmstrip import EpochWeights, replay_training
from pynn.inspect.health import gradient_trend, unit_health, weight_histograms
from pynn.inspect.probe import misclassified, sample_journey
from pynn.experiments.sweep import rules_of_thumb, summarise, sweep_configs, train_one
from pynn.inspect.triggers import exciting_examples, maximise_activation
from pynn.inspect.weights import back_projection, weight_maps
from pynn.experiments.workers import run_in_processes
from pynn.model import build_model
from pynn.run import RunConfig
from pynn.train import Trainer, history_dicts

SMALL_DIGITS = {"n": 600}  # 480 train / 120 test: enough to train on, quick to load in a worker


@pytest.fixture(scope="module")
def small_digits():
    return load_dataset("digits", **SMALL_DIGITS)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# -- weight maps --------------------------------------------------------------------------------------------

def test_a_neurons_map_is_its_weights_laid_out_like_the_input(rng):
    model = build_model("4x4-3-2", seed=0)
    image = np.arange(16, dtype=np.float32).reshape(4, 4) - 8
    model.layers[0].W[1] = image.ravel()
    maps = weight_maps(model, neurons=[1, 2])
    assert maps.maps.shape == (2, 4, 4) and not maps.back_projected
    assert np.array_equal(maps.maps[0], image)
    assert np.array_equal(maps.incoming[1], model.layers[0].W[2])


def test_a_flat_model_is_drawn_in_the_datas_shape():
    model = build_model("16-3-2", seed=0)
    assert weight_maps(model).maps.shape == (3, 1, 16)          # a strip on its own
    assert weight_maps(model, sample_shape=(4, 4)).maps.shape == (3, 4, 4)
    assert weight_maps(model, sample_shape=(3, 5)).maps.shape == (3, 1, 16)  # not the same size: ignored


def test_deeper_layers_are_back_projected_through_the_weights():
    model = build_model("4x4-5-3-2", seed=1)
    W1, W2 = model.layers[0].W, model.layers[1].W
    maps = weight_maps(model, 2, [0, 2])
    assert maps.back_projected and maps.incoming.shape == (2, 5)
    assert np.allclose(maps.maps.reshape(2, 16), (W2 @ W1)[[0, 2]], atol=1e-6)
    assert np.allclose(back_projection(model, 3), model.layers[2].W @ W2 @ W1, atol=1e-5)


def test_unknown_layers_and_neurons_are_named_in_words():
    model = build_model("4-3-2", seed=0)
    with pytest.raises(PynnError, match="there is no neuron 3"):
        weight_maps(model, 1, [3])
    with pytest.raises(PynnError, match="choose one of 1, 2"):
        weight_maps(model, 5)


# -- what an output relies on ----------------------------------------------------------------------------

def test_an_output_favouring_hidden_unit_7_names_unit_7_first(rng):
    model = build_model("6-10-3", seed=2)
    out = model.layers[1]
    out.W[...] = rng.normal(0, 0.1, out.W.shape)
    out.W[1, 7], out.W[1, 2], out.W[1, 4] = 5.0, -4.0, 3.0
    x = rng.random((50, 6), dtype=np.float32)
    r = output_reliance(model, 1, x, top=2)
    assert r.top_positive == [7, 4] and r.top_negative[0] == 2
    hidden = sigmoid(x @ model.layers[0].W.T.astype(np.float64) + model.layers[0].b)
    assert np.allclose(r.mean_activation, hidden.mean(axis=0), atol=1e-5)
    assert np.allclose(r.weighted, r.weights * r.mean_activation)
    assert np.allclose(r.template.ravel(), out.W[1] @ model.layers[0].W, atol=1e-5)


def test_weight_times_activation_discounts_a_unit_that_is_never_on(rng):
    model = build_model("6-10-3", seed=2)
    out = model.layers[1]
    out.W[...] = 0.1
    out.W[0, 7], out.W[0, 3] = 5.0, 1.0
    model.layers[0].b[7] = -30.0                 # unit 7 is off on every sample
    r = output_reliance(model, 0, rng.random((40, 6), dtype=np.float32), top=1)
    assert r.top_positive == [7] and r.top_positive_weighted == [3]


def test_top_contributors_name_only_units_of_the_right_sign():
    assert top_contributors(np.array([0.5, 2.0, 1.0]), 3) == ([1, 2, 0], [])
    assert top_contributors(np.array([-0.5, 0.0, -2.0, 1.0]), 2) == ([3], [2, 0])


# -- a sample's journey ---------------------------------------------------------------------------------

def test_a_journey_shows_every_layer_and_the_pushes_toward_each_class(rng):
    model = build_model("5-4-3-3", seed=3)
    x = rng.random((10, 5), dtype=np.float32)
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0], np.int32)
    j = sample_journey(model, x, y, 4, top=2)
    h1 = sigmoid(x[4] @ model.layers[0].W.T.astype(np.float64) + model.layers[0].b)
    h2 = sigmoid(h1 @ model.layers[1].W.T + model.layers[1].b)
    logits = h2 @ model.layers[2].W.T + model.layers[2].b
    probs = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert [l.layer for l in j.layers] == [1, 2]
    assert np.allclose(j.layers[0].values, h1, atol=1e-5) and np.allclose(j.probabilities, probs, atol=1e-5)
    assert j.predicted == int(probs.argmax()) and j.true == 1 and j.hidden_layer == 2
    assert np.allclose(j.push_true, h2 * model.layers[2].W[1], atol=1e-5)
    assert j.top_predicted[0] == int(np.argmax(h2 * model.layers[2].W[j.predicted]))
    predictions = model.predict(x).argmax(axis=1)
    assert list(misclassified(model, x, y)) == list(np.flatnonzero(predictions != y))


def test_a_regression_journey_shows_values_not_classes(rng):
    model = build_model("10-5-1", task="regression", loss="mse", seed=0)
    x = rng.normal(size=(20, 10)).astype(np.float32)
    y = rng.normal(size=(20, 1)).astype(np.float32)
    j = sample_journey(model, x, y, 1)
    assert not j.classes and j.probabilities is None and j.predicted is None
    assert np.allclose(j.values, model.predict(x[1:2])[0], atol=1e-6) and np.allclose(j.target, y[1])
    h = j.layers[0].values
    assert np.allclose(j.push_predicted, h * model.layers[1].W[0], atol=1e-6)
    with pytest.raises(PynnError, match="not classes"):
        misclassified(model, x, y)


# -- what triggers a unit -------------------------------------------------------------------------------

def test_the_most_exciting_examples_are_those_with_the_largest_output(rng):
    model = build_model("4-2:identity-2", seed=0)
    model.layers[0].W[...] = 0.0
    model.layers[0].W[1, 2] = 1.0                 # unit 1 reads feature 2 only
    x = rng.random((30, 4), dtype=np.float32)
    e = exciting_examples(model, 1, 1, x, k=3)
    assert list(e.most) == list(np.argsort(-x[:, 2])[:3]) and list(e.least) == list(np.argsort(x[:, 2])[:3])
    assert np.allclose(e.most_values, np.sort(x[:, 2])[::-1][:3])


def test_maximisation_steps_along_the_gradient_of_a_linear_unit():
    model = build_model("5-3:identity-2", seed=4)
    w, b = model.layers[0].W[2].copy(), float(model.layers[0].b[2])
    found = maximise_activation(model, 1, 2, np.zeros(5, np.float32), steps=1, step_size=0.1, l2=0.0)
    assert np.allclose(found.x, 0.1 * w, atol=1e-6)
    assert np.allclose(found.trace, [b, b + 0.1 * w @ w], atol=1e-5)


def test_activation_maximisation_increases_the_units_activation(small_digits):
    model = build_model("30-10", small_digits, seed=0)
    Trainer(model, RunConfig(epochs=1, batch=10, optimizer="sgd", lr=0.5)).fit(
        small_digits.x_train, small_digits.y_train)
    start = small_digits.x_train.mean(axis=0)
    for index, unit in ((1, 4), (2, 7)):         # a hidden unit, and the score of output class 7
        found = maximise_activation(model, index, unit, start, steps=100, bounds=(0.0, 1.0))
        assert found.trace[-1] > found.trace[0] + 0.1
        assert found.x.shape == (28, 28) and found.x.min() >= 0.0 and found.x.max() <= 1.0
        again, _ = model.layers[0].forward(found.x.reshape(1, -1), False)
        if index == 1:
            assert abs(float(again[0, unit]) - found.trace[-1]) < 1e-5


# -- unit health ----------------------------------------------------------------------------------------

def test_dead_relus_and_saturated_sigmoids_are_found(rng):
    x = rng.random((100, 4), dtype=np.float32)
    relu = build_model("4-6:relu-2", seed=0)
    relu.layers[0].b[...] = 5.0                  # every unit on for these inputs ...
    relu.layers[0].b[3] = -100.0                 # ... but this one
    assert unit_health(relu, x)[0].dead == [3]
    sig = build_model("4-6-2", seed=0)
    sig.layers[0].b[1], sig.layers[0].b[4] = 50.0, -50.0
    health = unit_health(sig, x)[0]
    assert health.saturated == [1, 4] and health.dead == []
    assert health.active_share[1] == 0.0 and health.active_share[0] == 1.0


@pytest.mark.parametrize("norms,verdict", [
    ([[0.5, 0.8], [0.4, 0.6]], "healthy"),
    ([[0.001, 0.9], [0.002, 0.8]], "vanishing"),
    ([[0.5, 0.5], [50.0, 80.0]], "exploding"),
    ([[0.5, 0.5], [float("nan"), 1.0]], "exploding"),
])
def test_gradient_norms_in_the_history_are_read(norms, verdict):
    trend = gradient_trend([{"grad_norms": n} for n in norms], [1, 2])
    assert trend.verdict == verdict and trend.norms.shape == (2, 2)


def test_no_gradient_history_means_no_verdict():
    assert gradient_trend([{"epoch": 1}], [1]) is None


def test_weight_histograms_count_every_weight_and_no_bias():
    model = build_model("7-5-3", seed=0)
    hists = weight_histograms(model, bins=10)
    assert [h.counts.sum() for h in hists] == [35, 15] and len(hists[0].edges) == 11
    assert np.isclose(hists[0].norm, np.linalg.norm(model.layers[0].W))


# -- filmstrip ------------------------------------------------------------------------------------------

def test_the_recorder_copies_a_neurons_weights_before_training_and_after_each_epoch(small_digits):
    model = build_model("30-10", small_digits, seed=0)
    initial = model.layers[0].W[3].copy()
    recorder = EpochWeights(model, 1, [3])
    Trainer(model, RunConfig(epochs=2, batch=32, optimizer="sgd", lr=0.5), recorder).fit(
        small_digits.x_train, small_digits.y_train)
    assert recorder.epochs == [0, 1, 2]
    assert np.array_equal(recorder.frames[0][0], initial) and np.array_equal(recorder.frames[-1][0],
                                                                             model.layers[0].W[3])
    assert not np.array_equal(recorder.frames[1], recorder.frames[0])


def test_replaying_a_saved_training_ends_on_the_saved_weights(tmp_path, small_digits):
    config = RunConfig(epochs=2, batch=10, optimizer="sgd", lr=0.5, seed=3)
    model = build_model("784-30-10", small_digits, seed=3)
    history = Trainer(model, config).fit(small_digits.x_train, small_digits.y_train)
    path = save_model(model, tmp_path / "m.npz", history=history_dicts(history),
                      data=dict(small_digits.describe(), load="digits", options=SMALL_DIGITS),
                      run=config)
    film = replay_training(str(path), small_digits, 1, [0, 5])
    assert film.matches_saved and film.epochs == [0, 1, 2] and film.maps.shape == (3, 2, 28, 28)
    assert np.array_equal(film.maps[-1, 1].ravel(), model.layers[0].W[5])


# -- ablation -------------------------------------------------------------------------------------------

def test_silencing_a_unit_with_no_outgoing_weights_costs_nothing(rng):
    model = build_model("6-8-4", seed=5)
    model.layers[0].W[...] = rng.normal(0, 2, (8, 6))
    model.layers[1].W[...] = rng.normal(0, 3, (4, 8))   # strong enough that every unit matters ...
    model.layers[1].W[:, 3] = 0.0                       # ... except this one
    x = rng.normal(size=(200, 6)).astype(np.float32)
    y = model.predict(x).argmax(axis=1).astype(np.int32)   # the model is right on every sample
    result = ablate(model, x, y)
    assert result.baseline == 1.0 and result.groups == [[u] for u in range(8)]
    assert result.drop[3] == 0.0 and np.all(result.drop_per_class[3][~np.isnan(result.drop_per_class[3])] == 0)
    assert result.drop.max() > 0                       # the others carry something


def test_silencing_is_a_zero_output_and_a_set_goes_together(rng):
    model = build_model("6-8-4", seed=6)
    x = rng.normal(size=(300, 6)).astype(np.float32)
    y = rng.integers(0, 4, 300).astype(np.int32)
    h = sigmoid(x @ model.layers[0].W.T.astype(np.float64) + model.layers[0].b)
    h[:, [1, 5]] = 0.0
    expected = (h @ model.layers[1].W.T + model.layers[1].b).argmax(axis=1)
    result = ablate(model, x, y, groups=[[1, 5]])
    assert np.isclose(result.accuracy[0], (expected == y).mean())
    per_class = [(expected[y == c] == c).mean() for c in range(4)]
    assert np.allclose(result.per_class[0], per_class)


def test_ablation_refuses_the_output_layer(rng):
    model = build_model("6-8-4", seed=5)
    with pytest.raises(PynnError, match="output layer"):
        ablate(model, rng.random((5, 6), dtype=np.float32), np.zeros(5, np.int32), index=2)


# -- sweeps ---------------------------------------------------------------------------------------------

def test_rules_of_thumb_for_digits():
    rules = rules_of_thumb(784, 10)
    assert rules == pytest.approx({"√n_in": 28.0, "√(n_in·n_out)": 88.5438, "2/3·n_in + n_out": 532.6667,
                                   "n_in/2": 392.0}, rel=1e-4)


def test_a_sweep_gives_the_same_numbers_for_one_job_and_two():
    configs = sweep_configs([2, 5], 2, data="digits", limit=600, epochs=1)
    assert [(c["hidden"], c["seed"]) for c in configs] == [(2, 0), (2, 1), (5, 0), (5, 1)]
    one = run_in_processes(train_one, configs, 1)
    two = run_in_processes(train_one, configs, 2)
    numbers = lambda results: [{k: v for k, v in r.items() if k != "seconds"} for r in results]
    assert numbers(one) == numbers(two)
    assert numbers([train_one(configs[2])]) == numbers(one[2:3])   # and the same in this process
    assert one[0]["n_params"] == 784 * 2 + 2 + 2 * 10 + 10 and one[0]["test_accuracy"] != one[1]["test_accuracy"]


def test_summaries_give_mean_spread_and_size():
    runs = [{"hidden": 5, "seed": s, "n_params": 10, "test_accuracy": a, "train_accuracy": 0.9, "seconds": 1.0}
            for s, a in enumerate([0.8, 0.9])] + [
            {"hidden": 2, "seed": 0, "n_params": 4, "test_accuracy": 0.5, "train_accuracy": 0.6, "seconds": 2.0}]
    rows = summarise(runs)
    assert [r["hidden"] for r in rows] == [2, 5]
    assert rows[1]["test_accuracy_mean"] == pytest.approx(0.85) and rows[1]["test_accuracy_std"] == pytest.approx(0.05)
    assert rows[1]["test_accuracy_min"] == 0.8 and rows[1]["runs"] == 2


def test_a_bad_sweep_is_refused_in_words():
    with pytest.raises(PynnError, match="hidden takes sizes of at least 1"):
        sweep_configs([0, 5], 1)
    with pytest.raises(PynnError, match="A sweep trains seeds 0 .. seeds-1"):
        sweep_configs([5], 1, seed=3)
    with pytest.raises(PynnError, match="'batch_size' is not one"):
        sweep_configs([5], 1, batch_size=[10, 20])


# -- comparisons ----------------------------------------------------------------------------------------

def test_variants_are_read_and_checked():
    assert parse_variant("init=lecun, l2=5") == {"init": "lecun", "l2": 5.0}
    assert parse_variant("val-split=0.1,early_stop=2") == {"val_split": 0.1, "early_stop": 2}
    with pytest.raises(PynnError, match="cannot set the seed: both runs share it"):
        parse_variant("seed=3")
    with pytest.raises(PynnError, match="In run a, init must be one of lecun, normal, xavier, he, not 'zeros'"):
        variant_config("a", parse_variant("init=zeros"))
    with pytest.raises(PynnError, match="l2 must be a number, not 'much'"):
        parse_variant("l2=much")
    with pytest.raises(PynnError, match="Cannot read 'bogus=1'"):
        parse_variant("bogus=1")


def test_compared_runs_share_the_seed_and_differ_only_by_their_settings():
    shared = RunConfig(model="784-20-10", data="digits", limit=600, seed=1, epochs=2)
    a = train_variant(variant_config("a", {}, shared))
    b = train_variant(variant_config("b", {"l2": 50.0}, shared))
    again = train_variant(variant_config("a", {}, shared))
    assert all(np.array_equal(p, q) for p, q in zip(a["weights"], again["weights"]))
    diffs = weight_differences(a, b)
    assert [d.layer for d in diffs] == [1, 2]
    assert diffs[0].norm_b < diffs[0].norm_a                  # L2 shrinks the weights
    both = np.concatenate([a["weights"][0].ravel(), b["weights"][0].ravel()])
    assert np.isclose(diffs[0].edges[0], both.min()) and np.isclose(diffs[0].edges[-1], both.max())
    assert diffs[0].counts_a.sum() == diffs[0].counts_b.sum() == 784 * 20
    assert len(a["history"]) == 2 and a["lr"] == 0.5


# -- the doctor -----------------------------------------------------------------------------------------

def levels(findings, topic):
    return [f.level for f in findings if f.topic == topic]


def test_the_doctor_says_both_shapes_in_words_when_the_input_does_not_fit():
    xor = load_dataset("xor")
    findings = check_spec("784-30-2", xor)
    bad = [f for f in findings if f.topic == "input size"][0]
    assert bad.level == PROBLEM
    assert "vectors of 784 features" in bad.what and "vectors of 2 features" in bad.what
    assert bad.why and "30-2" in bad.fix


def test_the_doctor_passes_a_sound_model(digits):
    findings = check_spec("784-30-10", digits)
    assert not [f for f in findings if f.level != OK]
    assert levels(findings, "gradients") == [OK]


@pytest.mark.parametrize("spec,kwargs,topic,level", [
    ("784-30-10:softmax", {}, "softmax before cross-entropy", WARNING),
    ("784-30-10:sigmoid", {}, "sigmoid output with cross-entropy", PROBLEM),
    ("784-30-10:sigmoid", {"loss": "bce"}, "sigmoid output for one-of-N classes", WARNING),
    ("784-30:softmax-10", {}, "hidden softmax", PROBLEM),
    ("784-500-10", {}, "hidden layer size", PROBLEM),          # 500 units for 480 samples
    ("784-30-7", {}, "output size", PROBLEM),
    ("784-30-30-30-30-30-10", {}, "vanishing gradients", WARNING),
    ("784-30-10", {"init": "normal"}, "saturated at the start", WARNING),
])
def test_the_doctor_finds_the_classic_mistakes(small_digits, spec, kwargs, topic, level):
    findings = check_spec(spec, small_digits, **kwargs)
    assert levels(findings, topic) == [level]
    finding = [f for f in findings if f.topic == topic][0]
    assert finding.why and finding.fix


def test_the_doctor_reads_vanishing_gradients_from_a_saved_history(small_digits):
    model = build_model("784-30-30-10", small_digits)
    header = {"history": [{"epoch": 1, "grad_norms": [0.0001, 0.01, 0.9]}]}
    assert levels(check_saved(model, header, small_digits), "vanishing gradients") == [WARNING]
    healthy = {"history": [{"epoch": 1, "grad_norms": [0.5, 0.6, 0.9]}]}
    assert levels(check_saved(model, healthy, small_digits), "gradients") == [OK]


def test_an_unreadable_spec_is_one_finding():
    findings = check_spec("784-3x-10")
    assert len(findings) == 1 and findings[0].level == PROBLEM and "3x" in findings[0].what
