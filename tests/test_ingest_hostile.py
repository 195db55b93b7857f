"""Issue 15, ingest part: malformed deliveries end in a clear problem or a clear exit 2,
never a traceback, and every delivered row is still accounted for."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import envejind_eval as ee
from _ingest_support import KEY, KEY_HEX, make_tables, write_variant
from envejind_eval.cli import main
from envejind_eval.errors import IngestError
from envejind_eval.ingest import read_delivery

_BASE: dict[str, Path] = {}


@pytest.fixture
def delivery(tmp_path_factory, tmp_path) -> Path:
    """A fresh copy of a valid delivery with a long attendance file (all CSV)."""
    if "d" not in _BASE:
        t, cprs = make_tables(3)
        _BASE["d"] = write_variant(t, cprs, tmp_path_factory.mktemp("base") / "d", attendance="csv")
    d = tmp_path / "d"
    shutil.copytree(_BASE["d"], d)
    return d


@pytest.fixture
def keyfile(tmp_path) -> Path:
    k = tmp_path / "key"
    k.write_text(KEY_HEX)
    k.chmod(0o600)
    return k


def _lines(p: Path) -> list[str]:
    return p.read_bytes().decode("utf-8-sig").split("\r\n")[:-1]


def _write(p: Path, lines: list[str]) -> None:
    p.write_bytes(b"\xef\xbb\xbf" + ("\r\n".join(lines) + "\r\n").encode())


def _set_cell(p: Path, line: int, column: str, value: str) -> None:
    rows = [r.split(";") for r in _lines(p)]
    rows[line - 1][rows[0].index(column)] = value
    _write(p, [";".join(r) for r in rows])


def _balanced(rep) -> bool:
    f = rep.files
    return bool((f.rows_read == f.accepted + f.skipped + f.quarantined + f.duplicates).all())


# -- tracebacks: duplicate source, no participant accepted -------------------------------------


def test_same_table_in_two_formats_is_refused(delivery, keyfile, capsys):
    df = pd.read_csv(delivery / "deltagere.csv", sep=";", dtype=str, encoding="utf-8-sig")
    df.to_excel(delivery / "deltagere.xlsx", index=False)
    with pytest.raises(IngestError, match=r"deltagere\.csv and deltagere\.xlsx.*two formats"):
        read_delivery(delivery, key=KEY)
    assert main(["validate", str(delivery), "--key", str(keyfile)]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_header_only_participant_list_is_a_clear_exit_2(delivery, keyfile, capsys):
    p = delivery / "deltagere.csv"
    _write(p, _lines(p)[:1])
    _, rep, _ = read_delivery(delivery, key=KEY)  # the report is still produced
    assert rep.exit_code == 2
    assert "no participants accepted" in rep.fatal and "no data rows" in rep.fatal
    assert _balanced(rep)
    assert main(["validate", str(delivery), "--key", str(keyfile), "--format", "json"]) == 2
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["exit_code"] == 2 and "no participants accepted" in doc["error"]
    assert "no participants accepted" in err
    with pytest.raises(IngestError, match="no participants accepted") as ei:
        ee.load(delivery, key=KEY)
    assert ei.value.report is not None


def test_every_participant_quarantined_is_a_clear_exit_2(delivery, keyfile, tmp_path, capsys):
    p = delivery / "deltagere.csv"
    for line in range(2, len(_lines(p)) + 1):
        _set_cell(p, line, "Status", "Ukendt")
    q = tmp_path / "karantaene"
    code = main(["validate", str(delivery), "--key", str(keyfile), "--quarantine", str(q)])
    out, err = capsys.readouterr()
    assert code == 2
    assert "unusable: no participants accepted" in out  # the report is printed
    assert "were quarantined" in err and str(q) in err
    assert (q / "deltagere.quarantine.csv").exists()
    _, rep, _ = read_delivery(delivery, key=KEY)
    assert _balanced(rep)
    part = rep.files.set_index("file").loc["deltagere.csv"]
    assert part.quarantined == part.rows_read > 0


def test_validate_tables_without_participants_reports_unknown_participants():
    from envejind_eval.instruments import default_registry
    from envejind_eval.schema import coerce_table, empty_table, validate_tables

    t, _ = make_tables(2)
    tables = {"participants": empty_table("participants"), "attendance": t["attendance"]}
    tables = {k: coerce_table(k, v) for k, v in tables.items()}
    probs = validate_tables(tables, default_registry())
    assert set(probs["rule"]) == {"unknown_participant"}
    assert len(probs) == len(t["attendance"])


def test_two_person_columns_in_one_file_are_refused(delivery):
    p = delivery / "aktiviteter.csv"
    lines = _lines(p)
    lines = [lines[0] + ";Personnummer"] + [x + ";" + x.split(";")[0] for x in lines[1:]]
    _write(p, lines)
    with pytest.raises(IngestError, match=r"aktiviteter\.csv: 2 person columns") as ei:
        read_delivery(delivery, key=KEY)
    assert "'CPR' and 'Personnummer'" in str(ei.value)
    # mapped away, the file is usable again
    (delivery / "datakilder.toml").write_text('[columns]\n"Personnummer" = "ignore"\n')
    _, rep, _ = read_delivery(delivery, key=KEY)
    assert rep.exit_code == 0, rep.to_text()


# -- encodings named ------------------------------------------------------------------------


@pytest.mark.parametrize("enc", ["utf-16", "utf-16-be-bom", "utf-32"])
def test_utf16_and_utf32_with_bom_are_read(delivery, enc):
    want, _, _ = read_delivery(delivery, key=KEY)
    for p in delivery.glob("*.csv"):
        text = p.read_bytes().decode("utf-8-sig")
        if enc == "utf-16-be-bom":
            p.write_bytes(b"\xfe\xff" + text.encode("utf-16-be"))
        else:
            p.write_bytes(text.encode(enc))  # Python writes the BOM
    got, rep, _ = read_delivery(delivery, key=KEY)
    assert rep.exit_code == 0, rep.to_text()
    assert set(rep.files["encoding"]) == {enc.split("-be")[0].replace("-bom", "")}
    for name, df in want.items():
        pd.testing.assert_frame_equal(got[name], df, obj=name)


def test_utf16_without_bom_is_refused_naming_the_encoding(delivery):
    p = delivery / "hold.csv"
    p.write_bytes(p.read_bytes().decode("utf-8-sig").encode("utf-16-le"))
    with pytest.raises(IngestError, match=r"hold\.csv: looks like UTF-16 .*without a byte order"):
        read_delivery(delivery, key=KEY)


@pytest.mark.parametrize("bom", [True, False])
def test_stray_cp1252_byte_is_located_by_file_line_and_column(delivery, keyfile, capsys, bom):
    p = delivery / "deltagere.csv"
    lines = [ln.encode() for ln in _lines(p)]
    lines[2] += b"Flyttet \x92"  # the last column (Ophørsårsag); cp1252's apostrophe
    p.write_bytes((b"\xef\xbb\xbf" if bom else b"") + b"\r\n".join(lines) + b"\r\n")
    msg = r"deltagere\.csv: line 3, column 'Ophørsårsag': byte 0x92 is not UTF-8"
    with pytest.raises(IngestError, match=msg):
        read_delivery(delivery, key=KEY)
    assert main(["validate", str(delivery), "--key", str(keyfile)]) == 2
    assert "deltagere.csv: line 3" in capsys.readouterr().err


def test_stray_byte_in_the_header_of_a_utf8_bom_file_is_located(delivery):
    p = delivery / "hold.csv"
    p.write_bytes(p.read_bytes().replace(b"Kommune", b"Kommune\x92", 1))
    with pytest.raises(IngestError, match=r"hold\.csv: line 1 \(the header\): byte 0x92"):
        read_delivery(delivery, key=KEY)


def test_a_missing_nullable_column_is_reported_as_not_delivered(delivery):
    # issue 17 §4 (before: refused, "deltagere.csv: required column(s) missing: ...")
    p = delivery / "deltagere.csv"
    rows = [r.split(";") for r in _lines(p)]
    j = rows[0].index("Henvist af")
    _write(p, [";".join(r[:j] + r[j + 1 :]) for r in rows])
    got, rep, _ = read_delivery(delivery, key=KEY)
    assert got["participants"]["referred_by"].isna().all()
    nd = rep.problems[rep.problems["rule"] == "not_delivered"]
    assert list(nd["file"]) == ["deltagere.csv"]
    assert nd["message"].iloc[0].startswith("referred_by: not delivered")
    assert rep.exit_code == 0


def test_a_cp1252_file_is_still_read_as_cp1252(delivery):
    p = delivery / "deltagere.csv"
    p.write_bytes(p.read_bytes().decode("utf-8-sig").encode("cp1252"))
    _, rep, _ = read_delivery(delivery, key=KEY)
    assert rep.exit_code == 0
    assert rep.files.set_index("file").loc["deltagere.csv", "encoding"] == "cp1252"


# -- an oversized cell quarantines its row ----------------------------------------------------


@pytest.mark.parametrize(
    ("size", "quoted"), [(3 * 2**20, True), (3 * 2**20, False), (100_000, False)]
)
def test_oversized_cell_quarantines_only_its_row(delivery, tmp_path, size, quoted):
    p = delivery / "aktiviteter.csv"
    big = "x" * size
    _set_cell(p, 3, "Aktivitet", f'"{big}"' if quoted else big)
    _, rep, _ = read_delivery(delivery, key=KEY)
    err = rep.problems[rep.problems.severity == "error"]
    assert err[["file", "row", "column", "rule"]].values.tolist() == [
        ["aktiviteter.csv", 3, "Aktivitet", "cell_too_large"]
    ]
    assert rep.files.set_index("file")["quarantined"].sum() == 1
    assert _balanced(rep)
    written = rep.write_quarantine(tmp_path / "q")
    assert max(w.stat().st_size for w in written) < 10_000  # the value is not copied


def test_csv_problem_rows_keep_their_line_after_blank_lines(tmp_path):
    from envejind_eval.ingest.mapping import header_score
    from envejind_eval.ingest.readers import read_csv

    p = tmp_path / "a.csv"
    p.write_bytes(b"CPR;Kommune\na;X\n\nb;Y;Z\nc;W\n")
    t = read_csv(p, file="a.csv", header_score=header_score)
    assert [(int(t.lines[r]), rule) for r, _, rule, _ in t.problems] == [(4, "wrong_field_count")]


# -- numbers read as written ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decimal", "settled", "text", "want"),
    [
        ("comma", True, "1.200", 1200.0),
        ("comma", True, "1.200,5", 1200.5),
        ("comma", True, "12.345.678", 12345678.0),
        ("comma", True, "1 200", 1200.0),
        ("comma", True, "1\u00a0200,5", 1200.5),
        ("comma", True, "-1,25", -1.25),
        ("comma", True, "1.20", "invalid_number"),
        ("comma", True, "1.2000", "invalid_number"),
        ("comma", True, "1 2", "invalid_number"),
        ("comma", True, "1.5", "invalid_number"),
        ("comma", False, "1.200", "ambiguous_number"),
        ("comma", False, "1200", 1200.0),
        ("comma", False, "1 200", 1200.0),
        ("point", True, "1.200", 1.2),
        ("point", True, "1 200.5", 1200.5),
        ("point", True, "1,200", "invalid_number"),
        ("either", True, "1.5", 1.5),
        ("either", True, "1,5", 1.5),
        ("either", True, "1.200", "ambiguous_number"),
        ("either", True, "1.2340", 1.234),
    ],
)
def test_number_forms(decimal, settled, text, want):
    from envejind_eval.ingest._core import _number_parser

    value, rule = _number_parser(decimal, settled=settled)(text)
    assert (rule if isinstance(want, str) else value) == want


def _minutes(d: Path, values: list[str]) -> None:
    p = d / "aktiviteter.csv"
    n = len(_lines(p)) - 1
    for i in range(n):
        _set_cell(p, i + 2, "Minutter", values[i % len(values)])


def test_thousands_point_in_whole_number_file_is_ambiguous_not_1_2(delivery):
    _minutes(delivery, ["45", "1.200", "", "30"])
    tables, rep, _ = read_delivery(delivery, key=KEY)
    err = rep.problems[rep.problems.severity == "error"]
    assert set(err["rule"]) == {"ambiguous_number"}
    assert set(err["column"]) == {"Minutter"} and set(err["file"]) == {"aktiviteter.csv"}
    assert (tables["activities"]["minutes"].dropna() >= 30).all()  # no 1.2
    assert _balanced(rep)


def test_danish_thousands_read_where_the_file_uses_the_decimal_comma(delivery):
    _minutes(delivery, ["62,5", "1.200", "1 200", "1.200,5", "45"])
    tables, rep, _ = read_delivery(delivery, key=KEY)
    assert rep.exit_code == 0, rep.to_text()
    assert rep.files.set_index("file").loc["aktiviteter.csv", "decimal"] == "comma"
    assert set(tables["activities"]["minutes"].dropna()) == {62.5, 1200.0, 1200.5, 45.0}


def test_workbook_numbers_are_read_as_stored_and_text_1_200_is_ambiguous(delivery):
    import openpyxl

    p = delivery / "aktiviteter.csv"
    rows = [r.split(";") for r in _lines(p)]
    p.unlink()
    wb = openpyxl.Workbook()
    ws = wb.active
    j = rows[0].index("Minutter")
    ws.append(rows[0])
    for i, r in enumerate(rows[1:]):
        r[j] = [62.125, "1.200", 1.5, None][i % 4]  # numbers, and text typed as 1.200
        ws.append(r)
    wb.save(delivery / "aktiviteter.xlsx")
    tables, rep, _ = read_delivery(delivery, key=KEY)
    err = rep.problems[rep.problems.severity == "error"]
    assert set(err["rule"]) == {"ambiguous_number"} and set(err["column"]) == {"Minutter"}
    assert set(tables["activities"]["minutes"].dropna()) == {62.125, 1.5}


def test_minutes_beyond_one_day_are_problems(delivery):
    _minutes(delivery, ["45", "2000", "-5"])
    _, rep, _ = read_delivery(delivery, key=KEY)
    err = rep.problems[rep.problems.severity == "error"]
    assert set(err["rule"]) == {"out_of_range"} and len(err) > 0


# -- formulas without a stored result ---------------------------------------------------------


def test_formula_without_stored_result_is_a_problem_naming_the_cell(tmp_path):
    import openpyxl

    t, cprs = make_tables(3)
    d = write_variant(t, cprs, tmp_path / "d", attendance="xlsx")
    x = next(d.glob("fremmoede_*.xlsx"))
    wb = openpyxl.load_workbook(x)
    ws = wb.worksheets[0]
    ws["C4"] = '=IF(1=1,"M","F")'  # openpyxl stores no result
    last = ws.max_row  # the 'I alt' row: totals as formulas are skipped like any total row
    for c in range(2, ws.max_column + 1):
        col = ws.cell(4, c).column_letter
        ws.cell(last, c).value = f'=COUNTIF({col}4:{col}{last - 1},"M")'
    wb.save(x)
    _, rep, _ = read_delivery(d, key=KEY)
    f = rep.problems[rep.problems.rule == "formula_without_value"]
    assert f[["file", "sheet", "row", "cell"]].values.tolist() == [[x.name, ws.title, 4, "C4"]]
    assert (f.severity == "error").all()
    assert _balanced(rep)


def test_formula_with_a_stored_empty_result_is_not_a_problem(tmp_path):
    import io
    import zipfile

    import openpyxl

    from envejind_eval.ingest.readers import _formula_cells

    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"], ws["B1"], ws["C1"], ws["D1"] = "x", '=IF(1=1,"","M")', "=1+1", "=2+2"
    buf = io.BytesIO()
    wb.save(buf)
    src = zipfile.ZipFile(buf)
    xml = src.read("xl/worksheets/sheet1.xml")
    # as Excel stores results: an empty string (t="str") and a number; D1 stays without one
    xml = xml.replace(b'<c r="B1"><f>', b'<c r="B1" t="str"><f>')
    xml = xml.replace(b"<f>1+1</f><v></v>", b"<f>1+1</f><v>2</v>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for n in src.namelist():
            z.writestr(n, xml if n == "xl/worksheets/sheet1.xml" else src.read(n))
    assert _formula_cells(out.getvalue()) == {"Sheet": [(1, 4)]}


def test_unmatched_quote_joining_rows_quarantines_the_row(delivery):
    # before: the following rows vanished into one accepted value (rows_read shrank)
    p = delivery / "deltagere.csv"
    n_rows = len(_lines(p)) - 1
    _set_cell(p, 2, "Mentor", '"Mentor Å')  # the quote is never closed
    _, rep, _ = read_delivery(delivery, key=KEY)
    err = rep.problems[(rep.problems.severity == "error") & (rep.problems.file == "deltagere.csv")]
    # the swallowed rows' CPRs also make it a cpr_in_column problem of the same cell
    assert [2, "Mentor", "unmatched_quote"] in err[["row", "column", "rule"]].values.tolist()
    assert rep.files.set_index("file").loc["deltagere.csv", "quarantined"] >= 1
    assert rep.files.set_index("file").loc["deltagere.csv", "rows_read"] < n_rows  # joined
    assert _balanced(rep)


def test_line_breaks_in_free_text_stay_allowed(delivery):
    p = delivery / "deltagere.csv"
    _set_cell(p, 2, "Ophørsårsag", '"Flyttet;\r\nnye adresse ukendt"')
    _, rep, _ = read_delivery(delivery, key=KEY)
    assert rep.exit_code == 0, rep.to_text()
