"""Shared fixtures: seeded generators and the bundled digits, loaded once per test session."""
import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def digits():
    from pynn.data import load_dataset

    return load_dataset("digits")
