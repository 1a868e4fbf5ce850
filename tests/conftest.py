"""Shared pytest configuration and fixtures for the barecnn test suite."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

# Make tests/helpers.py importable as ``helpers`` whatever the import mode.
sys.path.insert(0, os.path.dirname(__file__))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: property-based or loop-heavy tests (deselect with -m 'not slow')")


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, fixed-seed NumPy generator for each test."""
    return np.random.default_rng(20240611)
