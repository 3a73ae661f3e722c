"""An LSTM's units through every analysis, each checked against an independent float64 computation: the probe's
h against pynn.reference's LSTM forward, ablation against a step loop that holds the silenced units' h and c
at zero, explain's ranking against the dense head's weights times the mean h, triggers against the reference h,
health's gate saturation against the reference gates. Then the commands end to end on a small character model
(64x..-lstm*-.. on shakespeare) and a digit model read row by row (28x28-lstm-10 --as-sequence)."""
import json

import numpy as np
import pytest

from pynn import reference
from pynn.data import load_dataset
from pynn.errors import PynnError
from pynn.files import load_model
from pynn.inspect.ablation import ablate, silenced_output
from pynn.inspect.activations import dense_layer
from pynn.inspect.contributions import output_reliance
from pynn.inspect.health import TAIL, gate_health, unit_health, weight_histograms
from pynn.inspect.probe import misclassified, sample_journey
from pynn.inspect.triggers import exciting_examples, maximise_activation
from pynn.inspect.weights import lstm_weights, weight_maps
from pynn.model import build_model
from test_inspect_cli import pynn as run, pynn_json as run_json  # the commands, in this process
from pynn_tui.cli import main

STEPS, FEATURES, UNITS, CLASSES = 6, 5, 7, 4
BOTH_HEADS = [f"{STEPS}x{FEATURES}-lstm{UNITS}-{CLASSES}",     # the head reads the last h
              f"{STEPS}x{FEATURES}-lstm{UNITS}*-{CLASSES}"]    # ... every step's h (a character model)


def lstm_model(spec: str, seed: int = 0):
    """A model with weights large enough that every unit matters (an untrained LSTM's are small)."""
    model = build_model(spec, seed=seed)
    rng = np.random.default_rng(seed + 100)
    model.params[...] = rng.normal(0, 0.8, model.params.shape)
    return model


def inputs(m: int = 120, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(m, STEPS, FEATURES)).astype(np.float32)


def masked_lstm(x, layer, silenced=()):
    """h (B, T, U) and gates (B, T, 4U) by a float64 step loop written here, with the silenced units' h and c
    set to 0 after every step: the definition of silencing an LSTM unit."""
    Wx, Wh, b = (np.asarray(a, np.float64) for a in (layer.Wx, layer.Wh, layer.b))
    B, T, _ = x.shape
    U = Wh.shape[1]
    h_prev, c_prev = np.zeros((B, U)), np.zeros((B, U))
    hs, gates = np.zeros((B, T, U)), np.zeros((B, T, 4 * U))
    for t in range(T):
        z = x[:, t] @ Wx.T + h_prev @ Wh.T + b
        i, f, o = (1 / (1 + np.exp(-z[:, k * U:(k + 1) * U])) for k in (0, 1, 3))
        g = np.tanh(z[:, 2 * U:3 * U])
        c_prev = f * c_prev + i * g
        h_prev = o * np.tanh(c_prev)
        c_prev[:, list(silenced)] = 0.0
        h_prev[:, list(silenced)] = 0.0
        hs[:, t], gates[:, t] = h_prev, np.concatenate([i, f, g, o], axis=1)
    return hs, gates


def head_logits(model, h):
    head = model.layers[-1]
    return h @ np.asarray(head.W, np.float64).T + head.b


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_the_step_loop_here_is_the_reference_lstm():
    model = lstm_model(f"{STEPS}x{FEATURES}-lstm{UNITS}-{CLASSES}")
    x = inputs(20)
    h, gates = masked_lstm(x, model.layers[0])
    ref_h, _, ref_gates = reference.lstm_forward(x, model.layers[0].Wx, model.layers[0].Wh, model.layers[0].b)
    assert np.allclose(h, ref_h, atol=1e-12) and np.allclose(gates, ref_gates, atol=1e-12)


# -- ablation -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", BOTH_HEADS)
def test_silencing_an_lstm_unit_holds_its_h_and_c_at_zero_at_every_step(spec):
    model = lstm_model(spec, seed=1)
    x = inputs()
    silenced = [2, 5]
    h, _ = masked_lstm(x, model.layers[0], silenced)
    expected = head_logits(model, h if model.layers[0].return_sequences else h[:, -1])
    got = silenced_output(model, x, 1, silenced)
    assert np.allclose(got, expected, atol=2e-4)
    # zeroing only the layer's output would leave the units' effect on the others through Wh: not the same
    full, _ = masked_lstm(x, model.layers[0])
    full[..., silenced] = 0.0
    approximation = head_logits(model, full if model.layers[0].return_sequences else full[:, -1])
    assert np.abs(approximation - expected).max() > 1e-2


def test_ablating_an_lstm_unit_costs_what_the_silenced_forward_says():
    model = lstm_model(f"{STEPS}x{FEATURES}-lstm{UNITS}-{CLASSES}", seed=2)
    x = inputs(300)
    y = head_logits(model, masked_lstm(x, model.layers[0])[0][:, -1]).argmax(axis=1).astype(np.int32)
    result = ablate(model, x, y)                 # the last hidden layer is the LSTM
    assert result.layer == 1 and result.baseline == 1.0 and result.groups == [[u] for u in range(UNITS)]
    for u in range(UNITS):
        pred = head_logits(model, masked_lstm(x, model.layers[0], [u])[0][:, -1]).argmax(axis=1)
        assert np.isclose(result.accuracy[u], (pred == y).mean())
        assert np.allclose(result.per_class[u], [(pred[y == c] == c).mean() if (y == c).any() else np.nan
                                                 for c in range(CLASSES)], equal_nan=True)
    assert result.drop.max() > 0.05


def test_a_character_model_is_ablated_on_its_labels_per_step():
    model = lstm_model(f"{STEPS}x{FEATURES}-lstm{UNITS}*-{CLASSES}", seed=3)
    x = inputs(200)
    y = np.random.default_rng(0).integers(0, CLASSES, (200, STEPS)).astype(np.int32)
    result = ablate(model, x, y, groups=[[0, 3]])
    base = head_logits(model, masked_lstm(x, model.layers[0])[0]).argmax(axis=-1)
    pred = head_logits(model, masked_lstm(x, model.layers[0], [0, 3])[0]).argmax(axis=-1)
    assert np.isclose(result.baseline, (base == y).mean()) and np.isclose(result.accuracy[0], (pred == y).mean())
    assert np.allclose(result.per_class[0], [(pred[y == c] == c).mean() for c in range(CLASSES)])
    with pytest.raises(PynnError, match="real values"):
        ablate(model, x, y.astype(np.float32))


# -- probe ----------------------------------------------------------------------------------------------------

def test_the_probe_shows_an_lstms_last_h_and_every_steps_h():
    model = lstm_model(f"{STEPS}x{FEATURES}-lstm{UNITS}-{CLASSES}", seed=4)
    x, y = inputs(10), np.arange(10, dtype=np.int32) % CLASSES
    layer = model.layers[0]
    h = reference.lstm_forward(x[3:4], layer.Wx, layer.Wh, layer.b)[0][0]        # (T, U)
    j = sample_journey(model, x, y, 3, top=2)
    (hidden,) = j.layers
    assert hidden.layer == 1 and hidden.name == "lstm 7" and j.hidden_layer == 1 and j.step is None
    assert np.allclose(hidden.values, h[-1], atol=1e-5) and np.allclose(hidden.steps, h, atol=1e-5)
    probs = softmax(head_logits(model, h[-1]))
    assert np.allclose(j.probabilities, probs, atol=1e-5) and j.predicted == int(probs.argmax()) and j.true == 3
    push = h[-1] * model.layers[1].W[j.predicted]
    assert np.allclose(j.push_predicted, push, atol=1e-5) and j.top_predicted[0] == int(push.argmax())


def test_a_character_models_journey_ends_at_its_last_step():
    model = lstm_model(f"{STEPS}x{FEATURES}-lstm{UNITS}*-{CLASSES}", seed=5)
    x = inputs(8)
    y = np.random.default_rng(1).integers(0, CLASSES, (8, STEPS)).astype(np.int32)
    layer = model.layers[0]
    h = reference.lstm_forward(x, layer.Wx, layer.Wh, layer.b)[0]
    j = sample_journey(model, x, y, 2)
    assert j.step == STEPS - 1 and j.true == int(y[2, -1]) and np.allclose(j.layers[0].steps, h[2], atol=1e-5)
    assert np.allclose(j.probabilities, softmax(head_logits(model, h[2, -1])), atol=1e-5)
    last = head_logits(model, h[:, -1]).argmax(axis=1)
    assert list(misclassified(model, x, y)) == list(np.flatnonzero(last != y[:, -1]))


# -- explain --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", BOTH_HEADS)
def test_explain_ranks_lstm_units_by_the_heads_weight_times_their_mean_h(spec):
    model = lstm_model(spec, seed=6)
    x = inputs(150)
    layer = model.layers[0]
    h = reference.lstm_forward(x, layer.Wx, layer.Wh, layer.b)[0]
    # what the head reads: the last h, or every step's h for a head applied at every step
    mean_h = (h.reshape(-1, UNITS) if layer.return_sequences else h[:, -1]).mean(axis=0)
    w = np.asarray(model.layers[1].W[2], np.float64)
    r = output_reliance(model, 2, x, top=2)
    assert r.hidden_layer == 1 and r.output_layer == 2
    assert np.allclose(r.mean_activation, mean_h, atol=1e-5) and np.allclose(r.weights, w)
    weighted = w * mean_h
    assert r.top_positive_weighted == [int(u) for u in np.argsort(-weighted) if weighted[u] > 0][:2]
    assert r.top_negative_weighted == [int(u) for u in np.argsort(weighted) if weighted[u] < 0][:2]
    assert r.top_positive == [int(u) for u in np.argsort(-w) if w[u] > 0][:2]
    assert r.template is None and "LSTM" in r.no_template


# -- triggers -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", BOTH_HEADS)
def test_the_sequences_that_drive_an_lstm_unit_leave_its_last_h_highest(spec):
    model = lstm_model(spec, seed=7)
    x = inputs(80)
    layer = model.layers[0]
    last_h = reference.lstm_forward(x, layer.Wx, layer.Wh, layer.b)[0][:, -1, 4]
    e = exciting_examples(model, 1, 4, x, k=3)
    assert e.last_step and list(e.most) == list(np.argsort(-last_h)[:3])
    assert list(e.least) == list(np.argsort(last_h)[:3]) and np.allclose(e.most_values, np.sort(last_h)[::-1][:3],
                                                                         atol=1e-5)
    with pytest.raises(PynnError, match="dense layers only.*layer 1 is an LSTM"):
        maximise_activation(model, 1, 4, x[0])


# -- health ---------------------------------------------------------------------------------------------------

def test_health_finds_lstm_gates_stuck_shut_or_open():
    model = lstm_model(f"{STEPS}x{FEATURES}-lstm{UNITS}-{CLASSES}", seed=8)
    layer, U = model.layers[0], UNITS
    layer.b[0 * U + 1] = 40.0         # unit 1's input gate wide open
    layer.b[1 * U + 4] = -40.0        # unit 4's forget gate shut
    layer.Wx[1 * U + 4], layer.Wh[1 * U + 4] = 0.0, 0.0
    x = inputs(90)
    gates = {g.gate: g for g in gate_health(model, x)}
    assert list(gates) == ["input", "forget", "candidate", "output"] and gates["candidate"].activation == "tanh"
    assert 1 in gates["input"].saturated and gates["input"].high_share[1] == 1.0
    assert 4 in gates["forget"].saturated and gates["forget"].low_share[4] == 1.0
    ref = reference.lstm_forward(x, layer.Wx, layer.Wh, layer.b)[2].reshape(-1, 4 * U)
    for k, name in enumerate(gates):
        block = ref[:, k * U:(k + 1) * U]
        low = -1.0 if name == "candidate" else 0.0
        in_tail = (block < low + TAIL) | (block > 1 - TAIL)
        assert np.allclose(gates[name].active_share, 1 - in_tail.mean(axis=0))
        assert gates[name].saturated == [int(u) for u in np.flatnonzero(in_tail.mean(axis=0) >= 0.95)]
        assert np.allclose(gates[name].mean, block.mean(axis=0), atol=1e-5)
    assert unit_health(model, x) == []        # no hidden dense layer: the LSTM's units are in the gates
    hists = weight_histograms(model)
    assert [h.counts.sum() for h in hists] == [4 * U * (FEATURES + U), CLASSES * U]


# -- weights --------------------------------------------------------------------------------------------------

def test_an_lstm_units_weights_come_per_gate():
    model = lstm_model(f"{STEPS}x{FEATURES}-lstm{UNITS}*-{CLASSES}", seed=9)
    layer, U = model.layers[0], UNITS
    w = lstm_weights(model, 1, [2, 6])
    assert w.gates == ("input", "forget", "candidate", "output") and w.input.shape == (4, 2, FEATURES)
    for k in range(4):
        assert np.array_equal(w.input[k], layer.Wx[[k * U + 2, k * U + 6]])
        assert np.array_equal(w.recurrent[k], layer.Wh[[k * U + 2, k * U + 6]])
        assert np.array_equal(w.bias[k], layer.b[[k * U + 2, k * U + 6]])
    head = weight_maps(model, 2, [1])              # the head applied at every step reads the LSTM's units
    assert np.array_equal(head.incoming, model.layers[1].W[[1]]) and head.maps is None and "LSTM" in head.no_map
    with pytest.raises(PynnError, match="lstm_weights"):
        weight_maps(model, 1)


def test_no_message_offers_an_empty_list_of_layers():
    model = lstm_model(f"{STEPS}x{FEATURES}-lstm{UNITS}*-{CLASSES}")
    for call in (lambda: dense_layer(model, 2), lambda: lstm_weights(model, 2), lambda: weight_maps(model, 5)):
        with pytest.raises(PynnError) as err:
            call()
        assert "one of ." not in str(err.value) and "one of ;" not in str(err.value)


# -- the commands on trained models ---------------------------------------------------------------------------

CHARS = 6000  # characters of shakespeare for the character model: 93 windows of 64


@pytest.fixture(scope="module")
def char_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("lstm") / "char.npz"
    data = load_dataset("shakespeare", n=CHARS)
    assert main(["train", "--data", "shakespeare", "--limit", str(CHARS), "--model", f"lstm8*-{data.n_outputs}",
                 "--epochs", "1", "--save", str(path)]) == 0
    return str(path), data


@pytest.fixture(scope="module")
def row_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("lstm") / "rows.npz"
    assert main(["train", "--data", "digits", "--as-sequence", "--limit", "600", "--model", "28x28-lstm8-10",
                 "--epochs", "1", "--save", str(path)]) == 0
    return str(path), load_dataset("digits", n=600, as_sequence=True)


@pytest.mark.parametrize("which", ["char_model", "row_model"])
@pytest.mark.parametrize("command", [["probe"], ["explain", "--class", "1"], ["ablate"], ["weights"],
                                     ["triggers", "--unit", "0"], ["health"]])
def test_every_command_looks_inside_an_lstm_model(capsys, request, which, command):
    path, _ = request.getfixturevalue(which)
    status, out, err = run(capsys, command[0], path, *command[1:])
    assert status == 0, err
    assert "no hidden layer" not in out + err and "one of ." not in out + err
    assert "LSTM" in out or "lstm" in out


def test_the_commands_numbers_on_a_character_model(capsys, char_model):
    path, data = char_model
    model, _ = load_model(path)
    layer = model.layers[0]
    x, y = data.x_test, data.y_test
    h = reference.lstm_forward(x, layer.Wx, layer.Wh, layer.b)[0]
    sample = run_json(capsys, "probe", path, "--index", "2")["samples"][0]
    assert np.allclose(sample["layers"][0]["steps"], h[2], atol=1e-5) and sample["true"] == int(y[2, -1])
    ablation = run_json(capsys, "ablate", path, "--units", "3")
    pred = head_logits(model, masked_lstm(x, layer, [3])[0]).argmax(axis=-1)
    assert np.isclose(ablation["accuracy"][0], (pred == y).mean())
    explain = run_json(capsys, "explain", path, "--class", "e")
    e = data.class_names.index("e")
    assert explain["class"] == e and explain["template"] is None
    assert np.allclose(explain["weight_x_mean_activation"], model.layers[1].W[e] * h.reshape(-1, 8).mean(axis=0),
                       atol=1e-5)
    triggers = run_json(capsys, "triggers", path, "--unit", "5", "--top", "2")
    assert triggers["most_exciting"] == list(np.argsort(-h[:, -1, 5])[:2]) and triggers["activation_trace"] is None
    out = run(capsys, "triggers", path, "--unit", "5", "--top", "2")[1]
    text = "".join(data.class_names[i] for i in x[triggers["most_exciting"][0]].argmax(axis=1)).replace("\n", "⏎")
    assert text in out and "dense layers only" in out


def test_the_commands_numbers_on_digits_read_row_by_row(capsys, row_model):
    path, data = row_model
    model, _ = load_model(path)
    layer = model.layers[0]
    h = reference.lstm_forward(data.x_test, layer.Wx, layer.Wh, layer.b)[0]
    weights = run_json(capsys, "weights", path, "--neurons", "1,3")
    assert weights["layer"] == 1 and np.array_equal(weights["input"][2], layer.Wx[[2 * 8 + 1, 2 * 8 + 3]])
    head = run_json(capsys, "weights", path, "--layer", "2", "--neurons", "0")
    assert head["maps"] is None and np.allclose(head["incoming"], model.layers[1].W[[0]])
    health = run_json(capsys, "health", path)
    assert [g["gate"] for g in health["lstm_gates"]] == ["input", "forget", "candidate", "output"]
    explain = run_json(capsys, "explain", path, "--class", "3")
    assert np.allclose(explain["mean_activation"], h[:, -1].mean(axis=0), atol=1e-5)
    status, _, err = run(capsys, "health", path, "--filmstrip", "0")
    assert status == 2 and "LSTM" in err and len(err.strip().splitlines()) == 1
