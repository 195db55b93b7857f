"""mixed_model and marginal_homogeneity, checked against lme4::lmer and coin::mh_test.

Reference CSVs are written by tests/reference/make_reference_models.R from the committed
inputs (tests/reference/models_input.csv, models_mh_input.csv).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _models_data import REF, dataset_from_scores, models_dataset, models_input, sample_dataset
from envejind_eval.analysis import marginal_homogeneity, mixed_model
from envejind_eval.analysis.models import MixedModelResult
from envejind_eval.errors import InsufficientDataError

# fit name in the reference CSV -> (timepoints, reml, municipalities, formula)
FITS = {
    "three_timepoints": (("baseline", "midway", "end"), True, None, None),
    "two_timepoints": (("baseline", "end"), True, None, None),
    "three_timepoints_ml": (("baseline", "midway", "end"), False, None, None),
    "aalborg_singular": (("baseline", "end"), True, "Aalborg", "score ~ C(timepoint)"),
}


@pytest.fixture(scope="module")
def ds():
    return models_dataset()


@pytest.mark.parametrize("fit", list(FITS))
def test_fixed_effects_match_lmer(ds, fit):
    tps, reml, muni, formula = FITS[fit]
    ref = pd.read_csv(REF / "models_lmer_fixed.csv")
    ref = ref.loc[ref["fit"] == fit].reset_index(drop=True)
    data = ds if muni is None else ds.filter(municipality=muni)
    kw = {} if formula is None else {"formula": formula}
    res = mixed_model(data, "ungestjernen", timepoints=tps, reml=reml, **kw)
    tidy = res.tidy()
    assert tidy["term"].tolist() == ref["term"].tolist()  # same contrasts, same reference levels
    # achieved: estimates <= 1.1e-7, standard errors <= 8.4e-7 relative
    np.testing.assert_allclose(tidy["estimate"], ref["estimate"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(tidy["std_error"], ref["std_error"], rtol=1e-5)
    # lmerTest's Satterthwaite df (it takes the Hessian numerically; achieved <= 4.1e-6)
    np.testing.assert_allclose(tidy["df"], ref["df"], rtol=2e-5)
    np.testing.assert_allclose(tidy["t_statistic"], ref["t_value"], rtol=1e-5)
    np.testing.assert_allclose(tidy["p_value"], ref["p_value"], rtol=1e-3, atol=1e-6)
    vref = pd.read_csv(REF / "models_lmer_varcomp.csv")
    vref = vref.loc[vref["fit"] == fit].set_index("component")["variance"]
    vc = res.variance_components.set_index("component")["variance"]
    np.testing.assert_allclose(vc[vref.index], vref, rtol=1e-3, atol=1e-5)
    assert res.log_likelihood == pytest.approx(
        pd.read_csv(REF / "models_lmer_varcomp.csv").query("fit == @fit")["loglik"].iloc[0],
        rel=1e-10,
    )
    assert res.converged
    if fit == "aalborg_singular":  # lme4: "boundary (singular) fit"
        assert any(w.startswith("singular fit: the cohort_id variance") for w in res.warnings)
        assert any("fewer than 5 levels (2)" in w for w in res.warnings)
    elif reml:  # the ML team variance is small: statsmodels flags a possible boundary
        assert res.warnings == ()


@pytest.mark.parametrize("fit", ["boundary_team", "boundary_participant"])
def test_boundary_fits_reach_lme4s_optimum(fit):
    """Simulated programmes where statsmodels' optimiser stops short of the optimum near a
    boundary: the bounded search reaches lme4's (and its Satterthwaite df)."""
    long = pd.read_csv(REF / "models_boundary_input.csv").query("case == @fit")
    res = mixed_model(
        dataset_from_scores(long.drop(columns="case")),
        "ungestjernen",
        formula="score ~ C(timepoint) + C(municipality)",
    )
    ref = pd.read_csv(REF / "models_lmer_fixed.csv").query("fit == @fit")
    tidy = res.tidy()
    assert tidy["term"].tolist() == ref["term"].tolist()
    np.testing.assert_allclose(tidy["estimate"], ref["estimate"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(tidy["std_error"], ref["std_error"], rtol=1e-5)
    np.testing.assert_allclose(tidy["df"], ref["df"], rtol=2e-5)
    vref = pd.read_csv(REF / "models_lmer_varcomp.csv").query("fit == @fit")
    vc = res.variance_components.set_index("component")["variance"]
    np.testing.assert_allclose(vc[vref["component"]], vref["variance"], rtol=1e-3, atol=1e-5)
    assert res.log_likelihood == pytest.approx(vref["loglik"].iloc[0], rel=1e-10)


def test_result_shape_and_counts(ds):
    res = mixed_model(ds, "ungestjernen")
    assert isinstance(res, MixedModelResult)
    tidy = res.tidy()
    assert tidy.columns.tolist() == [
        "term",
        "estimate",
        "std_error",
        "df",
        "t_statistic",
        "p_value",
        "ci_low",
        "ci_high",
    ]
    assert tidy["term"].iloc[0] == "Intercept"
    assert ((tidy["ci_low"] < tidy["estimate"]) & (tidy["estimate"] < tidy["ci_high"])).all()
    long = models_input()
    long = long.loc[long["timepoint"].isin(["baseline", "end"])]
    assert res.n_obs == len(long)
    assert res.n_participants == long["participant_id"].nunique()
    assert res.n_teams == 6
    assert res.n_excluded == 0
    assert res.variance_components["component"].tolist() == ["team", "participant", "residual"]
    # frozen
    with pytest.raises(AttributeError):
        res.n_obs = 3  # type: ignore[misc]
    # tidy() hands out a copy
    tidy.loc[0, "estimate"] = 99.0
    assert res.tidy().loc[0, "estimate"] != 99.0
    assert "Mixed model" in res._repr_html_()


def test_domain_level_and_custom_formula(ds):
    total = mixed_model(ds, "ungestjernen").tidy()
    dom = mixed_model(ds, "ungestjernen", level="domain", unit="self_control").tidy()
    # every item equals the score, so every domain equals the total
    np.testing.assert_allclose(dom["estimate"], total["estimate"], rtol=1e-6)
    res = mixed_model(ds, "ungestjernen", formula="score ~ C(timepoint) + C(sex)")
    assert res.tidy()["term"].tolist() == ["Intercept", "C(timepoint)[T.end]", "C(sex)[T.male]"]


def test_few_teams_warns_in_result(ds):
    small = ds.filter(municipality=["Aalborg", "Odense"])
    res = mixed_model(small, "ungestjernen")
    assert res.n_teams == 4
    assert any("cohort_id has fewer than 5 levels" in w for w in res.warnings)
    with pytest.raises(InsufficientDataError):
        mixed_model(ds.filter(cohort="AAL-1"), "ungestjernen")


def test_non_estimable_terms_raise(ds):
    long = models_input()
    long = long.loc[~((long["municipality"] == "Odense") & (long["timepoint"] == "end"))]
    with pytest.raises(InsufficientDataError, match=r"C\(timepoint\)\[T.end\]:C\(municipality"):
        mixed_model(dataset_from_scores(long), "ungestjernen")


def test_options_validated(ds):
    with pytest.raises(ValueError, match="Expecting one of"):
        mixed_model(ds, "ungestjernen", level="item")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Expecting one of"):
        mixed_model(ds, "ungestjernen", level="domain")
    with pytest.raises(ValueError, match="Expecting one of"):
        mixed_model(ds, "ungestjernen", unit="nope")
    with pytest.raises(ValueError, match="Expecting one of"):
        mixed_model(ds, "ungestjernen", timepoints=("baseline", "later"))
    with pytest.raises(ValueError, match="two distinct"):
        mixed_model(ds, "ungestjernen", timepoints=("baseline",))
    with pytest.raises(ValueError, match="Expecting one of"):
        mixed_model(ds, "nope")
    with pytest.raises(ValueError, match="Expecting one of"):
        mixed_model(ds, "ungestjernen", rater="mentor")
    with pytest.raises(ValueError, match="formula: cannot build"):
        mixed_model(ds, "ungestjernen", formula="score ~ C(timepoint) + nope")
    with pytest.raises(ValueError, match="confidence"):
        mixed_model(ds, "ungestjernen", confidence=95)
    with pytest.raises(ValueError, match="Expecting one of"):
        mixed_model(ds, "ungestjernen", ddf="kenward_roger")  # type: ignore[arg-type]


def test_wald_option_gives_the_normal_reference(ds):
    from scipy import stats

    sat = mixed_model(ds, "ungestjernen").tidy()
    wald = mixed_model(ds, "ungestjernen", ddf="wald").tidy()
    np.testing.assert_array_equal(wald["estimate"], sat["estimate"])
    assert np.isinf(wald["df"]).all()
    np.testing.assert_allclose(wald["p_value"], 2 * stats.norm.sf(np.abs(wald["t_statistic"])))
    half = wald["ci_high"] - wald["estimate"]
    np.testing.assert_allclose(half, stats.norm.ppf(0.975) * wald["std_error"])
    # a municipality effect rests on a handful of teams: Satterthwaite's df are small and
    # its p-values larger than the normal reference's
    muni = sat["term"].str.startswith("C(municipality)")
    assert (sat.loc[muni, "df"] < 10).all()
    assert (sat.loc[muni, "p_value"] > wald.loc[muni, "p_value"]).all()


def test_inputs_not_mutated(ds):
    before = {n: t.copy() for n, t in ds.tables.items()}
    mixed_model(ds, "ungestjernen")
    marginal_homogeneity(ds, "ungestjernen", "star_crime")
    for n, t in ds.tables.items():
        pd.testing.assert_frame_equal(t, before[n])


# -- marginal homogeneity -------------------------------------------------------------------


def _mh_dataset(case: str):
    x = pd.read_csv(REF / "models_mh_input.csv").query("case == @case").reset_index(drop=True)
    ids = [f"Q{i:03d}" for i in range(len(x))]
    long = pd.concat(
        [
            pd.DataFrame({"participant_id": ids, "timepoint": "baseline", "score": x["pre"]}),
            pd.DataFrame({"participant_id": ids, "timepoint": "end", "score": x["post"]}),
        ]
    ).assign(cohort_id="T1", municipality="Odense")
    return dataset_from_scores(long)


@pytest.mark.parametrize("case", ["cat5_n40", "cat4_n8", "cat3_n12"])
def test_marginal_homogeneity_matches_coin(case):
    ref = pd.read_csv(REF / "models_mh.csv").set_index("case").loc[case]
    out = marginal_homogeneity(_mh_dataset(case), "ungestjernen", "star_crime")
    assert out.shape == (1, 13)
    row = out.iloc[0]
    assert row["n"] == ref["n"]
    assert row["statistic"] == pytest.approx(ref["statistic"], rel=1e-9)
    assert row["df"] == ref["df"]
    assert row["p_value"] == pytest.approx(ref["p_value"], rel=1e-9)
    assert row["method"] == "stuart_maxwell"
    assert row["reason"] == ""


@pytest.mark.parametrize("case", ["cat5_n40", "cat4_n8", "cat3_n12"])
def test_bhapkar_matches_statsmodels(case):
    from statsmodels.stats.contingency_tables import SquareTable

    x = pd.read_csv(REF / "models_mh_input.csv").query("case == @case")
    lev = sorted(set(x["pre"]) | set(x["post"]))
    tab = pd.crosstab(
        pd.Categorical(x["pre"], lev), pd.Categorical(x["post"], lev), dropna=False
    ).to_numpy()
    expected = SquareTable(tab, shift_zeros=False).homogeneity("bhapkar")
    out = marginal_homogeneity(_mh_dataset(case), "ungestjernen", "star_crime", method="bhapkar")
    assert out["statistic"].iloc[0] == pytest.approx(expected.statistic, rel=1e-9)
    assert out["p_value"].iloc[0] == pytest.approx(expected.pvalue, rel=1e-9)


def test_marginal_homogeneity_degenerate_and_counts():
    ids = [f"Q{i}" for i in range(6)]
    pre = [3, 3, 4, 4, 5, 5]
    long = pd.concat(
        [
            pd.DataFrame({"participant_id": ids, "timepoint": "baseline", "score": pre}),
            # nobody changes; one participant has no end form
            pd.DataFrame({"participant_id": ids[:5], "timepoint": "end", "score": pre[:5]}),
        ]
    ).assign(cohort_id="T1", municipality="Odense")
    ds = dataset_from_scores(long)
    out = marginal_homogeneity(ds, "ungestjernen", "star_crime")
    row = out.iloc[0]
    assert (row["n"], row["n_excluded"], row["n_categories"]) == (5, 1, 3)
    assert np.isnan(row["statistic"]) and np.isnan(row["p_value"])
    assert row["reason"] == "no participant changed category"
    with pytest.raises(ValueError, match="Expecting one of"):
        marginal_homogeneity(ds, "ungestjernen", "star_crime", method="mcnemar")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Expecting one of"):
        marginal_homogeneity(ds, "ungestjernen", "crime_risk")  # a domain, not an item
    with pytest.raises(ValueError, match="different"):
        marginal_homogeneity(ds, "ungestjernen", "star_crime", post="baseline")


def test_several_raters_on_the_sample():
    sample = sample_dataset()
    with pytest.raises(ValueError, match="several raters"):
        mixed_model(sample, "lfl")
    res = mixed_model(sample, "lfl", rater="mentor", level="domain", unit="daily_rhythm")
    assert res.rater == "mentor" and res.n_teams >= 2
    mh = marginal_homogeneity(sample, "lfl", "lfl01")
    assert mh["rater"].tolist() == ["self", "mentor"]
    assert (mh["n"] + mh["n_excluded"] == len(sample.participants)).all()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 5), st.integers(1, 5)), min_size=1, max_size=40),
    st.sampled_from(["stuart_maxwell", "bhapkar"]),
)
def test_marginal_homogeneity_invariants(pairs, method):
    from envejind_eval.analysis.models import _mh_test

    x = np.array([p[0] for p in pairs], dtype=float)
    y = np.array([p[1] for p in pairs], dtype=float)
    stat, df, p, k, reason = _mh_test(x, y, method)
    swapped = _mh_test(y, x, method)
    if reason:
        assert np.isnan(stat) and swapped[4] == reason
        return
    assert stat >= -1e-9 and 0 <= p <= 1 and 1 <= df <= k - 1
    # direction does not matter; relabelling categories monotonically does not either
    assert swapped[0] == pytest.approx(stat, rel=1e-9, abs=1e-9)
    assert _mh_test(10 * x + 3, 10 * y + 3, method)[0] == pytest.approx(stat, rel=1e-9, abs=1e-9)
    if method == "stuart_maxwell":
        from statsmodels.stats.contingency_tables import SquareTable

        from envejind_eval.analysis.models import _mh_table

        tab = _mh_table(x, y)
        if df == k - 1:  # statsmodels needs the full-rank case
            sm = SquareTable(tab, shift_zeros=False).homogeneity("stuart_maxwell")
            assert sm.statistic == pytest.approx(stat, rel=1e-7, abs=1e-9)


def test_missing_covariate_is_a_clear_error(ds):
    ids = ds.participants["participant_id"]
    p = pd.DataFrame(
        {
            "participant_id": ids,
            "birth_year": pd.array([None] + [1999] * (len(ids) - 1), dtype="Int64"),
            "sex": [None] + ["male"] * (len(ids) - 1),
        }
    )
    data = dataset_from_scores(models_input(), participants=p)
    for formula in ("score ~ C(timepoint) + birth_year", "score ~ C(timepoint) + C(sex)"):
        with pytest.raises(ValueError, match="no missing values in the ones used"):
            mixed_model(data, "ungestjernen", formula=formula)


@pytest.mark.parametrize("seed", range(8))
def test_fit_is_never_worse_than_statsmodels(seed):
    """The bounded search reaches at least statsmodels' MixedLM likelihood (and a higher
    one where statsmodels stops short near the boundary), on unbalanced programmes."""
    import statsmodels.formula.api as smf

    from _models_data import simulate_programme

    rng = np.random.default_rng(seed)
    long = simulate_programme(1000 + seed, size=int(rng.integers(4, 9)))
    long = long.drop(index=rng.choice(len(long), len(long) // 6, replace=False))  # dropouts
    res = mixed_model(dataset_from_scores(long), "ungestjernen")
    data = long.assign(score=long["score"].astype(float)).sort_values(
        ["cohort_id", "participant_id", "timepoint"]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its boundary / Hessian convergence warnings
        sm = smf.mixedlm(
            "score ~ C(timepoint) * C(municipality)",
            data,
            groups="cohort_id",
            re_formula="1",
            vc_formula={"participant": "0 + C(participant_id)"},
        ).fit(reml=True)
    assert res.log_likelihood >= sm.llf - 1e-7 * abs(sm.llf)


def test_closed_form_slopes_profile_equals_the_general_one():
    """_lmm.profile_slopes (2 x 2 closed form per group) against _lmm.profile (one
    Cholesky per group) at random covariance factors, on unbalanced groups."""
    from envejind_eval.analysis import _lmm

    rng = np.random.default_rng(5)
    sizes = rng.integers(2, 9, 40)
    g = np.repeat(np.arange(40), sizes)
    w = np.concatenate([np.arange(1, k + 1) for k in sizes]).astype(float)
    y = 3 + 0.2 * w + rng.normal(0, 1, len(w))
    z = np.column_stack([np.ones(len(w)), w])
    sums = _lmm.slope_sums(z, y, z, g)
    blocks = []
    for k in range(40):
        wb, one = w[g == k], np.ones(sizes[k])
        pats = (np.outer(one, one), np.outer(one, wb) + np.outer(wb, one), np.outer(wb, wb))
        blocks.append((z[g == k], y[g == k], pats))
    stacks = _lmm.stacks(blocks)
    for t in rng.uniform([0, -0.5, 0], [2, 0.5, 1], (5, 3)):
        coef = (t[0] ** 2, t[0] * t[1], t[1] ** 2 + t[2] ** 2)
        for reml in (True, False):
            got = _lmm.profile_slopes(sums, t, reml)
            np.testing.assert_allclose(got, _lmm.profile(stacks, coef, reml), rtol=1e-10)
