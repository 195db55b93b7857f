"""Retention: time from start to dropout, Kaplan–Meier curves, log-rank test, dropout weeks.

(The module is ``survival``, not ``retention``: a submodule named like the public function
``envejind_eval.analysis.retention`` would replace it on the package once imported.)

Time origin is the participant's own ``start_date``. A participant with status
``dropped_out`` (and, by default, ``excluded``) has an event at ``exit_date``; completers are
censored at ``exit_date`` (or ``planned_end_date``); ongoing participants are censored at
``exit_date`` when delivered, else at their last registration (attendance or activity),
else at ``planned_end_date``. Participants whose time cannot be placed (an event without
``exit_date``, or no date to censor at) are left out and counted in ``n_excluded``.

Kaplan–Meier estimates come from ``statsmodels`` ``SurvfuncRight``; the pointwise
confidence intervals are computed from its Greenwood standard error in the same way as R
``survival::survfit`` (default ``conf.type = "log"``), and the log-rank test is
``statsmodels.duration.survfunc.survdiff`` (R ``survival::survdiff``). The values are
checked against R to 1e-6 on a committed reference (``tests/reference``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from envejind_eval.analysis.attendance import _check_option, _course_week, _participant_window
from envejind_eval.errors import InsufficientDataError

if TYPE_CHECKING:
    from envejind_eval.dataset import Dataset

__all__ = ["Retention", "kaplan_meier", "retention", "survival_times"]

ConfType = Literal["log", "log-log", "plain"]
CONF_TYPES: tuple[str, ...] = ("log", "log-log", "plain")
_BY = {"municipality": ["municipality"], "team": ["municipality", "cohort_id"], "none": []}


@dataclass(frozen=True)
class Retention:
    """Result of :func:`retention`; every field is a tidy DataFrame.

    Attributes
    ----------
    survival
        Kaplan–Meier estimate at each event time: group columns, ``time, n_risk, n_event,
        survival, se, ci_low, ci_high, conf_type, n``.
    groups
        Per group: ``n, n_events, n_censored, n_excluded, observed, expected`` (log-rank
        observed and expected events, as R ``survdiff``).
    logrank
        One row: ``statistic, df, p_value, n, n_events, n_groups, method`` (NaN with fewer
        than two groups).
    dropout_weeks
        Per group and course week: ``course_week, n_at_risk, n_dropout, n_censored,
        dropout_rate, cumulative_dropouts, n``.
    times
        The per-participant input: group columns, ``participant_id, status, time, event``.
    """

    survival: pd.DataFrame
    groups: pd.DataFrame
    logrank: pd.DataFrame
    dropout_weeks: pd.DataFrame
    times: pd.DataFrame

    def tidy(self) -> pd.DataFrame:
        """The Kaplan–Meier table."""
        return self.survival


def survival_times(
    ds: Dataset,
    *,
    unit: Literal["days", "weeks"] = "days",
    excluded: Literal["dropout", "censored"] = "dropout",
) -> pd.DataFrame:
    """Time from start to dropout (event) or censoring per participant.

    Returns columns ``municipality, cohort_id, participant_id, status, time, event,
    exit_week, usable`` where ``event`` is 1 for a dropout, ``time`` is in ``unit`` (days
    or days / 7), ``exit_week`` is the course week (from the team's start) of the dropout or
    censoring date, and ``usable`` is False when the time cannot be placed.
    """
    _check_option(unit, ("days", "weeks"), "unit")
    _check_option(excluded, ("dropout", "censored"), "excluded")
    w = _participant_window(ds)
    p = ds.participants.set_index("participant_id")
    events = ("dropped_out", "excluded") if excluded == "dropout" else ("dropped_out",)
    last_seen = (
        pd.concat(
            [ds.attendance[["participant_id", "date"]], ds.activities[["participant_id", "date"]]]
        )
        .groupby("participant_id")["date"]
        .max()
    )
    exit_date = w["participant_id"].map(p["exit_date"])
    planned = w["participant_id"].map(p["planned_end_date"])
    event = w["status"].isin(events)
    ongoing = w["status"] == "ongoing"
    # (reindex, not map: pandas cannot map through an empty datetime Series)
    seen = pd.Series(last_seen.reindex(w["participant_id"]).to_numpy(), index=w.index).astype(
        "datetime64[us]"
    )
    end = exit_date.astype("datetime64[us]")
    end = end.fillna(seen.where(ongoing)).fillna(planned.where(~event))
    days = (end - w["start"]).dt.days.astype("float64")
    usable = days.notna() & (days >= 0)
    time = days / 7.0 if unit == "weeks" else days
    exit_week = _course_week(end.fillna(w["team_start"]), w["team_start"]).where(usable)
    return pd.DataFrame(
        {
            "municipality": w["municipality"],
            "cohort_id": w["cohort_id"],
            "participant_id": w["participant_id"],
            "status": w["status"],
            "time": time,
            "event": event.astype("int64"),
            "exit_week": exit_week.astype("Int64"),
            "usable": usable,
        }
    )


def kaplan_meier(
    time: np.ndarray,
    event: np.ndarray,
    *,
    conf_type: ConfType = "log",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Kaplan–Meier estimate with pointwise intervals at the event times.

    Returns ``time, n_risk, n_event, survival, se, ci_low, ci_high``.

    Notes
    -----
    ``S(t) = prod_{t_i <= t} (1 - d_i / n_i)`` (``statsmodels`` ``SurvfuncRight``), with
    Greenwood ``se(S) = S * sqrt(sum d_i / (n_i (n_i - d_i)))``. Intervals as R
    ``survfit``: with ``s = se(S) / S`` (the standard error of the cumulative hazard) and
    ``z`` the normal quantile, ``"log"``: ``S exp(±z s)`` (upper limit capped at 1);
    ``"log-log"``: ``S^exp(±z s / log S)``; ``"plain"``: ``S ± z se(S)`` clipped to
    [0, 1]. Limits are NaN where ``S = 0`` (or, for log-log, ``S = 1``).
    """
    from scipy import stats
    from statsmodels.duration.survfunc import SurvfuncRight

    _check_option(conf_type, CONF_TYPES, "conf_type")
    cols = ["time", "n_risk", "n_event", "survival", "se", "ci_low", "ci_high"]
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=float)
    if not len(time) or event.sum() == 0:
        return pd.DataFrame(columns=cols).astype(
            {"n_risk": "int64", "n_event": "int64"} | {c: "float64" for c in cols[:1] + cols[3:]}
        )
    sf = SurvfuncRight(time, event)
    surv = np.asarray(sf.surv_prob, dtype=float)
    se = np.asarray(sf.surv_prob_se, dtype=float)
    z = stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(surv > 0, se / surv, np.nan)
        if conf_type == "log":
            lo = surv * np.exp(-z * s)
            hi = np.minimum(surv * np.exp(z * s), 1.0)
        elif conf_type == "log-log":
            ll = np.log(-np.log(surv))
            sll = s / np.log(surv)
            lo = np.exp(-np.exp(ll - z * sll))
            hi = np.exp(-np.exp(ll + z * sll))
            lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
            bad = (surv >= 1) | (surv <= 0)
            lo, hi = np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)
        else:
            lo = np.clip(surv - z * se, 0.0, 1.0)
            hi = np.clip(surv + z * se, 0.0, 1.0)
    zero = surv <= 0
    lo, hi = np.where(zero, np.nan, lo), np.where(zero, np.nan, hi)
    return pd.DataFrame(
        {
            "time": np.asarray(sf.surv_times, dtype=float),
            "n_risk": np.asarray(sf.n_risk).astype("int64"),
            "n_event": np.asarray(sf.n_events).astype("int64"),
            "survival": surv,
            "se": se,
            "ci_low": lo,
            "ci_high": hi,
        }
    )


def _observed_expected(time: np.ndarray, event: np.ndarray, group: np.ndarray) -> pd.DataFrame:
    """Log-rank observed and expected events per group (R ``survdiff`` ``obs``/``exp``).

    ``expected_g = sum_t n_g(t) d(t) / n(t)`` over the distinct event times ``t``, with
    ``n(t)`` the number at risk (time >= t) and ``d(t)`` the events at ``t``.
    """
    ut, d_all = np.unique(time[event == 1], return_counts=True)
    st = np.sort(time)
    at_risk_all = len(st) - np.searchsorted(st, ut, side="left")
    labels = pd.unique(group)
    obs, exp = [], []
    for g in labels:
        m = group == g
        sg = np.sort(time[m])
        n_g = len(sg) - np.searchsorted(sg, ut, side="left")
        obs.append(float(event[m].sum()))
        exp.append(float((n_g * d_all / at_risk_all).sum()))
    return pd.DataFrame({"group": labels, "observed": obs, "expected": exp})


def retention(
    ds: Dataset,
    *,
    by: Literal["municipality", "team", "none"] = "municipality",
    unit: Literal["days", "weeks"] = "days",
    excluded: Literal["dropout", "censored"] = "dropout",
    conf_type: ConfType = "log",
    confidence: float = 0.95,
) -> Retention:
    """Kaplan–Meier retention by group, log-rank test and a dropout-week table.

    Parameters
    ----------
    ds
        The dataset (``participants``; attendance/activities only to censor ongoing
        participants at their last registration).
    by
        ``"municipality"`` (default), ``"team"`` (cohort) or ``"none"`` (everyone).
    unit
        Time scale: ``"days"`` or ``"weeks"`` (days / 7).
    excluded
        Whether status ``excluded`` counts as a dropout event (default) or is censored.
    conf_type
        Pointwise interval for S(t): ``"log"`` (R ``survfit`` default), ``"log-log"`` or
        ``"plain"``.
    confidence
        Confidence level of the intervals.

    Returns
    -------
    Retention
        Frozen result with ``survival``, ``groups``, ``logrank``, ``dropout_weeks`` and
        ``times`` (see :class:`Retention`).

    Notes
    -----
    Kaplan–Meier and intervals: see :func:`kaplan_meier` (R
    ``summary(survfit(Surv(time, event) ~ group))``). Log-rank: ``statsmodels``
    ``survdiff`` chi-square with ``k - 1`` degrees of freedom (R ``survdiff``, ``rho = 0``).
    The dropout-week table counts, per course week (from the team's start date), the
    participants enrolled at the start of the week (``n_at_risk``), dropouts and censorings
    in that week; ``dropout_rate = n_dropout / n_at_risk``.

    Examples
    --------
    >>> import envejind_eval as ee
    >>> ds, _ = ee.synthesize(seed=1, scale="tiny")
    >>> r = ee.retention(ds)
    >>> r.logrank.columns.tolist()[:3]
    ['statistic', 'df', 'p_value']
    """
    from statsmodels.duration.survfunc import survdiff

    _check_option(by, tuple(_BY), "by")
    _check_option(conf_type, CONF_TYPES, "conf_type")
    if not 0 < confidence < 1:
        raise ValueError(f"Expecting confidence in (0, 1); got {confidence!r}")
    keys = _BY[by]
    t = survival_times(ds, unit=unit, excluded=excluded)
    if not t["usable"].any():
        raise InsufficientDataError("retention: no participant has a usable time to dropout")
    t = (
        t.assign(_group="all")
        if not keys
        else t.assign(_group=t.groupby(keys, sort=True, dropna=False).ngroup())
    )
    u = t.loc[t["usable"]]
    key_of = t.drop_duplicates("_group").set_index("_group")[keys]

    surv_parts, group_rows = [], []
    for g, sub in t.groupby("_group", sort=True):
        us = sub.loc[sub["usable"]]
        km = kaplan_meier(
            us["time"].to_numpy(), us["event"].to_numpy(), conf_type=conf_type,
            confidence=confidence,
        )  # fmt: skip
        km.insert(0, "_group", g)
        km["conf_type"] = conf_type
        km["n"] = len(us)
        surv_parts.append(km)
        group_rows.append(
            {
                "_group": g,
                "n": len(us),
                "n_events": int(us["event"].sum()),
                "n_censored": int((us["event"] == 0).sum()),
                "n_excluded": int((~sub["usable"]).sum()),
            }
        )
    survival = pd.concat(surv_parts, ignore_index=True)
    groups = pd.DataFrame(group_rows)
    time_a = u["time"].to_numpy(dtype=float)
    event_a = u["event"].to_numpy(dtype=float)
    group_a = u["_group"].to_numpy(dtype=object)
    oe = _observed_expected(time_a, event_a, group_a).rename(columns={"group": "_group"})
    groups = groups.merge(oe, on="_group", how="left")

    n_groups = int(u["_group"].nunique())
    if n_groups >= 2 and event_a.sum() > 0:
        chisq, p = survdiff(time_a, event_a, group_a)
        stat, df, pval = float(chisq), n_groups - 1, float(p)
    else:
        stat, df, pval = np.nan, max(n_groups - 1, 0), np.nan
    logrank = pd.DataFrame(
        [
            {
                "statistic": stat,
                "df": df,
                "p_value": pval,
                "n": len(u),
                "n_events": int(event_a.sum()),
                "n_groups": n_groups,
                "method": "log-rank test (statsmodels survdiff; R survival::survdiff rho=0)",
            }
        ]
    )
    weeks = _dropout_weeks(ds, t)

    def with_keys(df: pd.DataFrame) -> pd.DataFrame:
        k = key_of.loc[df["_group"]].reset_index(drop=True)
        return pd.concat([k, df.drop(columns="_group").reset_index(drop=True)], axis=1)

    times = t[[*keys, "participant_id", "status", "time", "event", "usable"]].reset_index(drop=True)
    return Retention(with_keys(survival), with_keys(groups), logrank, with_keys(weeks), times)


def _dropout_weeks(ds: Dataset, t: pd.DataFrame) -> pd.DataFrame:
    cols = [
        "_group", "course_week", "n_at_risk", "n_dropout", "n_censored", "dropout_rate",
        "cumulative_dropouts", "n",
    ]  # fmt: skip
    w = _participant_window(ds).drop_duplicates("participant_id").set_index("participant_id")
    u = t.loc[t["usable"]]
    if not len(u):
        return pd.DataFrame(columns=cols)
    pid = u["participant_id"]
    start_week = _course_week(
        pid.map(w["start"]).astype("datetime64[us]"),
        pid.map(w["team_start"]).astype("datetime64[us]"),
    ).to_numpy()
    exit_week = u["exit_week"].astype("int64").to_numpy()
    exit_week = np.maximum(exit_week, start_week)
    group = u["_group"].to_numpy()
    event = u["event"].to_numpy()

    def expand(g: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> pd.DataFrame:
        # one row per (g, week) for week in lo..hi
        length = hi - lo + 1
        offset = np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
        return pd.DataFrame(
            {"_group": np.repeat(g, length), "course_week": np.repeat(lo, length) + offset}
        )

    enrolled = expand(group, start_week, exit_week)
    at_risk = enrolled.groupby(["_group", "course_week"]).size().rename("n_at_risk")
    ends = pd.DataFrame({"_group": group, "course_week": exit_week, "event": event})
    n_drop = ends.loc[ends["event"] == 1].groupby(["_group", "course_week"]).size()
    n_cens = ends.loc[ends["event"] == 0].groupby(["_group", "course_week"]).size()
    per = pd.DataFrame({"_group": group, "start": start_week, "end": exit_week}).groupby("_group")
    first = np.minimum(per["start"].min().to_numpy(), 1)
    last = per["end"].max().to_numpy()
    grid = expand(per["start"].min().index.to_numpy(), first, last)
    out = grid.set_index(["_group", "course_week"])
    out["n_at_risk"] = at_risk
    out["n_dropout"] = n_drop
    out["n_censored"] = n_cens
    out = out.fillna(0).astype("int64").reset_index()
    out["n"] = out["_group"].map(pd.Series(group).value_counts()).astype("int64")
    out["dropout_rate"] = (out["n_dropout"] / out["n_at_risk"]).where(out["n_at_risk"] > 0)
    out["cumulative_dropouts"] = out.groupby("_group")["n_dropout"].cumsum().astype("int64")
    return out[cols]
