"""Internal-only figures that show individual young people.

Slope plot (pre → post per participant), RCI scatter (pre vs post with the reliable-change
band) and the attendance heatmap (participant × course week). They are for internal
notebooks only: every function takes ``publication=False`` and refuses ``True`` with a
:class:`~envejind_eval.errors.DisclosureError`. Figures carry an "internal" caption.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotnine as p9

from envejind_eval.errors import DisclosureError
from envejind_eval.figures._common import (
    non_empty,
    present,
    rename_aliases,
    require_columns,
    select,
)
from envejind_eval.figures.change import _ALIASES, CLASSES, COLUMN_ALIASES
from envejind_eval.figures.labels import (
    check_lang,
    instrument_name,
    number_labels,
    percent_labels,
    t,
    unit_label,
    unit_order,
    wrap,
)
from envejind_eval.figures.theme import CHANGE_COLOURS, GREY, OKABE_ITO, theme_envejind

if TYPE_CHECKING:
    from envejind_eval.dataset import Dataset

Z_RELIABLE = 1.96


def _refuse(publication: bool, figure: str) -> None:
    if publication:
        raise DisclosureError(
            f"{figure} shows individual participants and is for internal use only; it cannot "
            "be published (publication=True). Use an aggregate figure instead, e.g. "
            "reliable_change_bars, pre_post_dumbbell or attendance_by_week."
        )


def _units(
    d: pd.DataFrame, lang: str, instruments: Mapping[str, Any] | None, width: int = 16
) -> pd.DataFrame:
    inst = str(d["instrument"].iloc[0])
    units = unit_order(inst, d["unit"].unique(), instruments=instruments)
    labs = {u: wrap(unit_label(inst, u, lang, instruments=instruments), width) for u in units}
    return d.assign(
        unit_label=pd.Categorical(
            d["unit"].map(labs), categories=[labs[u] for u in units], ordered=True
        )
    )


def _classes(d: pd.DataFrame, lang: str) -> pd.DataFrame:
    labs = {c: t(c, lang) for c in CLASSES}
    cls = d["change_class"].replace(_ALIASES)
    return d.assign(
        class_label=pd.Categorical(cls.map(labs), categories=[labs[c] for c in CLASSES])
    )


def _prepare(
    data: pd.DataFrame,
    instrument: str | None,
    rater: str | None,
    figure: str,
    lang: str,
    instruments,
) -> pd.DataFrame:
    data = rename_aliases(data, COLUMN_ALIASES)
    require_columns(
        data,
        ["participant_id", "instrument", "unit", "pre", "post", "change_class"],
        figure=figure,
        source="reliable_change()",
    )
    d = select(data, "instrument", instrument, figure=figure)
    if d["instrument"].nunique() > 1:
        raise ValueError(f"{figure}: data hold several instruments; pass instrument=...")
    d = select(d, "rater", rater, figure=figure)
    if present(d, ["rater"]):
        raise ValueError(f"{figure}: data hold several raters; pass rater=...")
    d = non_empty(d.dropna(subset=["pre", "post", "change_class"]).copy(), figure=figure)
    return _classes(_units(d, lang, instruments), lang)


def _caption(lang: str, extra: str = "") -> str:
    return wrap(t("internal", lang) + (f". {extra}." if extra else ""), 100)


def slope_plot(
    data: pd.DataFrame,
    *,
    instrument: str | None = None,
    rater: str | None = None,
    lang: str = "da",
    instruments: Mapping[str, Any] | None = None,
    publication: bool = False,
) -> p9.ggplot:
    """INTERNAL: one line per participant from baseline to end, coloured by change class.

    Parameters
    ----------
    data : DataFrame
        Output of :func:`envejind_eval.reliable_change`: ``participant_id, instrument,
        unit, pre, post, rc_class`` (or ``change_class``).
    instrument : str, optional
        Keep one instrument (required when there are several).
    rater : str, optional
        Keep one rater (required when there are several).
    lang : {"da", "en"}
    instruments : mapping, optional
    publication : bool
        Must stay ``False``; ``True`` raises :class:`DisclosureError`.
    """
    _refuse(publication, "slope_plot")
    lang = check_lang(lang)
    d = _prepare(data, instrument, rater, "slope_plot", lang, instruments)
    inst = str(d["instrument"].iloc[0])
    long = pd.concat(
        [
            d.assign(timepoint=t("baseline", lang), score=d["pre"]),
            d.assign(timepoint=t("end", lang), score=d["post"]),
        ],
        ignore_index=True,
    )
    long["timepoint"] = pd.Categorical(
        long["timepoint"], categories=[t("baseline", lang), t("end", lang)]
    )
    long["pid"] = long["participant_id"].astype(str)
    cols = {t(c, lang): CHANGE_COLOURS[c] for c in CLASSES}
    cols[t("unchanged", lang)] = GREY
    n_units = d["unit"].nunique()
    ncol = min(4, n_units)
    return (
        p9.ggplot(long, p9.aes("timepoint", "score", group="pid", color="class_label"))
        + p9.geom_line(size=0.5, alpha=0.8)
        + p9.geom_point(size=0.9)
        + p9.facet_wrap("unit_label", ncol=ncol)
        + p9.scale_color_manual(values=cols, drop=False)
        + p9.scale_y_continuous(labels=number_labels(lang))
        + p9.labs(
            x="",
            y=t("score", lang),
            color="",
            title=instrument_name(inst, lang, instruments=instruments)
            + {
                "da": ": hver deltager fra start til afslutning",
                "en": ": each participant from baseline to end",
            }[lang],
            caption=_caption(lang),
        )
        + theme_envejind(size=(6.3, 1.4 + 1.9 * -(-n_units // ncol)))
        + p9.theme(plot_caption=p9.element_text(color="#B00000", weight="bold"))
    )


def _s_diff(d: pd.DataFrame) -> pd.Series:
    """Standard error of the difference per unit: a column if given, else (post − pre)/rci."""
    for c in ("s_diff", "se_diff", "sdiff"):
        if c in d.columns:
            return d.groupby("unit")[c].median()
    if "rci" in d.columns:
        ok = d["rci"].abs() > 1e-9
        ratio = (d["post"] - d["pre"]).loc[ok] / d["rci"].loc[ok]
        return ratio.groupby(d.loc[ok, "unit"]).median()
    return pd.Series(dtype=float)


def rci_scatter(
    data: pd.DataFrame,
    *,
    instrument: str | None = None,
    rater: str | None = None,
    lang: str = "da",
    instruments: Mapping[str, Any] | None = None,
    publication: bool = False,
) -> p9.ggplot:
    """INTERNAL: pre vs post score per participant with the no-change line and the
    reliable-change band (|post − pre| ≤ 1.96 · S_diff).

    Parameters
    ----------
    data : DataFrame
        Output of :func:`envejind_eval.reliable_change`: ``participant_id, instrument,
        unit, pre, post, rc_class`` and ``se_diff`` (or ``rc_index``) for the band.
    instrument, rater, lang, instruments
        As for :func:`slope_plot`.
    publication : bool
        Must stay ``False``; ``True`` raises :class:`DisclosureError`.

    Notes
    -----
    ``RCI = (post − pre) / S_diff`` (Jacobson & Truax 1991); points outside the band changed
    reliably. ``S_diff`` per unit is read from ``se_diff`` or recovered as
    ``(post − pre) / rc_index``.
    """
    _refuse(publication, "rci_scatter")
    lang = check_lang(lang)
    d = _prepare(data, instrument, rater, "rci_scatter", lang, instruments)
    inst = str(d["instrument"].iloc[0])
    lo = float(min(d["pre"].min(), d["post"].min()))
    hi = float(max(d["pre"].max(), d["post"].max()))
    pad = 0.05 * ((hi - lo) or 1.0)
    lo, hi = lo - pad, hi + pad
    sd = _s_diff(d)
    bands = []
    for u, s in sd.items():
        if not np.isfinite(s) or s <= 0:
            continue
        w = Z_RELIABLE * float(s)
        bands.append(
            pd.DataFrame(
                {"unit": u, "x": [lo, hi], "ymin": [lo - w, hi - w], "ymax": [lo + w, hi + w]}
            )
        )
    band = (
        pd.concat(bands, ignore_index=True)
        if bands
        else pd.DataFrame(columns=["unit", "x", "ymin", "ymax"])
    )
    band = band.merge(d[["unit", "unit_label"]].drop_duplicates(), on="unit")
    cols = {t(c, lang): CHANGE_COLOURS[c] for c in CLASSES}
    cols[t("unchanged", lang)] = GREY
    n_units = d["unit"].nunique()
    ncol = min(3, n_units)
    return (
        p9.ggplot(d, p9.aes("pre", "post"))
        + p9.geom_ribbon(
            p9.aes(x="x", ymin="ymin", ymax="ymax"),
            data=band,
            inherit_aes=False,
            fill="#E0E0E0",
            alpha=0.7,
        )
        + p9.geom_abline(slope=1, intercept=0, color="#777777", size=0.4, linetype="dashed")
        + p9.geom_point(p9.aes(color="class_label"), size=1.4, alpha=0.85)
        + p9.facet_wrap("unit_label", ncol=ncol)
        + p9.coord_cartesian(xlim=(lo, hi), ylim=(lo, hi))
        + p9.scale_color_manual(values=cols, drop=False)
        + p9.scale_x_continuous(labels=number_labels(lang))
        + p9.scale_y_continuous(labels=number_labels(lang))
        + p9.labs(
            x=t("baseline", lang),
            y=t("end", lang),
            color="",
            title=instrument_name(inst, lang, instruments=instruments)
            + {
                "da": ": start mod afslutning pr. deltager",
                "en": ": baseline vs end per participant",
            }[lang],
            caption=_caption(
                lang,
                {
                    "da": "Gråt bånd: ingen pålidelig ændring (|RCI| ≤ 1,96)",
                    "en": "Grey band: no reliable change (|RCI| ≤ 1.96)",
                }[lang],
            ),
        )
        + theme_envejind(size=(6.3, 1.6 + 2.2 * -(-n_units // ncol)))
        + p9.theme(plot_caption=p9.element_text(color="#B00000", weight="bold"))
    )


def attendance_heatmap(
    data: Dataset | pd.DataFrame,
    *,
    cohort: str | None = None,
    lang: str = "da",
    publication: bool = False,
) -> p9.ggplot:
    """INTERNAL: attendance rate per participant (rows) and course week (columns).

    Parameters
    ----------
    data : Dataset or DataFrame
        A dataset, or ``attendance_summary(ds, by=["participant", "week"])``
        (``municipality, cohort_id, participant_id, course_week, attendance_rate``).
    cohort : str, optional
        Restrict to one team (``cohort_id``); default all, faceted by team.
    lang : {"da", "en"}
    publication : bool
        Must stay ``False``; ``True`` raises :class:`DisclosureError`.

    Notes
    -----
    Rates as :func:`envejind_eval.attendance_summary`: (present + late) / scheduled days
    of that participant in that course week.
    """
    _refuse(publication, "attendance_heatmap")
    lang = check_lang(lang)
    fig = "attendance_heatmap"
    if isinstance(data, pd.DataFrame):
        w = data
    else:
        from envejind_eval.analysis import attendance_summary

        w = attendance_summary(data, by=["participant", "week"])
    w = rename_aliases(w, {"course_week": "week", "attendance_rate": "rate"})
    require_columns(
        w,
        ["municipality", "cohort_id", "participant_id", "week", "rate"],
        figure=fig,
        source="attendance_summary(ds, by=['participant', 'week'])",
    )
    w = select(w, "cohort_id", cohort, figure=fig)
    w = non_empty(w.dropna(subset=["rate", "week"]).copy(), figure=fig, what="attendance rows")
    w["team"] = w["municipality"].astype(str) + " · " + w["cohort_id"].astype(str)
    w["participant"] = w["participant_id"].astype(str)
    order = sorted(w["participant"].unique(), reverse=True)
    w["participant"] = pd.Categorical(w["participant"], categories=order)
    n_part = len(order)
    n_teams = w["team"].nunique()
    return (
        p9.ggplot(w, p9.aes("week", "participant", fill="rate"))
        + p9.geom_tile(color="white", size=0.2)
        + p9.facet_wrap("team", ncol=1, scales="free_y")
        + p9.scale_fill_gradient2(
            low=OKABE_ITO["vermillion"],
            mid="#F2F2F2",
            high=OKABE_ITO["blue"],
            midpoint=0.5,
            limits=(0, 1),
            breaks=[0, 0.5, 1],
            labels=percent_labels(lang),
            name=t("attendance_rate", lang),
        )
        + p9.scale_x_continuous(
            breaks=lambda lim: list(range(1, int(lim[1]) + 1, 2)), expand=(0, 0)
        )
        + p9.labs(
            x=t("course_week", lang),
            y="",
            title={
                "da": "Fremmøde pr. deltager og forløbsuge",
                "en": "Attendance by participant and course week",
            }[lang],
            caption=_caption(
                lang,
                {
                    "da": "Tomt felt: ingen planlagte dage den uge (ikke i forløbet)",
                    "en": "Blank cell: no scheduled days that week (not in the programme)",
                }[lang],
            ),
        )
        + theme_envejind(size=(6.3, min(1.6 + 0.16 * n_part + 0.3 * n_teams, 11.0)))
        + p9.theme(
            panel_grid_major=p9.element_blank(),
            axis_text_y=p9.element_text(size=6),
            legend_key_width=90,
            plot_caption=p9.element_text(color="#B00000", weight="bold"),
        )
    )
