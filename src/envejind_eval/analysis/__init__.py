"""Analysis layer: progression statistics, models, attendance, retention, status outcomes.

Public functions are imported lazily from their modules (statsmodels is slow to import).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    # progression (paired pre/post statistics, reliable change, trajectories)
    "pre_post": "progression",
    "reliable_change": "progression",
    "trajectories": "progression",
    # models and municipality comparison
    "mixed_model": "models",
    "marginal_homogeneity": "models",
    "compare_municipalities": "meta",
    # missing data
    "attrition": "missing",
    "pre_post_imputed": "missing",
    # attendance, dose, fidelity
    "attendance_summary": "attendance",
    "daily_rhythm": "attendance",
    "activity_dose": "attendance",
    "fidelity": "attendance",
    # retention and status outcomes
    "retention": "survival",  # not "retention": the submodule would shadow the function
    "status_outcomes": "outcomes",
    "dose_response": "outcomes",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        mod = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        value = getattr(mod, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
