"""Lets the tests run from a checkout against the pynn that `pip install '.[test]'` installed.

`python -m pytest` puts the current folder first on sys.path, and pytest puts this file's folder there too,
so the checkout's own pynn would shadow the installed one; but its C core exists only once built in place
(an editable install or `python -m pynn._build`). Without that core the checkout moves to the end of the
path: the installed pynn and tui are imported, and the tests' helpers are still found in the checkout.
"""
import importlib.machinery
import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent


def _is_checkout(entry: str) -> bool:
    try:
        return Path(entry or ".").resolve() == CHECKOUT
    except OSError:
        return False


if importlib.machinery.PathFinder.find_spec("pynn._core", [str(CHECKOUT / "pynn")]) is None:
    sys.path[:] = [entry for entry in sys.path if not _is_checkout(entry)] + [str(CHECKOUT)]
