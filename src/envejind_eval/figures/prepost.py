"""Domain means before and after (dumbbell), with the mean change and its 95 % CI."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotnine as p9

from envejind_eval.figures._common import non_empty, present, require_columns, select
from envejind_eval.figures.labels import (
    check_lang,
    fmt_ci,
    fmt_n_range,
    fmt_number,
    instrument_name,
    number_labels,
    t,
    unit_label,
    unit_order,
    wrap,
)
from envejind_eval.figures.theme import TIMEPOINT_COLOURS, theme_envejind


def _scale_limits(
    instruments_in: list[str], instruments: Mapping[str, Any] | None, d: pd.DataFrame
):
    from envejind_eval.instruments import SHIPPED, get_instrument

    lows, highs = [], []
    for i in instruments_in:
        inst = (instruments or {}).get(i) or (get_instrument(i) if i in SHIPPED else None)
        if inst is not None:
            lows.append(inst.scale_min)
            highs.append(inst.scale_max)
    if len(instruments_in) == 1 and lows:
        return float(lows[0]), float(highs[0])
    v = pd.concat([d["mean_pre"], d["mean_post"]])
    return float(np.floor(v.min())), float(np.ceil(v.max()))


def pre_post_dumbbell(
    data: pd.DataFrame,
    *,
    instrument: str | None = None,
    level: str = "domain",
    rater: str | None = None,
    by: str | None = None,
    lang: str = "da",
    instruments: Mapping[str, Any] | None = None,
) -> p9.ggplot:
    """Mean score at baseline and end per domain, joined by a line (dumbbell).

    The text beside each row gives the mean change with its 95 % confidence interval
    (the paired interval from ``pre_post``; the two means share participants, so the
    interval belongs to the change, not to each mean).

    Parameters
    ----------
    data : DataFrame
        Output of :func:`envejind_eval.pre_post`: ``instrument, level, unit, n, mean_pre,
        mean_post, mean_diff, ci_low, ci_high`` (extra columns are ignored).
    instrument : str, optional
        Keep one instrument; several are drawn in separate panels.
    level : {"domain", "total", "item"}
        Rows of this ``level`` are drawn (when the column exists).
    rater : str, optional
        Keep one rater (several raters are drawn in separate panels).
    by : str, optional
        Facet by this column (e.g. ``"municipality"``).
    lang : {"da", "en"}
    instruments : mapping, optional
        Instrument registry for labels (``ds.instruments``); defaults to the shipped ones.

    Returns
    -------
    plotnine.ggplot
        Data: the input rows plus ``unit_label``, ``label`` (change and CI text).
    """
    lang = check_lang(lang)
    fig = "pre_post_dumbbell"
    need = ["instrument", "unit", "n", "mean_pre", "mean_post", "mean_diff", "ci_low", "ci_high"]
    require_columns(data, need, figure=fig, source="pre_post()")
    d = select(data, "instrument", instrument, figure=fig)
    if "level" in d.columns:
        d = d.loc[d["level"] == level]
    d = select(d, "rater", rater, figure=fig)
    facets = []
    if "instrument" in present(d, ["instrument"]):
        facets.append("instrument")
    if by is not None:
        require_columns(d, [by], figure=fig, source=f"pre_post(by='{by}')")
        facets.append(by)
    if "rater" in present(d, ["rater"]):
        facets.append("rater")
    d = non_empty(d.dropna(subset=["mean_pre", "mean_post"]).copy(), figure=fig, what="rows")
    if "rater" in d.columns:
        d["rater"] = d["rater"].map(lambda r: t(str(r), lang))

    labels_map = {
        (i, u): wrap(unit_label(i, u, lang, instruments=instruments), 26)
        for i, u in d[["instrument", "unit"]].drop_duplicates().itertuples(index=False)
    }
    order: list[str] = []
    for i in dict.fromkeys(d["instrument"]):
        for u in unit_order(i, d.loc[d["instrument"] == i, "unit"], instruments=instruments):
            lab = labels_map[(i, u)]
            if lab not in order:
                order.append(lab)
    d["unit_label"] = pd.Categorical(
        [labels_map[(i, u)] for i, u in zip(d["instrument"], d["unit"], strict=True)],
        categories=order[::-1],
        ordered=True,
    )
    d["label"] = [
        f"{fmt_number(m, lang, sign=True)} {fmt_ci(lo, hi, lang)}"
        for m, lo, hi in zip(d["mean_diff"], d["ci_low"], d["ci_high"], strict=True)
    ]
    insts = list(dict.fromkeys(d["instrument"]))
    lo, hi = _scale_limits(insts, instruments, d)
    span = hi - lo
    d["label_x"] = hi + 0.04 * span
    if "instrument" in facets:
        d["instrument"] = d["instrument"].map(
            lambda i: instrument_name(i, lang, instruments=instruments)
        )
    long = pd.concat(
        [
            d.assign(value=d["mean_pre"], timepoint=t("baseline", lang)),
            d.assign(value=d["mean_post"], timepoint=t("end", lang)),
        ],
        ignore_index=True,
    )
    long["timepoint"] = pd.Categorical(
        long["timepoint"], categories=[t("baseline", lang), t("end", lang)], ordered=True
    )
    colours = {
        t("baseline", lang): TIMEPOINT_COLOURS["baseline"],
        t("end", lang): TIMEPOINT_COLOURS["end"],
    }
    title = (
        instrument_name(insts[0], lang, instruments=instruments) + ": " if len(insts) == 1 else ""
    ) + {"da": "gennemsnit ved start og afslutning", "en": "mean at baseline and end"}[lang]
    title = title[0].upper() + title[1:]
    caption = {
        "da": f"Tekst: gennemsnitlig ændring {t('ci', lang)}. {fmt_n_range(d['n'], lang)} (parrede målinger).",
        "en": f"Text: mean change {t('ci', lang)}. {fmt_n_range(d['n'], lang)} (paired measurements).",
    }[lang]
    n_rows = d["unit_label"].nunique()
    n_panels = int(d[facets].drop_duplicates().shape[0]) if facets else 1
    ncol = 2 if n_panels > 1 else 1
    height = 1.3 + (0.28 * n_rows + 0.45) * -(-n_panels // ncol)
    p = (
        p9.ggplot(d, p9.aes(y="unit_label"))
        + p9.geom_segment(
            p9.aes(x="mean_pre", xend="mean_post", yend="unit_label"), color="#9E9E9E", size=0.8
        )
        + p9.geom_point(p9.aes(x="value", color="timepoint"), data=long, size=2.4)
        + p9.geom_text(p9.aes(x="label_x", label="label"), ha="left", size=6.5, color="#333333")
        + p9.scale_color_manual(values=colours)
        + p9.scale_x_continuous(
            limits=(lo, hi + span * (0.9 if ncol > 1 else 0.55)),
            breaks=[b for b in _pretty(lo, hi)],
            labels=number_labels(lang),
            expand=(0.02, 0),
        )
        + p9.labs(x=t("mean", lang), y="", color="", title=title, caption=caption)
        + theme_envejind(size=(6.3, min(max(height, 2.6), 9.0)))
        + p9.theme(panel_grid_major_y=p9.element_blank())
    )
    if facets:
        p += p9.facet_wrap(
            facets, ncol=ncol, scales="free_y" if "instrument" in facets else "fixed"
        )
    return p


def _pretty(lo: float, hi: float) -> list[float]:
    span = hi - lo
    step = next(s for s in (0.5, 1, 2, 2.5, 5, 10, 20, 25, 50, 100) if span / s <= 6)
    first = np.ceil(lo / step) * step
    return [float(v) for v in np.arange(first, hi + 1e-9, step)]
