"""envejind_eval: evaluation toolkit for the "En vej ind" programme.

The public API is listed in ``__all__``. Heavy modules (pandas, statsmodels, plotnine) are
imported lazily on first attribute access so that ``import envejind_eval`` stays fast.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("envejind_eval")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "Dataset": "envejind_eval.dataset",
    "load": "envejind_eval.ingest",
    "Instrument": "envejind_eval.instruments",
    "load_instrument": "envejind_eval.instruments",
    "get_instrument": "envejind_eval.instruments",
    "scores": "envejind_eval.instruments.scoring",
    "synthesize": "envejind_eval.synth",
    # progression and statistics
    "pre_post": "envejind_eval.analysis",
    "reliable_change": "envejind_eval.analysis",
    "trajectories": "envejind_eval.analysis",
    "mixed_model": "envejind_eval.analysis",
    "compare_municipalities": "envejind_eval.analysis",
    "attrition": "envejind_eval.analysis",
    "pre_post_imputed": "envejind_eval.analysis",
    "marginal_homogeneity": "envejind_eval.analysis",
    # attendance, dose, retention, status outcomes
    "attendance_summary": "envejind_eval.analysis",
    "daily_rhythm": "envejind_eval.analysis",
    "activity_dose": "envejind_eval.analysis",
    "fidelity": "envejind_eval.analysis",
    "retention": "envejind_eval.analysis",
    "status_outcomes": "envejind_eval.analysis",
    "dose_response": "envejind_eval.analysis",
    # errors
    "EnvejindError": "envejind_eval.errors",
    "DataValidationError": "envejind_eval.errors",
    "InsufficientDataError": "envejind_eval.errors",
    "DisclosureError": "envejind_eval.errors",
    "IngestError": "envejind_eval.errors",
    "InstrumentError": "envejind_eval.errors",
}

__all__ = ["__version__", "sample_path", *_LAZY]


def sample_path() -> Path:
    """Folder of the bundled synthetic sample delivery (``data/sample`` in the repository)."""
    return Path(__file__).resolve().parents[2] / "data" / "sample"


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'envejind_eval' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover  (static view of the lazy names above)
    from envejind_eval.analysis import (  # noqa: F401
        activity_dose,
        attendance_summary,
        attrition,
        compare_municipalities,
        daily_rhythm,
        dose_response,
        fidelity,
        marginal_homogeneity,
        mixed_model,
        pre_post,
        pre_post_imputed,
        reliable_change,
        retention,
        status_outcomes,
        trajectories,
    )
    from envejind_eval.dataset import Dataset  # noqa: F401
    from envejind_eval.ingest import load  # noqa: F401
    from envejind_eval.instruments import (  # noqa: F401
        Instrument,
        get_instrument,
        load_instrument,
    )
    from envejind_eval.instruments.scoring import scores  # noqa: F401
    from envejind_eval.synth import synthesize  # noqa: F401
