"""Command line: ``envejind-eval <command>``. Orchestration only; logic lives in the layers.

Each command is a function ``cmd_<name>(args) -> int`` registered in ``COMMANDS`` with its
argument setup. Any failure prints one clear line and exits with code 2 -- never a
traceback (``--debug`` shows it): a user mistake (an :class:`EnvejindError`) says what was
wrong, any other exception is described by :func:`error_line` (kind, file, what to do).
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from envejind_eval.errors import EnvejindError

Setup = Callable[[argparse.ArgumentParser], None]
Handler = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, tuple[str, Setup, Handler]] = {}


def command(name: str, help: str, setup: Setup) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        COMMANDS[name] = (help, setup, fn)
        return fn

    return deco


# -- synth / info ---------------------------------------------------------------------------


def _setup_synth(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--seed", type=int, default=2018)
    p.add_argument("--scale", choices=["sample", "national", "tiny"], default="sample")


@command("synth", "write a synthetic delivery (municipal files + canonical/)", _setup_synth)
def cmd_synth(args: argparse.Namespace) -> int:
    from envejind_eval.synth import write_delivery

    out = write_delivery(args.out, seed=args.seed, scale=args.scale)
    print(f"wrote synthetic delivery to {out}")
    return 0


def _setup_info(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", type=Path, help="a delivery folder or a canonical folder")


@command("info", "print the dataset summary", _setup_info)
def cmd_info(args: argparse.Namespace) -> int:
    from envejind_eval.dataset import Dataset

    ds = _open(args.path)
    assert isinstance(ds, Dataset)
    print(repr(ds))
    print(ds.summary().to_string(index=False))
    return 0


def _open(path: Path):  # type: ignore[no-untyped-def]
    """A canonical folder opens directly; anything else goes through ingestion."""
    from envejind_eval.dataset import Dataset

    if (path / "participants.csv").exists() or (path / "participants.parquet").exists():
        return Dataset.from_canonical(path)
    from envejind_eval.ingest import load

    return load(path)


def build_parser() -> argparse.ArgumentParser:
    _load_commands()
    from envejind_eval import __version__

    parser = argparse.ArgumentParser(
        prog="envejind-eval", description="Evaluation toolkit for 'En vej ind'."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    debug_help = "show the traceback of a failure (it may quote data: do not share it blindly)"
    parser.add_argument("--debug", action="store_true", help=debug_help)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_, setup, fn) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_, description=help_)
        setup(sp)
        sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug_help)
        sp.set_defaults(func=fn)
    return parser


def _load_commands() -> None:
    """Import the modules that register further commands (ingest, report, ...)."""
    import importlib

    for mod in (
        "envejind_eval.ingest.cli",
        "envejind_eval.figures.cli",
        "envejind_eval.disclosure.cli",
        "envejind_eval.report.cli",
    ):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise


def error_line(exc: BaseException) -> str:
    """One line describing a failure: the message of an :class:`EnvejindError`; for any
    other exception its kind, the file when known (CPR-shaped parts redacted) and what to
    do. Never the exception's own text, which may quote a delivered value."""
    from envejind_eval.disclosure.scan import redact

    text = "; ".join(ln.strip() for ln in _describe(exc).splitlines() if ln.strip())
    return redact(text)  # the last guard: no CPR-shaped text reaches the terminal


def _describe(exc: BaseException) -> str:
    if isinstance(exc, EnvejindError):
        return str(exc)
    if isinstance(exc, OSError):
        name = exc.filename if exc.filename is not None else exc.filename2
        where = f"{os.fsdecode(name)}: " if name is not None else ""
        advice = {
            errno.ENOTDIR: "a part of this path is a file, not a folder; choose another path",
            errno.EISDIR: "this is a folder where a file was expected; give a file path",
            errno.EACCES: "permission denied; choose a place you can read/write, or fix the "
            "permissions",
            errno.EPERM: "operation not permitted; choose another place",
            errno.ENOENT: "not found; check the path",
            errno.ENOSPC: "the disk is full; free some space and run again",
            errno.EROFS: "the file system is read-only; choose another place",
            errno.EEXIST: "already exists; choose another name",
        }.get(exc.errno or 0)
        return where + (advice or f"{exc.strerror or type(exc).__name__}; check the path")
    if isinstance(exc, MemoryError):
        return "out of memory; close other programs or use a machine with more memory"
    if isinstance(exc, UnicodeError):
        return (
            f"a file could not be decoded ({type(exc).__name__}); save it as UTF-8 and run "
            "again (--debug shows where)"
        )
    return (
        f"unexpected {type(exc).__name__}; this is probably a bug: run again with --debug and "
        "report the traceback (check it for personal data before sharing)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    if debug:
        os.environ["ENVEJIND_DEBUG"] = "1"  # library layers re-raise instead of wrapping
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            import traceback

            traceback.print_exc()
        print(f"envejind-eval {args.command}: error: {error_line(exc)}", file=sys.stderr)
        if getattr(args, "next_step", None):  # what to do now (validate)
            print(args.next_step, file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
