"""B1: cold ``import envejind_eval`` against cold ``import pingouin`` (fresh subprocesses)."""

from __future__ import annotations

import subprocess
import sys
import time
from statistics import median

from common import Result


def _cold(module: str, repeat: int) -> float:
    times = []
    for _ in range(repeat + 1):  # first run warms the OS file cache, not the interpreter
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
        times.append(time.perf_counter() - t0)
    return median(times[1:])


def run(quick: bool = False) -> list[Result]:
    repeat = 3 if quick else 7
    ours = _cold("envejind_eval", repeat)
    base = _cold("pingouin", repeat)
    ratio = ours / base
    return [
        Result(
            "B1",
            "cold `import envejind_eval` (subprocess)",
            "cold `import pingouin`",
            ratio,
            "×",
            "≤ 0.3×",
            ratio <= 0.3,
            {"ours_s": ours, "baseline_s": base},
        )
    ]


if __name__ == "__main__":
    for r in run():
        print(r)
