"""Shared fixtures: the committed sample (canonical form) and a tiny synthetic dataset."""

from __future__ import annotations

import pytest

import envejind_eval as ee


@pytest.fixture(scope="session")
def sample_ds() -> ee.Dataset:
    """The bundled sample, loaded from ``data/sample/canonical``."""
    return ee.Dataset.from_canonical(ee.sample_path() / "canonical")


@pytest.fixture(scope="session")
def tiny_ds() -> ee.Dataset:
    """One municipality, one team of five, one dropout (``synthesize(scale="tiny")``)."""
    from envejind_eval.synth import synthesize

    return synthesize(seed=2018, scale="tiny")[0]
