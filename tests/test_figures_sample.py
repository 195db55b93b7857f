"""Every gallery figure drawn (warnings as errors) on the bundled sample and on a tiny
dataset (one team of five): real analysis outputs, both languages."""

from __future__ import annotations

import pytest

import envejind_eval as ee
import envejind_eval.figures as F
from envejind_eval.errors import DisclosureError
from envejind_eval.figures.gallery import gallery_jobs
from test_figures_helpers import draw_strict


def _build(job):
    return getattr(F, job.figure)(job.data, **job.kwargs)


@pytest.fixture(scope="module")
def sample():
    return ee.Dataset.from_canonical(ee.sample_path() / "canonical")


@pytest.fixture(scope="module")
def tiny():
    ds, _ = ee.synthesize(seed=1, scale="tiny")
    return ds


@pytest.fixture(scope="module")
def sample_jobs(sample):
    jobs, skipped = gallery_jobs(sample, lang="da", internal=True, instruments=["ungestjernen"])
    return jobs, skipped


@pytest.fixture(scope="module")
def tiny_jobs(tiny):
    jobs, skipped = gallery_jobs(tiny, lang="en", internal=True, instruments=["ungestjernen"])
    return jobs, skipped


EVERY_FIGURE = {
    "participant_flow",
    "star_profile",
    "pre_post_dumbbell",
    "reliable_change_bars",
    "trajectory_plot",
    "forest_plot",
    "attendance_by_week",
    "daily_rhythm_plot",
    "retention_curves",
    "status_outcomes_plot",
    "slope_plot",
    "rci_scatter",
    "attendance_heatmap",
}


def test_sample_gallery_covers_every_figure(sample_jobs):
    jobs, skipped = sample_jobs
    assert not skipped
    assert {j.figure for j in jobs} == EVERY_FIGURE
    assert all(
        j.internal == (j.figure in {"slope_plot", "rci_scatter", "attendance_heatmap"})
        for j in jobs
    )


def test_sample_figures_draw_without_warnings(sample_jobs):
    jobs, _ = sample_jobs
    texts = {}
    for job in jobs:
        texts[job.name] = draw_strict(_build(job))
    # Danish decimal comma on the axes and in the annotations of the real outputs
    assert any("," in s and "[" in s for s in texts["prepost_ungestjernen"])
    assert any("," in s for s in texts["forest_ungestjernen"])
    assert "Slut" in texts["star_ungestjernen"]


def test_tiny_figures_draw_without_warnings(tiny_jobs):
    jobs, skipped = tiny_jobs
    # one municipality: no forest plot and no per-municipality panels; nothing fails
    assert "forest_plot" not in {j.figure for j in jobs}
    assert {"participant_flow", "star_profile", "retention_curves"} <= {j.figure for j in jobs}
    for job in jobs:
        texts = draw_strict(_build(job))
        assert texts
    assert isinstance(skipped, list)


def test_flow_counts_on_sample(sample):
    fc = F.flow_counts(sample)
    assert list(fc.columns) == ["municipality", "stage", "n", "share_of_referred"]
    wide = fc.pivot(index="municipality", columns="stage", values="n")
    assert (wide["referred"] == sample.participants.groupby("municipality").size()).all()
    assert (wide["started"] <= wide["referred"]).all()
    assert (wide["completed"] <= wide["referred"]).all()


def test_heatmap_refuses_publication(tiny):
    with pytest.raises(DisclosureError, match="cannot be published"):
        F.attendance_heatmap(tiny, publication=True)
