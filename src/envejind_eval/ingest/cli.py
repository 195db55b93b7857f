"""``envejind-eval validate`` and ``envejind-eval keygen``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from envejind_eval.cli import command


def _setup_validate(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", type=Path, help="the delivery folder")
    p.add_argument("--config", type=Path, default=None, help="a datakilder.toml mapping file")
    p.add_argument(
        "--quarantine",
        type=Path,
        default=None,
        help="folder to write quarantined rows to (the columns read, CPR-shaped text "
        "masked); a new folder outside the delivery, or one an earlier run wrote (it is "
        "replaced)",
    )
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument(
        "--key",
        type=Path,
        default=None,
        help="pseudonym key file (default $ENVEJIND_PSEUDONYM_KEY or "
        "~/.config/envejind_eval/pseudonym.key)",
    )


@command(
    "validate",
    "check a delivery and print the ingest report (exit 0 all accepted, 1 rows quarantined, "
    "2 unusable)",
    _setup_validate,
)
def cmd_validate(args: argparse.Namespace) -> int:
    from envejind_eval.ingest import read_delivery
    from envejind_eval.outpath import check_out, staged

    try:
        if args.quarantine is not None:  # refuse a bad folder before the (slow) read
            check_out(args.quarantine, kind="quarantine", inputs=[args.path], flag="--quarantine")
        _, report, _ = read_delivery(args.path, config=args.config, key=args.key)
        if args.quarantine is not None:  # always rewritten: no stale rows of an earlier run
            with staged(
                args.quarantine, kind="quarantine", inputs=[args.path], flag="--quarantine"
            ) as stage:
                report.write_quarantine(stage.path)
    except Exception as exc:
        if args.format == "json":  # a script reading stdout always gets a document
            print(_fatal_json(args.path, exc))
        raise
    print(report.to_json() if args.format == "json" else report.to_text())
    if report.fatal:
        see = f" and the rows in {args.quarantine}" if args.quarantine else ""
        print(
            f"envejind-eval validate: error: {report.fatal}; see the problems{see}", file=sys.stderr
        )
    return report.exit_code


def _fatal_json(path: Path, exc: Exception) -> str:
    """The ``--format json`` document of a delivery that could not be used (exit 2)."""
    from envejind_eval.cli import error_line
    from envejind_eval.disclosure.scan import redact

    doc = {
        "folder": redact(path.name),
        "exit_code": 2,
        "error": error_line(exc),
        "files": [],
        "problems": [],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)


def _setup_keygen(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="key file (default ~/.config/envejind_eval/pseudonym.key)",
    )
    p.add_argument("--force", action="store_true", help="replace an existing key file")


@command(
    "keygen", "create the secret pseudonym key (keep it outside the repo and data)", _setup_keygen
)
def cmd_keygen(args: argparse.Namespace) -> int:
    from envejind_eval.ingest.pseudonymise import keygen

    path = keygen(args.out, force=args.force)
    print(
        f"wrote a new pseudonym key to {path} (mode 0600); back it up safely: later "
        "deliveries must use the same key to get the same pseudonyms"
    )
    return 0
