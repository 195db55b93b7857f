"""Star profile: domain means on radial spokes, baseline and end overlaid.

plotnine has no polar coordinates, so the star is drawn on computed Cartesian coordinates:
spokes (``geom_segment``), rings (``geom_path``), the two profiles (``geom_polygon``) and
labels at the spoke ends, with ``coord_fixed`` and no axes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotnine as p9

from envejind_eval.figures._common import non_empty, present, require_columns, select
from envejind_eval.figures.labels import (
    check_lang,
    fmt_n_range,
    fmt_number,
    instrument_name,
    t,
    unit_label,
    unit_order,
    wrap,
)
from envejind_eval.figures.theme import TIMEPOINT_COLOURS, theme_envejind

_LABEL_R = 1.1


def _scale(instrument: str, instruments: Mapping[str, Any] | None, d: pd.DataFrame):
    inst = None
    if instruments is not None and instrument in instruments:
        inst = instruments[instrument]
    else:
        from envejind_eval.instruments import SHIPPED, get_instrument

        if instrument in SHIPPED:
            inst = get_instrument(instrument)
    if inst is not None:
        return float(inst.scale_min), float(inst.scale_max)
    v = pd.concat([d["mean_pre"], d["mean_post"]])
    return float(np.floor(v.min())), float(np.ceil(v.max()))


def _rings(lo: float, hi: float) -> list[float]:
    span = hi - lo
    step = next(s for s in (0.5, 1, 2, 2.5, 5, 10, 20, 25, 50, 100) if span / s <= 5)
    first = np.ceil(lo / step) * step
    vals = [float(v) for v in np.arange(first, hi + 1e-9, step)]
    return [v for v in vals if v > lo] or [hi]


def star_coordinates(
    data: pd.DataFrame,
    *,
    instrument: str,
    lang: str = "da",
    instruments: Mapping[str, Any] | None = None,
) -> dict[str, pd.DataFrame]:
    """Cartesian coordinates for the star: ``points``, ``spokes``, ``rings``, ``labels``.

    Domain ``k`` of ``K`` sits at angle 90° − 360°·k/K (clockwise from the top); a score
    ``v`` lies at radius ``(v − min)/(max − min)`` of the instrument's scale.
    """
    lang = check_lang(lang)
    units = unit_order(instrument, data["unit"].unique(), instruments=instruments)
    k = len(units)
    angle = {u: np.pi / 2 - 2 * np.pi * i / k for i, u in enumerate(units)}
    lo, hi = _scale(instrument, instruments, data)
    by = [c for c in data.columns if c.startswith("_facet")]

    rows = []
    for tp, col in (("baseline", "mean_pre"), ("end", "mean_post")):
        part = data[[*by, "unit", col, "n"]].rename(columns={col: "value"}).assign(timepoint=tp)
        rows.append(part)
    pts = pd.concat(rows, ignore_index=True).dropna(subset=["value"])
    r = ((pts["value"] - lo) / (hi - lo)).clip(0, 1)
    a = pts["unit"].map(angle).astype(float)
    pts = pts.assign(
        r=r.to_numpy(),
        x=(r * np.cos(a)).to_numpy(),
        y=(r * np.sin(a)).to_numpy(),
        order=pts["unit"].map({u: i for i, u in enumerate(units)}).to_numpy(),
    ).sort_values([*by, "timepoint", "order"])
    pts["timepoint_label"] = pd.Categorical(
        pts["timepoint"].map(lambda s: t(s, lang)),
        categories=[t("baseline", lang), t("end", lang)],
        ordered=True,
    )
    pts["group"] = pts[[*by, "timepoint"]].astype(str).agg("|".join, axis=1)

    spokes = pd.DataFrame(
        {
            "unit": units,
            "x": 0.0,
            "y": 0.0,
            "xend": [np.cos(angle[u]) for u in units],
            "yend": [np.sin(angle[u]) for u in units],
        }
    )
    theta = np.linspace(0, 2 * np.pi, 121)
    ring_vals = _rings(lo, hi)
    rings = pd.concat(
        [
            pd.DataFrame(
                {
                    "ring": fmt_number(v, lang, digits=0 if float(v).is_integer() else 1),
                    "x": (v - lo) / (hi - lo) * np.cos(theta),
                    "y": (v - lo) / (hi - lo) * np.sin(theta),
                }
            )
            for v in ring_vals
        ],
        ignore_index=True,
    )
    ring_labels = pd.DataFrame(
        {
            "x": 0.03,
            "y": [(v - lo) / (hi - lo) for v in ring_vals],
            "label": [
                fmt_number(v, lang, digits=0 if float(v).is_integer() else 1) for v in ring_vals
            ],
        }
    )
    cos = np.array([np.cos(angle[u]) for u in units])
    sin = np.array([np.sin(angle[u]) for u in units])
    labels = pd.DataFrame(
        {
            "unit": units,
            "label": [
                wrap(unit_label(instrument, u, lang, instruments=instruments), 15) for u in units
            ],
            "x": _LABEL_R * cos,
            "y": _LABEL_R * sin,
            "ha": np.where(cos > 0.2, "left", np.where(cos < -0.2, "right", "center")),
            "va": np.where(sin > 0.2, "bottom", np.where(sin < -0.2, "top", "center")),
        }
    )
    return {
        "points": pts,
        "spokes": spokes,
        "rings": rings,
        "ring_labels": ring_labels,
        "labels": labels,
    }


def star_profile(
    data: pd.DataFrame,
    *,
    instrument: str = "ungestjernen",
    rater: str | None = None,
    by: str | None = None,
    lang: str = "da",
    instruments: Mapping[str, Any] | None = None,
) -> p9.ggplot:
    """Star profile of domain means at baseline and end for a group.

    Parameters
    ----------
    data : DataFrame
        Output of :func:`envejind_eval.pre_post` (``level == "domain"`` rows are used):
        columns ``instrument, level, unit, n, mean_pre, mean_post``.
    instrument : str
        Instrument to draw (default the star tool ``ungestjernen``).
    rater : str, optional
        Keep one rater when the data has a ``rater`` column with several.
    by : str, optional
        A grouping column in ``data`` (e.g. ``municipality``) to facet by.
    lang : {"da", "en"}
    instruments : mapping, optional
        Instrument registry for labels and scale (``ds.instruments``); defaults to shipped.

    Returns
    -------
    plotnine.ggplot
        Its data are the profile vertices: ``unit, value, n, timepoint, r, x, y``.
    """
    lang = check_lang(lang)
    fig = "star_profile"
    require_columns(
        data, ["instrument", "unit", "n", "mean_pre", "mean_post"], figure=fig, source="pre_post()"
    )
    d = select(data, "instrument", instrument, figure=fig)
    if "level" in d.columns:
        d = d.loc[d["level"] == "domain"]
    d = select(d, "rater", rater, figure=fig)
    if by is not None:
        require_columns(d, [by], figure=fig, source="pre_post(by=...)")
    facet_cols = [by] if by is not None else []
    if "rater" in d.columns and rater is None and d["rater"].nunique() > 1:
        facet_cols.append("rater")
    extra = [c for c in present(d, ["municipality", "cohort_id"]) if c not in facet_cols]
    if extra:
        raise ValueError(
            f"{fig}: data has several {', '.join(extra)} values; pass by='{extra[0]}' to facet "
            "or filter the data first"
        )
    d = non_empty(d.copy(), figure=fig, what=f"domain rows for {instrument}")
    if "rater" in d.columns:
        d["rater"] = d["rater"].map(lambda r: t(str(r), lang))
    for k, c in enumerate(facet_cols):
        d[f"_facet{k}"] = d[c].astype(str)
    co = star_coordinates(d, instrument=instrument, lang=lang, instruments=instruments)
    pts = co["points"]
    xlim = 2.2 if facet_cols else 1.75
    ylim = 1.55 if facet_cols else 1.35
    n_panels = (
        int(d[[f"_facet{k}" for k in range(len(facet_cols))]].drop_duplicates().shape[0])
        if facet_cols
        else 1
    )
    rows = -(-n_panels // 2)
    colours = {
        t("baseline", lang): TIMEPOINT_COLOURS["baseline"],
        t("end", lang): TIMEPOINT_COLOURS["end"],
    }
    title = {
        "da": f"{instrument_name(instrument, lang, instruments=instruments)}: profil ved start og afslutning",
        "en": f"{instrument_name(instrument, lang, instruments=instruments)}: profile at baseline and end",
    }[lang]
    p = (
        p9.ggplot(pts, p9.aes("x", "y"))
        + p9.geom_path(
            p9.aes("x", "y", group="ring"),
            data=co["rings"],
            color="#DDDDDD",
            size=0.4,
            inherit_aes=False,
        )
        + p9.geom_segment(
            p9.aes(x="x", y="y", xend="xend", yend="yend"),
            data=co["spokes"],
            color="#BBBBBB",
            size=0.4,
            inherit_aes=False,
        )
        + p9.geom_text(
            p9.aes(x="x", y="y", label="label"),
            data=co["ring_labels"],
            inherit_aes=False,
            size=6,
            color="#777777",
            ha="left",
            va="center",
        )
        + p9.geom_polygon(
            p9.aes(group="group", fill="timepoint_label", color="timepoint_label"),
            alpha=0.12,
            size=0.9,
        )
        + p9.geom_point(p9.aes(color="timepoint_label"), size=1.6)
        + p9.geom_text(
            p9.aes(x="x", y="y", label="label", ha="ha", va="va"),
            data=co["labels"],
            inherit_aes=False,
            size=7,
            lineheight=1.0,
        )
        + p9.scale_color_manual(values=colours, name="")
        + p9.scale_fill_manual(values=colours, name="")
        + p9.scale_x_continuous(limits=(-xlim, xlim), expand=(0, 0))
        + p9.scale_y_continuous(limits=(-ylim, ylim), expand=(0, 0))
        + p9.coord_fixed()
        + p9.labs(
            x="",
            y="",
            color="",
            fill="",
            title=title,
            caption=f"{fmt_n_range(d['n'], lang)}. "
            + {
                "da": "Gennemsnit pr. domæne; yderst = højeste score.",
                "en": "Mean per domain; outermost = highest score.",
            }[lang],
        )
        + theme_envejind(size=(6.3, 0.9 + 2.55 * rows) if facet_cols else (6.3, 5.2))
        + p9.theme(
            axis_text=p9.element_blank(),
            panel_grid_major=p9.element_blank(),
            axis_ticks=p9.element_blank(),
        )
    )
    if facet_cols:
        p += p9.facet_wrap([f"_facet{k}" for k in range(len(facet_cols))], ncol=2)
    return p
