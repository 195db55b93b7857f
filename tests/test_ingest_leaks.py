"""Issue 15, "Identifiers leaked": no CPR number or name leaves ingestion.

A CPR typed into a code, date or item cell is a problem and is masked in the quarantine
file; file, sheet and column names are shown with CPR-shaped parts masked; name columns
(by header or by their values) are dropped with a reason and never written anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

import envejind_eval as ee
from _ingest_support import KEY, KEY_HEX, make_tables, write_variant
from envejind_eval.cli import main
from envejind_eval.disclosure.scan import contains_cpr, scan
from envejind_eval.errors import IngestError

PLANT = "240386-1234"  # fictitious, CPR-shaped, not one of the delivery's CPRs
PLANT2 = "0101901234"


def _delivery(tmp_path: Path, seed: int = 6, **kw) -> Path:
    t, cprs = make_tables(seed)
    return write_variant(t, cprs, tmp_path / "d", **kw)


def _edit(path: Path, fn) -> None:
    """Apply ``fn(rows)`` to a ``;``-separated delivery CSV (rows = lists of cells)."""
    lines = path.read_bytes().decode("utf-8-sig").split("\r\n")
    rows = [ln.split(";") for ln in lines if ln]
    fn(rows)
    path.write_bytes(("\r\n".join(";".join(r) for r in rows) + "\r\n").encode("utf-8-sig"))


def _set(path: Path, row: int, header: str, value: str) -> None:
    def fn(rows):
        rows[row][rows[0].index(header)] = value

    _edit(path, fn)


def _add_column(path: Path, header: str, values) -> None:
    def fn(rows):
        rows[0].append(header)
        for i, r in enumerate(rows[1:]):
            r.append(values(i))

    _edit(path, fn)


def _validate(d: Path, tmp_path: Path, capsys, *extra: str) -> tuple[int, str, Path]:
    key = tmp_path / "key"
    key.write_text(KEY_HEX)
    key.chmod(0o600)
    q = tmp_path / "q"
    code = main(["validate", str(d), "--key", str(key), "--quarantine", str(q), *extra])
    cap = capsys.readouterr()
    return code, cap.out + cap.err, q


def _all_text(folder: Path) -> str:
    return "\n".join(
        f.name + "\n" + f.read_text(encoding="utf-8") for f in sorted(folder.rglob("*"))
    )


def test_cpr_in_code_date_and_item_cells_is_quarantined_and_masked(tmp_path, capsys):
    d = _delivery(tmp_path)
    _set(d / "deltagere.csv", 1, "Køn", PLANT)
    _set(d / "deltagere.csv", 2, "Mentor", PLANT2)
    _set(d / "maalinger_lfl.csv", 1, "lfl01", PLANT)
    _set(d / "maalinger_lfl.csv", 2, "Dato", PLANT2)
    code, out, q = _validate(d, tmp_path, capsys)
    assert code == 1
    assert PLANT not in out and PLANT2 not in out
    text = _all_text(q)
    assert PLANT not in text and PLANT2 not in text
    assert scan(q).empty  # the quarantine folder is clean ...
    # ... and the scan flags the files as the old code wrote them (values as delivered)
    old = tmp_path / "old"
    old.mkdir()
    for f in q.iterdir():
        df = pd.read_csv(f, dtype=str, keep_default_na=False)
        for col, v in (("Køn", PLANT), ("Mentor", PLANT2), ("lfl01", PLANT), ("Dato", PLANT2)):
            if col in df.columns:
                df.loc[df[col] == "[CPR fjernet]", col] = v
        df.to_csv(old / f.name, index=False)
    assert set(scan(old)["kind"]) == {"cpr"}
    assert len(set(scan(old)["file"])) == 2


def test_cpr_in_mentor_never_reaches_the_canonical_tables(tmp_path):
    d = _delivery(tmp_path)
    _set(d / "deltagere.csv", 1, "Mentor", PLANT)
    _set(d / "deltagere.csv", 2, "Hold", f"Hold {PLANT2}")
    ds = ee.load(d, key=KEY)
    p = ds.ingest_report.problems
    bad = p[p["rule"] == "cpr_in_column"]
    assert sorted(bad["column"]) == ["Hold", "Mentor"] and set(bad["row"]) == {2, 3}
    assert (bad["severity"] == "error").all() and bad["file"].eq("deltagere.csv").all()
    out = ds.to_canonical(tmp_path / "canon")
    assert scan(out).empty
    for df in (ds.participants, ds.cohorts):
        assert not df.astype(str).map(contains_cpr).any().any()


def test_cpr_in_participant_column_that_is_not_a_cpr(tmp_path):
    t, cprs = make_tables(7)
    d = write_variant(t, cprs, tmp_path / "d")
    # an id column of pseudonymous ids, one of them carrying a CPR
    _edit(d / "hold.csv", lambda rows: None)
    f = d / "aktiviteter.csv"
    _edit(f, lambda rows: rows[0].__setitem__(0, "Deltager"))
    _set(f, 1, "Deltager", f"ID {PLANT}")
    rep = ee.load(d, key=KEY).ingest_report
    p = rep.problems
    assert p[(p["file"] == "aktiviteter.csv") & (p["rule"] == "cpr_in_column")]["row"].tolist() == [
        2
    ]


def test_nine_digit_cpr_in_a_code_cell(tmp_path, capsys):
    d = _delivery(tmp_path)
    _set(d / "deltagere.csv", 1, "Mentor", "101901234")  # 0101901234 without its 0
    p = ee.load(d, key=KEY).ingest_report.problems
    assert p[p["rule"] == "cpr_in_column"]["column"].tolist() == ["Mentor"]
    code, out, q = _validate(d, tmp_path, capsys)
    assert code == 1 and "101901234" not in _all_text(q) and scan(q).empty


def test_cpr_in_file_and_sheet_names_is_never_echoed(tmp_path, capsys):
    d = _delivery(tmp_path, attendance="xlsx")
    (d / "status.csv").rename(d / f"status_{PLANT}.csv")
    x = next(d.glob("fremmoede_*.xlsx"))
    wb = openpyxl.load_workbook(x)
    wb.worksheets[0].title = f"Hold {PLANT2}"
    wb.save(x)
    x.rename(d / f"fremmoede_{PLANT2}.xlsx")
    # quarantine a row in each so the names reach the problems and the quarantine files
    _set(d / f"status_{PLANT}.csv", 1, "Måletidspunkt", "?")
    wb = openpyxl.load_workbook(d / f"fremmoede_{PLANT2}.xlsx")
    wb.worksheets[0]["B4"] = "X"
    wb.save(d / f"fremmoede_{PLANT2}.xlsx")
    for fmt in ("text", "json"):
        code, out, q = _validate(d, tmp_path, capsys, "--format", fmt)
        assert code == 1
        assert not contains_cpr(out), fmt
        assert "status_XXXXXX-XXXX.csv" in out and "fremmoede_XXXXXX-XXXX.xlsx" in out
    if fmt == "json":
        json.loads(out)
    names = {f.name for f in q.iterdir()}
    assert names >= {
        "fremmoede_XXXXXX-XXXX__Hold XXXXXX-XXXX.quarantine.csv",
        "status_XXXXXX-XXXX.quarantine.csv",
    }
    assert scan(q).empty
    rep = ee.load(d, key=KEY).ingest_report
    assert not contains_cpr(rep.to_json() + rep.to_text() + rep._repr_html_())


def test_error_messages_mask_a_cpr_in_a_file_name(tmp_path, capsys):
    d = _delivery(tmp_path)
    p = d / "aktiviteter.csv"
    _edit(p, lambda rows: [r.__setitem__(1, "x") for r in rows[:1]])  # no Dato header
    p.rename(d / f"aktiviteter_{PLANT}.csv")
    with pytest.raises(IngestError) as ei:
        ee.load(d, key=KEY)
    assert "aktiviteter_XXXXXX-XXXX.csv" in str(ei.value)
    code, out, _ = _validate(d, tmp_path, capsys)
    assert code == 2 and PLANT not in out and "XXXXXX-XXXX" in out


@pytest.mark.parametrize("header", ["Elevens navn", "Ungens navn", "Fulde navn", "Name"])
def test_name_columns_are_dropped_and_never_written(tmp_path, capsys, header):
    d = _delivery(tmp_path)
    _add_column(d / "deltagere.csv", header, lambda i: f"Jens{i} Hansen")
    _add_column(d / "aktiviteter.csv", header, lambda i: f"Mette{i} Olsen")
    _set(d / "deltagere.csv", 1, "Køn", "?")  # a quarantined row
    _set(d / "aktiviteter.csv", 1, "Aktivitet", "?")
    code, out, q = _validate(d, tmp_path, capsys, "--format", "json")
    assert code == 1
    rep = json.loads(out)
    named = [(p["file"], p["column"]) for p in rep["problems"] if p["rule"] == "name_column"]
    assert named == [("aktiviteter.csv", header), ("deltagere.csv", header)]
    text = _all_text(q)
    assert "Hansen" not in text and "Olsen" not in text and header not in text
    assert "Hansen" not in out


def test_holdnavn_is_a_team_not_a_name(tmp_path):
    d = _delivery(tmp_path)
    _edit(d / "hold.csv", lambda rows: rows[0].__setitem__(0, "Holdnavn"))
    _edit(d / "hold.csv", lambda rows: rows[0].__setitem__(1, "Kommunenavn"))
    rep = ee.load(d, key=KEY).ingest_report
    assert "name_column" not in set(rep.problems["rule"])


def test_personal_names_as_values(tmp_path, capsys):
    d = _delivery(tmp_path)
    names = ["Jens Hansen", "Mette Olsen", "Anne-Marie Nielsen", "Lars P. Jensen", "Ole Berg"]
    _edit(
        d / "deltagere.csv",
        lambda rows: [
            r.__setitem__(rows[0].index("Mentor"), names[i]) for i, r in enumerate(rows[1:])
        ],
    )
    _set(d / "deltagere.csv", 1, "Ophørsårsag", "Kirsten Holm")
    _set(d / "deltagere.csv", 2, "Ophørsårsag", "Flyttet til Aarhus Kommune")
    _set(d / "deltagere.csv", 3, "Køn", "?")  # a quarantined row ...
    _set(d / "deltagere.csv", 3, "Ophørsårsag", "Lise Mortensen")  # ... with a name
    code, out, q = _validate(d, tmp_path, capsys, "--format", "json")
    rep = json.loads(out)
    rules = {(p["column"], p["rule"]) for p in rep["problems"] if p["severity"] == "warning"}
    assert ("Mentor", "name_column") in rules
    assert ("Ophørsårsag", "name_in_free_text") in rules
    ds = ee.load(d, key=KEY)
    assert ds.participants["mentor_id"].isna().all()
    reasons = ds.participants["exit_reason"].dropna().tolist()
    assert "Kirsten Holm" not in reasons and "Flyttet til Aarhus Kommune" in reasons
    text = _all_text(q) + out
    assert not any(n in text for n in [*names, "Kirsten Holm", "Lise Mortensen"])
    assert "[navn fjernet]" in text


def test_team_and_municipality_labels_are_not_names(tmp_path):
    d = _delivery(tmp_path)
    teams = ["Hold Nord", "Hold Syd"]

    def fn(rows):
        h = rows[0].index("Hold")
        for r in rows[1:]:
            r[h] = teams[0] if r[h].endswith("1") else teams[1]

    _edit(d / "deltagere.csv", fn)
    _edit(d / "hold.csv", fn)
    rep = ee.load(d, key=KEY).ingest_report
    assert "name_column" not in set(rep.problems["rule"]), rep.to_text()


def test_team_column_of_personal_names_is_refused_without_values(tmp_path, capsys):
    d = _delivery(tmp_path)
    names = ["Jens Hansen", "Mette Olsen"]

    def fn(rows):
        h = rows[0].index("Hold")
        for r in rows[1:]:
            r[h] = names[0] if r[h].endswith("1") else names[1]

    _edit(d / "deltagere.csv", fn)
    _edit(d / "hold.csv", fn)
    code, out, _ = _validate(d, tmp_path, capsys)
    assert code == 2
    assert "column 'Hold'" in out and "personal names" in out
    assert not any(n in out for n in names)
    # the user says these are team labels: then they are read as such
    (d / "datakilder.toml").write_text('[columns]\n"Hold" = "cohort_id"\n', encoding="utf-8")
    code, out, _ = _validate(d, tmp_path, capsys)
    assert code == 0, out


def test_a_cpr_in_a_form_name_never_becomes_an_instrument_id(tmp_path):
    d = _delivery(tmp_path)
    (d / "maalinger_lfl.csv").rename(d / f"maalinger_{PLANT}.csv")
    with pytest.raises(IngestError, match="cannot tell which instrument") as ei:
        ee.load(d, key=KEY)
    assert PLANT not in str(ei.value) and "maalinger_XXXXXX-XXXX.csv" in str(ei.value)


def test_errors_and_warnings_mask_cprs_whatever_raises_them():
    from envejind_eval.errors import DataValidationError, EnvejindWarning

    for exc in (IngestError(f"x_{PLANT}.csv: bad"), DataValidationError(f"{PLANT2}: bad")):
        assert not contains_cpr(str(exc)) and not contains_cpr(repr(exc))
    with pytest.warns(EnvejindWarning) as rec:
        import warnings

        warnings.warn(f"sheet Hold {PLANT}", EnvejindWarning, stacklevel=1)
    assert str(rec[0].message) == "sheet Hold XXXXXX-XXXX"
