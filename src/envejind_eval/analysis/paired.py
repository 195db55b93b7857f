"""Paired pre/post statistics for many groups at once.

One sort and segmented reductions (``np.bincount`` / ``np.add.reduceat``) compute the
paired t-test, the Wilcoxon signed-rank test, Cohen's d_z, the matched-pairs rank-biserial
correlation and a BCa bootstrap interval for every group in a single pass; there is no
Python loop over groups (the bootstrap is batched in memory-bounded chunks of groups).

Every number follows an R reference (see ``docs/statistics.md`` and
``tests/reference/make_reference.R``):

- ``t.test(post, pre, paired = TRUE)``
- ``wilcox.test(post, pre, paired = TRUE)``
- ``effectsize::cohens_d(post, pre, paired = TRUE)``
- ``effectsize::rank_biserial(post, pre, paired = TRUE)``
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
import pandas as pd
from scipy import special
from scipy import stats as st

__all__ = ["PAIRED_COLUMNS", "paired_summary", "wilson_interval", "holm"]

#: Output columns after the ``by`` columns, in order (a stable contract).
PAIRED_COLUMNS: list[str] = [
    "n",
    "n_excluded",
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
    "n_improved",
    "n_unchanged",
    "n_worsened",
    "note",
]

_EPS = np.finfo(float).eps
#: R's ``wilcox.test`` uses the exact null distribution below this many non-zero pairs.
EXACT_MAX_N = 50
#: Upper bound on bootstrap draws held in memory at once (n_boot x pairs in a chunk).
_BOOT_CHUNK = 4_000_000


@cache
def _signrank_cdf_table() -> np.ndarray:
    """``P(V <= k)`` under H0 for n = 0..49 (rows) and k = 0..1225 (columns).

    Counts of subsets of {1..n} with sum k (the recursion behind R's ``psignrank``);
    exact in double precision because every count is below 2**53.
    """
    kmax = (EXACT_MAX_N - 1) * EXACT_MAX_N // 2
    table = np.zeros((EXACT_MAX_N, kmax + 1))
    counts = np.zeros(kmax + 1)
    counts[0] = 1.0
    table[0] = 1.0
    for n in range(1, EXACT_MAX_N):
        nxt = counts.copy()
        nxt[n:] += counts[:-n]
        counts = nxt
        table[n] = np.cumsum(counts) / 2.0**n
    return table


def _psignrank(q: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Vectorised ``psignrank(q, n)`` (lower tail ``P(V <= q)``) for n < 50."""
    table = _signrank_cdf_table()
    k = np.floor(q + 1e-7).astype(np.int64)
    out = np.where(k < 0, 0.0, 1.0)
    ok = (k >= 0) & (k < n * (n + 1) // 2)
    out[ok] = table[n[ok], k[ok]]
    return out


def _ncp_root(df: np.ndarray, p: np.ndarray | float, t: np.ndarray) -> np.ndarray:
    """Noncentrality λ with ``P(T_{df,λ} <= t) = p`` (vectorised, to ~1e-13).

    ``scipy.special.nctdtrinc`` gives a start that can be off by 1e-6; it is polished by
    Chandrupatla's bracketing method (``scipy.optimize.elementwise.find_root``, ~8
    evaluations of ``scipy.special.nctdtr`` where bisection took ~30) inside the first of
    a few widening brackets around the start that holds the root; the start is kept
    where none does.
    """
    from scipy.optimize.elementwise import find_root

    def f(x: np.ndarray, df: np.ndarray, t: np.ndarray, p: np.ndarray) -> np.ndarray:
        return special.nctdtr(df, x, t) - p

    p = np.broadcast_to(np.asarray(p, dtype=float), np.shape(t))
    x0 = special.nctdtrinc(df, p, t)
    x0 = np.where(np.isfinite(x0), x0, t)
    out = x0.copy()
    todo = np.ones(x0.shape, dtype=bool)
    for w in (1e-4, 1e-2, 1.0, 5.0):
        idx = np.flatnonzero(todo)
        if not len(idx):
            break
        x, d, tt, pp = x0[idx], df[idx], t[idx], p[idx]
        with np.errstate(invalid="ignore"):
            res = find_root(
                f, (x - w, x + w), args=(d, tt, pp), tolerances={"xatol": 1e-13, "xrtol": 1e-13}
            )
        ok = res.success
        out[idx[ok]] = res.x[ok]
        todo[idx[ok]] = False
    return out


def wilson_interval(
    successes: np.ndarray | float, n: np.ndarray | float, *, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion (vectorised; NaN where ``n == 0``).

    Notes
    -----
    ``(k + z²/2) / (n + z²) ± z / (n + z²) · sqrt(k (n − k) / n + z² / 4)`` with
    ``z = Φ⁻¹((1 + confidence) / 2)``; the same as R
    ``prop.test(k, n, correct = FALSE)$conf.int`` and ``binom::binom.wilson``.

    Examples
    --------
    >>> lo, hi = wilson_interval(3, 8)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.1368, 0.6943)
    """
    k = np.asarray(successes, dtype=float)
    m = np.asarray(n, dtype=float)
    z = st.norm.ppf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = (k + z * z / 2) / (m + z * z)
        half = z / (m + z * z) * np.sqrt(k * (m - k) / m + z * z / 4)
    lo = np.where(m > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
    hi = np.where(m > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return lo, hi


def holm(p: np.ndarray | Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values, NaN kept in place (R ``p.adjust(p, "holm")``).

    Notes
    -----
    With the m non-missing p-values sorted ascending, ``p_(i) · (m − i + 1)``, made
    monotone by a cumulative maximum and capped at 1.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03, float("nan")]).tolist()
    [0.03, 0.06, 0.06, nan]
    """
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return out
    pv = p[ok]
    order = np.argsort(pv, kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * pv[order]))
    res = np.empty(m)
    res[order] = adj
    out[ok] = res
    return out


def _check(
    frame: pd.DataFrame,
    by: Sequence[str],
    pre: str,
    post: str,
    higher_is_better: bool,
    confidence: float,
    n_boot: int,
) -> list[str]:
    if isinstance(by, str):
        by = [by]
    by = list(by)
    missing = [c for c in [*by, pre, post] if c not in frame.columns]
    if missing:
        raise ValueError(
            f"Expecting columns {', '.join([*by, pre, post])} in frame; "
            f"missing {', '.join(missing)}"
        )
    if pre == post or pre in by or post in by:
        raise ValueError("pre, post and the by columns must be distinct")
    _check_options(higher_is_better, confidence, n_boot)
    return by


def _check_options(higher_is_better: bool, confidence: float, n_boot: int) -> None:
    if not isinstance(higher_is_better, bool | np.bool_):
        raise ValueError(
            f"Expecting one of True, False for higher_is_better; got {higher_is_better!r}"
        )
    if not (isinstance(confidence, float | int) and 0 < confidence < 1):
        raise ValueError(f"Expecting confidence in (0, 1); got {confidence!r}")
    if not isinstance(n_boot, int | np.integer) or isinstance(n_boot, bool) or n_boot < 0:
        raise ValueError(f"Expecting a non-negative integer n_boot; got {n_boot!r}")
    if 0 < n_boot < 100:
        raise ValueError(f"Expecting n_boot = 0 (no bootstrap) or at least 100; got {n_boot}")


def _group_codes(frame: pd.DataFrame, by: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Group code per row (sorted by the ``by`` values, NaN keys kept) and the key table."""
    if not by:
        return np.zeros(len(frame), dtype=np.int64), pd.DataFrame(
            index=range(1 if len(frame) else 0)
        )
    g = frame.groupby(by, sort=True, dropna=False, observed=True)
    codes = g.ngroup().to_numpy(dtype=np.int64)
    keys = g.size().index.to_frame(index=False)
    return codes, keys


def _segment_starts(sorted_codes: np.ndarray, n_groups: int) -> np.ndarray:
    return np.searchsorted(sorted_codes, np.arange(n_groups), side="left")


def paired_summary(
    frame: pd.DataFrame,
    *,
    by: Sequence[str] = (),
    pre: str = "pre",
    post: str = "post",
    higher_is_better: bool = True,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Paired pre/post tests and effect sizes for every group of ``frame`` at once.

    Parameters
    ----------
    frame
        One row per pair (e.g. participant × unit) with numeric ``pre`` and ``post``
        columns and the grouping columns ``by``. Rows where ``pre`` or ``post`` is
        missing are counted in ``n_excluded`` and left out of every statistic.
    by
        Grouping columns; one output row per combination present (missing keys form their
        own group). An empty list treats the whole frame as one group.
    pre, post
        Column names of the two measurements. Differences are ``post − pre``.
    higher_is_better
        Direction of the scale; decides whether a positive difference counts towards
        ``n_improved`` or ``n_worsened``. It does not change the sign of any statistic.
    confidence
        Level of every interval (t, d_z, rank-biserial, bootstrap).
    n_boot
        Bootstrap resamples for the BCa interval; ``0`` skips the bootstrap (NaN columns).
    seed
        Seed of the bootstrap; the same input and seed give identical output.

    Returns
    -------
    DataFrame
        The ``by`` columns, then (see ``PAIRED_COLUMNS``):

        ``n`` (complete pairs), ``n_excluded`` (rows with ``pre`` or ``post`` missing),
        ``mean_pre``, ``mean_post``, ``mean_diff`` (mean of ``post − pre``), ``sd_diff``,
        ``ci_low``/``ci_high`` (t-interval of ``mean_diff``), ``t_statistic``, ``t_df``,
        ``t_p_value`` (two-sided), ``wilcoxon_v`` (sum of the ranks of the positive
        differences), ``wilcoxon_p_value`` (two-sided), ``wilcoxon_method`` (``"exact"``,
        ``"normal_cc"`` or ``""`` when not computed), ``cohens_dz`` with
        ``dz_ci_low``/``dz_ci_high``, ``rank_biserial`` with ``rb_ci_low``/``rb_ci_high``,
        ``boot_ci_low``/``boot_ci_high`` (BCa), ``n_improved``, ``n_unchanged``,
        ``n_worsened`` (raw direction of change) and ``note`` (why values are NaN; ``""``
        when nothing is missing).

    Notes
    -----
    With ``d = post − pre`` over the ``n`` complete pairs of a group, ``d̄`` its mean and
    ``s`` its standard deviation (denominator ``n − 1``):

    - t-test: ``t = d̄ / (s / √n)``, ``df = n − 1``, two-sided p from Student's t and the
      interval ``d̄ ± t_{df, (1+conf)/2} · s / √n``. As R ``t.test(post, pre, paired =
      TRUE)``, which stops with "data are essentially constant" when
      ``s/√n < 10 · ε · |d̄|``; we return NaN with a note instead.
    - Wilcoxon signed-rank: zero differences are dropped, the rest ranked by ``|d|``
      (average ranks for ties) and ``V = Σ ranks of d > 0``. Exactly as R
      ``wilcox.test(post, pre, paired = TRUE)``: the exact null distribution when fewer
      than 50 non-zero differences remain *and* there were neither ties nor zeros;
      otherwise the normal approximation
      ``z = (V − m(m+1)/4 − sign · 0.5) / sqrt(m(m+1)(2m+1)/24 − Σ(t³ − t)/48)``
      (continuity and tie correction; ``m`` = non-zero pairs).
    - Cohen's d_z ``= d̄ / s``, as ``effectsize::cohens_d(post, pre, paired = TRUE)``;
      interval from the noncentral t: the noncentrality parameters λ with
      ``P(T_{df, λ} ≤ t) = (1 ± conf)/2``, divided by ``√n`` (effectsize finds λ with
      ``optim``; we solve to ~1e-13: ``scipy.special.nctdtrinc``, refined by a bracketing
      root finder on ``scipy.special.nctdtr``).
    - Matched-pairs rank-biserial ``r = (R⁺ − R⁻) / (m(m+1)/2)`` over the non-zero
      differences, as ``effectsize::rank_biserial(post, pre, paired = TRUE)``; interval
      ``tanh(atanh(r) ± z · SE)`` with ``SE = sqrt((2m³ + 3m² + m)/6) / (m(m+1)/2)``.
    - BCa bootstrap of ``d̄`` (Efron 1987): ``n_boot`` resamples of the pairs, bias
      correction ``z₀ = Φ⁻¹((#{θ* < θ̂} + #{θ* ≤ θ̂}) / (2B))``, jackknife acceleration
      ``a = Σ(d − d̄)³ / (6 (Σ(d − d̄)²)^{3/2})`` (closed form for the mean); percentiles
      by linear interpolation, as ``scipy.stats.bootstrap(method="BCa")`` and R
      ``boot::boot.ci(type = "bca")`` up to Monte-Carlo error. When a group's differences
      are few and lie on a lattice ``a + m·h`` (item scores, most domain means) the
      ``n_boot`` resampled sums are drawn from their exact distribution (the n-fold
      convolution of the observed distribution, by FFT): the same bootstrap distribution
      as resampling pairs, at one uniform draw per resample.

    Examples
    --------
    >>> import pandas as pd
    >>> from envejind_eval.analysis.paired import paired_summary
    >>> df = pd.DataFrame({"team": ["a"] * 5 + ["b"] * 6,
    ...                    "pre": [3, 4, 2, 5, 3, 1, 2, 2, 3, 4, 2],
    ...                    "post": [5, 4, 4, 6, 5, 2, 2, 4, 3, 6, 5]})
    >>> out = paired_summary(df, by=["team"], n_boot=0)
    >>> out[["team", "n", "mean_diff", "wilcoxon_method"]]
      team  n  mean_diff wilcoxon_method
    0    a  5   1.400000       normal_cc
    1    b  6   1.333333       normal_cc
    >>> round(float(out.loc[0, "t_p_value"]), 4)  # t.test(post, pre, paired = TRUE)
    0.0249
    """
    by = _check(frame, by, pre, post, higher_is_better, confidence, n_boot)
    codes_all, keys = _group_codes(frame, by)
    x_pre = pd.to_numeric(frame[pre], errors="raise").to_numpy(dtype=float, na_value=np.nan)
    x_post = pd.to_numeric(frame[post], errors="raise").to_numpy(dtype=float, na_value=np.nan)
    cols = _paired_columns(
        codes_all,
        len(keys),
        x_pre,
        x_post,
        higher_is_better=higher_is_better,
        confidence=confidence,
        n_boot=n_boot,
        seed=seed,
    )
    out = keys.copy()
    for c in PAIRED_COLUMNS:
        out[c] = cols[c]  # type: ignore[call-overload]  # numpy or pandas arrays
    out["wilcoxon_method"] = out["wilcoxon_method"].astype("str")
    return out.reset_index(drop=True)


def _paired_columns(
    codes_all: np.ndarray,
    n_groups: int,
    x_pre: np.ndarray,
    x_post: np.ndarray,
    *,
    higher_is_better: bool,
    confidence: float,
    n_boot: int,
    seed: int,
) -> dict[str, object]:
    """The columns of :func:`paired_summary` (``PAIRED_COLUMNS``) from arrays: group code
    (0..n_groups-1) and the two measurements of every row (validated by the caller)."""
    complete = np.isfinite(x_pre) & np.isfinite(x_post)
    n_excl = np.bincount(codes_all[~complete], minlength=n_groups)

    codes = codes_all[complete]
    d_unsorted = x_post[complete] - x_pre[complete]
    pre_c, post_c = x_pre[complete], x_post[complete]
    n = np.bincount(codes, minlength=n_groups)
    nf = n.astype(float)

    with np.errstate(invalid="ignore", divide="ignore"):
        mean_pre = np.bincount(codes, pre_c, n_groups) / nf
        mean_post = np.bincount(codes, post_c, n_groups) / nf
        mean_d = np.bincount(codes, d_unsorted, n_groups) / nf
        # two-pass variance (numerically stable, like R's var)
        dev = d_unsorted - mean_d[codes]
        ss = np.bincount(codes, dev * dev, n_groups)
        sd = np.sqrt(ss / (nf - 1))
        sd[n < 2] = np.nan
        m3 = np.bincount(codes, dev**3, n_groups)

        # -- t-test ---------------------------------------------------------------------
        df = nf - 1
        se = sd / np.sqrt(nf)
        constant = (n >= 2) & ((se < 10 * _EPS * np.abs(mean_d)) | (ss == 0))
        t_ok = (n >= 2) & ~constant
        tstat = np.where(t_ok, mean_d / se, np.nan)
        tdf = np.where(n >= 2, df, np.nan)
        tp = np.where(t_ok, 2 * st.t.sf(np.abs(tstat), df), np.nan)
        q = st.t.ppf(0.5 + confidence / 2, np.where(n >= 2, df, 1.0))
        ci_low = np.where(t_ok, mean_d - q * se, np.nan)
        ci_high = np.where(t_ok, mean_d + q * se, np.nan)

        # -- Cohen's d_z and its noncentral-t interval ----------------------------------
        dz = np.where(t_ok, mean_d / sd, np.nan)
        dz_lo = np.full(n_groups, np.nan)
        dz_hi = np.full(n_groups, np.nan)
        if t_ok.any():
            alpha = 1 - confidence
            tt, ddf, nn = tstat[t_ok], df[t_ok], nf[t_ok]
            # both limits in one vectorised solve
            k = len(tt)
            lam = _ncp_root(
                np.concatenate([ddf, ddf]),
                np.repeat([1 - alpha / 2, alpha / 2], k),
                np.concatenate([tt, tt]),
            )
            dz_lo[t_ok] = lam[:k] / np.sqrt(nn)
            dz_hi[t_ok] = lam[k:] / np.sqrt(nn)

    # -- Wilcoxon signed rank and rank-biserial (non-zero differences) ----------------
    wil = _signed_rank(codes, d_unsorted, n_groups, confidence)

    # -- direction counts ---------------------------------------------------------------
    pos = np.bincount(codes[d_unsorted > 0], minlength=n_groups)
    neg = np.bincount(codes[d_unsorted < 0], minlength=n_groups)
    zero = n - pos - neg
    n_improved, n_worsened = (pos, neg) if higher_is_better else (neg, pos)

    # -- BCa bootstrap ------------------------------------------------------------------
    boot_lo = np.full(n_groups, np.nan)
    boot_hi = np.full(n_groups, np.nan)
    boot_ok = t_ok & (n_boot > 0)
    if boot_ok.any():
        with np.errstate(invalid="ignore", divide="ignore"):
            accel = m3 / (6 * ss**1.5)
        order = np.argsort(codes, kind="stable")
        blo, bhi = _bca(
            codes[order],
            d_unsorted[order],
            n,
            mean_d,
            accel,
            boot_ok,
            confidence=confidence,
            n_boot=int(n_boot),
            seed=seed,
        )
        boot_lo[boot_ok], boot_hi[boot_ok] = blo, bhi

    # -- notes --------------------------------------------------------------------------
    notes = np.full(n_groups, "", dtype=object)

    def add(mask: np.ndarray, text: str) -> None:
        idx = np.flatnonzero(mask)
        notes[idx] = [f"{s}; {text}" if s else text for s in notes[idx]]

    add(n == 0, "no complete pairs")
    add(n == 1, "fewer than 2 complete pairs: no t-test, effect size or interval")
    add(constant & (ss == 0) & (mean_d == 0), "all differences are zero: no t-test or d_z")
    add(
        constant & ~((ss == 0) & (mean_d == 0)),
        "differences are constant (zero variance): no t-test, d_z or bootstrap",
    )
    add((n > 0) & (wil["m"] == 0), "all differences are zero: no Wilcoxon test")
    if n_boot == 0:
        add(n >= 2, "bootstrap skipped (n_boot = 0)")

    return {
        "n": n.astype(np.int64),
        "n_excluded": n_excl.astype(np.int64),
        "mean_pre": np.where(n > 0, mean_pre, np.nan),
        "mean_post": np.where(n > 0, mean_post, np.nan),
        "mean_diff": np.where(n > 0, mean_d, np.nan),
        "sd_diff": sd,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "t_statistic": tstat,
        "t_df": tdf,
        "t_p_value": tp,
        "wilcoxon_v": wil["v"],
        "wilcoxon_p_value": wil["p"],
        "wilcoxon_method": wil["method"],
        "cohens_dz": dz,
        "dz_ci_low": dz_lo,
        "dz_ci_high": dz_hi,
        "rank_biserial": wil["r"],
        "rb_ci_low": wil["r_lo"],
        "rb_ci_high": wil["r_hi"],
        "boot_ci_low": boot_lo,
        "boot_ci_high": boot_hi,
        "n_improved": n_improved.astype(np.int64),
        "n_unchanged": zero.astype(np.int64),
        "n_worsened": n_worsened.astype(np.int64),
        "note": pd.array(notes.astype(str), dtype="str"),
    }


def _signed_rank(
    codes: np.ndarray, d: np.ndarray, n_groups: int, confidence: float
) -> dict[str, np.ndarray]:
    """Wilcoxon signed-rank test and rank-biserial correlation per group (vectorised)."""
    nz = d != 0
    c, x = codes[nz], d[nz]
    ax = np.abs(x)
    order = np.lexsort((ax, c))
    c, x, ax = c[order], x[order], ax[order]
    m = np.bincount(c, minlength=n_groups)
    mf = m.astype(float)
    starts = _segment_starts(c, n_groups)
    pos_in_group = np.arange(len(c)) - starts[c]  # 0-based position within group

    # runs of equal |d| within a group -> average ranks
    ties_term: np.ndarray
    if len(c):
        new_run = np.empty(len(c), dtype=bool)
        new_run[0] = True
        new_run[1:] = (c[1:] != c[:-1]) | (ax[1:] != ax[:-1])
        run_id = np.cumsum(new_run) - 1
        run_start = np.flatnonzero(new_run)
        run_len = np.diff(np.append(run_start, len(c)))
        first_rank = pos_in_group[run_start] + 1.0
        run_rank = first_rank + (run_len - 1) / 2.0
        ranks = run_rank[run_id]
        run_group = c[run_start]
        ties_term = np.bincount(run_group, run_len.astype(float) ** 3 - run_len, n_groups)
        has_ties = np.bincount(run_group[run_len > 1], minlength=n_groups) > 0
    else:
        ranks = np.zeros(0, dtype=float)
        ties_term = np.zeros(n_groups)
        has_ties = np.zeros(n_groups, dtype=bool)

    v = np.bincount(c[x > 0], ranks[x > 0], n_groups)
    n_all = np.bincount(codes, minlength=n_groups)
    had_zero = (n_all - m) > 0
    exact = (m < EXACT_MAX_N) & ~has_ties & ~had_zero & (m > 0)
    normal = (m > 0) & ~exact

    p = np.full(n_groups, np.nan)
    if exact.any():
        me, ve = m[exact], v[exact]
        upper = ve > me * (me + 1) / 4
        lower_tail = _psignrank(ve, me)
        upper_tail = 1.0 - _psignrank(ve - 1, me)
        p[exact] = np.minimum(1.0, 2 * np.where(upper, upper_tail, lower_tail))
    if normal.any():
        mm = mf[normal]
        z = v[normal] - mm * (mm + 1) / 4
        sigma = np.sqrt(mm * (mm + 1) * (2 * mm + 1) / 24 - ties_term[normal] / 48)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (z - np.sign(z) * 0.5) / sigma
        p[normal] = 2 * np.minimum(st.norm.cdf(z), st.norm.sf(z))
    method = np.where(exact, "exact", np.where(normal, "normal_cc", ""))

    s_total = mf * (mf + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(m > 0, (2 * v - s_total) / s_total, np.nan)
        se = np.sqrt((2 * mf**3 + 3 * mf**2 + mf) / 6) / s_total
        z = st.norm.ppf(0.5 + confidence / 2)
        rf = np.arctanh(r)
        r_lo = np.where(m > 0, np.tanh(rf - z * se), np.nan)
        r_hi = np.where(m > 0, np.tanh(rf + z * se), np.nan)
    return {
        "m": m,
        "v": np.where(n_all > 0, v, np.nan),  # R reports V = 0 when every d is 0
        "p": p,
        "method": method,
        "r": r,
        "r_lo": r_lo,
        "r_hi": r_hi,
    }


def _chunks(cost: np.ndarray, budget: int) -> list[tuple[int, int]]:
    """Consecutive index ranges whose summed ``cost`` stays within ``budget`` (>= 1 item)."""
    out, start, acc = [], 0, 0
    for k, c in enumerate(cost):
        if acc and acc + c > budget:
            out.append((start, k))
            start, acc = k, 0
        acc += int(c)
    if start < len(cost):
        out.append((start, len(cost)))
    return out


def _boot_means_resample(
    rng: np.random.Generator, d: np.ndarray, starts: np.ndarray, ng: np.ndarray, n_boot: int
) -> np.ndarray:
    """Bootstrap means (n_boot x groups) by resampling pair indices."""
    seg_len = np.repeat(ng, ng)
    base = np.repeat(starts, ng)
    u = rng.random((n_boot, len(base)))
    u *= seg_len  # in place: these arrays are n_boot x pairs
    idx = u.astype(np.int64)
    idx += base
    seg_starts = np.concatenate(([0], np.cumsum(ng)[:-1]))
    return np.add.reduceat(d[idx], seg_starts, axis=1) / ng


def _boot_means_multinomial(
    rng: np.random.Generator, vals: np.ndarray, probs: np.ndarray, ng: np.ndarray, n_boot: int
) -> np.ndarray:
    """Bootstrap means (n_boot x groups) for groups with few distinct differences.

    Resampling n pairs with replacement only matters through how often each distinct
    difference is drawn: ``Multinomial(n, p)`` with ``p`` the observed shares -- the same
    bootstrap distribution at a cost of K (distinct values) instead of n draws per resample.
    """
    counts = rng.multinomial(ng, probs, size=(n_boot, len(ng)))
    return np.einsum("bgk,gk->bg", counts, vals) / ng


#: Denominators tried when looking for a common lattice step of a group's differences
#: (item scores are integers; domain means are fractions with small denominators).
_LATTICE_DENOMS = np.array([1, 2, 3, 4, 5, 6, 8, 10, 12, 20, 24, 30, 60, 120, 840, 2520])
#: Largest lattice (support of the bootstrap sum) handled by the exact-distribution sampler.
_LATTICE_MAX = 1 << 20


def _lattice(
    run_val: np.ndarray, run_group: np.ndarray, run_first: np.ndarray, groups: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Common lattice of each group's distinct differences: ``v = a + m · h``, m integer.

    Returns per group in ``groups``: the step ``h`` (NaN when none was found), and per run
    (distinct value, over all runs) its integer lattice index ``m`` (-1 outside ``groups``).
    ``a`` is the group's smallest difference (``run_val[run_first]``).
    """
    n_groups = len(run_first)
    a_run = run_val[run_first[run_group]]
    steps = run_val - a_run  # >= 0, sorted within group
    step = np.full(n_groups, np.nan)
    m_run = np.full(len(run_val), -1, dtype=np.int64)
    todo = np.zeros(n_groups, dtype=bool)
    todo[groups] = True
    for q in _LATTICE_DENOMS:
        if not todo.any():
            break
        x = steps * q
        xi = np.rint(x)
        bad = np.abs(x - xi) > 1e-9 * np.maximum(1.0, np.abs(x))
        ok_g = todo & (np.bincount(run_group[bad], minlength=n_groups) == 0)
        if not ok_g.any():
            continue
        sel = ok_g[run_group]
        ints = xi[sel].astype(np.int64)
        rg = run_group[sel]
        first = np.searchsorted(rg, np.flatnonzero(ok_g))
        # gcd of the integer steps within each group (a group with one value: step 1)
        gcd = np.gcd.reduceat(ints, first) if len(ints) else ints
        gcd = np.where(gcd == 0, 1, gcd)
        g_of = np.zeros(n_groups, dtype=np.int64)
        g_of[ok_g] = gcd
        m_run[sel] = ints // g_of[rg]
        step[ok_g] = g_of[ok_g] / q
        todo &= ~ok_g
    return step, m_run, a_run


def _boot_sum_pmf(m_run: np.ndarray, p_run: np.ndarray, run_g: np.ndarray, ng: np.ndarray):
    """Exact distribution of the lattice index of a bootstrap sum of ``n`` draws per group.

    ``m_run``/``p_run`` are the lattice indices and shares of each group's distinct values,
    ``run_g`` the group (0..G-1, sorted) of each. The sum of ``n`` draws with replacement
    from a distribution on ``0..R`` has the ``n``-fold convolution as its distribution,
    computed by FFT (``irfft(rfft(p)^n)``) on ``n · R + 1`` points, batched over groups of
    the same FFT length; rounding noise (< 1e-12) is cut to 0. Returns the concatenated
    pmfs and the length of each.
    """
    n_g = len(ng)
    r = np.zeros(n_g, dtype=np.int64)
    np.maximum.at(r, run_g, m_run)
    sizes = ng.astype(np.int64) * r + 1
    nfft = np.where(r > 0, 1 << np.ceil(np.log2(np.maximum(sizes, 2))).astype(np.int64), 1)
    offs = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    pmf = np.zeros(int(sizes.sum()))
    pmf[offs[r == 0]] = 1.0
    for nf in np.unique(nfft[r > 0]):
        gs = np.flatnonzero((nfft == nf) & (r > 0))
        row = np.full(n_g, -1)
        row[gs] = np.arange(len(gs))
        sel = row[run_g] >= 0
        base = np.zeros((len(gs), int(r[gs].max()) + 1))
        np.add.at(base, (row[run_g[sel]], m_run[sel]), p_run[sel])
        f = np.fft.rfft(base, int(nf), axis=1) ** ng[gs].astype(float)[:, None]
        dens = np.fft.irfft(f, int(nf), axis=1)
        dens[dens < 1e-12] = 0.0
        dens /= dens.sum(axis=1, keepdims=True)
        # scatter each row's first sizes[g] points into the flat output (a boolean mask
        # picks them row by row, in the order of the destination indices)
        ln = sizes[gs]
        keep = np.arange(int(nf)) < ln[:, None]
        dest = np.repeat(offs[gs] - (np.cumsum(ln) - ln), ln) + np.arange(int(ln.sum()))
        pmf[dest] = dens[keep]
    return pmf, sizes


def _bca(
    codes: np.ndarray,
    d: np.ndarray,
    n: np.ndarray,
    theta: np.ndarray,
    accel: np.ndarray,
    use: np.ndarray,
    *,
    confidence: float,
    n_boot: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """BCa interval of the mean for the groups flagged in ``use`` (``codes`` sorted).

    Groups with few distinct differences (at most a quarter of their pairs, e.g. Likert
    items) are resampled through multinomial counts of the distinct values, the others by
    resampling pair indices; both give the ordinary nonparametric bootstrap.
    """
    rng = np.random.default_rng(seed)
    n_groups = len(n)
    groups = np.flatnonzero(use)
    alpha = (1 - confidence) / 2
    z_a = st.norm.ppf([alpha, 1 - alpha])
    lo = np.full(len(groups), np.nan)
    hi = np.full(len(groups), np.nan)
    pos_of = np.full(n_groups, -1)
    pos_of[groups] = np.arange(len(groups))

    # distinct differences per group (sorted within group)
    order = np.lexsort((d, codes))
    cs, ds_ = codes[order], d[order]
    new = np.ones(len(cs), dtype=bool)
    new[1:] = (cs[1:] != cs[:-1]) | (ds_[1:] != ds_[:-1])
    run_start = np.flatnonzero(new)
    run_len = np.diff(np.append(run_start, len(cs)))
    run_group = cs[run_start]
    run_val = ds_[run_start]
    k_distinct = np.bincount(run_group, minlength=n_groups)
    run_first = np.searchsorted(run_group, np.arange(n_groups), side="left")
    starts = _segment_starts(codes, n_groups)

    discrete = groups[4 * k_distinct[groups] <= n[groups]]
    general = groups[4 * k_distinct[groups] > n[groups]]

    def finish(g: np.ndarray, counts: tuple, srt: np.ndarray, lattice: tuple = ()) -> None:
        """BCa limits of the groups ``g`` from ``(#{θ* < θ̂}, #{θ* ≤ θ̂})`` per group and
        ``srt``, each group's bootstrap means sorted (groups × ``n_boot``) -- or their
        lattice indices ``j`` with ``lattice = (n, a, h)``: the mean is ``(n·a + j·h) / n``
        (only computed at the two order statistics used)."""
        below, at_or_below = counts
        with np.errstate(divide="ignore", invalid="ignore"):
            z0 = st.norm.ppf((below + at_or_below) / (2.0 * n_boot))
            a = accel[g]
            num = z0[:, None] + z_a[None, :]
            adj = st.norm.cdf(z0[:, None] + num / (1 - a[:, None] * num))
        bad = ~np.isfinite(adj).all(axis=1)
        adj[bad] = 0.5
        # linear interpolation of order statistics (numpy's default percentile method)
        pos = adj * (n_boot - 1)
        k0 = np.floor(pos).astype(np.int64)
        k1 = np.minimum(k0 + 1, n_boot - 1)
        frac = pos - k0
        rows = np.arange(len(g))[:, None]
        v0, v1 = srt[rows, k0], srt[rows, k1]
        if lattice:
            ng, a0, h = lattice
            v0, v1 = (ng * a0 + v0 * h) / ng, (ng * a0 + v1 * h) / ng
        val = v0 + frac * (v1 - v0)
        val[bad] = np.nan
        lo[pos_of[g]], hi[pos_of[g]] = val[:, 0], val[:, 1]

    def finish_means(g: np.ndarray, boot: np.ndarray) -> None:
        """``boot``: resampled means, ``n_boot`` × groups."""
        th = theta[g]
        counts = ((boot < th).sum(axis=0), (boot <= th).sum(axis=0))
        # sort each group's means as one contiguous row (a column sort is strided)
        srt = np.ascontiguousarray(boot.T)
        srt.sort(axis=1)
        finish(g, counts, srt)

    for b0, b1 in _chunks(n[general] * n_boot, _BOOT_CHUNK):
        g = general[b0:b1]
        finish_means(g, _boot_means_resample(rng, d, starts[g], n[g], n_boot))

    # groups whose differences lie on a lattice (all item scores, most domain means): draw
    # the bootstrap sum straight from its exact distribution (the n-fold convolution of the
    # observed distribution) -- the same bootstrap distribution as resampling pairs or
    # multinomial counts, at the cost of one uniform per resample
    if len(discrete):
        step, m_run, _ = _lattice(run_val, run_group, run_first, discrete)
        r_max = np.zeros(n_groups, dtype=np.int64)
        has_m = m_run >= 0
        np.maximum.at(r_max, run_group[has_m], m_run[has_m])
        lat = np.isfinite(step[discrete]) & (n[discrete] * r_max[discrete] + 1 <= _LATTICE_MAX)
        lattice_groups, discrete = discrete[lat], discrete[~lat]
    else:
        lattice_groups = discrete
        step = m_run = np.zeros(0)
    if len(lattice_groups):
        for b0, b1 in _chunks(np.full(len(lattice_groups), n_boot), _BOOT_CHUNK):
            g = lattice_groups[b0:b1]
            row = np.full(n_groups, -1)
            row[g] = np.arange(len(g))
            sel = row[run_group] >= 0
            pmf, sizes = _boot_sum_pmf(
                m_run[sel], run_len[sel] / n[run_group[sel]], row[run_group[sel]], n[g]
            )
            offs = np.concatenate(([0], np.cumsum(sizes)[:-1]))
            # one increasing array: group k's CDF shifted by k, its last point exactly k + 1
            ends = np.arange(1, len(g) + 1, dtype=float)
            cdf = np.minimum(np.cumsum(pmf), np.repeat(ends, sizes))
            cdf[offs + sizes - 1] = ends
            cdf = np.maximum.accumulate(cdf)
            # sorted uniforms map to sorted draws (the CDF inverse is monotone): the order
            # statistics come out directly and the search runs over sorted keys
            # (one contiguous row of uniforms per group: groups × n_boot)
            u = np.ascontiguousarray(rng.random((n_boot, len(g))).T)
            u.sort(axis=1)
            u += np.arange(len(g), dtype=float)[:, None]
            jj = np.searchsorted(cdf, u.ravel(), side="right").reshape(len(g), n_boot)
            jj -= offs[:, None]
            np.minimum(jj, (sizes - 1)[:, None], out=jj)  # u within rounding of 1
            ng, h = n[g].astype(float)[:, None], step[g][:, None]
            a0 = run_val[run_first[g]][:, None]
            j_hat = np.rint((theta[g][:, None] * ng - ng * a0) / h)
            counts = ((jj < j_hat).sum(axis=1), (jj <= j_hat).sum(axis=1))
            finish(g, counts, jj, lattice=(ng, a0, h))

    if len(discrete):
        k_max_each = k_distinct[discrete]
        for b0, b1 in _chunks(k_max_each * n_boot * 2, _BOOT_CHUNK):
            g = discrete[b0:b1]
            kmax = int(k_distinct[g].max())
            vals = np.zeros((len(g), kmax))
            probs = np.zeros((len(g), kmax))
            for j in range(kmax):  # at most a handful of distinct values
                has = j < k_distinct[g]
                r = run_first[g[has]] + j
                vals[has, j] = run_val[r]
                probs[has, j] = run_len[r] / n[g[has]]
            probs /= probs.sum(axis=1, keepdims=True)
            finish_means(g, _boot_means_multinomial(rng, vals, probs, n[g], n_boot))
    return lo, hi
