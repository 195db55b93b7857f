"""Word, PDF and the workbook carry what the HTML report shows (issue 16 §8).

The sample report is written once in all three formats; the HTML tables (display values
with their suppression symbols) are the reference every other output is read back against.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

import envejind_eval as ee
from envejind_eval.cli import main
from envejind_eval.disclosure.scan import scan
from envejind_eval.errors import EnvejindError
from envejind_eval.report.build import build_report
from envejind_eval.report.document import DocSection, ReportDoc
from envejind_eval.report.docx_out import write_docx
from envejind_eval.report.model import Para, Table
from envejind_eval.report.pdf_out import write_pdf

TEST_KEY = "0123456789abcdef" * 4
CPR = "0101901234"  # date-valid, fictitious


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVEJIND_PSEUDONYM_KEY", TEST_KEY)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("formats") / "sample"
    build_report(
        ee.sample_path() / "canonical",
        out,
        quiet=True,
        n_boot=0,
        formats="html,docx,pdf",
    )
    return out


class _HTMLTables(HTMLParser):
    """Section titles, table captions and cells (text, numeric?) of the report's HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.tables: list[dict] = []
        self.images = 0
        self._in: str | None = None
        self._buf = ""
        self._num = False
        self._caption = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "h2" or tag == "figcaption" or tag in ("td", "th"):
            self._in, self._buf = tag, ""
            self._num = "num" in (a.get("class") or "")
        if tag == "table":  # its <figcaption> came just before it
            self.tables.append({"caption": self._caption, "rows": []})
        if tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        if tag == "img":
            self.images += 1

    def handle_data(self, data):
        if self._in:
            self._buf += data

    def handle_endtag(self, tag):
        if tag != self._in:
            return
        text = self._buf.strip()
        if tag == "h2":
            self.sections.append(text)
        elif tag == "figcaption":
            self._caption = text
        elif tag in ("td", "th"):
            self.tables[-1]["rows"][-1].append((text, self._num))
        self._in = None


@pytest.fixture(scope="module")
def html(report: Path) -> _HTMLTables:
    p = _HTMLTables()
    p.feed((report / "index.html").read_text(encoding="utf-8"))
    # the table of contents repeats the section titles in an h2 ("Indhold"): drop it
    p.sections = [s for s in p.sections if re.match(r"\d+\. ", s)]
    assert len(p.tables) >= 15 and p.images >= 5
    return p


#: Tables whose columns hold pre-formatted text (a share on one row, a clock time on the
#: next): the workbook keeps the report's text there.
PRE_FORMATTED = {"Døgnrytme: ankomst i første og sidste uger"}


def _is_mark(s: str) -> bool:
    return s == ".." or bool(re.fullmatch(r"<\d+", s))


def _parse_display(s: str) -> float:
    """A Danish display value back to a number (what the spreadsheet cell must hold)."""
    s = s.replace("−", "-").replace("\xa0", " ").strip()
    if re.fullmatch(r"\d{1,2}:\d\d", s):
        h, m = s.split(":")
        return (int(h) * 60 + int(m)) / 1440
    scale = 1.0
    if s.endswith(" %"):
        s, scale = s[:-2], 0.01
    s = s.removesuffix(" min").removeprefix("< ")
    return float(s.replace(".", "").replace(",", ".")) * scale


def test_html_is_still_written_by_default(tmp_path: Path) -> None:
    res = build_report(
        ee.sample_path() / "canonical", tmp_path / "r", quiet=True, n_boot=0, figures=False
    )
    files = {p.name for p in res.out.iterdir() if p.is_file()}
    assert {"index.html", "tables.xlsx"} <= files
    assert not files & {"report.docx", "report.pdf"}
    assert res.manifest["parameters"]["formats"] == ["html"]


def test_docx_has_the_html_sections_tables_and_figures(report: Path, html) -> None:
    import docx

    d = docx.Document(str(report / "report.docx"))
    heads = [p.text for p in d.paragraphs if p.style.name == "Heading 1"]
    assert [h for h in heads if re.match(r"\d+\. ", h)] == html.sections
    captions = [p.text for p in d.paragraphs if p.style.name == "Caption"]
    assert len(d.tables) == len(html.tables)
    for t_doc, t_html in zip(d.tables, html.tables, strict=True):
        assert t_html["caption"] in captions
        got = [[c.text for c in row.cells] for row in t_doc.rows]
        want = [[v for v, _ in row] for row in t_html["rows"]]
        assert got == want, t_html["caption"]  # every display value, symbols included
    assert len(d.inline_shapes) == html.images
    lang = d.styles["Normal"].element.rPr.xpath("./w:lang/@w:val")
    assert lang == ["da-DK"]


def test_xlsx_has_report_headers_rounded_numbers_and_empty_suppressed_cells(
    report: Path, html
) -> None:
    import openpyxl

    wb = openpyxl.load_workbook(report / "tables.xlsx")
    notes = wb.worksheets[0]
    assert notes.title == "Noter"
    note_rows = [tuple(c.value for c in r) for r in notes.iter_rows()]
    assert any("<5: færre end 5 personer" in str(r[0]) for r in note_rows)
    listed = {(r[0], r[1]): r[2] for r in note_rows if r[1] and re.fullmatch(r"[A-Z]+\d+", r[1])}
    n_numbers = n_marks = 0
    for k, t in enumerate(html.tables, start=1):
        ws = wb[f"Tabel {k}"]
        assert ws["A1"].value == t["caption"]
        header, *body = t["rows"]
        assert [ws.cell(2, j + 1).value for j in range(len(header))] == [v for v, _ in header]
        for i, row in enumerate(body):
            for j, (shown, numeric) in enumerate(row):
                cell = ws.cell(3 + i, j + 1)
                where = f"{ws.title}!{cell.coordinate} {shown!r}"
                if _is_mark(shown):
                    assert cell.value is None, where
                    assert listed[(ws.title, cell.coordinate)] == shown, where
                    n_marks += 1
                elif shown == "–":
                    assert cell.value is None, where
                elif numeric and isinstance(cell.value, str):
                    assert t["caption"].split(". ", 1)[1] in PRE_FORMATTED, where
                    assert cell.value == shown, where
                elif numeric:
                    assert isinstance(cell.value, (int, float)), where  # a number, not text
                    want = _parse_display(shown)
                    if shown.startswith("< "):
                        assert 0 <= cell.value < want, where
                    else:
                        assert cell.value == pytest.approx(want, abs=1e-9), where
                    n_numbers += 1
                else:
                    assert cell.value == shown, where
    assert n_numbers > 200 and n_marks > 20
    # the sheet of a table the report does not show (CSV-only) keeps the report's labels
    extra = [ws for ws in wb.worksheets[1:] if not ws.title.startswith("Tabel ")]
    assert extra and all(ws.cell(2, 1).value for ws in extra)


def test_csv_keeps_snake_case_columns(report: Path) -> None:
    df = pd.read_csv(report / "tables" / "flow_municipality.csv", dtype=str)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", c) for c in df.columns)


def test_pdf_has_sections_in_order_and_every_table_value(report: Path, html) -> None:
    from pypdf import PdfReader

    r = PdfReader(report / "report.pdf")
    outline = [(o.title, r.get_destination_page_number(o)) for o in r.outline]
    assert [t for t, _ in outline] == html.sections
    pages = [p for _, p in outline]
    assert pages == sorted(pages) and pages[0] == 1  # contents on page 1, then the sections
    assert len(r.pages) >= pages[-1] + 1
    texts = [re.sub(r"\s+", " ", p.extract_text()) for p in r.pages]
    # the contents page lists each section with the page it starts on (1-based)
    for title, page in outline:
        assert re.search(re.escape(title) + r"[ .]*" + str(page + 1), texts[0]), title
    body = " ".join(texts)
    missing = [
        (t["caption"], v)
        for t in html.tables
        for row in t["rows"][1:]
        for v, numeric in row
        if numeric and v not in body
    ]
    assert not missing, missing[:5]  # a number never wraps inside its cell
    assert all(t["caption"] in body for t in html.tables)
    # a header may wrap between its words, never inside one
    headers = [v for t in html.tables for v, _ in t["rows"][0]]
    assert [h for h in headers if h not in body] == []


def test_cli_format_option(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    canonical = str(ee.sample_path() / "canonical")
    out = tmp_path / "r"
    args = ["report", canonical, "--out", str(out), "--quiet", "--min-cell", "5"]
    (tmp_path / "c.toml").write_text("[report]\nn_boot = 0\nfigures = false\n")
    rc = main([*args, "--format", "docx", "--config", str(tmp_path / "c.toml")])
    assert rc in (0, 1)
    assert (out / "report.docx").is_file() and not (out / "index.html").exists()
    rc = main([*args, "--format", "html,odt", "--config", str(tmp_path / "c.toml")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "--format" in err and "odt" in err and "Traceback" not in err
    with pytest.raises(EnvejindError, match="--format"):
        build_report(canonical, tmp_path / "x", formats="", quiet=True)


def _small_doc(text: str) -> ReportDoc:
    t = Table(
        "t",
        "Antal",
        pd.DataFrame({"g": ["A", "I alt"], "n": [3, 12]}),
        formats={"n": "int"},
        labels={"g": "Gruppe", "n": "Antal"},
    )
    t.suppressed = pd.DataFrame({"g": [False, False], "n": [True, False]})
    t.marks = pd.DataFrame({"g": ["", ""], "n": ["<5", ""]})
    return ReportDoc(
        lang="da",
        min_cell=5,
        title="Evaluering",
        subtitle="Prøve",
        sections=[DocSection("a", "Første", [Para(text), t])],
        pngs={},
        footnote="<5: færre end 5 personer.",
        footer="Dannet",
        labels={"table": "Tabel", "figure": "Figur", "toc": "Indhold"},
        created=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )


def test_docx_and_pdf_are_byte_identical_for_the_same_report(tmp_path: Path) -> None:
    doc = _small_doc("Ingen **tal** her.")
    for write, ext in ((write_docx, "docx"), (write_pdf, "pdf")):
        write(doc, tmp_path / f"a.{ext}")
        write(doc, tmp_path / f"b.{ext}")
        a, b = (tmp_path / f"a.{ext}").read_bytes(), (tmp_path / f"b.{ext}").read_bytes()
        assert a == b, ext
    assert scan(tmp_path).empty  # our own Word and PDF files read clean (not "unreadable")


def test_scan_finds_a_cpr_in_our_docx_and_pdf(tmp_path: Path) -> None:
    # Word may split a number over runs: the scan joins a paragraph's runs
    doc = _small_doc(f"Sag **{CPR[:4]}**{CPR[4:]} er med.")
    write_docx(doc, tmp_path / "r.docx")
    write_pdf(doc, tmp_path / "r.pdf")
    hits = scan(tmp_path)
    assert set(hits["kind"]) == {"cpr"}
    assert {Path(f).suffix for f in hits["file"]} == {".docx", ".pdf"}
    assert CPR not in " ".join(hits["location"])


def test_scan_finds_a_cpr_outside_the_page_text_of_a_pdf(tmp_path: Path) -> None:
    doc = _small_doc("Ren tekst.")
    doc.subtitle = f"Sag {CPR}"  # goes into the PDF title (metadata) and onto page 1
    write_pdf(doc, tmp_path / "r.pdf")
    locs = scan(tmp_path)["location"].tolist()
    assert any(loc.startswith("page 1") for loc in locs)
    assert any(loc.startswith("text string") for loc in locs)  # the /Title metadata
