"""What a person types that both the commands and the app read: unit lists like 0-9,12."""
from __future__ import annotations

from pynn.errors import PynnError


def parse_units(text: str) -> list[int]:
    """'0-9,12' -> [0, 1, ..., 9, 12], in the order written, without repeats."""
    units: list[int] = []
    for part in filter(None, (p.strip() for p in str(text).split(","))):
        first, dash, last = part.partition("-")
        try:
            span = range(int(first), int(last) + 1) if dash else [int(first)]
        except ValueError:
            raise PynnError(f"Cannot read {part!r} in {text!r}; write units like 0-9,12.") from None
        if dash and int(last) < int(first):
            raise PynnError(f"The range {part!r} runs backwards; write the smaller number first.")
        units += [u for u in span if u not in units]
    if not units:
        raise PynnError(f"{text!r} names no units; write them like 0-9,12.")
    return units
