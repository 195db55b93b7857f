"""``report.docx``: the report as a Word document (python-docx).

Written from the same :class:`~envejind_eval.report.document.ReportDoc` as the HTML: the
same numbered sections, paragraphs, gated tables (display values with their suppression
symbols, notes and the symbol footnote) and figures (the report's PNGs). A4 with 2.5 cm
margins, so the figures' 16 cm width fits the text width. The document language is set on
the styles, so Word spell-checks Danish text as Danish.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from envejind_eval.report.document import FigureItem, ReportDoc, TableItem, doc_items, split_bold
from envejind_eval.report.model import Heading, Para

_LANG_TAGS = {"da": "da-DK", "en": "en-GB"}


def write_docx(doc: ReportDoc, path: str | Path) -> None:
    """Write ``doc`` as a Word file (byte-identical for the same ``doc``)."""
    import docx
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.shared import Mm, Pt

    d = docx.Document()
    sec = d.sections[0]
    sec.page_width, sec.page_height = Mm(210), Mm(297)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(sec, side, Mm(25))
    text_width = Mm(210 - 2 * 25)
    _set_language(d, _LANG_TAGS[doc.lang])
    d.styles["Normal"].font.size = Pt(10)

    props = d.core_properties
    props.title = f"{doc.title} – {doc.subtitle}"
    props.language = _LANG_TAGS[doc.lang]
    props.author = props.last_modified_by = "envejind_eval"
    props.comments = ""
    props.revision = 1
    if doc.created is not None:
        props.created = props.modified = doc.created.replace(tzinfo=None)

    d.add_heading(doc.title, level=0)
    d.add_paragraph(doc.subtitle)
    d.add_heading(doc.labels["toc"], level=1)
    for k, s in enumerate(doc.sections, start=1):
        d.add_paragraph(f"{k}. {s.title}")

    for k, s, items in doc_items(doc):
        d.add_heading(f"{k}. {s.title}", level=1)
        for it in items:
            if isinstance(it, Para):
                p = d.add_paragraph()
                for piece, bold in split_bold(it.text):
                    p.add_run(piece).bold = bold
            elif isinstance(it, Heading):
                d.add_heading(it.text, level=2)
            elif isinstance(it, TableItem):
                _table(d, it, WD_TABLE_ALIGNMENT, text_width)
            elif isinstance(it, FigureItem):
                _figure(d, it, text_width)

    d.add_paragraph(doc.footnote, style="Caption")
    d.add_paragraph(doc.footer, style="Caption")
    buf = io.BytesIO()
    d.save(buf)
    _write_stable_zip(buf, Path(path))


def _table(d: Any, it: TableItem, align: Any, text_width: int) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    cap = d.add_paragraph(it.caption, style="Caption")
    cap.paragraph_format.keep_with_next = True
    cap.paragraph_format.space_before = Pt(10)
    frame = it.frame
    tbl = d.add_table(rows=len(frame) + 1, cols=len(frame.columns), style="Table Grid")
    tbl.alignment = align.CENTER
    # the header row repeats on every page the table runs over
    tr_pr = tbl.rows[0]._tr.get_or_add_trPr()
    head = OxmlElement("w:tblHeader")
    head.set(qn("w:val"), "true")
    tr_pr.append(head)
    header = [str(c) for c in frame.columns]
    body = [[str(v) for v in r] for r in frame.itertuples(index=False)]
    # Table.cell(r, j) rebuilds the whole cell grid on every call: read it once
    cells = tbl._cells
    ncol = len(header)
    for r, values in enumerate([header, *body]):
        bold = r == 0 or it.total_rows[r - 1]
        for j, v in enumerate(values):
            p = cells[r * ncol + j].paragraphs[0]
            run = p.add_run(v)
            run.bold = bold
            run.font.size = Pt(8.5)
            if r > 0 and it.numeric[j]:
                p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    tbl.autofit = False
    for j, w in enumerate(_col_widths(header, body, text_width)):
        tbl.columns[j].width = w
        for r in range(len(body) + 1):  # Word reads the cells' widths, LibreOffice the grid's
            cells[r * ncol + j].width = w
    if it.note:
        d.add_paragraph(it.note, style="Caption")
    else:  # keep the next paragraph off the table's bottom line
        d.add_paragraph().paragraph_format.space_after = Pt(0)


def _col_widths(header: list[str], body: list[list[str]], text_width: int) -> list[int]:
    """Column widths (EMU) from the longest cell or header word, scaled down to the text
    width when needed (Word's own fit needs a layout engine python-docx does not have)."""
    from docx.shared import Mm

    # one character at 8.5 pt in a wide font (header words are bold: wider), plus the cell's
    # default margins (2 x 1.9 mm)
    need = [
        max([Mm(2.6) * len(w) for w in h.split()] + [Mm(2.2) * len(r[j]) for r in body]) + Mm(4.2)
        for j, h in enumerate(header)
    ]
    k = min(1.0, text_width / sum(need))
    return [int(w * k) for w in need]


def _figure(d: Any, it: FigureItem, text_width: int) -> None:
    pic = d.add_picture(io.BytesIO(it.png))  # natural size from the PNG's resolution
    if pic.width > text_width:
        pic.height = int(pic.height * text_width / pic.width)
        pic.width = text_width
    d.paragraphs[-1].paragraph_format.keep_with_next = True
    alt = it.figure.alt or it.figure.title
    pic._inline.docPr.set("descr", alt)  # alternative text for screen readers
    d.add_paragraph(it.caption, style="Caption")
    if it.note:
        d.add_paragraph(it.note, style="Caption")


def _set_language(d: Any, tag: str) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    rpr = d.styles["Normal"].element.get_or_add_rPr()
    lang = OxmlElement("w:lang")
    for attr in ("w:val", "w:eastAsia", "w:bidi"):
        lang.set(qn(attr), tag)
    rpr.append(lang)


def _write_stable_zip(buf: io.BytesIO, path: Path) -> None:
    """Rewrite the package with fixed member timestamps: the zip otherwise stamps the
    current time into every member, and the same report would differ byte for byte."""
    with (
        zipfile.ZipFile(buf) as zin,
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zout,
    ):
        for info in zin.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(zi, zin.read(info.filename))
