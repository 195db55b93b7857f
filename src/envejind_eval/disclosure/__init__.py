"""Disclosure control: every number and figure meant for publication passes here.

Public API (imported lazily):

- :class:`DisclosureRules` -- thresholds (``min_cell`` 5, never below 3; 0/100 % shares in
  groups under ``2 * min_cell``; order statistics need ``min_cell`` persons sharing a value).
- :class:`Gate`, :class:`Release`, :class:`PublishedTable` -- the report registers each table
  of a run; the gate applies primary and LP-verified secondary suppression across all
  tables, per-municipality reports and earlier editions, and returns NaN-masked data, a
  display version ("<5", "..") with a footnote, and a suppression log for the manifest.
- :func:`verify` / :meth:`Gate.verify` -- the linear-programming audit of every protected
  cell and every aggregate a reader can form (complete; most aggregates are proved safe in
  bulk by :mod:`.aggregates`).
- :class:`Ledger` -- release ledger (earlier editions) in the output folder.
- :func:`scan` (alias :func:`scan_paths`) -- leak guard for CPR-shaped strings and
  pseudonyms in output files.

See ``docs/disclosure.md`` for the rules, their sources and the defaults.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    "DisclosureRules": "envejind_eval.disclosure.rules",
    "rules_table": "envejind_eval.disclosure.rules",
    "Gate": "envejind_eval.disclosure.gate",
    "Release": "envejind_eval.disclosure.gate",
    "PublishedTable": "envejind_eval.disclosure.gate",
    "verify": "envejind_eval.disclosure.verify",
    "Verification": "envejind_eval.disclosure.verify",
    "Ledger": "envejind_eval.disclosure.ledger",
    "scan": "envejind_eval.disclosure.scan",
    "scan_paths": "envejind_eval.disclosure.scan",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'envejind_eval.disclosure' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(__all__)
