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


def floor_load(
    folder: Path, key: bytes, lap: Callable[[str], None] = lambda step: None
) -> pd.DataFrame:
    """A lower bound for ``load()``: only the steps that any load must add to the bare read.

    Per file: read the bytes, SHA-256 them (the ingest report records each file's hash),
    parse with pyarrow as text and dictionary-encode. For the attendance file: one HMAC per
    distinct CPR, each distinct date parsed strictly, codes mapped to the canonical
    statuses, and the canonical attendance frame built (participant_id and status as text,
    date as datetime, no arrival times). Left out, although ``load()`` must do them: every
    validation and cross-table check, the duplicate check, the participant and team
    tables, blank/total rows, quarantine bookkeeping and the report. Built from the
    package's own readers and helpers, so it costs what those steps cost in ``load()``.
    ``lap(step)`` is called at the end of each step (``--steps`` times them).
    """
    import hashlib

    from envejind_eval.ingest import dates, mapping, pseudonymise, readers
    from envejind_eval.ingest._core import _str_from_codes
    from envejind_eval.schema import ATTENDANCE_STATUSES

    cols = {}
    for f in sorted(folder.glob("*.csv")):
        data = f.read_bytes()
        hashlib.sha256(data).hexdigest()
        lap("read + SHA-256")
        body, start, _, _ = readers._decode(data, f.name)
        head = body[start : body.index(b"\n")].decode("utf-8").rstrip("\r")
        t = readers._read_csv_arrow(body, start, head, ";", path=f, file=f.name, digest="")
        assert t is not None
        cols[f.name] = t.cols
        lap("parse + encode")
    cpr, day, code = cols["fremmoede.csv"]
    pids, _ = pseudonymise.pseudonymise(cpr.values, key)
    lap("pseudonyms")
    days_u, _ = dates.parse_unique_dates(day.values)
    lookup = mapping.default_codes()["attendance"]
    status_u = np.array(
        [ATTENDANCE_STATUSES.index(lookup[mapping.norm(v)]) for v in code.values], dtype=np.int64
    )
    lap("dates + codes")
    df = pd.DataFrame(
        {
            "participant_id": _str_from_codes(cpr.codes, list(pids)),
            "date": dates.days_to_datetime64(days_u[day.codes]),
            "status": _str_from_codes(status_u[code.codes], list(ATTENDANCE_STATUSES)),
        },
        copy=False,
    )
    lap("attendance frame")
    return df


def timeit_alternating(*fns: Callable[[], object], repeat: int) -> list[tuple[float, float]]:
    """Median (wall, CPU) seconds of each of ``fns``, run in turn after one warm-up each,
    so all see the same machine load."""
    for fn in fns:
        fn()
    t: list[list[tuple[float, float]]] = [[] for _ in fns]
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            t[i].append((time.perf_counter() - t0, time.process_time() - c0))
    return [(median(x[0] for x in ti), median(x[1] for x in ti)) for ti in t]


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
        (w_bare, c_bare), (w_ours, c_ours), (w_floor, c_floor) = timeit_alternating(
            bare, ours, lambda: floor_load(d, key), repeat=repeat
        )
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
                "floor_ratio_cpu": c_floor / c_bare,
                "floor_ratio_wall": w_floor / w_bare,
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

        (w_bare, c_bare), (w_ours, c_ours), (w_floor, c_floor) = timeit_alternating(
            bare, ours, lambda: floor_load(d, key), repeat=args.repeat
        )
        ds = ee.load(d, key=key)
        print(
            f"files: {', '.join(f.name for f in files)} ({size:.0f} MB); "
            f"attendance rows: {len(ds.attendance):,}; medians of {args.repeat}"
        )
        print(f"pandas.read_csv(engine='pyarrow'): wall {w_bare:.3f} s, CPU {c_bare:.3f} s")
        print(f"envejind_eval.load():              wall {w_ours:.3f} s, CPU {c_ours:.3f} s")
        print(
            f"floor (no validation, see floor_load): wall {w_floor:.3f} s, CPU {c_floor:.3f} s "
            f"= {w_floor / w_bare:.2f}x wall, {c_floor / c_bare:.2f}x CPU"
        )
        print(
            f"ratio: wall {w_ours / w_bare:.2f}x, CPU {c_ours / c_bare:.2f}x (target <= 2x); "
            f"load average {load_average():.1f}"
        )
        steps, c_bare2 = floor_steps(d, key, bare, repeat=args.repeat)
        print(
            f"floor by step (median CPU, bare read {c_bare2:.3f} s alternated with it; "
            f"steps sum to {sum(steps.values()) / c_bare2:.2f}x):"
        )
        for step, cpu in steps.items():
            print(f"  {step:18s} {cpu:.3f} s  {cpu / c_bare2:.2f}x")


def floor_steps(
    folder: Path, key: bytes, bare: Callable[[], object], *, repeat: int
) -> tuple[dict[str, float], float]:
    """Median CPU seconds per step of :func:`floor_load` (summed over the files), and of
    ``bare``, the two alternated after a warm-up."""
    runs: list[dict[str, float]] = []
    bare_cpu: list[float] = []
    for _ in range(repeat + 1):  # the first round is a warm-up
        got: dict[str, float] = {}
        c0 = [time.process_time()]

        def lap(step: str, got: dict[str, float] = got, c0: list[float] = c0) -> None:
            now = time.process_time()
            got[step] = got.get(step, 0.0) + now - c0[0]
            c0[0] = now

        floor_load(folder, key, lap)
        runs.append(got)
        t = time.process_time()
        bare()
        bare_cpu.append(time.process_time() - t)
    return {k: median(r[k] for r in runs[1:]) for k in runs[0]}, median(bare_cpu[1:])


if __name__ == "__main__":
    main()
