"""Status outcomes: share in education, employment, charged, housed, by timepoint."""

from __future__ import annotations

import pandas as pd
import plotnine as p9

from envejind_eval.figures._common import categorical, frame_of, non_empty, require_columns
from envejind_eval.figures.labels import check_lang, fmt_int, fmt_percent, percent_labels, t
from envejind_eval.figures.theme import TIMEPOINT_COLOURS, theme_envejind
from envejind_eval.schema import OUTCOME_INDICATORS, TIMEPOINTS


def status_outcomes_plot(data: pd.DataFrame, *, lang: str = "da") -> p9.ggplot:
    """Bars of the share with each status at baseline, end and follow-up, per indicator.

    Parameters
    ----------
    data : DataFrame or StatusOutcomes
        ``status_outcomes(ds).shares`` (or the result object): ``indicator, timepoint, n,
        share`` and optionally ``ci_low, ci_high`` (drawn as error bars).
    lang : {"da", "en"}

    Returns
    -------
    plotnine.ggplot
        Data: the rows plus ``indicator_label``, ``timepoint_label`` and ``label``.
    """
    lang = check_lang(lang)
    fig = "status_outcomes_plot"
    d = frame_of(data, "shares", figure=fig, source="status_outcomes()")
    require_columns(
        d, ["indicator", "timepoint", "n", "share"], figure=fig, source="status_outcomes().shares"
    )
    if "municipality" in d.columns and d["municipality"].nunique() > 1:
        raise ValueError(
            f"{fig}: data hold several municipalities; use status_outcomes(ds, by='none')"
        )
    d = non_empty(d.dropna(subset=["share"]).loc[lambda x: x["n"] > 0].copy(), figure=fig)
    d["indicator_label"] = categorical(
        d["indicator"].map(lambda s: t(s, lang)), [t(i, lang) for i in OUTCOME_INDICATORS]
    )
    d["timepoint_label"] = categorical(
        d["timepoint"].map(lambda s: t(s, lang)), [t(s, lang) for s in TIMEPOINTS]
    )
    d["label"] = [
        f"{fmt_percent(s, lang)}\nn = {fmt_int(n, lang)}"
        for s, n in zip(d["share"], d["n"], strict=True)
    ]
    has_ci = {"ci_low", "ci_high"} <= set(d.columns)
    d["label_y"] = (d["ci_high"] if has_ci else d["share"]).fillna(d["share"]) + 0.03
    colours = {t(s, lang): c for s, c in TIMEPOINT_COLOURS.items()}
    p = p9.ggplot(d, p9.aes("timepoint_label", "share", fill="timepoint_label")) + p9.geom_col(
        width=0.7
    )
    if has_ci:
        p += p9.geom_errorbar(
            p9.aes(ymin="ci_low", ymax="ci_high"),
            data=d.dropna(subset=["ci_low", "ci_high"]),
            width=0.15,
            color="#444444",
            size=0.4,
        )
    n_ind = d["indicator_label"].nunique()
    ncol = 2 if n_ind >= 4 else n_ind
    return (
        p
        + p9.geom_text(p9.aes(y="label_y", label="label"), va="bottom", size=6, lineheight=1.0)
        + p9.facet_wrap("indicator_label", ncol=ncol)
        + p9.scale_fill_manual(values=colours, guide=None)
        + p9.scale_y_continuous(
            limits=(0, min(1.25, max(0.5, float(d["label_y"].max()) + 0.16))),
            breaks=[0, 0.25, 0.5, 0.75, 1],
            labels=percent_labels(lang),
            expand=(0, 0),
        )
        + p9.labs(
            x="",
            y=t("share_participants", lang),
            title={
                "da": "Status ved start, afslutning og opfølgning",
                "en": "Status at baseline, end and follow-up",
            }[lang],
            caption={
                "da": "Andel med status blandt besvarede"
                + (" med 95 %-KI (eksakt)." if has_ci else "."),
                "en": "Share with the status among those answering"
                + (" with 95% CI (exact)." if has_ci else "."),
            }[lang],
        )
        + theme_envejind(size=(6.3, 1.4 + 2.0 * -(-n_ind // ncol)))
        + p9.theme(panel_grid_major_x=p9.element_blank(), panel_spacing_y=0.06)
    )
