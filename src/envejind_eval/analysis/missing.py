"""Missing data and attrition: who drops out, and what complete-case results would look like
under intention to treat (multiple imputation by chained equations, Rubin's rules).

``rubin_pool`` is checked against R ``mice::pool.scalar``; the imputation is checked for
(near) unbiasedness on synthetic data with known truth under MCAR and MAR dropout.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from scipy import stats

from envejind_eval.analysis._unit_scores import (
    check_confidence,
    check_option,
    check_timepoints,
    get_instrument,
    paired_scores,
    resolve_raters,
    resolve_units,
    units_for,
)
from envejind_eval.schema import STATUSES

if TYPE_CHECKING:
    from envejind_eval.dataset import Dataset

__all__ = ["attrition", "pre_post_imputed", "rubin_pool"]

ATTRITION_COLUMNS = [
    "variable",
    "category",
    "instrument",
    "unit",
    "rater",
    "statistic_kind",
    "n_completers",
    "n_dropouts",
    "count_completers",
    "count_dropouts",
    "value_completers",
    "value_dropouts",
    "sd_completers",
    "sd_dropouts",
    "difference",
    "std_difference",
    "test_statistic",
    "test_df",
    "p_value",
    "test",
    "n_missing",
    "n_not_compared",
    "note",
]

IMPUTED_COLUMNS = [
    "instrument",
    "level",
    "unit",
    "rater",
    "pre",
    "post",
    "n_complete",
    "n_excluded_cc",
    "mean_diff_cc",
    "ci_low_cc",
    "ci_high_cc",
    "n_itt",
    "n_imputed_pre",
    "n_imputed_post",
    "n_no_data",
    "mean_diff_mi",
    "std_error_mi",
    "ci_low_mi",
    "ci_high_mi",
    "df_mi",
    "within_var",
    "between_var",
    "total_var",
    "riv",
    "fmi",
    "m",
    "method",
    "note",
]


# -- attrition --------------------------------------------------------------------------------


def attrition(
    ds: Dataset,
    instrument: str | None = None,
    *,
    level: Literal["item", "domain", "total"] = "domain",
    timepoint: str = "baseline",
    rater: str | None = None,
    dropouts: Sequence[str] = ("dropped_out", "excluded"),
) -> pd.DataFrame:
    """Baseline differences between completers and dropouts.

    Compares participants with status ``completed`` against those whose status is in
    ``dropouts`` on baseline characteristics (age at start, sex, referral source,
    municipality) and, when ``instrument`` is given, on its scores at ``timepoint``.
    Participants with other statuses (e.g. ``ongoing``) are not compared; their number is
    in ``n_not_compared``.

    Parameters
    ----------
    ds
        The dataset.
    instrument
        Instrument id whose scores are compared; ``None`` compares characteristics only.
    level
        Score level: ``"item"``, ``"domain"`` (default) or ``"total"``.
    timepoint
        Timepoint of the scores (default ``"baseline"``).
    rater
        Rater whose forms are used; ``None`` (default) analyses every rater with forms
        separately (as ``pre_post``).
    dropouts
        Statuses counted as dropouts (default ``dropped_out`` and ``excluded``).

    Returns
    -------
    DataFrame
        One row per numeric variable and per category of a categorical one. Columns
        ``variable`` (``age_at_start``, ``sex``, ``referred_by``, ``municipality``,
        ``score``), ``category`` (missing for numeric rows), ``instrument``, ``unit``,
        ``rater`` (for scores), ``statistic_kind`` (``"mean"`` or ``"share"``), ``n_completers``,
        ``n_dropouts`` (participants with a value), ``count_completers``,
        ``count_dropouts`` (participants in the category; share rows), ``value_completers``,
        ``value_dropouts`` (mean or share), ``sd_completers``, ``sd_dropouts`` (mean rows),
        ``difference`` (dropouts − completers), ``std_difference``, ``test_statistic``,
        ``test_df`` (Welch t and its df; missing for Fisher's test), ``p_value``, ``test``
        (``"welch_t"`` or ``"fisher_exact"``),
        ``n_missing`` (compared participants without a value), ``n_not_compared``,
        ``note`` (why a test is missing). Counts are reported next to every estimate;
        small cells are *not* suppressed here (that is the disclosure layer's job).

    Notes
    -----
    Means are compared with Welch's t test, :math:`t = (\\bar x_D - \\bar x_C) /
    \\sqrt{s_D^2/n_D + s_C^2/n_C}` with Welch–Satterthwaite df (R ``t.test(x, y)``);
    categories (in the category or not × group) with Fisher's exact test (R
    ``fisher.test``). Standardised differences follow Austin (2009):
    :math:`(\\bar x_D - \\bar x_C) / \\sqrt{(s_C^2 + s_D^2)/2}` for means and
    :math:`(p_D - p_C) / \\sqrt{(p_C(1-p_C) + p_D(1-p_D))/2}` for shares; values above
    0.1–0.2 in absolute size are usually read as imbalance. Age at start is the start
    year minus the birth year. With team-sized groups, read p-values as descriptive.

    Examples
    --------
    >>> import envejind_eval as ee
    >>> ds = ee.Dataset.from_canonical(ee.sample_path() / "canonical")
    >>> att = ee.attrition(ds, "ungestjernen", level="total")
    >>> att.loc[att["variable"] == "score", ["unit", "test"]].values.tolist()
    [['total', 'welch_t']]
    """
    check_option("level", level, ("item", "domain", "total"))
    check_timepoints(timepoint=timepoint)
    if isinstance(dropouts, str) or not len(dropouts):
        raise ValueError("dropouts: Expecting a non-empty list of statuses")
    for s in dropouts:
        check_option("dropouts", s, [x for x in STATUSES if x != "completed"])
    p = ds.participants
    group = pd.Series(
        np.select(
            [p["status"] == "completed", p["status"].isin(list(dropouts))],
            ["completers", "dropouts"],
            default="",
        ),
        index=p.index,
    )
    n_not = int((group == "").sum())
    keep = group != ""
    p = p.loc[keep]
    group = group.loc[keep]
    rows: list[dict[str, object]] = []

    age = (p["start_date"].dt.year - p["birth_year"]).astype("Float64")
    rows.append(_compare_numeric(age, group, variable="age_at_start"))
    for var in ("sex", "referred_by", "municipality"):
        rows.extend(_compare_categorical(p[var], group, variable=var))

    if instrument is not None:
        inst = get_instrument(ds, instrument)
        units = units_for(inst, level)
        other = "end" if timepoint != "end" else "baseline"
        gmap = pd.Series(group.to_numpy(), index=p["participant_id"].to_numpy())
        for rt in resolve_raters(ds, inst, rater):
            w = paired_scores(
                ds, inst, level=level, units=units, rater=rt, pre=timepoint, post=other
            )
            w = w.loc[w["participant_id"].isin(gmap.index)]
            for u in units:
                wu = w.loc[w["unit"] == u]
                g = pd.Series(gmap.loc[wu["participant_id"]].to_numpy(), index=wu.index)
                row = _compare_numeric(wu["pre"], g, variable="score")
                row.update(instrument=instrument, unit=u, rater=rt)
                rows.append(row)

    out = pd.DataFrame(rows).reindex(columns=ATTRITION_COLUMNS)
    out["n_not_compared"] = n_not
    for c in ("n_completers", "n_dropouts", "n_missing", "n_not_compared"):
        out[c] = out[c].astype(int)
    for c in ("count_completers", "count_dropouts"):
        out[c] = out[c].astype("Int64")
    for c in ATTRITION_COLUMNS[10:19]:
        out[c] = out[c].astype(float)
    for c in ("category", "instrument", "unit", "rater"):
        out[c] = out[c].astype("str").where(out[c].notna(), None)
    out["note"] = out["note"].fillna("")
    return out


def _compare_numeric(x: pd.Series, group: pd.Series, *, variable: str) -> dict[str, object]:
    x = pd.to_numeric(x).astype(float)
    c = x[(group == "completers").to_numpy()].dropna().to_numpy()
    d = x[(group == "dropouts").to_numpy()].dropna().to_numpy()
    row: dict[str, object] = {
        "variable": variable,
        "statistic_kind": "mean",
        "n_completers": c.size,
        "n_dropouts": d.size,
        "value_completers": c.mean() if c.size else np.nan,
        "value_dropouts": d.mean() if d.size else np.nan,
        "sd_completers": c.std(ddof=1) if c.size > 1 else np.nan,
        "sd_dropouts": d.std(ddof=1) if d.size > 1 else np.nan,
        "test": "welch_t",
        "n_missing": int(x.isna().sum()),
        "note": "",
    }
    row["difference"] = float(row["value_dropouts"]) - float(row["value_completers"])  # type: ignore[arg-type]
    pooled_sd = np.sqrt((float(row["sd_completers"]) ** 2 + float(row["sd_dropouts"]) ** 2) / 2)  # type: ignore[arg-type]
    row["std_difference"] = row["difference"] / pooled_sd if pooled_sd > 0 else np.nan  # type: ignore[operator]
    if c.size < 2 or d.size < 2:
        row["note"] = "fewer than 2 participants with a value in a group"
    elif c.var(ddof=1) == 0 and d.var(ddof=1) == 0:
        row["note"] = "no variation within groups"
    else:
        res = stats.ttest_ind(d, c, equal_var=False)
        row["test_statistic"] = float(res.statistic)
        row["test_df"] = float(res.df)
        row["p_value"] = float(res.pvalue)
    return row


def _compare_categorical(
    x: pd.Series, group: pd.Series, *, variable: str
) -> list[dict[str, object]]:
    known = x.notna().to_numpy()
    isc = (group == "completers").to_numpy() & known
    isd = (group == "dropouts").to_numpy() & known
    nc, nd = int(isc.sum()), int(isd.sum())
    rows = []
    for cat in sorted(x.dropna().unique().tolist()):
        inc = (x == cat).fillna(False).to_numpy(dtype=bool)
        kc, kd = int((inc & isc).sum()), int((inc & isd).sum())
        pc = kc / nc if nc else np.nan
        pd_ = kd / nd if nd else np.nan
        denom = np.sqrt((pc * (1 - pc) + pd_ * (1 - pd_)) / 2)
        row: dict[str, object] = {
            "variable": variable,
            "category": str(cat),
            "statistic_kind": "share",
            "n_completers": nc,
            "n_dropouts": nd,
            "count_completers": kc,
            "count_dropouts": kd,
            "value_completers": pc,
            "value_dropouts": pd_,
            "difference": pd_ - pc,
            "std_difference": (pd_ - pc) / denom if denom > 0 else np.nan,
            "test": "fisher_exact",
            "n_missing": int((~known & (group != "").to_numpy()).sum()),
            "note": "",
        }
        if nc == 0 or nd == 0:
            row["note"] = "a group has no participants with a value"
        else:
            res = stats.fisher_exact([[kd, nd - kd], [kc, nc - kc]])
            row["p_value"] = float(res.pvalue)
        rows.append(row)
    return rows


# -- multiple imputation ---------------------------------------------------------------------


def rubin_pool(q: np.ndarray, u: np.ndarray, *, df_complete: float = np.inf) -> dict[str, float]:
    """Pool completed-data estimates ``q`` with variances ``u`` by Rubin's rules.

    Returns ``qbar, ubar, b, t, df, riv, fmi, lambda, m``: the pooled estimate, within-,
    between- and total variance, Barnard–Rubin (1999) degrees of freedom with complete-data
    df ``df_complete``, relative increase in variance ``riv = (1 + 1/m) b / ubar``, the
    fraction of missing information ``fmi = (riv + 2/(df + 3)) / (riv + 1)`` and
    ``lambda = (1 + 1/m) b / t``. As R ``mice::pool.scalar(Q, U, n, k = 1)``
    (``df_complete = n − k``), including its floor of ``lambda`` at 1e-4 in the df.
    """
    q = np.asarray(q, dtype=float)
    u = np.asarray(u, dtype=float)
    m = q.size
    if m < 2:
        raise ValueError("rubin_pool: Expecting at least 2 imputations")
    qbar, ubar = float(q.mean()), float(u.mean())
    b = float(q.var(ddof=1))
    t = ubar + (1 + 1 / m) * b
    riv = (1 + 1 / m) * b / ubar if ubar > 0 else np.inf
    lam = (1 + 1 / m) * b / t if t > 0 else 0.0
    lam_df = max(lam, 1e-4)
    df_old = (m - 1) / lam_df**2
    if np.isinf(df_complete):
        df = df_old
    else:
        df_obs = (df_complete + 1) / (df_complete + 3) * df_complete * (1 - lam_df)
        df = df_old * df_obs / (df_old + df_obs)
    fmi = (riv + 2 / (df + 3)) / (riv + 1)
    return {
        "qbar": qbar,
        "ubar": ubar,
        "b": b,
        "t": t,
        "df": float(df),
        "riv": float(riv),
        "fmi": float(fmi),
        "lambda": float(lam),
        "m": m,
    }


def pre_post_imputed(
    ds: Dataset,
    instrument: str,
    *,
    pre: str = "baseline",
    post: str = "end",
    level: Literal["item", "domain", "total"] = "domain",
    unit: str | None = None,
    rater: str | None = None,
    m: int = 20,
    n_iter: int = 10,
    seed: int = 0,
    population: Sequence[str] = ("completed", "dropped_out", "excluded"),
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Intention-to-treat sensitivity analysis of the pre/post change by multiple imputation.

    For every unit, the complete-case mean difference (pairs with both scores) is shown
    beside the mean difference over *all* participants in ``population`` who have at least
    one of the two scores, with missing ``pre`` and ``post`` scores multiply imputed by
    chained equations and the ``m`` results pooled by Rubin's rules.

    Parameters
    ----------
    ds
        The dataset.
    instrument
        Instrument id.
    pre, post
        Timepoints.
    level
        ``"item"``, ``"domain"`` (default) or ``"total"``.
    unit
        One unit of ``level``; ``None`` (default) analyses every unit.
    rater
        Rater whose forms are used; ``None`` (default) analyses every rater with forms
        separately (as ``pre_post``).
    m
        Number of imputations (at least 2; 20 or more is advisable when much is missing).
    n_iter
        Iterations of the chained equations per imputation.
    seed
        Seed; the same input and seed give identical output.
    population
        Statuses in the intention-to-treat population (default: everyone who started and
        is not ``ongoing``).
    confidence
        Level of both intervals.

    Returns
    -------
    DataFrame
        One row per rater × unit. Columns ``instrument, level, unit, rater, pre, post``;
        complete cases: ``n_complete, n_excluded_cc`` (population members without a complete
        pair), ``mean_diff_cc, ci_low_cc, ci_high_cc`` (paired t interval, as
        :func:`envejind_eval.analysis.paired.paired_summary`); intention to treat:
        ``n_itt`` (population members with at least one score), ``n_imputed_pre``,
        ``n_imputed_post``, ``n_no_data`` (population members with neither score; not
        imputed), ``mean_diff_mi, std_error_mi, ci_low_mi, ci_high_mi, df_mi`` (pooled),
        ``within_var, between_var, total_var`` (Rubin's Ū, B, T), ``riv`` (relative
        increase in variance), ``fmi`` (fraction of missing information), ``m``,
        ``method`` and ``note`` (why values are missing).

    Notes
    -----
    Imputation model (per unit): ``pre ~ post + municipality`` and ``post ~ pre +
    municipality``, cycled ``n_iter`` times from random draws of the observed values; each
    missing value is drawn from the posterior predictive distribution of a normal linear
    regression (Rubin 1987, p. 167; R ``mice(method = "norm")``):
    :math:`\\sigma^{*2} = SSR / \\chi^2_{n_{obs}-p}`,
    :math:`\\beta^* \\sim N(\\hat\\beta, \\sigma^{*2} (X^\\top X)^{-1})`,
    :math:`y^* = X_{mis}\\beta^* + \\sigma^* z`. Imputed scores are not rounded or clipped
    to the scale (that would bias the mean). Municipality dummies are dropped when they
    cannot be estimated (a municipality with no observed value).

    Each completed dataset gives :math:`\\hat Q_j = \\bar d` and :math:`U_j = s_d^2 / n`;
    Rubin's rules: :math:`\\bar Q = \\frac1m \\sum \\hat Q_j`, :math:`\\bar U = \\frac1m
    \\sum U_j`, :math:`B = \\frac{1}{m-1} \\sum (\\hat Q_j - \\bar Q)^2`,
    :math:`T = \\bar U + (1 + 1/m) B`, Barnard–Rubin df with complete-data df ``n − 1``,
    interval :math:`\\bar Q \\pm t_{df} \\sqrt{T}` (R ``mice::pool.scalar``, checked in
    ``rubin_pool``). The imputation assumes missing at random given the observed score
    and municipality; dropouts who would have fared worse than similar completers (MNAR)
    are not covered — that is what this sensitivity analysis is *for* comparing against,
    not a cure for.

    Examples
    --------
    >>> import envejind_eval as ee
    >>> ds = ee.Dataset.from_canonical(ee.sample_path() / "canonical")
    >>> itt = ee.analysis.pre_post_imputed(ds, "ungestjernen", level="total", m=5)
    >>> itt.loc[0, "unit"], int(itt.loc[0, "m"])
    ('total', 5)
    >>> bool((itt["n_itt"] >= itt["n_complete"]).all())
    True
    """
    from envejind_eval.analysis.paired import paired_summary

    check_option("level", level, ("item", "domain", "total"))
    check_timepoints(pre=pre, post=post)
    check_confidence(confidence)
    if pre == post:
        raise ValueError("pre and post must be different timepoints")
    if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 2:
        raise ValueError(f"m: Expecting an integer of at least 2; got {m!r}")
    if isinstance(n_iter, bool) or not isinstance(n_iter, int | np.integer) or n_iter < 1:
        raise ValueError(f"n_iter: Expecting a positive integer; got {n_iter!r}")
    if isinstance(population, str) or not len(population):
        raise ValueError("population: Expecting a non-empty list of statuses")
    for s in population:
        check_option("population", s, STATUSES)
    inst = get_instrument(ds, instrument)
    units = resolve_units(inst, level, unit)
    rng = np.random.default_rng(seed)
    rows = []
    for rt in resolve_raters(ds, inst, rater):
        w = paired_scores(
            ds,
            inst,
            level=level,
            units=units,
            rater=rt,
            pre=pre,
            post=post,
            population=list(population),
        )
        cc = paired_summary(
            w[["unit", "pre", "post"]],
            by=["unit"],
            n_boot=0,
            confidence=confidence,
            higher_is_better=inst.higher_is_better,
        ).set_index("unit")
        for u in units:
            wu = w.loc[w["unit"] == u]
            anyv = wu["pre"].notna() | wu["post"].notna()
            itt = wu.loc[anyv]
            row: dict[str, object] = {
                "instrument": instrument,
                "level": level,
                "unit": u,
                "rater": rt,
                "pre": pre,
                "post": post,
                "n_complete": int(cc.loc[u, "n"]) if u in cc.index else 0,  # type: ignore[arg-type]
                "n_excluded_cc": int((wu["pre"].isna() | wu["post"].isna()).sum()),
                "mean_diff_cc": cc.loc[u, "mean_diff"] if u in cc.index else np.nan,
                "ci_low_cc": cc.loc[u, "ci_low"] if u in cc.index else np.nan,
                "ci_high_cc": cc.loc[u, "ci_high"] if u in cc.index else np.nan,
                "n_itt": len(itt),
                "n_imputed_pre": int(itt["pre"].isna().sum()),
                "n_imputed_post": int(itt["post"].isna().sum()),
                "n_no_data": int((~anyv).sum()),
                "m": m,
                "method": "mice_norm_rubin",
                "note": "",
            }
            y = itt[["pre", "post"]].to_numpy(dtype=float)
            muni = itt["municipality"].to_numpy(dtype=object)
            est, note = _mi_mean_diff(y, muni, m=m, n_iter=n_iter, rng=rng)
            if est is None:
                row["note"] = note
            else:
                q_j, u_j = est
                pooled = rubin_pool(q_j, u_j, df_complete=len(itt) - 1)
                se = np.sqrt(pooled["t"])
                tq = stats.t.ppf(0.5 + confidence / 2, pooled["df"])
                row.update(
                    mean_diff_mi=pooled["qbar"],
                    std_error_mi=se,
                    ci_low_mi=pooled["qbar"] - tq * se,
                    ci_high_mi=pooled["qbar"] + tq * se,
                    df_mi=pooled["df"],
                    within_var=pooled["ubar"],
                    between_var=pooled["b"],
                    total_var=pooled["t"],
                    riv=pooled["riv"],
                    fmi=pooled["fmi"],
                    note=note,
                )
            rows.append(row)
    out = pd.DataFrame(rows).reindex(columns=IMPUTED_COLUMNS)
    for c in IMPUTED_COLUMNS:
        if c.startswith("n_") or c == "m":
            out[c] = out[c].astype(int)
        elif c in ("mean_diff_cc", "ci_low_cc", "ci_high_cc") or c in IMPUTED_COLUMNS[15:25]:
            out[c] = out[c].astype(float)
    out["note"] = out["note"].fillna("")
    return out


#: A municipality needs this many observed values to get its own intercept in the
#: imputation model (else it shares the reference municipality's).
MIN_OBS_PER_MUNICIPALITY = 3


def _draw_norm(
    codes: np.ndarray, z: np.ndarray, y: np.ndarray, obs: np.ndarray, rng: np.random.Generator
) -> np.ndarray | None:
    """Posterior-predictive draws for ``y[~obs]`` from ``y ~ 1 + municipality + z``.

    ``codes`` are municipality codes (0 = reference). A municipality gets a dummy when it
    has at least ``MIN_OBS_PER_MUNICIPALITY`` observed rows (and not all of them); ``z`` is
    dropped when constant. ``X'X`` is built from per-municipality sums, so a draw costs
    O(n + p^3) rather than O(n p^2) (98 municipalities at national scale).
    """
    co, zo, yo = codes[obs], z[obs], y[obs]
    n = yo.size
    g = int(codes.max()) + 1
    cnt = np.bincount(co, minlength=g)
    kept = np.flatnonzero((cnt >= MIN_OBS_PER_MUNICIPALITY) & (cnt < n))
    kept = kept[kept != 0]
    use_z = bool(np.ptp(zo) > 0)
    p = 1 + kept.size + int(use_z)
    if n - p < 1:
        return None
    idx = np.arange(1, kept.size + 1)
    xtx = np.zeros((p, p))
    xty = np.zeros(p)
    xtx[0, 0] = n
    xty[0] = yo.sum()
    xtx[0, idx] = xtx[idx, 0] = xtx[idx, idx] = cnt[kept]
    xty[idx] = np.bincount(co, weights=yo, minlength=g)[kept]
    if use_z:
        sz = np.bincount(co, weights=zo, minlength=g)[kept]
        xtx[0, -1] = xtx[-1, 0] = zo.sum()
        xtx[idx, -1] = xtx[-1, idx] = sz
        xtx[-1, -1] = zo @ zo
        xty[-1] = zo @ yo
    xtx += np.eye(p) * 1e-5 * np.maximum(np.diag(xtx), 1e-12)  # mice's ridge
    inv = np.linalg.inv(xtx)
    beta = inv @ xty

    def predict(b: np.ndarray, c: np.ndarray, zz: np.ndarray) -> np.ndarray:
        eff = np.zeros(g)
        eff[kept] = b[idx]
        out = b[0] + eff[c]
        return out + b[-1] * zz if use_z else out

    resid = yo - predict(beta, co, zo)
    sigma = np.sqrt(float(resid @ resid) / rng.chisquare(n - p))
    chol = np.linalg.cholesky((inv + inv.T) / 2)
    beta_star = beta + sigma * chol @ rng.standard_normal(p)
    mis = ~obs
    return predict(beta_star, codes[mis], z[mis]) + sigma * rng.standard_normal(int(mis.sum()))


def _mi_mean_diff(
    y: np.ndarray, muni: np.ndarray, *, m: int, n_iter: int, rng: np.random.Generator
) -> tuple[tuple[np.ndarray, np.ndarray] | None, str]:
    """``m`` completed-data (mean diff, variance) pairs for the (pre, post) matrix ``y``."""
    n = y.shape[0]
    if n < 2:
        return None, "fewer than 2 participants with a score"
    obs = ~np.isnan(y)
    for j, name in enumerate(("pre", "post")):
        if obs[:, j].sum() < 3:
            return None, f"fewer than 3 observed {name} scores to impute from"
    codes = np.unique(muni, return_inverse=True)[1].ravel()
    q = np.empty(m)
    u = np.empty(m)
    if obs.all():
        d = y[:, 1] - y[:, 0]
        q[:] = d.mean()
        u[:] = d.var(ddof=1) / n
        return (q, u), "nothing to impute"
    for k in range(m):
        cur = y.copy()
        for j in range(2):  # start from random draws of the observed values
            miss = ~obs[:, j]
            cur[miss, j] = rng.choice(y[obs[:, j], j], size=int(miss.sum()))
        for _ in range(n_iter):
            for j in range(2):
                if obs[:, j].all():
                    continue
                draw = _draw_norm(codes, cur[:, 1 - j], cur[:, j], obs[:, j], rng)
                if draw is None:
                    return None, "too few observed scores for the imputation model"
                cur[~obs[:, j], j] = draw
        d = cur[:, 1] - cur[:, 0]
        q[k] = d.mean()
        u[k] = d.var(ddof=1) / n
    return (q, u), ""
