"""Looking inside conv layers: the filters as maps (pynn weights), one sample's feature maps after the conv and
the pool (pynn probe), the image patches that excite a filter most with their positions (pynn triggers), each
checked against the layers' own numbers; and the app's Weights, Probe, Outputs and Model screens on a conv model
at 80x24."""
from __future__ import annotations

import json

import numpy as np
import pytest

import pynn
from apptext import plain, screen_text, wait_until
from pynn.errors import PynnError
from pynn.inspect.activations import layer_outputs
from pynn.inspect.filters import exciting_patches, feature_maps, filter_maps, receptive_field
from pynn_tui.cli import main
from pynn_tui.render.filters import enlarged
from pynn_tui.screens.model import ModelScreen
from pynn_tui.screens.outputs import OutputsScreen
from pynn_tui.screens.probe import ProbeScreen
from pynn_tui.screens.weights import WeightsScreen
from pynn_tui.workbench import Workbench

SPEC = "28x28-conv8k5-pool2-30-10"
LIMIT = 600  # digits: 480 train / 120 test


@pytest.fixture(scope="module")
def few_digits():
    return pynn.load_dataset("digits", n=LIMIT)


@pytest.fixture(scope="module")
def model(few_digits):
    model = pynn.build(SPEC, few_digits, activation="relu")
    model.fit(few_digits, epochs=1, batch=32, optimizer="adam")
    return model


@pytest.fixture(scope="module")
def model_file(model, tmp_path_factory):
    return str(pynn.save(model, tmp_path_factory.mktemp("conv") / "conv.npz"))


# -- the analyses -----------------------------------------------------------------------------------------------

def test_filter_maps_are_the_kernels_per_input_channel(model):
    fm = filter_maps(model, 1, [0, 5])
    assert fm.maps.shape == (2, 1, 5, 5) and fm.reads_the_input
    assert np.array_equal(fm.maps[1, 0], model.layers[0].W[:, :, 0, 5])
    assert np.array_equal(fm.bias, model.layers[0].b[[0, 5]])
    deep = pynn.build("12x12x3-conv4k3-pool2-conv6k2-10")
    second = filter_maps(deep, 2)
    assert second.maps.shape == (6, 4, 2, 2) and not second.reads_the_input
    assert np.array_equal(second.maps[3, 2], deep.layers[2].W[:, :, 2, 3])


@pytest.mark.parametrize("call, words", [
    (lambda m: filter_maps(m, 2), "Layer 2 is not a conv layer; choose one of 1"),
    (lambda m: filter_maps(m, 1, [8]), "has 8 filters (0-7); there is no filter 8"),
    (lambda m: exciting_patches(m, 1, -1, np.zeros((1, 28, 28), np.float32)), "there is no filter -1"),
])
def test_a_wrong_layer_or_filter_is_one_sentence(model, call, words):
    with pytest.raises(PynnError) as err:
        call(model)
    assert words in str(err.value)


def test_feature_maps_are_the_layers_outputs_after_the_conv_and_the_pool(model, few_digits):
    sample = few_digits.x_test[7]
    stages = feature_maps(model, sample)
    outputs = layer_outputs(model, sample[None])
    assert [(s.layer, s.name, s.maps.shape) for s in stages] == [(1, "conv8k5 relu", (8, 24, 24)),
                                                                  (1, "pool2", (8, 12, 12))]
    assert np.array_equal(stages[0].maps, outputs[0][0].transpose(2, 0, 1))
    assert np.array_equal(stages[1].maps, outputs[1][0].transpose(2, 0, 1))


def test_the_most_exciting_patches_are_where_the_filter_peaks(model, few_digits):
    x = few_digits.x_test
    p = exciting_patches(model, 1, 3, x, k=4)
    response = layer_outputs(model, x)[0][..., 3]
    peaks = response.reshape(len(x), -1).max(axis=1)
    assert np.array_equal(p.values, np.sort(peaks)[::-1][:4])
    conv = model.layers[0]
    for s, (r, c), value, patch in zip(p.samples, p.positions, p.values, p.patches):
        assert response[s, r, c] == value
        assert np.array_equal(patch[..., 0], x[s, r:r + 5, c:c + 5])  # valid padding, stride 1: the patch at (r, c)
        by_hand = max(float((patch[..., 0] * conv.W[:, :, 0, 3]).sum() + conv.b[3]), 0.0)
        assert by_hand == pytest.approx(value, abs=1e-5)


def test_a_deeper_filter_sees_a_wider_field_and_padding_is_zeros():
    model = pynn.build("9x9-conv2k3s2psame-pool2-conv3k2-5")
    conv2 = model.layers[2]
    # conv 3x3 stride 2 same (pads 1 before): field 3, jump 2, start -1; pool 2: field 5, jump 4; conv 2x2: 9, jump 4
    assert receptive_field(model, 1) == (3, 2, -1)
    assert receptive_field(model, conv2.position) == (9, 4, -1)
    x = np.arange(2 * 81, dtype=np.float32).reshape(2, 9, 9) + 1
    p = exciting_patches(model, 1, 0, x, k=2)
    for s, (top, left), patch in zip(p.samples, p.corners, p.patches):
        inside = x[s, max(top, 0):top + 3, max(left, 0):left + 3]
        assert np.array_equal(patch[max(-top, 0):, max(-left, 0):, 0][:inside.shape[0], :inside.shape[1]], inside)
        if top < 0:
            assert not patch[0].any()


def test_small_maps_are_enlarged_by_whole_repeats():
    maps = np.arange(8, dtype=np.float32).reshape(2, 2, 2)
    big = enlarged(maps)
    assert big.shape == (2, 10, 10) and np.array_equal(big[:, ::5, ::5], maps)
    assert enlarged(np.zeros((3, 24, 24))).shape == (3, 24, 24)


# -- the commands -----------------------------------------------------------------------------------------------

def pynn_cli(capsys, *args):
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def test_pynn_weights_draws_each_filter(capsys, model, model_file):
    status, out, _ = pynn_cli(capsys, "weights", model_file, "--json")
    result = json.loads(out)
    assert status == 0 and result["kind"] == "conv" and result["filter_shape"] == [1, 5, 5]
    assert np.allclose(np.array(result["filters"])[:, 0], model.layers[0].W[:, :, 0, :].transpose(2, 0, 1))
    status, out, _ = pynn_cli(capsys, "weights", model_file, "--neurons", "0-2", "--cols", "3")
    lines = out.splitlines()
    assert status == 0 and "3 filters of 5x5 weights" in lines[0]
    assert lines[1].split()[::2] == ["#0", "#1", "#2"] and len(lines) == 1 + 1 + 10 + 1  # 5x5 drawn 10x10


def test_pynn_weights_on_a_second_conv_layer_draws_a_map_per_channel(capsys, tmp_path):
    path = str(pynn.save(pynn.build("12x12x3-conv4k3-pool2-conv6k2-10"), tmp_path / "deep.npz"))
    status, out, _ = pynn_cli(capsys, "weights", path, "--layer", "2", "--neurons", "1")
    assert status == 0 and "a map per channel of the layer below's 4" in out
    assert "filter #1" in out and all(f"in {c}" in out for c in range(4))


def test_pynn_probe_shows_the_feature_maps(capsys, model, model_file, few_digits):
    status, out, _ = pynn_cli(capsys, "probe", model_file, "--index", "2", "--data", "digits", "--limit",
                              str(LIMIT), "--json")
    maps = json.loads(out)["samples"][0]["feature_maps"]
    assert status == 0 and [np.shape(m["maps"]) for m in maps] == [(8, 24, 24), (8, 12, 12)]
    assert np.allclose(maps[1]["maps"], feature_maps(model, few_digits.x_test[2])[1].maps)
    status, out, _ = pynn_cli(capsys, "probe", model_file, "--index", "2", "--data", "digits", "--limit", str(LIMIT))
    assert "layer 1 conv8k5 relu: 8 feature maps of 24x24" in out and "layer 1 pool2: 8 feature maps of 12x12" in out


def test_pynn_triggers_shows_the_patches_and_their_positions(capsys, model, model_file, few_digits):
    args = ["triggers", model_file, "--layer", "1", "--unit", "4", "--top", "3", "--data", "digits", "--limit",
            str(LIMIT)]
    status, out, _ = pynn_cli(capsys, *args, "--json")
    result = json.loads(out)
    expected = exciting_patches(model, 1, 4, few_digits.x_test, 3)
    assert status == 0 and result["samples"] == expected.samples.tolist()
    assert result["positions"] == expected.positions.tolist() and result["field"] == 5
    status, out, _ = pynn_cli(capsys, *args)
    s, (r, c) = expected.samples[0], expected.positions[0]
    assert f"#{s} ({r},{c})" in out and f"#{s}: rows {r}-{r + 4}, columns {c}-{c + 4}" in " ".join(out.split())


def test_a_filter_that_is_not_there_is_one_line_and_exit_two(capsys, model_file):
    status, _, err = pynn_cli(capsys, "triggers", model_file, "--layer", "1", "--unit", "8", "--data", "digits",
                              "--limit", str(LIMIT))
    assert status == 2 and err.strip().count("\n") == 0 and "there is no filter 8" in err


# -- the app ----------------------------------------------------------------------------------------------------

from test_app_screens import Host  # noqa: E402  the one-screen app the screens' tests use


@pytest.fixture(scope="module")
def bench():
    bench = Workbench(data="digits", data_options={"n": LIMIT}, spec=SPEC)
    bench.configure(epochs=1)
    bench.train()
    return bench


async def test_the_weights_screen_draws_the_filters_and_changes_conv_layer(bench):
    app = Host(WeightsScreen, bench)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "8 filters" in screen_text(app), "the filters drawn")
        assert not app.screen.reason and "#0" in screen_text(app)
        await pilot.press("down", "right", "enter", "]")  # scrolls, stays on the only conv layer, never fails
        await pilot.pause()
        assert app.screen.layer_index == 1 and not app._notifications


async def test_the_probe_screen_adds_the_feature_maps(bench):
    app = Host(ProbeScreen, bench)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert not app.screen.reason
        await pilot.press("n")
        await pilot.pause()
        text = _plain(app.screen.query_one("#journey").content)
        assert "layer 1 conv8k5 relu: 8 feature maps of 24x24" in text and "pool2: 8 feature maps of 12x12" in text
        assert app.screen.index == 1 and not app._notifications


async def test_the_outputs_screen_works_on_a_conv_model(bench):
    app = Host(OutputsScreen, bench)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert not app.screen.reason
        await pilot.press("right")
        await pilot.pause()
        assert app.screen.output == 1 and "leans on the 30 units of layer 2" in screen_text(app)
        assert "No class template" in _plain(app.screen.query_one("#template").content)


async def test_the_model_screen_shows_the_shapes(bench):
    app = Host(ModelScreen, bench)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = _plain(app.screen.query_one("#model-summary").content, 200)  # the table unfolded
        for words in ("NHWC (m, 24, 24, 8)", "NCHW (m, 8, 12, 12)", "at 576 positions, with the same 25 weights"):
            assert words in text
        shown = screen_text(app)  # at 80 columns the table folds its cells, and still shows the layer and a shape
        assert "1 Conv2D(8," in shown and "MaxPool2D(2" in shown and "NCHW (m, 8," in shown


def _plain(renderable, width: int = 120) -> str:
    """The renderable as plain text, its whitespace runs made single spaces (rows wrap anywhere)."""
    return " ".join(plain(renderable, width).split())


@pytest.mark.parametrize("command", [["weights"], ["triggers", "--unit", "0", "--data", "digits", "--limit", "100"]])
def test_a_layer_past_the_last_names_the_conv_layer_among_the_choices(capsys, model_file, command):
    status, _, err = pynn_cli(capsys, command[0], model_file, *command[1:], "--layer", "5")
    assert status == 2 and "(pool, having no weights, takes no number); choose one of 1, 2, 3." in err
