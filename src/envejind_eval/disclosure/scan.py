"""Leak guard: search output files for CPR-shaped strings and the delivery's pseudonyms.

``scan(paths, pseudonyms=...)`` walks files and folders and returns one row per hit with
the columns ``file, location, kind`` -- never the matched text. ``kind`` is ``"cpr"``,
``"pseudonym"`` or ``"unreadable"`` (a file that should be scanned but could not be
parsed: fail safe).

What is read
------------
HTML/SVG/XML/CSV/TSV/TXT/JSON/Markdown/log files and any file without NUL bytes: line by
line (base64 ``data:`` payloads of images are skipped; SVG or text payloads are decoded and
scanned). Text is UTF-8 with or without BOM, or UTF-16 (BOM, or every other byte NUL);
other bytes (cp1252) are replaced, which leaves every digit in place. XLSX: every cell
value and sheet name (openpyxl). Word (DOCX): the XML of every part and each paragraph's
text. PDF: the text of every page and every text string of the file (metadata, bookmarks,
image descriptions), read with pypdf; a PDF whose text cannot be read (e.g. encrypted) is
``unreadable``. Jupyter notebooks: sources and outputs of every cell. Parquet: every text
column. Images (PNG, JPEG, GIF, WebP), fonts and archives other than XLSX are skipped.

CPR-shaped strings: the trade-off
---------------------------------
:func:`contains_cpr` and :func:`redact_cpr` are the one definition the whole package uses.
A CPR number is ``DDMMYY-SSSS`` (dash optional, or one space; typographic dashes and a
no-break space count too). We report such a string
whose first six digits are a real calendar date (day 01-31 valid for the month; 29
February allowed for any year, since the century is not known) and that has no letter or
digit directly before or after it -- so any separator we read or write (comma, semicolon,
tab, pipe, quotes, space, ``=``, ``:``, ``/``, ``_``, ``-``, markup, JSON) may stand next to
it, also after a field ending in a digit (``ISH-1,240386-1234``). The one exception is the
fraction of a decimal with a point (``0.1201851234``, no dash); a comma is never taken as a
decimal mark, since it separates CSV fields (a Danish ``3,1201851234`` is a false alarm). A
trailing ``.0`` is still reported (a CPR column that went through a float), and a 9-digit
whole number in a typed cell (XLSX, Parquet), a whole CSV field or a delivered cell
(``field=True``) is read zero-padded (a CPR starting with 0 that was stored as a number).
We do *not* require the modulus-11 check: CPR numbers issued since 2007 need not satisfy
it. So ISO dates (``2016-10-03``), 8-digit dates, 13-digit millisecond timestamps, hex
digests (digit runs inside letters) and decimals do not match; remaining false positives
are 10-digit integers that happen to start with a valid date (e.g. some Unix timestamps in
seconds) and a 6-digit and a 4-digit number separated by one space. We accept those: a
false alarm costs a look, a miss costs a data breach.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

HIT_COLUMNS = ["file", "location", "kind"]

_DAYS = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}

#: What :func:`redact_cpr` puts in place of a CPR-shaped string by default.
CPR_MASK = "[cpr]"

# DDMMYY, then a dash (also the typographic ones a word processor puts in), one space (also
# no-break) or nothing, then SSSS; no letter or digit on either side (every separator we
# read or write -- , ; tab | quotes space = : / _ - < > -- is fine). The date part (month
# lengths) and the decimal case are checked in _cpr_spans.
CPR_PATTERN = re.compile(
    r"(?<![0-9A-Za-z])"
    r"((?:0[1-9]|[12][0-9]|3[01])(?:0[1-9]|1[0-2])[0-9]{2})([- \u00a0\u2010-\u2014\u2212]?)[0-9]{4}"
    r"(?![0-9A-Za-z])"
)
# a whole field or cell holding a 9-digit number (optionally ".0"): a CPR that lost its 0
_NINE_FIELD = re.compile(r"\s*\"?([0-9]{9})(?:\.0)?\"?\s*")
_DATA_URI = re.compile(r"data:([a-zA-Z0-9.+/-]+);base64,([A-Za-z0-9+/=\s]+)")
_TOKEN = re.compile(r"[0-9A-Za-z]+")
_SKIP_SUFFIXES = {
    ".png", ".jpg", ".jpeg", ".gif", ".webp", ".ico", ".woff", ".woff2", ".ttf", ".otf",
    ".eot", ".zip", ".gz", ".bz2", ".xz", ".7z", ".pyc", ".so",
}  # fmt: skip


def _cpr_spans(text: str) -> Iterator[tuple[int, int]]:
    for m in CPR_PATTERN.finditer(text):
        d = m.group(1)
        if int(d[:2]) > _DAYS[int(d[2:4])]:
            continue
        s = m.start()
        # "3.1201851234" is a decimal fraction; a comma is not taken as a decimal mark
        # (it separates CSV fields: "ISH-1,2403861234"), nor is a point before a dashed CPR
        if not m.group(2) and s >= 2 and text[s - 1] == "." and text[s - 2].isdigit():
            continue
        yield s, m.end()


def contains_cpr(text: str, *, field: bool = False) -> bool:
    """True if ``text`` contains a CPR-shaped string (see the module notes).

    With ``field=True`` ``text`` is one whole cell or field, and a 9-digit whole number
    there is read zero-padded (a CPR starting with 0 stored as a number). This is the one
    test every part of the package uses: the leak scan, the release gate, ingestion (free
    text, code and id columns, quarantine files) and the names of files and sheets.

    >>> contains_cpr("ISH-1,240386-1234"), contains_cpr("p = 0.1201851234")
    (True, False)
    """
    text = str(text)
    if any(True for _ in _cpr_spans(text)):
        return True
    if field:
        m = _NINE_FIELD.fullmatch(text)
        return m is not None and any(True for _ in _cpr_spans("0" + m.group(1)))
    return False


def redact_cpr(text: str, mask: str = CPR_MASK) -> str:
    """``text`` with every CPR-shaped string (as :func:`contains_cpr` finds them) replaced
    by ``mask``; use it wherever a delivered value, a file name or a sheet name is shown.

    >>> redact_cpr("status_240386-1234.csv")
    'status_[cpr].csv'
    """
    text = str(text)
    spans = list(_cpr_spans(text))
    if not spans:
        return text
    out, last = [], 0
    for a, b in spans:
        out += [text[last:a], mask]
        last = b
    out.append(text[last:])
    return "".join(out)


#: The old name of :func:`contains_cpr`.
is_cpr_like = contains_cpr


class _Pseudonyms:
    def __init__(self, values: Iterable[str]) -> None:
        vals = {str(v).strip() for v in values if v is not None and str(v).strip()}
        self.tokens = {v.lower() for v in vals if _TOKEN.fullmatch(v)}
        other = sorted((v for v in vals if not _TOKEN.fullmatch(v)), key=len, reverse=True)
        self.regex = (
            re.compile(
                r"(?<![0-9A-Za-z])(?:"
                + "|".join(re.escape(v) for v in other)
                + r")(?![0-9A-Za-z])",
                re.IGNORECASE,
            )
            if other
            else None
        )

    def __bool__(self) -> bool:
        return bool(self.tokens) or self.regex is not None

    def search(self, text: str) -> bool:
        if self.tokens and any(t.lower() in self.tokens for t in _TOKEN.findall(text)):
            return True
        return bool(self.regex is not None and self.regex.search(text))


def read_pseudonyms(path: str | os.PathLike[str]) -> list[str]:
    """Pseudonyms from a file: a CSV with a ``participant_id`` column, or one per line."""
    p = Path(path)
    text = p.read_text(encoding="utf-8-sig")
    first = text.splitlines()[0] if text else ""
    if p.suffix.lower() == ".csv" and "participant_id" in first.split(","):
        df = pd.read_csv(p, dtype=str, usecols=["participant_id"])
        return df["participant_id"].dropna().tolist()
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


def redact(text: str, pseud: _Pseudonyms | None = None) -> str:
    """``text`` with CPR-shaped strings and pseudonyms replaced (for file names and
    locations in reports)."""
    out = redact_cpr(text)
    if pseud:
        out = _TOKEN.sub(
            lambda m: "[pseudonym]" if m.group(0).lower() in pseud.tokens else m.group(0), out
        )
        if pseud.regex is not None:
            out = pseud.regex.sub("[pseudonym]", out)
    return out


def _check(text: str, pseud: _Pseudonyms | None, secrets: tuple[str, ...] = ()) -> list[str]:
    kinds = []
    if contains_cpr(text):
        kinds.append("cpr")
    if pseud and pseud.search(text):
        kinds.append("pseudonym")
    if secrets:
        low = text.lower()
        if any(k in low for k in secrets):
            kinds.append("key")
    return kinds


def _key_texts(key: str | bytes | os.PathLike[str]) -> tuple[str, ...]:
    """Text forms of the pseudonym key to look for: 16-digit windows of its hex text at a
    stride of 8, so any copy of 24 or more consecutive key digits is found."""
    if isinstance(key, bytes):
        hx = key.hex()
    elif isinstance(key, str) and re.fullmatch(r"[0-9a-fA-F]{32,}", key.strip()):
        hx = key.strip().lower()
    else:
        hx = Path(key).read_text(encoding="ascii").strip().lower()
    if not re.fullmatch(r"[0-9a-f]{32,}", hx):
        raise ValueError("scan: the key is not a hex string of at least 32 digits")
    return tuple(hx[i : i + 16] for i in range(0, len(hx) - 15, 8))


def _text_units(text: str, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(location, text) pairs for a text file: lines, plus decoded data-URI payloads."""
    for n, line in enumerate(text.splitlines(), start=1):
        if "base64," in line:
            for m in _DATA_URI.finditer(line):
                mime = m.group(1).lower()
                if mime.startswith(("text/", "image/svg", "application/json", "application/xml")):
                    try:
                        payload = base64.b64decode(re.sub(r"\s", "", m.group(2))).decode(
                            "utf-8", errors="replace"
                        )
                    except ValueError:
                        payload = ""
                    for loc, sub in _text_units(payload):
                        yield f"{prefix}line {n} (embedded {mime}, {loc})", sub
            line = _DATA_URI.sub(" ", line)
        yield f"{prefix}line {n}", line


def _notebook_units(path: Path) -> Iterator[tuple[str, str]]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    for ci, cell in enumerate(nb.get("cells", []), start=1):
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else str(src)
        yield from _text_units(src, f"cell {ci} source ")
        for oi, out in enumerate(cell.get("outputs", []) or [], start=1):
            pieces: list[str] = []
            if "text" in out:
                t = out["text"]
                pieces.append("".join(t) if isinstance(t, list) else str(t))
            for mime, val in (out.get("data") or {}).items():
                if mime.startswith("image/") and mime != "image/svg+xml":
                    continue
                pieces.append(
                    "".join(val)
                    if isinstance(val, list)
                    else (json.dumps(val) if not isinstance(val, str) else val)
                )
            for key in ("ename", "evalue"):
                if key in out:
                    pieces.append(str(out[key]))
            if "traceback" in out:
                pieces.append("\n".join(map(str, out["traceback"])))
            for piece in pieces:
                yield from _text_units(piece, f"cell {ci} output {oi} ")
    meta = json.dumps(nb.get("metadata", {}))
    yield "notebook metadata", meta


def _xlsx_units(path: Path) -> Iterator[tuple[str, str]]:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        for ws in wb.worksheets:
            yield f"sheet name {ws.title!r}", ws.title
            for row in ws.iter_rows():
                for cell in row:
                    v = getattr(cell, "value", None)
                    if v is None:
                        continue
                    coord = getattr(cell, "coordinate", "?")
                    yield f"{ws.title}!{coord}", _cell_text(v)
    finally:
        wb.close()


def _cell_text(v: object) -> str:
    """Text of a typed cell. A whole number of exactly 9 digits is shown zero-padded to
    10: a CPR number starting with 0 loses that digit when a spreadsheet or a data frame
    stores it as a number."""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, (int, np.integer)):
        t = str(int(v))
        return t.zfill(10) if len(t) == 9 else t
    return str(v)


# a whole CSV field holding a 9-digit number (optionally ".0"): a CPR without its leading 0
_CSV_NINE = re.compile(r"(?:(?<=^)|(?<=[,;\t|]))\"?([0-9]{9})(?:\.0)?\"?(?=$|[,;\t|\r])")


def _pad_csv_line(line: str) -> str:
    return _CSV_NINE.sub(lambda m: "0" + m.group(1), line)


def _parquet_units(path: Path) -> Iterator[tuple[str, str]]:
    df = pd.read_parquet(path)
    yield "column names", " ".join(map(str, df.columns))
    for col in df.columns:
        s = df[col]
        if s.dtype.kind in "iu":
            vals = s.map(_cell_text)
        elif s.dtype.kind == "f":
            vals = s.dropna().map(_cell_text)
        elif s.dtype.kind in "OSUT" or str(s.dtype) in ("str", "string"):
            vals = s.dropna().astype(str)
        else:
            continue
        for r, v in zip(vals.index, vals, strict=True):
            yield f"column {col!r} row {r}", v


# Word parts that hold no content of ours (styles, theme, fonts): skipped for speed only
_DOCX_SKIP = re.compile(r"^word/(styles|stylesWithEffects|fontTable|theme/.*)\.xml$")
_W_NS = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _docx_units(path: Path) -> Iterator[tuple[str, str]]:
    """Every XML part of a Word file: the raw XML (text and attribute values such as image
    descriptions) and each paragraph's text joined across its runs (Word splits text into
    runs, which could split a CPR number)."""
    import zipfile
    from xml.etree import ElementTree as ET

    with zipfile.ZipFile(path) as z:
        for name in sorted(z.namelist()):
            if not name.endswith((".xml", ".rels")) or _DOCX_SKIP.match(name):
                continue
            raw = z.read(name)
            for loc, text in _text_units(raw.decode("utf-8", errors="replace")):
                yield f"{name} {loc}", text
            root = ET.fromstring(raw)
            for k, para in enumerate(root.iter(f"{_W_NS}p"), start=1):
                joined = "".join(t.text or "" for t in para.iter(f"{_W_NS}t"))
                if joined:
                    yield f"{name} paragraph {k}", joined


def _pdf_units(path: Path) -> Iterator[tuple[str, str]]:
    """A PDF's page text (pypdf), plus every text string of its object tree: metadata,
    bookmarks and alternative texts of images are not page text."""
    from pypdf import PdfReader
    from pypdf.generic import (
        ArrayObject,
        DictionaryObject,
        IndirectObject,
        StreamObject,
        TextStringObject,
    )

    reader = PdfReader(path)
    for n, page in enumerate(reader.pages, start=1):
        yield from _text_units(page.extract_text() or "", f"page {n} ")
    seen: set[tuple[int, int]] = set()
    stack: list[object] = [reader.trailer]
    strings: list[str] = []
    while stack:
        obj = stack.pop()
        if isinstance(obj, IndirectObject):
            ref = (obj.idnum, obj.generation)
            if ref in seen:
                continue
            seen.add(ref)
            obj = obj.get_object()
        if isinstance(obj, TextStringObject):
            strings.append(str(obj))
        elif isinstance(obj, StreamObject):
            continue  # page content is read above; fonts and images are binary
        elif isinstance(obj, DictionaryObject):
            stack.extend(v for k, v in obj.items() if k not in ("/Parent", "/P"))
        elif isinstance(obj, ArrayObject):
            stack.extend(obj)
    for k, text in enumerate(strings, start=1):
        yield f"text string {k}", text


#: Binary formats read by a parser of their own (everything else with NUL bytes is skipped)
_PARSED = {".xlsx", ".xlsm", ".parquet", ".docx", ".pdf"}


def _utf16(head: bytes) -> str | None:
    """``utf-16`` for a UTF-16 text (byte-order mark, or every other byte NUL as in
    UTF-16 of mostly ASCII text), else None."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    n = len(head) // 2 * 2
    if n >= 4:
        if head[1:n:2].count(0) >= 0.9 * (n // 2) and head[0:n:2].count(0) == 0:
            return "utf-16-le"
        if head[0:n:2].count(0) >= 0.9 * (n // 2) and head[1:n:2].count(0) == 0:
            return "utf-16-be"
    return None


def _is_binary(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(8192)
    return b"\x00" in head and _utf16(head) is None


def _decode(data: bytes) -> str:
    """Text of a text file: UTF-16 (see :func:`_utf16`) or UTF-8 (with or without BOM);
    any other byte (cp1252) becomes U+FFFD, which leaves every digit in place."""
    enc = _utf16(data[:8192])
    if enc is not None:
        return data.decode(enc, errors="replace").lstrip("\ufeff")
    return data.decode("utf-8", errors="replace").lstrip("\ufeff")


def _units(path: Path) -> Iterator[tuple[str, str]]:
    suf = path.suffix.lower()
    if suf == ".xlsx" or suf == ".xlsm":
        yield from _xlsx_units(path)
    elif suf == ".ipynb":
        yield from _notebook_units(path)
    elif suf == ".parquet":
        yield from _parquet_units(path)
    elif suf == ".docx":
        yield from _docx_units(path)
    elif suf == ".pdf":
        yield from _pdf_units(path)
    else:
        text = _decode(path.read_bytes())
        if suf in (".csv", ".tsv"):
            text = "\n".join(_pad_csv_line(ln) for ln in text.splitlines())
        yield from _text_units(text)


def _files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    for p in paths:
        p = Path(p)
        if p.is_dir():
            yield from sorted(f for f in p.rglob("*") if f.is_file())
        elif p.exists():
            yield p
        else:
            raise FileNotFoundError(f"scan: no such file or folder: {redact(p.name)}")


def scan(
    paths: Iterable[str | os.PathLike[str]] | str | os.PathLike[str],
    *,
    pseudonyms: Iterable[str] | str | os.PathLike[str] | None = None,
    key: str | bytes | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Find CPR-shaped strings and pseudonyms in output files.

    Parameters
    ----------
    paths
        Files and/or folders (searched recursively).
    pseudonyms
        The delivery's pseudonyms (an iterable of strings, or a file read with
        :func:`read_pseudonyms`). Matched as whole tokens, case-insensitively.
    key
        Optionally the pseudonym key (bytes, hex text or the key file): an output holding
        24 or more consecutive digits of it is a hit of kind ``key``.

    Returns
    -------
    DataFrame
        One row per file, location and kind: ``file`` (as given/found), ``location``
        (``line 12``, ``Sheet1!B3``, ``cell 4 output 1 line 2``, ...), ``kind``
        (``cpr``, ``pseudonym``, ``key``, ``unreadable``). The matched text is never
        included.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "note.txt").write_text("born 2016-10-03, id 0101901234\\n")
    >>> scan([d]).kind.tolist()
    ['cpr']
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if pseudonyms is None:
        pseud = None
    elif isinstance(pseudonyms, (str, os.PathLike)) and Path(pseudonyms).is_file():
        pseud = _Pseudonyms(read_pseudonyms(pseudonyms))
    else:
        pseud = _Pseudonyms(pseudonyms)  # type: ignore[arg-type]
    secrets = _key_texts(key) if key is not None else ()
    rows: list[dict[str, str]] = []
    for f in _files(paths):
        if not f.is_file():  # a FIFO or device given by name: reading it could block forever
            rows.append({"file": str(f), "location": "not a regular file", "kind": "unreadable"})
            continue
        if f.suffix.lower() in _SKIP_SUFFIXES:
            continue
        suf = f.suffix.lower()
        if suf not in _PARSED and _is_binary(f):
            continue
        seen: set[tuple[str, str]] = set()
        try:
            for loc, text in _units(f):
                for kind in _check(text, pseud, secrets):
                    if (loc, kind) not in seen:
                        seen.add((loc, kind))
                        rows.append({"file": str(f), "location": loc, "kind": kind})
            # the file name itself
            for kind in _check(f.name, pseud):
                rows.append({"file": str(f), "location": "file name", "kind": kind})
        except Exception as exc:  # a file we cannot read is a finding
            rows.append(
                {
                    "file": str(f),
                    "location": f"unreadable ({type(exc).__name__})",
                    "kind": "unreadable",
                }
            )
    out = pd.DataFrame(rows, columns=HIT_COLUMNS)
    for col in ("file", "location"):
        out[col] = [redact(v, pseud) for v in out[col]]
    return out


#: Name the report layer looks for (``envejind_eval.report.build.leak_scan``).
scan_paths = scan
