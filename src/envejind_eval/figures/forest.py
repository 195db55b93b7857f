"""Municipality forest plot: per-municipality effect with CI and the pooled estimate."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotnine as p9

from envejind_eval.figures._common import non_empty, present, require_columns, select
from envejind_eval.figures.labels import (
    check_lang,
    fmt_ci,
    fmt_int,
    fmt_number,
    fmt_percent,
    instrument_name,
    number_labels,
    t,
    unit_label,
)
from envejind_eval.figures.theme import OKABE_ITO, theme_envejind

_POOLED_NAMES = {"pooled", "Pooled", "__pooled__", "overall", "all", "random_effects"}


def _pooled_mask(d: pd.DataFrame, group: str) -> pd.Series:
    for c in ("is_pooled", "pooled"):
        if c in d.columns and d[c].dtype == bool:
            return d[c]
    for c in ("row_type", "kind", "type", "level"):
        if c in d.columns and d[c].astype(str).isin(list(_POOLED_NAMES)).any():
            return d[c].astype(str).isin(list(_POOLED_NAMES))
    return d[group].astype(str).isin(list(_POOLED_NAMES))


def _stat(d: pd.DataFrame, pooled: pd.Series, name: str) -> float:
    """A heterogeneity statistic from a column (pooled row first) or an attribute."""
    if name in d.columns:
        v = d.loc[pooled, name].dropna()
        if not len(v):
            v = d[name].dropna()
        if len(v):
            return float(v.iloc[0])
    v = d.attrs.get(name)
    return float(v) if v is not None else math.nan


_EFFECTS = {
    "mean_diff": {
        "da": "Gennemsnitlig ændring (afslutning − start)",
        "en": "Mean change (end − baseline)",
    },
    "dz": {"da": "Cohens d_z", "en": "Cohen's d_z"},
    "gz": {"da": "Hedges' g_z", "en": "Hedges' g_z"},
}


def _effect_label(d: pd.DataFrame, lang: str) -> str:
    if "effect" in d.columns and d["effect"].nunique() == 1:
        return _EFFECTS.get(str(d["effect"].iloc[0]), {}).get(lang, t("effect", lang))
    return t("effect", lang)


def _title(d: pd.DataFrame, lang: str, instruments: Mapping[str, Any] | None) -> str:
    base = {"da": "Effekt pr. kommune", "en": "Effect by municipality"}[lang]
    if "instrument" not in d.columns or d["instrument"].nunique() != 1:
        return base
    iid = str(d["instrument"].iloc[0])
    head = instrument_name(iid, lang, instruments=instruments)
    if "unit" in d.columns and d["unit"].nunique() == 1:
        head += (
            ", " + unit_label(iid, str(d["unit"].iloc[0]), lang, instruments=instruments).lower()
        )
    if "rater" in d.columns and d["rater"].nunique() == 1:
        head += f" ({t(str(d['rater'].iloc[0]), lang).lower()})"
    return f"{head}: {base[0].lower()}{base[1:]}"


def forest_plot(
    data: pd.DataFrame,
    *,
    group: str = "municipality",
    unit: str | None = None,
    rater: str | None = None,
    effect_label: str | None = None,
    null: float = 0.0,
    lang: str = "da",
    instruments: Mapping[str, Any] | None = None,
) -> p9.ggplot:
    """Forest plot: one row per municipality (point + CI) and the pooled estimate (diamond).

    Parameters
    ----------
    data : DataFrame
        Output of :func:`envejind_eval.compare_municipalities`: rows per ``group`` with
        ``estimate, ci_low, ci_high, n`` and one pooled row (``group`` value ``pooled``, or a
        boolean ``is_pooled`` column). I² and τ² are read from ``i2``/``tau2`` columns or
        ``data.attrs``; I² is in percent (as ``compare_municipalities`` returns it).
    group : str
        Column naming the rows (default ``municipality``).
    unit : str, optional
        Keep one unit when the data hold several (``compare_municipalities`` with
        ``level="domain"``).
    rater : str, optional
        Keep one rater when the data hold several.
    effect_label : str, optional
        Axis title (default: "Effect"/"Effekt").
    null : float
        Reference line (no effect).
    lang : {"da", "en"}
    instruments : mapping, optional
        Instrument registry for the title (``ds.instruments``).

    Returns
    -------
    plotnine.ggplot
        Data: the rows plus ``y`` (row position), ``row_label`` and ``label``.
    """
    lang = check_lang(lang)
    fig = "forest_plot"
    require_columns(
        data,
        [group, "estimate", "ci_low", "ci_high", "n"],
        figure=fig,
        source="compare_municipalities()",
    )
    d = select(data, "unit", unit, figure=fig)
    if "unit" in present(d, ["unit"]):
        raise ValueError(f"{fig}: data hold several units; pass unit=...")
    d = select(d, "rater", rater, figure=fig)
    if "rater" in present(d, ["rater"]):
        raise ValueError(f"{fig}: data hold several raters; pass rater=...")
    d = non_empty(d.copy(), figure=fig)
    pooled = _pooled_mask(d, group)
    rows = d.loc[~pooled].sort_values(group, ascending=False).reset_index(drop=True)
    pool = d.loc[pooled].head(1).reset_index(drop=True)
    if len(pool) and not pool[["estimate", "ci_low", "ci_high"]].notna().all(axis=1).iloc[0]:
        pool = pool.iloc[0:0]
    rows["y"] = np.arange(len(rows), dtype=float) + (1.5 if len(pool) else 0.0)
    rows["row_label"] = [
        f"{g}  (n = {fmt_int(n, lang)})" for g, n in zip(rows[group], rows["n"], strict=True)
    ]
    rows["label"] = [
        f"{fmt_number(e, lang, digits=2)} {fmt_ci(lo, hi, lang, digits=2)}"
        for e, lo, hi in zip(rows["estimate"], rows["ci_low"], rows["ci_high"], strict=True)
    ]
    lo_all = float(
        np.nanmin(np.r_[d["ci_low"].to_numpy(float), d["estimate"].to_numpy(float), null])
    )
    hi_all = float(
        np.nanmax(np.r_[d["ci_high"].to_numpy(float), d["estimate"].to_numpy(float), null])
    )
    span = (hi_all - lo_all) or 1.0
    text_x = hi_all + 0.06 * span
    rows["label_x"] = text_x
    breaks = rows["y"].tolist()
    blabels = rows["row_label"].tolist()
    layers = [
        p9.geom_vline(xintercept=null, linetype="dashed", color="#777777", size=0.4),
        p9.geom_segment(
            p9.aes(x="ci_low", xend="ci_high", y="y", yend="y"),
            data=rows.dropna(subset=["ci_low", "ci_high"]),
            size=0.6,
            color="#333333",
        ),
        p9.geom_point(
            p9.aes(x="estimate", y="y", size="n"),
            data=rows.dropna(subset=["estimate"]),
            shape="s",
            color=OKABE_ITO["blue"],
            fill=OKABE_ITO["blue"],
        ),
        p9.geom_text(p9.aes(x="label_x", y="y", label="label"), data=rows, ha="left", size=6.5),
    ]
    caption = {
        "da": "Punkt: estimat med 95 %-KI; størrelse efter n.",
        "en": "Point: estimate with 95% CI; size by n.",
    }[lang]
    if len(pool) and pool[["estimate", "ci_low", "ci_high"]].notna().all(axis=1).iloc[0]:
        e, lo, hi = (
            float(pool[c].to_numpy(dtype=float)[0]) for c in ("estimate", "ci_low", "ci_high")
        )
        diamond = pd.DataFrame({"x": [lo, e, hi, e], "y": [0.0, 0.3, 0.0, -0.3]})
        plabel = pd.DataFrame(
            {
                "x": [text_x],
                "y": [0.0],
                "label": [f"{fmt_number(e, lang, digits=2)} {fmt_ci(lo, hi, lang, digits=2)}"],
            }
        )
        layers += [
            p9.geom_hline(yintercept=0.75, color="#BBBBBB", size=0.3),
            p9.geom_polygon(
                p9.aes("x", "y"),
                data=diamond,
                fill=OKABE_ITO["vermillion"],
                color=OKABE_ITO["vermillion"],
            ),
            p9.geom_text(
                p9.aes("x", "y", label="label"), data=plabel, ha="left", size=6.5, fontweight="bold"
            ),
        ]
        breaks = [0.0, *breaks]
        blabels = [
            f"{t('pooled', lang)}  (n = {fmt_int(float(pool['n'].to_numpy(dtype=float)[0]), lang)})",
            *blabels,
        ]
        i2 = _stat(d, pooled, "i2")
        tau2 = _stat(d, pooled, "tau2")
        if not math.isnan(i2):
            caption += f" I² = {fmt_percent(i2 / 100, lang)}"
            if not math.isnan(tau2):
                caption += f", τ² = {fmt_number(tau2, lang, digits=3)}"
            caption += "."
    return (
        p9.ggplot(rows)
        + layers  # type: ignore[operator]
        + p9.scale_y_continuous(breaks=breaks, labels=blabels, expand=(0, 0.6))
        + p9.scale_x_continuous(
            labels=number_labels(lang), limits=(lo_all - 0.05 * span, hi_all + 0.5 * span)
        )
        + p9.scale_size_continuous(range=(1.8, 4.0), guide=None)
        + p9.labs(
            x=effect_label or _effect_label(d, lang),
            y="",
            title=_title(d, lang, instruments),
            caption=caption,
        )
        + theme_envejind(size=(6.3, 1.5 + 0.35 * (len(rows) + len(pool))))
        + p9.theme(panel_grid_major_y=p9.element_blank())
    )
