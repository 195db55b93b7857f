"""Run every benchmark and write benchmarks/results.md (``make bench``).

Each ``bench_*.py`` module exposes ``run(quick=False) -> list[Result]``; ratios are taken
against a baseline measured in the same run. ``--quick`` shrinks repeats for a smoke run.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import Result, machine  # noqa: E402

#: ``module`` or ``module:function`` (each returns ``list[Result]``), cheapest first: results
#: are written after each, so the minutes-long national report runs come last.
MODULES = [
    "bench_import",
    "bench_prepost",
    "bench_ingest",
    "bench_report:run_sample",
    "bench_scaling:run_prepost",
    "bench_report:run_national",
    "bench_scaling:run_report",
    "bench_disclosure:run_b8",
    "bench_disclosure:run_b7",
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", nargs="*", default=None, help="module names to run")
    ap.add_argument("--out", type=Path, default=HERE / "results.md")
    args = ap.parse_args(argv)
    results: list[Result] = []
    failures: list[str] = []
    t0 = time.perf_counter()
    for done, name in enumerate(args.only or MODULES):
        print(f"== {name}", flush=True)
        try:
            mod_name, _, fn = name.partition(":")
            mod = importlib.import_module(mod_name)
            got = getattr(mod, fn or "run")(quick=args.quick)
        except Exception:  # a broken benchmark is reported, the others still run
            failures.append(f"{name}: {traceback.format_exc(limit=3)}")
            _write(args, results, failures, t0, pending=(args.only or MODULES)[done + 1 :])
            continue
        for r in got:
            print(
                f"   {r.id}: {r.value:.3g} {r.unit} (target {r.target}) {'met' if r.met else 'NOT met'}"
            )
        results.extend(got)
        # written after every module, so a run cut short keeps what it measured
        _write(args, results, failures, t0, pending=(args.only or MODULES)[done + 1 :])
    return 1 if failures else 0


def _write(args, results, failures, t0, pending) -> None:
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {machine()}",
        f"Run: `make bench`{' --quick' if args.quick else ''}, {time.strftime('%Y-%m-%d')}, "
        f"total {time.perf_counter() - t0:.0f} s. Medians of ≥5 repeats after a warm-up "
        "unless noted (B6b: median of 3 per size); ratios against a baseline in the same run. The machine is shared "
        f"(2 cores; 1-minute load average {os.getloadavg()[0]:.1f} when this was written): "
        "where wall time mostly measures the other processes, CPU time "
        "(`time.process_time`, or the child's user + system time) is reported beside it.",
        "",
        "| id | what | baseline in the same run | measured | target | met | details |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        det = ", ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.detail.items()
        )
        lines.append(
            f"| {r.id} | {r.what} | {r.baseline} | {r.value:.3g} {r.unit} | {r.target} | "
            f"{'yes' if r.met else '**no**'} | {det} |"
        )
    if pending:
        lines += ["", f"Still running when this was written: {', '.join(pending)}."]
    if failures:
        lines += ["", "## Benchmarks that failed to run", ""]
        lines += [f"```\n{f}\n```" for f in failures]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
