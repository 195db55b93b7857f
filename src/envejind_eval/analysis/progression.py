"""Pre/post progression: paired tests per unit and group, reliable change, trajectories.

All three functions start from :func:`envejind_eval.scores` and never drop anybody
silently: every participant in the dataset is part of the *universe* of a unit (per rater);
those without a usable pair are counted in ``n_excluded`` with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import stats as st

from envejind_eval.analysis.paired import (
    PAIRED_COLUMNS,
    _check_options,
    _paired_columns,
    holm,
    wilson_interval,
)
from envejind_eval.instruments.scoring import LEVELS, _score_codes
from envejind_eval.schema import TIMEPOINTS

if TYPE_CHECKING:
    from envejind_eval.dataset import Dataset
    from envejind_eval.instruments import Instrument

__all__ = ["Trajectories", "pre_post", "reliable_change", "trajectories"]

Level = Literal["item", "domain", "total"]

#: Two-sided 95 % criterion of the Jacobson–Truax reliable change index.
RC_CRITERION = float(st.norm.ppf(0.975))

RC_CLASSES: tuple[str, ...] = ("improved", "unchanged", "deteriorated")
TRAJECTORY_PATTERNS: tuple[str, ...] = (
    "improved_and_maintained",
    "improved_not_maintained",
    "improved_no_followup",
    "not_improved",
    "incomplete",
)


# -- shared helpers -------------------------------------------------------------------------


def _as_list(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    return list(by)


def _check_common(
    ds: Dataset, instrument: str, level: str, by: list[str], rater: str | None
) -> Instrument:
    if instrument not in ds.instruments:
        raise ValueError(f"Expecting one of {', '.join(ds.instruments)}; got '{instrument}'")
    if level not in LEVELS:
        raise ValueError(f"Expecting one of {', '.join(LEVELS)}; got '{level}'")
    inst = ds.instruments[instrument]
    cols = [c for c in ds.participants.columns if c != "participant_id"]
    bad = [b for b in by if b not in cols]
    if bad:
        raise ValueError(f"Expecting by columns from {', '.join(cols)}; got {', '.join(bad)}")
    if rater is not None and rater not in inst.raters:
        raise ValueError(f"Expecting one of {', '.join(inst.raters)}; got '{rater}'")
    return inst


def _check_timepoint(name: str, value: str) -> None:
    if value not in TIMEPOINTS:
        raise ValueError(f"Expecting one of {', '.join(TIMEPOINTS)} for {name}; got '{value}'")


def _check_pre_post(pre: str, post: str) -> None:
    _check_timepoint("pre", pre)
    _check_timepoint("post", post)
    if pre == post:
        raise ValueError("pre and post must be different timepoints")


def _units(inst: Instrument, level: str) -> list[str]:
    if level == "item":
        return inst.item_ids
    if level == "domain":
        return inst.domain_ids
    return ["total"]


@dataclass(frozen=True)
class _Grid:
    """The universe as arrays: row ``k`` is participant ``k // (n_r · n_u)`` of ``part``,
    rater ``k // n_u % n_r`` and unit ``k % n_u``; ``score``/``form`` per timepoint."""

    part: pd.DataFrame  # participant_id, status, <by>
    raters: list[str]
    units: list[str]
    score: dict[str, np.ndarray]
    form: dict[str, np.ndarray]

    @property
    def shape(self) -> tuple[int, int, int]:
        return len(self.part), len(self.raters), len(self.units)

    def rater_codes(self) -> np.ndarray:
        n_p, n_r, n_u = self.shape
        return np.tile(np.repeat(np.arange(n_r), n_u), n_p)

    def unit_codes(self) -> np.ndarray:
        n_p, n_r, n_u = self.shape
        return np.tile(np.arange(n_u), n_p * n_r)

    def frame(self) -> pd.DataFrame:
        """Columns ``participant_id, status, <by>, rater, unit`` (categoricals in
        instrument order), then per timepoint ``tp`` the score ``tp`` and ``has_form_<tp>``."""
        n_p, n_r, n_u = self.shape
        idx_p = np.repeat(np.arange(n_p), n_r * n_u)
        part = self.part
        out = pd.DataFrame({c: part[c].take(idx_p).reset_index(drop=True) for c in part})
        out["rater"] = pd.Categorical.from_codes(
            self.rater_codes(), categories=pd.Index(self.raters)
        )
        out["unit"] = pd.Categorical.from_codes(self.unit_codes(), categories=pd.Index(self.units))
        for t in self.score:
            out[t] = self.score[t]
            out[f"has_form_{t}"] = self.form[t]
        return out


def _grid(
    ds: Dataset,
    inst: Instrument,
    *,
    level: str,
    timepoints: Sequence[str],
    rater: str | None,
    by: list[str],
) -> _Grid:
    """Every participant × rater × unit with scores (and form flags) per timepoint."""
    # integer codes straight from scoring (no string columns at national scale)
    sc = _score_codes(ds.measurements, inst, level=level, ordered=False)  # type: ignore[arg-type]
    t_map = pd.Index(list(timepoints)).get_indexer(sc.t_cats)
    ti_all = np.where(sc.t >= 0, t_map[sc.t] if len(t_map) else -1, -1)
    in_tp = ti_all >= 0
    if rater is not None:
        raters = [rater]
    else:
        seen = set(sc.r_cats[np.flatnonzero(np.bincount(sc.r[in_tp & (sc.r >= 0)]))])
        raters = [r for r in inst.raters if r in seen] or list(inst.raters)
    units = _units(inst, level)

    pcols = ["participant_id", "status", *[b for b in by if b != "status"]]
    part = ds.participants[pcols]
    n_p, n_r, n_u = len(part), len(raters), len(units)
    # place each score at its row of the universe (participant-major, then rater, unit)
    p_map = pd.Index(part["participant_id"]).get_indexer(sc.p_cats)
    r_map = pd.Index(raters).get_indexer(sc.r_cats)
    u_map = pd.Index(units).get_indexer(sc.u_cats)
    pi = np.where(sc.p >= 0, p_map[sc.p], -1) if len(p_map) else np.full(len(sc.p), -1)
    ri = np.where(sc.r >= 0, r_map[sc.r], -1) if len(r_map) else np.full(len(sc.r), -1)
    ui = u_map[sc.u] if len(u_map) else np.full(len(sc.u), -1)
    ok = in_tp & (pi >= 0) & (ri >= 0) & (ui >= 0)
    pos = ((pi * n_r + ri) * n_u + ui)[ok]
    ti, score = ti_all[ok], sc.score[ok]
    n_rows = n_p * n_r * n_u
    scores, forms = {}, {}
    for k, t in enumerate(timepoints):
        col = np.full(n_rows, np.nan)
        form = np.zeros(n_rows, dtype=bool)
        sel = ti == k
        col[pos[sel]] = score[sel]  # a duplicated key: the last in input order wins
        form[pos[sel]] = True
        scores[t], forms[t] = col, form
    return _Grid(part, raters, units, scores, forms)


def _universe(
    ds: Dataset,
    inst: Instrument,
    *,
    level: str,
    timepoints: Sequence[str],
    rater: str | None,
    by: list[str],
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Every participant × rater × unit with scores (and form flags) per timepoint, as a
    frame (see :meth:`_Grid.frame`), with the raters and units."""
    g = _grid(ds, inst, level=level, timepoints=timepoints, rater=rater, by=by)
    return g.frame(), g.raters, g.units


def _cronbach_alpha(items: pd.DataFrame) -> float:
    """Cronbach's alpha on complete rows (columns = items)."""
    return _cronbach_alpha_array(items.dropna().to_numpy(dtype=float))


def _cronbach_alpha_array(x: np.ndarray) -> float:
    """Cronbach's alpha of complete rows (C-contiguous participants x items)."""
    k = x.shape[1]
    if k < 2 or x.shape[0] < 3:
        return float("nan")
    item_var = x.var(axis=0, ddof=1).sum()
    total_var = x.sum(axis=1).var(ddof=1)
    if total_var <= 0:
        return float("nan")
    return float(k / (k - 1) * (1 - item_var / total_var))


def _reliabilities(
    ds: Dataset,
    inst: Instrument,
    *,
    level: str,
    raters: list[str],
    units: list[str],
    reliability: float | Literal["estimate"] | None,
) -> pd.DataFrame:
    """Reliability and its source per rater × unit (NaN at item level)."""
    rows = []
    need_alpha = False
    r: float | str
    for u in units:
        if level == "item":
            r, src = np.nan, "not defined for single items"
        elif reliability is None:
            r = inst.reliability_for(u if level == "domain" else None)
            src = (
                "domain definition"
                if (level == "domain" and inst.domain(u).reliability is not None)
                else "instrument definition"
            )
        elif reliability == "estimate":
            r, src = "estimate", ""
        else:
            r, src = float(reliability), "argument"
        need_alpha |= r == "estimate"
        rows.append((u, r, src))
    # baseline item scores per rater as participant x item matrices (rows in participant
    # order, as a pivot table would give), from integer codes
    mats: dict[str, np.ndarray] = {}
    if need_alpha:
        it = _score_codes(ds.measurements, inst, level="item")
        t_base = pd.Index(it.t_cats).get_indexer(["baseline"])[0]
        sel = (it.t == t_base) & (it.r >= 0) & (it.p >= 0) & (t_base >= 0)
        for rk in np.unique(it.r[sel]):
            rs = sel & (it.r == rk)
            x = np.full((len(it.p_cats), len(it.u_cats)), np.nan)
            # the first value of a duplicated key wins (pivot_table's aggfunc="first")
            x[it.p[rs][::-1], it.u[rs][::-1]] = it.score[rs][::-1]
            mats[str(it.r_cats[rk])] = x[~np.isnan(x).all(axis=1)]
    domain_of = {i.id: i.domain for i in inst.items}
    item_pos = {i: k for k, i in enumerate(inst.item_ids)}
    out = []
    for rt in raters:
        for u, r, src in rows:
            if r == "estimate":
                items = [i for i in inst.item_ids if u == "total" or domain_of[i] == u]
                x = mats.get(rt, np.empty((0, len(inst.item_ids))))
                xs = x[:, [item_pos[i] for i in items]]
                # complete rows, row-major (the layout, hence summation order, of before)
                a = _cronbach_alpha_array(np.ascontiguousarray(xs[~np.isnan(xs).any(axis=1)]))
                src = "cronbach_alpha_baseline"
                if not (np.isfinite(a) and 0 < a < 1):
                    src = "cronbach_alpha_baseline (not estimable)"
                    a = np.nan
                out.append((rt, u, a, src))
            else:
                out.append((rt, u, float(r), src))
    res = pd.DataFrame(out, columns=["rater", "unit", "reliability", "reliability_source"])
    res["reliability_source"] = res["reliability_source"].astype(str)
    return res


def _rc_cells(
    cell: np.ndarray,
    x_pre: np.ndarray,
    rel: pd.DataFrame,
    raters: list[str],
    units: list[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per rater × unit cell (``cell = rater · n_u + unit``): SD of the ``pre`` scores,
    reliability and its source."""
    n_r, n_u = len(raters), len(units)
    has = ~np.isnan(x_pre)
    cnt = np.bincount(cell[has], minlength=n_r * n_u).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = np.bincount(cell[has], x_pre[has], n_r * n_u) / cnt
        dev = x_pre[has] - mu[cell[has]]
        sd_cell = np.sqrt(np.bincount(cell[has], dev * dev, n_r * n_u) / (cnt - 1))
    sd_cell[cnt < 2] = np.nan
    r_idx = pd.Index(raters).get_indexer(pd.Index(rel["rater"].astype(str)))
    u_idx = pd.Index(units).get_indexer(pd.Index(rel["unit"].astype(str)))
    rel_cell = np.full(n_r * n_u, np.nan)
    src_cell = np.full(n_r * n_u, "", dtype=object)
    rel_cell[r_idx * n_u + u_idx] = rel["reliability"].to_numpy(dtype=float)
    src_cell[r_idx * n_u + u_idx] = rel["reliability_source"].to_numpy(dtype=object)
    return sd_cell, rel_cell, src_cell


def _rc_index(
    diff: np.ndarray, sd: np.ndarray, r: np.ndarray, inst: Instrument
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``S_diff``, the RC index and the class code (0 improved, 1 unchanged,
    2 deteriorated, -1 none) per row."""
    se_diff = np.sqrt(2.0) * sd * np.sqrt(1.0 - r)
    with np.errstate(invalid="ignore", divide="ignore"):
        rc = np.where(se_diff > 0, diff / se_diff, np.nan)
    sign = 1.0 if inst.higher_is_better else -1.0
    good = sign * rc
    code = np.where(
        np.isnan(rc), -1, np.where(good > RC_CRITERION, 0, np.where(good < -RC_CRITERION, 2, 1))
    )
    return se_diff, rc, code


def _rc_core(
    uni: pd.DataFrame,
    rel: pd.DataFrame,
    inst: Instrument,
    *,
    pre: str,
    post: str,
) -> pd.DataFrame:
    """Jacobson–Truax reliable change per row of the universe (adds columns)."""
    raters = list(uni["rater"].cat.categories)
    units = list(uni["unit"].cat.categories)
    cell = uni["rater"].cat.codes.to_numpy() * len(units) + uni["unit"].cat.codes.to_numpy()
    x_pre = uni[pre].to_numpy(dtype=float)
    x_post = uni[post].to_numpy(dtype=float)
    sd_cell, rel_cell, src_cell = _rc_cells(cell, x_pre, rel, raters, units)
    sd, r = sd_cell[cell], rel_cell[cell]
    diff = x_post - x_pre
    se_diff, rc, code = _rc_index(diff, sd, r, inst)
    out = pd.DataFrame(index=uni.index)
    out["diff"] = diff
    out["sd_pre"] = sd
    out["reliability"] = r
    out["reliability_source"] = pd.array(src_cell[cell].astype(str), dtype="str")
    out["se_diff"] = se_diff
    out["rc_index"] = rc
    out["rc_class"] = pd.Categorical.from_codes(code, categories=pd.Index(list(RC_CLASSES)))
    cut = inst.clinical_cutoff
    if cut is None:
        out["clinical_class"] = pd.Categorical.from_codes(
            np.full(len(uni), -1), categories=pd.Index(["recovered", *RC_CLASSES])
        )
    else:
        functional_pre = x_pre >= cut if inst.higher_is_better else x_pre <= cut
        functional_post = x_post >= cut if inst.higher_is_better else x_post <= cut
        recovered = (code == 0) & ~functional_pre & functional_post
        clin = np.where(code < 0, -1, np.where(recovered, 0, code + 1))
        out["clinical_class"] = pd.Categorical.from_codes(
            clin, categories=pd.Index(["recovered", *RC_CLASSES])
        )
    return out


def _status_codes(status: pd.Series) -> np.ndarray:
    """0 completed (or unknown), 1 dropped out, 2 excluded, 3 ongoing."""
    idx = pd.Index(["completed", "dropped_out", "excluded", "ongoing"]).get_indexer(
        pd.Index(status.astype(str))
    )
    return np.maximum(idx, 0)


def _reason_codes(
    score_pre: np.ndarray,
    form_pre: np.ndarray,
    score_post: np.ndarray,
    form_post: np.ndarray,
    status: np.ndarray,
    pre: str,
    post: str,
) -> pd.Categorical[str]:
    """Why a row has no usable pair (``""`` when it has one), as a categorical; ``status``
    from :func:`_status_codes`."""

    def side(score: np.ndarray, form: np.ndarray) -> np.ndarray:
        # 0 score, 1 too few items, 2 no form
        return np.where(~np.isnan(score), 0, np.where(form, 1, 2))

    texts = {
        0: "",
        1: "too few items answered at {tp}",
        2: "no {tp} form",
    }
    labels = []
    for a in range(3):
        for b in range(3):
            pa = texts[a].format(tp=pre)
            pb = texts[b].format(tp=post)
            labels.append(" and ".join(x for x in (pa, pb) if x))
    # the participant's status is named for every status but "completed"
    suffixes = ["", " (dropped out)", " (excluded)", " (ongoing)"]
    labels = [f"{x}{sfx}" if x else "" for sfx in suffixes for x in labels]
    code = side(score_pre, form_pre) * 3 + side(score_post, form_post) + 9 * status
    cats = pd.Index(list(dict.fromkeys(labels)))
    lab_to_cat = cats.get_indexer(pd.Index(labels))
    return pd.Categorical.from_codes(lab_to_cat[code], categories=cats)


def _reason_labels(uni: pd.DataFrame, pre: str, post: str) -> pd.Categorical[str]:
    """Why a row of the universe frame has no usable pair (``""`` when it has one)."""
    return _reason_codes(
        uni[pre].to_numpy(dtype=float),
        uni[f"has_form_{pre}"].to_numpy(dtype=bool),
        uni[post].to_numpy(dtype=float),
        uni[f"has_form_{post}"].to_numpy(dtype=bool),
        _status_codes(uni["status"]),
        pre,
        post,
    )


def _format_reasons(codes: np.ndarray, reason: pd.Categorical[Any], n_groups: int) -> np.ndarray:
    """Per group (``codes`` 0..n_groups-1): ``"reason: count; reason: count"`` sorted by
    count (desc) and text, ``""`` when every row has a pair (counts by ``np.bincount``)."""
    cats = np.asarray(reason.categories, dtype=object)
    n_cat = len(cats)
    out = np.full(n_groups, "", dtype=object)
    if not n_cat or not len(codes):
        return out
    rc = np.asarray(reason.codes, dtype=np.int64)
    ok = rc >= 0
    cnt = np.bincount(codes[ok] * n_cat + rc[ok], minlength=n_groups * n_cat)
    cnt = cnt.reshape(n_groups, n_cat)
    cnt[:, cats == ""] = 0
    text_rank = np.empty(n_cat, dtype=np.int64)
    text_rank[np.argsort(cats.astype(str), kind="stable")] = np.arange(n_cat)
    order = np.argsort(-cnt * n_cat + text_rank[None, :], axis=1, kind="stable")
    # Python ints and strs: formatting numpy scalars one by one is what this loop cost
    labels = cats.astype(str).tolist()
    for gi in np.flatnonzero(cnt.any(axis=1)).tolist():
        row, ks = cnt[gi].tolist(), order[gi].tolist()
        out[gi] = "; ".join(f"{labels[k]}: {row[k]}" for k in ks if row[k] > 0)
    return out


# -- pre_post --------------------------------------------------------------------------------

PRE_POST_EXTRA = [
    "p_holm",
    "share_improved",
    "share_unchanged",
    "share_worsened",
    "improved_ci_low",
    "improved_ci_high",
    "reliability",
    "reliability_source",
]


def pre_post(
    ds: Dataset,
    instrument: str,
    *,
    pre: str = "baseline",
    post: str = "end",
    level: Level = "domain",
    by: str | Sequence[str] | None = None,
    rater: str | None = None,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Paired pre/post change per unit (item, domain or total), group and rater.

    Parameters
    ----------
    ds
        The dataset.
    instrument
        Instrument id (``"lfl"``, ``"ungestjernen"``, ``"art_skills"`` or a user's own).
    pre, post
        Timepoints compared (``baseline``, ``midway``, ``end``, ``followup``).
    level
        ``"item"``, ``"domain"`` or ``"total"`` (see :func:`envejind_eval.scores`).
    by
        Participant columns to group by (e.g. ``"municipality"``, ``"cohort_id"``).
    rater
        Analyse one rater; ``None`` analyses every rater present separately.
    confidence
        Level of every interval.
    n_boot, seed
        Bootstrap resamples (``0`` skips the bootstrap) and their seed.

    Returns
    -------
    DataFrame
        One row per group × rater × unit, columns in this order:

        ``instrument, level, unit, <by>, rater``;
        ``n`` (complete pairs), ``n_excluded`` (participants of the group without a usable
        pair), ``exclusion_reasons`` (e.g. ``"no end form (dropped out): 4; no end form:
        1"``, ``""`` when none);
        ``mean_pre, mean_post, mean_diff`` (post − pre on the instrument's scale),
        ``sd_diff, ci_low, ci_high`` (t-interval of ``mean_diff``),
        ``t_statistic, t_df, t_p_value``, ``wilcoxon_v, wilcoxon_p_value,
        wilcoxon_method``, ``cohens_dz, dz_ci_low, dz_ci_high``, ``rank_biserial,
        rb_ci_low, rb_ci_high``, ``boot_ci_low, boot_ci_high`` (BCa),
        ``n_improved, n_unchanged, n_worsened`` (raw direction of change, following the
        instrument's direction), ``p_holm`` (Holm over the units within group × rater, on
        ``t_p_value``), ``share_improved, share_unchanged, share_worsened`` (reliable
        change classes among the ``n`` pairs, see :func:`reliable_change`),
        ``improved_ci_low, improved_ci_high`` (Wilson interval of ``share_improved``),
        ``reliability, reliability_source`` (used for reliable change) and ``note``
        (why values are NaN, ``""`` when none).

    Notes
    -----
    Differences are ``d = post − pre``; the tests and effect sizes are those of
    :func:`envejind_eval.analysis.paired.paired_summary` and match R
    ``t.test(post, pre, paired = TRUE)``, ``wilcox.test(post, pre, paired = TRUE)``,
    ``effectsize::cohens_d(post, pre, paired = TRUE)`` and
    ``effectsize::rank_biserial(post, pre, paired = TRUE)``; ``p_holm`` is
    ``p.adjust(p, "holm")``; the Wilson interval is ``prop.test(k, n, correct =
    FALSE)$conf.int``. A unit's universe is every participant of the dataset (per rater),
    so those without a form are counted, not dropped.

    Examples
    --------
    >>> import envejind_eval as ee
    >>> ds = ee.Dataset.from_canonical(ee.sample_path() / "canonical")
    >>> res = ee.pre_post(ds, "ungestjernen", by="municipality", n_boot=0)
    >>> list(res.columns[:7])
    ['instrument', 'level', 'unit', 'municipality', 'rater', 'n', 'n_excluded']
    >>> # every participant is counted: paired or excluded with a reason
    >>> int(res.groupby("unit")[["n", "n_excluded"]].sum().sum(axis=1).iloc[0]) == len(ds.participants)
    True
    """
    by_l = _as_list(by)
    inst = _check_common(ds, instrument, level, by_l, rater)
    _check_pre_post(pre, post)
    _check_options(inst.higher_is_better, confidence, n_boot)
    grid = _grid(ds, inst, level=level, timepoints=[pre, post], rater=rater, by=by_l)
    raters, units = grid.raters, grid.units
    n_p, n_r, n_u = grid.shape
    n_ru = n_r * n_u
    x_pre, x_post = grid.score[pre], grid.score[post]

    # Groups in the order of a sorted groupby over [*by, rater, unit] on the universe: every
    # participant has a row per rater × unit, so it is the participant's by-group (a
    # groupby of the participants only), then rater, then unit.
    if by_l:
        g = grid.part.groupby(by_l, sort=True, dropna=False, observed=True)
        p_group = g.ngroup().to_numpy(dtype=np.int64)
        keys = g.size().index.to_frame(index=False)
    else:
        p_group = np.zeros(n_p, dtype=np.int64)
        keys = pd.DataFrame(index=range(1 if n_p else 0))
    n_pg = len(keys)
    n_g = n_pg * n_ru
    gcodes = np.repeat(p_group * n_ru, n_ru) + np.tile(np.arange(n_ru), n_p)
    res_cell = np.tile(np.arange(n_ru), n_pg)  # rater · n_u + unit of each output row
    stats = _paired_columns(
        gcodes,
        n_g,
        x_pre,
        x_post,
        higher_is_better=inst.higher_is_better,
        confidence=confidence,
        n_boot=n_boot,
        seed=seed,
    )

    reason = _reason_codes(
        x_pre,
        grid.form[pre],
        x_post,
        grid.form[post],
        np.repeat(_status_codes(grid.part["status"]), n_ru),
        pre,
        post,
    )
    reasons = _format_reasons(gcodes, reason, n_g)

    # reliable change classes among the complete pairs (cell = rater · n_u + unit)
    rel = _reliabilities(ds, inst, level=level, raters=raters, units=units, reliability=None)
    cell = np.tile(np.arange(n_ru), n_p)
    sd_cell, rel_cell, src_cell = _rc_cells(cell, x_pre, rel, raters, units)
    _, _, rc_code = _rc_index(x_post - x_pre, sd_cell[cell], rel_cell[cell], inst)
    complete = ~np.isnan(x_pre) & ~np.isnan(x_post)
    imp, unc, det, n_cls = (
        np.bincount(gcodes[complete & sel], minlength=n_g).astype(float)
        for sel in (rc_code == 0, rc_code == 1, rc_code == 2, rc_code >= 0)
    )
    extra: dict[str, object] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        extra["share_improved"] = np.where(n_cls > 0, imp / n_cls, np.nan)
        extra["share_unchanged"] = np.where(n_cls > 0, unc / n_cls, np.nan)
        extra["share_worsened"] = np.where(n_cls > 0, det / n_cls, np.nan)
    extra["improved_ci_low"], extra["improved_ci_high"] = wilson_interval(
        imp, n_cls, confidence=confidence
    )
    extra["reliability"] = rel_cell[res_cell]
    src = src_cell[res_cell].astype(str)
    extra["reliability_source"] = pd.array(src, dtype="str")

    # Holm within group × rater over units (n_u consecutive rows)
    p = np.asarray(stats["t_p_value"], dtype=float)
    p_holm = np.full(n_g, np.nan)
    for k in range(0, n_g, max(n_u, 1)):
        p_holm[k : k + n_u] = holm(p[k : k + n_u])
    extra["p_holm"] = p_holm

    note = np.asarray(stats["note"], dtype=object)
    for i in np.flatnonzero((np.asarray(stats["n"]) > 0) & (n_cls == 0)):
        why = (
            "reliable change not defined for single items"
            if level == "item"
            else f"reliable change not available ({src[i]})"
        )
        note[i] = f"{note[i]}; {why}" if note[i] else why

    # one frame, built once in its final column order
    kf = keys.take(np.repeat(np.arange(n_pg), n_ru)).reset_index(drop=True)
    r_lab = np.asarray(raters, dtype=object)[res_cell // max(n_u, 1)]
    u_lab = np.asarray(units, dtype=object)[res_cell % max(n_u, 1)]
    cols = [c for c in PAIRED_COLUMNS if c != "note"]
    cols.insert(cols.index("n_excluded") + 1, "exclusion_reasons")
    stats["exclusion_reasons"] = pd.array(reasons.astype(str), dtype="str")
    stats["wilcoxon_method"] = pd.array(
        np.asarray(stats["wilcoxon_method"], dtype=str), dtype="str"
    )
    data = {
        "instrument": pd.array([inst.id] * n_g, dtype="str"),
        "level": pd.array([level] * n_g, dtype="str"),
        "unit": pd.array(u_lab.astype(str), dtype="str"),
        **{c: kf[c] for c in by_l},
        "rater": pd.array(r_lab.astype(str), dtype="str"),
        **{c: stats[c] for c in cols},
        **{c: extra[c] for c in PRE_POST_EXTRA},
        "note": pd.array(note.astype(str), dtype="str"),
    }
    out = pd.DataFrame(data, index=pd.RangeIndex(n_g))
    out = out.sort_values([*by_l, "rater", "unit"], key=_sort_key(raters, units), kind="stable")
    return out.reset_index(drop=True)


def _sort_key(raters: list[str], units: list[str]):
    r_ord = {r: i for i, r in enumerate(raters)}
    u_ord = {u: i for i, u in enumerate(units)}

    def key(s: pd.Series) -> pd.Series:
        if s.name == "rater":
            return s.map(r_ord)
        if s.name == "unit":
            return s.map(u_ord)
        return s

    return key


# -- reliable change ----------------------------------------------------------------------

RC_COLUMNS = [
    "participant_id",
    "instrument",
    "level",
    "unit",
    "rater",
    "status",
    "pre",
    "post",
    "diff",
    "sd_pre",
    "reliability",
    "reliability_source",
    "se_diff",
    "rc_index",
    "rc_class",
    "clinical_class",
    "note",
]


def reliable_change(
    ds: Dataset,
    instrument: str,
    *,
    pre: str = "baseline",
    post: str = "end",
    level: Literal["domain", "total"] = "domain",
    rater: str | None = None,
    reliability: float | Literal["estimate"] | None = None,
) -> pd.DataFrame:
    """Jacobson–Truax reliable change per participant, rater and unit.

    Parameters
    ----------
    ds, instrument
        The dataset and instrument id.
    pre, post
        Timepoints compared.
    level
        ``"domain"`` or ``"total"`` (a single item has no reliability of its own).
    rater
        One rater, or ``None`` for every rater present.
    reliability
        ``None``: the instrument definition (the domain's own value, else the
        instrument's; ``"estimate"`` there means Cronbach's alpha); a number in (0, 1):
        use it; ``"estimate"``: Cronbach's alpha of the unit's items at baseline.

    Returns
    -------
    DataFrame
        One row per participant × rater × unit (every participant, also without scores):
        ``participant_id, instrument, level, unit, rater, status, pre, post, diff``
        (post − pre), ``sd_pre`` (SD of all ``pre`` scores of the rater × unit),
        ``reliability, reliability_source`` (``"domain definition"``, ``"instrument
        definition"``, ``"argument"`` or ``"cronbach_alpha_baseline"``), ``se_diff``,
        ``rc_index``, ``rc_class`` (``improved``/``unchanged``/``deteriorated`` following
        the instrument's direction; missing when no pair), ``clinical_class``
        (``recovered`` when reliably improved *and* moved from the dysfunctional to the
        functional side of the instrument's ``clinical_cutoff``, else ``rc_class``;
        missing when the instrument has no cut-off) and ``note``.

    Notes
    -----
    ``RC = (post − pre) / S_diff`` with ``S_diff = √2 · SD_pre · √(1 − r_xx)`` (Jacobson &
    Truax 1991); reliable when ``|RC| > 1.96``. Cronbach's alpha:
    ``k/(k − 1) · (1 − Σ var(item) / var(Σ items))`` on complete baseline forms (R
    ``psych::alpha(x)$total$raw_alpha``). There is no single R reference function for
    the RC index; the tests recompute it by hand.

    Examples
    --------
    >>> import envejind_eval as ee
    >>> ds = ee.Dataset.from_canonical(ee.sample_path() / "canonical")
    >>> rc = ee.reliable_change(ds, "ungestjernen")
    >>> sorted(rc["rc_class"].dropna().unique())
    ['deteriorated', 'improved', 'unchanged']
    >>> rc["reliability_source"].iloc[0]
    'instrument definition'
    """
    if level not in ("domain", "total"):
        raise ValueError(f"Expecting one of domain, total; got '{level}'")
    inst = _check_common(ds, instrument, level, [], rater)
    _check_pre_post(pre, post)
    if (
        reliability is not None
        and reliability != "estimate"
        and not (
            isinstance(reliability, float | int)
            and not isinstance(reliability, bool)
            and 0 < reliability < 1
        )
    ):
        raise ValueError(
            f"Expecting None, 'estimate' or a number in (0, 1) for reliability; got {reliability!r}"
        )
    uni, raters, units = _universe(
        ds, inst, level=level, timepoints=[pre, post], rater=rater, by=[]
    )
    rel = _reliabilities(ds, inst, level=level, raters=raters, units=units, reliability=reliability)
    rc = _rc_core(uni, rel, inst, pre=pre, post=post)
    out = pd.DataFrame(
        {
            "participant_id": uni["participant_id"].to_numpy(),
            "instrument": inst.id,
            "level": level,
            "unit": uni["unit"].astype(str).to_numpy(),
            "rater": uni["rater"].astype(str).to_numpy(),
            "status": uni["status"].to_numpy(),
            "pre": uni[pre].to_numpy(dtype=float),
            "post": uni[post].to_numpy(dtype=float),
        }
    )
    for c in [
        "diff",
        "sd_pre",
        "reliability",
        "reliability_source",
        "se_diff",
        "rc_index",
        "rc_class",
        "clinical_class",
    ]:
        out[c] = rc[c].to_numpy()
    out["rc_class"] = out["rc_class"].astype("str")
    out["clinical_class"] = out["clinical_class"].astype("str")
    out["reliability_source"] = out["reliability_source"].astype("str")
    note = np.asarray(_reason_labels(uni, pre, post), dtype=object)
    no_rel = ~np.isfinite(out["reliability"].to_numpy(dtype=float))
    note = np.where((note == "") & no_rel, "reliability not available", note)
    out["note"] = pd.array(note.astype(str), dtype="str")
    return out[RC_COLUMNS]


# -- trajectories -------------------------------------------------------------------------


@dataclass(frozen=True)
class Trajectories:
    """Result of :func:`trajectories`.

    Attributes
    ----------
    means
        Group means per timepoint with t-intervals (``tidy()`` returns this).
    participants
        Per participant × rater × unit: scores per timepoint, reliable-change indices at
        end and follow-up against baseline, and ``pattern``.
    summary
        Per group × rater × unit: counts of each pattern, share improved and maintained
        with its Wilson interval.
    """

    means: pd.DataFrame
    participants: pd.DataFrame
    summary: pd.DataFrame

    def tidy(self) -> pd.DataFrame:
        return self.means


def trajectories(
    ds: Dataset,
    instrument: str,
    *,
    level: Level = "domain",
    by: str | Sequence[str] | None = None,
    rater: str | None = None,
    confidence: float = 0.95,
) -> Trajectories:
    """Scores over baseline → midway → end → follow-up: group means and patterns.

    Parameters
    ----------
    ds, instrument
        The dataset and instrument id.
    level
        ``"item"``, ``"domain"`` or ``"total"``. Patterns need a reliability and are
        missing at item level.
    by
        Participant columns to group by.
    rater
        One rater, or ``None`` for every rater present.
    confidence
        Level of the t-intervals and the Wilson interval.

    Returns
    -------
    Trajectories
        ``means``: ``instrument, level, unit, <by>, rater, timepoint, n, mean, sd, ci_low,
        ci_high, note`` (all participants with a score at that timepoint: an unbalanced
        description, not a paired comparison).
        ``participants``: ``participant_id, unit, <by>, rater, status, baseline, midway,
        end, followup, rc_end, rc_followup, pattern`` where ``pattern`` is one of
        ``improved_and_maintained`` (reliably improved at end and still reliably improved
        at follow-up, both against baseline), ``improved_not_maintained``,
        ``improved_no_followup``, ``not_improved`` or ``incomplete`` (no baseline or end).
        ``summary``: ``unit, <by>, rater, n_<pattern>`` for each pattern,
        ``share_maintained`` (improved and maintained among those with baseline, end and
        follow-up) with ``maintained_ci_low, maintained_ci_high`` (Wilson).

    Notes
    -----
    Means and ``mean ± t_{n−1, (1+conf)/2} · sd/√n`` as R ``t.test(x)$conf.int`` per
    timepoint; reliable change as in :func:`reliable_change` (Jacobson–Truax, criterion
    1.96, SD of baseline scores).

    Examples
    --------
    >>> import envejind_eval as ee
    >>> ds = ee.Dataset.from_canonical(ee.sample_path() / "canonical")
    >>> tr = ee.trajectories(ds, "ungestjernen", level="total")
    >>> tr.means["timepoint"].tolist()
    ['baseline', 'midway', 'end', 'followup']
    >>> int(tr.summary["n_improved_and_maintained"].iloc[0]) >= 0
    True
    """
    by_l = _as_list(by)
    inst = _check_common(ds, instrument, level, by_l, rater)
    if not (isinstance(confidence, float | int) and 0 < confidence < 1):
        raise ValueError(f"Expecting confidence in (0, 1); got {confidence!r}")
    tps = list(TIMEPOINTS)
    uni, raters, units = _universe(ds, inst, level=level, timepoints=tps, rater=rater, by=by_l)
    keys = [*by_l, "rater", "unit"]

    # -- means per timepoint
    long = uni[[*keys, *tps]].melt(
        id_vars=keys, value_vars=tps, var_name="timepoint", value_name="score"
    )
    long["timepoint"] = pd.Categorical(long["timepoint"], categories=tps)
    g = long.groupby([*keys, "timepoint"], observed=True, dropna=False, sort=True)["score"]
    m = g.agg(["count", "mean", "std"]).reset_index()
    n = m["count"].to_numpy(dtype=float)
    q = st.t.ppf(0.5 + confidence / 2, np.where(n >= 2, n - 1, 1.0))
    se = m["std"].to_numpy(dtype=float) / np.sqrt(n)
    ok = n >= 2
    means = m[[*keys, "timepoint"]].copy()
    means["n"] = m["count"].astype(np.int64)
    means["mean"] = np.where(n > 0, m["mean"], np.nan)
    means["sd"] = np.where(ok, m["std"], np.nan)
    means["ci_low"] = np.where(ok, means["mean"] - q * se, np.nan)
    means["ci_high"] = np.where(ok, means["mean"] + q * se, np.nan)
    means["note"] = pd.array(
        np.where(n == 0, "no scores", np.where(n == 1, "fewer than 2 scores: no interval", "")),
        dtype="str",
    )
    for c in ("rater", "unit", "timepoint"):
        means[c] = means[c].astype(str)
    means.insert(0, "instrument", inst.id)
    means.insert(1, "level", level)
    means = means[
        [
            "instrument",
            "level",
            "unit",
            *by_l,
            "rater",
            "timepoint",
            "n",
            "mean",
            "sd",
            "ci_low",
            "ci_high",
            "note",
        ]
    ]
    means = means.sort_values(
        [*by_l, "rater", "unit"], key=_sort_key(raters, units), kind="stable"
    ).reset_index(drop=True)

    # -- per-participant patterns
    rel = _reliabilities(ds, inst, level=level, raters=raters, units=units, reliability=None)
    rc_end = _rc_core(uni, rel, inst, pre="baseline", post="end")
    rc_fu = _rc_core(uni, rel, inst, pre="baseline", post="followup")
    imp_end = (rc_end["rc_class"] == "improved").to_numpy(dtype=bool)
    imp_fu = (rc_fu["rc_class"] == "improved").to_numpy(dtype=bool)
    has_end = rc_end["rc_class"].notna().to_numpy(dtype=bool)
    has_fu = rc_fu["rc_class"].notna().to_numpy(dtype=bool)
    pattern = np.where(
        ~has_end,
        "incomplete",
        np.where(
            ~imp_end,
            "not_improved",
            np.where(
                ~has_fu,
                "improved_no_followup",
                np.where(imp_fu, "improved_and_maintained", "improved_not_maintained"),
            ),
        ),
    )
    rel_ok = np.isfinite(rc_end["reliability"].to_numpy(dtype=float))
    parts = uni[["participant_id", "unit", *by_l, "rater", "status", *tps]].copy()
    parts["rc_end"] = rc_end["rc_index"].to_numpy()
    parts["rc_followup"] = rc_fu["rc_index"].to_numpy()
    pattern = pattern.astype(object)
    pattern[~rel_ok] = None
    parts["pattern"] = pd.array(pattern, dtype="str")

    flags = pd.DataFrame(
        {
            f"n_{c}": (parts["pattern"] == c).fillna(False).to_numpy(dtype=bool)
            for c in TRAJECTORY_PATTERNS
        }
    )
    flags["n_with_followup"] = has_end & has_fu & rel_ok
    for k in keys:
        flags[k] = parts[k].to_numpy()
        if k in ("rater", "unit"):
            flags[k] = parts[k]
    summary = flags.groupby(keys, observed=True, dropna=False, sort=True).sum().reset_index()
    for c in [*[f"n_{c}" for c in TRAJECTORY_PATTERNS], "n_with_followup"]:
        summary[c] = summary[c].astype(np.int64)
    k_m = summary["n_improved_and_maintained"].to_numpy(dtype=float)
    d_m = summary["n_with_followup"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        summary["share_maintained"] = np.where(d_m > 0, k_m / d_m, np.nan)
    lo, hi = wilson_interval(k_m, d_m, confidence=confidence)
    summary["maintained_ci_low"], summary["maintained_ci_high"] = lo, hi
    for c in ("rater", "unit"):
        summary[c] = summary[c].astype(str)
        parts[c] = parts[c].astype(str)
    summary.insert(0, "instrument", inst.id)
    summary.insert(1, "level", level)
    summary = summary[
        [
            "instrument",
            "level",
            "unit",
            *by_l,
            "rater",
            *[f"n_{c}" for c in TRAJECTORY_PATTERNS],
            "n_with_followup",
            "share_maintained",
            "maintained_ci_low",
            "maintained_ci_high",
        ]
    ]
    summary = summary.sort_values(
        [*by_l, "rater", "unit"], key=_sort_key(raters, units), kind="stable"
    ).reset_index(drop=True)
    parts = parts.reset_index(drop=True)
    return Trajectories(means=means, participants=parts, summary=summary)
