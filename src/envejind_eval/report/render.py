"""HTML rendering: one self-contained page (inline CSS, figures as base64 PNG, no scripts,
no external requests) with a table of contents."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import pandas as pd

from envejind_eval.report import fmt
from envejind_eval.report.document import (
    FigureItem,
    Item,
    ReportDoc,
    TableItem,
    doc_items,
    layout,
)
from envejind_eval.report.model import Block, Heading, Para, Table
from envejind_eval.report.texts import text

FORMATS = ("int", "num1", "num2", "lim2", "pct", "p", "text")


def format_value(v: Any, kind: str, lang: fmt.Lang) -> str:
    if kind == "int":
        return fmt.integer(v, lang)
    if kind == "num1":
        return fmt.num(v, lang, 1)
    if kind == "num2":
        return fmt.num(v, lang, 2)
    if kind == "lim2":  # an interval limit
        return fmt.limit(v, lang, 2)
    if kind == "pct":
        return fmt.pct(v, lang)
    if kind == "p":
        return fmt.p_value(v, lang)
    if kind == "ptext":
        return fmt.p_text(v, lang)
    if kind == "clock":
        return fmt.clock(v)
    if kind == "minutes":
        return fmt.minutes(v, lang)
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return "–"
    return str(v)


def display_frame(t: Table, lang: fmt.Lang, min_cell: int) -> pd.DataFrame:
    """The table as presentation strings: labelled columns only, suppressed cells as the
    gate's symbols (``<5`` for counts only, ``..`` otherwise; ``..`` when none were given)."""
    cols = [c for c in t.data.columns if c in t.labels]
    out = pd.DataFrame(index=t.data.index)
    for c in cols:
        kind = t.formats.get(c, "text")
        s = t.data[c].map(lambda v, k=kind: format_value(v, k, lang))
        if t.suppressed is not None and c in t.suppressed.columns:
            hide = t.suppressed[c].astype(bool)
            mark = t.marks[c] if t.marks is not None else pd.Series("..", index=s.index)
            s = s.where(~hide, mark.astype(str))
        out[t.labels[c]] = s.astype(object)
    return out


BOLD = re.compile(r"\*\*(.+?)\*\*")


def para_html(text: str) -> str:
    return "<p>" + BOLD.sub(r"<strong>\1</strong>", html.escape(text)) + "</p>"


def table_html(item: TableItem) -> str:
    d = item.frame
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in d.columns)
    body = []
    for row, total in zip(d.itertuples(index=False), item.total_rows, strict=True):
        cls = ' class="total"' if total else ""
        cells = "".join(
            f'<td class="num">{html.escape(str(v))}</td>'
            if isnum
            else f"<td>{html.escape(str(v))}</td>"
            for v, isnum in zip(row, item.numeric, strict=True)
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    note = f'<p class="caption">{html.escape(item.note)}</p>' if item.note else ""
    return (
        f'<figure class="table" id="tab-{item.table.name}">'
        f"<figcaption>{html.escape(item.caption)}</figcaption>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{note}"
        "</figure>"
    )


def figure_html(item: FigureItem) -> str:
    f = item.figure
    b64 = base64.b64encode(item.png).decode("ascii")
    alt = html.escape(f.alt or f.title)
    note = f'<p class="caption">{html.escape(item.note)}</p>' if item.note else ""
    return (
        f'<figure class="figure" id="fig-{f.name}"><img src="data:image/png;base64,{b64}" '
        f'alt="{alt}"><figcaption>{html.escape(item.caption)}</figcaption>{note}</figure>'
    )


@dataclass
class RenderedSection:
    id: str
    title: str
    html: str


def items_html(items: Iterable[Item]) -> str:
    parts = []
    for it in items:
        if isinstance(it, Para):
            parts.append(para_html(it.text))
        elif isinstance(it, Heading):
            parts.append(f"<h3>{html.escape(it.text)}</h3>")
        elif isinstance(it, TableItem):
            parts.append(table_html(it))
        elif isinstance(it, FigureItem):
            parts.append(figure_html(it))
    return "\n".join(parts)


def section_html(
    blocks: Sequence[Block],
    *,
    pngs: dict[str, bytes],
    counters: dict[str, int],
    lang: fmt.Lang,
    min_cell: int,
    labels: dict[str, str],
) -> str:
    return items_html(
        layout(blocks, pngs=pngs, counters=counters, lang=lang, min_cell=min_cell, labels=labels)
    )


def html_document(doc: ReportDoc) -> str:
    """The self-contained HTML page of a report."""
    return page(
        title=doc.title,
        subtitle=doc.subtitle,
        sections=[RenderedSection(s.id, s.title, items_html(it)) for _, s, it in doc_items(doc)],
        footer=doc.footer,
        footnote=doc.footnote,
        lang=doc.lang,
        nav=doc.nav,
    )


def page(
    *,
    title: str,
    subtitle: str,
    sections: Sequence[RenderedSection],
    footer: str,
    footnote: str,
    lang: str,
    nav: Sequence[tuple[str, str]] = (),
) -> str:
    """The whole page from the Jinja2 template ``templates/report.html.j2``."""
    import jinja2

    src = resources.files("envejind_eval.report").joinpath("templates/report.html.j2")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    tpl = env.from_string(src.read_text(encoding="utf-8"))
    return tpl.render(
        title=title,
        subtitle=subtitle,
        sections=[
            {"id": s.id, "title": s.title, "html": jinja2.utils.markupsafe.Markup(s.html)}
            for s in sections
        ],
        footer=footer,
        footnote=footnote,
        lang=lang,
        nav=nav,
        toc_label=text("toc", lang),
        nav_label=text("nav_reports", lang),
    )
