"""``envejind-eval validate`` and ``envejind-eval keygen``."""

from __future__ import annotations

import argparse
from pathlib import Path

from envejind_eval.cli import command


def _setup_validate(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", type=Path, help="the delivery folder")
    p.add_argument("--config", type=Path, default=None, help="a datakilder.toml mapping file")
    p.add_argument(
        "--quarantine",
        type=Path,
        default=None,
        help="folder to write quarantined rows to (the columns read, CPR-shaped text masked)",
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

    _, report, _ = read_delivery(args.path, config=args.config, key=args.key)
    if args.quarantine is not None and report.quarantined_rows:
        report.write_quarantine(args.quarantine)
    print(report.to_json() if args.format == "json" else report.to_text())
    return report.exit_code


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
