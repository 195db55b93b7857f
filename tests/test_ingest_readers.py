"""Each reader path, encoding, separator, date form and Excel quirk, on crafted files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import openpyxl
import pytest

import envejind_eval as ee
from _ingest_support import KEY, make_tables, pid_of, write_variant
from envejind_eval.errors import IngestError
from envejind_eval.ingest import dates as D
from envejind_eval.ingest import read_delivery
from envejind_eval.ingest.mapping import header_score
from envejind_eval.ingest.readers import read_csv, read_xlsx

DAY = (dt.date(2024, 1, 22) - dt.date(1970, 1, 1)).days


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("22-01-2024", "dd-mm-yyyy"),
        ("22.01.2024", "dd.mm.yyyy"),
        ("22/01/2024", "dd/mm/yyyy"),
        ("22-1-2024", "dd-mm-yyyy"),
        ("2024-01-22", "iso"),
        ("2024-01-22 00:00:00", "iso"),
        ("2024-01-22T00:00:00", "iso"),
        ("45313", "excel_serial"),
        ("45313.0", "excel_serial"),
    ],
)
def test_date_forms(text, form):
    assert D.parse_date(text) == (DAY, form)


@pytest.mark.parametrize(
    "text",
    [
        "01-22-2024",
        "31-02-2024",
        "22-01-24",
        "2024/01/22",
        "22-01.2024",
        "2016",
        "x",
        "2024-01-22 13:00",
        "99999",
    ],
)
def test_dates_are_strict(text):
    assert D.parse_date(text) == (None, None)


def test_times():
    assert D.parse_time("8:05") == "08:05"
    assert D.parse_time("08.05") == "08:05"
    assert D.parse_time("08:05:00") == "08:05"
    assert D.parse_time("24:00") is None and D.parse_time("8") is None


def _csv(tmp: Path, name: str, data: bytes):
    p = tmp / name
    p.write_bytes(data)
    return read_csv(p, file=name, header_score=header_score)


@pytest.mark.parametrize(
    ("data", "enc"),
    [
        ("CPR;Kommune\r\nx;Ærø\r\n".encode("utf-8-sig"), "utf-8-sig"),
        ("CPR;Kommune\r\nx;Ærø\r\n".encode(), "utf-8"),
        ("CPR;Kommune\r\nx;Ærø\r\n".encode("cp1252"), "cp1252"),
        (b"CPR;Kommune\r\nx;Aero\r\n", "utf-8"),
    ],
)
def test_csv_encodings(tmp_path, data, enc):
    t = _csv(tmp_path, "a.csv", data)
    assert t.encoding == enc
    assert t.cols[1].texts().tolist() == ["Aero" if b"Aero" in data else "Ærø"]


def test_csv_unreadable_bytes(tmp_path):
    with pytest.raises(IngestError, match="UTF-8 or cp1252"):
        _csv(tmp_path, "a.csv", b"CPR;Kommune\r\nx;\x81\x8d\r\n\xe6")
    with pytest.raises(IngestError, match="line 2, column 'Kommune': .*byte order mark"):
        _csv(tmp_path, "b.csv", b"\xef\xbb\xbfCPR;Kommune\r\nx;\xe6\r\n")


@pytest.mark.parametrize("sep", [";", ",", "\t"])
def test_csv_separators(tmp_path, sep):
    t = _csv(tmp_path, "a.csv", f"CPR{sep}Dato{sep}Kode\nx{sep}01-02-2020{sep}M\n".encode())
    assert t.separator == sep and t.header == ["CPR", "Dato", "Kode"]
    assert t.lines.tolist() == [2]


def test_csv_line_numbers_with_quotes_and_blank_lines(tmp_path):
    data = (
        'CPR;Ophørsårsag;Kommune\r\na;"to\r\nlinjer";X\r\n\r\n;;\r\nb;"semi;kolon";Y\r\nI alt;;\r\n'
    ).encode("utf-8-sig")
    t = _csv(tmp_path, "a.csv", data)
    assert t.lines.tolist() == [2, 6]
    assert t.cols[1].texts().tolist() == ["to\r\nlinjer", "semi;kolon"]
    assert t.skipped == {"title": 0, "blank": 2, "total": 1}
    assert t.n_read == 5


def test_csv_ragged_row_flagged(tmp_path):
    t = _csv(tmp_path, "a.csv", b"CPR;Kommune\na;X\nb;Y;Z\nc\n")
    assert t.problems == [(1, -1, "wrong_field_count", "row has 3 fields but the header has 2")]
    assert t.cols[1].texts().tolist() == ["X", "Y", None]


def test_csv_title_line_above_header(tmp_path):
    t = _csv(tmp_path, "a.csv", b"Deltagerliste 2016\nCPR;Kommune\na;X\n")
    assert t.header == ["CPR", "Kommune"] and t.lines.tolist() == [3]
    assert t.skipped["title"] == 1


def _wb(path: Path, rows: list[list], merges: list[str] = ()) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Hold A"
    for r in rows:
        ws.append(r)
    for m in merges:
        ws.merge_cells(m)
    wb.save(path)
    return path


def test_xlsx_register_quirks(tmp_path):
    rows = [
        ["Fremmøde – Hold A"],
        [None],
        ["CPR", "Uge 40", None, None],
        [None, dt.datetime(2016, 10, 3), "04-10-2016", 42648],
        ["010203-4321", "M", "k", None],
        [None, None, None, None],
        [1020312345, "F", "S", "A"],
        ["I alt", 1, 1, 0],
    ]
    p = _wb(tmp_path / "fremmoede_x.xlsx", rows, merges=["A1:D1", "A3:A4", "B3:D3"])
    (t,) = read_xlsx(
        p, file=p.name, header_score=header_score, date_of=lambda s: D.parse_date(s)[0]
    )
    assert t.header == ["CPR", "03-10-2016", "04-10-2016", "05-10-2016"]
    assert t.lines.tolist() == [5, 7]
    assert t.skipped == {"title": 2, "blank": 2, "total": 1}
    assert t.n_read == 7
    assert t.cols[0].texts().tolist() == ["010203-4321", "1020312345"]


def _delivery(tmp_path: Path, seed: int = 2, **kw) -> tuple[Path, dict, list[str]]:
    t, cprs = make_tables(seed)
    return write_variant(t, cprs, tmp_path / "d", **kw), t, cprs


def test_register_nine_digit_cpr_and_typo(tmp_path):
    d, t, cprs = _delivery(tmp_path)
    x = next(d.glob("*.xlsx"))
    wb = openpyxl.load_workbook(x)
    ws = wb.worksheets[0]
    ws["A4"] = (
        int(cprs[0].replace("-", "")) if cprs[0][0] != "0" else int(cprs[0].replace("-", "")[1:])
    )
    ws["B5"] = "Q"
    wb.save(x)
    _, rep, _ = read_delivery(d, key=KEY)
    p = rep.problems[rep.problems.sheet.notna()]
    rules = dict(zip(p.cell, p.rule, strict=True))
    assert rules.get("B5") == "unknown_code"
    assert rules.get("A4") in ("cpr_leading_zero_lost", "unknown_participant")


def test_national_long_attendance_and_parquet(tmp_path):
    d, t, cprs = _delivery(tmp_path, attendance="csv")
    ds = ee.load(d, key=KEY)
    assert ds.ingest_report.files.set_index("file").loc["fremmoede.csv", "layout"] == "long"
    assert len(ds.attendance) == len(t["attendance"])


def test_xlsx_participant_list_and_form(tmp_path):
    d, t, cprs = _delivery(tmp_path, attendance="csv")
    for name in ("deltagere.csv", "maalinger_lfl.csv"):
        lines = (d / name).read_bytes().decode("utf-8-sig").split("\r\n")
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(["Udtræk fra fagsystem"])
        for ln in lines:
            if ln:
                ws.append([None if v == "" else v for v in ln.split(";")])
        wb.save(d / name.replace(".csv", ".xlsx"))
        (d / name).unlink()
    ds = ee.load(d, key=KEY)
    assert ds.ingest_report.exit_code == 0, ds.ingest_report.to_text()
    assert len(ds.participants) == len(t["participants"])
    assert len(ds.measurements) == len(t["measurements"])


def test_datakilder_toml_mapping(tmp_path):
    d, t, cprs = _delivery(tmp_path, attendance="csv")
    (d / "fremmoede.csv").rename(d / "Registrering af fremmøde.csv")
    text = (d / "Registrering af fremmøde.csv").read_bytes().decode("utf-8-sig")
    text = text.replace("CPR;Dato;Kode", "Personnr;Dag;Reg").replace(";M\r\n", ";MØDT\r\n")
    (d / "Registrering af fremmøde.csv").write_bytes(text.encode("utf-8-sig"))
    (d / "datakilder.toml").write_text(
        '[files."registrering*.csv"]\ntable = "attendance"\nlayout = "long"\n'
        '[files."registrering*.csv".columns]\n"Personnr" = "cpr"\n"Dag" = "date"\n'
        '"Reg" = "attendance_code"\n[codes.attendance]\n"MØDT" = "present"\n',
        encoding="utf-8",
    )
    ds = ee.load(d, key=KEY)
    assert ds.ingest_report.exit_code == 0, ds.ingest_report.to_text()
    assert len(ds.attendance) == len(t["attendance"])


def test_bad_config_is_a_user_error(tmp_path):
    d, _, _ = _delivery(tmp_path)
    (d / "datakilder.toml").write_text('[files."x"]\ntable = "nope"\n', encoding="utf-8")
    with pytest.raises(IngestError, match="Expecting one of"):
        ee.load(d, key=KEY)


def test_free_text_cpr_redacted_and_unknown_column_warned(tmp_path):
    d, t, cprs = _delivery(tmp_path, seed=5)
    p = d / "deltagere.csv"
    lines = p.read_bytes().decode("utf-8-sig").split("\r\n")
    lines[0] += ";Noter"
    parts = lines[1].split(";")
    parts[11] = "Se 311299-1234 i journalen"
    lines[1] = ";".join(parts) + ";fri tekst"
    lines[2:] = [x + ";" if x else x for x in lines[2:]]
    p.write_bytes("\r\n".join(lines).encode("utf-8-sig"))
    ds = ee.load(d, key=KEY)
    rep = ds.ingest_report
    assert rep.files.set_index("file").loc["deltagere.csv", "redacted"] == 1
    w = rep.problems[rep.problems.severity == "warning"]
    assert set(w.rule) == {"cpr_in_free_text", "ignored_column"}
    assert "311299-1234" not in " ".join(ds.participants["exit_reason"].dropna())
    assert rep.exit_code == 0


def test_decimal_comma_file_rejects_point(tmp_path):
    d, t, cprs = _delivery(tmp_path, seed=9)
    p = d / "aktiviteter.csv"
    text = p.read_bytes().decode("utf-8-sig")
    assert ",5" in text or "45" in text
    lines = text.split("\r\n")
    parts = lines[1].split(";")
    parts[4] = "62,5"
    lines[1] = ";".join(parts)
    parts = lines[2].split(";")
    parts[4] = "1.5"
    lines[2] = ";".join(parts)
    p.write_bytes("\r\n".join(lines).encode("utf-8-sig"))
    _, rep, _ = read_delivery(d, key=KEY)
    f = rep.files.set_index("file")
    assert f.loc["aktiviteter.csv", "decimal"] == "comma"
    e = rep.problems[rep.problems.severity == "error"]
    assert e[["row", "column", "rule"]].values.tolist() == [[3, "Minutter", "invalid_number"]]


def test_duplicates_and_conflicts_in_long_file(tmp_path):
    d, t, cprs = _delivery(tmp_path, attendance="csv")
    p = d / "fremmoede.csv"
    lines = p.read_bytes().decode("utf-8-sig").split("\r\n")
    first = lines[1]
    other = first[:-1] + ("F" if first[-1] != "F" else "M")
    lines = [lines[0], first, first, *lines[2:3], other, *lines[3:]]
    p.write_bytes("\r\n".join(lines).encode("utf-8-sig"))
    _, rep, _ = read_delivery(d, key=KEY)
    f = rep.files.set_index("file").loc["fremmoede.csv"]
    assert (f.duplicates, f.quarantined) == (0, 3)  # one key, three rows, two versions
    assert set(rep.problems.rule) >= {"conflict"}
    assert np.isin(rep.problems[rep.problems.rule == "conflict"]["row"], [2, 3, 5]).all()


def test_exact_duplicate_dropped(tmp_path):
    d, t, cprs = _delivery(tmp_path, attendance="csv")
    p = d / "fremmoede.csv"
    lines = p.read_bytes().decode("utf-8-sig").split("\r\n")
    lines.insert(2, lines[1])
    p.write_bytes("\r\n".join(lines).encode("utf-8-sig"))
    ds = ee.load(d, key=KEY)
    f = ds.ingest_report.files.set_index("file").loc["fremmoede.csv"]
    assert (f.duplicates, f.quarantined) == (1, 0)
    assert ds.ingest_report.exit_code == 0
    assert len(ds.attendance) == len(t["attendance"])
    assert pid_of(cprs[0]) in set(ds.attendance["participant_id"])
