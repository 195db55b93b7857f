"""Leak guard: CPR-shaped strings and pseudonyms in every kind of output; no value leaks."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envejind_eval.cli import main
from envejind_eval.disclosure import Gate
from envejind_eval.disclosure.scan import contains_cpr, redact, redact_cpr, scan
from envejind_eval.errors import DisclosureError

CPR = "0101901234"  # fictitious, CPR-shaped
CPR_DASH = "311299-4321"
PSEUDO = "91651b8a90"


@pytest.mark.parametrize(
    "text",
    [
        CPR,
        CPR_DASH,
        f"id:{CPR}",
        f"({CPR_DASH})",
        f"x {CPR}.0",
        f'"{CPR}"',
        "290288-1111",
        f"cpr_{CPR}",
    ],
)
def test_cpr_shapes_found(text):
    assert contains_cpr(text)


@pytest.mark.parametrize(
    "text",
    [
        "2016-10-03",  # ISO date
        "20161003",  # 8-digit date
        "1700000000123",  # ms timestamp
        "0.1201851234",  # decimal fraction
        "a3f0101901234b",  # inside a hex digest
        "3201851234",  # day 32
        "0113851234",  # month 13
        "3102851234",  # 31 February
        "01019012345",  # 11 digits
        "123456-12345",
        "2016-10-03T12:00:00",
        "n = 12, mean = 3.456789",
    ],
)
def test_not_cpr(text):
    assert not contains_cpr(text)


@settings(max_examples=60, deadline=None)
@given(
    st.dates().filter(lambda d: d.year >= 1900),
    st.integers(0, 9999),
    st.booleans(),
    st.text(alphabet=" ,;:()\"'<>=\n\t", min_size=1, max_size=3),
)
def test_any_valid_cpr_is_found(day, seq, dash, sep):
    s = f"{day:%d%m%y}{'-' if dash else ''}{seq:04d}"
    assert contains_cpr(f"note{sep}{s}{sep}end")


@settings(max_examples=60, deadline=None)
@given(st.dates(), st.integers(0, 23), st.integers(0, 59))
def test_iso_dates_and_times_never_found(day, h, m):
    assert not contains_cpr(f"{day.isoformat()} {h:02d}:{m:02d} {day:%Y%m%d}")


def _no_value(hits: pd.DataFrame, *values: str) -> None:
    text = hits.to_string() + json.dumps(hits.to_dict(orient="records"))
    for v in values:
        assert v not in text
        assert v.replace("-", "") not in text


def _write_outputs(root: Path) -> None:
    """A report-like folder with a CPR planted in several places."""
    (root / "tables").mkdir(parents=True)
    # a free-text field of an input row that reached the quarantine file
    pd.DataFrame({"row": [3], "exit_reason": [f"moved, see {CPR_DASH}"]}).to_csv(
        root / "quarantine.csv", index=False
    )
    # a label in an SVG figure
    (root / "fig.svg").write_text(
        f'<svg xmlns="http://www.w3.org/2000/svg"><text x="1" y="2">team {CPR}</text></svg>'
    )
    # an XLSX cell
    pd.DataFrame({"team": ["A", "B"], "note": ["ok", f"{CPR}"]}).to_excel(
        root / "tables" / "t.xlsx", index=False
    )
    # a notebook output
    nb = {
        "cells": [
            {"cell_type": "code", "source": ["print(x)"], "metadata": {},
             "outputs": [{"output_type": "stream", "name": "stdout", "text": [f"{PSEUDO}\n"]}]},
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }  # fmt: skip
    (root / "nb.ipynb").write_text(json.dumps(nb))
    (root / "run.log").write_text("step 1 ok\nstep 2 ok\n")
    (root / "report.html").write_text(
        "<html><body><p>Mean 3.1201851234, date 2016-10-03</p>"
        '<img src="data:image/png;base64,MDEwMTkwMTIzNA=="/></body></html>'
    )


def test_scan_finds_planted_values_without_printing_them(tmp_path):
    _write_outputs(tmp_path)
    hits = scan([tmp_path], pseudonyms=[PSEUDO])
    found = {(Path(f).name, k) for f, k in zip(hits["file"], hits["kind"], strict=True)}
    assert ("quarantine.csv", "cpr") in found
    assert ("fig.svg", "cpr") in found
    assert ("t.xlsx", "cpr") in found
    assert ("nb.ipynb", "pseudonym") in found
    assert not any(n in {"run.log", "report.html"} for n, _ in found)
    loc = hits.loc[hits["file"].str.endswith("t.xlsx"), "location"].item()
    assert loc == "Sheet1!B3"
    _no_value(hits, CPR, CPR_DASH, PSEUDO)


def test_scan_svg_embedded_in_html_and_file_names(tmp_path):
    import base64

    svg = f"<svg><text>{CPR_DASH}</text></svg>".encode()
    (tmp_path / "r.html").write_text(
        f'<img src="data:image/svg+xml;base64,{base64.b64encode(svg).decode()}"/>'
    )
    (tmp_path / f"export_{CPR}.csv").write_text("a\n1\n")
    hits = scan(tmp_path)
    assert set(hits["kind"]) == {"cpr"}
    assert len(hits) == 2
    _no_value(hits, CPR, CPR_DASH)
    assert "[cpr]" in " ".join(hits["file"])


def test_pseudonyms_are_whole_tokens(tmp_path):
    (tmp_path / "a.txt").write_text(f"x{PSEUDO}y\nid {PSEUDO.upper()}\n")
    hits = scan(tmp_path, pseudonyms={PSEUDO})
    assert hits["location"].tolist() == ["line 2"]


def test_unreadable_files_are_findings(tmp_path):
    (tmp_path / "broken.xlsx").write_bytes(b"not a zip")
    (tmp_path / "img.png").write_bytes(b"\x89PNG\x00" + CPR.encode())
    hits = scan(tmp_path)
    assert hits["kind"].tolist() == ["unreadable"]


def test_broken_word_and_pdf_files_are_findings(tmp_path):
    (tmp_path / "r.docx").write_bytes(b"PK\x00\x00 not a zip")
    (tmp_path / "r.pdf").write_bytes(b"%PDF-1.4\x00 truncated")
    hits = scan(tmp_path)
    assert sorted(Path(f).name for f in hits["file"]) == ["r.docx", "r.pdf"]
    assert set(hits["kind"]) == {"unreadable"}


def test_cli_scan_exit_codes(tmp_path, capsys):
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "t.csv").write_text("team,n\nA,12\n")
    assert main(["scan", str(clean)]) == 0
    dirty = tmp_path / "dirty"
    _write_outputs(dirty)
    ps = tmp_path / "pseudonyms.txt"
    ps.write_text(PSEUDO + "\n")
    assert main(["scan", str(dirty), "--pseudonyms", str(ps)]) == 1
    out = capsys.readouterr()
    assert "quarantine.csv: line 2: cpr" in out.out
    for v in (CPR, CPR_DASH, PSEUDO):
        assert v not in out.out + out.err
    assert main(["scan", str(tmp_path / "missing")]) == 2


def test_gate_refuses_cpr_labels_without_echoing_them(caplog):
    df = pd.DataFrame({"team": ["A", CPR], "n": [6, 7]})
    with caplog.at_level(logging.DEBUG), warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with pytest.raises(DisclosureError) as exc:
            Gate().release().table("t", df, by=["team"], counts=["n"])
    msg = str(exc.value)
    assert "row 1" in msg and "'team'" in msg
    for text in [msg, caplog.text, *(str(x.message) for x in w)]:
        assert CPR not in text
    free = pd.DataFrame({"team": ["A"], "note": [f"see {CPR_DASH}"], "n": [6]})
    with pytest.raises(DisclosureError) as exc:
        Gate().release().table("t", free, by=["team"], counts=["n"])
    assert CPR_DASH not in str(exc.value)


def test_gate_errors_never_carry_values(caplog):
    df = pd.DataFrame({"team": ["A", "B"], "n": [6.5, 7]})
    with caplog.at_level(logging.DEBUG), pytest.raises(DisclosureError) as exc:
        _ = Gate().release().table("t", df, by=["team"], counts=["n"]).data
    assert "6.5" not in str(exc.value) and "row 0" in str(exc.value)
    assert "6.5" not in caplog.text


def test_gate_refuses_individual_rows_without_echoing_them():
    df = pd.DataFrame({"n": [6, 7]}, index=pd.Index([CPR, "x"], name="row_id"))
    with pytest.raises(DisclosureError) as exc:
        Gate().release().table("t", df, counts=["n"])
    assert CPR not in str(exc.value) and "row 0" in str(exc.value)
    pid = pd.DataFrame({"n": [6, 7]}, index=pd.Index([PSEUDO, "y"], name="participant_id"))
    with pytest.raises(DisclosureError) as exc:
        Gate().release().table("t", pid, counts=["n"])
    assert PSEUDO not in str(exc.value)


def test_redact():
    assert redact(f"a {CPR} b {CPR_DASH}") == "a [cpr] b [cpr]"


def test_scan_finds_the_pseudonym_key(tmp_path):
    import secrets

    key = secrets.token_hex(32)
    keyfile = tmp_path / "k" / "pseudonym.key"
    keyfile.parent.mkdir()
    keyfile.write_text(key + "\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"key": key[10:40]}))
    (out / "ok.txt").write_text("nothing here\n")
    hits = scan(out, key=keyfile)
    assert hits[["location", "kind"]].values.tolist() == [["line 1", "key"]]
    _no_value(hits, key, key[10:40])
    assert main(["scan", str(out), "--key", str(keyfile)]) == 1


def test_cpr_that_lost_its_leading_zero_in_a_number_column(tmp_path):
    # spreadsheets and data frames store 0101901234 as the number 101901234
    pd.DataFrame({"team": ["A"], "id": [101901234]}).to_excel(tmp_path / "n.xlsx", index=False)
    pd.DataFrame({"team": ["A"], "id": [101901234.0]}).to_csv(tmp_path / "n.csv", index=False)
    pd.DataFrame({"team": ["A"], "id": [101901234]}).to_parquet(tmp_path / "n.parquet")
    (tmp_path / "ok.csv").write_text("team,n\nA,123456789\n")  # not a date when padded
    hits = scan(tmp_path)
    assert sorted(Path(f).name for f in hits["file"]) == ["n.csv", "n.parquet", "n.xlsx"]
    assert set(hits["kind"]) == {"cpr"}
    _no_value(hits, "101901234")


# -- issue 15: a CPR after any separator, in every encoding we write ----------------------

SEPARATORS = [",", ";", "\t", "|", " ", "=", ":", "/", "_", "-"]
QUOTES = ["", '"', "'", "“", "«", "`"]
ENCODINGS = ["utf-8", "utf-8-sig", "cp1252", "utf-16", "utf-16-le"]


@pytest.mark.parametrize("sep", SEPARATORS)
@pytest.mark.parametrize("quote", QUOTES)
@pytest.mark.parametrize(
    "cpr",
    [CPR, CPR_DASH, "240386 1234", "240386\u00a01234", "240386\u20131234", "240386\u22121234"],
)
def test_cpr_after_a_field_ending_in_a_digit(sep, quote, cpr):
    # "ISH-1,240386-1234": the comma after a digit used to be read as a decimal point
    line = f"ISH-1{sep}{quote}{cpr}{quote}{sep}7"
    assert contains_cpr(line)
    assert cpr not in redact_cpr(line) and redact_cpr(line).count("[cpr]") == 1


@pytest.mark.parametrize(
    "text",
    [
        f"<td>{CPR}</td>",
        f'{{"team":"{CPR_DASH}"}}',
        f"status_{CPR_DASH}.csv",
        f"Hold 3 ({CPR})",
        f"x=1.{CPR_DASH}",  # a decimal fraction never holds a dash
        f"n;2,{CPR}",  # Danish decimal comma or CSV field: a false alarm is the safe side
    ],
)
def test_cpr_in_markup_and_names(text):
    assert contains_cpr(text)


@pytest.mark.parametrize("text", ["mean 3.1201851234", "2016-10-03,2016-10-04", "t=1700000000123"])
def test_decimals_and_dates_still_rejected(text):
    assert not contains_cpr(text)


def test_nine_digit_whole_field_is_a_cpr_that_lost_its_zero():
    assert contains_cpr("101901234", field=True)
    assert contains_cpr(' "101901234.0" ', field=True)
    assert not contains_cpr("101901234")  # inside running text: not padded
    assert not contains_cpr("123456789", field=True)  # no date when padded


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_scan_reads_every_encoding_and_separator(tmp_path, encoding, sep):
    rows = [["Hold", "Kommune", "Note"], ["ISH-1", "Ærø", f"{CPR_DASH}"], ["2", "Ø", "ok"]]
    text = "\r\n".join(sep.join(r) for r in rows) + "\r\n"
    (tmp_path / "q.csv").write_bytes(text.encode(encoding))
    # the CPR directly after a field ending in a digit
    (tmp_path / "r.csv").write_bytes(f"a{sep}b\r\nISH-1{sep}{CPR}\r\n".encode(encoding))
    hits = scan(tmp_path)
    assert sorted(zip(hits["file"].map(lambda f: Path(f).name), hits["location"], strict=True)) == [
        ("q.csv", "line 2"),
        ("r.csv", "line 2"),
    ]
    _no_value(hits, CPR, CPR_DASH)


def test_utf16_without_bom_is_text_and_binary_stays_skipped(tmp_path):
    (tmp_path / "a.txt").write_bytes(f"note {CPR}\n".encode("utf-16-le"))
    (tmp_path / "b.bin").write_bytes(b"\x00\x01\x02" + CPR.encode() + b"\x00\xff")
    hits = scan(tmp_path)
    assert [Path(f).name for f in hits["file"]] == ["a.txt"]
