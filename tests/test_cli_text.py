"""What the `pynn` command writes, read as a user reads it: greedy sampling at temperature 0, counts in the
singular, a summary that does not invent an output head, and piped output whose lines stay whole."""
import json
import re

import numpy as np
import pytest

from pynn.data import load_dataset
from pynn.data.text import one_hot
from pynn.files import save_model
from pynn.model import build_model
from pynn.words import plural
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
        logits = model.forward(one_hot(np.array(codes[-window:])[None], len(vocab)))[0][0, -1]
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


# -- piped output: lines stay whole ------------------------------------------------------------------------

def test_piped_text_and_tables_are_not_wrapped():
    lines = pynn("summary", "20x1-lstm300-20").stdout.splitlines()   # stdout is a pipe here
    # a sentence longer than any terminal stays on its line
    assert any(line.startswith("outputs: only the last hidden state h_20") and line.endswith("not passed on.")
               for line in lines)
    assert any(line.startswith("total: ") and line.endswith("5,756.6 KiB") for line in lines)
    # the table keeps its natural width instead of being folded into 100 columns
    row = next(line for line in lines if "1 LSTM(300)" in line)
    assert "Wx, dWx (1200, 1)  Wh, dWh (1200, 300)  b, db (1200, 1)" in row and "per step: x_t (m, 1) -> gates" in row
    assert len(row) > 100


def test_a_wide_table_piped_keeps_every_column_whole():
    spec = "784-" + "-".join(["1000"] * 6) + "-10"
    lines = pynn("summary", spec).stdout.splitlines()
    rows = [line for line in lines if line.startswith("│ ")]
    assert len(rows) == 1 + 7   # the input and seven layers, one line each
    assert len({len(line) for line in lines if line[:1] in "┏┃┡│└"}) == 1   # every line of the table as wide


def test_a_note_on_a_piped_stderr_is_one_line():
    proc = pynn("train", "--data", "xor", "--model", "2-4-2:softmax", "--epochs", "1")
    notes = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(notes) == 1 and notes[0].startswith("note: ") and notes[0].endswith("stalls learning).")


def test_a_narrow_table_piped_keeps_its_title_on_one_line(tmp_path):
    data = load_dataset("xor")
    path = save_model(build_model("2-4:tanh-2", data, seed=0), tmp_path / "xor.npz")
    lines = pynn("eval", str(path), "--data", "xor").stdout.splitlines()
    assert "confusion matrix (rows: true, columns: predicted)" in lines


# -- pynn summary: the output head follows the data ---------------------------------------------------------

def test_a_spec_without_data_does_not_invent_an_output_head():
    out = pynn("summary", "20x1-lstm300-20").stdout
    assert "softmax)" not in out and "Dense(20, head follows the data)" in out
    assert "softmax + cross-entropy for class labels" in out and "linear + quadratic cost (MSE) for real values" in out
    summary = json.loads(pynn("summary", "20x1-lstm300-20", "--json").stdout)
    assert summary["loss"] is None and summary["layers"][-1]["activation"] is None
    assert summary["total_params"] == 362_400 + 20 * 300 + 20    # the same for every head


@pytest.mark.parametrize("args,head,loss", [
    (["20x1-lstm300-20", "--data", "sine", "--horizon", "20"], "Dense(20, identity)", "mse"),
    (["784-30-10", "--data", "digits"], "Dense(10, softmax)", "xent"),
])
def test_with_data_the_summary_shows_the_head_that_applies(args, head, loss):
    out = pynn("summary", *args).stdout
    assert head in out and "follows the data" not in out
    assert json.loads(pynn("summary", *args, "--json").stdout)["loss"] == loss


@pytest.mark.parametrize("spec,head", [("2-3-1:identity", "Dense(1, identity)"), ("2-3-1:sigmoid", "Dense(1, sigmoid)"),
                                       ("2-3-4:softmax", "Dense(4, softmax)")])
def test_a_written_output_activation_needs_no_data(spec, head):
    out = pynn("summary", spec).stdout
    assert head in out and "follows the data" not in out


# -- counts in the singular ------------------------------------------------------------------------------

@pytest.mark.parametrize("n,noun,text", [(1, "epoch", "1 epoch"), (2, "epoch", "2 epochs"), (0, "unit", "0 units"),
                                         (10_000, "test sample", "10,000 test samples"), (1, "class", "1 class"),
                                         (3, "class", "3 classes"), (np.int64(1), "step", "1 step")])
def test_a_count_takes_the_plural_unless_it_is_one(n, noun, text):
    assert plural(n, noun) == text


SINGULAR_SLIPS = re.compile(r"(?<![\d,./])1 (epoch|unit|sample|layer|step|feature|neuron|run|value|target)s\b")


def test_one_epoch_of_training_is_written_in_the_singular():
    out = pynn("train", "--data", "xor", "--model", "2-4:tanh-2", "--epochs", "1").stdout
    assert ", 1 epoch" in out and "after 1 epoch," in out and not SINGULAR_SLIPS.search(out)


def test_a_one_unit_one_step_lstm_is_described_in_the_singular():
    out = pynn("summary", "1x1-lstm1-1").stdout
    assert "each sample is 1 step of 1 feature" in out and "unrolled over 1 step " in out
    assert "its 1 unit is the width" in out and not SINGULAR_SLIPS.search(out)
