"""What the `pynn` command writes, read as a user reads it: greedy sampling at temperature 0, counts in the
singular, a summary that does not invent an output head, and piped output whose lines stay whole."""
import json

import numpy as np
import pytest

from pynn.data import load_dataset
from pynn.data.text import one_hot
from pynn.files import save_model
from pynn.model import build_model
from test_cli import pynn


# -- pynn sample --temperature ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def char_model(tmp_path_factory):
    """An untrained character model saved to a file, and the model itself to compute the oracle with."""
    folder = tmp_path_factory.mktemp("chars")
    corpus = folder / "corpus.txt"
    corpus.write_text("to be or not to be, that is the question.\n" * 20)
    data = load_dataset(str(corpus), lookback=8)
    model = build_model(f"lstm8*-{len(data.class_names)}", data, seed=3)
    return save_model(model, folder / "chars.npz"), model


def greedy_text(model, prime: str, length: int) -> str:
    """The oracle: at every step the likeliest next character, read off the model's own forward pass."""
    vocab, window = model.class_names, model.input_shape[0]
    codes = [vocab.index(ch) for ch in prime]
    for _ in range(length):
        logits = model.forward(one_hot(np.array(codes[-window:])[None], len(vocab)))[0, -1]
        codes.append(int(np.argmax(logits)))
    return "".join(vocab[c] for c in codes)


@pytest.mark.parametrize("temperature", ["0", "1e-320"])   # 1e-320: so sharp it is greedy too, with no NaN
def test_temperature_zero_takes_the_likeliest_character_every_step(char_model, temperature):
    path, model = char_model
    texts = [json.loads(pynn("sample", str(path), "--temperature", temperature, "--length", "30", "--prime", "to",
                             "--seed", seed, "--json").stdout)["text"] for seed in ("0", "7")]
    assert texts[0] == texts[1] == greedy_text(model, "to", 30)   # greedy: the seed plays no part


@pytest.mark.parametrize("value", ["-0.5", "nan"])
def test_a_negative_temperature_is_one_sentence_and_exit_2(char_model, value):
    proc = pynn("sample", str(char_model[0]), "--temperature", value, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--temperature" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
