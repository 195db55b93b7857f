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
from bench_report import report_run
from common import Result, timeit_cpu
from data import national_canonical

FACTORS = (1 / 16, 4 / 16, 1.0)


def _exponent(n: list[float], t: list[float]) -> float:
    return float(np.polyfit(np.log(n), np.log(t), 1)[0])


def run(quick: bool = False) -> list[Result]:
    import envejind_eval as ee

    n, t_pp, t_rep, w_pp, w_rep = [], [], [], [], []
    for f in FACTORS:
        path = national_canonical(factor=f)
        ds = ee.Dataset.from_canonical(path)
        n.append(len(ds.participants))
        w, c = timeit_cpu(
            lambda ds=ds: ee.pre_post(
                ds, "ungestjernen", level="item", by="municipality", n_boot=2000
            ),
            repeat=3 if quick else 5,
        )
        w_pp.append(w)
        t_pp.append(c)
        wall, _, cpu = report_run(path, 1)
        w_rep.append(wall)
        t_rep.append(cpu)
    e_pp, e_rep = _exponent(n, t_pp), _exponent(n, t_rep)
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
        ),
        Result(
            "B6b",
            f"scaling of B4 over {sizes} participants",
            "the 1× run",
            e_rep,
            "(CPU-time exponent)",
            "≤ 1.1",
            e_rep <= 1.1,
            {
                "wall_exponent": _exponent(n, w_rep),
                **{f"cpu_s_{k}": v for k, v in zip(n, t_rep, strict=True)},
            },
        ),
    ]


if __name__ == "__main__":
    for r in run(quick=True):
        print(r)
