"""Issue 15: random small deliveries with CPR numbers planted in random cells, file names,
sheet names and headers; no output, log, quarantine file, message or exception carries
one (checked with the leak scan and as raw text)."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import tempfile
import warnings
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from _ingest_support import KEY_HEX, make_tables, write_variant
from envejind_eval.cli import main
from envejind_eval.disclosure.scan import contains_cpr, scan

# a CPR number as someone might type it: any real date, with or without the dash
cprs = st.builds(
    lambda d, s, form: {
        "dash": f"{d:%d%m%y}-{s:04d}",
        "plain": f"{d:%d%m%y}{s:04d}",
        "space": f"{d:%d%m%y} {s:04d}",
    }[form],
    st.dates(dt.date(1950, 1, 1), dt.date(2012, 12, 31)),
    st.integers(0, 9999),
    st.sampled_from(["dash", "plain", "space"]),
)
# what surrounds it in a cell or a name
wraps = st.sampled_from(["{}", "x {}", "ISH-1,{}", "Se {} i journal", "{}.0", "({})", "id={}"])
places = st.sampled_from(["cell", "file", "sheet", "header", "xlsx_cell"])
plants = st.lists(st.tuples(places, cprs, wraps), min_size=1, max_size=3)
# no shrinking: each example writes and reads a delivery, and a failure already names its
# seed and plants
FAST = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow],
    "phases": [Phase.explicit, Phase.reuse, Phase.generate],
}


def _plant(d: Path, rng: np.random.Generator, place: str, value: str) -> None:
    csvs = sorted(d.glob("*.csv"))
    if place in ("sheet", "xlsx_cell"):
        x = next(iter(sorted(d.glob("*.xlsx"))), None)
        if x is not None:
            wb = openpyxl.load_workbook(x)
            ws = wb.worksheets[int(rng.integers(len(wb.worksheets)))]
            if place == "sheet":
                ws.title = value[:31]
            else:
                ws.cell(
                    int(rng.integers(4, ws.max_row + 1)),
                    int(rng.integers(2, ws.max_column + 1)),
                    value,
                )
            wb.save(x)
            return
        place = "cell"
    f = csvs[int(rng.integers(len(csvs)))]
    if place == "file":
        f.rename(f.with_name(f"{f.stem}_{value}{f.suffix}"))
        return
    lines = f.read_bytes().decode("utf-8-sig").split("\r\n")
    rows = [ln.split(";") for ln in lines if ln]
    if place == "header":
        rows[0].append(f"Note {value}")
        for r in rows[1:]:
            r.append(value if rng.random() < 0.5 else "")
    elif len(rows) > 1:
        r = rows[int(rng.integers(1, len(rows)))]
        r[int(rng.integers(1, len(r)))] = value  # column 0 is the CPR column
    f.write_bytes(("\r\n".join(";".join(r) for r in rows) + "\r\n").encode("utf-8-sig"))


def _run(argv: list[str]) -> str:
    """Run the CLI; return everything it said: stdout, stderr, log records, warnings and
    the message of any exception it let through."""
    out, err, logs = io.StringIO(), io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(logs)
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    said = ""
    try:
        with (
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
            warnings.catch_warnings(record=True) as w,
        ):
            warnings.simplefilter("always")
            try:
                main(argv)
            except SystemExit as exc:
                said += str(exc)
            except Exception as exc:  # a traceback is another bullet; a leak is this one
                said += f"{type(exc).__name__}: {exc}"
        said += "\n".join(str(x.message) for x in w)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    return out.getvalue() + err.getvalue() + logs.getvalue() + said


def _assert_clean(texts: list[str], folders: list[Path], planted: list[str]) -> None:
    raw = {p for v in planted for p in (v, v.replace("-", "").replace(" ", ""))}
    for folder in folders:
        if not folder.exists():
            continue
        hits = scan(folder)
        assert hits.empty, hits.to_string()
        for f in folder.rglob("*"):
            texts.append(str(f.relative_to(folder)))
            if f.is_file() and f.suffix in (".csv", ".json", ".html", ".txt", ".log"):
                texts.append(f.read_text(encoding="utf-8", errors="replace"))
    for t in texts:
        assert not contains_cpr(t), t[:2000]
        assert not any(v in t for v in raw)


def _delivery(root: Path, seed: int, attendance: str, plan: list) -> tuple[Path, list[str]]:
    t, c = make_tables(seed)
    d = write_variant(t, c, root / "d", attendance=attendance)
    rng = np.random.default_rng(seed)
    planted = []
    for place, cpr, wrap in plan:
        _plant(d, rng, place, wrap.format(cpr))
        planted.append(cpr)
    return d, [*planted, *c]


def _key(root: Path) -> Path:
    k = root / "key"
    k.write_text(KEY_HEX)
    k.chmod(0o600)
    return k


@settings(max_examples=12, **FAST)
@given(
    st.integers(0, 40), st.sampled_from(["xlsx", "csv"]), plants, st.sampled_from(["text", "json"])
)
def test_validate_never_leaks_a_planted_cpr(seed, attendance, plan, fmt):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        d, planted = _delivery(root, seed, attendance, plan)
        q = root / "q"
        said = _run(
            ["validate", str(d), "--key", str(_key(root)), "--quarantine", str(q), "--format", fmt]
        )
        _assert_clean([said], [q], planted)


@pytest.mark.slow
@settings(max_examples=4, **FAST)
@given(st.integers(0, 40), cprs, cprs, plants)
def test_report_never_leaks_a_planted_cpr(seed, in_file, in_sheet, plan):
    # always a file name and a sheet name (the manifest lists the input files)
    plan = [("file", in_file, "{}"), ("sheet", in_sheet, "Hold {}"), *plan]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        d, planted = _delivery(root, seed, "xlsx", plan)
        out = root / "out"
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("ENVEJIND_PSEUDONYM_KEY", KEY_HEX)
            said = _run(["report", str(d), "--out", str(out), "--quiet"])
        _assert_clean([said], [out], planted)
