"""The Python front door: `import pynn` and the Keras-sized API the README shows (load_dataset, build, Sequential of
layer objects, fit with the run description's fields, evaluate, predict, save, load, pynn.inspect)."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pynn
from pynn.errors import PynnError
from pynn.experiments.workers import ProcessExecutor
from pynn.run import ConfigError

PYNN_DIR = Path(pynn.__file__).resolve().parent
SOURCE = Path(__file__).resolve().parents[1] / "pynn"  # the checkout's library, beside csrc/

# the README's "Python API" snippet, verbatim
SNIPPET = '''
import pynn
data = pynn.load_dataset("digits")
model = pynn.build("784-30-10", data)            # or pynn.Sequential([pynn.Dense(30, "sigmoid"), pynn.Dense(10)])
history = model.fit(data, epochs=3, seed=1)      # keyword settings are the run description's fields
model.evaluate(data)["accuracy"]                 # test split by default
model.predict(data.x_test[:5])
pynn.save(model, "m.npz"); model = pynn.load("m.npz")
pynn.inspect.weight_maps(model)                  # the analyses, importable from pynn.inspect
'''


@pytest.fixture(scope="module")
def small_digits():
    return pynn.load_dataset("digits", n=2000)


def test_the_readme_snippet_runs_and_learns(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    names = {}
    exec(SNIPPET, names)
    model, data, history = names["model"], names["data"], names["history"]
    assert (tmp_path / "m.npz").is_file()
    assert len(history) == 3 and history[-1].loss < history[0].loss
    assert model.evaluate(data)["accuracy"] > 0.85  # the model read back from m.npz
    assert model.predict(data.x_test[:5]).shape == (5, 10)
    assert pynn.inspect.weight_maps(model).incoming.shape == (30, 784)


def test_fit_records_its_run_in_the_model_description(small_digits):
    model = pynn.build("784-30-10", small_digits)
    assert model.run.model == "784-30-10" and model.run.data == "digits" and model.run.seed == 0
    model.fit(small_digits, epochs=1, batch=20, seed=4)
    assert (model.run.epochs, model.run.batch, model.run.seed, model.run.model) == (1, 20, 4, "784-30-10")
    assert len(model.history) == 1


def test_a_sequential_of_layer_objects_equals_the_same_spec_built_for_the_same_seed(small_digits):
    hidden, output = pynn.Dense(30, "sigmoid"), pynn.Dense(10)
    from_layers = pynn.Sequential([hidden, output])
    history = from_layers.fit(small_digits, epochs=2, seed=3)
    # built with the house seed 0: untrained, it draws its weights again for fit's seed
    from_spec = pynn.build("784-30:sigmoid-10", small_digits)
    from_spec.fit(small_digits, epochs=2, seed=3)
    assert len(history) == 2 and from_layers.evaluate(small_digits)["accuracy"] > 0.8
    assert np.array_equal(from_layers.params, from_spec.params)
    assert np.array_equal(from_layers.predict(small_digits.x_test), from_spec.predict(small_digits.x_test))
    # the head followed the data (softmax inside cross-entropy), the model knows its spec, the layers their weights
    assert from_layers.loss.name == "xent" and output.activation == "softmax" and output.fused_into_loss
    assert from_layers.run.model == "28x28-30:sigmoid-10" and hidden.W.shape == (30, 784)


def test_a_sequential_of_layers_takes_the_runs_hidden_activation_and_loss(small_digits):
    hidden = pynn.Dense(16)
    model = pynn.Sequential([hidden, pynn.Dropout(0.2), pynn.Dense(10)])
    model.fit(small_digits, epochs=1, activation="relu", loss="mse")
    assert hidden.activation == "relu" and model.loss.name == "mse" and model.layers[-1].activation == "identity"


@pytest.mark.parametrize("layers,sentence", [
    (lambda: [], "A model needs at least one layer"),
    (lambda: [pynn.Dropout(0.5)], "has only Dropout; end it with a Dense output layer"),
    (lambda: [pynn.Dropout(0.5), pynn.Dropout(0.2)], "has only Dropout"),
    (lambda: [pynn.Dense(3), pynn.LSTM(4)], "ends with a Dense output layer, e.g. pynn.Dense(10), but this one ends with LSTM"),
    (lambda: pynn.Dense(3), "Sequential takes a list of layers"),
    (lambda: [pynn.Dense(3), "relu", pynn.Dense(2)], "Layer 2 is str 'relu', not a layer"),
    (lambda: [pynn.Dense(5, "softmax"), pynn.Dense(2)], "Layer 1 is a hidden softmax"),
])
def test_a_model_that_cannot_be_made_is_one_sentence(layers, sentence):
    with pytest.raises(PynnError) as err:
        pynn.Sequential(layers())
    assert sentence in str(err.value) and str(err.value).endswith(".") and "\n" not in str(err.value)


def test_one_layer_object_in_two_places_is_refused():
    shared = pynn.Dense(8)
    with pytest.raises(PynnError, match="Layers 1 and 2 are the same Dense object"):
        pynn.Sequential([shared, shared, pynn.Dense(2)])


def test_a_model_of_layers_needs_data_before_it_predicts(small_digits):
    with pytest.raises(PynnError, match="no weights yet to predict with.*fit it first"):
        pynn.Sequential([pynn.Dense(10)]).predict(small_digits.x_test[:2])


@pytest.mark.parametrize("make,sentence", [
    (lambda: pynn.Dense(0), "units must be at least 1, not 0."),
    (lambda: pynn.Dense("30"), "units must be a whole number, not '30'."),
    (lambda: pynn.Dense(2.5), "units must be a whole number, not 2.5."),
    (lambda: pynn.Dense(3, 7), "activation must be a name such as 'relu', not 7."),
    (lambda: pynn.Dense(3, "relu", alpha=-1), "alpha must not be negative, not -1."),
    (lambda: pynn.Dropout(1.5), "p must be in [0, 1), not 1.5."),
    (lambda: pynn.Dropout("half"), "p must be a number, not 'half'."),
    (lambda: pynn.LSTM(0), "units must be at least 1, not 0."),
    (lambda: pynn.LSTM(4, return_sequences="yes"), "return_sequences must be True or False, not 'yes'."),
    (lambda: pynn.LSTM(4, forget_bias=float("nan")), "forget_bias must be a number, not nan."),
])
def test_layer_arguments_are_checked_with_their_names(make, sentence):
    with pytest.raises(PynnError) as err:
        make()
    assert str(err.value) == sentence


@pytest.mark.parametrize("fields,sentence", [
    ({"epochs": 0}, "epochs must be at least 1, not 0."),
    ({"batch": "ten"}, "batch must be a whole number, not 'ten'"),
    ({"optimizer": "rmsprop"}, "optimizer must be one of sgd, momentum, adam, not 'rmsprop'."),
    ({"lr": -0.1}, "lr must be a positive number, not -0.1."),
    ({"val_split": 1.0}, "val_split must be in [0, 1), not 1.0."),
    ({"early_stop": 2}, "early_stop watches the validation loss, so it needs val_split"),
    ({"epoch": 3}, "Unknown field 'epoch' in model.fit; the fields are model, activation"),
    ({"lookback": 5}, "lookback describes how data is loaded, and fit takes the data itself"),
    ({"activation": "relu"}, "activation shapes the layers, which this model already has; give it to pynn.build."),
    ({"dropout": 0.5}, "dropout shapes the layers"),
])
def test_fit_checks_its_fields_by_their_names_before_training(small_digits, fields, sentence):
    model = pynn.build("784-30-10", small_digits)
    before = model.snapshot()
    with pytest.raises(PynnError) as err:
        model.fit(small_digits, **fields)
    assert sentence in str(err.value) and "--" not in str(err.value)
    assert np.array_equal(model.params, before) and model.run.epochs == pynn.RunConfig().epochs


def cli_words(name: str) -> str:
    return "--" + name.replace("_", "-")


@pytest.mark.parametrize("call,library,command_line", [
    (lambda tmp: pynn.load_dataset("digits", difference=True), "difference models the change", "--difference models"),
    (lambda tmp: pynn.load_dataset("xor", as_sequence=True), "as_sequence reads images", "--as-sequence reads"),
    (lambda tmp: pynn.load_dataset("sine", lookback=0), "lookback and horizon must be at least 1, not 0 and 1.",
     "--lookback and --horizon must"),
    (lambda tmp: pynn.load_dataset(str(tmp / "tiny.txt"), lookback=64), "lookback of 64 needs a text of at least 130",
     "--lookback of 64 needs"),
    (lambda tmp: pynn.load_dataset(str(tmp / "tiny.bin")), "(labels names the second)", "(--labels names the second)"),
    (lambda tmp: pynn.build("2-3-2:relu", pynn.load_dataset("xor")), "or use loss bce for independent sigmoids",
     "--loss xent (cross-entropy) needs a softmax output"),
    (lambda tmp: pynn.build("2-3-2:softmax", pynn.load_dataset("xor"), loss="mse"), "loss mse (the quadratic cost) "
     "with a softmax output is not supported", "--loss mse (the quadratic cost)"),
    (lambda tmp: ProcessExecutor(0), "jobs must be at least 1, not 0.", "--jobs must"),
])
def test_library_errors_name_parameters_and_the_command_line_words_them_as_flags(tmp_path, call, library,
                                                                                  command_line):
    (tmp_path / "tiny.txt").write_text("hello world, short.")
    (tmp_path / "tiny.bin").write_bytes(b"")
    with pytest.raises(ConfigError) as err:
        call(tmp_path)
    assert library in str(err.value) and "--" not in str(err.value)
    assert command_line in err.value.worded_for(cli_words)


def test_a_cluster_address_is_refused_in_words_a_python_caller_can_read():
    from pynn.experiments.cluster import DaskExecutor

    with pytest.raises(PynnError) as err:
        DaskExecutor("my-scheduler")
    assert "'my-scheduler' is not a scheduler address" in str(err.value) and "--" not in str(err.value)


def test_fit_keeps_a_trained_models_first_weights_as_they_were(small_digits):
    model = pynn.build("784-30-10", small_digits)
    model.fit(small_digits, epochs=1)
    with pytest.raises(PynnError, match="init draws the first weights, and this model has trained already"):
        model.fit(small_digits, epochs=1, init="he")
    trained = model.snapshot()
    model.fit(small_digits, epochs=1, seed=9)  # a new seed shuffles anew, from the weights it has
    assert not np.array_equal(model.params, trained) and model.run.seed == 9


def test_fit_and_build_take_a_dataset():
    with pytest.raises(PynnError, match=r"fit takes a Dataset, e\.g\. pynn\.load_dataset\(\"digits\"\), not ndarray"):
        pynn.build("4-3-2").fit(np.zeros((3, 4), np.float32))


def test_evaluate_on_a_dataset_agrees_with_evaluate_on_its_arrays(small_digits):
    model = pynn.build("784-20-10", small_digits, seed=2)
    model.fit(small_digits, epochs=1)
    assert model.evaluate(small_digits) == model.evaluate(small_digits.x_test, small_digits.y_test)
    assert model.evaluate(small_digits, split="train") == model.evaluate(small_digits.x_train, small_digits.y_train)
    assert model.evaluate(small_digits)["accuracy"] != model.evaluate(small_digits, split="train")["accuracy"]
    with pytest.raises(PynnError, match="split must be 'train' or 'test', not 'val'."):
        model.evaluate(small_digits, split="val")
    with pytest.raises(PynnError, match="targets y are missing"):
        model.evaluate(small_digits.x_test)


def test_a_saved_model_loads_with_the_same_predictions(tmp_path, small_digits):
    model = pynn.build("784-12-10", small_digits, seed=5)
    model.fit(small_digits, epochs=1, batch=50)
    pynn.save(model, tmp_path / "m.npz")
    loaded = pynn.load(tmp_path / "m.npz")
    assert np.array_equal(loaded.predict(small_digits.x_test), model.predict(small_digits.x_test))


def test_import_pynn_loads_neither_numpy_nor_the_compiled_core(tmp_path):
    probe = ("import sys, pynn\n"
             "assert not [m for m in sys.modules if m.startswith(('numpy', 'pynn.'))], sorted(sys.modules)\n"
             "assert pynn.inspect.__name__ == 'pynn.inspect' and 'pynn._core' not in sys.modules\n"
             "assert {'build', 'Sequential', 'Dense', 'LSTM', 'Dropout', 'save', 'load', 'inspect'} <= set(dir(pynn))\n"
             "pynn.Sequential\n"
             "assert 'pynn._core' in sys.modules\n")
    env = dict(os.environ, PYTHONPATH=str(PYNN_DIR.parent))
    # from a folder of its own: in the checkout, `python -c` would import the checkout's pynn, whose core exists
    # only in an editable install
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with pytest.raises(AttributeError, match="has no attribute 'Conv9'"):
        pynn.Conv9


def test_the_build_script_run_from_its_folder_does_not_shadow_the_standard_library():
    # the checkout's own file (the installed package has no csrc/ beside it to build from);
    # `python pynn/_build.py` puts pynn/ first on sys.path, where pynn/inspect would be the stdlib's inspect
    # (dataclasses, pycparser and setuptools use inspect.signature); run the file as that does, short of compiling
    probe = (f"import sys, runpy\nsys.path.insert(0, {str(SOURCE)!r})\n"
             f"runpy.run_path({str(SOURCE / '_build.py')!r})\n"
             "import inspect\nassert callable(inspect.signature), inspect.__file__\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=SOURCE)
    assert result.returncode == 0, result.stderr


def test_weight_maps_take_the_shape_of_the_data_the_model_saw(tmp_path):
    """A 784-30-10 model reads 28x28 digits: its maps are 28x28 without being told, also after a save."""
    data = pynn.load_dataset("digits", n=300)
    model = pynn.build("784-6-10", data)
    assert pynn.inspect.weight_maps(model).maps.shape == (6, 28, 28)
    pynn.save(model, tmp_path / "m.npz")
    assert pynn.inspect.weight_maps(pynn.load(tmp_path / "m.npz")).maps.shape == (6, 28, 28)
    assert pynn.inspect.weight_maps(model, sample_shape=(784,)).maps.shape == (6, 1, 784)


def test_a_model_built_on_loaded_data_records_where_the_data_came_from(tmp_path):
    data = pynn.load_dataset("digits", n=400, standardize=True)
    model = pynn.build("784-5-10", data)
    assert model.run.data_recipe() == {"name": "digits", "options": {"n": 400, "standardize": True}}
    pynn.save(model, tmp_path / "m.npz")
    again = pynn.load(tmp_path / "m.npz").run.load_data()
    assert np.array_equal(again.x_train, data.x_train) and np.array_equal(again.y_test, data.y_test)
