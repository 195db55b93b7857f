"""Retention: Kaplan–Meier, log-rank and dropout weeks against R survival and by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _attendance_data import crafted_dataset, crafted_tables
from envejind_eval.analysis import retention
from envejind_eval.analysis.survival import kaplan_meier, survival_times
from envejind_eval.dataset import Dataset

REF = Path(__file__).parent / "reference"
TOL = 1e-6


@pytest.fixture(scope="module")
def ref_input() -> pd.DataFrame:
    return pd.read_csv(REF / "retention_input.csv")


def _dataset_from_reference(d: pd.DataFrame, *, team: bool) -> Dataset:
    start = pd.Timestamp("2024-01-01")
    groups = d["group"].astype(str)
    p = pd.DataFrame(
        {
            "participant_id": [f"R{i:03d}" for i in range(len(d))],
            "municipality": "M" if team else groups,
            "cohort_id": groups,
            "start_date": start,
            "planned_end_date": start + pd.Timedelta(days=200),
            "status": np.where(d["event"] == 1, "dropped_out", "completed"),
            "exit_date": start + pd.to_timedelta(d["time"].to_numpy(), unit="D"),
            "mentor_id": None,
            "sex": None,
            "birth_year": None,
            "referred_by": None,
            "exit_reason": None,
        }
    )
    return Dataset.from_tables({"participants": p})


@pytest.mark.parametrize("dataset", ["municipal", "weeks", "small"])
@pytest.mark.parametrize("conf_type", ["log", "log-log", "plain"])
@pytest.mark.parametrize("conf_level", [0.95, 0.90])
def test_kaplan_meier_matches_r(ref_input, dataset, conf_type, conf_level):
    ref = pd.read_csv(REF / "retention_km.csv")
    ref = ref.loc[
        (ref["dataset"] == dataset)
        & (ref["conf_type"] == conf_type)
        & np.isclose(ref["conf_level"], conf_level)
    ]
    sub = ref_input.loc[ref_input["dataset"] == dataset]
    for g, r in ref.groupby("group"):
        s = sub.loc[sub["group"] == g]
        km = kaplan_meier(
            s["time"].to_numpy(), s["event"].to_numpy(), conf_type=conf_type,
            confidence=conf_level,
        )  # fmt: skip
        assert len(km) == len(r), g
        np.testing.assert_allclose(km["time"], r["time"], atol=TOL)
        np.testing.assert_array_equal(km["n_risk"], r["n_risk"])
        np.testing.assert_array_equal(km["n_event"], r["n_event"])
        for ours, theirs in (("survival", "surv"), ("se", "std_err"), ("ci_low", "lower"),
                             ("ci_high", "upper")):  # fmt: skip
            np.testing.assert_allclose(
                km[ours].to_numpy(dtype=float), r[theirs].to_numpy(dtype=float), atol=TOL,
                equal_nan=True, err_msg=f"{g} {ours}",
            )  # fmt: skip


@pytest.mark.parametrize("dataset", ["municipal", "weeks", "small"])
def test_logrank_matches_r(ref_input, dataset):
    from statsmodels.duration.survfunc import survdiff

    from envejind_eval.analysis.survival import _observed_expected

    ref = pd.read_csv(REF / "retention_logrank.csv").set_index("dataset").loc[dataset]
    sub = ref_input.loc[ref_input["dataset"] == dataset]
    chisq, p = survdiff(sub["time"].to_numpy(), sub["event"].to_numpy(), sub["group"].to_numpy())
    assert chisq == pytest.approx(ref["chisq"], abs=TOL)
    assert p == pytest.approx(ref["p"], abs=TOL)
    groups = pd.read_csv(REF / "retention_logrank_groups.csv")
    groups = groups.loc[groups["dataset"] == dataset].set_index("group")
    oe = _observed_expected(
        sub["time"].to_numpy(dtype=float), sub["event"].to_numpy(dtype=float),
        sub["group"].to_numpy(dtype=object),
    ).set_index("group")  # fmt: skip
    np.testing.assert_allclose(oe.loc[groups.index, "observed"], groups["observed"], atol=TOL)
    np.testing.assert_allclose(oe.loc[groups.index, "expected"], groups["expected"], atol=TOL)


@pytest.mark.parametrize(("dataset", "by"), [("municipal", "municipality"), ("small", "team")])
def test_retention_pipeline_matches_r(ref_input, dataset, by):
    sub = ref_input.loc[ref_input["dataset"] == dataset].reset_index(drop=True)
    ds = _dataset_from_reference(sub, team=by == "team")
    r = retention(ds, by=by)
    key = "municipality" if by == "municipality" else "cohort_id"
    ref = pd.read_csv(REF / "retention_km.csv")
    ref = ref.loc[(ref["dataset"] == dataset) & (ref["conf_type"] == "log")
                  & np.isclose(ref["conf_level"], 0.95)]  # fmt: skip
    for g, rg in ref.groupby("group"):
        ours = r.survival.loc[r.survival[key] == g]
        np.testing.assert_allclose(ours["survival"], rg["surv"], atol=TOL)
        np.testing.assert_allclose(ours["ci_low"], rg["lower"], atol=TOL, equal_nan=True)
        np.testing.assert_allclose(ours["ci_high"], rg["upper"], atol=TOL, equal_nan=True)
        assert (ours["n"] == (sub["group"] == g).sum()).all()
    lr = pd.read_csv(REF / "retention_logrank.csv").set_index("dataset").loc[dataset]
    assert r.logrank.loc[0, "statistic"] == pytest.approx(lr["chisq"], abs=TOL)
    assert r.logrank.loc[0, "p_value"] == pytest.approx(lr["p"], abs=TOL)
    assert r.logrank.loc[0, "df"] == lr["df"]
    grp = pd.read_csv(REF / "retention_logrank_groups.csv")
    grp = grp.loc[grp["dataset"] == dataset].set_index("group")
    ours = r.groups.set_index(key)
    np.testing.assert_allclose(ours.loc[grp.index, "expected"], grp["expected"], atol=TOL)
    np.testing.assert_array_equal(ours.loc[grp.index, "n"], grp["n"])


def test_crafted_dropout_in_week_three():
    ds = crafted_dataset()
    r = retention(ds, by="team")
    km = r.survival
    assert km["time"].tolist() == [16.0]  # P2 leaves on day 16
    assert km.loc[0, "survival"] == pytest.approx(0.8)
    assert km.loc[0, "n_risk"] == 5 and km.loc[0, "n"] == 5
    # Greenwood: se = 0.8 * sqrt(1 / (5 * 4))
    assert km.loc[0, "se"] == pytest.approx(0.8 * np.sqrt(1 / 20))
    w = r.dropout_weeks.set_index("course_week")
    assert w.loc[3, "n_dropout"] == 1 and w.loc[3, "n_at_risk"] == 5
    assert w.loc[4, "n_at_risk"] == 4
    assert w.loc[8, "n_censored"] == 4
    assert w["n_dropout"].sum() == 1 and w.loc[8, "cumulative_dropouts"] == 1
    assert w.loc[3, "dropout_rate"] == pytest.approx(0.2)
    g = r.groups.iloc[0]
    assert (g["n"], g["n_events"], g["n_censored"], g["n_excluded"]) == (5, 1, 4, 0)
    assert np.isnan(r.logrank.loc[0, "p_value"])  # one group: no test
    rw = retention(ds, by="none", unit="weeks")
    assert rw.survival["time"].tolist() == [pytest.approx(16 / 7)]
    assert rw.tidy() is rw.survival


def test_censoring_rules():
    tables = crafted_tables()
    p = tables["participants"]
    # P4 ongoing without exit date: censored at the last registration (2024-02-22, day 52)
    p.loc[p["participant_id"] == "P4", ["status", "exit_date"]] = ["ongoing", pd.NaT]
    # P5 excluded: an event by default, censored on request
    p.loc[p["participant_id"] == "P5", "status"] = "excluded"
    p.loc[p["participant_id"] == "P5", "exit_date"] = pd.Timestamp("2024-02-01")
    tables["attendance"] = tables["attendance"].loc[
        ~((tables["attendance"]["participant_id"] == "P5")
          & (tables["attendance"]["date"] > pd.Timestamp("2024-02-01")))
    ]  # fmt: skip
    tables["activities"] = tables["activities"].loc[
        ~((tables["activities"]["participant_id"] == "P5")
          & (tables["activities"]["date"] > pd.Timestamp("2024-02-01")))
    ]  # fmt: skip
    ds = Dataset.from_tables(tables)
    t = survival_times(ds).set_index("participant_id")
    assert t.loc["P4", "time"] == 52 and t.loc["P4", "event"] == 0
    assert t.loc["P5", "time"] == 31 and t.loc["P5", "event"] == 1
    t2 = survival_times(ds, excluded="censored").set_index("participant_id")
    assert t2.loc["P5", "event"] == 0
    assert retention(ds, by="none").groups.loc[0, "n_events"] == 2


def test_unplaceable_event_is_counted():
    tables = crafted_tables()
    p = tables["participants"]
    # a dropout without an exit date cannot be placed in time
    p.loc[p["participant_id"] == "P2", "exit_date"] = pd.NaT
    p.loc[p["participant_id"] == "P2", "planned_end_date"] = pd.Timestamp("2024-02-22")
    r = retention(Dataset.from_tables(tables))
    assert r.groups.loc[0, "n_excluded"] == 1 and r.groups.loc[0, "n"] == 4


def test_public_name_is_the_function():
    import envejind_eval as ee
    import envejind_eval.analysis as an
    import envejind_eval.analysis.survival as surv

    assert an.retention is surv.retention and callable(ee.retention)
    assert ee.retention.__name__ == "retention"


def test_options_and_purity():
    ds = crafted_dataset()
    before = {n: df.copy(deep=True) for n, df in ds.tables.items()}
    retention(ds, by="team", unit="weeks", conf_type="log-log", confidence=0.9)
    for n, df in ds.tables.items():
        pd.testing.assert_frame_equal(df, before[n])
    with pytest.raises(ValueError, match="Expecting one of"):
        retention(ds, by="cohort")
    with pytest.raises(ValueError, match="Expecting one of"):
        retention(ds, conf_type="logit")
    with pytest.raises(ValueError, match="Expecting one of"):
        retention(ds, unit="months")


@pytest.mark.slow
def test_synthetic_retention_near_truth():
    from envejind_eval.synth import synthesize

    ds, truth = synthesize(seed=2018, scale="sample")
    r = retention(ds, by="none", unit="weeks")
    weeks = int(truth.dropout_hazard["week"].max())
    true_end = float(truth.dropout_hazard["survival"].iloc[-1])
    km = r.survival.loc[r.survival["time"] <= weeks]
    est = float(km["survival"].iloc[-1])
    assert est == pytest.approx(true_end, abs=0.15)
    assert r.groups.loc[0, "n"] == len(ds.participants)
    assert r.dropout_weeks["n_dropout"].sum() == r.groups.loc[0, "n_events"]
