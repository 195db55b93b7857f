"""pre_post, reliable_change and trajectories on a crafted dataset (answers by hand)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import envejind_eval as ee
from envejind_eval.analysis.paired import holm, paired_summary, wilson_interval
from envejind_eval.analysis.progression import RC_CRITERION, TRAJECTORY_PATTERNS
from envejind_eval.instruments import parse_instrument

TPS = ["baseline", "midway", "end", "followup"]


def _lab(s: str) -> dict[str, str]:
    return {"da": s, "en": s}


def toy_instrument(
    *, direction: str = "higher_is_better", cutoff: float | None = None, reliability=0.8
):
    data = {
        "id": "toy",
        "version": "1",
        "name": _lab("Toy"),
        "description": _lab("Toy instrument for tests"),
        "scale": {"min": 1, "max": 5, "missing_codes": [9]},
        "direction": direction,
        "raters": ["self", "mentor"],
        "reliability": reliability,
        "domains": [
            {"id": "a", "label": _lab("A"), "reliability": 0.7},
            {"id": "b", "label": _lab("B")},
        ],
        "items": [
            {"id": "a1", "domain": "a", "label": _lab("a1")},
            {"id": "a2", "domain": "a", "label": _lab("a2")},
            {"id": "b1", "domain": "b", "label": _lab("b1")},
        ],
    }
    if cutoff is not None:
        data["clinical_cutoff"] = cutoff
    return parse_instrument(data)


IDS = [f"P{i:02d}" for i in range(1, 11)]
MUNI = {p: ("A" if i < 6 else "B") for i, p in enumerate(IDS)}


def toy_values() -> pd.DataFrame:
    """Item values: self for everyone, mentor for municipality A only."""
    rng = np.random.default_rng(42)
    rows = []
    for p in IDS:
        base = rng.integers(1, 4, 3)
        change = rng.integers(-1, 3, 3)
        for k, tp in enumerate(TPS):
            frac = [0, 0.5, 1, 1][k]
            vals = np.clip(np.round(base + frac * change), 1, 5)
            raters = ["self", "mentor"] if MUNI[p] == "A" else ["self"]
            for r in raters:
                for item, v in zip(["a1", "a2", "b1"], vals, strict=True):
                    rows.append((p, tp, r, item, float(v)))
    m = pd.DataFrame(rows, columns=["participant_id", "timepoint", "rater", "item", "value"])
    # P06 dropped out: no end or follow-up forms
    m = m.loc[~((m["participant_id"] == "P06") & m["timepoint"].isin(["end", "followup"]))]
    # P10 handed in an empty end form (all items coded missing)
    m.loc[(m["participant_id"] == "P10") & (m["timepoint"] == "end"), "value"] = 9.0
    # P09 has no baseline form from self
    m = m.loc[~((m["participant_id"] == "P09") & (m["timepoint"] == "baseline"))]
    return m.reset_index(drop=True)


def toy_dataset(status: dict[str, str] | None = None, **inst_kwargs) -> ee.Dataset:
    inst = toy_instrument(**inst_kwargs)
    status = {"P06": "dropped_out", **(status or {})}
    m = toy_values().assign(instrument="toy", date=pd.NaT)
    part = pd.DataFrame(
        {
            "participant_id": IDS,
            "municipality": [MUNI[p] for p in IDS],
            "cohort_id": [f"{MUNI[p]}-1" for p in IDS],
            "start_date": pd.Timestamp("2024-01-01"),
            "status": [status.get(p, "completed") for p in IDS],
            "mentor_id": None,
            "sex": None,
            "birth_year": None,
            "referred_by": None,
            "planned_end_date": pd.NaT,
            "exit_date": pd.NaT,
            "exit_reason": None,
        }
    )
    return ee.Dataset.from_tables({"participants": part, "measurements": m}, instruments=[inst])


@pytest.fixture(scope="module")
def ds() -> ee.Dataset:
    return toy_dataset()


def domain_scores(m: pd.DataFrame) -> pd.DataFrame:
    """Hand scoring: mean of answered items per domain (9 = missing)."""
    m = m.assign(
        value=m["value"].where(m["value"] != 9), unit=m["item"].str[0]
    )  # a1, a2 -> a; b1 -> b
    return m.groupby(["participant_id", "rater", "timepoint", "unit"])["value"].mean().reset_index()


def hand_pairs(pre="baseline", post="end") -> pd.DataFrame:
    s = domain_scores(toy_values())
    w = s.pivot_table(
        index=["participant_id", "rater", "unit"], columns="timepoint", values="value"
    ).reset_index()
    w["municipality"] = w["participant_id"].map(MUNI)
    return w.rename(columns={pre: "pre", post: "post"})


# -- pre_post ----------------------------------------------------------------------------


def test_pre_post_contract(ds):
    res = ee.pre_post(ds, "toy", by="municipality", n_boot=200)
    front = ["instrument", "level", "unit", "municipality", "rater", "n", "n_excluded"]
    assert list(res.columns[:7]) == front
    required = [
        "mean_pre",
        "mean_post",
        "mean_diff",
        "sd_diff",
        "ci_low",
        "ci_high",
        "t_statistic",
        "t_df",
        "t_p_value",
        "wilcoxon_v",
        "wilcoxon_p_value",
        "wilcoxon_method",
        "cohens_dz",
        "dz_ci_low",
        "dz_ci_high",
        "rank_biserial",
        "rb_ci_low",
        "rb_ci_high",
        "boot_ci_low",
        "boot_ci_high",
        "p_holm",
        "share_improved",
        "share_unchanged",
        "share_worsened",
        "improved_ci_low",
        "improved_ci_high",
        "exclusion_reasons",
        "reliability",
        "reliability_source",
        "note",
    ]
    assert set(required) <= set(res.columns)
    assert res.columns[-1] == "note"
    # one row per municipality x rater x unit, mentor rater only where it was used
    assert len(res) == 2 * 2 * 2
    assert (res["instrument"] == "toy").all() and (res["level"] == "domain").all()
    assert res["unit"].tolist()[:2] == ["a", "b"]  # instrument order


def test_pre_post_matches_hand_computation(ds):
    res = ee.pre_post(ds, "toy", by="municipality", n_boot=0)
    hand = hand_pairs()
    ref = paired_summary(hand, by=["municipality", "rater", "unit"], n_boot=0)
    merged = res.merge(ref, on=["municipality", "rater", "unit"], suffixes=("", "_ref"))
    assert len(merged) == 6  # B has no mentor rows in the hand table
    for c in ["n", "mean_pre", "mean_post", "mean_diff", "t_p_value", "wilcoxon_p_value",
              "cohens_dz", "rank_biserial"]:  # fmt: skip
        np.testing.assert_allclose(merged[c], merged[f"{c}_ref"], rtol=0, atol=1e-12)


def test_every_participant_counted_with_reasons(ds):
    res = ee.pre_post(ds, "toy", by="municipality", n_boot=0).set_index(
        ["municipality", "rater", "unit"]
    )
    sizes = pd.Series(MUNI).value_counts()
    tot = res["n"] + res["n_excluded"]
    for (muni, _, _), v in tot.items():
        assert v == sizes[muni]
    a_self = res.loc[("A", "self", "a")]
    assert a_self["n_excluded"] == 1
    assert a_self["exclusion_reasons"] == "no end form (dropped out): 1"
    b_self = res.loc[("B", "self", "a")]
    assert b_self["exclusion_reasons"] == "no baseline form: 1; too few items answered at end: 1"
    b_mentor = res.loc[("B", "mentor", "a")]
    assert b_mentor["n"] == 0 and b_mentor["exclusion_reasons"].startswith("no baseline form and")
    assert "no complete pairs" in b_mentor["note"]


def test_reasons_name_the_status():
    res = ee.pre_post(toy_dataset(status={"P10": "ongoing"}), "toy", by="municipality", n_boot=0)
    row = res[(res["municipality"] == "B") & (res["rater"] == "self")].iloc[0]
    assert row["exclusion_reasons"] == (
        "no baseline form: 1; too few items answered at end (ongoing): 1"
    )


def test_rater_filter_and_errors(ds):
    only = ee.pre_post(ds, "toy", rater="mentor", n_boot=0)
    assert set(only["rater"]) == {"mentor"}
    with pytest.raises(ValueError, match="Expecting one of self, mentor"):
        ee.pre_post(ds, "toy", rater="staff")
    with pytest.raises(ValueError, match="Expecting one of"):
        ee.pre_post(ds, "toy", level="facet")
    with pytest.raises(ValueError, match="Expecting one of baseline"):
        ee.pre_post(ds, "toy", post="later")
    with pytest.raises(ValueError, match="different"):
        ee.pre_post(ds, "toy", pre="end", post="end")
    with pytest.raises(ValueError, match="Expecting by columns"):
        ee.pre_post(ds, "toy", by="shoe_size")
    with pytest.raises(ValueError, match="Expecting one of"):
        ee.pre_post(ds, "nope")


def test_holm_within_group(ds):
    res = ee.pre_post(ds, "toy", by="municipality", n_boot=0)
    for _, g in res.groupby(["municipality", "rater"]):
        np.testing.assert_allclose(g["p_holm"], holm(g["t_p_value"].to_numpy()), equal_nan=True)


def test_shares_follow_reliable_change(ds):
    res = ee.pre_post(ds, "toy", n_boot=0).set_index(["rater", "unit"])
    rc = ee.reliable_change(ds, "toy")
    for (rater, unit), row in res.iterrows():
        sub = rc[(rc["rater"] == rater) & (rc["unit"] == unit) & rc["rc_class"].notna()]
        assert len(sub) == row["n"]
        k = int((sub["rc_class"] == "improved").sum())
        assert row["share_improved"] == pytest.approx(k / len(sub))
        lo, hi = wilson_interval(k, len(sub))
        assert row["improved_ci_low"] == pytest.approx(float(lo))
        assert row["improved_ci_high"] == pytest.approx(float(hi))
        assert row["share_improved"] + row["share_unchanged"] + row["share_worsened"] == (
            pytest.approx(1.0)
        )


def test_lower_is_better_direction():
    ds_up = toy_dataset()
    ds_down = toy_dataset(direction="lower_is_better")
    up = ee.pre_post(ds_up, "toy", n_boot=0)
    down = ee.pre_post(ds_down, "toy", n_boot=0)
    np.testing.assert_array_equal(up["mean_diff"], down["mean_diff"])  # post - pre always
    np.testing.assert_array_equal(up["n_improved"], down["n_worsened"])
    np.testing.assert_allclose(up["share_improved"], down["share_worsened"])


def test_item_level_has_no_reliable_change(ds):
    res = ee.pre_post(ds, "toy", level="item", n_boot=0)
    assert set(res["unit"]) == {"a1", "a2", "b1"}
    assert res["share_improved"].isna().all()
    assert res.loc[res["n"] > 0, "note"].str.contains("single items").all()
    with pytest.raises(ValueError, match="Expecting one of domain, total"):
        ee.reliable_change(ds, "toy", level="item")


def test_bootstrap_seeded(ds):
    a = ee.pre_post(ds, "toy", n_boot=500, seed=3)
    b = ee.pre_post(ds, "toy", n_boot=500, seed=3)
    pd.testing.assert_frame_equal(a, b)


def test_inputs_not_mutated(ds):
    before = {n: getattr(ds, n).copy(deep=True) for n in ("participants", "measurements")}
    ee.pre_post(ds, "toy", by="municipality", n_boot=200)
    ee.reliable_change(ds, "toy", reliability="estimate")
    ee.trajectories(ds, "toy", by="municipality")
    for n, df in before.items():
        pd.testing.assert_frame_equal(getattr(ds, n), df)


# -- reliable change -----------------------------------------------------------------------


def test_reliable_change_by_hand(ds):
    rc = ee.reliable_change(ds, "toy", level="domain")
    hand = hand_pairs()
    for (rater, unit), g in hand.groupby(["rater", "unit"]):
        sd = g["pre"].std(ddof=1)
        r = 0.7 if unit == "a" else 0.8  # domain a has its own reliability
        src = "domain definition" if unit == "a" else "instrument definition"
        sub = rc[(rc["rater"] == rater) & (rc["unit"] == unit)].set_index("participant_id")
        assert (sub["reliability"] == r).all() and (sub["reliability_source"] == src).all()
        for _, row in g.dropna(subset=["pre", "post"]).iterrows():
            expect = (row["post"] - row["pre"]) / (np.sqrt(2) * sd * np.sqrt(1 - r))
            got = sub.loc[row["participant_id"]]
            assert got["rc_index"] == pytest.approx(expect, rel=1e-12)
            cls = (
                "improved"
                if expect > RC_CRITERION
                else "deteriorated"
                if expect < -RC_CRITERION
                else "unchanged"
            )
            assert got["rc_class"] == cls
    # every participant x rater x unit is listed, missing pairs with a note
    assert len(rc) == len(IDS) * 2 * 2
    miss = rc[rc["rc_class"].isna()]
    assert (miss["note"] != "").all()


def test_reliability_argument_and_estimate(ds):
    rc = ee.reliable_change(ds, "toy", reliability=0.9)
    assert (rc["reliability"] == 0.9).all() and (rc["reliability_source"] == "argument").all()
    est = ee.reliable_change(ds, "toy", reliability="estimate", level="total")
    pg = pytest.importorskip("pingouin")
    items = (
        toy_values()
        .query("timepoint == 'baseline' and rater == 'self'")
        .pivot_table(index="participant_id", columns="item", values="value")
    )
    alpha = pg.cronbach_alpha(items, nan_policy="listwise")[0]
    got = est.loc[est["rater"] == "self", "reliability"].iloc[0]
    assert got == pytest.approx(alpha, rel=1e-12)
    assert (est["reliability_source"] == "cronbach_alpha_baseline").all()
    with pytest.raises(ValueError, match="Expecting None"):
        ee.reliable_change(ds, "toy", reliability=1.5)


def test_clinical_significance():
    ds_c = toy_dataset(cutoff=3.0)
    rc = ee.reliable_change(ds_c, "toy", reliability=0.99)
    ok = rc["rc_class"].notna()
    rec = rc["clinical_class"] == "recovered"
    assert ((rc.loc[rec, "pre"] < 3) & (rc.loc[rec, "post"] >= 3)).all()
    assert (rc.loc[ok & ~rec, "clinical_class"] == rc.loc[ok & ~rec, "rc_class"]).all()
    assert rec.any()
    assert rc.loc[rec, "rc_class"].eq("improved").all()
    assert ee.reliable_change(toy_dataset(), "toy")["clinical_class"].isna().all()


# -- trajectories ------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")
def test_trajectory_means_and_t_intervals(ds):
    tr = ee.trajectories(ds, "toy", by="municipality")
    assert tr.tidy() is tr.means
    s = domain_scores(toy_values())
    s["municipality"] = s["participant_id"].map(MUNI)
    for (muni, rater, unit, tp), g in s.groupby(["municipality", "rater", "unit", "timepoint"]):
        x = g["value"].dropna().to_numpy()
        mm = tr.means
        sel = (mm["municipality"] == muni) & (mm["rater"] == rater) & (mm["unit"] == unit)
        row = mm.loc[sel & (mm["timepoint"] == tp)].iloc[0]
        assert row["n"] == len(x)
        assert row["mean"] == pytest.approx(x.mean())
        if len(x) >= 2:
            ci = stats.ttest_1samp(x, 0).confidence_interval(0.95)
            assert row["ci_low"] == pytest.approx(ci.low) and row["ci_high"] == pytest.approx(
                ci.high
            )
    order = tr.means.loc[
        (tr.means["municipality"] == "A")
        & (tr.means["rater"] == "self")
        & (tr.means["unit"] == "a"),
        "timepoint",
    ]
    assert order.tolist() == TPS


def test_trajectory_patterns(ds):
    tr = ee.trajectories(ds, "toy", rater="self")
    p = tr.participants
    assert set(p["pattern"].dropna()) <= set(TRAJECTORY_PATTERNS)
    assert (p.loc[p["participant_id"] == "P06", "pattern"] == "incomplete").all()
    both = p["rc_end"].notna() & p["rc_followup"].notna()
    maint = p["pattern"] == "improved_and_maintained"
    assert (p.loc[maint, "rc_end"] > RC_CRITERION).all()
    assert (p.loc[maint, "rc_followup"] > RC_CRITERION).all()
    summ = tr.summary.set_index("unit")
    for unit, g in p.groupby("unit"):
        row = summ.loc[unit]
        assert row["n_with_followup"] == both[g.index].sum()
        assert row["n_improved_and_maintained"] == maint[g.index].sum()
        assert sum(row[f"n_{c}"] for c in TRAJECTORY_PATTERNS) == len(g)


# -- the bundled sample --------------------------------------------------------------------


@pytest.mark.parametrize("instrument", ["ungestjernen", "lfl", "art_skills"])
def test_sample_runs(sample_ds, instrument):
    res = ee.pre_post(sample_ds, instrument, level="total", by="municipality", n_boot=200)
    n_part = sample_ds.participants.groupby("municipality").size()
    for _, row in res.iterrows():
        assert row["n"] + row["n_excluded"] == n_part[row["municipality"]]
    assert res["t_p_value"].between(0, 1).all()
    assert (res["ci_low"] <= res["mean_diff"]).all()


def test_by_with_missing_keys_and_several_columns(ds):
    res = ee.pre_post(ds, "toy", by=["mentor_id"], n_boot=0)  # mentor_id all missing
    assert len(res) == 4 and res["mentor_id"].isna().all()
    assert (res["n"] + res["n_excluded"] == len(IDS)).all()
    assert res["p_holm"].notna().all()
    two = ee.pre_post(ds, "toy", by=["municipality", "cohort_id"], n_boot=0)
    assert list(two.columns[3:6]) == ["municipality", "cohort_id", "rater"]
    assert len(two) == 8


def test_tiny_team(tiny_ds):
    """One team of five with one dropout: small-sample output, nobody lost."""
    res = ee.pre_post(tiny_ds, "ungestjernen", level="total", n_boot=200)
    row = res.iloc[0]
    assert row["n"] + row["n_excluded"] == len(tiny_ds.participants) == 5
    assert row["wilcoxon_method"] in ("exact", "normal_cc")
    tr = ee.trajectories(tiny_ds, "ungestjernen", level="total")
    assert tr.summary[[f"n_{c}" for c in TRAJECTORY_PATTERNS]].sum(axis=1).iloc[0] == 5
