"""Every docstring example in the package runs (numpydoc Examples on the bundled sample)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import envejind_eval

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(envejind_eval.__path__, prefix="envejind_eval.")
    if not m.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    mod = importlib.import_module(name)
    res = doctest.testmod(
        mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    assert res.failed == 0, f"{res.failed} docstring example(s) fail in {name}"
