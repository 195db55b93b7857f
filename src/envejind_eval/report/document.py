"""The finished report of one scope, independent of the output format.

The run narrates every section once into blocks (paragraphs, headings, gated tables,
figures) and collects them in a :class:`ReportDoc`. HTML (``render.py``), Word
(``docx_out.py``), PDF (``pdf_out.py``) and the workbook (``xlsx_out.py``) are all written
from it through :func:`layout`, so every format has the same sections, the same table and
figure numbers and the same displayed values (suppression symbols included).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

from envejind_eval.report.fmt import Lang
from envejind_eval.report.model import Block, Figure, Heading, Para, Table
from envejind_eval.report.texts import TEXTS

FORMATS: tuple[str, ...] = ("html", "docx", "pdf")
#: A row whose first cell reads "I alt" / "Total" is a margin row (printed bold).
TOTAL_LABELS = frozenset(TEXTS["total"].values())


@dataclass
class DocSection:
    id: str
    title: str
    blocks: list[Block]


@dataclass
class ReportDoc:
    """Everything a writer needs: texts are already in the report's language."""

    lang: Lang
    min_cell: int
    title: str
    subtitle: str
    sections: list[DocSection]
    pngs: dict[str, bytes]  # figure name -> PNG (figures without one are left out)
    footnote: str  # the suppression symbols, explained
    footer: str
    labels: dict[str, str]  # "table", "figure", "toc" -> word in the report's language
    nav: list[tuple[str, str]] = field(default_factory=list)  # (href, label) of other reports
    created: datetime | None = None  # stamped into the Word/PDF metadata
    _items: list[tuple[int, DocSection, list[Item]]] | None = field(
        default=None, repr=False, compare=False
    )


@dataclass
class TableItem:
    table: Table
    number: int
    caption: str  # "Tabel 3. Title"
    frame: pd.DataFrame  # display strings, labelled columns
    numeric: list[bool]  # per displayed column: right-aligned number
    total_rows: list[bool]  # per row: a margin ("I alt") row

    @property
    def note(self) -> str:
        return self.table.caption


@dataclass
class FigureItem:
    figure: Figure
    number: int
    caption: str  # "Figur 2. Title"
    png: bytes

    @property
    def note(self) -> str:
        return self.figure.caption


Item = Para | Heading | TableItem | FigureItem


def layout(
    blocks: Sequence[Block],
    *,
    pngs: dict[str, bytes],
    counters: dict[str, int],
    lang: Lang,
    min_cell: int,
    labels: dict[str, str],
) -> Iterator[Item]:
    """Blocks as numbered items. ``counters`` carries the table and figure numbers across
    sections; a figure that was not drawn gets no number."""
    from envejind_eval.report.render import display_frame

    for b in blocks:
        if isinstance(b, (Para, Heading)):
            yield b
        elif isinstance(b, Table):
            counters["table"] += 1
            frame = display_frame(b, lang, min_cell)
            shown = [c for c in b.data.columns if c in b.labels]
            first = frame.iloc[:, 0].astype(str) if shown else pd.Series("", index=frame.index)
            yield TableItem(
                b,
                counters["table"],
                f"{labels['table']} {counters['table']}. {b.title}",
                frame,
                [b.formats.get(c, "text") != "text" for c in shown],
                first.isin(TOTAL_LABELS).tolist(),
            )
        elif isinstance(b, Figure) and b.name in pngs:
            counters["figure"] += 1
            number = counters["figure"]
            yield FigureItem(b, number, f"{labels['figure']} {number}. {b.title}", pngs[b.name])


def doc_items(doc: ReportDoc) -> Iterator[tuple[int, DocSection, list[Item]]]:
    """(section number, section, items) in report order, numbered as in the HTML. Laid out
    once per document: every format reuses the display values."""
    if doc._items is None:
        counters = {"table": 0, "figure": 0}
        items = []
        for k, sec in enumerate(doc.sections, start=1):
            laid = layout(
                sec.blocks,
                pngs=doc.pngs,
                counters=counters,
                lang=doc.lang,
                min_cell=doc.min_cell,
                labels=doc.labels,
            )
            items.append((k, sec, list(laid)))
        doc._items = items
    yield from doc._items


def split_bold(text: str) -> list[tuple[str, bool]]:
    """``"a **b** c"`` -> ``[("a ", False), ("b", True), (" c", False)]``."""
    from envejind_eval.report.render import BOLD

    out, pos = [], 0
    for m in BOLD.finditer(text):
        if m.start() > pos:
            out.append((text[pos : m.start()], False))
        out.append((m.group(1), True))
        pos = m.end()
    if pos < len(text):
        out.append((text[pos:], False))
    return out


def write(doc: ReportDoc, folder: str | Path, formats: Sequence[str]) -> list[str]:
    """Write ``doc`` in each of ``formats`` into ``folder``; returns the file names."""
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    names = []
    for f in formats:
        if f == "html":
            from envejind_eval.report.render import html_document

            (d / "index.html").write_text(html_document(doc), encoding="utf-8")
            names.append("index.html")
        elif f == "docx":
            from envejind_eval.report.docx_out import write_docx

            write_docx(doc, d / "report.docx")
            names.append("report.docx")
        elif f == "pdf":
            from envejind_eval.report.pdf_out import write_pdf

            write_pdf(doc, d / "report.pdf")
            names.append("report.pdf")
        else:
            raise ValueError(f"Expecting formats from {', '.join(FORMATS)}; got '{f}'")
    return names


def parse_formats(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"html,docx"`` or ``["pdf"]`` -> ``("html", "docx")``; the default is HTML only."""
    from envejind_eval.errors import EnvejindError

    if value is None:
        return ("html",)
    parts = value.split(",") if isinstance(value, str) else list(value)
    out = tuple(dict.fromkeys(p.strip().lower() for p in parts if str(p).strip()))
    bad = [p for p in out if p not in FORMATS]
    if bad or not out:
        raise EnvejindError(
            f"--format: expecting a comma list of {', '.join(FORMATS)}; "
            f"got '{', '.join(bad) if bad else value}'"
        )
    return out
