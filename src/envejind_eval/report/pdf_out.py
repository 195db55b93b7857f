"""``report.pdf``: the report as a PDF (fpdf2).

fpdf2 is pure Python and installs from PyPI alone (its dependencies are Pillow, fontTools
and defusedxml, all wheels): no system libraries such as pango/cairo (WeasyPrint) and no
HTML-to-PDF guesswork. The PDF is built from the same
:class:`~envejind_eval.report.document.ReportDoc` as the HTML: numbered sections (each a PDF
bookmark, listed with page numbers in the contents), paragraphs, gated tables with their
display values and suppression symbols, and the report's PNG figures. Text is set in
DejaVu Sans, which ships with matplotlib, embedded as a subset with a Unicode map, so the
PDF shows æøå and the minus sign everywhere and its text can be extracted (the leak scan
reads it).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from envejind_eval.report.document import FigureItem, ReportDoc, TableItem, doc_items, split_bold
from envejind_eval.report.model import Heading, Para

FONT = "DejaVu"
MARGIN = 25.0  # mm, as the Word version: a 160 mm text width, the figures' width
LINE = 5.0  # mm per line of body text
PAD = 1.2  # mm left and right of a table cell's text


def _font_files() -> dict[str, Path]:
    import matplotlib

    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return {
        "": ttf / "DejaVuSans.ttf",
        "B": ttf / "DejaVuSans-Bold.ttf",
        "I": ttf / "DejaVuSans-Oblique.ttf",
    }


def write_pdf(doc: ReportDoc, path: str | Path) -> None:
    """Write ``doc`` as an A4 PDF (byte-identical for the same ``doc``)."""
    from fpdf import FPDF
    from fpdf.outline import TableOfContents

    class _PDF(FPDF):
        def footer(self) -> None:  # page number at the bottom of every page
            self.set_y(-15)
            self.set_font(FONT, "", 8)
            self.cell(0, 10, str(self.page_no()), align="C")

    pdf = _PDF(format="A4", unit="mm")
    for style, f in _font_files().items():
        pdf.add_font(FONT, style, str(f))
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, margin=MARGIN)
    pdf.set_lang(doc.lang)
    pdf.set_title(f"{doc.title} – {doc.subtitle}")
    pdf.set_author("envejind_eval")
    pdf.set_creator("envejind_eval")
    if doc.created is not None:
        pdf.set_creation_date(doc.created)
    pdf.add_page()

    pdf.set_font(FONT, "B", 20)
    pdf.multi_cell(0, 10, doc.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 12)
    pdf.multi_cell(0, 7, doc.subtitle, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font(FONT, "B", 13)
    pdf.cell(0, 8, doc.labels["toc"], new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 10)
    pdf.insert_toc_placeholder(TableOfContents().render_toc, pages=1)

    for k, sec, items in doc_items(doc):
        if k > 1:
            pdf.ln(4)
        _room(pdf, 30)
        title = f"{k}. {sec.title}"
        pdf.start_section(title, level=0)
        pdf.set_font(FONT, "B", 14)
        pdf.multi_cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
        for it in items:
            if isinstance(it, Para):
                _para(pdf, it.text)
            elif isinstance(it, Heading):
                _room(pdf, 20)
                pdf.set_font(FONT, "B", 11)
                pdf.multi_cell(0, 6, it.text, new_x="LMARGIN", new_y="NEXT")
            elif isinstance(it, TableItem):
                _table(pdf, it)
            elif isinstance(it, FigureItem):
                _figure(pdf, it)

    pdf.ln(4)
    _caption(pdf, doc.footnote)
    _caption(pdf, doc.footer)
    Path(path).write_bytes(bytes(pdf.output()))


def _room(pdf: Any, mm: float) -> None:
    """Start a new page unless ``mm`` of height are left (keeps captions with content)."""
    if pdf.get_y() + mm > pdf.h - pdf.b_margin:
        pdf.add_page()


def _para(pdf: Any, text: str) -> None:
    for piece, bold in split_bold(text):
        pdf.set_font(FONT, "B" if bold else "", 10)
        pdf.write(LINE, piece)
    pdf.ln(LINE)
    pdf.ln(2)


def _caption(pdf: Any, text: str, bold: bool = False) -> None:
    pdf.set_font(FONT, "B" if bold else "I", 9 if bold else 8)
    pdf.multi_cell(0, 4.2, text, new_x="LMARGIN", new_y="NEXT")


def _table(pdf: Any, it: TableItem) -> None:
    from fpdf.fonts import FontFace

    frame = it.frame
    _room(pdf, 25)
    pdf.ln(1)
    _caption(pdf, it.caption, bold=True)
    pdf.ln(1)
    pdf.set_font(FONT, "", 8)
    header = [str(c) for c in frame.columns]
    body = [[str(v) for v in r] for r in frame.itertuples(index=False)]
    widths = _col_widths(pdf, header, body, it.numeric)
    bold = FontFace(emphasis="BOLD")
    with pdf.table(
        width=sum(widths),
        align="LEFT",
        col_widths=widths,
        text_align=["RIGHT" if n else "LEFT" for n in it.numeric],
        headings_style=FontFace(emphasis="BOLD", fill_color=(235, 235, 235)),
        line_height=3.8,
        padding=(0.8, PAD),
        repeat_headings=1,
    ) as table:
        head = table.row()
        for h in header:
            head.cell(h, align="LEFT")
        for values, total in zip(body, it.total_rows, strict=True):
            row = table.row(style=bold if total else None)
            for v in values:
                row.cell(v)
    pdf.ln(1)
    if it.note:
        _caption(pdf, it.note)
    pdf.ln(2)


def _col_widths(
    pdf: Any, header: list[str], body: list[list[str]], numeric: list[bool]
) -> list[float]:
    """Column widths in mm: a number never wraps (its column is as wide as its widest
    value); when the table is wider than the text, the text columns give way, but none
    narrower than its longest word."""
    pdf.set_font(FONT, "B", 8)  # the widest case: bold (header, total rows)
    extra = 2 * PAD + 0.5

    def widest(texts: list[str]) -> float:
        return max([pdf.get_string_width(t) for t in texts] + [0.0]) + extra

    cols = [[r[j] for r in body] for j in range(len(header))]
    head = [widest(h.split()) for h in header]  # the header wraps between words
    need = [max(h, widest(c)) for h, c in zip(head, cols, strict=True)]
    words = [
        max(h, widest([w for v in c for w in v.split()])) for h, c in zip(head, cols, strict=True)
    ]
    floor = [w if n else m for w, m, n in zip(need, words, numeric, strict=True)]
    pdf.set_font(FONT, "", 8)
    if sum(need) <= pdf.epw:
        return need
    slack = sum(need) - sum(floor)
    if sum(floor) < pdf.epw and slack > 0:
        k = (pdf.epw - sum(floor)) / slack
        return [f + (w - f) * k for w, f in zip(need, floor, strict=True)]
    return [w * pdf.epw / sum(need) for w in need]


def _figure(pdf: Any, it: FigureItem) -> None:
    from PIL import Image

    with Image.open(io.BytesIO(it.png)) as im:
        dpi = float(im.info.get("dpi", (96, 96))[0]) or 96.0
        w_px, h_px = im.size
    w = min(w_px / dpi * 25.4, pdf.epw)
    h = w * h_px / w_px
    _room(pdf, h + 12)
    x = pdf.l_margin + (pdf.epw - w) / 2
    pdf.image(io.BytesIO(it.png), x=x, w=w, h=h, alt_text=it.figure.alt or it.figure.title)
    pdf.ln(1)
    _caption(pdf, it.caption, bold=True)
    if it.note:
        _caption(pdf, it.note)
    pdf.ln(2)
