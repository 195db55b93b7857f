"""Output paths that cannot hurt: the one place that decides where a command may write.

Every command that writes a folder (``report``, ``gallery``, ``synth``,
``validate --quarantine``) goes through :func:`staged`: the target is checked
(:func:`check_out`), the new output is written into a hidden temporary folder next to it,
and only a complete output replaces the target. ``keygen`` checks its file with
:func:`check_key_path`; ``init`` writes the one file it may put into a delivery,
``datakilder.toml``, with :func:`write_config`.

What is refused (an :class:`OutputPathError`, exit 2): a target that is a file or other
non-folder, a symbolic link, a path under a file, the input folder itself, a folder inside
it or containing it, a folder inside any delivery (a folder holding a participant list or
``datakilder.toml``), the current or home folder, and a non-empty folder holding anything
we did not write. "Ours" means the folder carries our marker file (:data:`MARKER`, listing
every file we wrote) of the same kind, or -- for reports written before the marker existed
-- a ``manifest.json`` of this package and only report files. Nothing we did not write is
ever deleted; stale temporary folders of a killed run are removed only when they are
recognisably ours (empty, or marked by a process that no longer runs).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from envejind_eval.errors import EnvejindError

#: Hidden marker written into every output folder: kind and the files we wrote.
MARKER = ".envejind_eval.json"
_FORMAT = "envejind_eval.output"
KINDS = ("report", "gallery", "synth", "quarantine")
#: Files a report of an earlier version may hold (recognised by its manifest.json).
_LEGACY_REPORT_FILES = {"index.html", "manifest.json", "tables.xlsx", "disclosure_ledger.json"}
_LEGACY_REPORT_DIRS = {"tables": (".csv",), "figures": (".png", ".svg")}


class OutputPathError(EnvejindError):
    """An output path that could destroy or mix up data; nothing was written or deleted."""


def _show(path: os.PathLike[str] | str) -> str:
    """A path for a message: CPR-shaped parts redacted (folder names can hold identifiers)."""
    from envejind_eval.disclosure.scan import redact

    return redact(str(path))


def _abs(path: Path) -> Path:
    """Absolute path with ``..`` resolved but the last component not followed (a symlink
    target stays a symlink so it can be refused)."""
    p = Path(os.path.abspath(path.expanduser()))
    return p.parent.resolve() / p.name if p.name else p


def _inside(a: Path, b: Path) -> bool:
    return a == b or b in a.parents


# -- recognising folders ---------------------------------------------------------------------


def looks_like_delivery(folder: Path) -> bool:
    """True if ``folder`` holds a participant list (any name ingestion reads as one, e.g.
    ``deltagere.csv``, ``Deltagerliste.xlsx``, ``participants.parquet``) or a
    ``datakilder.toml``: a delivery or a canonical folder."""
    from envejind_eval.ingest.mapping import kind_from_name

    try:
        names = [e.name for e in os.scandir(folder) if e.is_file()]
    except OSError:
        return False
    for name in names:
        if name.startswith((".", "~$")):
            continue
        stem, _, suffix = name.rpartition(".")
        if name.lower() == "datakilder.toml" or (
            suffix.lower() in ("csv", "txt", "xlsx", "parquet")
            and kind_from_name(stem)[0] == "participants"
        ):
            return True
    return False


def _unlistable(exc: OSError) -> None:
    raise OutputPathError(
        f"{_show(exc.filename)} cannot be listed ({exc.strerror}); nothing was changed"
    )


def _files_under(folder: Path) -> list[str]:
    """Every non-folder entry under ``folder`` (symlinks not followed), relative, POSIX.
    A sub-folder that cannot be listed is an error: it could hold anything."""
    out = []
    for root, dirs, files in os.walk(folder, onerror=_unlistable):
        r = Path(root)
        for d in list(dirs):  # a symlinked folder is an entry of its own, not walked
            if (r / d).is_symlink():
                dirs.remove(d)
                files.append(d)
        out += [(r / f).relative_to(folder).as_posix() for f in files]
    return sorted(out)


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The marker of an output folder of ours, or None."""
    try:
        m = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return m if isinstance(m, dict) and m.get("format") == _FORMAT else None


def _legacy_report(folder: Path, files: list[str]) -> bool:
    """A report written before the marker: our manifest.json and only report files."""
    try:
        man = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(man, dict) or man.get("package") != "envejind_eval":
        return False
    scopes = {str(s) for s in man.get("scopes", []) if s != "national"}

    def known(rel: str) -> bool:
        parts = rel.split("/")
        if len(parts) > 1 and parts[0] in scopes:
            parts = parts[1:]
        if len(parts) == 1:
            return parts[0] in _LEGACY_REPORT_FILES or parts[0].startswith(".ledger-")
        return len(parts) == 2 and parts[1].endswith(_LEGACY_REPORT_DIRS.get(parts[0], ("\0",)))

    return all(known(f) for f in files)


_SYNTH_FILES = re.compile(
    r"README\.md|deltagere\.csv|hold\.csv|fremmoede(_[^/]+\.xlsx|\.csv)|ankomsttider\.csv"
    r"|aktiviteter\.csv|maalinger_[^/]+\.csv|status\.csv|canonical/[^/]+\.(csv|parquet)"
)


def _legacy_synth(folder: Path, files: list[str]) -> bool:
    """A synthetic delivery written before the marker: its README and only its files."""
    try:
        with (folder / "README.md").open(encoding="utf-8") as fh:
            first = fh.readline()
    except (OSError, ValueError):
        return False
    return first.startswith("# Synthetic delivery (seed") and all(
        _SYNTH_FILES.fullmatch(f) for f in files
    )


def _legacy_gallery(folder: Path, files: list[str]) -> bool:
    """A gallery written before the marker: its manifest.csv and only figure files."""
    try:
        with (folder / "manifest.csv").open(encoding="utf-8") as fh:
            first = fh.readline().strip()
    except (OSError, ValueError):
        return False
    return first == "name,figure,status,files,seconds,reason" and all(
        f == "manifest.csv" or f.endswith((".png", ".svg")) for f in files
    )


def owner_kind(folder: Path) -> str | None:
    """The kind of output of ours ``folder`` holds (every file in it ours), else None."""
    files = _files_under(folder)
    m = read_marker(folder)
    if m is not None and m.get("complete"):
        written = set(m.get("files", [])) | {MARKER}
        if all(f in written for f in files):
            return str(m.get("kind"))
        return None
    if _legacy_report(folder, files):
        return "report"
    if _legacy_synth(folder, files):
        return "synth"
    if _legacy_gallery(folder, files):
        return "gallery"
    if files and all(f.endswith(".quarantine.csv") and "/" not in f for f in files):
        return "quarantine"
    return None


def _owner_kind_or_none(folder: Path) -> str | None:
    try:
        return owner_kind(folder)
    except OutputPathError:  # cannot be listed: not known to be ours
        return None


def _lstat(p: Path, say: str) -> os.stat_result | None:
    """``p.lstat()``, None when nothing is there; any other failure is a clear error."""
    try:
        return p.lstat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OutputPathError(f"{say} cannot be used ({exc.strerror})") from None


# -- checking a target -----------------------------------------------------------------------


def check_out(
    out: str | os.PathLike[str],
    *,
    kind: str,
    inputs: Sequence[str | os.PathLike[str]] = (),
    flag: str = "--out",
) -> Path:
    """Refuse an output folder that could destroy or mix up data (see module notes).

    Returns the absolute path. Raises :class:`OutputPathError` with one line saying why.
    """
    if kind not in KINDS:
        raise ValueError(f"Expecting one of {', '.join(KINDS)}; got '{kind}'")
    p = _abs(Path(out))
    say = f"{flag} {_show(out)}"
    for inp in inputs:
        i = _abs(Path(inp))
        if i.exists():
            i = i.resolve()
        if p == i:
            raise OutputPathError(f"{say} is the input folder; choose a new folder for the output")
        if _inside(p, i):
            raise OutputPathError(f"{say} lies inside the input folder; choose a folder outside it")
        if _inside(i, p):
            raise OutputPathError(
                f"{say} contains the input folder; choose a new, separate folder for the output"
            )
    if p.is_symlink():
        raise OutputPathError(f"{say} is a symbolic link; give the real folder")
    if p.exists() and not p.is_dir():
        raise OutputPathError(f"{say} is a file, not a folder; choose a folder name")
    anc = p.parent
    while not anc.exists():
        anc = anc.parent
    if not anc.is_dir():
        raise OutputPathError(f"{say} cannot be created: {_show(anc)} is a file, not a folder")
    for d in (p.parent, *p.parent.parents):
        if d.is_dir() and looks_like_delivery(d):
            raise OutputPathError(
                f"{say} lies inside a delivery folder ({_show(d)}); the output must not mix "
                "with data, choose a folder outside it"
            )
    here = {Path.cwd().resolve(): "the current folder", Path.home().resolve(): "your home folder"}
    for d, what in here.items():
        if _inside(d, p):
            raise OutputPathError(
                f"{say} is {what}"
                + (" or contains it" if d != p else "")
                + "; give a new sub-folder for the output, such as ./"
                + kind
            )
    if p.is_dir() and any(p.iterdir()):
        has = owner_kind(p)
        if has is None:
            if kind != "synth" and looks_like_delivery(p):
                raise OutputPathError(
                    f"{say} is a delivery folder; choose a new folder for the output"
                )
            m = read_marker(p)
            ours = set(m.get("files", [])) | {MARKER} if m and m.get("complete") else {MARKER}
            foreign = [f for f in _files_under(p) if f not in ours]
            example = f" (e.g. {_show(foreign[0])})" if foreign else ""
            raise OutputPathError(
                f"{say} is not empty and holds {len(foreign)} file(s) that envejind-eval did "
                f"not write{example}; nothing was changed, choose a new or empty folder"
            )
        if has != kind:
            raise OutputPathError(
                f"{say} holds an earlier {has} output, not a {kind}; choose another folder"
            )
    _check_writable(anc, say)
    return p


def _check_writable(d: Path, say: str) -> None:
    if not os.access(d, os.W_OK | os.X_OK):
        raise OutputPathError(
            f"{say} cannot be written: the folder {_show(d)} is read-only for you; "
            "choose a folder you can write to"
        )


# -- staging ---------------------------------------------------------------------------------


def _write_marker(folder: Path, kind: str, files: list[str] | None) -> None:
    m = {"format": _FORMAT, "version": 1, "kind": kind, "complete": files is not None}
    if files is None:
        m["pid"] = os.getpid()
    else:
        m["files"] = files
    (folder / MARKER).write_text(json.dumps(m, indent=1) + "\n", encoding="utf-8")


def _alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError, OverflowError):
        return True  # someone else's process, or no pid: do not touch
    return True


def remove_stale(out: Path) -> list[Path]:
    """Remove temporary folders of ours a killed run left next to ``out``: an empty
    ``.OUT.tmp-*`` or one whose incomplete marker names a process that no longer runs,
    and a ``.OUT.old-*`` holding an output of ours once ``out`` is in place."""
    removed: list[Path] = []
    parent = out.parent
    try:
        entries = list(parent.iterdir())
    except OSError:
        return removed
    for e in entries:
        if e.is_symlink() or not e.is_dir():
            continue
        if e.name.startswith(f".{out.name}.tmp-"):
            m = read_marker(e)
            if not any(e.iterdir()) or (
                m is not None and not m.get("complete") and not _alive(m.get("pid"))
            ):
                shutil.rmtree(e, ignore_errors=True)
                removed.append(e)
        elif (
            e.name.startswith(f".{out.name}.old-")
            and out.is_dir()
            and not _alive(e.name.rsplit("-", 1)[-1])
            and _owner_kind_or_none(e) is not None
        ):
            shutil.rmtree(e, ignore_errors=True)
            removed.append(e)
    return removed


class Stage:
    """A temporary output folder; :meth:`seal` records the files written so far."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path = path
        self.kind = kind
        self.sealed = False

    def seal(self) -> None:
        """Write the complete marker (call after the last file, before a final scan)."""
        files = [f for f in _files_under(self.path) if f != MARKER]
        _write_marker(self.path, self.kind, files)
        self.sealed = True


@contextmanager
def staged(
    out: str | os.PathLike[str],
    *,
    kind: str,
    inputs: Sequence[str | os.PathLike[str]] = (),
    flag: str = "--out",
) -> Iterator[Stage]:
    """Check ``out``, yield a :class:`Stage` next to it, and move it into place when the
    block succeeds (the previous output of ours is replaced only then). On failure the
    temporary folder is removed and ``out`` is untouched."""
    target = check_out(out, kind=kind, inputs=inputs, flag=flag)
    say = f"{flag} {_show(out)}"
    remove_stale(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    except OSError as exc:
        raise OutputPathError(
            f"{say} cannot be written ({exc.strerror or type(exc).__name__}); "
            "choose a folder you can write to"
        ) from None
    stage = Stage(tmp, kind)
    try:
        _write_marker(tmp, kind, None)
        yield stage
        if not stage.sealed:
            stage.seal()
        check_out(target, kind=kind, inputs=inputs, flag=flag)  # changed meanwhile?
        _swap(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap(tmp: Path, out: Path) -> None:
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
    try:
        tmp.rename(out)
    except BaseException:
        if old is not None:
            old.rename(out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# -- key files -------------------------------------------------------------------------------


def _is_key_file(path: Path) -> bool:
    """A small file holding only a hex key (what keygen writes)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4097)
    except OSError:
        return False
    return len(head) <= 4096 and re.fullmatch(rb"\s*[0-9a-fA-F]{32,}\s*", head) is not None


def check_key_path(path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Refuse a pseudonym-key path that is not a plain file in a safe place.

    Refused: an existing folder, FIFO, device, socket or symbolic link (``force`` replaces
    only a regular file holding a hex key); a path under a file; a path inside a delivery or inside an output
    folder of ours (the next run there would replace it); a folder any other user may
    write to, unless it has the sticky bit and belongs to root or to you.
    """
    p = _abs(Path(path))
    say = f"--out {_show(path)}"
    st = _lstat(p, say)
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise OutputPathError(f"{say} is a symbolic link; give the real file path")
        if stat.S_ISDIR(st.st_mode):
            raise OutputPathError(
                f"{say} is a folder; give a file path such as {_show(p / 'pseudonym.key')}"
            )
        if not stat.S_ISREG(st.st_mode):
            what = (
                "a FIFO"
                if stat.S_ISFIFO(st.st_mode)
                else "a socket"
                if stat.S_ISSOCK(st.st_mode)
                else "a device"
            )
            raise OutputPathError(f"{say} is {what}, not a regular file; choose a file path")
        if not force:
            raise OutputPathError(
                f"{say} already exists; keep it (every delivery must use the same key) or pass "
                "--force to replace it"
            )
        if not _is_key_file(p):
            raise OutputPathError(
                f"{say} exists and is not a pseudonym key file; refusing to replace it, "
                "choose another file name"
            )
    anc = p.parent
    while not anc.exists():
        anc = anc.parent
    if not anc.is_dir():
        raise OutputPathError(f"{say} cannot be created: {_show(anc)} is a file, not a folder")
    for d in (p.parent, *p.parent.parents):
        if not d.is_dir():
            continue
        if looks_like_delivery(d):
            raise OutputPathError(
                f"{say} lies inside a data folder (a delivery: {_show(d)}); keep the key apart "
                "from the data it protects"
            )
        kind = read_marker(d) or (
            {"kind": "report"} if _legacy_report(d, ["manifest.json"]) else None
        )
        if kind is not None:
            raise OutputPathError(
                f"{say} lies inside a {kind['kind']} folder written by envejind-eval; the "
                "next run there replaces the folder and the key with it"
            )
        mode = d.stat()
        if mode.st_mode & stat.S_IWOTH and not (
            mode.st_mode & stat.S_ISVTX and mode.st_uid in (0, os.geteuid())
        ):
            raise OutputPathError(
                f"{say} lies in {_show(d)}, which any user may write to; others could "
                "replace or remove the key there, choose a private folder"
            )
    _check_writable(anc, say)
    return p


# -- the delivery's mapping file ----------------------------------------------------------------


def write_config(path: Path, text: str, *, force: bool = False) -> Path:
    """Write a proposed ``datakilder.toml`` (the one file we write into a delivery folder):
    never through a symbolic link or over anything but a regular file, never over an
    existing one without ``force`` (it may hold a user's edits), and atomically (a
    temporary file in the same folder, then renamed), so a failed run leaves the old file."""
    p = _abs(path)
    say = _show(p)
    st = _lstat(p, say)
    if st is not None:
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
            raise OutputPathError(f"{say} exists and is not a regular file; remove it first")
        if not force:
            raise OutputPathError(
                f"{say} already exists (it may hold your edits); pass --force to replace it"
            )
    _check_writable(p.parent, say)
    fd, tmp = tempfile.mkstemp(prefix=".datakilder.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p
