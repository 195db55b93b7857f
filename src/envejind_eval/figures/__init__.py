"""Figures of the evaluation report, built with plotnine.

Every figure function takes the tidy output of an analysis function (or a ``Dataset``),
returns a :class:`plotnine.ggplot` (never saves or shows) and accepts ``lang="da" | "en"``.
Restyle with ``+``: ``participant_flow(ds) + theme(figure_size=(8, 5))``. Write files with
:func:`save_figure`. Figures that show individuals live in :mod:`.individual` and refuse
``publication=True``. See ``docs/figures.md``.

Names are imported lazily (plotnine is slow to import).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    # aggregate figures (publishable after disclosure checks)
    "participant_flow": "flow",
    "flow_counts": "flow",
    "star_profile": "star",
    "star_coordinates": "star",
    "pre_post_dumbbell": "prepost",
    "reliable_change_bars": "change",
    "change_shares": "change",
    "trajectory_plot": "trajectories",
    "forest_plot": "forest",
    "attendance_by_week": "attendance",
    "daily_rhythm_plot": "attendance",
    "retention_curves": "retention",
    "status_outcomes_plot": "outcomes",
    # internal only (individuals)
    "slope_plot": "individual",
    "rci_scatter": "individual",
    "attendance_heatmap": "individual",
    # theme, labels, saving
    "theme_envejind": "theme",
    "PALETTE": "theme",
    "OKABE_ITO": "theme",
    "SIZES": "theme",
    "fmt_number": "labels",
    "fmt_percent": "labels",
    "number_labels": "labels",
    "percent_labels": "labels",
    "save_figure": "save",
    "render_gallery": "gallery",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
