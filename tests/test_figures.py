"""Figure functions on hand-made tidy frames: data, layers, labels (da/en), decimal comma,
drawing without warnings, inputs not mutated, internal figures refusing publication."""

from __future__ import annotations

import pandas as pd
import pytest

import envejind_eval.figures as F
from envejind_eval.errors import DataValidationError, DisclosureError
from test_figures_helpers import (
    attendance_frame,
    draw_strict,
    meta_frame,
    outcomes_frame,
    pre_post_frame,
    reliable_change_frame,
    retention_frame,
    rhythm_frame,
    trajectories_frame,
)


def _inputs():
    return {
        "star_profile": (F.star_profile, pre_post_frame(("Aalborg",)), {}),
        "pre_post_dumbbell": (F.pre_post_dumbbell, pre_post_frame(), {"by": "municipality"}),
        "reliable_change_bars": (F.reliable_change_bars, reliable_change_frame(), {}),
        "trajectory_plot": (F.trajectory_plot, trajectories_frame(), {}),
        "forest_plot": (F.forest_plot, meta_frame(), {}),
        "attendance_by_week": (F.attendance_by_week, attendance_frame(), {}),
        "daily_rhythm_plot": (F.daily_rhythm_plot, rhythm_frame(), {}),
        "retention_curves": (F.retention_curves, retention_frame(), {}),
        "status_outcomes_plot": (F.status_outcomes_plot, outcomes_frame(), {}),
        "slope_plot": (F.slope_plot, reliable_change_frame(), {}),
        "rci_scatter": (F.rci_scatter, reliable_change_frame(), {}),
    }


#: Geoms each figure must contain, and words in the Danish / English title.
EXPECT = {
    "star_profile": (
        {"geom_polygon", "geom_segment", "geom_path", "geom_text"},
        "profil",
        "profile",
    ),
    "pre_post_dumbbell": (
        {"geom_segment", "geom_point", "geom_text"},
        "start og afslutning",
        "baseline and end",
    ),
    "reliable_change_bars": ({"geom_tile", "geom_text"}, "Pålidelig", "Reliable"),
    "trajectory_plot": ({"geom_line", "geom_errorbar", "geom_point"}, "udvikling", "development"),
    "forest_plot": (
        {"geom_segment", "geom_point", "geom_polygon", "geom_vline"},
        "kommune",
        "municipality",
    ),
    "attendance_by_week": ({"geom_line", "geom_point"}, "Fremmøde", "Attendance"),
    "daily_rhythm_plot": ({"geom_line", "geom_point", "geom_text"}, "Døgnrytme", "Daily rhythm"),
    "retention_curves": ({"geom_step", "geom_ribbon"}, "Fastholdelse", "Retention"),
    "status_outcomes_plot": ({"geom_col", "geom_errorbar"} - {"geom_errorbar"}, "Status", "Status"),
    "slope_plot": ({"geom_line", "geom_point"}, "deltager", "participant"),
    "rci_scatter": ({"geom_ribbon", "geom_abline", "geom_point"}, "deltager", "participant"),
}

#: Columns each figure's data must carry.
COLUMNS = {
    "star_profile": {"unit", "value", "timepoint", "x", "y", "r"},
    "pre_post_dumbbell": {"unit", "mean_pre", "mean_post", "unit_label", "label"},
    "reliable_change_bars": {"unit", "change_class", "n", "share", "xmin", "xmax"},
    "trajectory_plot": {"unit", "timepoint", "mean", "unit_label", "timepoint_label"},
    "forest_plot": {"municipality", "estimate", "ci_low", "ci_high", "y", "label"},
    "attendance_by_week": {"cohort_id", "week", "rate", "team"},
    "daily_rhythm_plot": {"week", "on_time_share", "arrival_label"},
    "retention_curves": {"time", "survival", "group_label"},
    "status_outcomes_plot": {"indicator", "timepoint", "share", "label"},
    "slope_plot": {"participant_id", "score", "timepoint", "class_label"},
    "rci_scatter": {"participant_id", "pre", "post", "class_label"},
}

NAMES = sorted(_inputs())


@pytest.fixture(scope="module")
def figures():
    out = {}
    for name, (fn, data, kw) in _inputs().items():
        out[name] = {lang: fn(data, lang=lang, **kw) for lang in ("da", "en")}
    return out


@pytest.fixture(scope="module")
def drawn(figures):
    """Danish figures drawn once (small, low dpi, warnings as errors): their texts."""
    return {name: draw_strict(f["da"]) for name, f in figures.items()}


@pytest.mark.parametrize("name", NAMES)
def test_data_layers_and_titles(figures, name):
    geoms, da, en = EXPECT[name]
    p_da, p_en = figures[name]["da"], figures[name]["en"]
    assert COLUMNS[name] <= set(p_da.data.columns)
    assert geoms <= {type(layer.geom).__name__ for layer in p_da.layers}
    assert da.lower() in p_da.labels.title.lower()
    assert en.lower() in p_en.labels.title.lower()
    assert p_da.labels.title != p_en.labels.title


@pytest.mark.parametrize("name", NAMES)
def test_draws_without_warnings(drawn, name):
    assert any(s.strip() for s in drawn[name])


def test_decimal_comma_in_axes_and_annotations(drawn, figures):
    # annotations
    assert any("," in s and "[" in s for s in drawn["pre_post_dumbbell"])  # "+1,2 [0,4; 2,0]"
    assert any(s.startswith("0,") for s in drawn["forest_plot"])
    assert "," in figures["forest_plot"]["da"].labels.caption  # tau² = 0,010
    assert "." in figures["forest_plot"]["en"].labels.caption
    # axes: percent with a space (da) and clock times with a period (da)
    assert "50 %" in drawn["retention_curves"]
    assert any(
        s.count(".") == 1 and len(s) == 5 and s[:2].isdigit() for s in drawn["daily_rhythm_plot"]
    )
    # Danish labels, not English
    assert "Forbedret" in drawn["reliable_change_bars"]
    assert "Improved" not in drawn["reliable_change_bars"]


def test_english_labels(figures):
    p = figures["pre_post_dumbbell"]["en"]
    assert p.data["unit_label"].astype(str).str.contains("Daily rhythm").any()
    assert any("." in s for s in p.data["label"])
    assert not any("," in s.split("[")[0] for s in p.data["label"])


def test_inputs_not_mutated():
    for name, (fn, data, kw) in _inputs().items():
        before = data.copy(deep=True)
        fn(data, lang="da", **kw)
        pd.testing.assert_frame_equal(data, before, obj=name)


def test_bad_lang_and_missing_columns():
    with pytest.raises(ValueError, match="Expecting one of da, en"):
        F.forest_plot(meta_frame(), lang="de")
    with pytest.raises(DataValidationError, match="missing column"):
        F.forest_plot(meta_frame().drop(columns="ci_low"))
    with pytest.raises(ValueError, match="Expecting instrument"):
        F.pre_post_dumbbell(pre_post_frame(), instrument="nope")


@pytest.mark.parametrize("fn", [F.slope_plot, F.rci_scatter])
def test_internal_figures_refuse_publication(fn):
    with pytest.raises(DisclosureError, match="internal use only"):
        fn(reliable_change_frame(), publication=True)


def test_reliable_change_shares_and_aliases():
    rc = reliable_change_frame().rename(columns={"change_class": "rc_class"})
    s = F.change_shares(rc)
    assert set(s.columns) >= {"instrument", "unit", "change_class", "n_class", "n", "share"}
    sums = s.groupby("unit")["share"].sum()
    assert (sums.sub(1).abs() < 1e-12).all()
    assert (s.groupby("unit")["n"].first() == 12).all()


def test_star_coordinates_geometry():
    co = F.star_coordinates(
        pre_post_frame(("Aalborg",)).query("level == 'domain'"), instrument="ungestjernen"
    )
    pts = co["points"]
    assert len(co["spokes"]) == 8
    assert ((pts["x"] ** 2 + pts["y"] ** 2) ** 0.5 - pts["r"]).abs().max() < 1e-12
    # first domain at the top
    top = pts.loc[pts["order"] == 0]
    assert (top["x"].abs() < 1e-12).all() and (top["y"] > 0).all()


def test_forest_reads_row_type_and_percent_i2():
    m = meta_frame().assign(row_type=["municipality"] * 3 + ["pooled"])
    m.loc[3, "municipality"] = None
    p = F.forest_plot(m, lang="en")
    assert "I² = 12%" in p.labels.caption
    assert len(p.data) == 3


def test_retention_runs_to_last_follow_up_and_hides_crowded_bands():
    from types import SimpleNamespace

    surv = retention_frame()
    times = pd.DataFrame(
        {"municipality": ["Aalborg", "Odense"], "time": [150.0, 130.0], "usable": True}
    )
    p = F.retention_curves(SimpleNamespace(survival=surv, times=times), lang="en")
    ends = p.data.groupby("municipality")["time"].max()
    assert ends.to_dict() == {"Aalborg": 150.0, "Odense": 130.0}
    assert "geom_ribbon" in {type(layer.geom).__name__ for layer in p.layers}
    four = pd.concat([surv.assign(municipality=surv["municipality"] + s) for s in ("", "2")])
    q = F.retention_curves(four, lang="da")
    assert "geom_ribbon" not in {type(layer.geom).__name__ for layer in q.layers}
    assert "Skygge" not in q.labels.caption


def test_status_outcomes_accepts_result_object():
    from types import SimpleNamespace

    shares = outcomes_frame()
    p = F.status_outcomes_plot(SimpleNamespace(shares=shares, mcnemar=pd.DataFrame()), lang="en")
    assert set(p.data["indicator_label"].astype(str)) >= {"In education", "Charged by the police"}
    with pytest.raises(TypeError, match="status_outcomes"):
        F.status_outcomes_plot(SimpleNamespace(other=1))
