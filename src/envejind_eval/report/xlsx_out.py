"""``tables.xlsx``: the report's tables for people who work in a spreadsheet.

One sheet per table, named and numbered as in the report (``Tabel 3``), with the report's
title, headers and labels in the report's language. Numbers are real numeric cells rounded
to the precision the report shows (shares as 0.46 formatted ``0 %``, clock times as Excel
times), so they can be summed and charted. A suppressed cell is left empty and shaded; the
first sheet explains the symbols and lists every suppressed cell with its symbol. The CSV
files stay the machine-readable copy (snake_case columns, unrounded values).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from envejind_eval.report.document import TOTAL_LABELS, ReportDoc, TableItem, doc_items
from envejind_eval.report.model import Table

#: Display kind -> (decimals kept, Excel number format). Decimals follow ``report.fmt``.
NUMBER_FORMATS: dict[str, tuple[int, str]] = {
    "int": (0, "#,##0"),
    "num1": (1, "#,##0.0"),
    "num2": (2, "#,##0.00"),
    "lim2": (2, "#,##0.00"),  # an interval limit: keeps its sign (cell_value)
    "pct": (2, "0 %"),  # a share 0-1, shown as a whole percentage like the report
    "p": (3, '[<0.001]"< {}";0.000'),  # {} = 0.001 with the report's decimal mark
    "clock": (0, "h:mm"),  # minutes after midnight -> fraction of a day
    "minutes": (1, '0.0" min"'),
}

_TEXTS = {
    "notes": {"da": "Noter", "en": "Notes"},
    "sheet": {"da": "Ark", "en": "Sheet"},
    "cell": {"da": "Celle", "en": "Cell"},
    "symbol": {"da": "Symbol i rapporten", "en": "Symbol in the report"},
    "title": {"da": "Titel", "en": "Title"},
    "contents": {"da": "Indhold", "en": "Contents"},
    "suppressed": {"da": "Skjulte celler", "en": "Suppressed cells"},
    "none_suppressed": {"da": "Ingen celler er skjult.", "en": "No cell is suppressed."},
    "empty": {
        "da": "En skjult celle er tom og grå; dens symbol står i listen nedenfor. En tom celle "
        "uden gråt har ingen værdi (vist som – i rapporten). Tallene er afrundet som i "
        "rapporten; de uafrundede værdier står i CSV-filerne i mappen tables/.",
        "en": "A suppressed cell is empty and grey; its symbol is given in the list below. An "
        "empty cell that is not grey has no value (shown as – in the report). Numbers are "
        "rounded as in the report; the unrounded values are in the CSV files in tables/.",
    },
}
_GREY = "D9D9D9"


def _t(key: str, lang: str) -> str:
    return _TEXTS[key][lang]


def cell_value(v: Any, kind: str) -> Any:
    """The numeric cell for a value displayed as ``kind`` (None when missing)."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return None
    digits, _ = NUMBER_FORMATS[kind]
    x = float(v)
    if kind == "clock":
        return round(x) / 1440
    if kind == "p" and x < 0.001:
        return float(f"{x:.1g}")  # shown as "< 0.001"; keep its order of magnitude
    if kind == "lim2" and x < 0 and round(x, digits) == 0:
        return float(f"{x:.1g}")  # Excel shows -0.004 as "-0.00": the sign stays visible
    if digits == 0:
        return int(round(x))
    return round(x, digits)


def number_format(kind: str, lang: str) -> str:
    """The Excel number format of a display kind (a quoted literal carries the report's
    decimal mark; the digits follow the reader's Excel locale)."""
    code = NUMBER_FORMATS[kind][1]
    return code.format("0,001" if lang == "da" else "0.001") if kind == "p" else code


def _sheet_name(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", " ", name).strip()[:31] or "Sheet"
    sheet, k = base, 2
    while sheet.lower() in used:
        suffix = f" ({k})"
        sheet = base[: 31 - len(suffix)] + suffix
        k += 1
    used.add(sheet.lower())
    return sheet


def write_xlsx(path: str | Path, doc: ReportDoc, tables: Mapping[str, Table]) -> None:
    """Write the report's tables to ``path``.

    ``doc`` gives the order, numbers and captions of the tables the report shows; tables of
    ``tables`` that the report does not show (published as CSV only) follow, named by
    their title.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    lang = doc.lang
    items: list[TableItem] = [
        it for _, _, its in doc_items(doc) for it in its if isinstance(it, TableItem)
    ]
    shown = {it.table.name for it in items}
    used: set[str] = {_t("notes", lang).lower()}
    sheets = [(_sheet_name(f"{doc.labels['table']} {it.number}", used), it) for it in items]
    for name in sorted(set(tables) - shown):
        t = tables[name]
        sheets.append((_sheet_name(t.title, used), _extra_item(t, doc)))

    wb = Workbook()
    notes = wb.active
    notes.title = _t("notes", lang)
    bold, grey = Font(bold=True), PatternFill("solid", fgColor=_GREY)
    suppressed: list[tuple[str, str, str]] = []
    for sheet, it in sheets:
        ws = wb.create_sheet(sheet)
        t = it.table
        ws.cell(1, 1, it.caption).font = Font(bold=True, size=12)
        cols = [c for c in t.data.columns if c in t.labels]
        for j, c in enumerate(cols, start=1):
            h = ws.cell(2, j, str(t.labels[c]))
            h.font = bold
            h.alignment = Alignment(wrap_text=True, vertical="top")
        sup = t.suppressed
        for i, (idx, total) in enumerate(zip(t.data.index, it.total_rows, strict=True)):
            r = 3 + i
            for j, c in enumerate(cols, start=1):
                kind = t.formats.get(c, "text")
                cell = ws.cell(r, j)
                if sup is not None and c in sup.columns and bool(sup.at[idx, c]):
                    cell.fill = grey
                    mark = it.frame.iat[i, j - 1]
                    suppressed.append((sheet, cell.coordinate, str(mark)))
                elif kind in NUMBER_FORMATS:
                    cell.value = cell_value(t.data.at[idx, c], kind)
                    cell.number_format = number_format(kind, lang)
                else:
                    cell.value = str(it.frame.iat[i, j - 1])
                if total:
                    cell.font = bold
        below = 3 + len(t.data) + 1
        # the symbols, explained in the report's language (the gate's own note is English)
        symbols = doc.footnote if sup is not None and bool(sup.to_numpy().any()) else ""
        for note in (it.note, symbols):
            if note:
                ws.cell(below, 1, note).alignment = Alignment(wrap_text=False)
                below += 1
        ws.freeze_panes = "A3"
        for j, c in enumerate(cols, start=1):
            width = max([len(str(t.labels[c]))] + [len(str(v)) for v in it.frame.iloc[:, j - 1]])
            ws.column_dimensions[ws.cell(2, j).column_letter].width = min(max(width + 2, 9), 45)

    _write_notes(notes, doc, sheets, suppressed, bold)
    wb.save(path)


def _extra_item(t: Table, doc: ReportDoc) -> TableItem:
    from envejind_eval.report.render import display_frame

    frame = display_frame(t, doc.lang, doc.min_cell)
    first = frame.iloc[:, 0].astype(str) if len(frame.columns) else pd.Series("", index=frame.index)
    numeric = [t.formats.get(c, "text") != "text" for c in t.data.columns if c in t.labels]
    return TableItem(t, 0, t.title, frame, numeric, first.isin(TOTAL_LABELS).tolist())


def _write_notes(
    ws: Any,
    doc: ReportDoc,
    sheets: list[tuple[str, TableItem]],
    suppressed: list[tuple[str, str, str]],
    bold: Any,
) -> None:
    lang = doc.lang
    rows: list[tuple[Any, ...]] = [
        (doc.title,),
        (doc.subtitle,),
        (),
        (doc.footnote,),
        (_t("empty", lang),),
        (),
        (_t("contents", lang),),
        (_t("sheet", lang), _t("title", lang)),
        *((sheet, it.table.title) for sheet, it in sheets),
        (),
        (_t("suppressed", lang),),
    ]
    if suppressed:
        rows += [(_t("sheet", lang), _t("cell", lang), _t("symbol", lang)), *suppressed]
    else:
        rows.append((_t("none_suppressed", lang),))
    rows += [(), (doc.footer,)]
    heads = {_t("contents", lang), _t("suppressed", lang), _t("sheet", lang), doc.title}
    for r, row in enumerate(rows, start=1):
        for j, v in enumerate(row, start=1):
            c = ws.cell(r, j, v)
            if v in heads:
                c.font = bold
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 60
