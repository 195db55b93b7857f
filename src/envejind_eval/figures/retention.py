"""Retention curves (Kaplan–Meier) per municipality, with pointwise 95 % bands."""

from __future__ import annotations

import pandas as pd
import plotnine as p9

from envejind_eval.figures._common import frame_of, non_empty, rename_aliases, require_columns
from envejind_eval.figures.labels import check_lang, fmt_int, number_labels, percent_labels, t, wrap
from envejind_eval.figures.theme import palette, theme_envejind


def _steps(g: pd.DataFrame) -> pd.DataFrame:
    """Step-function vertices: each value holds until the next time (for ribbons)."""
    g = g.sort_values("time")
    nxt = g["time"].shift(-1)
    tail = g.iloc[[-1]]
    body = pd.concat([g, g.assign(time=nxt)], ignore_index=False).sort_index(kind="stable")
    body = body.dropna(subset=["time"])
    return pd.concat([body, tail], ignore_index=True).sort_values("time", kind="stable")


def _extend_to_follow_up(d: pd.DataFrame, result: object, group: str) -> pd.DataFrame:
    """Carry each curve on to the group's last follow-up time (censorings after the last
    event), read from a ``Retention`` result's ``times`` table."""
    times = getattr(result, "times", None)
    if not isinstance(times, pd.DataFrame) or not {"time"} <= set(times.columns):
        return d
    if group not in times.columns:
        times = times.assign(**{group: d[group].iloc[0]})
    if "usable" in times.columns:
        times = times.loc[times["usable"].astype(bool)]
    end = times.groupby(group)["time"].max()
    tails = []
    for g, sub in d.groupby(group, sort=False):
        last = sub.sort_values("time").iloc[[-1]]
        t_end = end.get(g)
        if t_end is not None and t_end > float(last["time"].iloc[0]):
            tails.append(last.assign(time=float(t_end)))
    if not tails:
        return d
    return pd.concat([d, *tails], ignore_index=True)


def retention_curves(
    data: pd.DataFrame,
    *,
    group: str = "municipality",
    unit: str = "days",
    ci: bool | None = None,
    lang: str = "da",
) -> p9.ggplot:
    """Kaplan–Meier share still in the programme over time, one curve per group.

    Parameters
    ----------
    data : DataFrame or Retention
        ``retention(ds)`` (its ``survival`` table; curves then run on to the last
        follow-up time from its ``times`` table) or a frame with ``group, time, survival,
        ci_low, ci_high`` and ``n_risk`` (or ``n_at_risk``). A start row at time 0 with
        survival 1 is added per group when missing.
    group : str
        Column for the curves (default ``municipality``; absent = one curve).
    unit : {"days", "weeks"}
        Time unit, for the axis title.
    ci : bool, optional
        Draw the pointwise 95 % bands; default only with one or two curves (more
        overlapping bands are unreadable).
    lang : {"da", "en"}

    Returns
    -------
    plotnine.ggplot
        Data: the survival rows (with the start rows) plus ``group_label`` (with n).
    """
    lang = check_lang(lang)
    if unit not in ("days", "weeks"):
        raise ValueError(f"Expecting one of days, weeks; got '{unit}'")
    fig = "retention_curves"
    d = rename_aliases(
        frame_of(data, "survival", figure=fig, source="retention()"), {"n_at_risk": "n_risk"}
    )
    require_columns(d, ["time", "survival"], figure=fig, source="retention()")
    d = non_empty(d.dropna(subset=["time", "survival"]).copy(), figure=fig)
    if group not in d.columns:
        d[group] = t("participants", lang)
    for c in ("ci_low", "ci_high"):
        if c not in d.columns:
            d[c] = float("nan")
    starts = []
    for g, sub in d.groupby(group, sort=True):
        if not (sub["time"] == 0).any():
            first = sub.sort_values("time").iloc[0]
            n0 = first.get("n", first.get("n_risk", float("nan")))
            starts.append(
                {
                    group: g,
                    "time": 0.0,
                    "survival": 1.0,
                    "ci_low": 1.0,
                    "ci_high": 1.0,
                    "n_risk": n0,
                    "n": n0,
                }
            )
    if starts:
        d = pd.concat([pd.DataFrame(starts), d], ignore_index=True)
    d = _extend_to_follow_up(d, data, group)
    groups = sorted(d[group].astype(str).unique())
    if "n" in d.columns:
        ns = d.groupby(group)["n"].max()
        glab = {str(g): f"{g} (n = {fmt_int(v, lang)})" for g, v in ns.items()}
    elif "n_risk" in d.columns:
        ns = d.groupby(group)["n_risk"].max()
        glab = {str(g): f"{g} (n = {fmt_int(v, lang)})" for g, v in ns.items()}
    else:
        glab = {g: g for g in groups}
    d["group_label"] = pd.Categorical(
        d[group].astype(str).map(glab), categories=[glab[g] for g in groups]
    )
    ribbons = pd.concat(
        [_steps(sub) for _, sub in d.groupby("group_label", observed=True)], ignore_index=True
    )
    ribbons = ribbons.dropna(subset=["ci_low", "ci_high"])
    cols = dict(zip([glab[g] for g in groups], palette(len(groups)), strict=True))
    show_ci = (len(groups) <= 2) if ci is None else bool(ci)
    band = (
        [
            p9.geom_ribbon(
                p9.aes(x="time", ymin="ci_low", ymax="ci_high", fill="group_label"),
                data=ribbons,
                alpha=0.12,
                inherit_aes=False,
                outline_type="full",
                size=0,
            )
        ]
        if show_ci and len(ribbons)
        else []
    )
    censor_note = {
        "da": "Frafald og eksklusion er hændelser; igangværende er censureret.",
        "en": "Dropout and exclusion are events; ongoing are censored.",
    }[lang]
    ci_note = {"da": "Skygge: punktvis 95 %-KI. ", "en": "Shading: pointwise 95% CI. "}[lang]
    p = p9.ggplot(d, p9.aes("time", "survival", color="group_label"))
    for layer in band:
        p += layer
    return (
        p
        + p9.geom_step(size=0.9)
        + p9.scale_color_manual(values=cols)
        + p9.scale_fill_manual(values=cols, guide=None)
        + p9.scale_y_continuous(
            limits=(0, 1), breaks=[0, 0.25, 0.5, 0.75, 1], labels=percent_labels(lang)
        )
        + p9.scale_x_continuous(labels=number_labels(lang))
        + p9.labs(
            x=t("days_since_start" if unit == "days" else "weeks_since_start", lang),
            y=t("retained", lang),
            color="",
            title={
                "da": "Fastholdelse pr. kommune (Kaplan–Meier)",
                "en": "Retention by municipality (Kaplan–Meier)",
            }[lang],
            caption=wrap(
                (ci_note if band else "") + censor_note,
                120,
            ),
        )
        + theme_envejind(size="full")
    )
