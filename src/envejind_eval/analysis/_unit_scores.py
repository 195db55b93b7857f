"""Shared data preparation for models, municipality comparison and missing-data analyses.

Private: turns a Dataset into long or paired (wide) unit scores for one instrument, one
rater and a set of timepoints, with the participant's municipality, team and status.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from envejind_eval.schema import TIMEPOINTS

if TYPE_CHECKING:
    from envejind_eval.dataset import Dataset
    from envejind_eval.instruments import Instrument

_LEVELS = ("item", "domain", "total")


def check_option(name: str, value: object, allowed: Sequence[object]) -> None:
    """Raise ``ValueError("Expecting one of ...; got ...")`` for a bad ``Literal`` option."""
    if value not in allowed:
        raise ValueError(
            f"{name}: Expecting one of {', '.join(repr(a) for a in allowed)}; got {value!r}"
        )


def get_instrument(ds: Dataset, instrument: str) -> Instrument:
    if instrument not in ds.instruments:
        raise ValueError(
            f"instrument: Expecting one of {', '.join(repr(i) for i in ds.instruments)}; "
            f"got {instrument!r}"
        )
    return ds.instruments[instrument]


def units_for(inst: Instrument, level: str) -> list[str]:
    if level == "item":
        return list(inst.item_ids)
    if level == "domain":
        return list(inst.domain_ids)
    return ["total"]


def resolve_units(inst: Instrument, level: str, unit: str | None) -> list[str]:
    """All units of ``level`` when ``unit`` is None, else ``[unit]`` (validated)."""
    check_option("level", level, _LEVELS)
    allowed = units_for(inst, level)
    if unit is None:
        return allowed
    check_option("unit", unit, allowed)
    return [unit]


def resolve_raters(ds: Dataset, inst: Instrument, rater: str | None) -> list[str]:
    """Raters to analyse: ``[rater]`` when given, else every declared rater with data.

    Same rule as ``pre_post``: with ``rater=None`` each rater is analysed separately.
    """
    if rater is not None:
        check_option("rater", rater, list(inst.raters))
        return [rater]
    m = ds.measurements
    present = set(m.loc[m["instrument"] == inst.id, "rater"].unique().tolist())
    used = [r for r in inst.raters if r in present]
    return used or [inst.raters[0]]


def resolve_rater(ds: Dataset, inst: Instrument, rater: str | None) -> str:
    """The one rater to analyse: given, else the only rater with data (ValueError if several)."""
    raters = resolve_raters(ds, inst, rater)
    if len(raters) > 1:
        raise ValueError(
            f"rater: '{inst.id}' has forms from several raters; Expecting one of "
            f"{', '.join(repr(r) for r in raters)}; got None"
        )
    return raters[0]


def check_timepoints(**tps: str) -> None:
    for name, tp in tps.items():
        check_option(name, tp, TIMEPOINTS)


def long_scores(
    ds: Dataset,
    inst: Instrument,
    *,
    level: str,
    units: Sequence[str],
    rater: str,
    timepoints: Sequence[str],
) -> pd.DataFrame:
    """Unit scores in long form for the given rater and timepoints (missing scores kept).

    Columns ``participant_id, municipality, cohort_id, status, timepoint, unit, score``.
    """
    from envejind_eval.instruments.scoring import score_instrument

    m = ds.measurements
    m = m.loc[
        (m["instrument"] == inst.id) & (m["rater"] == rater) & m["timepoint"].isin(timepoints)
    ]
    s = score_instrument(m, inst, level=level)  # type: ignore[arg-type]
    s = s.loc[s["unit"].isin(units), ["participant_id", "timepoint", "unit", "score"]]
    p = ds.participants[["participant_id", "municipality", "cohort_id", "status"]]
    out = s.merge(p, on="participant_id", how="inner")
    return out[
        ["participant_id", "municipality", "cohort_id", "status", "timepoint", "unit", "score"]
    ].reset_index(drop=True)


def paired_scores(
    ds: Dataset,
    inst: Instrument,
    *,
    level: str,
    units: Sequence[str],
    rater: str,
    pre: str,
    post: str,
    population: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per participant × unit with ``pre`` and ``post`` scores (NaN when missing).

    Every participant in the participants table whose status is in ``population`` (all when
    None) gets a row for every unit, so missing forms show as NaN, never as absent rows.
    Columns ``participant_id, municipality, cohort_id, status, unit, pre, post``.
    """
    lg = long_scores(ds, inst, level=level, units=units, rater=rater, timepoints=[pre, post])
    p = ds.participants[["participant_id", "municipality", "cohort_id", "status"]]
    if population is not None:
        p = p.loc[p["status"].isin(population)]
    grid = p.merge(pd.DataFrame({"unit": list(units)}), how="cross")
    for tp, col in ((pre, "pre"), (post, "post")):
        part = lg.loc[lg["timepoint"] == tp, ["participant_id", "unit", "score"]].rename(
            columns={"score": col}
        )
        grid = grid.merge(part, on=["participant_id", "unit"], how="left")
    grid["pre"] = grid["pre"].astype(float)
    grid["post"] = grid["post"].astype(float)
    order = {u: k for k, u in enumerate(units)}
    grid = grid.assign(_u=grid["unit"].map(order)).sort_values(
        ["_u", "municipality", "participant_id"], kind="stable"
    )
    return grid.drop(columns="_u").reset_index(drop=True)


def t_interval(d: np.ndarray, confidence: float) -> tuple[float, float, float, float]:
    """Mean, standard error and t-interval of the mean of ``d`` (NaN when n < 2)."""
    from scipy import stats

    n = d.size
    if n < 2:
        return (float(d.mean()) if n else np.nan, np.nan, np.nan, np.nan)
    mean = float(d.mean())
    se = float(d.std(ddof=1) / np.sqrt(n))
    q = stats.t.ppf(0.5 + confidence / 2, n - 1)
    return mean, se, mean - q * se, mean + q * se


def check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: Expecting a number in (0, 1); got {confidence!r}")
