"""Attendance, daily rhythm, activity dose and fidelity on a hand-checked crafted team."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _attendance_data import crafted_dataset, crafted_tables
from envejind_eval.analysis import activity_dose, attendance_summary, daily_rhythm, fidelity
from envejind_eval.dataset import Dataset


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return crafted_dataset()


@pytest.fixture(scope="module")
def rhythm(ds):
    return daily_rhythm(ds, n_boot=200)


def _snapshot(ds: Dataset) -> dict[str, pd.DataFrame]:
    return {n: df.copy(deep=True) for n, df in ds.tables.items()}


# -- attendance -------------------------------------------------------------------------------


def test_participant_rates_known_by_hand(ds):
    t = attendance_summary(ds).set_index("participant_id")
    # scheduled days: 32 (8 weeks x Mon-Thu); P2 until exit on Wed week 3 -> 11
    assert t["n"].to_dict() == {"P1": 32, "P2": 11, "P3": 32, "P4": 32, "P5": 32}
    assert t.loc["P2", "n_unregistered"] == 1
    assert t.loc["P2", "attendance_rate"] == pytest.approx(10 / 11)
    assert t.loc["P3", "attendance_rate"] == 1.0
    assert t.loc["P3", "late_rate"] == 0.5
    assert t.loc["P4", "attendance_rate"] == 0.75
    assert t.loc["P4", "unexcused_rate"] == 0.25
    assert t.loc["P5", "n_excused"] == 1 and t.loc["P5", "n_unregistered"] == 1
    assert t.loc["P5", "attendance_rate"] == pytest.approx(30 / 32)


def test_team_and_municipality_pooled(ds):
    team = attendance_summary(ds, by="team")
    mun = attendance_summary(ds, by="municipality")
    assert len(team) == 1 and team.loc[0, "n"] == 139
    assert team.loc[0, "n_attended"] == 128
    assert team.loc[0, "attendance_rate"] == pytest.approx(128 / 139)
    assert team.loc[0, "late_rate"] == pytest.approx(16 / 128)
    assert team.loc[0, "n_participants"] == 5
    pd.testing.assert_series_equal(
        team.drop(columns="cohort_id").iloc[0], mun.iloc[0], check_names=False
    )


def test_by_week(ds):
    w = attendance_summary(ds, by="week").set_index("course_week")
    assert list(w.index) == list(range(1, 9))
    assert w.loc[1, "n"] == 20 and w.loc[3, "n"] == 19 and w.loc[4, "n"] == 16
    # week 1: P3 late 4 days, P4 unexcused Monday, P5 excused Tuesday
    assert w.loc[1, "n_attended"] == 18
    tw = attendance_summary(ds, by=["team", "week"])
    assert {"municipality", "cohort_id", "course_week"} <= set(tw.columns)
    assert w["n"].sum() == 139


def test_bad_by(ds):
    with pytest.raises(ValueError, match="Expecting one of"):
        attendance_summary(ds, by="cohort")


# -- daily rhythm -----------------------------------------------------------------------------


def test_rhythm_weekly(rhythm):
    wk = rhythm.weekly.set_index("course_week")
    assert wk.loc[1, "on_time_share"] == pytest.approx(14 / 18)
    assert wk.loc[5, "on_time_share"] == 1.0
    assert wk.loc[1, "n_attended"] == 18 and wk.loc[1, "n_arrival"] == 18
    assert wk.loc[1, "median_arrival_minutes"] == 480.0


def test_rhythm_participant_trend_always_late_improves(rhythm):
    t = rhythm.participant_trends.set_index(["participant_id", "measure"])
    # weekly on-time 0,0,0,0,1,1,1,1 over weeks 1..8: slope = 8 / 42
    assert t.loc[("P3", "on_time_share"), "slope"] == pytest.approx(8 / 42)
    # arrival 570 min (09:30) in weeks 1-4, 495 (08:15) in weeks 5-8: slope = -600 / 42
    assert t.loc[("P3", "arrival_minutes"), "slope"] == pytest.approx(-600 / 42)
    assert t.loc[("P1", "on_time_share"), "slope"] == 0.0
    assert t.loc[("P2", "on_time_share"), "n_weeks"] == 3


def test_rhythm_paired_matches_paired_summary(rhythm):
    from envejind_eval.analysis.paired import PAIRED_COLUMNS

    p = rhythm.paired.set_index("measure")
    assert set(PAIRED_COLUMNS) <= set(p.columns)
    on = p.loc["on_time_share"]
    # P2 has no last-four-weeks value; P3 goes 0 -> 1; the others stay at 1
    assert on["n"] == 4 and on["n_excluded"] == 1
    assert on["mean_pre"] == pytest.approx(0.75)
    assert on["mean_post"] == 1.0
    assert on["n_improved"] == 1 and on["n_unchanged"] == 3
    arr = p.loc["arrival_minutes"]
    assert arr["mean_diff"] == pytest.approx((495 - 570) / 4)
    assert arr["n_improved"] == 1  # earlier arrival is better


def test_rhythm_group_trend(rhythm):
    g = rhythm.group_trend.set_index(["measure", "term"])
    assert g.loc[("on_time_share", "week"), "n"] == 35
    assert g.loc[("on_time_share", "week"), "n_participants"] == 5
    assert g.loc[("on_time_share", "week"), "estimate"] > 0
    assert g.loc[("arrival_minutes", "week"), "estimate"] < 0
    assert rhythm.tidy() is rhythm.paired


def test_rhythm_on_time_clock(ds):
    r = daily_rhythm(ds, on_time="09:00", n_boot=0, mixed_model=False)
    wk = r.weekly.set_index("course_week")
    assert wk.loc[1, "on_time_share"] == pytest.approx(14 / 18)
    r2 = daily_rhythm(ds, on_time="08:10", n_boot=0, mixed_model=False)  # 08:15 arrivals now late
    assert r2.weekly.set_index("course_week").loc[5, "on_time_share"] == pytest.approx(10 / 14)
    with pytest.raises(ValueError, match="HH:MM"):
        daily_rhythm(ds, on_time="soon", n_boot=0)
    with pytest.raises(ValueError, match="positive integer"):
        daily_rhythm(ds, first_weeks=0)


# -- activity dose and fidelity ---------------------------------------------------------------


def test_activity_dose_participant(ds):
    d = activity_dose(ds).set_index("participant_id")
    assert d["art_sessions"].to_dict() == {"P1": 16, "P2": 5, "P3": 16, "P4": 8, "P5": 16}
    assert d.loc["P4", "art_sessions_offered"] == 16
    assert d.loc["P1", "art_hours"] == 32.0
    assert d.loc["P4", "art_share_of_course"] == pytest.approx(16 / 30)
    assert d.loc["P1", "mi_per_week"] == 2.0
    assert d.loc["P2", "n_weeks"] == 3 and d.loc["P2", "mi_per_week"] == 1.0
    assert d.loc["P5", "mi_talks"] == 7


def test_activity_dose_team(ds):
    t = activity_dose(ds, by="team").set_index("measure")
    assert t.loc["art_hours", "n"] == 5
    assert t.loc["art_hours", "mean"] == pytest.approx((32 + 10 + 32 + 16 + 32) / 5)
    assert t.loc["art_hours", "median"] == 32.0
    m = activity_dose(ds, by="municipality")
    assert "cohort_id" not in m.columns


def test_art_minutes_missing_are_unknown():
    tables = crafted_tables()
    a = tables["activities"]
    a.loc[(a["participant_id"] == "P2") & (a["activity"] == "art"), "minutes"] = np.nan
    d = activity_dose(Dataset.from_tables(tables)).set_index("participant_id")
    assert np.isnan(d.loc["P2", "art_hours"]) and d.loc["P2", "art_minutes_missing"] == 5


def test_fidelity_known(ds):
    f = fidelity(ds).set_index("criterion")
    assert f.loc["programme_days_per_week", "value"] == 4.0
    assert f.loc["programme_days_per_week", "status"] == "met"
    assert f.loc["mi_talks_per_week", "value"] == 1.0
    assert f.loc["mi_talks_per_week", "status"] == "not met"
    assert f.loc["team_size", "status"] == "met" and f.loc["team_size", "n"] == 5
    assert f.loc["mentors_per_team", "value"] == 2 and f.loc["mentors_per_team", "status"] == "met"
    assert f.loc["art_hours_delivered", "value"] == 32.0
    assert f.loc["art_hours_delivered", "n"] == 16
    assert f.loc["art_hours_delivered", "status"] == "met"
    assert set(f["status"]) <= {"met", "not met", "unknown"}


def test_fidelity_unknown_and_thresholds():
    tables = crafted_tables(mentors=False)
    tables["activities"] = tables["activities"].iloc[0:0]
    f = fidelity(Dataset.from_tables(tables)).set_index("criterion")
    assert f.loc["mentors_per_team", "status"] == "unknown"
    assert f.loc["art_hours_delivered", "status"] == "unknown"
    assert f.loc["mi_talks_per_week", "status"] == "unknown"
    f2 = fidelity(crafted_dataset(), min_mi_per_week=1, art_course_hours=40).set_index("criterion")
    assert f2.loc["mi_talks_per_week", "status"] == "met"
    assert f2.loc["art_hours_delivered", "status"] == "not met"


# -- purity -----------------------------------------------------------------------------------


def test_inputs_not_mutated():
    ds = crafted_dataset()
    before = _snapshot(ds)
    attendance_summary(ds, by=["team", "week"])
    daily_rhythm(ds, n_boot=0)
    activity_dose(ds, by="team")
    fidelity(ds)
    for name, df in ds.tables.items():
        pd.testing.assert_frame_equal(df, before[name])


def test_deterministic(ds):
    a = daily_rhythm(ds, n_boot=100, seed=3, mixed_model=False)
    b = daily_rhythm(ds, n_boot=100, seed=3, mixed_model=False)
    pd.testing.assert_frame_equal(a.paired, b.paired)
    assert a.group_trend.empty and list(a.group_trend.columns)[:3] == [
        "measure",
        "term",
        "estimate",
    ]


# -- synthetic sample: the built-in punctuality improvement is recovered ---------------------


@pytest.mark.slow
def test_synthetic_punctuality_recovered():
    from envejind_eval.synth import synthesize

    ds, truth = synthesize(seed=2018, scale="sample")
    r = daily_rhythm(ds, n_boot=0)
    true = truth.punctuality_trend.iloc[0]
    g = r.group_trend.set_index(["measure", "term"])
    on = g.loc[("on_time_share", "week")]
    arr = g.loc[("arrival_minutes", "week")]
    # sign and rough size (within 35 % of the generator's slope), interval excludes zero
    assert on["estimate"] > 0 and on["ci_low"] > 0
    assert on["estimate"] == pytest.approx(true["on_time_change_per_week"], rel=0.35)
    assert arr["estimate"] < 0 and arr["ci_high"] < 0
    assert arr["estimate"] == pytest.approx(true["arrival_minutes_per_week"], rel=0.35)
    # the paired first-four vs last-four comparison points the same way
    p = r.paired.set_index("measure")
    assert p.loc["on_time_share", "mean_diff"] > 0 and p.loc["on_time_share", "t_p_value"] < 0.05
    assert p.loc["arrival_minutes", "mean_diff"] < 0
    # truth: weekly mean arrival falls by 1 min/week -> about 13 weeks between the windows
    weeks_apart = truth.params.n_weeks - 4
    assert p.loc["arrival_minutes", "mean_diff"] == pytest.approx(-weeks_apart, rel=0.5)


def test_not_delivered_is_unknown_not_zero():
    tables = crafted_tables()
    ds = Dataset.from_tables({k: v for k, v in tables.items() if k != "activities"})
    d = activity_dose(ds)
    assert (d["art_sessions"] == 0).all() and d["art_hours"].isna().all()
    assert d["mi_per_week"].isna().all()
    empty = Dataset.from_tables({"participants": tables["participants"]})
    assert attendance_summary(empty, by="team").empty
    from envejind_eval.errors import InsufficientDataError

    with pytest.raises(InsufficientDataError):
        daily_rhythm(empty)


def test_single_week_participant_has_no_slope():
    tables = crafted_tables()
    a = tables["attendance"]
    # P2 keeps only week-1 registrations (later days become unregistered)
    tables["attendance"] = a.loc[~((a["participant_id"] == "P2") & (a["date"] >= "2024-01-08"))]
    act = tables["activities"]
    tables["activities"] = act.loc[
        ~((act["participant_id"] == "P2") & (act["date"] >= "2024-01-08"))
    ]
    r = daily_rhythm(Dataset.from_tables(tables), n_boot=0, mixed_model=False)
    t = r.participant_trends.set_index(["participant_id", "measure"])
    assert np.isnan(t.loc[("P2", "on_time_share"), "slope"])
    assert t.loc[("P2", "on_time_share"), "n_weeks"] == 1


def test_participant_without_scheduled_days_is_listed():
    tables = crafted_tables()
    p = tables["participants"]
    extra = p.iloc[[0]].assign(
        participant_id="P6",
        start_date=pd.Timestamp("2024-03-01"),
        planned_end_date=pd.Timestamp("2024-06-01"),
        exit_date=pd.NaT,
        status="ongoing",
    )
    tables["participants"] = pd.concat([p, extra], ignore_index=True)
    t = attendance_summary(Dataset.from_tables(tables)).set_index("participant_id")
    assert t.loc["P6", "n"] == 0 and np.isnan(t.loc["P6", "attendance_rate"])
    assert len(t) == 6


def test_group_trend_matches_lme4_on_the_sample():
    """lme4::lmer(y ~ week + (1 + week | participant_id)) on the sample's weekly values
    (tests/reference/make_reference_models.R); both fits are singular (correlation 1),
    where statsmodels' MixedLM used to be 3 % off in the standard errors."""
    import envejind_eval as ee

    ref = pd.read_csv(Path(__file__).parent / "reference" / "rhythm_lmer.csv")
    ds = ee.Dataset.from_canonical(ee.sample_path() / "canonical")
    g = daily_rhythm(ds, n_boot=0).group_trend.merge(ref, on=["measure", "term"])
    assert len(g) == 4 and g["converged"].all()
    np.testing.assert_allclose(g["estimate_x"], g["estimate_y"], rtol=1e-5)
    np.testing.assert_allclose(g["se_x"], g["se_y"], rtol=1e-5)
