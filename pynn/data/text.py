"""Character text as sequence data: one-hot characters in, the next character out at every step."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pynn.data.dataset import CLASSIFICATION, Dataset
from pynn.errors import PynnError
from pynn.run import ConfigError
from pynn.words import plural

SHAKESPEARE = Path(__file__).parent / "text" / "tinyshakespeare.txt"
DEFAULT_CHARS = 200_000  # enough for a model to learn words in minutes, small enough to one-hot in memory


def one_hot(indices: np.ndarray, vocab_size: int) -> np.ndarray:
    out = np.zeros((*indices.shape, vocab_size), np.float32)
    np.put_along_axis(out, indices[..., None], 1.0, axis=-1)
    return out


def text_dataset(path: str | Path = SHAKESPEARE, *, lookback: int | None = None, n: int | None = None,
                 seed: int = 0, name: str | None = None) -> Dataset:
    """Windows of `lookback` characters (default 64) from the first n characters (default 200,000); the
    target at each step is the character that follows. The last tenth of the windows is the test set."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise PynnError(f"No such file: {path}.") from None
    except UnicodeDecodeError as err:
        raise PynnError(f"{path} is not UTF-8 text (byte {err.start} cannot be decoded).") from None
    steps = lookback or 64
    text = text[: n or DEFAULT_CHARS]
    if len(text) < 2 * (steps + 1):
        raise ConfigError("lookback", f"of {steps} needs a text of at least {2 * (steps + 1)} characters for a "
                          f"character model; {path} has {plural(len(text), 'character')}")
    vocab = sorted(set(text))
    codes = np.searchsorted(vocab, list(text)).astype(np.int32)  # vocab is sorted: a position is a code
    windows = (len(codes) - 1) // steps
    starts = np.arange(windows) * steps
    inputs = np.stack([codes[s:s + steps] for s in starts])
    targets = np.stack([codes[s + 1:s + steps + 1] for s in starts]).astype(np.int32)
    n_test = max(1, windows // 10)
    x = one_hot(inputs, len(vocab))
    return Dataset(name or path.stem, x[:-n_test], targets[:-n_test], x[-n_test:], targets[-n_test:],
                   (steps, len(vocab)), CLASSIFICATION, vocab, source=f"text {path.name}",
                   meta={"kind": "text", "chars": len(text)})
