"""Item -> domain -> total scores per participant, rater and timepoint.

Missing codes become missing; reverse-keyed items are mirrored on the scale
(``min + max - value``) so that every item, domain and total points the instrument's way.
A domain (or total) score is the mean of the answered items when at least
``min_answered_share`` of its items are answered (default one half), else missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from envejind_eval.schema import TIMEPOINTS

if TYPE_CHECKING:
    from envejind_eval.dataset import Dataset
    from envejind_eval.instruments import Instrument

Level = Literal["item", "domain", "total"]
LEVELS: tuple[str, ...] = ("item", "domain", "total")

SCORE_COLUMNS = [
    "participant_id",
    "municipality",
    "cohort_id",
    "instrument",
    "rater",
    "timepoint",
    "level",
    "unit",
    "score",
    "n_items",
    "n_answered",
]
_KEYS = ["participant_id", "rater", "timepoint"]


def score_instrument(
    measurements: pd.DataFrame,
    instrument: Instrument,
    *,
    level: Level = "domain",
    min_answered_share: float | None = None,
) -> pd.DataFrame:
    """Score one instrument's measurements (canonical ``measurements`` rows).

    Returns columns ``participant_id, instrument, rater, timepoint, level, unit, score,
    n_items, n_answered``. Every participant × rater × timepoint with a form gets a row per
    unit, with ``score`` NaN when too few items were answered.
    """
    if level not in LEVELS:
        raise ValueError(f"Expecting one of {', '.join(LEVELS)}; got '{level}'")
    share = instrument.min_answered_share if min_answered_share is None else min_answered_share
    if not 0 < share <= 1:
        raise ValueError("min_answered_share must be in (0, 1]")
    m = measurements.loc[measurements["instrument"] == instrument.id, [*_KEYS, "item", "value"]]
    m = m.loc[m["item"].isin(instrument.item_ids)]
    v = m["value"].to_numpy(dtype=float, copy=True)
    v[np.isin(v, np.asarray(instrument.missing_codes, dtype=float))] = np.nan
    v[(v < instrument.scale_min) | (v > instrument.scale_max)] = np.nan
    rev = m["item"].map({i.id: i.reverse for i in instrument.items}).to_numpy(dtype=bool)
    v = np.where(rev, instrument.scale_min + instrument.scale_max - v, v)
    m = m.assign(value=v)

    if level == "item":
        out = m.rename(columns={"item": "unit", "value": "score"}).assign(
            n_items=1, n_answered=lambda d: d["score"].notna().astype(int)
        )
    else:
        if level == "domain":
            m = m.assign(unit=m["item"].map({i.id: i.domain for i in instrument.items}))
            n_items = pd.Series(
                {d: sum(i.domain == d for i in instrument.items) for d in instrument.domain_ids}
            )
        else:
            m = m.assign(unit="total")
            n_items = pd.Series({"total": len(instrument.items)})
        # every form (participant × rater × timepoint) gets every unit, even if all blank
        forms = m[_KEYS].drop_duplicates()
        units = pd.DataFrame({"unit": n_items.index})
        grid = forms.merge(units, how="cross")
        agg = m.groupby([*_KEYS, "unit"], sort=False)["value"].agg(["sum", "count"]).reset_index()
        out = grid.merge(agg, on=[*_KEYS, "unit"], how="left")
        out["n_items"] = out["unit"].map(n_items).astype(int)
        out["n_answered"] = out["count"].fillna(0).astype(int)
        enough = out["n_answered"] >= share * out["n_items"] - 1e-9
        out["score"] = np.where(
            enough & (out["n_answered"] > 0), out["sum"] / out["n_answered"].clip(lower=1), np.nan
        )
    out = out.assign(instrument=instrument.id, level=level)
    # order: participant, rater, timepoint (course order), unit (definition order); integer
    # codes + lexsort, because sorting with Python-level key mappers is slow at national scale
    unit_order = instrument.item_ids if level == "item" else [*instrument.domain_ids, "total"]
    order = np.lexsort(
        (
            pd.Categorical(out["unit"], categories=unit_order).codes,
            pd.Categorical(out["timepoint"], categories=list(TIMEPOINTS)).codes,
            pd.Categorical(out["rater"]).codes,
            pd.Categorical(out["participant_id"]).codes,
        )
    )
    out = out.iloc[order]
    return out[
        [
            "participant_id",
            "instrument",
            "rater",
            "timepoint",
            "level",
            "unit",
            "score",
            "n_items",
            "n_answered",
        ]
    ].reset_index(drop=True)


def scores(
    ds: Dataset,
    instrument: str | None = None,
    *,
    level: Level = "domain",
    min_answered_share: float | None = None,
) -> pd.DataFrame:
    """Scores per participant × rater × timepoint × unit, in long form.

    Parameters
    ----------
    ds
        The dataset.
    instrument
        Instrument id; ``None`` scores every instrument in the registry.
    level
        ``"item"`` (recoded item values), ``"domain"`` or ``"total"``.
    min_answered_share
        Override the instrument's share of items that must be answered.

    Returns
    -------
    DataFrame
        Columns ``participant_id, municipality, cohort_id, instrument, rater, timepoint,
        level, unit, score, n_items, n_answered``.

    Examples
    --------
    >>> import envejind_eval as ee
    >>> ds = ee.Dataset.from_canonical(ee.sample_path() / "canonical")
    >>> s = ee.scores(ds, "ungestjernen")
    >>> sorted(s["unit"].unique())[:2]
    ['crime_risk', 'daily_rhythm']
    """
    ids = [instrument] if instrument is not None else list(ds.instruments)
    for i in ids:
        if i not in ds.instruments:
            raise ValueError(f"Expecting one of {', '.join(ds.instruments)}; got '{i}'")
    meas = ds.measurements
    parts = [
        score_instrument(
            meas, ds.instruments[i], level=level, min_answered_share=min_answered_share
        )
        for i in ids
    ]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=SCORE_COLUMNS)
    p = ds.participants.set_index("participant_id")[["municipality", "cohort_id"]]
    out = out.join(p, on="participant_id")
    return out[SCORE_COLUMNS]
