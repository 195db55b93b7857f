"""The optimised paths (integer codes + numpy) against the plain pandas versions they replaced.

The slow references below are the pre-optimisation implementations, kept here so that the
fast code is checked to give identical results (scores, exclusion reasons) or the same
bootstrap distribution (exact lattice sampler vs resampling pairs). No timing here: the
benchmarks live in ``benchmarks/`` (``make bench``).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

import envejind_eval as ee
from envejind_eval.analysis import paired as pm
from envejind_eval.analysis import progression as pg
from envejind_eval.instruments import scoring
from envejind_eval.schema import TIMEPOINTS

_KEYS = ["participant_id", "rater", "timepoint"]

pytestmark = pytest.mark.filterwarnings("ignore:Constructing a Categorical")


def slow_score_instrument(measurements, instrument, *, level="domain", min_answered_share=None):
    """The groupby/merge/map implementation of ``score_instrument`` (reference)."""
    share = instrument.min_answered_share if min_answered_share is None else min_answered_share
    m = measurements.loc[measurements["instrument"] == instrument.id, [*_KEYS, "item", "value"]]
    m = m.loc[m["item"].isin(instrument.item_ids)]
    v = m["value"].to_numpy(dtype=float, copy=True)
    v[np.isin(v, np.asarray(instrument.missing_codes, dtype=float))] = np.nan
    v[(v < instrument.scale_min) | (v > instrument.scale_max)] = np.nan
    rev = m["item"].map({i.id: i.reverse for i in instrument.items}).to_numpy(dtype=bool)
    v = np.where(rev, instrument.scale_min + instrument.scale_max - v, v)
    m = m.assign(value=v)
    if level == "item":
        out = m.rename(columns={"item": "unit", "value": "score"}).assign(
            n_items=1, n_answered=lambda d: d["score"].notna().astype(int)
        )
    else:
        if level == "domain":
            m = m.assign(unit=m["item"].map({i.id: i.domain for i in instrument.items}))
            n_items = pd.Series(
                {d: sum(i.domain == d for i in instrument.items) for d in instrument.domain_ids}
            )
        else:
            m = m.assign(unit="total")
            n_items = pd.Series({"total": len(instrument.items)})
        forms = m[_KEYS].drop_duplicates()
        grid = forms.merge(pd.DataFrame({"unit": n_items.index}), how="cross")
        agg = m.groupby([*_KEYS, "unit"], sort=False)["value"].agg(["sum", "count"]).reset_index()
        out = grid.merge(agg, on=[*_KEYS, "unit"], how="left")
        out["n_items"] = out["unit"].map(n_items).astype(int)
        out["n_answered"] = out["count"].fillna(0).astype(int)
        enough = out["n_answered"] >= share * out["n_items"] - 1e-9
        out["score"] = np.where(
            enough & (out["n_answered"] > 0), out["sum"] / out["n_answered"].clip(lower=1), np.nan
        )
    out = out.assign(instrument=instrument.id, level=level)
    unit_order = instrument.item_ids if level == "item" else [*instrument.domain_ids, "total"]
    order = np.lexsort(
        (
            pd.Categorical(out["unit"], categories=unit_order).codes,
            pd.Categorical(out["timepoint"], categories=list(TIMEPOINTS)).codes,
            pd.Categorical(out["rater"]).codes,
            pd.Categorical(out["participant_id"]).codes,
        )
    )
    cols = ["participant_id", "instrument", "rater", "timepoint", "level", "unit", "score"]
    return out.iloc[order][[*cols, "n_items", "n_answered"]].reset_index(drop=True)


def slow_format_reasons(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The groupby/agg implementation of the exclusion-reason texts (reference)."""
    ex = frame.loc[frame["_reason"] != ""]
    if not len(ex):
        return pd.DataFrame(columns=[*keys, "exclusion_reasons"])
    cnt = (
        ex.groupby([*keys, "_reason"], observed=True, dropna=False).size().rename("k").reset_index()
    )
    cnt["_reason"] = cnt["_reason"].astype(str)
    cnt = cnt.sort_values([*keys, "k", "_reason"], ascending=[True] * len(keys) + [False, True])
    cnt["txt"] = cnt["_reason"].astype(str) + ": " + cnt["k"].astype(str)
    out = cnt.groupby(keys, observed=True, dropna=False, sort=False)["txt"].agg("; ".join)
    return out.rename("exclusion_reasons").reset_index()


@pytest.fixture(scope="module")
def sample() -> ee.Dataset:
    return ee.Dataset.from_canonical(ee.sample_path() / "canonical")


def _messy(ds: ee.Dataset) -> pd.DataFrame:
    """Sample measurements with missing codes, out-of-scale values, blanks, unknown items
    and an unknown timepoint label mixed in."""
    m = ds.measurements.copy()
    rng = np.random.default_rng(0)
    v = m["value"].to_numpy(dtype=float, copy=True)
    k = len(v)
    v[rng.choice(k, k // 10, replace=False)] = np.nan
    v[rng.choice(k, k // 20, replace=False)] = 99.0
    v[rng.choice(k, k // 50, replace=False)] = -3.0
    m["value"] = v
    item = m["item"].astype(object).to_numpy(copy=True)
    item[rng.choice(k, k // 50, replace=False)] = "not_an_item"
    m["item"] = pd.array(item.astype(str), dtype="str")
    tp = m["timepoint"].astype(object).to_numpy(copy=True)
    tp[rng.choice(k, k // 100, replace=False)] = "later"
    m["timepoint"] = pd.array(tp.astype(str), dtype="str")
    return m.iloc[rng.permutation(k)].reset_index(drop=True)


@pytest.mark.parametrize("level", ["item", "domain", "total"])
@pytest.mark.parametrize("share", [None, 1.0, 0.25])
def test_scoring_identical_to_pandas_reference(sample, level, share):
    meas = _messy(sample)
    for inst in sample.instruments.values():
        fast = scoring.score_instrument(meas, inst, level=level, min_answered_share=share)
        slow = slow_score_instrument(meas, inst, level=level, min_answered_share=share)
        pd.testing.assert_frame_equal(fast, slow, check_exact=True)


def test_scoring_identical_on_empty_input(sample):
    meas = sample.measurements.iloc[:0]
    inst = sample.instruments["ungestjernen"]
    for level in ["item", "domain", "total"]:
        fast = scoring.score_instrument(meas, inst, level=level)
        assert len(fast) == 0
        assert list(fast.columns) == list(slow_score_instrument(meas, inst, level=level).columns)


def test_exclusion_reasons_identical_to_pandas_reference(sample):
    inst = sample.instruments["lfl"]
    for by in (["municipality"], ["cohort_id", "municipality"], []):
        uni, _, _ = pg._universe(
            sample, inst, level="domain", timepoints=["baseline", "end"], rater=None, by=by
        )
        keys = [*by, "rater", "unit"]
        frame = uni[keys].copy()
        frame["_reason"] = pg._reason_labels(uni, "baseline", "end")
        gcodes = frame.groupby(keys, observed=True, dropna=False, sort=True).ngroup()
        fast = pg._format_reasons(
            gcodes.to_numpy(np.int64), frame["_reason"].array, int(gcodes.max()) + 1
        )
        keyframe = frame.groupby(keys, observed=True, dropna=False, sort=True).size()
        keyframe = keyframe.index.to_frame(index=False)
        slow = keyframe.merge(slow_format_reasons(frame, keys), on=keys, how="left")
        expected = slow["exclusion_reasons"].fillna("").astype(str).tolist()
        assert fast.tolist() == expected
        assert any(expected)


def _brute_sum_pmf(values: np.ndarray, probs: np.ndarray, n: int) -> dict[int, float]:
    """Distribution of the sum of ``n`` draws by enumerating every ordered sample."""
    out: dict[int, float] = {}
    for draw in itertools.product(range(len(values)), repeat=n):
        s = int(sum(values[i] for i in draw))
        out[s] = out.get(s, 0.0) + math.prod(probs[i] for i in draw)
    return out


def test_exact_bootstrap_distribution_matches_enumeration():
    m_run = np.array([0, 2, 5, 0, 1])  # group 0: lattice indices 0, 2, 5; group 1: 0, 1
    p_run = np.array([0.5, 0.3, 0.2, 0.25, 0.75])
    run_g = np.array([0, 0, 0, 1, 1])
    ng = np.array([4, 6])
    pmf, sizes = pm._boot_sum_pmf(m_run, p_run, run_g, ng)
    assert sizes.tolist() == [4 * 5 + 1, 6 * 1 + 1]
    for g, off in ((0, 0), (1, int(sizes[0]))):
        sel = run_g == g
        ref = _brute_sum_pmf(m_run[sel], p_run[sel], int(ng[g]))
        got = pmf[off : off + sizes[g]]
        want = np.array([ref.get(k, 0.0) for k in range(sizes[g])])
        np.testing.assert_allclose(got, want, atol=1e-12)


def test_lattice_detection():
    # group 0: integers; group 1: thirds; group 2: one value; group 3: irrational steps
    vals = np.array([-2.0, 1.0, 3.0, -1 / 3, 0.0, 2 / 3, 0.5, 0.0, math.pi])
    grp = np.array([0, 0, 0, 1, 1, 1, 2, 3, 3])
    first = np.array([0, 3, 6, 7])
    step, m_run, _ = pm._lattice(vals, grp, first, np.arange(4))
    assert step[0] == 1 and m_run[:3].tolist() == [0, 3, 5]
    assert step[1] == pytest.approx(1 / 3) and m_run[3:6].tolist() == [0, 1, 3]
    assert step[2] == 1 and m_run[6] == 0
    assert np.isnan(step[3])


def _likert_frame(n_groups: int = 12, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = rng.integers(60, 300, n_groups)
    g = np.repeat(np.arange(n_groups), n)
    pre = rng.integers(1, 11, len(g))
    post = np.clip(pre + rng.integers(-3, 5, len(g)), 1, 10)
    return pd.DataFrame({"g": g, "pre": pre / 2.0, "post": post / 2.0})  # steps of 1/2


def test_lattice_sampler_agrees_with_multinomial_resampling(monkeypatch):
    """Same bootstrap distribution: the BCa limits agree within Monte-Carlo error."""
    frame = _likert_frame()
    fast = pm.paired_summary(frame, by=["g"], n_boot=20000, seed=4)
    monkeypatch.setattr(pm, "_LATTICE_MAX", 0)  # forces the multinomial-count path
    slow = pm.paired_summary(frame, by=["g"], n_boot=20000, seed=4)
    width = slow["boot_ci_high"] - slow["boot_ci_low"]
    assert (np.abs(fast["boot_ci_low"] - slow["boot_ci_low"]) / width).max() < 0.05
    assert (np.abs(fast["boot_ci_high"] - slow["boot_ci_high"]) / width).max() < 0.05
    cols = [c for c in pm.PAIRED_COLUMNS if not c.startswith("boot_")]
    pd.testing.assert_frame_equal(fast[cols], slow[cols])


def test_lattice_sampler_deterministic_and_seeded():
    frame = _likert_frame(seed=1)
    a = pm.paired_summary(frame, by=["g"], n_boot=2000, seed=9)
    b = pm.paired_summary(frame, by=["g"], n_boot=2000, seed=9)
    c = pm.paired_summary(frame, by=["g"], n_boot=2000, seed=10)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["boot_ci_low"], c["boot_ci_low"])
    assert (a["boot_ci_low"] <= a["mean_diff"]).all()
    assert (a["mean_diff"] <= a["boot_ci_high"]).all()


def slow_reliabilities_alpha(ds, inst, raters, units, level):
    """Cronbach's alpha per rater x unit from a pivot table of baseline item scores."""
    it = ee.scores(ds, inst.id, level="item")
    it = it.loc[it["timepoint"] == "baseline"]
    wide = it.pivot_table(
        index=["rater", "participant_id"], columns="unit", values="score", aggfunc="first"
    )
    dom = {i.id: i.domain for i in inst.items}
    out = []
    for rt in raters:
        for u in units:
            items = [i for i in inst.item_ids if u == "total" or dom[i] == u]
            sub = pd.DataFrame(wide.xs(rt, level="rater")).reindex(columns=items)
            a = pg._cronbach_alpha(sub)
            out.append(a if np.isfinite(a) and 0 < a < 1 else np.nan)
    return np.array(out)


@pytest.mark.parametrize("level", ["domain", "total"])
def test_estimated_reliability_matches_pivot_reference(sample, level):
    """Alpha from integer-code matrices equals the pivot-table version (to summation order)."""
    for inst in sample.instruments.values():
        units = list(inst.domain_ids) if level == "domain" else ["total"]
        raters = list(inst.raters)
        raters = [r for r in raters if r in set(sample.measurements["rater"])]
        fast = pg._reliabilities(
            sample, inst, level=level, raters=raters, units=units, reliability="estimate"
        )
        slow = slow_reliabilities_alpha(sample, inst, raters, units, level)
        np.testing.assert_allclose(fast["reliability"].to_numpy(), slow, rtol=1e-12)


def slow_ncp_root(df, p, t):
    """Noncentrality by bisection on ``nctdtr`` from ``nctdtrinc`` (the replaced solver)."""
    from scipy import special

    x0 = special.nctdtrinc(df, p, t)
    x0 = np.where(np.isfinite(x0), x0, t)
    lo, hi = np.full_like(x0, np.nan), np.full_like(x0, np.nan)
    todo = np.ones(x0.shape, dtype=bool)
    for w in (1e-4, 1e-2, 1.0, 5.0):
        a, b = x0 - w, x0 + w
        ok = todo & (special.nctdtr(df, a, t) >= p) & (special.nctdtr(df, b, t) <= p)
        lo[ok], hi[ok] = a[ok], b[ok]
        todo &= ~ok
    for _ in range(60):
        if not np.any(hi - lo > 1e-12 * np.maximum(1.0, np.abs(lo))):
            break
        mid = (lo + hi) / 2
        above = special.nctdtr(df, mid, t) > p
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    return np.where(todo, x0, (lo + hi) / 2)


def test_ncp_root_matches_bisection():
    rng = np.random.default_rng(3)
    df = rng.integers(1, 400, 500).astype(float)
    t = np.concatenate([rng.normal(0, 3, 400), rng.normal(0, 25, 100)])
    for p in (0.025, 0.975, 0.005):
        np.testing.assert_allclose(
            pm._ncp_root(df, p, t), slow_ncp_root(df, p, t), rtol=1e-11, atol=1e-12
        )
    # both tails in one call give the same as one call per tail
    both = pm._ncp_root(np.concatenate([df, df]), np.repeat([0.975, 0.025], 500), np.tile(t, 2))
    np.testing.assert_array_equal(both[:500], pm._ncp_root(df, 0.975, t))
    np.testing.assert_array_equal(both[500:], pm._ncp_root(df, 0.025, t))


def _messy_dataset(ds: ee.Dataset) -> ee.Dataset:
    """Missing municipalities, measurement rows shuffled (no run per instrument) and a
    fifth of them dropped (participants without forms)."""
    rng = np.random.default_rng(1)
    tabs = dict(ds._tables)
    p = tabs["participants"].copy()
    mun = p["municipality"].astype(object).to_numpy(copy=True)
    mun[rng.choice(len(p), 7, replace=False)] = None
    p["municipality"] = pd.array(mun, dtype=p["municipality"].dtype)
    m = tabs["measurements"]
    m = m.iloc[rng.permutation(len(m))]
    tabs["participants"] = p
    tabs["measurements"] = m.iloc[rng.random(len(m)) > 0.2].reset_index(drop=True)
    return ee.Dataset(tabs, ds.instruments)


@pytest.mark.parametrize("messy", [False, True])
@pytest.mark.parametrize("by", [None, "municipality", ["cohort_id", "municipality"], "sex"])
@pytest.mark.parametrize("level", ["item", "domain"])
def test_pre_post_groups_match_groupby_on_universe(sample, messy, by, level):
    """pre_post's groups (a groupby of the participants, then rater × unit) and statistics
    equal paired_summary with a pandas groupby over the whole universe frame."""
    ds = _messy_dataset(sample) if messy else sample
    inst = ds.instruments["ungestjernen"]
    by_l = pg._as_list(by)
    res = ee.pre_post(ds, inst.id, level=level, by=by, n_boot=200, seed=5)
    uni, _, _ = pg._universe(
        ds, inst, level=level, timepoints=["baseline", "end"], rater=None, by=by_l
    )
    ref = pm.paired_summary(
        uni,
        by=[*by_l, "rater", "unit"],
        pre="baseline",
        post="end",
        higher_is_better=inst.higher_is_better,
        n_boot=200,
        seed=5,
    )
    assert len(res) == len(ref)
    for c in ["rater", "unit", *by_l]:
        pd.testing.assert_series_equal(res[c].astype(str), ref[c].astype(str), check_dtype=False)
    cols = [c for c in pm.PAIRED_COLUMNS if c != "note"]
    pd.testing.assert_frame_equal(res[cols], ref[cols], check_exact=True)
