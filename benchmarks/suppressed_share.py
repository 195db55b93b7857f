"""Share of published cells suppressed in report folders (issue 14, utility).

    python benchmarks/suppressed_share.py OUT [OUT ...] [--min-cell 5]

Counts, over every ``tables/*.csv`` of each report folder (national and municipality
sub-folders), the numeric cells and those shown ``<min_cell`` or ``..``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd


def share(root: Path, min_cell: int = 5) -> dict[str, tuple[int, int]]:
    """``scope -> (suppressed, numeric cells)``."""
    hidden = {"..", f"<{min_cell}"}
    out: dict[str, tuple[int, int]] = {}
    for p in sorted(root.rglob("tables/*.csv")):
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
        vals = df.to_numpy().ravel()
        sup = sum(v in hidden for v in vals)
        num = sup + int(pd.to_numeric(pd.Series(vals), errors="coerce").notna().sum())
        scope = "national" if p.parent.parent == root else p.parent.parent.name
        a, b = out.get(scope, (0, 0))
        out[scope] = (a + sup, b + num)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--min-cell", type=int, default=5)
    a = ap.parse_args()
    for f in a.folders:
        per = share(f, a.min_cell)
        s, n = (sum(x) for x in zip(*per.values(), strict=True))
        detail = ", ".join(f"{k} {x}/{y}" for k, (x, y) in per.items())
        print(f"{f}: {s}/{n} = {s / n:.1%} suppressed ({detail})")


if __name__ == "__main__":
    main()
