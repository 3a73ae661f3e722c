"""Playground's 2-D sets and input features: seeded, split and noised as asked, the features computed from the
points' coordinates (which the data keeps for drawing), and every option a field of the run description, so a
flag of train, a TOML field and part of a saved model's recipe; a bad value is one sentence."""
import numpy as np
import pytest

from pynn.data import load_dataset
from pynn.data.playground import FEATURES, PLAYGROUND, feature_matrix, parse_features
from pynn.files import load_model
from pynn.run import ConfigError, RunConfig

SETS = list(PLAYGROUND)


from test_run_cli import pynn  # noqa: E402  a command in this process: (exit status, stdout, stderr)


@pytest.mark.parametrize("name", SETS)
def test_each_set_is_seeded_and_split_as_asked(name):
    a, b, c = (load_dataset(name, seed=s, points=200, test_ratio=0.3) for s in (1, 1, 2))
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_train, c.x_train)
    assert (len(a.x_train), len(a.x_test)) == (140, 60) and a.sample_shape == (2,)
    plane = a.meta["plane"]
    assert np.array_equal(plane["x_train"], a.x_train) and plane["features"] == ["x1", "x2"]
    assert np.abs(a.x_train).max() <= 6.0


def test_the_default_split_is_half_of_500_points():
    data = load_dataset("xor")
    assert (len(data.x_train), len(data.x_test)) == (250, 250)


def test_xor_labels_follow_the_quadrants_and_noise_flips_some():
    clean = load_dataset("xor")
    same_sign = clean.x_train[:, 0] * clean.x_train[:, 1] > 0
    assert np.array_equal(clean.y_train == 1, same_sign)
    noisy = load_dataset("xor", noise=0.5)
    flipped = (noisy.y_train == 1) != (noisy.x_train[:, 0] * noisy.x_train[:, 1] > 0)
    assert 0 < flipped.mean() < 0.5


def test_spiral_is_two_armed_and_the_three_armed_one_keeps_a_name():
    assert load_dataset("spiral").n_outputs == 2
    three = load_dataset("spiral3")
    assert three.n_outputs == 3 and three.name == "spiral3"


def test_regression_sets_have_real_targets():
    plane = load_dataset("plane")
    assert plane.task == "regression" and plane.y_train.shape == (250, 1)
    assert np.allclose(plane.y_train[:, 0], plane.x_train.sum(axis=1) / 10, atol=1e-6)
    assert load_dataset("bump").y_train.min() < 0 < load_dataset("bump").y_train.max()


def test_features_are_computed_from_the_points_and_the_points_kept():
    names = "x1,x2,x1^2,x2^2,x1*x2,sin(x1),sin(x2)"
    data = load_dataset("circles", features=names)
    raw = data.meta["plane"]["x_train"]
    x1, x2 = raw[:, 0].astype(np.float64), raw[:, 1].astype(np.float64)
    expected = np.stack([x1, x2, x1 ** 2, x2 ** 2, x1 * x2, np.sin(x1), np.sin(x2)], axis=1)
    assert data.sample_shape == (7,) and np.allclose(data.x_train, expected, atol=1e-5)
    assert data.recipe["options"]["features"] == names


def test_features_read_as_people_write_them_in_the_model_inputs_order():
    assert parse_features("x1*x2, X1² ,sin x2,x1") == ["x1", "x1^2", "x1*x2", "sin(x2)"]
    assert parse_features(None) == ["x1", "x2"]
    assert feature_matrix(np.array([[2.0, 3.0]]), ["x1*x2", "x2^2"]).tolist() == [[6.0, 9.0]]
    assert list(FEATURES)[:2] == ["x1", "x2"]


@pytest.mark.parametrize("options,field", [
    ({"features": "x3"}, "features"), ({"features": ""}, "features"), ({"noise": 2.0}, "noise"),
    ({"points": 2}, "points"), ({"test_ratio": 1.0}, "test_ratio")])
def test_bad_options_name_their_field(options, field):
    with pytest.raises(ConfigError) as err:
        load_dataset("xor", **options)
    assert err.value.field == field


def test_features_need_two_numbers_a_sample(digits):
    with pytest.raises(ConfigError, match="features are computed from a sample's two numbers"):
        load_dataset("digits", features="x1,x2", n=10)


@pytest.mark.parametrize("args,flag", [
    (["--data", "xor", "--features", "x3"], "--features has 'x3'"),
    (["--data", "xor", "--noise", "3"], "--noise must be between 0 and 1"),
    (["--data", "digits", "--points", "100"], "--points"),
])
def test_bad_flags_are_one_sentence(capsys, args, flag):
    status, _, err = pynn(capsys, "train", "--epochs", "1", *args)
    assert status == 2 and flag in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_the_options_are_flags_and_saved_with_the_model(capsys, tmp_path):
    path = tmp_path / "m.npz"
    status, _, err = pynn(capsys, "train", "--data", "moons", "--features", "x1,x2,x1*x2", "--noise", "0.2",
                          "--points", "300", "--test-ratio", "0.4", "--model", "4:tanh-2", "--epochs", "1",
                          "--save", str(path))
    assert status == 0, err
    model, _ = load_model(path)
    assert model.input_shape == (3,) and model.spec.startswith("3-")
    run = model.run
    assert (run.features, run.noise, run.points, run.test_ratio) == ("x1,x2,x1*x2", 0.2, 300, 0.4)
    data = run.load_data()
    assert len(data.x_test) == 120 and data.sample_shape == (3,)
    assert RunConfig.from_dict({"data": "xor", "features": "x1,x2"}).data_recipe()["options"] == {"features": "x1,x2"}


def test_xor_with_the_playground_settings_reaches_97_percent():
    run = RunConfig(data="xor", model="2-8:tanh-2", optimizer="adam", lr=0.03, epochs=100)
    data = run.load_data()
    model = run.build_model(data)
    model.fit(data, epochs=100)
    assert model.evaluate(data)["accuracy"] >= 0.97


def test_the_spiral_on_six_features_reaches_90_percent():
    # 100 epochs of Adam at 0.01 on Playground's spiral (no noise, half for testing): 0.1 s of training
    run = RunConfig(data="spiral", features="x1,x2,x1^2,x2^2,sin(x1),sin(x2)", model="8:tanh-8:tanh-2",
                    optimizer="adam", lr=0.01, epochs=100)
    data = run.load_data()
    model = run.build_model(data)
    assert model.input_shape == (6,)
    model.fit(data)
    assert model.evaluate(data)["accuracy"] >= 0.90


def test_a_csv_of_two_numeric_columns_lies_on_the_plane(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    path = tmp_path / "two.csv"
    rows = ["a,b,label"] + [f"{p:.4f},{q:.4f},{int(p + q > 0)}" for p, q in x]
    path.write_text("\n".join(rows) + "\n")
    data = load_dataset(str(path), features="x1,x2,x1*x2")
    plane = data.meta["plane"]
    (low1, high1), (low2, high2) = plane["extent"]
    assert data.sample_shape == (3,) and low1 < x[:, 0].min() and high2 > x[:, 1].max()
    assert np.allclose(data.x_train[:, 2], plane["x_train"][:, 0] * plane["x_train"][:, 1], atol=1e-5)
    status, _, err = pynn(capsys, "train", "--data", str(path), "--points", "50")
    assert status == 2 and "--points applies to the generated sets" in err
