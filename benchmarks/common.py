"""Shared helpers for the benchmarks: repeated timing, peak memory, machine description.

Every figure is a ratio against a baseline measured in the same process/script, so the
numbers compare across machines; absolute seconds are reported alongside for context.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from statistics import median
from typing import Any


@dataclass
class Result:
    id: str
    what: str
    baseline: str
    value: float  # the measured ratio or absolute figure compared with the target
    unit: str
    target: str
    met: bool
    detail: dict[str, Any] = field(default_factory=dict)


def timeit(fn: Callable[[], Any], *, repeat: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``repeat`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return median(times)


def timeit_cpu(fn: Callable[[], Any], *, repeat: int = 5, warmup: int = 1) -> tuple[float, float]:
    """Median wall time and median CPU time (``time.process_time``: this process, all
    threads) of ``repeat`` calls after ``warmup`` calls.

    On a shared, loaded machine wall time mostly measures the other processes; the CPU
    time of the same call is the steadier figure, so the benchmarks report both.
    """
    for _ in range(warmup):
        fn()
    walls, cpus = [], []
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return median(walls), median(cpus)


def load_average() -> float:
    """1-minute load average (context for wall times on a shared machine)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def run_subprocess(
    cmd: list[str],
    *,
    env: dict[str, str] | None = None,
    ok_codes: tuple[int, ...] = (0,),
    timeout: float | None = None,
) -> tuple[float, float, float, bool]:
    """Wall seconds, peak RSS (MB), CPU seconds and whether it was stopped at ``timeout``.

    ``os.wait4`` gives this child's own peak RSS and user + system time, including its
    waited-for children (e.g. figure workers), not the maximum over earlier children. A run
    over ``timeout`` is killed so that ``make bench`` always ends; it counts as not met.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    timed_out = False
    while True:  # poll with WNOHANG: Popen.wait would reap the child and lose its rusage
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if timeout is not None and time.perf_counter() - t0 > timeout:
            proc.kill()
            timed_out = True
            _, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if not timed_out and code not in ok_codes:
        err = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
        raise RuntimeError(f"{' '.join(cmd[:2])} exited with {code}: {err}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, timed_out


def machine() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown CPU"
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), "
        f"{mem:.0f} GiB RAM, Python {sys.version.split()[0]}"
    )
