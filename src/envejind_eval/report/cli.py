"""``envejind-eval report DIR --out OUT``: the one-command reporting run (orchestration only)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from envejind_eval.cli import command


def _setup_report(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", type=Path, metavar="DIR", help="delivery folder or canonical folder")
    p.add_argument("--out", required=True, type=Path, metavar="OUT", help="output folder")
    p.add_argument("--lang", choices=["da", "en"], default=None, help="report language (da)")
    p.add_argument(
        "--by",
        choices=["municipality"],
        default=None,
        help="also write one report per municipality (OUT/<municipality>/index.html)",
    )
    p.add_argument(
        "--min-cell",
        type=int,
        default=None,
        dest="min_cell",
        help="minimum persons behind any published number (5; at least 3)",
    )
    p.add_argument("--seed", type=int, default=None, help="seed for bootstrap/imputation (2018)")
    p.add_argument(
        "--format",
        default=None,
        dest="formats",
        metavar="LIST",
        help="report documents, a comma list of html, docx, pdf (html)",
    )
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="TOML file with a [report] table of these options",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="worker processes drawing figures (default: CPUs; the output is the same)",
    )
    p.add_argument(
        "--previous",
        type=Path,
        action="append",
        default=None,
        metavar="FOLDER",
        help="an earlier report folder this edition must not be subtractable from "
        "(repeatable; the report already in OUT is always checked)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")


@command(
    "report",
    "write the evaluation report (HTML/Word/PDF, tables, figures, manifest)",
    _setup_report,
)
def cmd_report(args: argparse.Namespace) -> int:
    from envejind_eval.errors import EnvejindError
    from envejind_eval.report.build import DEFAULT_SEED, build_report, read_config

    cfg = read_config(args.config)
    opts = {
        "lang": args.lang or cfg.get("lang", "da"),
        "by": args.by or cfg.get("by"),
        "min_cell": args.min_cell if args.min_cell is not None else cfg.get("min_cell", 5),
        "seed": args.seed if args.seed is not None else cfg.get("seed", DEFAULT_SEED),
        "municipalities": cfg.get("municipalities"),
        "formats": args.formats or cfg.get("format", "html"),
        "previous": args.previous or cfg.get("previous", ()),
    }
    for k in ("n_boot", "figures"):
        if k in cfg:
            opts[k] = cfg[k]
    try:
        res = build_report(
            args.path, args.out, config=args.config, quiet=args.quiet, jobs=args.jobs, **opts
        )
    except ValueError as exc:  # an option outside its allowed set
        raise EnvejindError(str(exc)) from None
    if not args.quiet:
        for name in (n for n in res.manifest.get("documents", []) if "/" not in n):
            print(f"wrote report to {res.out / name}")
        for w in res.warnings:
            print(f"warning: {w}", file=sys.stderr)
    return res.exit_code
