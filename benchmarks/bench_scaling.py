"""B6: how B2 (pre_post) and B4 (report) grow with the number of participants.

Sizes 1×, 4× and 16× of 1,250 participants (16× = national). The exponent is the slope
of log(time) on log(participants), least squares over the three sizes. The report runs
on the canonical Parquet form of each size (ingestion is measured separately in B3).
Exponents are fitted on CPU time (in-process ``time.process_time`` for pre_post, the child's
user + system time for the report): on the shared machine wall time follows the load of the
moment more than the size of the data. Wall-time exponents are reported beside them.
"""

from __future__ import annotations

import numpy as np
from bench_report import NATIONAL_CAP_S, report_run
from common import Result, timeit_cpu
from data import national_canonical

FACTORS = (1 / 16, 4 / 16, 1.0)


def _exponent(n: list[float], t: list[float]) -> float:
    return float(np.polyfit(np.log(n), np.log(t), 1)[0])


def _sizes() -> tuple[list, list[int]]:
    import envejind_eval as ee

    paths = [national_canonical(factor=f) for f in FACTORS]
    n = [len(ee.Dataset.from_canonical(p).participants) for p in paths]
    return paths, n


def run_prepost(quick: bool = False) -> list[Result]:
    """B6a: pre_post at 1x, 4x, 16x participants (CPU-time exponent)."""
    import envejind_eval as ee

    paths, n = _sizes()
    t_pp, w_pp = [], []
    for path in paths:
        ds = ee.Dataset.from_canonical(path)
        w, c = timeit_cpu(
            lambda ds=ds: ee.pre_post(
                ds, "ungestjernen", level="item", by="municipality", n_boot=2000
            ),
            repeat=3 if quick else 5,
        )
        w_pp.append(w)
        t_pp.append(c)
    e_pp = _exponent(n, t_pp)
    sizes = "/".join(str(k) for k in n)
    return [
        Result(
            "B6a",
            f"scaling of B2 over {sizes} participants",
            "the 1× run",
            e_pp,
            "(CPU-time exponent)",
            "≤ 1.1",
            e_pp <= 1.1,
            {
                "wall_exponent": _exponent(n, w_pp),
                **{f"cpu_s_{k}": v for k, v in zip(n, t_pp, strict=True)},
            },
        )
    ]


def run_report(quick: bool = False) -> list[Result]:
    """B6b: the report at 1x, 4x, 16x participants (median of 3 after a warm-up each, to
    keep `make bench` under 15 minutes; CPU-time exponent)."""
    paths, n = _sizes()
    t_rep, w_rep, capped = [], [], []
    for path, k in zip(paths, n, strict=True):
        wall, _, cpu, stopped = report_run(path, 1 if quick else 3, timeout=NATIONAL_CAP_S)
        w_rep.append(wall)
        t_rep.append(cpu)
        if stopped:  # the exponent is then only a lower bound
            capped.append(k)
    e_rep = _exponent(n, t_rep)
    sizes = "/".join(str(k) for k in n)
    return [
        Result(
            "B6b",
            f"scaling of B4 over {sizes} participants",
            "the 1× run",
            e_rep,
            "(CPU-time exponent)",
            "≤ 1.1",
            e_rep <= 1.1 and not capped,
            {
                "stopped_at_cap_for": capped or "none",
                "runs_each": 1 if quick else 3,
                "wall_exponent": _exponent(n, w_rep),
                **{f"cpu_s_{k}": v for k, v in zip(n, t_rep, strict=True)},
            },
        )
    ]


def run(quick: bool = False) -> list[Result]:
    return run_prepost(quick) + run_report(quick)


if __name__ == "__main__":
    for r in run(quick=True):
        print(r)
