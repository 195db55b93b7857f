"""Paired pre/post engine: R reference values, a scipy per-group loop, edge cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from envejind_eval.analysis.paired import PAIRED_COLUMNS, holm, paired_summary, wilson_interval

REF = Path(__file__).parent / "reference"
TOL = 1e-6


@pytest.fixture(scope="module")
def ref_input() -> pd.DataFrame:
    return pd.read_csv(REF / "paired_input.csv")


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return pd.read_csv(REF / "paired_reference.csv", keep_default_na=False, na_values=[""])


def _ours(ref_input: pd.DataFrame, confidence: float) -> pd.DataFrame:
    return paired_summary(ref_input, by=["group"], confidence=confidence, n_boot=0).set_index(
        "group"
    )


def _close(a: pd.Series, b: pd.Series, tol: float = TOL) -> None:
    a = a.astype(float)
    b = b.astype(float)
    both_nan = a.isna() & b.isna()
    diff = (a - b).abs()
    bad = ~both_nan & ~(diff <= tol)
    assert not bad.any(), pd.DataFrame({"ours": a[bad], "r": b[bad]})


# -- R reference -------------------------------------------------------------------------


@pytest.mark.parametrize("confidence", [0.95, 0.90])
def test_matches_r_t_test_and_wilcoxon(ref_input, reference, confidence):
    r = reference[reference["confidence"] == confidence].set_index("group")
    ours = _ours(ref_input, confidence).loc[r.index]
    for c in ["n", "n_excluded", "mean_pre", "mean_post", "mean_diff", "sd_diff"]:
        _close(ours[c], r[c])
    for c in ["ci_low", "ci_high", "t_statistic", "t_p_value"]:
        _close(ours[c], r[c])
    finite = r["t_statistic"].notna()
    _close(ours.loc[finite, "t_df"], r.loc[finite, "t_df"])
    _close(ours["wilcoxon_v"], r["wilcoxon_v"])
    _close(ours["wilcoxon_p_value"], r["wilcoxon_p_value"])
    # the method R used, wherever R computed a p-value
    tested = r["wilcoxon_p_value"].notna()
    assert (ours.loc[tested, "wilcoxon_method"] == r.loc[tested, "wilcoxon_method"]).all()
    assert ours.loc["g11_all_zero", "wilcoxon_method"] == ""
    # R switches to the normal approximation because of ties, zeros and n >= 50
    assert ours.loc["g08_n49_exact", "wilcoxon_method"] == "exact"
    assert ours.loc["g09_n50_normal", "wilcoxon_method"] == "normal_cc"
    assert ours.loc["g15_one_zero", "wilcoxon_method"] == "normal_cc"


@pytest.mark.parametrize("confidence", [0.95, 0.90])
def test_matches_r_effect_sizes(ref_input, reference, confidence):
    r = reference[reference["confidence"] == confidence].set_index("group")
    ours = _ours(ref_input, confidence).loc[r.index]
    _close(ours["cohens_dz"], r["cohens_dz"])
    # exact noncentral-t roots (uniroot in R) ...
    _close(ours["dz_ci_low"], r["dz_ci_low_exact"], 1e-8)
    _close(ours["dz_ci_high"], r["dz_ci_high_exact"], 1e-8)
    # ... and effectsize, which finds the same roots with optim (Nelder-Mead, abstol 1e-9
    # on the probability scale), accurate to about 1e-6 only
    _close(ours["dz_ci_low"], r["dz_ci_low"], 5e-6)
    _close(ours["dz_ci_high"], r["dz_ci_high"], 5e-6)
    # rank-biserial: the documented formula over non-zero differences everywhere
    for c, rc in [
        ("rank_biserial", "rb_formula"),
        ("rb_ci_low", "rb_ci_low_formula"),
        ("rb_ci_high", "rb_ci_high_formula"),
    ]:
        _close(ours[c], r[rc])
    # ... and effectsize 0.8.3 wherever its paired code agrees with that formula: no zero
    # differences (its CI counts non-zero *post* values) and not all differences equal
    # (its rank transform then drops the sign)
    d = ref_input.dropna().assign(d=lambda x: x["post"] - x["pre"])
    no_zero = d.groupby("group")["d"].apply(lambda s: (s != 0).all() and s.nunique() > 1)
    same = no_zero[no_zero].index.intersection(r.index)
    assert len(same) >= 8
    for c in ["rank_biserial", "rb_ci_low", "rb_ci_high"]:
        _close(ours.loc[same, c], r.loc[same, c])
    # the documented deviation: effectsize drops the sign of constant differences
    assert r.loc["g16_constant_negative", "rank_biserial"] == 1
    assert ours.loc["g16_constant_negative", "rank_biserial"] == -1


def test_holm_matches_r():
    h = pd.read_csv(REF / "paired_holm.csv")
    for _, g in h.groupby("set"):
        _close(pd.Series(holm(g["p"].to_numpy())), pd.Series(g["p_holm"].to_numpy()))


def test_wilson_matches_r():
    w = pd.read_csv(REF / "paired_wilson.csv")
    for conf, g in w.groupby("confidence"):
        lo, hi = wilson_interval(g["k"].to_numpy(), g["n"].to_numpy(), confidence=conf)
        _close(pd.Series(lo), pd.Series(g["low"].to_numpy()))
        _close(pd.Series(hi), pd.Series(g["high"].to_numpy()))
        _close(pd.Series(lo), pd.Series(g["low_formula"].to_numpy()))


def test_reference_input_is_rich_enough(ref_input):
    n = ref_input.dropna().groupby("group").size()
    assert {1, 2, 5, 60}.issubset(set(n))
    assert ref_input[["pre", "post"]].isna().any(axis=1).any()
    d = ref_input.dropna().eval("post - pre")
    assert (d == 0).any()


# -- slow, obvious reference implementation (scipy, one group at a time) ----------------


def _scipy_one(pre: np.ndarray, post: np.ndarray, confidence: float) -> dict[str, float]:
    ok = ~(np.isnan(pre) | np.isnan(post))
    pre, post = pre[ok], post[ok]
    d = post - pre
    n = len(d)
    out: dict[str, float] = {"n": n, "mean_diff": d.mean()}
    tt = stats.ttest_rel(post, pre)
    ci = tt.confidence_interval(confidence)
    out.update(
        t_statistic=tt.statistic,
        t_p_value=tt.pvalue,
        ci_low=ci.low,
        ci_high=ci.high,
        sd_diff=d.std(ddof=1),
    )
    dz = d.mean() / d.std(ddof=1)
    a = 1 - confidence

    def root(p):
        def f(nc):
            return stats.nct.cdf(tt.statistic, n - 1, nc) - p

        w = 1.0
        while not (f(tt.statistic - w) > 0 > f(tt.statistic + w)):
            w *= 1.5
        return optimize.brentq(f, tt.statistic - w, tt.statistic + w, xtol=1e-14)

    out.update(
        cohens_dz=dz,
        dz_ci_low=root(1 - a / 2) / np.sqrt(n),
        dz_ci_high=root(a / 2) / np.sqrt(n),
    )
    nz = d[d != 0]
    m = len(nz)
    ranks = stats.rankdata(np.abs(nz))
    ties = len(np.unique(np.abs(nz))) < m
    exact = m < 50 and not ties and m == n
    w = stats.wilcoxon(nz, method="exact" if exact else "approx", correction=True)
    out["wilcoxon_v"] = ranks[nz > 0].sum()
    out["wilcoxon_p_value"] = w.pvalue
    s = m * (m + 1) / 2
    r = (ranks[nz > 0].sum() - ranks[nz < 0].sum()) / s
    se = np.sqrt((2 * m**3 + 3 * m**2 + m) / 6) / s
    z = stats.norm.ppf(1 - a / 2)
    with np.errstate(divide="ignore"):  # r = ±1 -> atanh = ±inf -> interval [±1, ±1]
        out.update(
            rank_biserial=r,
            rb_ci_low=np.tanh(np.arctanh(r) - z * se),
            rb_ci_high=np.tanh(np.arctanh(r) + z * se),
        )
    return out


def _random_groups(seed: int, n_groups: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for g in range(n_groups):
        n = int(rng.integers(3, 70))
        if g % 3 == 0:  # Likert: ties and zeros
            pre = rng.integers(1, 6, n).astype(float)
            post = np.clip(pre + rng.integers(-1, 3, n), 1, 5).astype(float)
        else:
            pre = rng.normal(5, 1, n).round(3)
            post = (pre + rng.normal(0.3, 1, n)).round(3)
        if post[0] == pre[0] and np.all(post == pre):
            post[0] += 1
        parts.append(pd.DataFrame({"g": f"g{g:03d}", "pre": pre, "post": post}))
    return pd.concat(parts, ignore_index=True)


def test_equals_scipy_loop_to_1e9():
    frame = _random_groups(7, 40)
    ours = paired_summary(frame, by=["g"], n_boot=0).set_index("g")
    rows = {}
    for g, sub in frame.groupby("g"):
        rows[g] = _scipy_one(sub["pre"].to_numpy(), sub["post"].to_numpy(), 0.95)
    ref = pd.DataFrame.from_dict(rows, orient="index")
    for c in ref.columns:
        _close(ours[c], ref[c], 1e-9)


# -- behaviour ---------------------------------------------------------------------------


def test_columns_and_degenerate_groups_never_raise():
    df = pd.DataFrame(
        {
            "g": ["one", "none", "none", "const", "const", "const", "zero", "zero"],
            "pre": [1.0, np.nan, 2.0, 1.0, 2.0, 3.0, 2.0, 2.0],
            "post": [2.0, 3.0, np.nan, 2.0, 3.0, 4.0, 2.0, 2.0],
        }
    )
    out = paired_summary(df, by=["g"], n_boot=200).set_index("g")
    assert list(out.reset_index().columns) == ["g", *PAIRED_COLUMNS]
    assert out.loc["none", "n"] == 0 and out.loc["none", "n_excluded"] == 2
    assert "no complete pairs" in out.loc["none", "note"]
    assert np.isnan(out.loc["one", "t_p_value"]) and "fewer than 2" in out.loc["one", "note"]
    assert np.isnan(out.loc["const", "t_statistic"]) and "constant" in out.loc["const", "note"]
    assert np.isnan(out.loc["const", "boot_ci_low"])
    assert out.loc["const", "wilcoxon_v"] == 6  # Wilcoxon still defined (ties)
    assert np.isnan(out.loc["zero", "wilcoxon_p_value"]) and "zero" in out.loc["zero", "note"]
    assert out.loc["zero", "n_unchanged"] == 2


def test_empty_frame():
    out = paired_summary(pd.DataFrame({"g": [], "pre": [], "post": []}), by=["g"])
    assert len(out) == 0 and list(out.columns) == ["g", *PAIRED_COLUMNS]


def test_no_by_and_missing_keys_kept():
    df = pd.DataFrame({"g": ["a", None, "a", None], "pre": [1, 2, 3, 4], "post": [2, 2, 5, 6]})
    assert len(paired_summary(df, n_boot=0)) == 1
    out = paired_summary(df, by=["g"], n_boot=0)
    assert len(out) == 2 and out["n"].sum() == 4


def test_direction_counts():
    df = pd.DataFrame({"pre": [1, 2, 3, 3], "post": [2, 1, 5, 3]})
    up = paired_summary(df, n_boot=0).iloc[0]
    down = paired_summary(df, n_boot=0, higher_is_better=False).iloc[0]
    assert (up["n_improved"], up["n_unchanged"], up["n_worsened"]) == (2, 1, 1)
    assert (down["n_improved"], down["n_worsened"]) == (1, 2)
    assert up["mean_diff"] == down["mean_diff"]


def test_bootstrap_deterministic_and_sensible():
    frame = _random_groups(3, 6)
    a = paired_summary(frame, by=["g"], n_boot=2000, seed=5)
    b = paired_summary(frame, by=["g"], n_boot=2000, seed=5)
    c = paired_summary(frame, by=["g"], n_boot=2000, seed=6)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["boot_ci_low"], c["boot_ci_low"])
    assert (a["boot_ci_low"] < a["mean_diff"]).all() and (a["mean_diff"] < a["boot_ci_high"]).all()
    # close to the t-interval for these near-normal groups
    width_t = a["ci_high"] - a["ci_low"]
    width_b = a["boot_ci_high"] - a["boot_ci_low"]
    assert ((width_b / width_t).between(0.6, 1.3)).all()


def test_bca_agrees_with_scipy_bootstrap():
    rng = np.random.default_rng(11)
    d = rng.exponential(1.0, 25)  # skewed: BCa differs from percentile
    frame = pd.DataFrame({"pre": np.zeros(25), "post": d})
    ours = paired_summary(frame, n_boot=20000, seed=1).iloc[0]
    sp = stats.bootstrap(
        (d,), np.mean, n_resamples=20000, method="BCa", random_state=np.random.default_rng(2)
    ).confidence_interval
    assert abs(ours["boot_ci_low"] - sp.low) < 0.03
    assert abs(ours["boot_ci_high"] - sp.high) < 0.05


def test_bootstrap_chunking_does_not_change_results(monkeypatch):
    from envejind_eval.analysis import paired

    frame = _random_groups(9, 12)
    a = paired_summary(frame, by=["g"], n_boot=500, seed=3)
    monkeypatch.setattr(paired, "_BOOT_CHUNK", 500 * 70)
    b = paired_summary(frame, by=["g"], n_boot=500, seed=3)
    # chunks draw in a different order, so values differ slightly but stay BCa intervals
    assert np.allclose(a["boot_ci_low"], b["boot_ci_low"], atol=0.25)


def test_input_not_mutated():
    frame = _random_groups(1, 5)
    frame.loc[3, "pre"] = np.nan
    before = frame.copy(deep=True)
    paired_summary(frame, by=["g"], n_boot=200)
    pd.testing.assert_frame_equal(frame, before)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"confidence": 1.0},
        {"confidence": 0},
        {"n_boot": -1},
        {"n_boot": 10},
        {"n_boot": 2.5},
        {"higher_is_better": "yes"},
        {"by": ["nope"]},
        {"pre": "post"},
    ],
)
def test_option_errors(kwargs):
    df = pd.DataFrame({"g": ["a"], "pre": [1.0], "post": [2.0]})
    with pytest.raises(ValueError, match="Expecting|distinct"):
        paired_summary(df, **{"by": ["g"], **kwargs})


def test_bca_multinomial_path_agrees_with_scipy_bootstrap():
    """Few distinct differences (Likert): resampled through multinomial counts."""
    rng = np.random.default_rng(12)
    d = rng.choice([-2.0, -1.0, 0.0, 1.0, 2.0, 3.0], 60, p=[0.05, 0.1, 0.3, 0.3, 0.15, 0.1])
    frame = pd.DataFrame({"pre": np.full(60, 3.0), "post": 3.0 + d})
    ours = paired_summary(frame, n_boot=20000, seed=1).iloc[0]
    sp = stats.bootstrap(
        (d,), np.mean, n_resamples=20000, method="BCa", random_state=np.random.default_rng(2)
    ).confidence_interval
    assert abs(ours["boot_ci_low"] - sp.low) < 0.02
    assert abs(ours["boot_ci_high"] - sp.high) < 0.02
