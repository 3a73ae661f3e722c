"""Shared fixtures: seeded generators, the bundled digits (loaded once per test session), and paced workbenches
whose runs always end when the test does."""
import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def digits():
    from pynn.data import load_dataset

    return load_dataset("digits")


@pytest.fixture
async def paced_workbench():
    """Makes PacedWorkbench(...)s; afterwards stops their runs, so a test that fails while a run is held never
    leaves a training thread waiting behind it. (An async fixture: its teardown comes before the test's event
    loop closes, which waits for the app's training thread.)"""
    from apptext import PacedWorkbench

    made = []

    def make(*args, **kwargs):
        made.append(PacedWorkbench(*args, **kwargs))
        return made[-1]

    yield make
    for bench in made:
        bench.stop()
