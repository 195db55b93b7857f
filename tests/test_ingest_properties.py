"""Property tests: delivery variants round-trip; k corrupted cells -> k problems; any bytes ->
a clean report or exit code 2, never a traceback."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from _ingest_support import KEY, KEY_HEX, assert_same_tables, make_tables, write_variant
from envejind_eval.cli import main
from envejind_eval.ingest import read_delivery

SETTINGS = settings(
    max_examples=4,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@st.composite
def variants(draw):
    sep = draw(st.sampled_from([";", ","]))
    return {
        "encoding": draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"])),
        "sep": sep,
        "decimal": "point" if sep == "," else draw(st.sampled_from(["comma", "point"])),
        "date_format": draw(st.sampled_from(["dmy-", "dmy.", "dmy/", "iso", "serial"])),
        "attendance": draw(st.sampled_from(["xlsx", "csv"])),
        "dash": draw(st.booleans()),
    }


@SETTINGS
@given(seed=st.integers(0, 10_000), v=variants())
def test_round_trip_random_variants(seed, v):
    t, cprs = make_tables(seed)
    with tempfile.TemporaryDirectory() as tmp:
        d = write_variant(t, cprs, Path(tmp) / "d", **v)
        tables, rep, _ = read_delivery(d, key=KEY)
        assert rep.exit_code == 0, rep.to_text()
        assert_same_tables(tables, t)
        f = rep.files
        assert (f.rows_read == f.accepted + f.skipped + f.quarantined + f.duplicates).all()


# cells that can be corrupted: (file, header) -> bad text
CORRUPTIBLE = {
    "aktiviteter.csv": {"Aktivitet": "Fodbold", "Deltog": "Måske", "Dato": "31-02-2017"},
    "status.csv": {"I uddannelse": "Måske", "Stabil bolig": "?"},
    "maalinger_lfl.csv": {"lfl03": "tre", "lfl10": "4x", "Dato": "01-22-2017"},
}


@SETTINGS
@given(
    seed=st.integers(0, 10_000),
    picks=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)), min_size=1, max_size=5),
)
def test_k_corrupted_cells_give_k_problems(seed, picks):
    t, cprs = make_tables(seed)
    with tempfile.TemporaryDirectory() as tmp:
        d = write_variant(t, cprs, Path(tmp) / "d", attendance="csv")
        files = sorted(CORRUPTIBLE)
        grid = {}
        for name in files:
            lines = (d / name).read_bytes().decode("utf-8-sig").split("\r\n")
            grid[name] = [ln.split(";") for ln in lines if ln]
        cells = set()
        for a, b in picks:
            name = files[a % len(files)]
            rows = grid[name]
            if len(rows) < 2:
                continue
            col = sorted(CORRUPTIBLE[name])[b % len(CORRUPTIBLE[name])]
            line = 2 + (b // 7) % (len(rows) - 1)
            cells.add((name, line, col))
        for name, line, col in cells:
            header = grid[name][0]
            grid[name][line - 1][header.index(col)] = CORRUPTIBLE[name][col]
        for name in files:
            text = "\r\n".join(";".join(r) for r in grid[name]) + "\r\n"
            (d / name).write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
        assert cells
        _, rep, _ = read_delivery(d, key=KEY)
        p = rep.problems[rep.problems.severity == "error"]
        got = {(r.file, int(r.row), r.column) for r in p.itertuples()}
        assert len(p) == len(cells)
        assert got == cells
        f = rep.files.set_index("file")
        for name in files:
            n_rows = len({(c[0], c[1]) for c in cells if c[0] == name})
            assert f.loc[name, "quarantined"] == n_rows
        assert (f.rows_read == f.accepted + f.skipped + f.quarantined + f.duplicates).all()


_BASE: dict[str, Path] = {}


def _base() -> Path:
    if "d" not in _BASE:
        t, cprs = make_tables(11)
        tmp = Path(tempfile.mkdtemp(prefix="ingest_base_"))
        _BASE["d"] = write_variant(t, cprs, tmp / "d")
        (tmp / "key").write_text(KEY_HEX)
        (tmp / "key").chmod(0o600)
    return _BASE["d"]


@settings(max_examples=15, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(
    data=st.binary(max_size=400),
    target=st.sampled_from(
        ["deltagere.csv", "aktiviteter.csv", "fremmoede_x.xlsx", "status.csv", "hold.csv"]
    ),
    prefix=st.sampled_from([b"", b"\xef\xbb\xbf", b"CPR;Dato;Kode\r\n", b"PK\x03\x04"]),
)
def test_arbitrary_bytes_never_crash(data, target, prefix):
    base = _base()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "d"
        shutil.copytree(base, d)
        if target.endswith(".xlsx"):
            for x in d.glob("*.xlsx"):
                x.unlink()
        (d / target).write_bytes(prefix + data)
        code = main(["validate", str(d), "--format", "json", "--key", str(base.parent / "key")])
        assert code in (0, 1, 2)


# hostile edits (issue 15): number texts in any form, oversized cells, blank lines, ragged rows
_NUMBERISH = st.from_regex(r"-?[0-9]{1,4}(?:[ .,\u00a0][0-9]{1,4}){0,3}", fullmatch=True)
_EDIT = st.one_of(
    st.tuples(st.just("number"), _NUMBERISH),
    st.tuples(st.just("oversized"), st.sampled_from(['"' + "x" * 40_000 + '"', "y" * 40_000])),
    st.tuples(st.just("blank"), st.just("")),
    st.tuples(st.just("ragged"), st.just("extra")),
)


@SETTINGS
@given(
    seed=st.integers(0, 10_000),
    edits=st.lists(st.tuples(st.integers(0, 10**6), _EDIT), min_size=1, max_size=6),
)
def test_hostile_edits_keep_every_row_accounted_for(seed, edits):
    t, cprs = make_tables(seed)
    with tempfile.TemporaryDirectory() as tmp:
        d = write_variant(t, cprs, Path(tmp) / "d", attendance="csv")
        targets = {"aktiviteter.csv": "Minutter", "maalinger_lfl.csv": "lfl03"}
        grid = {n: _grid(d / n) for n in targets}
        for pick, (kind, text) in edits:
            name = sorted(targets)[pick % 2]
            rows = grid[name]
            line = 1 + pick // 2 % (len(rows) - 1)  # a data row (0-based; 0 = header)
            if kind == "blank":
                rows.insert(line, [""])
            elif len(rows[line]) < 2:
                continue  # a blank line inserted by an earlier edit
            elif kind == "ragged":
                rows[line] = [*rows[line], text]
            else:
                col = rows[0].index(targets[name] if kind == "number" else "Dato")
                rows[line][col] = text
        for name, rows in grid.items():
            data = "\r\n".join(";".join(r) for r in rows) + "\r\n"
            (d / name).write_bytes(b"\xef\xbb\xbf" + data.encode("utf-8"))
        _, rep, _ = read_delivery(d, key=KEY)
        f = rep.files
        assert (f.rows_read == f.accepted + f.skipped + f.quarantined + f.duplicates).all()
        err = rep.problems[rep.problems.severity == "error"]
        for name in targets:
            q = rep.quarantined_rows.get(name)
            n_q = 0 if q is None else len(q)
            assert f.set_index("file").loc[name, "quarantined"] == n_q
            flagged = set(err.loc[err.file == name, "row"].astype(int))
            assert n_q == 0 or (q["reasons"].str.len() > 0).all()
            assert n_q == 0 or set(q["row"].astype(int)) == flagged


def _grid(p: Path) -> list[list[str]]:
    lines = p.read_bytes().decode("utf-8-sig").split("\r\n")
    return [ln.split(";") for ln in lines if ln]
