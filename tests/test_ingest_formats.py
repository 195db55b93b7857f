"""Issue 17 §5: .xls, .ods, SPSS .sav and survey exports read like the other formats, and
arrival times keep their seconds."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from _formats_support import write_ods, write_participants
from _ingest_support import KEY, pid_of
from envejind_eval.analysis.attendance import _arrival_minutes
from envejind_eval.errors import IngestError
from envejind_eval.ingest import dates as D
from envejind_eval.ingest import read_delivery
from envejind_eval.ingest.mapping import header_score
from envejind_eval.ingest.readers import cell_text, read_ods, read_sav, read_xls, read_xlsx

XLS = Path(__file__).parent / "fixtures" / "formats" / "hold1_fremmoede.xls"
CPRS = ["211196-0457", "161098-0214", "130503-4428", "180896-2049"]
DAYS = [dt.date(2024, 1, 8) + dt.timedelta(days=d) for d in range(5)]


def _date_of(t: str) -> int | None:
    return D.parse_date(t)[0]


def _known(*names: str):  # a header scorer that also knows the given headers as CPR
    mapped = {n.lower().strip("."): "cpr" for n in names}
    return lambda cells: header_score(cells, {k.replace(".", ""): v for k, v in mapped.items()})


# -- times -------------------------------------------------------------------------------------


def test_times_keep_their_seconds():
    assert D.parse_time("07:46:59") == "07:46:59"
    assert D.parse_time("7.46:05") == "07:46:05"
    assert D.parse_time("07:46:00") == "07:46"  # nothing to keep
    assert cell_text(dt.time(7, 46, 59)) == "07:46:59"
    # a spreadsheet fraction of a day comes back a microsecond short: still 07:46:59
    assert cell_text(dt.time(7, 46, 58, 999_999)) == "07:46:59"
    assert cell_text(dt.timedelta(hours=7, minutes=46, seconds=59)) == "07:46:59"
    assert cell_text(dt.time(7, 46)) == "07:46"
    got = _arrival_minutes(pd.Series(["07:46:30", "07:46", None], dtype="str")).tolist()
    assert got[:2] == [466.5, 466.0] and np.isnan(got[2])


def test_arrival_seconds_reach_the_canonical_table(tmp_path):
    d = tmp_path / "lev"
    write_participants(d, CPRS[:2])
    (d / "fremmoede.csv").write_text(
        f"CPR;Dato;Kode\n{CPRS[0]};08-01-2024;M\n{CPRS[1]};08-01-2024;K\n", encoding="utf-8"
    )
    (d / "ankomsttider.csv").write_text(
        f"CPR;Dato;Mødetid\n{CPRS[0]};08-01-2024;07:46:59\n{CPRS[1]};08-01-2024;08:10\n",
        encoding="utf-8",
    )
    tables, rep, _ = read_delivery(d, key=KEY)
    a = tables["attendance"].set_index("participant_id")["arrival_time"]
    assert a[pid_of(CPRS[0])] == "07:46:59" and a[pid_of(CPRS[1])] == "08:10"
    assert rep.exit_code == 0


# -- .xls ------------------------------------------------------------------------------------


def test_xls_register(tmp_path):
    (t,) = read_xls(XLS, file=XLS.name, header_score=_known("Personnr."), date_of=_date_of)
    assert t.format == "xls" and t.sheet == "Hold 1"
    assert t.header[0] == "Personnr." and t.header[1:] == [d.strftime("%d-%m-%Y") for d in DAYS]
    assert t.header_dates[1:] == [_date_of(d.isoformat()) for d in DAYS]
    assert list(t.lines) == [4, 5, 6, 7]  # rows as Excel shows them
    assert t.skipped == {"title": 1, "blank": 1, "total": 1}
    assert list(t.cols[0].texts()) == CPRS
    assert list(t.cols[3].texts()) == ["K", "M", "M", "M"]


def _shape(t):
    return (
        t.header,
        t.header_dates,
        list(t.lines),
        t.n_read,
        t.skipped,
        t.letters,
        [list(c.texts()) for c in t.cols],
    )


def test_xls_ods_and_xlsx_give_the_same_table(tmp_path):
    """One register saved as .xlsx (openpyxl), .xls (LibreOffice) and .ods: the readers
    hand the same RawTable to everything downstream."""
    from fixtures.formats._make_xls import workbook

    wb = workbook()
    wb.save(tmp_path / "r.xlsx")
    rows = [[c.value for c in r] for r in wb.active.iter_rows()]
    write_ods(tmp_path / "r.ods", {"Hold 1": rows}, title_span=6)
    kw = {"header_score": _known("Personnr."), "date_of": _date_of}
    (x,) = read_xlsx(tmp_path / "r.xlsx", file="r.xlsx", **kw)
    (o,) = read_ods(tmp_path / "r.ods", file="r.ods", **kw)
    (b,) = read_xls(XLS, file=XLS.name, **kw)
    assert _shape(b) == _shape(x) == _shape(o)


def test_xls_delivery_with_config(tmp_path):
    d = tmp_path / "lev"
    write_participants(d, CPRS)
    shutil.copy(XLS, d / "Hold 1 fremmøde.xls")
    (d / "datakilder.toml").write_text(
        '[files."Hold 1 fremmøde.xls"]\ntable = "attendance"\nlayout = "wide"\n'
        '[files."Hold 1 fremmøde.xls".columns]\n"Personnr." = "cpr"\n',
        encoding="utf-8",
    )
    tables, rep, _ = read_delivery(d, key=KEY)
    a = tables["attendance"]
    assert len(a) == 20 and rep.exit_code == 0
    got = a.set_index(["participant_id", "date"])["status"]
    assert got[(pid_of(CPRS[1]), pd.Timestamp("2024-01-09"))] == "unexcused"
    f = rep.files.set_index("file").loc["Hold 1 fremmøde.xls"]
    assert f["format"] == "xls" and f["rows_read"] == 7 and f["accepted"] == 4


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"not a workbook at all", r"\(XLRDError\)"),
        (b"PK\x03\x04 an xlsx", "rename it to .xlsx"),
        (b"<html><table><tr><td>CPR</td></tr></table></html>", r"web page \(HTML\)"),
    ],
)
def test_xls_unreadable(tmp_path, content, says):
    d = tmp_path / "lev"
    write_participants(d, CPRS)
    (d / "fremmoede.xls").write_bytes(content)
    with pytest.raises(
        IngestError, match=rf"fremmoede\.xls: not a readable \.xls workbook.*{says}"
    ):
        read_delivery(d, key=KEY)


# -- .ods ------------------------------------------------------------------------------------


def _register_rows() -> list[list[object]]:
    codes = [["M", "K", "M"], ["F", "M", "S"]]
    return [
        ["Fremmøde – Hold 2", None, None, None],
        [],
        ["CPR", *DAYS[:3]],
        *[[c, *k] for c, k in zip(CPRS[2:], codes, strict=True)],
        ["I alt", 1, 2, 1],
    ]


def test_ods_register_and_times(tmp_path):
    p = write_ods(
        tmp_path / "x.ods",
        {
            "Hold 2": _register_rows(),
            "Mødetider": [["CPR", "Dato", "Mødetid"], [CPRS[2], DAYS[0], dt.time(7, 46, 59)]],
        },
        title_span=4,
    )
    reg, arr = read_ods(p, file="x.ods", header_score=header_score, date_of=_date_of)
    assert reg.sheet == "Hold 2" and reg.format == "ods"
    assert reg.header == ["CPR", *[d.strftime("%d-%m-%Y") for d in DAYS[:3]]]
    assert list(reg.lines) == [4, 5] and reg.skipped == {"title": 1, "blank": 1, "total": 1}
    assert list(reg.cols[2].texts()) == ["K", "M"]
    assert len(reg.header) == 4  # the 1000 repeated empty cells are no columns
    assert [c.texts()[0] for c in arr.cols] == [CPRS[2], "2024-01-08", "07:46:59"]


def test_ods_delivery(tmp_path):
    d = tmp_path / "lev"
    write_participants(d, CPRS[2:], team="Hold 2")
    write_ods(d / "fremmoede_hold2.ods", {"Hold 2": _register_rows()})
    tables, rep, _ = read_delivery(d, key=KEY)
    assert len(tables["attendance"]) == 6 and rep.exit_code == 0


# -- SPSS .sav -------------------------------------------------------------------------------


def test_sav_value_labels_and_variable_labels(tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    d = tmp_path / "lev"
    write_participants(d, CPRS)
    df = pd.DataFrame(
        {
            "cpr": CPRS,
            "tp": [1.0, 1.0, 3.0, 3.0],
            "q1": [1.0, 0.0, 1.0, np.nan],
            "q2": [0.0, 0.0, 1.0, 1.0],
        }
    )
    pyreadstat.write_sav(
        df,
        str(d / "status_spss.sav"),
        column_labels=["CPR-nummer", "Måletidspunkt", "I uddannelse", "I beskæftigelse"],
        variable_value_labels={
            "tp": {1.0: "Start", 3.0: "Slut"},
            "q1": {1.0: "Ja", 0.0: "Nej"},
            "q2": {1.0: "Ja", 0.0: "Nej"},
        },
    )
    t = read_sav(d / "status_spss.sav", file="status_spss.sav", header_score=header_score)
    # names the mapping does not know are taken under their SPSS variable labels
    assert t.header == ["cpr", "Måletidspunkt", "I uddannelse", "I beskæftigelse"]
    assert list(t.cols[1].texts()) == ["Start", "Start", "Slut", "Slut"]
    tables, rep, _ = read_delivery(d, key=KEY)
    o = tables["outcomes"]
    assert len(o) == 8 and rep.exit_code == 0
    edu = o[o.indicator == "in_education"].set_index("participant_id")
    assert edu.loc[pid_of(CPRS[0]), "timepoint"] == "baseline"
    assert edu.loc[pid_of(CPRS[0]), "value"] == 1 and edu.loc[pid_of(CPRS[1]), "value"] == 0
    assert pd.isna(edu.loc[pid_of(CPRS[3]), "value"])  # SPSS system-missing stays missing


def test_sav_dates_and_times(tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    df = pd.DataFrame(
        {
            "cpr": CPRS[:2],
            "dato": [dt.date(2024, 1, 8), None],
            "tid": [dt.datetime(2024, 1, 8, 7, 46, 59), dt.datetime(2024, 1, 8, 8, 2)],
        }
    )
    pyreadstat.write_sav(df, str(tmp_path / "x.sav"))
    t = read_sav(tmp_path / "x.sav", file="x.sav", header_score=header_score)
    assert list(t.cols[1].texts()) == ["2024-01-08", None]
    assert list(t.cols[2].texts()) == ["2024-01-08T07:46:59", "2024-01-08T08:02:00"]


# -- survey exports ----------------------------------------------------------------------------


def test_survey_export_label_rows(tmp_path):
    """A survey tool's Excel export: variable names over the question texts; the texts
    are labels, not a respondent with an invalid CPR."""
    d = tmp_path / "lev"
    write_participants(d, CPRS)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["CPR", "Måletidspunkt", "I uddannelse", "I beskæftigelse"])
    ws.append(["Den unges personnummer", "Hvornår", "Går du i skole?", "Har du et job?"])
    for c in CPRS:
        ws.append([c, "Start", "Ja", "Nej"])
    wb.save(d / "status_survey.xlsx")
    tables, rep, _ = read_delivery(d, key=KEY)
    assert rep.exit_code == 0, rep.to_text()
    assert len(tables["outcomes"]) == 8
    f = rep.files.set_index("file").loc["status_survey.xlsx"]
    assert f["skipped_title"] == 1 and f["rows_read"] == 5


def test_survey_export_labels_over_codes(tmp_path):
    """Question ids in the header row the mapping does not know, Danish labels above:
    each column is read under its label."""
    d = tmp_path / "lev"
    write_participants(d, CPRS)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["CPR", "Måletidspunkt", "I uddannelse", "I beskæftigelse"])
    ws.append(["Q0", "Q1", "Q2", "Q3"])
    for c in CPRS:
        ws.append([c, "Slut", "Nej", "Ja"])
    wb.save(d / "status_survey.xlsx")
    tables, rep, _ = read_delivery(d, key=KEY)
    assert rep.exit_code == 0 and len(tables["outcomes"]) == 8
    assert set(tables["outcomes"]["timepoint"]) == {"end"}


def test_a_data_row_is_never_a_label_row(tmp_path):
    """Rows of text under the header that repeat below (codes, places) are data."""
    d = tmp_path / "lev"
    write_participants(d, CPRS)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["CPR", "Måletidspunkt", "I uddannelse"])
    ws.append([None, "Start", "Ja"])  # no CPR: quarantined, not taken for labels
    for c in CPRS:
        ws.append([c, "Start", "Ja"])
    wb.save(d / "status_x.xlsx")
    _, rep, _ = read_delivery(d, key=KEY)
    f = rep.files.set_index("file").loc["status_x.xlsx"]
    assert f["skipped_title"] == 0 and f["quarantined"] == 1
