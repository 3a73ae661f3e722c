"""Conv and pool layers in the library: the spec tokens, the shapes and parameter counts, images reaching a conv
however the data holds them, gradients by finite differences through the model's own forward and backward,
files, the summary's both layouts and its sentence, the doctor, and a short training run that learns digits."""
import re

import numpy as np
import pytest

import pynn
from pynn.data.dataset import CLASSIFICATION, Dataset
from pynn.errors import PynnError
from pynn.inspect.doctor import PROBLEM, check_spec
from pynn.model import build_model
from pynn.spec import parse_spec
from pynn.summary import model_summary
from pynn_tui.cli import main

SPEC = "28x28-conv8k5-pool2-30-10"


# -- specs ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["28x28-conv8k5-pool2-30-10", "32x32x3-conv16k3s2psame:tanh-pool3-10",
                                  "28x28-conv4k3pvalid:sigmoid-drop0.25-10", "conv8k5s3-pool2-10"])
def test_conv_tokens_read_back_as_written(text):
    assert str(parse_spec(text)) == text.replace("pvalid", "")


def test_default_settings_are_left_out_of_the_token():
    spec = parse_spec("28x28-conv8k5s1pvalid:relu-10")
    conv = spec.layers[0]
    assert (conv.kind, conv.units, conv.kernel, conv.stride, conv.padding, conv.activation) == \
        ("conv", 8, 5, 1, "valid", "relu")
    assert str(spec) == "28x28-conv8k5-10"


def test_a_leading_size_before_a_conv_is_the_input():
    assert parse_spec("784-conv8k5-10").input_shape == (784,)


@pytest.mark.parametrize("text, words", [
    ("28x28-conv0k5-10", "filters of 0"),
    ("28x28-conv8k0-10", "a kernel size of 0"),
    ("28x28-conv8k5s0-10", "a stride of 0"),
    ("28x28-conv8k5:softmax-10", "only on the output"),
    ("28x28-conv8k5pfull-10", "conv<filters>k<kernel>"),
    ("28x28-convk5-10", "conv<filters>k<kernel>"),
    ("28x28-conv8k5-pool0-10", "windows of size 0"),
    ("28x28-conv8k5-pool2", "must end with a dense output layer"),
])
def test_a_bad_conv_token_is_one_sentence(text, words):
    with pytest.raises(PynnError) as err:
        parse_spec(text)
    message = str(err.value)
    assert words in message and message.endswith(".") and not re.search(r"\.\s+[A-Z]", message)


# -- shapes and parameters ------------------------------------------------------------------------------------

def test_the_issues_model_has_its_shapes_and_parameter_counts():
    model = pynn.build(SPEC)
    conv, pool, hidden, out = model.layers
    assert (conv.kind, conv.index, conv.output_shape) == ("conv", 1, (24, 24, 8))
    assert conv.W.shape == (5, 5, 1, 8) and conv.b.shape == (8,)
    assert (pool.kind, pool.index, pool.output_shape) == ("pool", None, (12, 12, 8))
    assert (hidden.index, hidden.n_in, out.index) == (2, 1152, 3)
    counts = [sum(int(np.prod(s.shape)) for s in layer.param_specs()) for layer in model.layers]
    assert counts == [208, 0, 34590, 310] and model.n_params == 35108


@pytest.mark.parametrize("text, shapes", [
    ("32x32x3-conv16k3-10", [(30, 30, 16)]),
    ("28x28-conv4k3s2psame-10", [(14, 14, 4)]),
    ("28x28-conv4k5s2-10", [(12, 12, 4)]),
    ("27x27-conv4k3psame-pool2-10", [(27, 27, 4), (13, 13, 4)]),
    ("28x28-conv8k5-pool2-conv16k5-pool2-100-10", [(24, 24, 8), (12, 12, 8), (8, 8, 16), (4, 4, 16)]),
])
def test_output_shapes(text, shapes):
    model = pynn.build(text)
    assert [l.output_shape for l in model.layers if l.kind in ("conv", "pool")] == shapes
    channels = model.layers[0].W.shape[2]
    assert channels == (3 if text.startswith("32x32x3") else 1)


@pytest.mark.parametrize("text, words", [
    ("28x28-conv8k29-10", "29x29 kernel, larger than its 28x28 input"),
    ("28x28-conv8k5-pool25-10", "25x25 windows, larger than the 24x24 maps"),
    ("5-conv8k2-10", "samples of 5 values are not a square image"),
    ("6x6-conv2k3-conv2k3-conv2k3-10", "3x3 kernel, larger than its 2x2 input"),
])
def test_an_image_layer_that_does_not_fit_is_one_sentence(text, words):
    with pytest.raises(PynnError) as err:
        pynn.build(text)
    assert words in str(err.value)


def test_layer_objects_through_the_front_door(digits):
    model = pynn.Sequential([pynn.Conv2D(4, 3, stride=2, padding="same"), pynn.MaxPool2D(2), pynn.Dense(10)])
    small = Dataset("few", digits.x_train[:64], digits.y_train[:64], digits.x_test[:32], digits.y_test[:32],
                    (28, 28), CLASSIFICATION, digits.class_names)
    model.fit(small, epochs=1, batch=16, optimizer="adam")
    assert model.spec == "28x28-conv4k3s2psame-pool2-10"
    assert [l.output_shape for l in model.layers] == [(14, 14, 4), (7, 7, 4), (10,)]


@pytest.mark.parametrize("make, words", [
    (lambda: pynn.Conv2D(0, 3), "filters must be at least 1"),
    (lambda: pynn.Conv2D(4, 3, padding="full"), "padding must be one of valid, same"),
    (lambda: pynn.Conv2D(4, 3, activation="softmax"), "cannot be softmax"),
    (lambda: pynn.MaxPool2D(2.5), "size must be a whole number"),
])
def test_bad_layer_arguments_name_the_parameter(make, words):
    with pytest.raises(PynnError, match=words):
        make()


def test_images_reach_a_conv_flat_or_as_rows_and_columns(rng):
    model = pynn.build("36-conv3k3-pool2-4")
    assert model.layers[0].image == (6, 6, 1)
    images = rng.standard_normal((5, 6, 6)).astype(np.float32)
    flat = model.forward(images.reshape(5, 36))[0]
    assert np.array_equal(flat, model.forward(images)[0])
    assert np.array_equal(flat, model.forward(images[..., None])[0])


def test_the_digits_reach_a_conv_model_with_the_spec_or_without_the_input(digits):
    written = pynn.build(SPEC, digits)
    taken = pynn.build("conv8k5-pool2-30-10", digits)
    assert written.layers[0].image == taken.layers[0].image == (28, 28, 1)
    assert taken.spec == SPEC


# -- gradients --------------------------------------------------------------------------------------------------

def central_difference(f, values: np.ndarray, index, eps: float) -> float:
    """(f() with values[index] + eps - f() with it - eps) / 2 eps, leaving values as they were."""
    keep = values[index]
    values[index] = keep + eps
    up = f()
    values[index] = keep - eps
    down = f()
    values[index] = keep
    return (up - down) / (2 * eps)


def test_a_whole_conv_model_has_the_gradients_of_finite_differences(rng):
    """Every layer kind at once: same padding with a stride, a pool over odd maps, a second conv and a dense head,
    through Sequential.forward/backward. Smooth activations, so the differences are not taken across a kink."""
    model = build_model("7x7x2-conv3k3s2psame:tanh-conv4k2:sigmoid-pool2-5", task=CLASSIFICATION, seed=3)
    x = rng.standard_normal((4, 7, 7, 2)).astype(np.float32)
    y = np.array([0, 3, 4, 1])

    def loss_at():
        return float(model.loss(model.forward(x)[0], y)[0])

    model.grads.fill(0.0)
    out, caches = model.forward(x, training=True)
    _, dout, _ = model.loss(out, y)
    dx = model.backward(dout, caches, need_dx=True)
    analytic = model.grads.copy()
    eps = 1e-3  # small enough that no pool window changes its maximum, large enough for float32
    picks = rng.choice(model.params.size, 60, replace=False)
    for i in picks:
        assert abs(central_difference(loss_at, model.params, i, eps) - analytic[i]) < 1e-3 + 2e-2 * abs(analytic[i])
    conv_w = model.layers[0].W.size
    assert np.abs(analytic[:conv_w]).max() > 0  # the conv's weights are among the first and do get a gradient
    for flat in rng.choice(x.size, 20, replace=False):
        idx = np.unravel_index(flat, x.shape)
        assert abs(central_difference(loss_at, x, idx, eps) - dx[idx]) < 1e-3 + 2e-2 * abs(dx[idx])


# -- files ------------------------------------------------------------------------------------------------------

def test_a_conv_model_saves_and_loads_the_same(tmp_path, rng):
    model = pynn.build("32x32x3-conv4k3s2psame:tanh-pool2-conv6k3-drop0.5-10", seed=2)
    model.restore(rng.standard_normal(model.params.size).astype(np.float32))
    path = pynn.save(model, tmp_path / "conv.npz")
    loaded = pynn.load(path)
    assert loaded.spec == model.spec
    assert [l.describe() for l in loaded.layers] == [l.describe() for l in model.layers]
    assert loaded.layers[0].describe() == {"kind": "conv", "filters": 4, "kernel": 3, "stride": 2,
                                           "padding": "same", "activation": "tanh"}
    x = rng.standard_normal((3, 32, 32, 3)).astype(np.float32)
    assert np.array_equal(loaded.forward(x)[0], model.forward(x)[0])


# -- the summary ------------------------------------------------------------------------------------------------

def test_the_summary_shows_both_layouts_the_arithmetic_and_what_a_filter_sees():
    summary = model_summary(pynn.build(SPEC))
    assert summary["input"]["layouts"] == {"keras": ["m", 28, 28, 1], "pytorch": ["m", 1, 28, 28]}
    conv, pool, dense, _ = summary["layers"]
    assert conv["layouts"] == {"keras": ["m", 24, 24, 8], "pytorch": ["m", 8, 24, 24]}
    assert conv["params"] == {"W": [5, 5, 1, 8], "b": [8]} and conv["pytorch_params"]["weight"] == [8, 1, 5, 5]
    assert conv["arithmetic"] == "8·(5·5·1) + 8 = 208" and conv["n_params"] == 208
    assert conv["sees"] == ("each of the 8 filters sees the whole 28x28 image, one 5x5 patch at a time, at 576 "
                            "positions, with the same 25 weights; a dense unit sees all 784 inputs at once with 784 "
                            "weights of its own")
    assert (pool["index"], pool["layouts"]["pytorch"], pool["n_params"]) == (None, ["m", 8, 12, 12], 0)
    assert dense["arithmetic"] == "30·1152 + 30 = 34,590" and "H, W, C order" in dense["notes"][0]
    assert summary["total_arithmetic"] == "208 + 34,590 + 310 = 35,108"


def test_the_sentence_follows_the_model():
    rows = model_summary(pynn.build("32x32x3-conv16k3s2psame-pool2-conv4k3-10"))["layers"]
    assert rows[0]["sees"] == ("each of the 16 filters sees the whole 32x32x3 image, one 3x3x3 patch at a time, at "
                               "256 positions, with the same 27 weights; a dense unit sees all 3,072 inputs at once "
                               "with 3,072 weights of its own")
    assert rows[2]["sees"].startswith("each of the 4 filters sees the whole 8x8x16 maps of the layer below, one "
                                      "3x3x16 patch at a time, at 36 positions, with the same 144 weights")


def test_pynn_summary_prints_the_shapes_and_the_sentence(capsys):
    assert main(["summary", SPEC]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for words in ("NHWC (m, 24, 24, 8)", "NCHW (m, 8, 24, 24)", "NCHW (m, 8, 12, 12)", "8·(5·5·1) + 8 = 208",
                  "weight (8, 1, 5, 5) OIHW", "at 576 positions, with the same 25 weights",
                  "208 + 34,590 + 310 = 35,108"):
        assert words in out


# -- the doctor -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, words", [
    ("28x28-conv8k30-10", "30x30 kernel, larger than its 28x28 input"),
    ("28x28-conv8k5-pool30-10", "30x30 windows, larger than the 24x24 maps"),
])
def test_the_doctor_says_an_image_layer_does_not_fit_in_one_sentence(digits, spec, words):
    problems = [f for f in check_spec(spec, digits) if f.level == PROBLEM]
    assert len(problems) == 1 and problems[0].topic == "image shape" and words in problems[0].what


def test_the_doctor_says_flat_data_that_is_no_square_image_cannot_feed_a_conv():
    flat = Dataset("flat", np.zeros((20, 5), np.float32), np.zeros(20, np.int64), np.zeros((4, 5), np.float32),
                   np.zeros(4, np.int64), (5,), CLASSIFICATION, ["a", "b"])
    problems = [f for f in check_spec("conv4k2-2", flat) if f.level == PROBLEM]
    assert len(problems) == 1 and "samples of 5 values are not a square image" in problems[0].what


def test_the_doctor_passes_the_issues_model_on_the_digits(digits):
    assert not [f for f in check_spec(SPEC, digits) if f.level == PROBLEM]


def test_pynn_check_exits_one_for_a_kernel_larger_than_the_image(capsys):
    assert main(["check", "28x28-conv8k30-10", "--limit", "200"]) == 1
    assert "larger than its 28x28 input" in capsys.readouterr().out


# -- training ---------------------------------------------------------------------------------------------------

def test_pynn_train_takes_the_digits_into_a_conv_model(tmp_path, capsys):
    path = tmp_path / "c.npz"
    assert main(["train", "--data", "digits", "--model", SPEC, "--limit", "300", "--epochs", "1", "--batch", "32",
                 "--optimizer", "adam", "--save", str(path)]) == 0
    assert pynn.load(path).layers[0].image == (28, 28, 1)


def test_a_conv_model_learns_the_digits(digits):
    """Two epochs of the issue's model (Adam, batch 32) on the bundled digits: well above a dense net's first
    epochs and far from chance; bounded by epochs, not time."""
    model = pynn.build(SPEC, digits, activation="relu")
    model.fit(digits, epochs=2, batch=32, optimizer="adam", seed=0)
    assert model.evaluate(digits)["accuracy"] > 0.9


@pytest.mark.parametrize("args, words", [
    (["summary", "28x28-conv8k5-pool30-10"], "pool30 takes 30x30 windows, larger than the 24x24 maps"),
    (["train", "--model", "conv8k5-10", "--data", "spiral3", "--epochs", "1"], "samples of 2 values are not a "
                                                                                  "square image"),
    (["summary", "28x28-conv8k5s2pfull-10"], "a conv is written conv<filters>k<kernel>"),
])
def test_the_cli_says_an_image_mistake_in_one_line_and_exits_two(capsys, args, words):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert words in err and err.strip().count("\n") == 0
