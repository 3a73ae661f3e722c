"""The run description: defaults stated once, round trips through dicts and TOML, one sentence per bad value."""
import dataclasses

import pytest

from pynn.errors import PynnError
from pynn.run import DEFAULT_LR, ConfigError, RunConfig, field_names, parse_value


def test_the_house_defaults_are_the_classic_network():
    config = RunConfig()
    assert (config.data, config.model, config.epochs, config.batch, config.optimizer) == ("digits", None, 10, 10, "sgd")
    assert config.learning_rate == DEFAULT_LR["sgd"] == 0.5
    assert RunConfig(optimizer="adam").learning_rate == 0.001 and RunConfig(lr=0.2).learning_rate == 0.2


def test_a_description_round_trips_through_a_dict_and_toml(tmp_path):
    config = RunConfig(model="784-20-10", epochs=1, limit=500, standardize=True, lr=0.1, target="y", l2=5.0)
    assert RunConfig.from_dict(config.to_dict()) == config
    path = tmp_path / "run.toml"
    path.write_text(config.to_toml())
    assert RunConfig.from_toml(path) == config
    assert set(config.changed_fields()) == {"model", "epochs", "limit", "standardize", "lr", "target", "l2"}


def test_a_file_a_person_writes_reads_with_the_flags_names(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('model = "784-20-10"\nepochs = 1\nval_split = 0.1\n# a comment\nas_sequence = false\n')
    config = RunConfig.from_toml(path)
    assert (config.model, config.epochs, config.val_split) == ("784-20-10", 1, 0.1)


def test_the_data_recipe_names_load_datasets_keywords():
    recipe = RunConfig(data="sine", lookback=12, horizon=2, limit=300).data_recipe()
    assert recipe == {"name": "sine", "options": {"lookback": 12, "horizon": 2, "n": 300}}
    assert RunConfig().data_recipe() == {"name": "digits", "options": {}}


@pytest.mark.parametrize("values, field, words", [
    ({"epochs": 0}, "epochs", "epochs must be at least 1, not 0."),
    ({"batch": "ten"}, "batch", "batch must be a whole number"),
    ({"optimizer": "rmsprop"}, "optimizer", "optimizer must be one of sgd, momentum, adam"),
    ({"lr": -1}, "lr", "lr must be a positive number"),
    ({"val_split": 1.0}, "val_split", "val_split must be in [0, 1)"),
    ({"early_stop": 3}, "early_stop", "early_stop watches the validation loss"),
    ({"epochs": 2.5}, "epochs", "epochs must be a whole number"),
    ({"standardize": "maybe"}, "standardize", "standardize must be true or false"),
    ({"dropout": 1.0}, "dropout", "dropout must be in [0, 1)"),
])
def test_each_bad_value_is_one_sentence_naming_the_field(values, field, words):
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict(values)
    assert err.value.field == field and str(err.value).startswith(words)
    assert err.value.worded_for(lambda name: "--" + name.replace("_", "-")).startswith("--" + field.replace("_", "-"))


def test_an_unknown_field_lists_the_known_ones(tmp_path):
    with pytest.raises(PynnError, match="Unknown field 'epoch' in .*the fields are model, "):
        RunConfig.from_dict({"epoch": 3})
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = \n")
    with pytest.raises(PynnError, match="is not valid TOML"):
        RunConfig.from_toml(bad)


def test_text_values_parse_as_each_field_means():
    assert parse_value("epochs", "3") == 3 and parse_value("lr", "0.1") == 0.1 and parse_value("lr", "") is None
    assert parse_value("standardize", "yes") is True and parse_value("model", "784-30-10") == "784-30-10"
    assert RunConfig().replace(epochs="4", lr="default").epochs == 4
    assert set(field_names()) == {f.name for f in dataclasses.fields(RunConfig)}
