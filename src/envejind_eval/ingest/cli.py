"""``envejind-eval validate``, ``envejind-eval init`` and ``envejind-eval keygen``."""

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
        "--lang", choices=["da", "en"], default="en", help="language of the next-step line"
    )
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
    from envejind_eval.errors import IngestError
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
        elif isinstance(exc, IngestError):  # the delivery itself: cli.main prints it last
            args.next_step = next_step(args.path, None, lang=args.lang, config=args.config)
        raise
    print(report.to_json() if args.format == "json" else report.to_text())
    if report.fatal:
        see = f" and the rows in {args.quarantine}" if args.quarantine else ""
        print(
            f"envejind-eval validate: error: {report.fatal}; see the problems{see}", file=sys.stderr
        )
    if args.format == "text":
        print(next_step(args.path, report, lang=args.lang, config=args.config))
    return report.exit_code


def next_step(folder: Path, report: object, *, lang: str = "en", config: Path | None = None) -> str:
    """The one line ``validate`` ends with: what to do now. ``report`` None: the delivery
    could not be read at all."""
    from envejind_eval.disclosure.scan import redact_cpr

    shown = redact_cpr(str(folder))
    has_config = config is not None or (folder / "datakilder.toml").is_file()
    da = lang == "da"
    init = (
        f"kør `envejind-eval init {shown}` for at få et forslag til datakilder.toml"
        if da
        else f"run `envejind-eval init {shown}` to propose a datakilder.toml"
    )
    if report is None:
        if da:
            return "næste skridt: ret fejlen ovenfor" + ("" if has_config else f", eller {init}")
        return "next: fix the error above" + ("" if has_config else f", or {init}")
    n_err = n_warn = 0
    probs = getattr(report, "problems", None)
    if probs is not None and len(probs):
        n_err = int((probs["severity"] == "error").sum())
        n_warn = int((probs["severity"] == "warning").sum())  # info rows are notes
        # init helps with columns the defaults do not know, not with bad cells
        has_config = has_config or not (probs["rule"] == "ignored_column").any()
    if getattr(report, "fatal", None) or n_err or n_warn:
        what = []
        if n_err:
            what.append(f"{n_err} fejl" if da else f"{n_err} error(s)")
        if n_warn:
            what.append(f"{n_warn} advarsel(er)" if da else f"{n_warn} warning(s)")
        listed = " og ".join(what) if da else " and ".join(what)
        if da:
            tail = "" if has_config else f", eller {init}"
            return f"næste skridt: ret de {listed} ovenfor og kør validate igen{tail}"
        tail = "" if has_config else f", or {init}"
        return f"next: fix the {listed} above and run validate again{tail}"
    if da:
        return f"næste skridt: leverancen er klar; kør `envejind-eval report {shown} --out MAPPE`"
    return f"next: the delivery is ready; run `envejind-eval report {shown} --out FOLDER`"


def _setup_init(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", type=Path, help="the delivery folder")
    p.add_argument("--force", action="store_true", help="replace an existing datakilder.toml")
    p.add_argument("--lang", choices=["da", "en"], default="da", help="language of the comments")


@command(
    "init",
    "propose a datakilder.toml for a delivery in an unknown layout (guesses marked in comments)",
    _setup_init,
)
def cmd_init(args: argparse.Namespace) -> int:
    from envejind_eval.ingest.init import init_delivery

    _, summary = init_delivery(args.path, force=args.force, lang=args.lang)
    print(summary)
    return 0


def _fatal_json(path: Path, exc: Exception) -> str:
    """The ``--format json`` document of a delivery that could not be used (exit 2)."""
    from envejind_eval.cli import error_line
    from envejind_eval.disclosure.scan import redact

    doc = {
        "folder": redact(path.name),
        "exit_code": 2,
        "error": error_line(exc),
        "files": [],
        "columns": [],
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
