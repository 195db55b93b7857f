"""Render every figure for a dataset (PNG + SVG), in parallel over processes.

The parent process runs the analyses once (tidy DataFrames, cheap to pickle); each figure
is then built and saved in a worker (:class:`concurrent.futures.ProcessPoolExecutor`),
because drawing is the slow, CPU-bound part and matplotlib is not thread-safe.
"""

from __future__ import annotations

import importlib
import os
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from envejind_eval.errors import EnvejindError
from envejind_eval.figures.labels import check_lang

if TYPE_CHECKING:
    from envejind_eval.dataset import Dataset

MANIFEST_COLUMNS = ["name", "figure", "status", "files", "seconds", "reason"]


@dataclass(frozen=True)
class Job:
    """One figure to render: ``figure`` is a name in :mod:`envejind_eval.figures`."""

    name: str
    figure: str
    data: Any
    kwargs: dict[str, Any] = field(default_factory=dict)
    internal: bool = False


def _try(name: str, fn: Callable[[], Any], skipped: list[dict[str, Any]]) -> Any:
    """Run an analysis; a user-level failure (too little data, ...) skips its figures."""
    try:
        return fn()
    except (EnvejindError, ValueError) as exc:
        skipped.append(
            {
                "name": name,
                "figure": "",
                "status": "skipped",
                "files": "",
                "seconds": 0.0,
                "reason": str(exc),
            }
        )
        return None


def gallery_jobs(
    ds: Dataset,
    *,
    lang: str = "da",
    internal: bool = False,
    instruments: Sequence[str] | None = None,
) -> tuple[list[Job], list[dict[str, Any]]]:
    """The figures of the gallery for ``ds`` and the analyses skipped (with the reason).

    Analyses run here, in the calling process, with bootstrap off (``n_boot=0``): figures
    do not show bootstrap intervals. ``instruments`` restricts the instrument figures
    (default: every instrument with measurements).
    """
    import envejind_eval as ee
    from envejind_eval.figures.flow import flow_counts

    lang = check_lang(lang)
    inst = dict(ds.instruments)
    skipped: list[dict[str, Any]] = []
    jobs: list[Job] = [Job("flow", "participant_flow", flow_counts(ds), {"lang": lang})]
    measured = set(ds.measurements["instrument"].unique())
    municipalities = ds.municipalities
    if instruments is not None:
        unknown = sorted(set(instruments) - set(inst))
        if unknown:
            raise ValueError(
                f"Expecting instruments from {', '.join(inst)}; got {', '.join(unknown)}"
            )
    wanted = [i for i in inst if i in measured and (instruments is None or i in instruments)]
    for iid in wanted:
        kw = {"lang": lang, "instruments": inst}
        pp = _try(f"pre_post {iid}", partial(ee.pre_post, ds, iid, n_boot=0), skipped)
        if pp is not None:
            jobs.append(Job(f"prepost_{iid}", "pre_post_dumbbell", pp, {**kw, "instrument": iid}))
            if iid == "ungestjernen":
                for r in sorted(pp["rater"].unique()):
                    jobs.append(
                        Job(
                            f"star_{iid}", "star_profile", pp, {**kw, "instrument": iid, "rater": r}
                        )
                    )
        if len(municipalities) > 1 and iid == "ungestjernen":
            ppm = _try(
                f"pre_post {iid} by municipality",
                partial(ee.pre_post, ds, iid, by="municipality", n_boot=0),
                skipped,
            )
            if ppm is not None:
                jobs.append(
                    Job(
                        f"prepost_{iid}_municipality",
                        "pre_post_dumbbell",
                        ppm,
                        {**kw, "instrument": iid, "by": "municipality"},
                    )
                )
                jobs.append(
                    Job(
                        f"star_{iid}_municipality",
                        "star_profile",
                        ppm,
                        {**kw, "instrument": iid, "by": "municipality"},
                    )
                )
        rc = _try(f"reliable_change {iid}", partial(ee.reliable_change, ds, iid), skipped)
        if rc is not None:
            jobs.append(
                Job(f"reliable_change_{iid}", "reliable_change_bars", rc, {**kw, "instrument": iid})
            )
            if internal:
                for r in sorted(rc["rater"].dropna().unique()):
                    sub = rc.loc[rc["rater"] == r]
                    jobs.append(
                        Job(
                            f"internal_slope_{iid}_{r}",
                            "slope_plot",
                            sub,
                            {**kw, "instrument": iid},
                            True,
                        )
                    )
                    jobs.append(
                        Job(
                            f"internal_rci_{iid}_{r}",
                            "rci_scatter",
                            sub,
                            {**kw, "instrument": iid},
                            True,
                        )
                    )
        tr = _try(f"trajectories {iid}", partial(ee.trajectories, ds, iid), skipped)
        if tr is not None:
            jobs.append(
                Job(f"trajectories_{iid}", "trajectory_plot", tr.means, {**kw, "instrument": iid})
            )
        if len(municipalities) > 1:
            cm = _try(
                f"compare_municipalities {iid}",
                partial(ee.compare_municipalities, ds, iid),
                skipped,
            )
            if cm is not None:
                raters = sorted(cm["rater"].dropna().unique()) if "rater" in cm.columns else [None]
                for r in raters:
                    name = f"forest_{iid}" + (f"_{r}" if len(raters) > 1 else "")
                    jobs.append(Job(name, "forest_plot", cm, {**kw, "rater": r}))
    att = _try(
        "attendance_summary", lambda: ee.attendance_summary(ds, by=["team", "week"]), skipped
    )
    if att is not None:
        jobs.append(Job("attendance_by_week", "attendance_by_week", att, {"lang": lang}))
    dr = _try("daily_rhythm", lambda: ee.daily_rhythm(ds, n_boot=0), skipped)
    if dr is not None:
        jobs.append(Job("daily_rhythm", "daily_rhythm_plot", dr.weekly, {"lang": lang}))
    ret = _try("retention", lambda: ee.retention(ds), skipped)
    if ret is not None:
        jobs.append(Job("retention", "retention_curves", ret.survival, {"lang": lang}))
    so = _try("status_outcomes", lambda: ee.status_outcomes(ds), skipped)
    if so is not None:
        jobs.append(Job("status_outcomes", "status_outcomes_plot", so.shares, {"lang": lang}))
    if internal:
        aw = _try(
            "attendance_summary by participant",
            lambda: ee.attendance_summary(ds, by=["participant", "week"]),
            skipped,
        )
        if aw is not None:
            jobs.append(
                Job("internal_attendance_heatmap", "attendance_heatmap", aw, {"lang": lang}, True)
            )
    # unique names (the star may be drawn per rater)
    seen: dict[str, int] = {}
    out = []
    for j in jobs:
        k = seen.get(j.name, 0)
        seen[j.name] = k + 1
        out.append(
            j if k == 0 else Job(f"{j.name}_{k + 1}", j.figure, j.data, j.kwargs, j.internal)
        )
    return out, skipped


def _render(job: Job, out: str, dpi: int = 300) -> dict[str, Any]:
    """Worker: build and save one figure; failures are reported, not raised."""
    import matplotlib

    matplotlib.use("Agg")
    from envejind_eval.figures.save import save_figure

    t0 = time.perf_counter()
    target = Path(out) / ("internal" if job.internal else "") / job.name
    try:
        fn = getattr(importlib.import_module("envejind_eval.figures"), job.figure)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            p = fn(job.data, **job.kwargs)
            files = save_figure(p, target, dpi=dpi)
        status, reason = "ok", ""
    except Exception as exc:
        files, status, reason = [], "failed", f"{type(exc).__name__}: {exc}"
    return {
        "name": job.name,
        "figure": job.figure,
        "status": status,
        "files": ";".join(str(f.relative_to(out)) for f in files),
        "seconds": time.perf_counter() - t0,
        "reason": reason,
    }


def render_gallery(
    ds: Dataset,
    out: str | Path,
    *,
    lang: str = "da",
    jobs: int | None = None,
    internal: bool = False,
    instruments: Sequence[str] | None = None,
    dpi: int = 300,
) -> pd.DataFrame:
    """Render every figure for ``ds`` into ``out`` (PNG 300 dpi + SVG) and return a manifest.

    Parameters
    ----------
    ds : Dataset
    out : path
        Output folder: new, empty or an earlier gallery (replaced only when the new one is
        complete; see :mod:`envejind_eval.outpath`). Internal figures go to
        ``out/internal``.
    lang : {"da", "en"}
    jobs : int, optional
        Worker processes; ``1`` renders serially in this process; default: CPU count.
    internal : bool
        Also render the internal-only figures that show individuals (never for publication).
    instruments : sequence of str, optional
        Restrict the instrument figures to these instrument ids.
    dpi : int
        PNG resolution (default 300).

    Returns
    -------
    DataFrame
        ``name, figure, status`` (``ok``/``failed``/``skipped``), ``files, seconds, reason``;
        also written to ``out/manifest.csv``.
    """
    lang = check_lang(lang)
    if jobs is not None and (not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"Expecting a positive number of jobs; got {jobs!r}")
    n_jobs = jobs or os.cpu_count() or 1
    from envejind_eval.outpath import staged

    # written next to ``out`` and moved into place when complete (refuses unsafe folders)
    with staged(out, kind="gallery") as stage:
        tmp = str(stage.path)
        todo, skipped = gallery_jobs(ds, lang=lang, internal=internal, instruments=instruments)
        if n_jobs == 1 or len(todo) <= 1:
            rows = [_render(j, tmp, dpi) for j in todo]
        else:
            with ProcessPoolExecutor(max_workers=min(n_jobs, len(todo))) as pool:
                rows = list(pool.map(_render, todo, [tmp] * len(todo), [dpi] * len(todo)))
        manifest = pd.DataFrame([*rows, *skipped], columns=MANIFEST_COLUMNS)
        manifest.to_csv(stage.path / "manifest.csv", index=False, lineterminator="\n")
    return manifest
