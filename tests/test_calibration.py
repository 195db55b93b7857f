"""Calibration of the paired engine on simulated team-sized data with known truth.

Each test simulates thousands of teams in *one* frame and runs the vectorised engine once,
which is what keeps these statistical checks within seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from envejind_eval.analysis.paired import _psignrank, paired_summary

pytestmark = pytest.mark.slow

N_TEAMS = 4000


def simulate(
    seed: int, *, n_teams: int = N_TEAMS, sizes=(5, 6, 7, 8), effect: float = 0.0, likert=False
) -> pd.DataFrame:
    """``n_teams`` teams of 5-8 young people; pre ~ N(0, 1), post = pre + effect + N(0, 1)."""
    rng = np.random.default_rng(seed)
    n = rng.choice(np.asarray(sizes), n_teams)
    team = np.repeat(np.arange(n_teams), n)
    pre = rng.normal(0, 1, len(team))
    post = pre + effect + rng.normal(0, 1, len(team))
    if likert:  # 1-5 answers: ties and zero differences
        pre = np.clip(np.round(3 + pre), 1, 5)
        post = np.clip(np.round(3 + post), 1, 5)
    return pd.DataFrame({"team": team, "pre": pre, "post": post})


def exact_size(n: int, alpha: float = 0.05) -> float:
    """Attainable size of the exact two-sided signed-rank test at level ``alpha``."""
    v = np.arange(n * (n + 1) // 2 + 1, dtype=float)
    nn = np.full(v.shape, n)
    cdf = _psignrank(v, nn)
    p = np.minimum(1, 2 * np.where(v > n * (n + 1) / 4, 1 - _psignrank(v - 1, nn), cdf))
    pmf = np.diff(np.concatenate([[0.0], cdf]))
    return float(pmf[p <= alpha].sum())


def test_t_interval_covers_the_truth():
    truth = 0.5
    res = paired_summary(simulate(1, effect=truth), by=["team"], n_boot=0)
    assert len(res) == N_TEAMS
    cover = ((res["ci_low"] <= truth) & (truth <= res["ci_high"])).mean()
    assert 0.93 <= cover <= 0.97, cover


def test_t_test_size_under_the_null():
    res = paired_summary(simulate(2), by=["team"], n_boot=0)
    rate = (res["t_p_value"] < 0.05).mean()
    assert 0.035 <= rate <= 0.065, rate


@pytest.mark.parametrize("size", [7, 8, 10, 14])
def test_wilcoxon_size_under_the_null(size):
    res = paired_summary(simulate(3 + size, sizes=(size,)), by=["team"], n_boot=0)
    assert (res["wilcoxon_method"] == "exact").all()
    rate = (res["wilcoxon_p_value"] < 0.05).mean()
    assert 0.035 <= rate <= 0.065, rate


def test_wilcoxon_matches_its_attainable_size_for_every_team_size():
    """With 5-6 pairs the exact test cannot reach 5 % (n = 5 never rejects); the observed
    rejection rate equals the attainable size of the exact test."""
    sim = simulate(4)
    res = paired_summary(sim, by=["team"], n_boot=0)
    res["size"] = sim.groupby("team").size().to_numpy()
    for n, g in res.groupby("size"):
        target = exact_size(int(n))
        rate = (g["wilcoxon_p_value"] < 0.05).mean()
        se = np.sqrt(max(target, 1e-3) * (1 - target) / len(g))
        assert abs(rate - target) <= 4 * se, (n, rate, target)
    assert exact_size(5) == 0.0


def test_likert_null_tests_do_not_overreject():
    """Team-sized 1-5 answers (ties, zeros: normal approximation) stay at or below 5 %."""
    res = paired_summary(simulate(5, sizes=(8,), likert=True), by=["team"], n_boot=0)
    ok = res["t_p_value"].notna()
    t_rate = (res.loc[ok, "t_p_value"] < 0.05).mean()
    w = res["wilcoxon_p_value"].notna()
    w_rate = (res.loc[w, "wilcoxon_p_value"] < 0.05).mean()
    assert 0.02 <= t_rate <= 0.065, t_rate
    assert w_rate <= 0.065, w_rate


def test_dz_and_rank_biserial_intervals_cover():
    truth_dz = 0.5 / 1.0  # differences ~ N(0.5, 1)
    res = paired_summary(simulate(6, effect=0.5, sizes=(8,)), by=["team"], n_boot=0)
    cover = ((res["dz_ci_low"] <= truth_dz) & (truth_dz <= res["dz_ci_high"])).mean()
    assert 0.93 <= cover <= 0.97, cover


def test_bca_coverage_for_larger_groups():
    """BCa of the mean: close to nominal with 30 pairs.

    Bootstrap intervals of a mean are known to undercover a little (they use the plug-in
    variance and normal rather than t quantiles: about 93 % at n = 30, less for teams of
    5-8), so the bound is wider than for the t-interval. On these 1,000 datasets the
    engine covers 90.5 %, ``scipy.stats.bootstrap(method="BCa")`` 89.8 % and the
    t-interval 93.5 % (an unlucky draw for all three).
    """
    truth = 0.5
    sim = simulate(7, n_teams=1000, sizes=(30,), effect=truth)
    res = paired_summary(sim, by=["team"], n_boot=2000, seed=1)
    cover = ((res["boot_ci_low"] <= truth) & (truth <= res["boot_ci_high"])).mean()
    assert 0.88 <= cover <= 0.97, cover


def test_engine_equals_scipy_loop_on_many_groups():
    """The vectorised engine equals an obvious scipy loop (one group at a time) to 1e-9."""
    from test_paired import _random_groups, _scipy_one

    frame = _random_groups(2026, 300)
    ours = paired_summary(frame, by=["g"], n_boot=0).set_index("g")
    ref = pd.DataFrame.from_dict(
        {
            g: _scipy_one(s["pre"].to_numpy(), s["post"].to_numpy(), 0.95)
            for g, s in frame.groupby("g")
        },
        orient="index",
    )
    for c in ref.columns:
        a, b = ours[c].astype(float), ref[c].astype(float)
        bad = ~(a.isna() & b.isna()) & ~((a - b).abs() <= 1e-9)
        assert not bad.any(), (c, pd.DataFrame({"ours": a[bad], "scipy": b[bad]}))
