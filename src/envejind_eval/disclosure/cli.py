"""``envejind-eval scan PATH... [--pseudonyms FILE] [--key FILE]``: the leak guard.

Exit status 0 when nothing is found, 1 on any hit (CPR-shaped string, pseudonym, or a file
that could not be read), 2 on a usage error. Hits print file, location and kind -- never
the matched text.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from envejind_eval.cli import command
from envejind_eval.errors import EnvejindError


def _setup_scan(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", type=Path, help="files or folders to scan")
    p.add_argument(
        "--pseudonyms",
        type=Path,
        default=None,
        help="file with the delivery's pseudonyms (one per line, or a CSV with participant_id)",
    )
    p.add_argument(
        "--key",
        type=Path,
        default=None,
        help="the pseudonym key file: report outputs that contain (part of) the key",
    )


@command(
    "scan", "search outputs for CPR-shaped strings and pseudonyms (exit 1 on a hit)", _setup_scan
)
def cmd_scan(args: argparse.Namespace) -> int:
    from envejind_eval.disclosure.scan import read_pseudonyms, scan

    pseud = None
    if args.pseudonyms is not None:
        if not args.pseudonyms.is_file():
            raise EnvejindError("scan: --pseudonyms file not found")
        pseud = read_pseudonyms(args.pseudonyms)
    missing = [p for p in args.paths if not p.exists()]
    if missing:
        raise EnvejindError(f"scan: {len(missing)} path(s) do not exist")
    if args.key is not None and not args.key.is_file():
        raise EnvejindError("scan: --key file not found")
    try:
        hits = scan(args.paths, pseudonyms=pseud, key=args.key)
    except ValueError as exc:
        raise EnvejindError(str(exc)) from None
    for h in hits.itertuples(index=False):
        print(f"{h.file}: {h.location}: {h.kind}")
    n_files = hits["file"].nunique()
    if len(hits):
        print(f"scan: {len(hits)} hit(s) in {n_files} file(s)")
        return 1
    print("scan: no CPR-shaped strings or pseudonyms found")
    return 0
