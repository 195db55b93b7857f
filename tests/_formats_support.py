"""Writers for the spreadsheet formats the package reads but no maintained library writes:
OpenDocument (.ods, built as XML), plus a minimal participant list. Not a test module."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
)


def _cell(v: object, span: int = 1) -> str:
    attrs = f' table:number-columns-spanned="{span}"' if span > 1 else ""
    if v is None:
        return "<table:table-cell/>"
    if isinstance(v, bool):
        return (
            f'<table:table-cell{attrs} office:value-type="boolean" '
            f'office:boolean-value="{str(v).lower()}"/>'
        )
    if isinstance(v, int | float):
        return f'<table:table-cell{attrs} office:value-type="float" office:value="{v}"/>'
    if isinstance(v, dt.datetime | dt.date):
        return f'<table:table-cell{attrs} office:value-type="date" office:date-value="{v.isoformat()}"/>'
    if isinstance(v, dt.time):
        iso = f"PT{v.hour:02d}H{v.minute:02d}M{v.second:02d}S"
        return f'<table:table-cell{attrs} office:value-type="time" office:time-value="{iso}"/>'
    return (
        f'<table:table-cell{attrs} office:value-type="string"><text:p>{escape(str(v))}</text:p>'
        "</table:table-cell>"
    )


def write_ods(path: Path, sheets: dict[str, list[list[object]]], *, title_span: int = 0) -> Path:
    """An .ods file as LibreOffice saves one: typed cells, trailing empty cells and rows
    as huge repeats. ``title_span``: merge the first cell of row 1 over that many columns."""
    body = []
    for name, rows in sheets.items():
        xml = [f'<table:table table:name="{escape(name)}">']
        for i, row in enumerate(rows):
            cells = []
            for j, v in enumerate(row):
                if i == 0 and j == 0 and title_span > 1:
                    cells.append(_cell(v, title_span))
                    cells += ["<table:covered-table-cell/>"] * (title_span - 1)
                    break
                cells.append(_cell(v))
            cells.append('<table:table-cell table:number-columns-repeated="1000"/>')
            xml.append(f"<table:table-row>{''.join(cells)}</table:table-row>")
        xml.append(
            '<table:table-row table:number-rows-repeated="1048000">'
            '<table:table-cell table:number-columns-repeated="1024"/></table:table-row>'
        )
        xml.append("</table:table>")
        body.append("".join(xml))
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_NS}>'
        f"<office:body><office:spreadsheet>{''.join(body)}</office:spreadsheet></office:body>"
        "</office:document-content>"
    )
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", content)
    return path


PARTICIPANT_HEADER = (
    "CPR;Kommune;Hold;Mentor;Køn;Fødselsår;Henvist af;Startdato;Planlagt slutdato;Status;"
    "Slutdato;Ophørsårsag"
)


def write_participants(folder: Path, cprs: list[str], team: str = "Hold 1") -> Path:
    """A participant list in the standard form (docs/delivery_format.md) for ``cprs``."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        f"{c};Holbæk;{team};Mentor A;{'K' if int(c[-1]) % 2 == 0 else 'M'};"
        f"{1900 + int(c[4:6]) if int(c[4:6]) > 50 else 2000 + int(c[4:6])};SSP;08-01-2024;"
        "29-03-2024;I gang;;"
        for c in cprs
    ]
    p = folder / "deltagere.csv"
    p.write_text("\n".join([PARTICIPANT_HEADER, *rows]) + "\n", encoding="utf-8")
    return p
