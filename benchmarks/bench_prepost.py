"""B2: ``pre_post(level="item", by="municipality", n_boot=2000)`` on national data against a
per-group loop over ``pingouin.ttest(paired=True)`` + ``pingouin.wilcoxon`` + a scipy BCa
bootstrap -- and a check that both give the same t and Wilcoxon numbers (to 1e-9)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from common import Result, timeit
from data import national_canonical

INSTRUMENT = "ungestjernen"


def _pairs(ds) -> pd.DataFrame:
    import envejind_eval as ee

    s = ee.scores(ds, INSTRUMENT, level="item")
    w = s.pivot_table(
        index=["municipality", "unit", "participant_id"], columns="timepoint", values="score"
    )
    return w[["baseline", "end"]].dropna().reset_index()


def _baseline(pairs: pd.DataFrame) -> pd.DataFrame:
    import pingouin as pg
    from scipy import stats

    rows = []
    for (mun, unit), g in pairs.groupby(["municipality", "unit"], sort=True):
        pre, post = g["baseline"].to_numpy(), g["end"].to_numpy()
        t = pg.ttest(post, pre, paired=True)
        # R's rule: normal approximation with continuity correction when ties/zeros or n >= 50
        w = pg.wilcoxon(post, pre, method="approx", correction=True)
        b = stats.bootstrap(
            (post - pre,), np.mean, n_resamples=2000, method="BCa", random_state=0
        ).confidence_interval
        rows.append(
            {
                "municipality": mun,
                "unit": unit,
                "t_statistic": float(t["T"].iloc[0]),
                "t_p_value": float(t["p_val"].iloc[0])
                if "p_val" in t
                else float(t["p-val"].iloc[0]),
                "wilcoxon_p_value": float(w["p_val"].iloc[0])
                if "p_val" in w
                else float(w["p-val"].iloc[0]),
                "boot_ci_low": b.low,
                "boot_ci_high": b.high,
            }
        )
    return pd.DataFrame(rows)


def run(quick: bool = False) -> list[Result]:
    import envejind_eval as ee

    ds = ee.Dataset.from_canonical(national_canonical())
    repeat = 3 if quick else 5

    def ours():
        return ee.pre_post(ds, INSTRUMENT, level="item", by="municipality", n_boot=2000)

    res = ours()
    t_ours = timeit(ours, repeat=repeat)

    # The baseline starts from the same item scores (scoring is ours in both arms).
    pairs = _pairs(ds)
    t0 = time.perf_counter()
    base = _baseline(pairs)
    t_first = time.perf_counter() - t0
    t_base = timeit(lambda: _baseline(pairs), repeat=repeat, warmup=0) if not quick else t_first

    m = res.merge(base, on=["municipality", "unit"], suffixes=("", "_pg"))
    dt = float(np.nanmax(np.abs(m["t_statistic"] - m["t_statistic_pg"])))
    dp = float(np.nanmax(np.abs(m["t_p_value"] - m["t_p_value_pg"])))
    normal = m["wilcoxon_method"] == "normal_cc"
    dw = float(
        np.nanmax(np.abs(m.loc[normal, "wilcoxon_p_value"] - m.loc[normal, "wilcoxon_p_value_pg"]))
    )
    width = (m["boot_ci_high_pg"] - m["boot_ci_low_pg"]).abs()
    dboot = float(np.nanmax(np.abs(m["boot_ci_low"] - m["boot_ci_low_pg"]) / width))
    speedup = t_base / t_ours
    same = max(dt, dp, dw) <= 1e-9
    return [
        Result(
            "B2",
            f"`pre_post(level='item', by='municipality', n_boot=2000)`, national ({INSTRUMENT}, "
            f"{len(m)} groups)",
            "per-group loop: pingouin.ttest + pingouin.wilcoxon + scipy BCa bootstrap",
            speedup,
            "× faster",
            "≥ 20× faster, same numbers to 1e-9",
            speedup >= 20 and same,
            {
                "ours_s": t_ours,
                "baseline_s": t_base,
                "max_abs_diff_t": dt,
                "max_abs_diff_t_p": dp,
                "max_abs_diff_wilcoxon_p": dw,
                "boot_ci_low_diff_over_ci_width": dboot,
            },
        )
    ]


if __name__ == "__main__":
    for r in run(quick=True):
        print(r)
