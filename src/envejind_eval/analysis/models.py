"""Models: linear mixed model over timepoints and municipalities; marginal homogeneity.

``mixed_model`` fits ``score ~ timepoint * municipality`` with random intercepts for
participants nested in teams (REML, fitted as lme4 does) and is checked against
``lme4::lmer`` and ``lmerTest``. ``marginal_homogeneity`` tests whether the distribution of a paired ordinal
item changed between two timepoints (Stuart–Maxwell / Bhapkar), checked against
``coin::mh_test`` and statsmodels' ``SquareTable.homogeneity``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from scipy import stats

from envejind_eval.analysis import _lmm
from envejind_eval.analysis._unit_scores import (
    check_confidence,
    check_option,
    check_timepoints,
    get_instrument,
    long_scores,
    paired_scores,
    resolve_rater,
    resolve_raters,
    resolve_units,
)
from envejind_eval.errors import InsufficientDataError

if TYPE_CHECKING:
    from envejind_eval.dataset import Dataset

__all__ = ["MixedModelResult", "marginal_homogeneity", "mixed_model"]

#: Fewer levels than this in a grouping factor give a warning in the result.
MIN_GROUP_LEVELS = 5
#: A variance component at most this times the residual variance is at the boundary
#: (singular fit): warned about, and held at 0 for Satterthwaite's degrees of freedom.
SINGULAR_TOL = 1e-6

TIDY_COLUMNS = [
    "term",
    "estimate",
    "std_error",
    "df",
    "t_statistic",
    "p_value",
    "ci_low",
    "ci_high",
]
VC_COLUMNS = ["component", "group", "variance", "std_dev", "n_levels"]
MH_COLUMNS = [
    "instrument",
    "item",
    "rater",
    "pre",
    "post",
    "n",
    "n_excluded",
    "n_categories",
    "statistic",
    "df",
    "p_value",
    "method",
    "reason",
]


@dataclass(frozen=True)
class MixedModelResult:
    """Result of :func:`mixed_model` (immutable).

    Attributes
    ----------
    instrument, level, unit, rater : str
        What was modelled.
    formula : str
        The fixed-effects formula (patsy syntax).
    reml : bool
        REML (True) or maximum likelihood.
    fixed_effects : DataFrame
        See :meth:`tidy`.
    variance_components : DataFrame
        Columns ``component`` (``team``, ``participant``, ``residual``), ``group``
        (``cohort_id``, ``participant_id:cohort_id``, ``residual``), ``variance``,
        ``std_dev``, ``n_levels``.
    n_obs, n_participants, n_teams : int
        Observations (non-missing scores) used, participants and teams (cohorts).
    n_excluded : int
        Forms at the requested timepoints without a score (too few items answered).
    converged : bool
        The optimiser of the profiled likelihood reported convergence.
    log_likelihood : float
        (Restricted) log-likelihood at the optimum, in lme4's convention.
    warnings : tuple of str
        Design and fit warnings: grouping factors with fewer than 5 levels, variance
        components at the boundary (singular fit), optimiser warnings.
    """

    instrument: str
    level: str
    unit: str
    rater: str
    formula: str
    reml: bool
    fixed_effects: pd.DataFrame = field(repr=False)
    variance_components: pd.DataFrame = field(repr=False)
    n_obs: int
    n_participants: int
    n_teams: int
    n_excluded: int
    converged: bool
    log_likelihood: float
    warnings: tuple[str, ...]

    def tidy(self) -> pd.DataFrame:
        """Fixed effects, one row per model term.

        Columns ``term`` (patsy name, e.g. ``C(timepoint)[T.end]``), ``estimate``,
        ``std_error``, ``df`` (Satterthwaite's degrees of freedom, as lmerTest; ``inf`` with
        ``ddf="wald"``), ``t_statistic`` (estimate / std_error), ``p_value`` (two-sided, t
        reference on ``df``), ``ci_low``, ``ci_high`` (t interval).
        """
        return self.fixed_effects.copy()

    def _repr_html_(self) -> str:
        w = "".join(f"<li>{x}</li>" for x in self.warnings)
        return (
            f"<div><b>Mixed model</b> {self.instrument}/{self.unit} ({self.rater}): "
            f"{self.formula}; {self.n_obs} obs, {self.n_participants} participants, "
            f"{self.n_teams} teams; converged={self.converged}"
            f"{self.fixed_effects.to_html(index=False, border=0)}"
            f"{self.variance_components.to_html(index=False, border=0)}"
            f"<ul>{w}</ul></div>"
        )


def mixed_model(
    ds: Dataset,
    instrument: str,
    *,
    unit: str | None = None,
    level: Literal["total", "domain"] = "total",
    timepoints: Sequence[str] = ("baseline", "end"),
    rater: str | None = None,
    formula: str = "score ~ C(timepoint) * C(municipality)",
    reml: bool = True,
    confidence: float = 0.95,
    ddf: Literal["satterthwaite", "wald"] = "satterthwaite",
) -> MixedModelResult:
    """Linear mixed model of one score over timepoints, with teams and participants random.

    Fits ``formula`` with a random intercept per team (``cohort_id``) and a random
    intercept per participant within team, using every non-missing score at the requested
    timepoints (participants with only some timepoints are kept).

    Parameters
    ----------
    ds
        The dataset.
    instrument
        Instrument id.
    unit
        ``"total"`` (default for ``level="total"``) or a domain id (required for
        ``level="domain"``).
    level
        ``"total"`` or ``"domain"``.
    timepoints
        Timepoints to model, in order; the first is the reference level.
    rater
        Rater whose forms are used; may be omitted when the instrument has forms from one
        rater only (else ``ValueError``).
    formula
        Fixed-effects formula in patsy syntax over the columns ``score, timepoint,
        municipality, cohort_id, participant_id, sex, birth_year, referred_by``.
        ``timepoint`` is categorical with levels in the order of ``timepoints`` and
        ``municipality`` categorical with sorted levels, so ``C(...)`` gives R's treatment
        contrasts with R's reference levels.
    reml
        Restricted maximum likelihood (default, as ``lmer``) or maximum likelihood.
    confidence
        Level of the intervals.
    ddf
        Degrees of freedom for the tests and intervals of the fixed effects:
        ``"satterthwaite"`` (default; ``lmerTest``'s default) or ``"wald"`` (normal
        reference, as statsmodels reports; anti-conservative with few teams).

    Returns
    -------
    MixedModelResult
        ``.tidy()`` gives the fixed effects (``term, estimate, std_error, df,
        t_statistic, p_value, ci_low, ci_high``); ``.variance_components``, ``.n_obs``,
        ``.n_participants``, ``.n_teams``, ``.converged`` and ``.warnings`` describe the fit.

    Raises
    ------
    InsufficientDataError
        Fewer than 2 teams or no scores to model.

    Notes
    -----
    The model is

    .. math:: y_{ijt} = x_{ijt}^\\top \\beta + u_j + v_{ij} + \\varepsilon_{ijt},\\quad
              u_j \\sim N(0, \\sigma^2_{team}),\\ v_{ij} \\sim N(0, \\sigma^2_{participant}),
              \\ \\varepsilon \\sim N(0, \\sigma^2)

    for participant *i* in team *j* at timepoint *t*. The fixed-effects design comes from
    patsy (``formula``); the fit maximises the profiled (restricted) likelihood over the
    two relative standard deviations, bounded at 0, as lme4 does (statsmodels' ``MixedLM``,
    used before, stopped short of the optimum near the boundary in about 5 % of
    team-sized programmes and looped over teams in Python). The R counterpart is
    ``lme4::lmer(score ~ timepoint * municipality + (1 | cohort_id/participant_id),
    REML = TRUE)`` with ``timepoint`` and ``municipality`` factors having the same
    reference levels; fixed effects, standard errors and log-likelihood agree to 1e-6
    relative on the committed reference inputs (``tests/reference/make_reference_models.R``).

    Tests and intervals use a t reference with Satterthwaite's degrees of freedom per
    coefficient, as ``lmerTest::summary(m, ddf = "Satterthwaite")``, checked against it on
    the same input. A municipality's effect is estimated from its few teams, so its ``df``
    is close to the number of teams minus the municipalities, not the number of
    observations; normal-reference (Wald) p-values, ``ddf="wald"``, are then far too small.
    Teams (cohorts) are nested in municipalities; with fewer than 5 teams the team
    variance is poorly estimated, which the result says in ``warnings``.

    Examples
    --------
    >>> import envejind_eval as ee
    >>> ds = ee.Dataset.from_canonical(ee.sample_path() / "canonical")
    >>> res = ee.mixed_model(ds, "ungestjernen")
    >>> res.tidy().columns.tolist()
    ['term', 'estimate', 'std_error', 'df', 't_statistic', 'p_value', 'ci_low', 'ci_high']
    >>> res.tidy()["term"].iloc[1]
    'C(timepoint)[T.end]'
    """
    check_option("level", level, ("total", "domain"))
    check_confidence(confidence)
    check_option("ddf", ddf, ("satterthwaite", "wald"))
    if isinstance(timepoints, str) or len(timepoints) < 2 or len(set(timepoints)) < len(timepoints):
        raise ValueError("timepoints: Expecting at least two distinct timepoints")
    check_timepoints(**{f"timepoints[{k}]": tp for k, tp in enumerate(timepoints)})
    inst = get_instrument(ds, instrument)
    if unit is None:
        if level == "domain":
            raise ValueError(
                "unit: Expecting one of "
                f"{', '.join(repr(d) for d in inst.domain_ids)} for level='domain'; got None"
            )
        unit = "total"
    (unit,) = resolve_units(inst, level, unit)
    rater = resolve_rater(ds, inst, rater)

    lg = long_scores(ds, inst, level=level, units=[unit], rater=rater, timepoints=list(timepoints))
    n_excluded = int(lg["score"].isna().sum())
    data = lg.loc[lg["score"].notna()].copy()
    if not len(data):
        raise InsufficientDataError(
            f"mixed_model: no {instrument}/{unit} scores at {', '.join(timepoints)}"
        )
    p = ds.participants[["participant_id", "sex", "birth_year", "referred_by"]]
    data = data.merge(p, on="participant_id", how="left")
    data["birth_year"] = data["birth_year"].astype(float)  # patsy cannot test pd.NA
    data["score"] = data["score"].astype(float)
    data["timepoint"] = pd.Categorical(
        data["timepoint"], categories=list(timepoints)
    ).remove_unused_categories()
    data["municipality"] = pd.Categorical(
        data["municipality"], categories=sorted(data["municipality"].unique())
    )
    data = data.sort_values(["cohort_id", "participant_id", "timepoint"]).reset_index(drop=True)

    n_teams = int(data["cohort_id"].nunique())
    n_part = int(data["participant_id"].nunique())
    if n_teams < 2:
        raise InsufficientDataError(
            f"mixed_model: {n_teams} team(s) with scores; a team random effect needs at least 2"
        )
    notes: list[str] = []
    if n_teams < MIN_GROUP_LEVELS:
        notes.append(
            f"grouping factor cohort_id has fewer than {MIN_GROUP_LEVELS} levels ({n_teams}); "
            "the team variance is poorly estimated"
        )
    if n_part < MIN_GROUP_LEVELS:
        notes.append(
            f"grouping factor participant_id has fewer than {MIN_GROUP_LEVELS} levels ({n_part})"
        )
    if len(data["timepoint"].cat.categories) < len(timepoints):
        missing = [t for t in timepoints if t not in data["timepoint"].cat.categories]
        notes.append(f"no scores at timepoint(s) {', '.join(missing)}")

    from patsy import PatsyError, dmatrices

    try:
        yy, xx = dmatrices(formula, data, NA_action="raise", return_type="matrix")
    except PatsyError as e:
        raise ValueError(
            f"formula: cannot build the model matrix ({str(e).splitlines()[0]}); use the "
            "columns score, timepoint, municipality, cohort_id, participant_id, sex, "
            "birth_year, referred_by, with no missing values in the ones used"
        ) from None
    terms = list(xx.design_info.column_names)
    x = np.asarray(xx, dtype=float)
    aliased = _aliased_columns(x, terms)
    if aliased:
        raise InsufficientDataError(
            "mixed_model: fixed-effect term(s) not estimable from these data (empty or "
            f"collinear cells): {', '.join(aliased)}; lme4 would drop them silently -- "
            "restrict the data or simplify the formula"
        )
    blocks = _blocks(
        x, np.asarray(yy, dtype=float)[:, 0], data["cohort_id"], data["participant_id"]
    )
    # theta: the relative standard deviations of the team and participant intercepts
    grid = (0.0, 0.03, 0.1, 0.3, 1.0, 3.0)
    stacks = _lmm.stacks(blocks)
    theta, llf, scale, converged, message = _lmm.fit(
        lambda th: _lmm.profile(stacks, th**2, reml),
        start=(1.0, 1.0),
        grid=(grid, grid),
        bounds=[(0, 1e3)] * 2,
    )
    if not converged:
        notes.append(f"the optimiser did not converge ({message})")
    v_team, v_part = (float(t**2 * scale) for t in theta)
    phi = np.array([v_team, v_part, scale])
    free = np.array([v_team > SINGULAR_TOL * scale, v_part > SINGULAR_TOL * scale, True])
    est, cov, df = _lmm.gls(blocks, phi, reml, free)
    se = np.sqrt(np.diag(cov))
    if ddf == "wald":
        df = np.full(len(est), np.inf)
    t = est / se
    q = stats.t.ppf(0.5 + confidence / 2, df)
    fixed = pd.DataFrame(
        {
            "term": terms,
            "estimate": est,
            "std_error": se,
            "df": df,
            "t_statistic": t,
            "p_value": 2 * stats.t.sf(np.abs(t), df),
            "ci_low": est - q * se,
            "ci_high": est + q * se,
        },
        columns=TIDY_COLUMNS,
    )
    vc = pd.DataFrame(
        {
            "component": ["team", "participant", "residual"],
            "group": ["cohort_id", "participant_id:cohort_id", "residual"],
            "variance": [v_team, v_part, scale],
            "std_dev": np.sqrt([v_team, v_part, scale]),
            "n_levels": [n_teams, n_part, len(data)],
        },
        columns=VC_COLUMNS,
    )
    for comp, v in (("cohort_id", v_team), ("participant_id", v_part)):
        if v <= SINGULAR_TOL * scale:
            notes.append(
                f"singular fit: the {comp} variance is estimated at (near) zero; "
                "the model reduces to one without that random intercept"
            )
    return MixedModelResult(
        instrument=instrument,
        level=level,
        unit=unit,
        rater=rater,
        formula=formula,
        reml=reml,
        fixed_effects=fixed,
        variance_components=vc,
        n_obs=len(data),
        n_participants=n_part,
        n_teams=n_teams,
        n_excluded=n_excluded,
        converged=converged,
        log_likelihood=llf,
        warnings=tuple(notes),
    )


def _aliased_columns(x: np.ndarray, names: Sequence[str]) -> list[str]:
    """Columns of ``x`` that are linear combinations of earlier columns."""
    if np.linalg.matrix_rank(x) == x.shape[1]:
        return []
    out, kept = [], np.empty((x.shape[0], 0))
    for j, name in enumerate(names):
        trial = np.column_stack([kept, x[:, j]])
        if np.linalg.matrix_rank(trial) > kept.shape[1]:
            kept = trial
        else:
            out.append(str(name))
    return out


def _blocks(
    x: np.ndarray, y: np.ndarray, team: pd.Series, participant: pd.Series
) -> list[tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]]:
    """Per team (rows sorted by team): (X, y, (team pattern, participant pattern)): the
    team's covariance is ``v_team * ones + v_part * same_participant + residual * I``."""
    t = pd.factorize(team)[0]
    pc = pd.factorize(participant)[0]
    starts = np.flatnonzero(np.r_[True, t[1:] != t[:-1]])
    out: list[tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]] = []
    for a, b in zip(starts, [*starts[1:], len(t)], strict=True):
        n, p = b - a, pc[a:b]
        same = (p[:, None] == p[None, :]).astype(float)
        out.append((x[a:b], y[a:b], (np.ones((n, n)), same)))
    return out


# -- marginal homogeneity ------------------------------------------------------------------


def marginal_homogeneity(
    ds: Dataset,
    instrument: str,
    item: str,
    *,
    pre: str = "baseline",
    post: str = "end",
    rater: str | None = None,
    method: Literal["stuart_maxwell", "bhapkar"] = "stuart_maxwell",
) -> pd.DataFrame:
    """Marginal homogeneity of a paired ordinal item between two timepoints.

    Cross-tabulates the item's answers at ``pre`` (rows) and ``post`` (columns) for
    participants answering both, and tests whether the two margins are equal.

    Parameters
    ----------
    ds
        The dataset.
    instrument, item
        Instrument id and one of its item ids. Values are the recoded item values
        (missing codes removed, reverse-keyed items mirrored), as in ``scores(level="item")``.
    pre, post
        Timepoints.
    rater
        Rater whose forms are used; ``None`` (default) tests every rater with forms
        separately (one row each).
    method
        ``"stuart_maxwell"`` (default) or ``"bhapkar"``.

    Returns
    -------
    DataFrame
        One row per rater; columns ``instrument, item, rater, pre, post, n`` (pairs),
        ``n_excluded`` (participants without an answer at both timepoints), ``n_categories``
        (answer categories observed), ``statistic``, ``df``, ``p_value`` (chi-squared
        reference), ``method``, ``reason`` (why the statistic is NaN, else empty).

    Notes
    -----
    With ``d = n_{i.} - n_{.i}`` the differences of the margins and ``S`` their covariance
    (:math:`S_{ii} = n_{i.} + n_{.i} - 2 n_{ii}`, :math:`S_{ij} = -(n_{ij} + n_{ji})`), the
    Stuart–Maxwell statistic is :math:`X^2 = d^\\top S^{-} d` with ``df = rank(S)``, using a
    Moore–Penrose inverse so that categories nobody moves out of are handled as in R
    ``coin::mh_test(table)`` (asymptotic), which it is checked against. Bhapkar's
    statistic is :math:`W = X^2 / (1 - X^2/n)` (statsmodels
    ``SquareTable.homogeneity(method="bhapkar")``); it is more powerful but more liberal in
    small samples. Both are asymptotic: with team-sized samples read them as descriptive.

    Examples
    --------
    >>> import envejind_eval as ee
    >>> ds = ee.Dataset.from_canonical(ee.sample_path() / "canonical")
    >>> mh = ee.analysis.marginal_homogeneity(ds, "lfl", "lfl01")
    >>> mh["rater"].tolist()  # LFL is filled in by the young person and by the mentor
    ['self', 'mentor']
    """
    check_option("method", method, ("stuart_maxwell", "bhapkar"))
    check_timepoints(pre=pre, post=post)
    if pre == post:
        raise ValueError("pre and post must be different timepoints")
    inst = get_instrument(ds, instrument)
    (item,) = resolve_units(inst, "item", item)
    rows = []
    for rt in resolve_raters(ds, inst, rater):
        w = paired_scores(ds, inst, level="item", units=[item], rater=rt, pre=pre, post=post)
        both = w["pre"].notna() & w["post"].notna()
        x, y = w.loc[both, "pre"].to_numpy(), w.loc[both, "post"].to_numpy()
        stat, df, p, k, reason = _mh_test(x, y, method)
        rows.append(
            {
                "instrument": instrument,
                "item": item,
                "rater": rt,
                "pre": pre,
                "post": post,
                "n": int(both.sum()),
                "n_excluded": int((~both).sum()),
                "n_categories": k,
                "statistic": stat,
                "df": df,
                "p_value": p,
                "method": method,
                "reason": reason,
            }
        )
    return pd.DataFrame(rows, columns=MH_COLUMNS)


def _mh_table(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    cats = np.unique(np.concatenate([x, y]))
    ix, iy = np.searchsorted(cats, x), np.searchsorted(cats, y)
    tab = np.zeros((cats.size, cats.size))
    np.add.at(tab, (ix, iy), 1)
    return tab


def _mh_stat(tab: np.ndarray, method: str) -> tuple[float, float, float]:
    """Stuart–Maxwell / Bhapkar statistic, df and p-value of a square table."""
    n = tab.sum()
    d = tab.sum(axis=1) - tab.sum(axis=0)
    s = -(tab + tab.T)
    np.fill_diagonal(s, tab.sum(axis=1) + tab.sum(axis=0) - 2 * np.diag(tab))
    rank = int(np.linalg.matrix_rank(s))
    if rank == 0:
        return np.nan, 0.0, np.nan
    x2 = float(d @ np.linalg.pinv(s) @ d)
    if method == "bhapkar":
        x2 = x2 / (1 - x2 / n) if x2 < n else np.inf
    return x2, float(rank), float(stats.chi2.sf(x2, rank))


def _mh_test(x: np.ndarray, y: np.ndarray, method: str) -> tuple[float, float, float, int, str]:
    if x.size == 0:
        return np.nan, np.nan, np.nan, 0, "no pairs"
    tab = _mh_table(x, y)
    k = tab.shape[0]
    if k < 2:
        return np.nan, np.nan, np.nan, k, "one answer category only"
    stat, df, p = _mh_stat(tab, method)
    if df == 0:
        return np.nan, np.nan, np.nan, k, "no participant changed category"
    return stat, df, p, k, ""
