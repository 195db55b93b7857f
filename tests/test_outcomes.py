"""Status outcomes (McNemar, shares) against R, and dose-response on crafted data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _attendance_data import crafted_dataset, crafted_tables
from envejind_eval.analysis import dose_response, status_outcomes
from envejind_eval.analysis.outcomes import CAVEAT, mcnemar
from envejind_eval.dataset import Dataset

REF = Path(__file__).parent / "reference"
TOL = 1e-6


@pytest.mark.parametrize("row", pd.read_csv(REF / "outcomes_input.csv").to_dict("records"))
def test_mcnemar_matches_r(row):
    ref = pd.read_csv(REF / "outcomes_mcnemar.csv").set_index("scenario").loc[row["scenario"]]
    stat, p, label = mcnemar(row["n01"], row["n10"], method="exact")
    assert p == pytest.approx(ref["p_exact"], abs=TOL)
    assert stat == row["n01"] and "exact" in label
    chi, pa, label = mcnemar(row["n01"], row["n10"], method="asymptotic")
    if np.isnan(ref["chisq"]):
        assert np.isnan(chi) and np.isnan(pa)
    else:
        assert chi == pytest.approx(ref["chisq"], abs=TOL)
        assert pa == pytest.approx(ref["p_asymptotic"], abs=TOL)
    _, pauto, label = mcnemar(row["n01"], row["n10"], method="auto")
    nd = row["n01"] + row["n10"]
    assert pauto == pytest.approx(ref["p_exact"] if nd < 25 else ref["p_asymptotic"], abs=TOL)


def _outcome_dataset(counts: dict[str, int], indicator: str = "police_charge") -> Dataset:
    """Participants with paired baseline/end answers from 2x2 counts n00, n01, n10, n11."""
    rows, parts = [], []
    i = 0
    for cell, k in counts.items():
        a, b = int(cell[1]), int(cell[2])
        for _ in range(k):
            pid = f"Q{i:03d}"
            i += 1
            parts.append(pid)
            rows += [(pid, "baseline", indicator, a), (pid, "end", indicator, b)]
    start = pd.Timestamp("2024-01-01")
    p = pd.DataFrame(
        {
            "participant_id": parts,
            "municipality": "A",
            "cohort_id": "T1",
            "mentor_id": None,
            "sex": None,
            "birth_year": None,
            "referred_by": None,
            "start_date": start,
            "planned_end_date": start + pd.Timedelta(days=120),
            "status": "completed",
            "exit_date": start + pd.Timedelta(days=120),
            "exit_reason": None,
        }
    )
    o = pd.DataFrame(rows, columns=["participant_id", "timepoint", "indicator", "value"])
    return Dataset.from_tables({"participants": p, "outcomes": o})


def test_status_outcomes_pipeline_matches_r():
    inp = pd.read_csv(REF / "outcomes_input.csv").set_index("scenario")
    ref = pd.read_csv(REF / "outcomes_mcnemar.csv").set_index("scenario")
    for scen in ("small_mixed", "large"):
        c = inp.loc[scen]
        ds = _outcome_dataset({"n00": c["n00"], "n01": c["n01"], "n10": c["n10"], "n11": c["n11"]})
        for method, col in (("exact", "p_exact"), ("asymptotic", "p_asymptotic")):
            m = status_outcomes(ds, method=method).mcnemar.set_index("indicator")
            row = m.loc["police_charge"]
            assert row["p_value"] == pytest.approx(ref.loc[scen, col], abs=TOL)
            assert (row["n_01"], row["n_10"]) == (c["n01"], c["n10"])
            assert row["n"] == c.sum()


def test_binomial_intervals_match_r():
    from envejind_eval.analysis.outcomes import _exact_ci_vec

    ref = pd.read_csv(REF / "outcomes_binom_ci.csv")
    lo, hi = _exact_ci_vec(ref["k"].to_numpy(), ref["n"].to_numpy(), 0.95)
    m = np.isclose(ref["conf_level"], 0.95)
    np.testing.assert_allclose(lo[m], ref.loc[m, "lower"], atol=TOL)
    np.testing.assert_allclose(hi[m], ref.loc[m, "upper"], atol=TOL)
    lo, hi = _exact_ci_vec(ref["k"].to_numpy(), ref["n"].to_numpy(), 0.90)
    np.testing.assert_allclose(lo[~m], ref.loc[~m, "lower"], atol=TOL)
    np.testing.assert_allclose(hi[~m], ref.loc[~m, "upper"], atol=TOL)
    assert np.isnan(_exact_ci_vec(np.array([0]), np.array([0]), 0.95)[0][0])
    # and through the pipeline: 17 of 30 at 90 %
    r = ref.loc[(ref["k"] == 17) & np.isclose(ref["conf_level"], 0.9)].iloc[0]
    ds = _outcome_dataset({"n00": 13, "n01": 0, "n10": 0, "n11": 17})
    s = status_outcomes(ds, confidence=0.9).shares
    s = s.set_index(["indicator", "timepoint"]).loc[("police_charge", "baseline")]
    assert (s["n"], s["n_yes"]) == (30, 17)
    assert s["ci_low"] == pytest.approx(r["lower"], abs=TOL)
    assert s["ci_high"] == pytest.approx(r["upper"], abs=TOL)


def test_crafted_status_outcomes():
    so = status_outcomes(crafted_dataset())
    m = so.mcnemar.set_index("indicator").loc["in_education"]
    # baseline 0,0,0,1,0 -> end 1,1,1,1,0: three move 0 -> 1, none 1 -> 0
    assert (m["n"], m["n_01"], m["n_10"], m["n_excluded"]) == (5, 3, 0, 0)
    assert m["p_value"] == pytest.approx(0.25)
    assert m["share_pre"] == pytest.approx(0.2) and m["share_post"] == pytest.approx(0.8)
    assert m["difference"] == pytest.approx(0.6)
    s = so.shares.set_index(["indicator", "timepoint"])
    assert s.loc[("in_education", "end"), "share"] == pytest.approx(0.8)
    assert s.loc[("in_education", "followup"), "n"] == 0
    assert s.loc[("in_education", "followup"), "n_missing"] == 5
    assert np.isnan(s.loc[("in_education", "followup"), "share"])
    t = so.transitions.set_index(["indicator", "pre_value", "post_value"])["n"]
    assert t.loc[("in_education", 0, 1)] == 3 and t.loc[("in_education", 1, 1)] == 1
    assert t.loc[("in_education", 0, 0)] == 1 and t.loc[("in_education", 1, 0)] == 0
    # indicators without answers: zero pairs, NaN test
    e = so.mcnemar.set_index("indicator").loc["in_employment"]
    assert e["n"] == 0 and np.isnan(e["p_value"])
    assert so.tidy() is so.mcnemar


def test_status_outcomes_missing_and_by():
    tables = crafted_tables()
    o = tables["outcomes"]
    o.loc[(o["participant_id"] == "P2") & (o["timepoint"] == "end"), "value"] = np.nan
    so = status_outcomes(Dataset.from_tables(tables), by="municipality")
    m = so.mcnemar.set_index(["municipality", "indicator"]).loc[("A", "in_education")]
    assert m["n"] == 4 and m["n_excluded"] == 1 and m["n_01"] == 2
    with pytest.raises(ValueError, match="Expecting one of"):
        status_outcomes(Dataset.from_tables(tables), post="week4")
    with pytest.raises(ValueError, match="different"):
        status_outcomes(Dataset.from_tables(tables), pre="end", post="end")
    with pytest.raises(ValueError, match="Expecting one of"):
        status_outcomes(Dataset.from_tables(tables), method="fisher")


# -- dose-response ----------------------------------------------------------------------------

ATT = {"P1": 1.0, "P2": 10 / 11, "P3": 1.0, "P4": 0.75, "P5": 30 / 32}
ART_H = {"P1": 32.0, "P2": 10.0, "P3": 32.0, "P4": 16.0, "P5": 32.0}
BASE = {"P1": 3.0, "P2": 4.0, "P3": 5.0, "P4": 6.0, "P5": 2.0}


def test_dose_response_recovers_crafted_slope():
    # end = 1 + baseline + 2 * attendance_rate exactly
    scores = {p: (BASE[p], 1 + BASE[p] + 2 * ATT[p]) for p in ATT}
    ds = crafted_dataset(baseline_end=scores)
    dr = dose_response(ds).set_index("exposure")
    a = dr.loc["attendance_rate"]
    assert a["estimate"] == pytest.approx(2.0, abs=1e-8)
    assert a["n"] == 5 and a["n_excluded"] == 0
    assert a["caveat"] == CAVEAT == "association, not causal"
    assert dr.attrs["caveat"] == CAVEAT
    assert dr.loc["art_hours", "n"] == 5
    assert (dr["method"] == "OLS end ~ baseline + exposure").all()


def test_dose_response_matches_ols_by_hand():
    import statsmodels.api as sm

    scores = {
        p: (BASE[p], BASE[p] + v) for p, v in zip(ATT, [1.0, 0.5, 2.0, -1.0, 0.0], strict=True)
    }
    ds = crafted_dataset(baseline_end=scores)
    before = {n: df.copy(deep=True) for n, df in ds.tables.items()}
    dr = dose_response(ds, confidence=0.9).set_index("exposure")
    status_outcomes(ds, by="municipality", method="auto")
    for n, df in ds.tables.items():
        pd.testing.assert_frame_equal(df, before[n])
    ids = list(ATT)
    X = sm.add_constant(np.column_stack([[BASE[p] for p in ids], [ART_H[p] for p in ids]]))
    y = np.array([scores[p][1] for p in ids])
    fit = sm.OLS(y, X).fit()
    r = dr.loc["art_hours"]
    assert r["estimate"] == pytest.approx(fit.params[2])
    assert r["se"] == pytest.approx(fit.bse[2])
    assert r["ci_low"] == pytest.approx(fit.conf_int(0.1)[2, 0])
    assert r["p_value"] == pytest.approx(fit.pvalues[2])


def test_dose_response_options():
    scores = {p: (BASE[p], BASE[p] + 1) for p in ["P1", "P3", "P4", "P5"]}
    ds = crafted_dataset(baseline_end=scores)
    dr = dose_response(ds, exposures=("attendance_rate",))
    assert dr["exposure"].tolist() == ["attendance_rate"]
    assert dr.loc[0, "n"] == 4 and dr.loc[0, "n_excluded"] == 1
    with pytest.raises(ValueError, match="Expecting one of"):
        dose_response(ds, exposures=("mi_talks",))
    with pytest.raises(ValueError, match="Expecting one of"):
        dose_response(ds, rater="mentor")
    with pytest.raises(ValueError, match="Expecting one of"):
        dose_response(ds, unit="nonsense")
