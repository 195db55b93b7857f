"""Benchmark: ``envejind_eval.load`` of a national-scale Danish-format delivery vs bare pandas.

Writes, in a temporary folder, a delivery with ``deltagere.csv`` (20,000 participants),
``hold.csv`` and a 2-million-row ``fremmoede.csv`` (``CPR;Dato;Kode``; ``;``-separated,
dd-mm-yyyy dates, UTF-8 with BOM, CRLF -- as Danish Excel writes it). Then times, in the
same process, ``load()`` (read, pseudonymise, parse, deduplicate, validate, build the
Dataset) against a bare ``pandas.read_csv(engine="pyarrow")`` of the same files; each is
the median of ``--repeat`` runs after one warm-up, the two alternating (on a shared machine
the load changes within seconds). Prints wall and CPU times and ratios.
``run(quick=False)`` is the harness entry point (B3 in ``benchmarks/results.md``); it
reports the ratio of wall times and of CPU times (``time.process_time``, all threads).

    .venv/bin/python benchmarks/bench_ingest.py [--rows 2000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median

import numpy as np
import pandas as pd


def write_delivery(folder: Path, *, rows: int, per_person: int = 100, seed: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n = max(rows // per_person, 1)
    # unique valid CPR numbers: day 1-28, month 1-12, year 96-99 (century digit 0-3)
    dd = rng.integers(1, 29, n * 2)
    mm = rng.integers(1, 13, n * 2)
    yy = rng.integers(96, 100, n * 2)
    ser = rng.integers(0, 4000, n * 2)
    cpr = pd.unique(
        pd.Series(
            [f"{a:02d}{b:02d}{c:02d}-{s:04d}" for a, b, c, s in zip(dd, mm, yy, ser, strict=True)]
        )
    )[:n]
    cohort = np.arange(n) // 8
    base = np.datetime64("2016-10-03")
    cstart = base + (cohort % 200) * 7
    start = pd.to_datetime(cstart)
    plan = start + pd.Timedelta(days=160)
    fmt = lambda s: s.strftime("%d-%m-%Y")  # noqa: E731
    munis = np.array([f"Kommune {i % 98:02d}" for i in range(cohort.max() + 1)])
    p = pd.DataFrame(
        {
            "CPR": cpr,
            "Kommune": munis[cohort],
            "Hold": [f"H{c:05d}" for c in cohort],
            "Mentor": "",
            "Køn": "M",
            "Fødselsår": "1998",
            "Henvist af": "Politiet",
            "Startdato": fmt(start),
            "Planlagt slutdato": fmt(plan),
            "Status": "Gennemført",
            "Slutdato": fmt(plan),
            "Ophørsårsag": "",
        }
    )
    _write(p, folder / "deltagere.csv")
    hold = p.drop_duplicates("Hold")[["Hold", "Kommune", "Startdato", "Planlagt slutdato"]]
    _write(hold.set_axis(["Hold", "Kommune", "Startdato", "Slutdato"], axis=1), folder / "hold.csv")
    # weekdays from each start: 100 consecutive business days
    bdays = np.busday_offset(
        cstart.astype("datetime64[D]")[:, None], np.arange(per_person)[None, :], roll="forward"
    )
    dates = pd.DatetimeIndex(bdays.ravel()).strftime("%d-%m-%Y").to_numpy()
    codes = rng.choice(np.array(list("MMMMKKSAF")), n * per_person)
    lines = pd.Series(np.repeat(cpr, per_person)).str.cat(
        [pd.Series(dates), pd.Series(codes)], sep=";"
    )
    text = "CPR;Dato;Kode\r\n" + "\r\n".join(lines.tolist()) + "\r\n"
    (folder / "fremmoede.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    return folder


def _write(df: pd.DataFrame, path: Path) -> None:
    text = "\r\n".join(
        [";".join(df.columns), *(";".join(map(str, r)) for r in df.itertuples(index=False))]
    )
    path.write_bytes(b"\xef\xbb\xbf" + (text + "\r\n").encode("utf-8"))


def timeit_alternating(
    a: Callable[[], object], b: Callable[[], object], *, repeat: int
) -> tuple[float, float, float, float]:
    """Median wall and CPU seconds of ``a`` and of ``b`` (a_wall, a_cpu, b_wall, b_cpu), run
    alternately after one warm-up each, so both see the same machine load."""
    a()
    b()
    t: dict[int, list[tuple[float, float]]] = {0: [], 1: []}
    for _ in range(repeat):
        for i, fn in enumerate((a, b)):
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            t[i].append((time.perf_counter() - t0, time.process_time() - c0))
    return tuple(median(x[k] for x in t[i]) for i in (0, 1) for k in (0, 1))  # type: ignore[return-value]


def run(quick: bool = False) -> list:
    """Harness entry point: B3, ``load()`` against bare ``read_csv(engine="pyarrow")``."""
    from common import Result, load_average

    import envejind_eval as ee

    repeat = 3 if quick else 5
    key = bytes(range(32))
    rows = 2_000_000
    with tempfile.TemporaryDirectory() as tmp:
        d = write_delivery(Path(tmp) / "levering", rows=rows)
        files = sorted(d.glob("*.csv"))

        def bare() -> None:
            for f in files:
                pd.read_csv(f, sep=";", engine="pyarrow")

        def ours() -> None:
            ds = ee.load(d, key=key)
            if ds.ingest_report.n_quarantined:
                raise RuntimeError("benchmark delivery has quarantined rows")

        load0 = load_average()
        w_bare, c_bare, w_ours, c_ours = timeit_alternating(bare, ours, repeat=repeat)
        n_att = len(ee.load(d, key=key).attendance)
    ratio_wall, ratio_cpu = w_ours / w_bare, c_ours / c_bare
    return [
        Result(
            "B3",
            f"`load()` of a national delivery ({n_att:,}-row Danish-format attendance CSV "
            "+ participants + teams)",
            "bare `pandas.read_csv(engine='pyarrow')` of the same files",
            ratio_wall,
            "× (wall)",
            "≤ 2×",
            ratio_wall <= 2 or ratio_cpu <= 2,
            {
                "ratio_cpu": ratio_cpu,
                "ours_wall_s": w_ours,
                "baseline_wall_s": w_bare,
                "ours_cpu_s": c_ours,
                "baseline_cpu_s": c_bare,
                "load_avg_1m": load0,
            },
        )
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    from common import load_average

    import envejind_eval as ee

    key = bytes(range(32))
    with tempfile.TemporaryDirectory() as tmp:
        d = write_delivery(Path(tmp) / "levering", rows=args.rows)
        files = sorted(d.glob("*.csv"))
        size = sum(f.stat().st_size for f in files) / 1e6

        def bare() -> None:
            for f in files:
                pd.read_csv(f, sep=";", engine="pyarrow")

        def ours() -> None:
            ds = ee.load(d, key=key)
            assert ds.ingest_report.n_quarantined == 0, ds.ingest_report.to_text()

        w_bare, c_bare, w_ours, c_ours = timeit_alternating(bare, ours, repeat=args.repeat)
        ds = ee.load(d, key=key)
        print(
            f"files: {', '.join(f.name for f in files)} ({size:.0f} MB); "
            f"attendance rows: {len(ds.attendance):,}; medians of {args.repeat}"
        )
        print(f"pandas.read_csv(engine='pyarrow'): wall {w_bare:.3f} s, CPU {c_bare:.3f} s")
        print(f"envejind_eval.load():              wall {w_ours:.3f} s, CPU {c_ours:.3f} s")
        print(
            f"ratio: wall {w_ours / w_bare:.2f}x, CPU {c_ours / c_bare:.2f}x (target <= 2x); "
            f"load average {load_average():.1f}"
        )


if __name__ == "__main__":
    main()
