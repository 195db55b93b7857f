"""Status outcomes (education, employment, police charges, housing) and dose–response.

``status_outcomes`` answers the evaluation's supplementary questions: the share of young
people with each binary status at each timepoint, baseline → end transition tables and a
McNemar test of the paired change (exact binomial test on the discordant pairs by default,
as suits teams of 5–8).

``dose_response`` relates attendance and ART dose to progression on an instrument (end
score adjusted for baseline). It describes an **association, not a causal effect**: who
attends more differs in many ways from who attends less.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, cast

import numpy as np
import pandas as pd

from envejind_eval.analysis.attendance import (
    ART_COURSE_HOURS,
    _check_option,
    _group_keys,
    _participant_dose,
    _scheduled_days,
    _summarise,
)
from envejind_eval.errors import InsufficientDataError
from envejind_eval.schema import OUTCOME_INDICATORS, TIMEPOINTS

if TYPE_CHECKING:
    from envejind_eval.dataset import Dataset

__all__ = ["CAVEAT", "StatusOutcomes", "dose_response", "mcnemar", "status_outcomes"]

#: The caveat carried by every dose–response estimate.
CAVEAT = "association, not causal"

McNemarMethod = Literal["exact", "asymptotic", "auto"]
MCNEMAR_METHODS: tuple[str, ...] = ("exact", "asymptotic", "auto")
#: With ``method="auto"`` the exact test is used below this many discordant pairs.
AUTO_EXACT_BELOW = 25


def mcnemar(n_01: int, n_10: int, *, method: McNemarMethod = "exact") -> tuple[float, float, str]:
    """McNemar test from the discordant counts.

    Parameters
    ----------
    n_01, n_10
        Pairs that changed 0 → 1 and 1 → 0.
    method
        ``"exact"``: two-sided binomial test of ``n_01`` out of ``n_01 + n_10`` against 1/2
        (R ``binom.test(n_01, n_01 + n_10)``); ``"asymptotic"``: chi-square
        ``(|n_01 - n_10| - 1)^2 / (n_01 + n_10)`` with continuity correction, dropped when
        ``n_01 = n_10`` (as R ``mcnemar.test(tab)``, ``correct = TRUE``); ``"auto"``: exact
        below 25 discordant pairs.

    Returns
    -------
    (statistic, p_value, method_label)
        ``statistic`` is ``n_01`` for the exact test, the chi-square otherwise. With no
        discordant pairs the exact p-value is 1 and the chi-square is undefined (NaN).
    """
    from scipy import stats

    _check_option(method, MCNEMAR_METHODS, "method")
    nd = n_01 + n_10
    if method == "auto":
        method = "exact" if nd < AUTO_EXACT_BELOW else "asymptotic"
    if method == "exact":
        if nd == 0:
            return float(n_01), 1.0, "McNemar exact (binomial test on discordant pairs)"
        p = float(stats.binomtest(n_01, nd, 0.5).pvalue)
        return float(n_01), p, "McNemar exact (binomial test on discordant pairs)"
    if nd == 0:
        return float("nan"), float("nan"), "McNemar chi-square, continuity corrected"
    # R applies the continuity correction only when the table is not symmetric
    yates = 1 if n_01 != n_10 else 0
    chi = (abs(n_01 - n_10) - yates) ** 2 / nd
    return float(chi), float(stats.chi2.sf(chi, 1)), "McNemar chi-square, continuity corrected"


@dataclass(frozen=True)
class StatusOutcomes:
    """Result of :func:`status_outcomes`; every field is a tidy DataFrame.

    Attributes
    ----------
    shares
        ``[municipality,] indicator, timepoint, n, n_yes, share, ci_low, ci_high,
        n_missing`` -- exact (Clopper–Pearson) interval as R ``binom.test``; ``n_missing``
        participants have no answer at that timepoint.
    transitions
        ``[municipality,] indicator, pre_value, post_value, n`` -- the full 2 × 2 table
        (zeros included) of participants answered at both timepoints.
    mcnemar
        ``[municipality,] indicator, pre, post, n, n_excluded, n_pre_yes, n_post_yes,
        share_pre, share_post, difference, n_01, n_10, statistic, p_value, method``.
    """

    shares: pd.DataFrame
    transitions: pd.DataFrame
    mcnemar: pd.DataFrame

    def tidy(self) -> pd.DataFrame:
        """The McNemar table."""
        return self.mcnemar


def status_outcomes(
    ds: Dataset,
    *,
    pre: str = "baseline",
    post: str = "end",
    by: Literal["none", "municipality"] = "none",
    method: McNemarMethod = "exact",
    confidence: float = 0.95,
) -> StatusOutcomes:
    """Shares with each status, transition tables and McNemar tests of the change.

    Parameters
    ----------
    ds
        The dataset (``outcomes`` table; values 0/1, missing allowed).
    pre, post
        Timepoints compared (default baseline → end; e.g. ``post="followup"``).
    by
        ``"none"`` (all participants) or ``"municipality"``.
    method
        McNemar variant, see :func:`mcnemar` (default exact).
    confidence
        Level of the share intervals.

    Returns
    -------
    StatusOutcomes
        Frozen result with ``shares``, ``transitions`` and ``mcnemar`` (see
        :class:`StatusOutcomes`).

    Notes
    -----
    ``difference = share_post - share_pre`` among the ``n`` participants answered at both
    timepoints; ``n_excluded`` participants of the dataset lack one of the answers.
    Checked against R ``mcnemar.test`` and ``binom.test`` (committed reference values).

    Examples
    --------
    >>> import envejind_eval as ee
    >>> ds, _ = ee.synthesize(seed=1, scale="tiny")
    >>> so = ee.status_outcomes(ds)
    >>> so.mcnemar["method"].iloc[0]
    'McNemar exact (binomial test on discordant pairs)'
    """
    _check_option(pre, TIMEPOINTS, "pre")
    _check_option(post, TIMEPOINTS, "post")
    if pre == post:
        raise ValueError("Expecting different pre and post timepoints")
    _check_option(by, ("none", "municipality"), "by")
    _check_option(method, MCNEMAR_METHODS, "method")
    if not 0 < confidence < 1:
        raise ValueError(f"Expecting confidence in (0, 1); got {confidence!r}")
    keys = ["municipality"] if by == "municipality" else []
    p = ds.participants[["participant_id", "municipality"]]
    p = p.assign(_g=p["municipality"] if keys else "all")
    n_total = p.groupby("_g").size()
    groups = list(n_total.index)
    o = ds.outcomes[["participant_id", "timepoint", "indicator", "value"]]
    o = o.merge(p[["participant_id", "_g"]], on="participant_id", how="inner")
    o = o.loc[o["value"].notna()]

    # shares per group x indicator x timepoint
    grid = pd.MultiIndex.from_product(
        [groups, list(OUTCOME_INDICATORS), list(TIMEPOINTS)], names=["_g", "indicator", "timepoint"]
    )
    yes = o.assign(yes=(o["value"] == 1).astype("int64"))
    cnt = yes.groupby(["_g", "indicator", "timepoint"])["yes"].agg(["size", "sum"])
    cnt = cnt.reindex(grid, fill_value=0)
    n = cnt["size"].to_numpy(dtype="int64")
    k = cnt["sum"].to_numpy(dtype="int64")
    lo, hi = _exact_ci_vec(k, n, confidence)
    shares = pd.DataFrame(
        {
            "_g": grid.get_level_values("_g"),
            "indicator": grid.get_level_values("indicator"),
            "timepoint": grid.get_level_values("timepoint"),
            "n": n,
            "n_yes": k,
            "share": np.where(n > 0, k / np.maximum(n, 1), np.nan),
            "ci_low": lo,
            "ci_high": hi,
            "n_missing": n_total.reindex(grid.get_level_values("_g")).to_numpy() - n,
        }
    )

    # paired answers: transitions and McNemar
    wide = (
        o.loc[o["timepoint"].isin([pre, post])]
        .pivot_table(
            index=["_g", "indicator", "participant_id"], columns="timepoint", values="value"
        )  # fmt: skip
        .reindex(columns=[pre, post])
        .dropna()
        .astype("int64")
        .reset_index()
    )
    tgrid = pd.MultiIndex.from_product(
        [groups, list(OUTCOME_INDICATORS), [0, 1], [0, 1]],
        names=["_g", "indicator", "pre_value", "post_value"],
    )
    tc = (
        wide.rename(columns={pre: "pre_value", post: "post_value"})
        .groupby(["_g", "indicator", "pre_value", "post_value"])
        .size()
        .reindex(tgrid, fill_value=0)
        .rename("n")
        .reset_index()
    )
    tc["n"] = tc["n"].astype("int64")
    cells = tc.pivot_table(
        index=["_g", "indicator"], columns=["pre_value", "post_value"], values="n", sort=False
    )
    mc_rows = []
    for key, r in cells.iterrows():
        g, ind = cast(tuple[str, str], key)
        n00, n01, n10, n11 = (int(r[(0, 0)]), int(r[(0, 1)]), int(r[(1, 0)]), int(r[(1, 1)]))
        m = n00 + n01 + n10 + n11
        stat, pval, label = mcnemar(n01, n10, method=method)
        if m == 0:
            stat, pval = np.nan, np.nan
        sp, sq = ((n10 + n11) / m, (n01 + n11) / m) if m else (np.nan, np.nan)
        mc_rows.append(
            {
                "_g": g,
                "indicator": ind,
                "pre": pre,
                "post": post,
                "n": m,
                "n_excluded": int(n_total[g]) - m,
                "n_pre_yes": n10 + n11,
                "n_post_yes": n01 + n11,
                "share_pre": sp,
                "share_post": sq,
                "difference": sq - sp,
                "n_01": n01,
                "n_10": n10,
                "statistic": stat,
                "p_value": pval,
                "method": label,
            }
        )
    mc = pd.DataFrame(mc_rows)

    def finish(df: pd.DataFrame) -> pd.DataFrame:
        df = df.reset_index(drop=True)
        if keys:
            return df.rename(columns={"_g": "municipality"})
        return df.drop(columns="_g")

    return StatusOutcomes(finish(shares), finish(tc), finish(mc))


def _exact_ci_vec(k: np.ndarray, n: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised Clopper–Pearson limits (R ``binom.test``): beta quantiles, 0/1 at the ends."""
    from scipy import stats

    alpha = (1 - confidence) / 2
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.where(k > 0, stats.beta.ppf(alpha, k, n - k + 1), 0.0)
        hi = np.where(k < n, stats.beta.ppf(1 - alpha, k + 1, n - k), 1.0)
    empty = n == 0
    return np.where(empty, np.nan, lo), np.where(empty, np.nan, hi)


# -- dose-response ---------------------------------------------------------------------------

EXPOSURES: tuple[str, ...] = ("attendance_rate", "art_hours")


def dose_response(
    ds: Dataset,
    *,
    instrument: str = "ungestjernen",
    unit: str = "total",
    rater: str | None = None,
    exposures: tuple[str, ...] = EXPOSURES,
    art_course_hours: float = ART_COURSE_HOURS,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Attendance and ART dose against progression, adjusted for baseline (not causal).

    Parameters
    ----------
    ds
        The dataset.
    instrument
        Instrument id whose ``baseline`` and ``end`` scores measure progression.
    unit
        ``"total"`` or a domain id of the instrument.
    rater
        Rater of the scores; default the instrument's first allowed rater.
    exposures
        Any of ``"attendance_rate"`` (0-1, attended / scheduled days) and ``"art_hours"``.
    art_course_hours
        Length of the ART course (used for ART hours per participant).
    confidence
        Level of the intervals.

    Returns
    -------
    DataFrame
        One row per exposure: ``instrument, unit, rater, exposure, estimate, se, ci_low,
        ci_high, p_value, n, n_excluded, r_squared, method, caveat`` where ``estimate`` is
        the OLS coefficient of the exposure in ``end ~ baseline + exposure`` (change in the
        end score per unit of exposure at equal baseline). ``caveat`` is always
        ``"association, not causal"`` and is also in ``DataFrame.attrs["caveat"]``.

    Notes
    -----
    ``statsmodels`` OLS with classical standard errors (R ``lm(end ~ baseline +
    exposure)``). Adjusting the end score for baseline is the ANCOVA form of "change
    adjusted for baseline". Participants without both scores or without the exposure are
    counted in ``n_excluded``. Dose is not randomised: attendance is a marker of
    motivation and circumstances as much as a cause of change.

    Examples
    --------
    >>> import envejind_eval as ee
    >>> ds, _ = ee.synthesize(seed=1, scale="tiny")
    >>> dr = ee.dose_response(ds)
    >>> dr.attrs["caveat"]
    'association, not causal'
    """
    import statsmodels.api as sm

    from envejind_eval.instruments.scoring import scores

    for e in exposures:
        _check_option(e, EXPOSURES, "exposures")
    if not 0 < confidence < 1:
        raise ValueError(f"Expecting confidence in (0, 1); got {confidence!r}")
    if instrument not in ds.instruments:
        raise ValueError(f"Expecting one of {', '.join(ds.instruments)}; got '{instrument}'")
    inst = ds.instruments[instrument]
    if rater is None:
        rater = inst.raters[0]
    _check_option(rater, tuple(inst.raters), "rater")
    level: Literal["total", "domain"] = "total" if unit == "total" else "domain"
    if level == "domain":
        _check_option(unit, ("total", *inst.domain_ids), "unit")
    s = scores(ds, instrument, level=level)
    s = s.loc[
        (s["unit"] == unit) & (s["rater"] == rater) & s["timepoint"].isin(["baseline", "end"])
    ]
    wide = s.pivot_table(index="participant_id", columns="timepoint", values="score")
    wide = wide.reindex(columns=["baseline", "end"])
    sched = _scheduled_days(ds)
    att = _summarise(sched, _group_keys("participant")).set_index("participant_id")[
        "attendance_rate"
    ]
    dose = _participant_dose(ds, art_course_hours, sched=sched).set_index("participant_id")[
        "art_hours"
    ]
    ids = ds.participants["participant_id"]
    base = pd.DataFrame(index=pd.Index(ids, name="participant_id"))
    base = base.join(wide).join(att).join(dose)
    n_total = len(base)
    rows = []
    for e in exposures:
        d = base[["end", "baseline", e]].dropna()
        n = len(d)
        row = {
            "instrument": instrument, "unit": unit, "rater": rater, "exposure": e,
            "estimate": np.nan, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan,
            "p_value": np.nan, "n": n, "n_excluded": n_total - n, "r_squared": np.nan,
            "method": "OLS end ~ baseline + exposure", "caveat": CAVEAT,
        }  # fmt: skip
        if n > 3 and d[e].nunique() > 1:
            X = sm.add_constant(d[["baseline", e]].to_numpy(dtype=float), has_constant="add")
            fit = sm.OLS(d["end"].to_numpy(dtype=float), X).fit()
            ci = fit.conf_int(alpha=1 - confidence)
            row.update(
                estimate=float(fit.params[2]),
                se=float(fit.bse[2]),
                ci_low=float(ci[2, 0]),
                ci_high=float(ci[2, 1]),
                p_value=float(fit.pvalues[2]),
                r_squared=float(fit.rsquared),
            )
        rows.append(row)
    out = pd.DataFrame(rows)
    if out["n"].max() <= 3:
        raise InsufficientDataError(
            f"dose_response: fewer than 4 participants with baseline and end '{instrument}' "
            "scores and a dose"
        )
    out.attrs["caveat"] = CAVEAT
    return out
