"""Reliable change: share improved / unchanged / deteriorated per domain (diverging bars)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import plotnine as p9

from envejind_eval.figures._common import (
    non_empty,
    present,
    rename_aliases,
    require_columns,
    select,
)
from envejind_eval.figures.labels import (
    check_lang,
    fmt_int,
    fmt_percent,
    instrument_name,
    percent_labels,
    t,
    unit_label,
    unit_order,
    wrap,
)
from envejind_eval.figures.theme import CHANGE_COLOURS, theme_envejind

CLASSES: tuple[str, ...] = ("deteriorated", "unchanged", "improved")
_ALIASES = {"worsened": "deteriorated", "better": "improved", "worse": "deteriorated"}
#: Column names of ``reliable_change()`` accepted for the generic ones used here.
COLUMN_ALIASES = {"rc_class": "change_class", "rc_index": "rci"}


def change_shares(data: pd.DataFrame) -> pd.DataFrame:
    """Shares per instrument × [rater ×] unit × change class from per-participant rows.

    Returns ``instrument, [rater,] unit, change_class, n_class, n, share``; ``n`` counts
    the participants with a change class (those without a pair are left out of the
    denominator). ``rc_class`` is accepted for ``change_class``.
    """
    data = rename_aliases(data, COLUMN_ALIASES)
    require_columns(
        data,
        ["instrument", "unit", "change_class"],
        figure="reliable_change_bars",
        source="reliable_change()",
    )
    keys = ["instrument", *(["rater"] if "rater" in data.columns else []), "unit"]
    d = data.loc[data["change_class"].notna(), [*keys, "change_class"]]
    d = d.assign(change_class=d["change_class"].replace(_ALIASES))
    unknown = sorted(set(d["change_class"]) - set(CLASSES))
    if unknown:
        raise ValueError(
            f"Expecting change_class from {', '.join(CLASSES)}; got {', '.join(map(str, unknown))}"
        )
    counts = d.groupby([*keys, "change_class"]).size().rename("n_class")
    wide = counts.unstack("change_class", fill_value=0).reindex(columns=list(CLASSES), fill_value=0)
    long = pd.DataFrame(wide.stack()).set_axis(["n_class"], axis=1).reset_index()
    long["n"] = long.groupby(keys)["n_class"].transform("sum")
    long["share"] = long["n_class"] / long["n"]
    return long


def reliable_change_bars(
    data: pd.DataFrame,
    *,
    instrument: str | None = None,
    rater: str | None = None,
    lang: str = "da",
    instruments: Mapping[str, Any] | None = None,
) -> p9.ggplot:
    """Diverging stacked bars of reliable change per domain, with ``n`` per bar.

    Deteriorated extends left, improved right, unchanged is centred on zero.

    Parameters
    ----------
    data : DataFrame
        Output of :func:`envejind_eval.reliable_change` (one row per participant and unit:
        ``instrument, unit, rc_class`` or ``change_class``), or already aggregated rows
        with ``instrument, unit, change_class, n_class, n, share``.
    instrument : str, optional
        Keep one instrument; several are drawn in separate panels.
    rater : str, optional
        Keep one rater; several raters are drawn in separate panels.
    lang : {"da", "en"}
    instruments : mapping, optional
        Instrument registry for labels.

    Returns
    -------
    plotnine.ggplot
        Data: :func:`change_shares` plus ``xmin, xmax, x`` (bar segment positions).

    Notes
    -----
    Reliable change index (Jacobson & Truax 1991): ``RCI = (post − pre) / S_diff`` with
    ``S_diff = SD_pre · sqrt(2 · (1 − r))``; |RCI| > 1.96 is a reliable change.
    """
    lang = check_lang(lang)
    fig = "reliable_change_bars"
    d = select(rename_aliases(data, COLUMN_ALIASES), "instrument", instrument, figure=fig)
    d = select(d, "rater", rater, figure=fig)
    if "share" in d.columns and "n_class" in d.columns:
        cols = ["instrument", "rater", "unit", "change_class", "n_class", "n", "share"]
        s = d[[c for c in cols if c in d.columns]].copy()
    else:
        s = change_shares(d)
    s = non_empty(s, figure=fig, what="participants with a change class")
    if "rater" in s.columns and "rater" not in present(s, ["rater"]):
        s = s.drop(columns="rater")
    keys = ["instrument", *(["rater"] if "rater" in s.columns else []), "unit"]
    w = s.pivot_table(index=keys, columns="change_class", values="share", fill_value=0.0)
    w = w.reindex(columns=list(CLASSES), fill_value=0.0)
    half = w["unchanged"] / 2
    pos = {
        "deteriorated": (-half - w["deteriorated"], -half),
        "unchanged": (-half, half),
        "improved": (half, half + w["improved"]),
    }
    frames = []
    for cls, (a, b) in pos.items():
        frames.append(pd.DataFrame({"xmin": a, "xmax": b, "change_class": cls}).reset_index())
    seg = pd.concat(frames, ignore_index=True).merge(s, on=[*keys, "change_class"], how="left")
    seg["x"] = (seg["xmin"] + seg["xmax"]) / 2
    if "rater" in seg.columns:
        seg["rater"] = seg["rater"].map(lambda r: t(str(r), lang))
    seg["width"] = seg["xmax"] - seg["xmin"]
    seg["text_colour"] = seg["change_class"].map(
        {"unchanged": "#111111", "improved": "white", "deteriorated": "#111111"}
    )
    seg["label"] = [fmt_percent(v, lang) if v >= 0.13 else "" for v in seg["share"].fillna(0)]
    labels_map = {
        (i, u): wrap(unit_label(i, u, lang, instruments=instruments), 26)
        for i, u in seg[["instrument", "unit"]].drop_duplicates().itertuples(index=False)
    }
    order: list[str] = []
    for i in dict.fromkeys(seg["instrument"]):
        for u in unit_order(i, seg.loc[seg["instrument"] == i, "unit"], instruments=instruments):
            if labels_map[(i, u)] not in order:
                order.append(labels_map[(i, u)])
    seg["unit_label"] = pd.Categorical(
        [labels_map[k] for k in zip(seg["instrument"], seg["unit"], strict=True)],
        categories=order[::-1],
        ordered=True,
    )
    cls_labels = {c: t(c, lang) for c in CLASSES}
    seg["class_label"] = pd.Categorical(
        seg["change_class"].map(cls_labels),
        categories=[cls_labels[c] for c in CLASSES],
        ordered=True,
    )
    nlab = seg.drop_duplicates(keys).assign(
        nx=1.08, nlabel=lambda x: [f"n = {fmt_int(v, lang)}" for v in x["n"]]
    )
    insts = list(dict.fromkeys(seg["instrument"]))
    facets = (["instrument"] if len(insts) > 1 else []) + (["rater"] if "rater" in keys else [])
    if len(insts) > 1:
        for frame in (seg, nlab):
            frame["instrument"] = frame["instrument"].map(
                lambda i: instrument_name(i, lang, instruments=instruments)
            )
    n_panels = int(seg[facets].drop_duplicates().shape[0]) if facets else 1
    colours = {cls_labels[c]: CHANGE_COLOURS[c] for c in CLASSES}
    title = {
        "da": "Pålidelig ændring fra start til afslutning",
        "en": "Reliable change from baseline to end",
    }[lang]
    if len(insts) == 1:
        title = (
            f"{instrument_name(insts[0], lang, instruments=instruments)}: "
            + title[0].lower()
            + title[1:]
        )
    n_rows = seg["unit_label"].nunique()
    p = (
        p9.ggplot(seg, p9.aes(y="unit_label"))
        + p9.geom_tile(
            p9.aes(x="x", width="width", fill="class_label"), height=0.72, color="white", size=0.3
        )
        + p9.geom_text(p9.aes(x="x", label="label", color="text_colour"), size=6.5)
        + p9.geom_text(
            p9.aes(x="nx", y="unit_label", label="nlabel"),
            data=nlab,
            ha="left",
            size=6.5,
            color="#444444",
            inherit_aes=False,
        )
        + p9.scale_color_identity()
        + p9.scale_fill_manual(values=colours, drop=False)
        + p9.scale_x_continuous(
            limits=(-1.02, 1.3),
            breaks=[-1, -0.5, 0, 0.5, 1],
            labels=percent_labels(lang, absolute=True),
            expand=(0, 0),
        )
        + p9.labs(
            x=t("share_participants", lang),
            y="",
            fill="",
            title=title,
            caption={
                "da": "Pålidelig ændring: |RCI| > 1,96 (Jacobson & Truax). Uændret er centreret om 0.",
                "en": "Reliable change: |RCI| > 1.96 (Jacobson & Truax). Unchanged is centred on 0.",
            }[lang],
        )
        + theme_envejind(size=(6.3, min(max(1.4 + (0.32 * n_rows + 0.3) * n_panels, 2.6), 9.5)))
        + p9.theme(panel_grid_major_y=p9.element_blank())
    )
    if facets:
        p += p9.facet_wrap(facets, ncol=1, scales="free_y", labeller="label_context")
    return p
