"""Trajectories across the four timepoints: means with 95 % CIs per domain."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import plotnine as p9

from envejind_eval.figures._common import frame_of, non_empty, present, require_columns, select
from envejind_eval.figures.labels import (
    check_lang,
    fmt_int,
    instrument_name,
    number_labels,
    t,
    unit_label,
    unit_order,
    wrap,
)
from envejind_eval.figures.theme import OKABE_ITO, palette, theme_envejind
from envejind_eval.schema import TIMEPOINTS


def _scale(instrument: str, instruments: Mapping[str, Any] | None) -> tuple[float, float] | None:
    from envejind_eval.instruments import SHIPPED, get_instrument

    inst = (instruments or {}).get(instrument)
    if inst is None and instrument in SHIPPED:
        inst = get_instrument(instrument)
    return None if inst is None else (float(inst.scale_min), float(inst.scale_max))


def trajectory_plot(
    data: pd.DataFrame,
    *,
    instrument: str | None = None,
    rater: str | None = None,
    by: str | None = None,
    lang: str = "da",
    instruments: Mapping[str, Any] | None = None,
) -> p9.ggplot:
    """Mean score per timepoint with 95 % CI, one panel per domain, ``n`` under each point.

    Parameters
    ----------
    data : DataFrame or Trajectories
        :func:`envejind_eval.trajectories` (its ``means`` table) or a frame with
        ``instrument, unit, timepoint, n, mean, ci_low, ci_high`` (extra columns ignored).
    instrument : str, optional
        Keep one instrument (required when the data hold several).
    rater : str, optional
        Keep one rater; several raters are drawn in different colours.
    by : str, optional
        Colour by this column (e.g. ``"municipality"``), dodged.
    lang : {"da", "en"}
    instruments : mapping, optional
        Instrument registry for labels.

    Returns
    -------
    plotnine.ggplot
        Data: the input rows plus ``unit_label`` and ``timepoint_label``.
    """
    lang = check_lang(lang)
    fig = "trajectory_plot"
    data = frame_of(data, "means", figure=fig, source="trajectories()")
    require_columns(
        data,
        ["instrument", "unit", "timepoint", "n", "mean", "ci_low", "ci_high"],
        figure=fig,
        source="trajectories().means",
    )
    d = select(data, "instrument", instrument, figure=fig)
    if "instrument" in present(d, ["instrument"]):
        raise ValueError(f"{fig}: data hold several instruments; pass instrument=...")
    d = select(d, "rater", rater, figure=fig)
    if "rater" in present(d, ["rater"]):
        if by is not None:
            raise ValueError(f"{fig}: data hold several raters; pass rater=... to use by=")
        by = "rater"
    if "level" in d.columns and d["level"].nunique() > 1:
        d = d.loc[d["level"] == "domain"]
    if by is not None:
        require_columns(d, [by], figure=fig, source=f"trajectories(by='{by}')")
    d = non_empty(d.dropna(subset=["mean"]).copy(), figure=fig)
    if "rater" in d.columns:
        d["rater"] = d["rater"].map(lambda r: t(str(r), lang))
    inst = str(d["instrument"].iloc[0])
    units = unit_order(inst, d["unit"].unique(), instruments=instruments)
    labs = {u: wrap(unit_label(inst, u, lang, instruments=instruments), 16) for u in units}
    d["unit_label"] = pd.Categorical(
        d["unit"].map(labs), categories=[labs[u] for u in units], ordered=True
    )
    tps = [tp for tp in TIMEPOINTS if tp in set(d["timepoint"])]
    d["timepoint_label"] = pd.Categorical(
        d["timepoint"].map(lambda s: t(s, lang)), categories=[t(s, lang) for s in tps], ordered=True
    )
    d["n_label"] = [fmt_int(v, lang) for v in d["n"]]
    ci = d.dropna(subset=["ci_low", "ci_high"])
    lo = float(min(d["mean"].min(), ci["ci_low"].min() if len(ci) else d["mean"].min()))
    hi = float(max(d["mean"].max(), ci["ci_high"].max() if len(ci) else d["mean"].max()))
    scale = _scale(inst, instruments)
    if scale is not None:  # wide intervals of tiny groups must not squash the means
        lo, hi = max(lo, scale[0]), min(hi, scale[1])
    span = hi - lo if hi > lo else 1.0
    d["n_y"] = lo - 0.12 * span
    ylim = (lo - 0.16 * span, hi + 0.02 * span)
    dodge = p9.position_dodge(width=0.35)
    if by is not None:
        groups = sorted(d[by].astype(str).unique())
        d["_by"] = pd.Categorical(d[by].astype(str), categories=groups)
        aes_c = p9.aes(color="_by", group="_by")
        colour_scale = p9.scale_color_manual(values=palette(len(groups)))
        n_layer = []  # n per group would overlap; the caption says so
    else:
        d["_by"] = "all"
        aes_c = p9.aes(group="_by")
        colour_scale = None
        n_layer = [
            p9.geom_label(
                p9.aes(x="timepoint_label", y="n_y", label="n_label"),
                size=6,
                color="#666666",
                fill="white",
                label_size=0,
                label_padding=0.15,
            )
        ]
    col: dict[str, Any] = {} if by is not None else {"color": OKABE_ITO["blue"]}
    n_units = len(units)
    ncol = min(4, n_units)
    nrow = -(-n_units // ncol)
    p = (
        p9.ggplot(d, p9.aes(x="timepoint_label", y="mean"))
        + p9.geom_line(aes_c, position=dodge, size=0.8, **col)
        + p9.geom_errorbar(
            p9.aes(ymin="ci_low", ymax="ci_high", **aes_c),
            data=d.dropna(subset=["ci_low", "ci_high"]),
            width=0.15,
            position=dodge,
            **col,
        )
        + p9.geom_point(aes_c, position=dodge, size=1.8, **col)
        + p9.facet_wrap("unit_label", ncol=ncol)
        + p9.scale_y_continuous(labels=number_labels(lang))
        + p9.coord_cartesian(ylim=ylim)
        + p9.labs(
            x="",
            y=t("mean", lang),
            color=t(by, lang) if by else "",
            title=instrument_name(inst, lang, instruments=instruments)
            + {"da": ": udvikling over tid", "en": ": development over time"}[lang],
            caption={
                "da": "Gennemsnit med 95 %-KI. Tal under punkterne: n.",
                "en": "Mean with 95% CI. Numbers below the points: n.",
            }[lang]
            if by is None
            else {"da": "Gennemsnit med 95 %-KI.", "en": "Mean with 95% CI."}[lang],
        )
        + theme_envejind(size=(6.3, 1.2 + 1.9 * nrow))
        + p9.theme(axis_text_x=p9.element_text(rotation=35, ha="right"))
    )
    for layer in n_layer:
        p += layer
    if colour_scale is not None:
        p += colour_scale
    return p
