"""B4/B5: wall time and peak RSS of ``envejind-eval report`` on national data and on the
sample (child processes; peak RSS from ``getrusage`` of the child)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from statistics import median

from common import Result, load_average, run_subprocess
from data import national_delivery

ROOT = Path(__file__).resolve().parents[1]
KEY_ENV = {
    # a fixed benchmark key (hex, as `envejind-eval keygen` writes); never a real one
    "ENVEJIND_PSEUDONYM_KEY": "0123456789abcdef" * 4
}


#: report runs are stopped after this many seconds (1.5x the B4 target) so `make bench` stays
#: under 15 minutes; a stopped run counts as not met
NATIONAL_CAP_S = 180.0


def report_run(
    data: Path, repeat: int, *, timeout: float | None = None, warmup: int = 1
) -> tuple[float, float, float, bool]:
    """Median wall seconds, max peak RSS (MB), median CPU seconds over ``repeat`` report
    runs after ``warmup`` untimed ones (file cache, first-run byte compilation), and
    whether a run was stopped at ``timeout``."""
    exe = str(Path(sys.executable).with_name("envejind-eval"))
    walls, peaks, cpus, stopped = [], [], [], False
    for i in range(warmup + repeat):
        out = Path(tempfile.mkdtemp(prefix="envejind_bench_report_"))
        try:
            # exit code 1 = written with warnings (suppressed cells), still a full report
            wall, peak, cpu, timed_out = run_subprocess(
                [exe, "report", str(data), "--out", str(out / "r"), "--quiet"],
                env=KEY_ENV,
                ok_codes=(0, 1),
                timeout=timeout,
            )
        finally:
            shutil.rmtree(out, ignore_errors=True)
        if timed_out:  # a stopped run is not repeated: it already counts as not met
            return wall, peak, cpu, True
        if i < warmup:
            continue
        walls.append(wall)
        peaks.append(peak)
        cpus.append(cpu)
    return median(walls), max(peaks), median(cpus), stopped


def run_sample(quick: bool = False) -> list[Result]:
    """B5: the report on the bundled sample."""
    load0 = load_average()
    runs = 1 if quick else 5
    sample_wall, sample_peak, sample_cpu, _ = report_run(ROOT / "data" / "sample", runs)
    return [
        Result(
            "B5",
            "`envejind-eval report` on `data/sample`",
            "—",
            sample_wall,
            "s",
            "≤ 20 s wall",
            sample_wall <= 20,
            {
                "peak_rss_mb": sample_peak,
                "cpu_s": sample_cpu,
                "runs": runs,
                "load_avg_1m": load0,
            },
        )
    ]


def run_national(quick: bool = False) -> list[Result]:
    """B4: the report on a national delivery (median of 5 after a warm-up)."""
    load0 = load_average()
    runs = 1 if quick else 5
    nat_wall, nat_peak, nat_cpu, stopped = report_run(
        national_delivery(), runs, timeout=NATIONAL_CAP_S
    )
    return [
        Result(
            "B4",
            "`envejind-eval report` on national data (98 municipalities, ~20,000 participants)",
            "—",
            nat_wall,
            "s",
            "≤ 120 s wall, ≤ 3 GB peak RSS on 2 cores",
            not stopped and nat_wall <= 120 and nat_peak <= 3 * 1024,
            {
                "peak_rss_mb": nat_peak,
                "cpu_s": nat_cpu,
                "runs": runs,
                "stopped_at_cap_s": NATIONAL_CAP_S if stopped else "no",
                "load_avg_1m": load0,
            },
        )
    ]


def run(quick: bool = False) -> list[Result]:
    return run_national(quick) + run_sample(quick)


if __name__ == "__main__":
    for r in run(quick=True):
        print(r)
