"""compare_municipalities / pool_effects, checked against metafor::rma and metafor::escalc.

References: tests/reference/meta_rma.csv and meta_effects.csv, written by
tests/reference/make_reference_models.R from meta_input.csv and models_input.csv.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _models_data import REF, dataset_from_scores, models_dataset, sample_dataset
from envejind_eval.analysis import compare_municipalities
from envejind_eval.analysis.meta import COLUMNS, pool_effects

RMA = pd.read_csv(REF / "meta_rma.csv")
EFFECTS = pd.read_csv(REF / "meta_effects.csv", keep_default_na=False)
INPUTS = pd.concat(
    [pd.read_csv(REF / "meta_input.csv")[["case", "yi", "vi"]], EFFECTS[["case", "yi", "vi"]]]
)
# metafor name -> our name
FIELDS = {
    "estimate": "estimate",
    "se": "std_error",
    "ci_lb": "ci_low",
    "ci_ub": "ci_high",
    "zval": "z_statistic",
    "pval": "p_value",
    "tau2": "tau2",
    "i2": "i2",
    "h2": "h2",
    "q": "q",
    "q_df": "q_df",
    "q_p": "q_p_value",
    "k": "k",
}


@pytest.fixture(scope="module")
def ds():
    return models_dataset()


@pytest.mark.parametrize(("case", "method"), list(RMA[["case", "method"]].itertuples(index=False)))
def test_pool_effects_matches_rma(case, method):
    ref = RMA.loc[(RMA["case"] == case) & (RMA["method"] == method)].iloc[0]
    x = INPUTS.loc[INPUTS["case"] == case]
    res = pool_effects(x["yi"].to_numpy(), x["vi"].to_numpy(), method=method)
    for theirs, ours in FIELDS.items():
        assert res[ours] == pytest.approx(ref[theirs], rel=1e-6, abs=1e-9), theirs


def test_dl_agrees_with_statsmodels_when_tau2_positive():
    from statsmodels.stats.meta_analysis import combine_effects

    x = INPUTS.loc[INPUTS["case"] == "hetero_k6"]
    sm = combine_effects(x["yi"].to_numpy(), x["vi"].to_numpy(), method_re="dl")
    res = pool_effects(x["yi"].to_numpy(), x["vi"].to_numpy(), method="dl")
    assert res["estimate"] == pytest.approx(sm.mean_effect_re, rel=1e-12)
    assert res["std_error"] == pytest.approx(sm.sd_eff_w_re, rel=1e-12)
    assert res["tau2"] == pytest.approx(sm.tau2, rel=1e-12)
    assert res["i2"] == pytest.approx(100 * sm.i2, rel=1e-12)


@pytest.mark.parametrize("effect", ["mean_diff", "dz", "gz"])
@pytest.mark.parametrize("method", ["dl", "reml"])
def test_compare_municipalities_end_to_end(ds, effect, method):
    out = compare_municipalities(ds, "ungestjernen", effect=effect, method=method)
    assert out.columns.tolist() == COLUMNS
    assert out["row_type"].tolist() == ["municipality"] * 3 + ["pooled"]
    m = out.loc[out["row_type"] == "municipality"]
    e = EFFECTS.loc[EFFECTS["case"] == f"input_{effect}"]
    assert m["municipality"].tolist() == e["municipality"].tolist()
    assert m["n"].tolist() == e["n"].tolist()
    np.testing.assert_allclose(m["estimate"], e["yi"], rtol=1e-10)
    np.testing.assert_allclose(m["variance"], e["vi"], rtol=1e-10)
    np.testing.assert_allclose(m["weight"].sum(), 100)
    pooled = out.iloc[-1]
    ref = RMA.loc[(RMA["case"] == f"input_{effect}") & (RMA["method"] == method)].iloc[0]
    for theirs, ours in FIELDS.items():
        assert pooled[ours] == pytest.approx(ref[theirs], rel=1e-6, abs=1e-9), theirs
    assert pooled["n"] == m["n"].sum()
    assert pd.isna(pooled["municipality"])
    assert (out["method"] == method).all() and (out["effect"] == effect).all()


def test_n_excluded_counts_unpaired(ds):
    out = compare_municipalities(ds, "ungestjernen")
    # participants with baseline but no end score (dropouts and missing end forms)
    long = pd.read_csv(REF / "models_input.csv")
    w = long.pivot(index="participant_id", columns="timepoint", values="score")
    muni = long.drop_duplicates("participant_id").set_index("participant_id")["municipality"]
    one = w["baseline"].notna() ^ w["end"].notna()
    expected = one.groupby(muni).sum()
    m = out.loc[out["row_type"] == "municipality"].set_index("municipality")
    assert m["n_excluded"].to_dict() == expected.to_dict()


def test_small_and_degenerate_municipalities():
    rows = []
    for muni, pairs in {
        "A": [(1, 2), (2, 4), (3, 3)],
        "B": [(2, 3)],
        "C": [(1, 2), (2, 3)],
    }.items():
        for i, (a, b) in enumerate(pairs):
            pid = f"{muni}{i}"
            rows += [
                {
                    "participant_id": pid,
                    "cohort_id": muni,
                    "municipality": muni,
                    "timepoint": "baseline",
                    "score": a,
                },
                {
                    "participant_id": pid,
                    "cohort_id": muni,
                    "municipality": muni,
                    "timepoint": "end",
                    "score": b,
                },
            ]
    ds = dataset_from_scores(pd.DataFrame(rows))
    out = compare_municipalities(ds, "ungestjernen", effect="dz").set_index(
        "municipality", drop=False
    )
    assert out.loc["B", "reason"] == "fewer than 2 complete pairs"
    assert out.loc["C", "reason"] == "zero variance of the differences"
    assert np.isnan(out.loc["C", "estimate"])
    pooled = out.iloc[-1]
    assert pooled["k"] == 1
    assert pooled["reason"] == "fewer than 2 municipalities with an effect"
    assert np.isnan(pooled["estimate"])
    # mean_diff: zero-variance municipality keeps its estimate but is not pooled
    md = compare_municipalities(ds, "ungestjernen").set_index("municipality", drop=False)
    assert md.loc["C", "estimate"] == 1.0
    assert md.loc["C", "variance"] == 0.0


def test_domain_level_all_units(ds):
    out = compare_municipalities(ds, "ungestjernen", level="domain")
    inst = ds.instruments["ungestjernen"]
    assert out["unit"].unique().tolist() == inst.domain_ids
    assert len(out) == 4 * len(inst.domain_ids)
    one = compare_municipalities(ds, "ungestjernen", level="domain", unit="wellbeing")
    assert len(one) == 4


def test_options_validated_and_inputs_untouched(ds):
    before = {n: t.copy() for n, t in ds.tables.items()}
    for kw in (
        {"effect": "hedges"},
        {"method": "pm"},
        {"level": "scale"},
        {"unit": "wellbeing"},  # a domain, but level is total
        {"pre": "start"},
    ):
        with pytest.raises(ValueError, match="Expecting one of"):
            compare_municipalities(ds, "ungestjernen", **kw)
    with pytest.raises(ValueError, match="different"):
        compare_municipalities(ds, "ungestjernen", post="baseline")
    with pytest.raises(ValueError, match="at least 2"):
        pool_effects(np.array([1.0]), np.array([0.1]))
    compare_municipalities(ds, "ungestjernen")
    for n, t in ds.tables.items():
        pd.testing.assert_frame_equal(t, before[n])


def test_every_rater_by_default_on_the_sample():
    sample = sample_dataset()
    out = compare_municipalities(sample, "lfl", level="total")
    k = len(sample.municipalities)
    assert out["rater"].tolist() == ["self"] * (k + 1) + ["mentor"] * (k + 1)
    pooled = out.loc[out["row_type"] == "pooled"]
    assert (pooled["n"] + pooled["n_excluded"] == len(sample.participants)).all()
    one = compare_municipalities(sample, "lfl", rater="mentor")
    assert (one["rater"] == "mentor").all()


def test_municipality_effects_agree_with_paired_summary(ds):
    from envejind_eval.analysis.paired import paired_summary

    long = pd.read_csv(REF / "models_input.csv", keep_default_na=False)
    w = long.pivot_table(
        index=["participant_id", "municipality"], columns="timepoint", values="score"
    ).reset_index()
    ps = paired_summary(
        w.rename(columns={"baseline": "pre", "end": "post"}), by=["municipality"], n_boot=0
    )
    md = compare_municipalities(ds, "ungestjernen").query("row_type == 'municipality'")
    dz = compare_municipalities(ds, "ungestjernen", effect="dz").query("row_type == 'municipality'")
    np.testing.assert_allclose(md["estimate"], ps["mean_diff"], rtol=1e-12)
    np.testing.assert_allclose(dz["estimate"], ps["cohens_dz"], rtol=1e-12)
    assert md["n"].tolist() == ps["n"].tolist()


effects = st.lists(
    st.tuples(st.floats(-3, 3, allow_nan=False), st.floats(0.01, 2, allow_nan=False)),
    min_size=2,
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(effects, st.sampled_from(["dl", "reml"]), st.randoms(use_true_random=False))
def test_pool_effects_invariants(pairs, method, rnd):
    yi = np.array([p[0] for p in pairs])
    vi = np.array([p[1] for p in pairs])
    res = pool_effects(yi, vi, method=method)
    assert res["tau2"] >= 0
    assert 0 <= res["i2"] < 100
    assert res["h2"] >= 1
    assert yi.min() - 1e-9 <= res["estimate"] <= yi.max() + 1e-9
    assert res["ci_low"] <= res["estimate"] <= res["ci_high"]
    order = list(range(len(yi)))
    rnd.shuffle(order)
    again = pool_effects(yi[order], vi[order], method=method)
    assert again["estimate"] == pytest.approx(res["estimate"], rel=1e-9, abs=1e-12)
    assert again["tau2"] == pytest.approx(res["tau2"], rel=1e-6, abs=1e-10)
    # shifting every effect shifts the pooled estimate and nothing else
    moved = pool_effects(yi + 1.5, vi, method=method)
    assert moved["estimate"] == pytest.approx(res["estimate"] + 1.5, rel=1e-9, abs=1e-9)
    assert moved["tau2"] == pytest.approx(res["tau2"], rel=1e-6, abs=1e-10)
