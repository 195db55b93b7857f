"""attrition, pre_post_imputed and rubin_pool.

Rubin's rules are checked against R mice::pool.scalar (tests/reference/models_rubin.csv,
written by make_reference_models.R); the imputation against known truth on synthetic data
with MCAR and MAR missingness.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from _models_data import REF, dataset_from_scores, models_dataset, sample_dataset
from envejind_eval.analysis import attrition, pre_post_imputed
from envejind_eval.analysis.missing import (
    ATTRITION_COLUMNS,
    IMPUTED_COLUMNS,
    _mi_mean_diff,
    rubin_pool,
)
from envejind_eval.analysis.paired import paired_summary


@pytest.fixture(scope="module")
def ds():
    return models_dataset()


# -- Rubin's rules ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["m5_n30", "m20_n12", "m3_n60"])
def test_rubin_pool_matches_mice(case):
    x = pd.read_csv(REF / "models_rubin_input.csv").query("case == @case")
    ref = pd.read_csv(REF / "models_rubin.csv").set_index("case").loc[case]
    res = rubin_pool(x["q"].to_numpy(), x["u"].to_numpy(), df_complete=x["n"].iloc[0] - 1)
    for ours, theirs in [
        ("qbar", "qbar"),
        ("ubar", "ubar"),
        ("b", "b"),
        ("t", "t"),
        ("df", "df"),
        ("riv", "r"),
        ("fmi", "fmi"),
        ("m", "m"),
    ]:
        assert res[ours] == pytest.approx(ref[theirs], rel=1e-9), ours


def test_rubin_pool_edge_cases():
    # no between-imputation variance: lambda floored at 1e-4 as in mice
    res = rubin_pool(np.array([1.0, 1.0, 1.0]), np.array([0.1, 0.1, 0.1]), df_complete=20)
    assert res["b"] == 0 and res["t"] == pytest.approx(0.1)
    dfobs = 21 / 23 * 20 * (1 - 1e-4)
    dfold = 2 / 1e-8
    assert res["df"] == pytest.approx(dfold * dfobs / (dfold + dfobs))
    inf = rubin_pool(np.array([1.0, 2.0]), np.array([0.1, 0.1]))
    assert inf["df"] == pytest.approx(1 / inf["lambda"] ** 2)
    with pytest.raises(ValueError, match="at least 2"):
        rubin_pool(np.array([1.0]), np.array([0.1]))


# -- imputation: calibration on synthetic data --------------------------------------------


def _simulate(rng, n, mechanism):
    pre = rng.normal(5, 1, n)
    post = 2.5 + 0.6 * pre + rng.normal(0, 0.8, n)  # E[post - pre] = 0.5
    y = np.column_stack([pre, post])
    if mechanism == "mcar":
        miss = rng.random(n) < 0.3
    else:  # MAR: high baseline scorers drop out more often
        miss = rng.random(n) < 1 / (1 + np.exp(-(-1 + 1.5 * (pre - 5))))
    y[miss, 1] = np.nan
    y[rng.random(n) < 0.05, 0] = np.nan  # a few missing baselines too
    y[np.isnan(y).all(axis=1), 0] = pre[np.isnan(y).all(axis=1)]
    return y


@pytest.mark.slow
@pytest.mark.parametrize("mechanism", ["mcar", "mar"])
def test_mi_is_unbiased_and_covers(mechanism):
    rng = np.random.default_rng(2024)
    truth, reps, n = 0.5, 300, 60
    mi, cc, cover = [], [], 0
    for _ in range(reps):
        y = _simulate(rng, n, mechanism)
        muni = np.where(np.arange(n) % 2 == 0, "A", "B")
        (q, u), note = _mi_mean_diff(y, muni, m=10, n_iter=5, rng=rng)
        pooled = rubin_pool(q, u, df_complete=n - 1)
        tq = stats.t.ppf(0.975, pooled["df"])
        cover += abs(pooled["qbar"] - truth) <= tq * np.sqrt(pooled["t"])
        mi.append(pooled["qbar"])
        both = ~np.isnan(y).any(axis=1)
        cc.append(np.mean(y[both, 1] - y[both, 0]))
    bias_mi = np.mean(mi) - truth
    bias_cc = np.mean(cc) - truth
    mc_se = np.std(mi) / np.sqrt(reps)
    assert abs(bias_mi) < 4 * mc_se + 0.01
    assert 0.90 <= cover / reps <= 0.99
    if mechanism == "mar":
        assert bias_cc > 0.1  # complete cases are biased under MAR; MI repairs it
        assert abs(bias_mi) < bias_cc / 4


def test_mi_nothing_missing_equals_complete_case():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(10, 2))
    (q, u), note = _mi_mean_diff(y, np.array(["A"] * 10), m=4, n_iter=2, rng=rng)
    d = y[:, 1] - y[:, 0]
    np.testing.assert_allclose(q, d.mean())
    np.testing.assert_allclose(u, d.var(ddof=1) / 10)
    assert note == "nothing to impute"


# -- pre_post_imputed -----------------------------------------------------------------------


def test_pre_post_imputed_contract_and_complete_cases(ds):
    out = pre_post_imputed(ds, "ungestjernen", level="total", m=5, n_iter=3)
    assert out.columns.tolist() == IMPUTED_COLUMNS
    row = out.iloc[0]
    long = pd.read_csv(REF / "models_input.csv")
    w = long.pivot(index="participant_id", columns="timepoint", values="score")
    both = w["baseline"].notna() & w["end"].notna()
    cc = paired_summary(
        pd.DataFrame({"pre": w["baseline"], "post": w["end"]}).dropna(), n_boot=0
    ).iloc[0]
    assert row["n_complete"] == both.sum() == cc["n"]
    assert row["mean_diff_cc"] == pytest.approx(cc["mean_diff"], rel=1e-12)
    assert row["ci_low_cc"] == pytest.approx(cc["ci_low"], rel=1e-12)
    assert row["n_itt"] == len(w)
    assert row["n_imputed_post"] == w["end"].isna().sum()
    assert row["n_imputed_pre"] == 0
    assert row["n_excluded_cc"] == (~both).sum()
    assert row["n_no_data"] == 0
    assert row["ci_low_mi"] < row["mean_diff_mi"] < row["ci_high_mi"]
    assert row["total_var"] == pytest.approx(row["within_var"] + 1.2 * row["between_var"])
    assert 0 <= row["fmi"] <= 1
    assert row["m"] == 5 and row["note"] == ""


def test_pre_post_imputed_is_seeded(ds):
    a = pre_post_imputed(ds, "ungestjernen", level="domain", unit="wellbeing", m=3, n_iter=2)
    b = pre_post_imputed(ds, "ungestjernen", level="domain", unit="wellbeing", m=3, n_iter=2)
    pd.testing.assert_frame_equal(a, b)
    c = pre_post_imputed(
        ds, "ungestjernen", level="domain", unit="wellbeing", m=3, n_iter=2, seed=1
    )
    assert c["mean_diff_mi"].iloc[0] != a["mean_diff_mi"].iloc[0]
    assert c["mean_diff_cc"].iloc[0] == a["mean_diff_cc"].iloc[0]


def test_pre_post_imputed_population_and_small_data(ds):
    only = pre_post_imputed(ds, "ungestjernen", level="total", m=2, population=["completed"])
    assert only["n_imputed_post"].iloc[0] < only["n_itt"].iloc[0]
    tiny = dataset_from_scores(
        pd.DataFrame(
            {
                "participant_id": ["a", "a", "b", "c"],
                "cohort_id": "T",
                "municipality": "Odense",
                "timepoint": ["baseline", "end", "baseline", "baseline"],
                "score": [3.0, 4.0, 5.0, 6.0],
            }
        )
    )
    out = pre_post_imputed(tiny, "ungestjernen", level="total", m=2)
    assert out["note"].iloc[0] == "fewer than 3 observed post scores to impute from"
    assert np.isnan(out["mean_diff_mi"].iloc[0])
    assert out["n_itt"].iloc[0] == 3


def test_pre_post_imputed_validates(ds):
    for kw, msg in [
        ({"level": "scale"}, "Expecting one of"),
        ({"unit": "nope"}, "Expecting one of"),
        ({"pre": "start"}, "Expecting one of"),
        ({"m": 1}, "at least 2"),
        ({"n_iter": 0}, "positive"),
        ({"population": ["gone"]}, "Expecting one of"),
        ({"post": "baseline"}, "different"),
    ]:
        with pytest.raises(ValueError, match=msg):
            pre_post_imputed(ds, "ungestjernen", **kw)


# -- attrition --------------------------------------------------------------------------------


def test_attrition_scores_and_characteristics(ds):
    before = {n: t.copy() for n, t in ds.tables.items()}
    out = attrition(ds, "ungestjernen", level="total")
    assert out.columns.tolist() == ATTRITION_COLUMNS
    for n, t in ds.tables.items():
        pd.testing.assert_frame_equal(t, before[n])
    score = out.loc[out["variable"] == "score"].iloc[0]
    long = pd.read_csv(REF / "models_input.csv").query("timepoint == 'baseline'")
    has_end = set(
        pd.read_csv(REF / "models_input.csv").query("timepoint == 'end'")["participant_id"]
    )
    comp = long.loc[long["participant_id"].isin(has_end), "score"].to_numpy()
    drop = long.loc[~long["participant_id"].isin(has_end), "score"].to_numpy()
    assert (score["n_completers"], score["n_dropouts"]) == (comp.size, drop.size)
    assert score["value_dropouts"] - score["value_completers"] == pytest.approx(score["difference"])
    ref = stats.ttest_ind(drop, comp, equal_var=False)
    assert score["p_value"] == pytest.approx(ref.pvalue, rel=1e-12)
    assert score["test_df"] == pytest.approx(ref.df, rel=1e-12)
    sd = np.sqrt((comp.var(ddof=1) + drop.var(ddof=1)) / 2)
    assert score["std_difference"] == pytest.approx((drop.mean() - comp.mean()) / sd)
    sex = out.loc[out["variable"] == "sex"]
    assert sex["count_completers"].sum() == score["n_completers"]
    assert np.allclose(sex["value_completers"].sum(), 1)
    assert set(out["variable"]) == {"age_at_start", "sex", "referred_by", "municipality", "score"}
    assert (out["n_not_compared"] == 0).all()


def test_attrition_fisher_and_small_groups():
    long = pd.DataFrame(
        {
            "participant_id": [f"p{i}" for i in range(7)],
            "cohort_id": "T",
            "municipality": "Odense",
            "timepoint": "baseline",
            "score": [3.0, 4, 5, 6, 7, 8, 9],
        }
    )
    status = pd.DataFrame(
        {
            "participant_id": long["participant_id"],
            "status": ["completed"] * 4 + ["dropped_out", "ongoing", "excluded"],
            "sex": ["male", "male", "female", "male", "female", "male", "female"],
        }
    )
    ds = dataset_from_scores(long, participants=status)
    out = attrition(ds, "ungestjernen", level="domain")
    assert (out["n_not_compared"] == 1).all()
    female = out.loc[(out["variable"] == "sex") & (out["category"] == "female")].iloc[0]
    assert (female["count_completers"], female["n_completers"]) == (1, 4)
    assert (female["count_dropouts"], female["n_dropouts"]) == (2, 2)
    assert female["p_value"] == pytest.approx(
        stats.fisher_exact([[2, 0], [1, 3]]).pvalue, rel=1e-12
    )
    only_dropped = attrition(ds, "ungestjernen", level="total", dropouts=["dropped_out"])
    s = only_dropped.loc[only_dropped["variable"] == "score"].iloc[0]
    assert s["n_dropouts"] == 1
    assert s["note"] == "fewer than 2 participants with a value in a group"
    assert np.isnan(s["p_value"])
    chars = attrition(ds)
    assert "score" not in set(chars["variable"])
    with pytest.raises(ValueError, match="Expecting one of"):
        attrition(ds, dropouts=["completed"])
    with pytest.raises(ValueError, match="Expecting one of"):
        attrition(ds, "ungestjernen", level="scale")  # type: ignore[arg-type]


def test_every_rater_by_default_on_the_sample():
    sample = sample_dataset()
    out = pre_post_imputed(sample, "lfl", level="total", m=2, n_iter=1)
    assert out["rater"].tolist() == ["self", "mentor"]
    assert (out["n_complete"] + out["n_excluded_cc"] == len(sample.participants)).all()
    att = attrition(sample, "lfl", level="total")
    assert att.loc[att["variable"] == "score", "rater"].tolist() == ["self", "mentor"]
