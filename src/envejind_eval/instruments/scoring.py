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


def _factor(
    values: pd.Series, order: list[str] | None = None, *, sort: bool = True
) -> tuple[np.ndarray, pd.Index]:
    """Integer codes of ``values`` (-1 for missing) and their categories.

    With ``order`` the codes are positions in ``order`` (-1 when absent), else positions in
    the sorted distinct values (as ``pd.Categorical(values).codes``), or in order of first
    appearance with ``sort=False``.
    """
    codes, uniq = pd.factorize(values, sort=sort and order is None)
    if order is None:
        return codes.astype(np.int64), pd.Index(uniq)
    cats = pd.Index(order)
    pos = cats.get_indexer(pd.Index(uniq))
    return np.where(codes >= 0, pos[codes], -1).astype(np.int64), cats


class _Scored:
    """Scores as integer codes + values, in output order (participant, rater, timepoint,
    unit); :func:`score_instrument` turns it into the documented frame, and
    ``analysis.progression`` uses the codes directly (no string columns at scale)."""

    __slots__ = (
        "p",
        "p_cats",
        "r",
        "r_cats",
        "t",
        "t_cats",
        "u",
        "u_cats",
        "score",
        "n_items",
        "n_ans",
    )

    def __init__(self, **kw: object) -> None:
        for k, v in kw.items():
            setattr(self, k, v)

    p: np.ndarray
    p_cats: pd.Index
    r: np.ndarray
    r_cats: pd.Index
    t: np.ndarray
    t_cats: pd.Index
    u: np.ndarray
    u_cats: pd.Index
    score: np.ndarray
    n_items: np.ndarray
    n_ans: np.ndarray


def _check_args(instrument: Instrument, level: str, min_answered_share: float | None) -> float:
    if level not in LEVELS:
        raise ValueError(f"Expecting one of {', '.join(LEVELS)}; got '{level}'")
    share = instrument.min_answered_share if min_answered_share is None else min_answered_share
    if not 0 < share <= 1:
        raise ValueError("min_answered_share must be in (0, 1]")
    return share


def _rows(col: pd.Series, rows: np.ndarray) -> pd.Series:
    """``col.take(rows)``; a slice (no copy of the strings) when the rows are one run, as
    an instrument's rows usually are."""
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
        return col.iloc[rows[0] : rows[-1] + 1]
    return col.take(rows)


def _score_codes(
    measurements: pd.DataFrame,
    instrument: Instrument,
    *,
    level: Level = "domain",
    min_answered_share: float | None = None,
    ordered: bool = True,
) -> _Scored:
    """The work of :func:`score_instrument` on integer codes (one factorisation per key
    column of the instrument's rows, then numpy: bincount sums, one stable sort).

    ``ordered=False`` (item level only) skips the sort: rows stay in input order and the
    participant categories in order of appearance, for callers that only place each
    score by its codes (duplicates keep their relative order either way).
    """
    share = _check_args(instrument, level, min_answered_share)
    rows = np.flatnonzero((measurements["instrument"] == instrument.id).to_numpy(dtype=bool))
    item_c, _ = _factor(_rows(measurements["item"], rows), instrument.item_ids)
    keep = item_c >= 0
    rows, item_c = rows[keep], item_c[keep]
    unsorted = not ordered and level == "item"
    p, p_cats = _factor(_rows(measurements["participant_id"], rows), sort=not unsorted)
    r, r_cats = _factor(_rows(measurements["rater"], rows))
    t, t_cats = _factor(_rows(measurements["timepoint"], rows))
    v = measurements["value"].to_numpy(dtype=float)[rows].copy()
    v[np.isin(v, np.asarray(instrument.missing_codes, dtype=float))] = np.nan
    v[(v < instrument.scale_min) | (v > instrument.scale_max)] = np.nan
    rev = np.array([i.reverse for i in instrument.items], dtype=bool)[item_c]
    v = np.where(rev, instrument.scale_min + instrument.scale_max - v, v)
    if unsorted:
        return _Scored(
            p=p,
            p_cats=p_cats,
            r=r,
            r_cats=r_cats,
            t=t,
            t_cats=t_cats,
            u=item_c,
            u_cats=pd.Index(instrument.item_ids),
            score=v,
            n_items=np.ones(len(v), dtype=np.int64),
            n_ans=(~np.isnan(v)).astype(np.int64),
        )
    # rows sort by course order of the timepoint; another label sorts first (code -1)
    t_pos = pd.Index(list(TIMEPOINTS)).get_indexer(t_cats)
    t_sort = np.where(t >= 0, t_pos[t] if len(t_pos) else -1, -1)
    # shift codes by one so that -1 (missing / unknown label) sorts first, as in lexsort
    n_r, n_t = len(r_cats) + 1, len(TIMEPOINTS) + 1
    form_sort = ((p + 1) * n_r + (r + 1)) * n_t + (t_sort + 1)

    if level == "item":
        n_u = len(instrument.item_ids)
        order = np.argsort(form_sort * n_u + item_c, kind="stable")
        return _Scored(
            p=p[order],
            p_cats=p_cats,
            r=r[order],
            r_cats=r_cats,
            t=t[order],
            t_cats=t_cats,
            u=item_c[order],
            u_cats=pd.Index(instrument.item_ids),
            score=v[order],
            n_items=np.ones(len(order), dtype=np.int64),
            n_ans=(~np.isnan(v[order])).astype(np.int64),
        )
    if level == "domain":
        units = list(instrument.domain_ids)
        dom_of = np.array([units.index(i.domain) for i in instrument.items], dtype=np.int64)
        unit_c = dom_of[item_c]
        n_items_u = np.bincount(dom_of, minlength=len(units))
    else:
        units = ["total"]
        unit_c = np.zeros(len(item_c), dtype=np.int64)
        n_items_u = np.array([len(instrument.items)])
    n_u = len(units)
    # every form (participant x rater x timepoint) gets every unit, even if all blank
    # forms in output order: participant, rater, timepoint, then first appearance
    form = ((p + 1) * (len(r_cats) + 1) + (r + 1)) * (len(t_cats) + 1) + (t + 1)
    forms, first, form_id = np.unique(form, return_index=True, return_inverse=True)
    f_order = np.lexsort((first, form_sort[first]))
    rank = np.empty(len(forms), dtype=np.int64)
    rank[f_order] = np.arange(len(forms))
    cell = rank[form_id] * n_u + unit_c
    ok = ~np.isnan(v)
    total = np.bincount(cell[ok], v[ok], minlength=len(forms) * n_u)
    count = np.bincount(cell[ok], minlength=len(forms) * n_u)
    f_first = first[f_order]
    f_p, f_r, f_t = p[f_first], r[f_first], t[f_first]
    u_all = np.tile(np.arange(n_u), len(forms))
    n_items = n_items_u[u_all]
    enough = count >= share * n_items - 1e-9
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(enough & (count > 0), total / np.maximum(count, 1), np.nan)
    return _Scored(
        p=np.repeat(f_p, n_u),
        p_cats=p_cats,
        r=np.repeat(f_r, n_u),
        r_cats=r_cats,
        t=np.repeat(f_t, n_u),
        t_cats=t_cats,
        u=u_all,
        u_cats=pd.Index(units),
        score=score,
        n_items=n_items.astype(np.int64),
        n_ans=count.astype(np.int64),
    )


def _take(cats: pd.Index, codes: np.ndarray) -> pd.Series:
    """String column from codes (missing where -1)."""
    out = pd.Series(cats, dtype="str").take(np.maximum(codes, 0)).reset_index(drop=True)
    if (codes < 0).any():
        out = out.where(pd.Series(codes >= 0))
    return out


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
    unit, with ``score`` NaN when too few items were answered. Rows are ordered by
    participant, rater, timepoint (course order) and unit (definition order).

    Notes
    -----
    Computed on integer codes of the key columns (``pandas.factorize``) with numpy
    (``bincount`` sums per form × unit, one stable sort); the pandas groupby/merge version
    is kept in ``tests/test_instruments.py`` as the reference it is checked against.
    """
    sc = _score_codes(measurements, instrument, level=level, min_answered_share=min_answered_share)
    return pd.DataFrame(
        {
            "participant_id": _take(sc.p_cats, sc.p),
            "instrument": pd.Series([instrument.id] * len(sc.p), dtype="str"),
            "rater": _take(sc.r_cats, sc.r),
            "timepoint": _take(sc.t_cats, sc.t),
            "level": pd.Series([level] * len(sc.p), dtype="str"),
            "unit": _take(sc.u_cats, sc.u),
            "score": sc.score,
            "n_items": sc.n_items,
            "n_answered": sc.n_ans,
        }
    )


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
