"""``envejind-eval gallery DATA_DIR --out DIR [--lang da|en] [--jobs N] [--internal]``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from envejind_eval.cli import _open, command
from envejind_eval.errors import EnvejindError


def _positive_int(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"expecting a positive integer; got {value}")
    return n


def _setup_gallery(p: argparse.ArgumentParser) -> None:
    p.add_argument("data_dir", type=Path, help="a delivery folder or a canonical folder")
    p.add_argument("--out", required=True, type=Path, help="output folder for PNG + SVG")
    p.add_argument("--lang", choices=["da", "en"], default="da")
    p.add_argument(
        "--jobs", type=_positive_int, default=None, help="worker processes (default: CPUs)"
    )
    p.add_argument("--dpi", type=_positive_int, default=300, help="PNG resolution")
    p.add_argument(
        "--instrument",
        action="append",
        default=None,
        help="only this instrument's figures (repeatable; default: all measured)",
    )
    p.add_argument(
        "--internal",
        action="store_true",
        help="also render internal-only figures showing individuals (never publish these)",
    )


@command("gallery", "render every figure for a dataset (PNG 300 dpi + SVG)", _setup_gallery)
def cmd_gallery(args: argparse.Namespace) -> int:
    from envejind_eval.figures.gallery import render_gallery
    from envejind_eval.outpath import check_out

    t0 = time.perf_counter()
    check_out(args.out, kind="gallery", inputs=[args.data_dir])  # before the slow part
    ds = _open(args.data_dir)
    unknown = sorted(set(args.instrument or []) - set(ds.instruments))
    if unknown:
        raise EnvejindError(
            f"unknown instrument(s) {', '.join(unknown)}; expecting one of "
            f"{', '.join(ds.instruments)}"
        )
    m = render_gallery(
        ds,
        args.out,
        lang=args.lang,
        jobs=args.jobs,
        internal=args.internal,
        instruments=args.instrument,
        dpi=args.dpi,
    )
    counts = m["status"].value_counts()
    print(
        f"gallery: {counts.get('ok', 0)} figures written to {args.out} "
        f"({counts.get('skipped', 0)} skipped, {counts.get('failed', 0)} failed) "
        f"in {time.perf_counter() - t0:.1f} s; see manifest.csv"
    )
    for row in m.loc[m["status"] != "ok"].itertuples():
        print(f"  {row.status}: {row.name}: {row.reason}")
    return 1 if (m["status"] == "failed").any() else 0
