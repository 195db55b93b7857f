"""Participant flow: referred → started → completed → measured at end, per municipality."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import plotnine as p9

from envejind_eval.figures._common import categorical, non_empty, require_columns
from envejind_eval.figures.labels import check_lang, fmt_int, fmt_percent, t, wrap
from envejind_eval.figures.theme import OKABE_ITO, theme_envejind

if TYPE_CHECKING:
    from envejind_eval.dataset import Dataset

STAGES: tuple[str, ...] = ("referred", "started", "completed", "measured_end")
FLOW_COLUMNS = ["municipality", "stage", "n", "share_of_referred"]


def flow_counts(ds: Dataset) -> pd.DataFrame:
    """Counts per municipality and flow stage.

    Returns columns ``municipality, stage, n, share_of_referred`` (stages in order
    ``referred, started, completed, measured_end``).

    Notes
    -----
    * referred: every row of ``participants``;
    * started: at least one day ``present`` or ``late`` in ``attendance``; when the dataset
      has no attendance rows at all, every participant not ``excluded``;
    * completed: ``status == "completed"``;
    * measured_end: any measurement at timepoint ``end`` (any instrument or rater).
    """
    p = ds.participants[["participant_id", "municipality", "status"]]
    att = ds.attendance
    if len(att):
        came = set(att.loc[att["status"].isin(["present", "late"]), "participant_id"])
        started = p["participant_id"].isin(came)
    else:
        started = p["status"] != "excluded"
    m = ds.measurements
    measured = set(m.loc[m["timepoint"] == "end", "participant_id"])
    flags = pd.DataFrame(
        {
            "municipality": p["municipality"].to_numpy(),
            "referred": True,
            "started": started.to_numpy(),
            "completed": (p["status"] == "completed").to_numpy(),
            "measured_end": p["participant_id"].isin(measured).to_numpy(),
        }
    )
    wide = flags.groupby("municipality", sort=True)[list(STAGES)].sum()
    long = wide.reset_index().melt(id_vars="municipality", var_name="stage", value_name="n")
    ref = long["municipality"].map(wide["referred"])
    long["n"] = long["n"].astype(int)
    long["share_of_referred"] = long["n"] / ref.where(ref > 0)
    long["_o"] = long["stage"].map({s: k for k, s in enumerate(STAGES)})
    return long.sort_values(["municipality", "_o"]).drop(columns="_o").reset_index(drop=True)


def participant_flow(ds: Dataset | pd.DataFrame, *, lang: str = "da") -> p9.ggplot:
    """Participant flow per municipality as horizontal bars with ``n (share)`` labels.

    Parameters
    ----------
    ds : Dataset or DataFrame
        Participants, attendance and measurements are used (see :func:`flow_counts`), or
        the output of :func:`flow_counts` itself.
    lang : {"da", "en"}

    Returns
    -------
    plotnine.ggplot
        Data: :func:`flow_counts` plus ``stage_label`` and ``label``.

    Examples
    --------
    >>> import envejind_eval as ee
    >>> from envejind_eval.figures import participant_flow
    >>> p = participant_flow(ee.Dataset.from_canonical(ee.sample_path() / "canonical"))
    """
    lang = check_lang(lang)
    if isinstance(ds, pd.DataFrame):
        require_columns(ds, FLOW_COLUMNS, figure="participant_flow", source="flow_counts()")
        d = ds.copy()
    else:
        d = flow_counts(ds)
    d = non_empty(d, figure="participant_flow", what="participants")
    labels = [t(s, lang) for s in STAGES]
    d["stage_label"] = categorical(
        d["stage"].map(dict(zip(STAGES, labels, strict=True))), labels[::-1]
    )
    d["label"] = [
        f"{fmt_int(n, lang)} ({fmt_percent(s, lang)})" if k else fmt_int(n, lang)
        for n, s, k in zip(d["n"], d["share_of_referred"], d["stage"] != "referred", strict=True)
    ]
    top = float(d["n"].max()) if len(d) else 1.0
    n_mun = d["municipality"].nunique()
    return (
        p9.ggplot(d, p9.aes(x="stage_label", y="n"))
        + p9.geom_col(fill=OKABE_ITO["blue"], width=0.7)
        + p9.geom_text(p9.aes(label="label"), ha="left", nudge_y=top * 0.03, size=7)
        + p9.coord_flip()
        + p9.facet_wrap("municipality", ncol=2 if n_mun > 1 else 1)
        + p9.scale_y_continuous(limits=(0, top * 1.45), expand=(0, 0), breaks=[], labels=[])
        + p9.labs(
            x="",
            y="",
            title={"da": "Deltagerflow pr. kommune", "en": "Participant flow by municipality"}[
                lang
            ],
            caption=wrap(
                {
                    "da": "Andel i parentes: af henviste. Startet: mindst én dag mødt. "
                    "Målt ved afslutning: alle med en slutmåling, også frafaldne.",
                    "en": "Share in brackets: of referred. Started: attended at least one day. "
                    "Measured at end: everyone with an end measurement, dropouts included.",
                }[lang],
                115,
            ),
        )
        + theme_envejind(size="full" if n_mun > 2 else "wide")
        + p9.theme(panel_grid_major=p9.element_blank())
    )
