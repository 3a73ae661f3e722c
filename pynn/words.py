"""How pynn writes a count in a sentence, the same in the library's messages, the command and the app:
"1 epoch", "2 epochs", "10,000 samples"."""
from __future__ import annotations


def plural(n, noun: str, nouns: str | None = None) -> str:
    """n and the noun, in the plural unless n is 1; nouns is the plural when adding "s" (or "es" after s, x
    and sh: "classes") is wrong, e.g. "batches" ("epochs" ends in ch too). A noun of several words takes the
    plural on its last: "1 test sample", "2 test samples"."""
    if n == 1:
        return f"1 {noun}"
    return f"{n:,} {nouns or noun + ('es' if noun.endswith(('s', 'x', 'sh')) else 's')}"
