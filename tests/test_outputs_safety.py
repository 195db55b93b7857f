"""Output paths that cannot hurt, one-line failures, and key continuity (issue 15).

Every command that writes (synth, report, gallery, validate --quarantine, keygen) is run
with every output-path mistake; each must exit 2 with one line on stderr and leave every
file as it was (the trees are hashed before and after).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from envejind_eval.cli import main
from envejind_eval.errors import DisclosureError, EnvejindError
from envejind_eval.outpath import MARKER, remove_stale

KEY_A = "0123456789abcdef" * 4
KEY_B = "fedcba9876543210" * 4
CPR = "0101901234"
FAST = {"n_boot": 0, "figures": False}


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVEJIND_PSEUDONYM_KEY", KEY_A)
    monkeypatch.delenv("ENVEJIND_DEBUG", raising=False)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from envejind_eval.synth import write_delivery

    return write_delivery(tmp_path_factory.mktemp("tiny") / "delivery", seed=7, scale="tiny")


def tree(root: Path) -> dict[str, str]:
    """Every entry under ``root`` with its type, mode and content hash."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            p = Path(dirpath) / name
            st = p.lstat()
            rel = p.relative_to(root).as_posix()
            if stat.S_ISREG(st.st_mode):
                out[rel] = f"{oct(st.st_mode)} {hashlib.sha256(p.read_bytes()).hexdigest()}"
            else:
                out[rel] = oct(st.st_mode)
    return out


# -- the matrix: every command x every output-path mistake --------------------------------

Setup = Callable[[Path, Path, pytest.MonkeyPatch], str]


def _read_only(base: Path, d: Path, mp: pytest.MonkeyPatch) -> str:
    ro = base / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: make the kernel's answer the test's
        real = os.access
        mp.setattr(os, "access", lambda p, m, **k: False if Path(p) == ro else real(p, m, **k))
    return str(ro / "out")


def _foreign(base: Path, d: Path, mp: pytest.MonkeyPatch) -> str:
    w = base / "w"
    w.mkdir()
    (w / "thesis.docx").write_text("years of work")
    return str(w)


def _here(base: Path, d: Path, mp: pytest.MonkeyPatch) -> str:
    h = base / "project"
    h.mkdir()
    (h / "thesis.docx").write_text("years of work")
    (h / "pseudonym.key").write_text(KEY_A)
    mp.chdir(h)
    return "."


def _home(base: Path, d: Path, mp: pytest.MonkeyPatch) -> str:
    h = base / "home"
    h.mkdir()
    (h / "thesis.docx").write_text("years of work")
    mp.setenv("HOME", str(h))
    return str(h)


def _file(base: Path, d: Path, mp: pytest.MonkeyPatch) -> str:
    (base / "notes.txt").write_text("my notes")
    return str(base / "notes.txt")


def _under_file(base: Path, d: Path, mp: pytest.MonkeyPatch) -> str:
    (base / "notes.txt").write_text("my notes")
    return str(base / "notes.txt" / "out")


MISTAKES: dict[str, Setup] = {
    "delivery": lambda base, d, mp: str(d),
    "inside_delivery": lambda base, d, mp: str(d / "out"),
    "containing_delivery": lambda base, d, mp: str(base),
    "a_file": _file,
    "under_a_file": _under_file,
    "foreign_folder": _foreign,
    "cwd_with_content": _here,
    "home_with_content": _home,
    "read_only_parent": _read_only,
}

COMMANDS: dict[str, Callable[[Path, str], list[str]]] = {
    "synth": lambda d, out: ["synth", "--out", out, "--scale", "tiny"],
    "report": lambda d, out: ["report", str(d), "--out", out, "--quiet"],
    "gallery": lambda d, out: ["gallery", str(d), "--out", out, "--jobs", "1"],
    "validate": lambda d, out: ["validate", str(d), "--quarantine", out],
    # keygen writes a file: a new entry gets a file name inside the dangerous place, an
    # existing entry is given as it is; --force is the dangerous case (old code unlinked it)
    "keygen": lambda d, out: [
        "keygen",
        "--out",
        str(Path(out).parent / "k.key") if Path(out).name == "out" else out,
        "--force",
    ],
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_refuses_every_output_mistake(
    command: str,
    mistake: str,
    tiny: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    base = tmp_path / "base"
    base.mkdir()
    d = base / "D"  # a municipal delivery: the synthetic one without our marker and README
    shutil.copytree(tiny, d, ignore=shutil.ignore_patterns(MARKER, "README.md"))
    out = MISTAKES[mistake](base, d, monkeypatch)
    argv = COMMANDS[command](d, out)
    before = tree(tmp_path)
    rc = main(argv)
    err = capsys.readouterr().err
    after = tree(tmp_path)
    if (base / "ro").exists():
        (base / "ro").chmod(0o755)  # let pytest clean up
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"envejind-eval {command}: error: ")
    assert after == before, "something was created, changed or deleted"


# -- report: replacing our own output only --------------------------------------------------


def test_report_replaces_only_its_own_earlier_report(tmp_path: Path, tiny: Path) -> None:
    from envejind_eval.report.build import build_report

    out = tmp_path / "rep"
    build_report(tiny / "canonical", out, quiet=True, **FAST)
    assert (out / MARKER).is_file() and (out / "manifest.json").is_file()
    build_report(tiny / "canonical", out, quiet=True, **FAST)  # a second edition: fine
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]  # no temp folder left
    (out / "tables" / "my_notes.txt").write_text("mine")
    before = tree(tmp_path)
    with pytest.raises(EnvejindError, match="did not write"):
        build_report(tiny / "canonical", out, quiet=True, **FAST)
    assert tree(tmp_path) == before


def test_report_written_before_the_marker_is_recognised(tmp_path: Path, tiny: Path) -> None:
    from envejind_eval.report.build import build_report

    out = tmp_path / "rep"
    build_report(tiny / "canonical", out, quiet=True, **FAST)
    (out / MARKER).unlink()  # as an earlier version wrote it: manifest and ledger only
    build_report(tiny / "canonical", out, quiet=True, **FAST)
    assert (out / MARKER).is_file()


def test_read_only_parent_at_mkdtemp_is_a_clear_error(
    tmp_path: Path, tiny: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """The temporary folder is made inside the guarded block (old code: OSError)."""
    import tempfile

    def denied(*a: object, **k: object) -> str:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkdtemp", denied)
    rc = main(["report", str(tiny), "--out", str(tmp_path / "r"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "cannot be written" in err


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_temporary_folders_of_ours_are_removed_others_kept(tmp_path: Path) -> None:
    out = tmp_path / "rep"
    killed = tmp_path / ".rep.tmp-killed"  # a kill -9 during a run: our marker, dead pid
    killed.mkdir()
    (killed / "index.html").write_text("half a report")
    (killed / MARKER).write_text(
        json.dumps({"format": "envejind_eval.output", "kind": "report", "pid": _dead_pid()})
    )
    empty = tmp_path / ".rep.tmp-empty"  # killed right after mkdtemp
    empty.mkdir()
    running = tmp_path / ".rep.tmp-running"  # another run still at work
    running.mkdir()
    (running / MARKER).write_text(
        json.dumps({"format": "envejind_eval.output", "kind": "report", "pid": os.getpid()})
    )
    foreign = tmp_path / ".rep.tmp-notours"
    foreign.mkdir()
    (foreign / "data.csv").write_text("a,b\n")
    old = tmp_path / f".rep.old-{_dead_pid()}"  # killed between the swap and the clean-up
    old.mkdir()
    (old / "index.html").write_text("last edition")
    (old / MARKER).write_text(
        json.dumps(
            {
                "format": "envejind_eval.output",
                "kind": "report",
                "complete": True,
                "files": ["index.html"],
            }
        )
    )
    assert sorted(remove_stale(out)) == sorted([killed, empty])
    assert not killed.exists() and not empty.exists()
    assert old.is_dir()  # kept while OUT is missing: it may be the only copy
    out.mkdir()
    assert remove_stale(out) == [old]
    assert running.is_dir() and (foreign / "data.csv").read_text() == "a,b\n"


@pytest.mark.slow
def test_kill_9_leftovers_are_removed_by_the_next_run(tmp_path: Path, tiny: Path) -> None:
    """A real kill -9 in the middle of a report; the next run leaves only the report."""
    import signal
    import time

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    argv = [sys.executable, "-m", "envejind_eval", "report", str(tiny), "--out", "rep"]
    proc = subprocess.Popen([*argv, "--quiet"], cwd=tmp_path, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        tmp = list(tmp_path.glob(".rep.tmp-*"))
        if tmp and any(tmp[0].iterdir()):
            time.sleep(1.0)  # let it write a few files
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.skip("the run finished before it could be killed")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list(tmp_path.glob(".rep.tmp-*"))  # what old code left behind for ever
    r = subprocess.run([*argv, "--quiet"], cwd=tmp_path, env=env, timeout=300)
    assert r.returncode in (0, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]


def test_synth_replaces_its_own_delivery_only(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    s = tmp_path / "s"
    assert main(["synth", "--out", str(s), "--scale", "tiny"]) == 0
    assert main(["synth", "--out", str(s), "--scale", "tiny", "--seed", "5"]) == 0
    assert "seed 5" in (s / "README.md").read_text(encoding="utf-8")
    (s / "canonical" / "my_analysis.R").write_text("lm(y ~ x)")
    before = tree(tmp_path)
    assert main(["synth", "--out", str(s), "--scale", "tiny"]) == 2
    assert "my_analysis.R" in capsys.readouterr().err
    assert tree(tmp_path) == before


def test_a_run_cleans_stale_temporary_folders(tmp_path: Path, tiny: Path) -> None:
    from envejind_eval.report.build import build_report

    stale = tmp_path / ".rep.tmp-x1"
    stale.mkdir()
    (stale / MARKER).write_text(
        json.dumps({"format": "envejind_eval.output", "kind": "report", "pid": _dead_pid()})
    )
    for i in range(36):
        (stale / f"t{i}.csv").write_text("never scanned\n")
    build_report(tiny / "canonical", tmp_path / "rep", quiet=True, **FAST)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]


# -- manifest: scanned and without identifiers ----------------------------------------------


def test_cpr_in_a_delivery_file_name_never_reaches_the_manifest(tmp_path: Path, tiny: Path) -> None:
    from envejind_eval.disclosure.scan import scan
    from envejind_eval.report.build import build_report

    d = tmp_path / "D"
    shutil.copytree(tiny, d)
    (d / "status.csv").rename(d / f"status_{CPR}.csv")
    out = tmp_path / "rep"
    try:
        build_report(d, out, quiet=True, **FAST)
    except DisclosureError:  # refusing is safe too; then nothing may be written
        assert not out.exists()
        return
    text = (out / "manifest.json").read_text(encoding="utf-8")
    assert CPR not in text and "010190-1234" not in text
    assert "status_[cpr].csv" in text  # still listed, with its hash
    assert not len(scan([out])), scan([out])


def test_leak_scan_covers_the_manifest(
    tmp_path: Path, tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Old code wrote the manifest after the scan: anything in it went out unscanned."""
    import envejind_eval.report.build as b

    real = b.input_files
    monkeypatch.setattr(
        b, "input_files", lambda p: [*real(p), {"path": f"x_{CPR}", "bytes": 0, "sha256": ""}]
    )
    out = tmp_path / "rep"
    with pytest.raises(DisclosureError, match="manifest.json"):
        b.build_report(tiny / "canonical", out, quiet=True, **FAST)
    assert list(tmp_path.iterdir()) == []


# -- a second edition made with another key --------------------------------------------------


def test_second_edition_with_another_key_is_refused(
    tmp_path: Path, tiny: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "rep"
    args = ["report", str(tiny), "--out", str(out), "--quiet"]
    monkeypatch.setattr("envejind_eval.report.build.DEFAULT_N_BOOT", 0)
    assert main(args) in (0, 1)
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    fp = man["key_fingerprint"]
    assert fp and KEY_A not in json.dumps(man) and KEY_A[:16] not in fp
    before = tree(tmp_path)
    monkeypatch.setenv("ENVEJIND_PSEUDONYM_KEY", KEY_B)
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "another key" in err and len(err.strip().splitlines()) == 1
    assert tree(tmp_path) == before
    monkeypatch.setenv("ENVEJIND_PSEUDONYM_KEY", KEY_A)
    assert main(args) in (0, 1)  # the same key: a normal second edition


# -- keygen ---------------------------------------------------------------------------------


def _keygen(out: Path, capsys: pytest.CaptureFixture, *extra: str) -> tuple[int, str]:
    rc = main(["keygen", "--out", str(out), *extra])
    return rc, capsys.readouterr().err


def test_keygen_never_replaces_what_is_not_a_key(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    rc, err = _keygen(fifo, capsys, "--force")
    assert rc == 2 and "FIFO" in err and stat.S_ISFIFO(fifo.lstat().st_mode)
    if Path("/dev/null").exists():
        rc, err = _keygen(Path("/dev/null"), capsys, "--force")
        assert rc == 2 and "device" in err
        assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)
    rc, err = _keygen(tmp_path, capsys, "--force")  # old code: IsADirectoryError
    assert rc == 2 and "is a folder" in err and "Traceback" not in err
    link = tmp_path / "link.key"
    link.symlink_to(tmp_path / "elsewhere.key")
    rc, err = _keygen(link, capsys, "--force")
    assert rc == 2 and "symbolic link" in err
    key = tmp_path / "ok" / "pseudonym.key"
    assert _keygen(key, capsys)[0] == 0
    old = key.read_text()
    assert _keygen(key, capsys, "--force")[0] == 0  # a key file is replaced with --force
    assert key.read_text() != old and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert [p.name for p in key.parent.iterdir()] == ["pseudonym.key"]


def test_keygen_refuses_unsafe_places(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from envejind_eval.report.build import build_report

    d = tmp_path / "levering"
    d.mkdir()
    (d / "Deltagerliste.xlsx").write_bytes(b"PK")  # a participant list by another name
    rc, err = _keygen(d / "pseudonym.key", capsys)
    assert rc == 2 and "data folder" in err
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # anyone may write here, and no sticky bit
    rc, err = _keygen(shared / "pseudonym.key", capsys)
    assert rc == 2 and "any user may write" in err
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)  # like /tmp: others cannot remove our file
    assert _keygen(sticky / "pseudonym.key", capsys)[0] == 0
    rep = tmp_path / "rep"
    from envejind_eval.synth import synthesize

    ds, _ = synthesize(seed=3, scale="tiny")
    ds.to_canonical(tmp_path / "canon")
    build_report(tmp_path / "canon", rep, quiet=True, **FAST)
    rc, err = _keygen(rep / "pseudonym.key", capsys)  # the next report run would delete it
    assert rc == 2 and "report folder" in err
    assert not (rep / "pseudonym.key").exists() and not (d / "pseudonym.key").exists()


# -- every failure is one line, exit 2 -------------------------------------------------------


def test_any_exception_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    import envejind_eval.synth as s

    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("Jens Hansen 0101901234")  # an exception quoting data

    monkeypatch.setattr(s, "write_delivery", boom)
    assert main(["synth", "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "RuntimeError" in err and "--debug" in err
    assert "Jens" not in err and CPR not in err
    assert main(["--debug", "synth", "--out", str(tmp_path / "s")]) == 2
    assert "Traceback" in capsys.readouterr().err
    assert main(["synth", "--out", str(tmp_path / "s"), "--debug"]) == 2
    assert "Traceback" in capsys.readouterr().err

    def oserr(*a: object, **k: object) -> None:
        raise NotADirectoryError(20, "Not a directory", f"/data/status_{CPR}.csv/x")

    monkeypatch.setattr(s, "write_delivery", oserr)
    assert main(["synth", "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "status_[cpr].csv" in err and "not a folder" in err and CPR not in err


def test_keyboard_interrupt_stays_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    import envejind_eval.synth as s

    def stop(*a: object, **k: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(s, "write_delivery", stop)
    assert main(["synth", "--out", str(tmp_path / "s")]) == 130


def test_scan_of_a_fifo_does_not_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    r = subprocess.run(
        [sys.executable, "-m", "envejind_eval", "scan", str(fifo)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert r.returncode == 1 and "not a regular file" in r.stdout, r


def test_validate_json_is_printed_on_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    d = tmp_path / f"levering_{CPR}"
    d.mkdir()
    (d / "noter.csv").write_text("a;b\n1;2\n", encoding="utf-8")  # no participant list
    rc = main(["validate", str(d), "--format", "json"])
    cap = capsys.readouterr()
    assert rc == 2
    doc = json.loads(cap.out)
    assert doc["exit_code"] == 2 and "participant list" in doc["error"]
    assert CPR not in cap.out and CPR not in cap.err
    assert len(cap.err.strip().splitlines()) == 1
