"""Text from a character model: feed the recent characters, sample the next from the softmax of the last
step's output divided by a temperature (at temperature 0, take the likeliest), append, repeat."""
from __future__ import annotations

import numpy as np

from pynn.data.text import one_hot
from pynn.errors import PynnError


def generate_text(model, vocab: list[str], *, length: int = 300, prime: str = "\n", temperature: float = 1.0,
                  seed: int = 0) -> str:
    if not temperature >= 0:  # written this way so NaN is refused too
        raise PynnError(f"--temperature must be 0 (always the likeliest character) or positive, not {temperature}.")
    unknown = sorted(set(prime) - set(vocab))
    if unknown:
        raise PynnError(f"The prime uses characters the model never saw: {''.join(unknown)!r}.")
    if not prime:
        raise PynnError("--prime needs at least one character.")
    window = model.input_shape[0]  # the sequence length it was trained on; the LSTM starts from zero state
    rng = np.random.default_rng(seed)
    model = model.frozen()  # one snapshot of the weights for the whole text: a run in another thread goes on
    codes = [vocab.index(ch) for ch in prime]
    for _ in range(length):
        x = one_hot(np.array(codes[-window:])[None], len(vocab))
        logits = model.forward(x)[0][0, -1].astype(np.float64)
        codes.append(int(logits.argmax()) if temperature == 0 else _draw(logits, temperature, rng))
    return "".join(vocab[c] for c in codes)


def _draw(logits, temperature: float, rng) -> int:
    """One code drawn from the softmax of logits / temperature. The largest logit is taken off before dividing,
    so a tiny temperature gives exp(-inf) = 0 for the others rather than inf - inf = NaN."""
    with np.errstate(over="ignore"):
        p = np.exp((logits - logits.max()) / temperature)
    return int(rng.choice(len(p), p=p / p.sum()))
