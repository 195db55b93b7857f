"""National-scale synthetic data for the benchmarks, generated once and cached on disk."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

CACHE = Path(os.environ.get("ENVEJIND_BENCH_CACHE", Path(tempfile.gettempdir()) / "envejind_bench"))


def national_canonical(seed: int = 1, factor: float = 1.0) -> Path:
    """Canonical Parquet folder of a national-scale synthetic dataset (scaled by ``factor``)."""
    from envejind_eval.synth import synthesize

    out = CACHE / f"national_seed{seed}_x{factor:g}"
    if not (out / "participants.parquet").exists():
        kw = {} if factor == 1.0 else {"n_participants": int(round(20_000 * factor))}
        ds, _ = synthesize(seed=seed, scale="national", **kw)
        ds.to_canonical(out, format="parquet")
    return out


def national_delivery(seed: int = 1) -> Path:
    """A national-scale municipal delivery (Danish CSV; long attendance CSV)."""
    from envejind_eval.synth import write_delivery

    out = CACHE / f"national_delivery_seed{seed}"
    if not (out / "deltagere.csv").exists():
        write_delivery(out, seed=seed, scale="national")
    return out
