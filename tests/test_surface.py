"""Surfaces over the plane: the model's own outputs on a grid (compared with model.predict and the layers' own
outputs), the shapes known from Playground (xor's four quadrants, a single neuron's straight cut), and
`pynn surface` / `pynn compare` drawing them: JSON grids, characters without colour, replays across epochs, and
one sentence for a model that has no plane."""
import json

import numpy as np
import pytest

from pynn.data.playground import feature_matrix
from pynn.files import load_model
from pynn.inspect.activations import layer_outputs
from pynn.inspect.surface import grid, plane_of, surfaces
from pynn.run import RunConfig
from pynn_tui.cli import main

XOR = RunConfig(data="xor", model="2-8:tanh-2", optimizer="adam", lr=0.03, epochs=100)


from test_run_cli import pynn  # noqa: E402  a command in this process: (exit status, stdout, stderr)


def trained(run: RunConfig):
    data = run.load_data()
    model = run.build_model(data)
    model.fit(data)
    return model, data


@pytest.fixture(scope="module")
def xor():
    return trained(XOR)


@pytest.fixture(scope="module")
def xor_file(xor, tmp_path_factory):
    path = tmp_path_factory.mktemp("surface") / "xor.npz"
    assert main(["train", "--data", "xor", "--model", "2-8:tanh-2", "--optimizer", "adam", "--lr", "0.03",
                 "--epochs", "12", "--save", str(path)]) == 0
    return path


def test_the_surfaces_are_the_models_own_outputs_on_the_grid():
    model, data = trained(RunConfig(data="circles", features="x1,x2,x1*x2,sin(x1)", model="5:tanh-3:relu-2",
                                    optimizer="adam", lr=0.03, epochs=3))
    plane = plane_of(data)
    result = surfaces(model, plane, 17)
    _, _, points = grid(plane.extent, 17)
    x = feature_matrix(points, plane.features)
    expected = model.predict(x)
    assert np.allclose(result.outputs.reshape(2, -1).T, expected, atol=1e-6)
    assert np.allclose(result.decision.ravel(), expected[:, 1] - expected[:, 0], atol=1e-6)
    hidden = layer_outputs(model, x)
    assert [s.layer for s in result.layers] == [1, 2]
    for s in result.layers:
        layer = model.layer_numbered(s.layer)
        assert np.allclose(s.maps.reshape(layer.units, -1).T, hidden[layer.position - 1], atol=1e-6)


def test_the_grid_puts_the_largest_x2_at_the_top():
    x1, x2, points = grid([[-6, 6], [-2, 2]], 4)
    assert list(x1) == [-4.5, -1.5, 1.5, 4.5] and list(x2) == [1.5, 0.5, -0.5, -1.5]
    assert points[1].tolist() == [-1.5, 1.5] and points[4].tolist() == [-4.5, 0.5]


def test_xor_reaches_97_percent_and_its_surface_has_four_quadrants_of_alternating_sign(xor):
    model, data = xor
    assert model.evaluate(data)["accuracy"] >= 0.97
    result = surfaces(model, plane_of(data), 40)
    d = result.decision
    # the quadrants' inner parts (1.5 to 6 from the axes): class 1 where x1 and x2 share their sign; a few cells
    # of the outer corners, past the data (which ends at 5.3), may go either way
    top_left, top_right = d[:15, :15], d[:15, 25:]
    bottom_left, bottom_right = d[25:, :15], d[25:, 25:]
    assert (top_right > 0).mean() > 0.95 and (bottom_left > 0).mean() > 0.95
    assert (top_left < 0).mean() > 0.95 and (bottom_right < 0).mean() > 0.95


def test_a_single_hidden_neuron_cuts_the_plane_along_a_straight_line():
    model, data = trained(RunConfig(data="moons", model="2-1:tanh-2", optimizer="adam", lr=0.03, epochs=5))
    result = surfaces(model, plane_of(data), 30)
    values = result.layers[0].maps[0]
    z = np.arctanh(np.clip(values, -0.999999, 0.999999))  # its W·x + b, recovered from the tanh
    g1, g2 = np.meshgrid(result.x1, result.x2)
    design = np.stack([g1.ravel(), g2.ravel(), np.ones(g1.size)], axis=1)
    fit, *_ = np.linalg.lstsq(design, z.ravel(), rcond=None)
    unsaturated = np.abs(values.ravel()) < 0.99
    assert unsaturated.sum() > 30
    assert np.allclose((design @ fit)[unsaturated], z.ravel()[unsaturated], atol=1e-3)
    w, b = result.layers[0].incoming[0], result.layers[0].bias[0]
    assert np.allclose(fit, [w[0], w[1], b], atol=1e-3)
    # one side of the line w·x + b = 0 is positive, the other negative
    assert np.array_equal(values > 0, (design @ np.array([w[0], w[1], b]) > 0).reshape(values.shape))


def test_surface_json_gives_the_grids(capsys, xor_file):
    status, out, err = pynn(capsys, "surface", str(xor_file), "--resolution", "20", "--json")
    assert status == 0, err
    result = json.loads(out)
    model, _ = load_model(xor_file)
    data = model.run.load_data()
    plane = plane_of(data)
    _, _, points = grid(plane.extent, 20)
    probs = model.predict(feature_matrix(points, plane.features))
    assert np.allclose(np.array(result["decision"]).ravel(), probs[:, 1] - probs[:, 0], atol=1e-5)
    assert [layer["layer"] for layer in result["layers"]] == [1]
    assert np.array(result["layers"][0]["surfaces"]).shape == (8, 10, 10)
    assert len(result["points"]["x_test"]) == 250 and result["features"] == ["x1", "x2"]


def test_surface_draws_in_characters_without_colour(capsys, xor_file, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    status, out, err = pynn(capsys, "surface", str(xor_file), "--layer", "1", "--neurons", "0-2",
                            "--resolution", "24")
    assert status == 0, err
    assert "\x1b[" not in out and "▀" not in out
    lines = out.splitlines()
    assert "2-8:tanh-2 on xor" in lines[0] and "test accuracy" in lines[0]
    big = lines[2:14]
    assert all(len(line) == 24 for line in big)
    assert any(ch in "01" for line in big for ch in line) and any(ch in "AB" for line in big for ch in line)
    assert "#0" in out and "#2" in out and "#3" not in out


@pytest.mark.parametrize("args,fragment", [
    (["--neurons", "1"], "give --layer too"),
    (["--layer", "5"], "Layer 5"),
    (["--layer", "1", "--neurons", "9"], "9"),
    (["--resolution", "1"], "--resolution"),
])
def test_surface_mistakes_are_one_sentence(capsys, xor_file, args, fragment):
    status, _, err = pynn(capsys, "surface", str(xor_file), *args)
    assert status == 2 and fragment in err and len(err.strip().splitlines()) == 1


def test_a_model_without_a_plane_is_told_why(capsys, tmp_path):
    path = tmp_path / "d.npz"
    assert main(["train", "--limit", "200", "--epochs", "1", "--model", "784-5-10", "--save", str(path)]) == 0
    capsys.readouterr()
    status, _, err = pynn(capsys, "surface", str(path))
    assert status == 2 and "plane of two inputs" in err and "(28, 28)" in err


def test_the_surfaces_replayed_across_epochs_end_on_the_saved_models(capsys, xor_file):
    status, out, err = pynn(capsys, "surface", str(xor_file), "--replay", "3", "--resolution", "16", "--json")
    assert status == 0, err
    film = json.loads(out)
    assert film["epochs"] == [0, 6, 12] and film["matches_saved"]
    model, _ = load_model(xor_file)
    last = surfaces(model, plane_of(model.run.load_data()), 8)
    assert np.allclose(np.array(film["frames"][-1]["decision"]), last.decision, atol=1e-6)
    assert not np.allclose(np.array(film["frames"][0]["decision"]), last.decision, atol=1e-2)


def test_compare_on_2d_data_draws_both_decision_surfaces(capsys):
    status, out, err = pynn(capsys, "compare", "--data", "xor", "--model", "2-4:tanh-2", "--optimizer", "adam",
                            "--lr", "0.03", "--epochs", "3", "--a", "model=2-1:tanh-2", "--b", "model=2-6:tanh-2",
                            "--jobs", "1")
    assert status == 0, err
    assert "decision surfaces over the plane" in out
    assert "a: model=2-1:tanh-2" in out and "b: model=2-6:tanh-2" in out
    status, out, _ = pynn(capsys, "compare", "--data", "xor", "--epochs", "1", "--a", "lr=0.1", "--b", "lr=0.2",
                          "--jobs", "1", "--json")
    assert status == 0 and "params" not in json.loads(out)["runs"][0]


def test_surface_draws_only_the_points_asked_for(capsys, xor_file, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    big = {}
    for which in ("all", "test", "none"):
        status, out, err = pynn(capsys, "surface", str(xor_file), "--layer", "1", "--neurons", "0",
                                "--resolution", "24", "--show-points", which)
        assert status == 0, err
        big[which] = "".join(out.splitlines()[2:14])
    assert set("01") & set(big["all"]) and set("AB") & set(big["all"])
    assert not set("01") & set(big["test"]) and set("AB") & set(big["test"])
    assert not set("01AB") & set(big["none"]) and "training points" not in big["none"]


def test_an_imported_model_takes_its_plane_from_data(capsys, xor_file, tmp_path):
    """A model from another framework does not say its data: pynn surface takes --data, as the other commands do,
    and draws the same surface as from pynn's own file."""
    onnx_file = tmp_path / "xor.onnx"
    assert main(["export", str(xor_file), "--to", str(onnx_file)]) == 0
    capsys.readouterr()
    status, _, err = pynn(capsys, "surface", str(onnx_file))
    assert status == 2 and "give it with --data" in err
    status, out, err = pynn(capsys, "surface", str(onnx_file), "--data", "xor", "--resolution", "20", "--json")
    assert status == 0, err
    _, own, _ = pynn(capsys, "surface", str(xor_file), "--resolution", "20", "--json")
    assert np.allclose(json.loads(out)["decision"], json.loads(own)["decision"], atol=1e-5)
