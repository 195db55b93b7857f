"""Attendance by course week per team, and daily rhythm (on-time share, median arrival)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotnine as p9

from envejind_eval.figures._common import frame_of, non_empty, rename_aliases, require_columns
from envejind_eval.figures.labels import (
    check_lang,
    fmt_n_range,
    fmt_time,
    percent_labels,
    t,
    wrap,
)
from envejind_eval.figures.theme import GREY, OKABE_ITO, theme_envejind

_ATT_ALIASES = {"course_week": "week", "attendance_rate": "rate"}
_RHYTHM_ALIASES = {
    "course_week": "week",
    "median_arrival_minutes": "median_arrival",
    "n_attended": "n",
}


def attendance_by_week(data: pd.DataFrame, *, lang: str = "da") -> p9.ggplot:
    """Attendance rate by course week, one small panel per team, all-teams mean in grey.

    Parameters
    ----------
    data : DataFrame
        Output of ``attendance_summary(ds, by=["team", "week"])``: ``cohort_id,
        course_week, n, attendance_rate`` (``week``/``rate`` are accepted too; a
        ``municipality`` column is shown in the panel titles).
    lang : {"da", "en"}

    Returns
    -------
    plotnine.ggplot
        Data: rows with ``cohort_id, week, n, rate`` plus ``team``.

    Notes
    -----
    The grey reference line is the pooled rate over all teams in that week
    (``sum(rate · n) / sum(n)``, weighting by scheduled participant days).
    """
    lang = check_lang(lang)
    fig = "attendance_by_week"
    d = rename_aliases(
        frame_of(data, "tidy", figure=fig, source="attendance_summary()"), _ATT_ALIASES
    )
    require_columns(
        d,
        ["cohort_id", "week", "n", "rate"],
        figure=fig,
        source="attendance_summary(ds, by=['team', 'week'])",
    )
    d = non_empty(d.dropna(subset=["rate", "week"]).copy(), figure=fig)
    d["team"] = (
        d["municipality"].astype(str) + " · " + d["cohort_id"].astype(str)
        if "municipality" in d.columns
        else d["cohort_id"].astype(str)
    )
    w = d.assign(_num=d["rate"] * d["n"]).groupby("week", as_index=False)[["_num", "n"]].sum()
    w["rate"] = w["_num"] / w["n"].where(w["n"] > 0)
    w = w.dropna(subset=["rate"])
    teams = sorted(d["team"].unique())
    ncol = min(4, len(teams))
    nrow = -(-len(teams) // ncol)
    return (
        p9.ggplot(d, p9.aes("week", "rate"))
        + p9.geom_line(p9.aes("week", "rate"), data=w, color=GREY, size=0.6, inherit_aes=False)
        + p9.geom_line(color=OKABE_ITO["blue"], size=0.8)
        + p9.geom_point(color=OKABE_ITO["blue"], size=1.0)
        + p9.facet_wrap("team", ncol=ncol)
        + p9.scale_y_continuous(
            limits=(0, 1), breaks=[0, 0.25, 0.5, 0.75, 1], labels=percent_labels(lang)
        )
        + p9.scale_x_continuous(breaks=lambda lim: list(range(1, int(lim[1]) + 1, 4)))
        + p9.labs(
            x=t("course_week", lang),
            y=t("attendance_rate", lang),
            title={
                "da": "Fremmøde pr. forløbsuge og hold",
                "en": "Attendance by course week and team",
            }[lang],
            caption={
                "da": "Fremmøde = (mødt + mødt for sent) / planlagte dage. Grå linje: alle hold.",
                "en": "Attendance = (present + late) / scheduled days. Grey line: all teams.",
            }[lang],
        )
        + theme_envejind(size=(6.3, 1.3 + 1.7 * nrow))
    )


def _minutes(s: pd.Series) -> pd.Series:
    """Arrival as minutes after midnight from minutes, timedeltas or ``HH:MM`` strings."""
    if pd.api.types.is_timedelta64_dtype(s):
        return s.dt.total_seconds() / 60
    if pd.api.types.is_numeric_dtype(s):
        return s.astype(float)
    parts = s.astype(str).str.extract(r"^(\d{1,2})[:.](\d{2})")
    return parts[0].astype(float) * 60 + parts[1].astype(float)


def daily_rhythm_plot(data: pd.DataFrame, *, lang: str = "da") -> p9.ggplot:
    """On-time share by course week (line), median arrival time as labels above the points.

    Parameters
    ----------
    data : DataFrame or DailyRhythm
        ``daily_rhythm(ds)`` (its ``weekly`` table is used) or a frame with
        ``course_week`` (or ``week``), ``on_time_share``, ``median_arrival_minutes`` (or
        ``median_arrival``: minutes after midnight, a timedelta or ``HH:MM``) and ``n``.
    lang : {"da", "en"}

    Returns
    -------
    plotnine.ggplot
        Data: ``week, on_time_share, median_arrival, n`` plus ``arrival_label``.
    """
    lang = check_lang(lang)
    fig = "daily_rhythm_plot"
    d = rename_aliases(
        frame_of(data, "weekly", figure=fig, source="daily_rhythm()"), _RHYTHM_ALIASES
    )
    require_columns(d, ["week", "on_time_share"], figure=fig, source="daily_rhythm()")
    d = non_empty(d.dropna(subset=["on_time_share", "week"]).copy(), figure=fig)
    layers: list[Any] = []
    if "median_arrival" in d.columns:
        d["arrival_min"] = _minutes(d["median_arrival"])
        d["arrival_label"] = [fmt_time(v, lang) if v == v else "" for v in d["arrival_min"]]
        lab = d.loc[d["arrival_min"].notna()]
        lab = (
            lab.loc[lab["week"].rank(method="first").astype(int) % 2 == 1] if len(lab) > 10 else lab
        )
        layers.append(
            p9.geom_text(
                p9.aes(label="arrival_label"), data=lab, nudge_y=0.07, size=6, color="#444444"
            )
        )
    caption = {
        "da": "Til tiden: mødt (ikke for sent) blandt fremmødte dage. Tal over punkterne: median mødetid",
        "en": "On time: present (not late) among attended days. Numbers above points: median arrival",
    }[lang]
    if "n" in d.columns:
        caption += f" ({fmt_n_range(d['n'], lang)} {'fremmødte dage pr. uge' if lang == 'da' else 'attended days per week'})"
    caption += "."
    return (
        p9.ggplot(d, p9.aes("week", "on_time_share"))
        + p9.geom_line(color=OKABE_ITO["bluish_green"], size=0.9)
        + p9.geom_point(color=OKABE_ITO["bluish_green"], size=1.6)
        + layers  # type: ignore[operator]
        + p9.scale_y_continuous(
            limits=(0, 1.08), breaks=[0, 0.25, 0.5, 0.75, 1], labels=percent_labels(lang)
        )
        + p9.scale_x_continuous(breaks=lambda lim: list(range(1, int(lim[1]) + 1, 2)))
        + p9.labs(
            x=t("course_week", lang),
            y=t("on_time_share", lang),
            title={
                "da": "Døgnrytme: mødt til tiden pr. forløbsuge",
                "en": "Daily rhythm: arriving on time by course week",
            }[lang],
            caption=wrap(caption, 115),
        )
        + theme_envejind(size="wide")
    )
