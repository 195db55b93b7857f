"""Readers: delivered files -> :class:`RawTable` (text cells, row numbers as users see them).

Every cell becomes text (or empty); interpretation (dates, numbers, codes, CPR) happens
later, once per unique value. Each column is held dictionary-encoded as ``codes`` (int32,
-1 = empty) into ``values`` (unique stripped texts), which is what makes a 2-million-row
attendance file cheap to interpret.

CSV
    Encoding: a UTF-8/16/32 BOM names the encoding; else strict UTF-8; else cp1252
    (recorded). A UTF-8 file with a few stray bytes of another encoding, or UTF-16 without
    a BOM, is refused with the line and column of the first bad byte.
    Separator: ``;``, ``,`` or tab, whichever the header line holds most of. Files without
    quotes and blank lines go through ``pyarrow.csv`` (multi-threaded; columns read as
    text, then dictionary-encoded by :func:`_encode`); others through Python's ``csv``
    module, which tracks line numbers across quoted line breaks and flags rows with too
    many fields.
Spreadsheets (.xlsx, .xls, .ods)
    One :class:`RawTable` per sheet, all three through :func:`grid_table`. Merged cells are
    filled with their top-left value. The header row is found among the first rows (title
    rows above it are skipped and counted); label rows around it (survey exports:
    :func:`_label_rows`) are skipped and counted as title rows, and name a column whose
    header is not known; blank rows and total rows (``I alt``, ``Total``, ``Sum``) are
    skipped and counted. Cells holding real dates or times become ISO text (times keep
    their seconds); numbers become plain text. A formula without a stored result (.xlsx) is
    a ``formula_without_value`` problem, not a blank.
SPSS (.sav)
    Value labels applied (``1`` labelled ``Ja`` reads ``Ja``); variable labels are the
    label row.
Parquet
    Canonical tables; typed columns become text the same way.

In every format a cell longer than an Excel cell (``MAX_CELL``) quarantines its row
(``cell_too_large``) instead of making the file unreadable.
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from envejind_eval.errors import IngestError

BOM = b"\xef\xbb\xbf"
MAX_CELL = 32_767  # characters in one Excel cell; a longer CSV value is not a real cell
# Total and footnote rows: a label starting with one of these words (``I alt``, ``Total
# fremmødte``, ``Sum:``, ``Gns.``, ``Antal mødt``), never a CPR number or a pseudonym.
_TOTAL_RX = re.compile(
    r"^\s*(i\s*alt|total[a-zæøå]*|sum|summa|samlet|gns|gennemsnit|average|mean|antal)\b"
)


def total_labels(values: list[str]) -> np.ndarray:
    """Per value: the label of a total or footnote row (see ``_TOTAL_RX``); vectorised in
    pyarrow, as a first column may hold a million distinct values."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not values:
        return np.zeros(0, dtype=bool)
    arr = pa.array(values, pa.string())
    hit = pc.match_substring_regex(arr, _TOTAL_RX.pattern, ignore_case=True)
    short = pc.less_equal(pc.utf8_length(arr), 60)
    return np.asarray(pc.and_(hit, short).to_numpy(zero_copy_only=False), dtype=bool)


@dataclass
class Col:
    """A dictionary-encoded text column: ``codes`` index ``values``; -1 means empty."""

    codes: np.ndarray
    values: list[str]

    def __len__(self) -> int:
        return len(self.codes)

    def take(self, rows: np.ndarray) -> Col:
        return Col(self.codes[rows], self.values)

    def texts(self) -> np.ndarray:
        """Object array of the texts (None for empty); for small tables."""
        vals = np.array([*self.values, None], dtype=object)
        return vals[np.where(self.codes < 0, len(self.values), self.codes)]


@dataclass
class RawTable:
    """One table as delivered: a CSV file, a sheet of a workbook, or a Parquet file."""

    path: Path
    file: str
    sheet: str | None
    format: str  # csv / xlsx / xls / ods / sav / parquet
    sha256: str
    header: list[str]
    cols: list[Col]
    lines: np.ndarray  # row number as the user sees it (CSV line / Excel row), per data row
    n_read: int  # every row after the header (data + skipped)
    skipped: dict[str, int] = field(default_factory=lambda: {"title": 0, "blank": 0, "total": 0})
    encoding: str | None = None
    separator: str | None = None
    header_dates: list[int | None] | None = None  # xlsx: header cells that are real dates
    letters: list[str] | None = None  # spreadsheet column letters
    labels: list[list[str | None]] | None = None  # label rows around the header (surveys)
    problems: list[tuple[int, int, str, str]] = field(default_factory=list)  # (row, col, rule, msg)

    @property
    def n_rows(self) -> int:
        return len(self.lines)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _factorize(texts: list[str | None] | np.ndarray) -> Col:
    seen: dict[str, int] = {}
    codes = np.empty(len(texts), dtype=np.int32)
    for i, t in enumerate(texts):
        codes[i] = -1 if t is None else seen.setdefault(t, len(seen))
    return Col(codes, list(seen))


def _clean(col: Col) -> Col:
    """Strip whitespace of the unique values; empty -> -1; merge values equal after strip."""
    stripped = [v.strip() for v in col.values]
    if stripped == col.values and "" not in stripped:
        return col
    new_vals: list[str] = []
    pos: dict[str, int] = {}
    remap = np.empty(len(stripped) + 1, dtype=np.int32)
    for i, s in enumerate(stripped):
        if not s:
            remap[i] = -1
            continue
        if s not in pos:
            pos[s] = len(new_vals)
            new_vals.append(s)
        remap[i] = pos[s]
    remap[-1] = -1
    return Col(remap[col.codes], new_vals)  # codes -1 index remap[-1] == -1


def _drop_rows(t: RawTable, keep: np.ndarray) -> None:
    if keep.all():
        return
    t.cols = [c.take(keep) for c in t.cols]
    t.lines = t.lines[keep]
    if t.problems:  # they index data rows: renumber
        new = np.cumsum(keep) - 1
        t.problems = [(int(new[r]), c, rule, m) for r, c, rule, m in t.problems if keep[r]]


def flag_oversized(t: RawTable) -> None:
    """A cell longer than a spreadsheet cell can be (often an unmatched quote that joined
    the following lines into one value) quarantines its row; the value is dropped (the
    cell reads as empty) so that nothing else parses it or copies it to quarantine."""
    for j, c in enumerate(t.cols):
        if not c.values or max(map(len, c.values)) <= MAX_CELL:
            continue
        for i, v in enumerate(c.values):
            if len(v) <= MAX_CELL:
                continue
            msg = (
                f"a cell of {len(v):,} characters, more than a spreadsheet cell holds "
                f"({MAX_CELL:,}); an unmatched quote may have joined the following lines"
            )
            rows = np.flatnonzero(c.codes == i)
            t.problems.extend((int(r), j, "cell_too_large", msg) for r in rows)
            c.codes[rows] = -1
            c.values[i] = "-"  # no row refers to it any more


def skip_blank_and_total(t: RawTable) -> None:
    """Remove blank rows and total rows (counted in ``t.skipped``); a row with a problem
    is never blank (it is quarantined with its reason)."""
    if not t.cols or not t.n_rows:
        return
    blank = np.ones(t.n_rows, dtype=bool)
    for c in t.cols:
        blank &= c.codes < 0
    if t.problems:
        blank[[r for r, *_ in t.problems]] = False
    first = t.cols[0]
    is_total = np.append(total_labels(first.values), False)  # code -1 (empty): no
    total = is_total[first.codes] if is_total.any() else np.zeros(t.n_rows, dtype=bool)
    total &= ~blank
    t.skipped["blank"] += int(blank.sum())
    t.skipped["total"] += int(total.sum())
    _drop_rows(t, ~(blank | total))


# -- CSV ------------------------------------------------------------------------------------


_UNICODE_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
_SAVE_AS_UTF8 = "save it as UTF-8 (in Excel: 'CSV UTF-8') and deliver again"


def _decode(data: bytes, name: str) -> tuple[bytes, int, str, str | None]:
    """(utf-8 bytes, offset of the text after any BOM, encoding label, text if decoded)."""
    for bom, enc in _UNICODE_BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(enc)  # the codec consumes the BOM
            except UnicodeDecodeError:
                raise IngestError(
                    f"{name}: starts with a {enc.upper()} byte order mark but is not valid "
                    f"{enc.upper()}; {_SAVE_AS_UTF8}"
                ) from None
            return text.encode("utf-8"), 0, enc, text
    if b"\x00" in data[:4096]:
        sample = data[:4096]
        if max(sample[0::2].count(0), sample[1::2].count(0)) * 4 > len(sample):
            raise IngestError(
                f"{name}: looks like UTF-16 text without a byte order mark; {_SAVE_AS_UTF8}"
            )
        raise IngestError(f"{name}: binary content, not a text file")
    if data.startswith(BOM):
        return data, len(BOM), "utf-8-sig", None
    if data.isascii():
        return data, 0, "utf-8", None
    try:
        text = data.decode("utf-8")
        return data, 0, "utf-8", text
    except UnicodeDecodeError as exc:
        # UTF-8 text with a few stray bytes (a value pasted from a cp1252 program) would be
        # garbled as cp1252 (every æøå of the header broken): refuse it, locating the byte
        t = data.decode("utf-8", errors="replace")
        n_bad = t.count("\ufffd")
        n_good = len(t) - len(t.encode("ascii", errors="ignore")) - n_bad
        if n_good > n_bad:
            raise IngestError(_stray_bytes(data, 0, exc, name, n_bad)) from None
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise IngestError(f"{name}: not readable as UTF-8 or cp1252 text") from None
    return text.encode("utf-8"), 0, "cp1252", text


def _stray_bytes(
    data: bytes, start: int, exc: UnicodeDecodeError, name: str, n_bad: int | None = None
) -> str:
    """Where the first byte that is not UTF-8 is: line, column (never the value)."""
    pos = start + exc.start
    line_start = data.rfind(b"\n", start, pos) + 1 or start
    line_no = data.count(b"\n", start, pos) + 1
    nl = data.find(b"\n", start)
    head = data[start : nl if nl >= 0 else len(data)].decode("utf-8", errors="replace")
    head = head.rstrip("\r")
    sep = _sniff_separator(head)
    prefix = data[line_start:pos].decode("utf-8", errors="replace")
    field_no = len(_fields(prefix, sep) or [""]) - 1
    header = _fields(head, sep)
    if line_no == 1:
        where = "line 1 (the header)"
    elif field_no < len(header) and header[field_no].strip():
        where = f"line {line_no}, column '{header[field_no].strip()}'"
    else:
        where = f"line {line_no}, field {field_no + 1}"
    if n_bad is None:
        n_bad = data[start:].decode("utf-8", errors="replace").count("\ufffd")
    more = f" ({n_bad} such bytes in the file)" if n_bad > 1 else ""
    claim = "the file starts with a UTF-8 byte order mark" if start else "the rest of the file is"
    return (
        f"{name}: {where}: byte 0x{data[pos]:02X} is not UTF-8{more}, but {claim} (a value "
        "pasted from another program?); retype that character and save the file as UTF-8"
    )


def _fields(line: str, sep: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=sep), [])
    except csv.Error:  # a bare CR and the like: good enough for a message
        return line.split(sep)


def _sniff_separator(first_line: str) -> str:
    counts = {s: first_line.count(s) for s in (";", ",", "\t")}
    best = max(counts, key=lambda s: (counts[s], s == ";"))
    return best if counts[best] else ";"


def read_csv(path: Path, *, file: str, header_score: Callable[[list[str]], float]) -> RawTable:
    """Read a delimited text file (see module docstring)."""
    data = path.read_bytes()
    # hash in a thread while pyarrow parses (hashlib releases the GIL on large buffers)
    pool = ThreadPoolExecutor(max_workers=1)
    digest_f = pool.submit(sha256_bytes, data)
    pool.shutdown(wait=False)
    body, start, encoding, text = _decode(data, file)
    nl = body.find(b"\n", start)
    try:  # pyarrow checks the data rows; the header line is ours to check
        head = (body[start:] if nl < 0 else body[start:nl]).decode("utf-8").rstrip("\r")
    except UnicodeDecodeError as exc:
        raise IngestError(_stray_bytes(body, start, exc, file)) from None
    sep = _sniff_separator(head)
    table = None
    if head.strip() and header_score([h.strip().strip('"') for h in head.split(sep)]) > 0:
        table = _read_csv_arrow(body, start, head, sep, path=path, file=file, digest="")
    if table is None:
        if text is None:
            try:
                text = body[start:].decode("utf-8")
            except UnicodeDecodeError as exc:  # a UTF-8 BOM, yet not all UTF-8
                raise IngestError(_stray_bytes(body, start, exc, file)) from None
        table = _read_csv_python(text, sep, path=path, file=file, digest="", score=header_score)
    table.encoding = encoding
    table.separator = sep
    table.sha256 = digest_f.result()
    flag_oversized(table)
    skip_blank_and_total(table)
    return table


def _read_csv_arrow(
    body: bytes, start: int, head: str, sep: str, *, path: Path, file: str, digest: str
) -> RawTable | None:
    """pyarrow's multi-threaded reader; None when rows are ragged or line numbers would not
    be exact (blank lines, line breaks inside quotes, bare CR line ends)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    header = [h.strip().strip('"').strip() for h in head.split(sep)]
    names = [f"c{i}" for i in range(len(header))]

    def read(**block: int) -> Any:
        return pacsv.read_csv(
            pa.BufferReader(pa.py_buffer(body).slice(start)),
            read_options=pacsv.ReadOptions(skip_rows=1, column_names=names, **block),
            parse_options=pacsv.ParseOptions(
                delimiter=sep, quote_char='"', ignore_empty_lines=False
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=True,
                null_values=[""],
            ),
        )

    try:
        try:
            tbl = read()
        except pa.ArrowInvalid as exc:
            # a row longer than a block (1 MiB; an oversized cell): one block, still fast
            if "straddl" not in str(exc):
                raise
            tbl = read(block_size=len(body) + 1)
    except (pa.ArrowInvalid, pa.ArrowException):
        return None  # ragged rows etc.: the Python reader reports them per line
    n = tbl.num_rows
    # blank lines make pyarrow fail (ignore_empty_lines=False) -> Python reader; without
    # quotes no line break can hide inside a value, so row i is line i + 2
    if b'"' in body and body.count(b"\n") != (n + 1 if body.endswith(b"\n") else n):
        return None  # blank lines or quoted line breaks: line numbers need the slow reader
    cols = [_clean(_encode(tbl.column(name))) for name in names]
    n = tbl.num_rows
    return RawTable(
        path=path,
        file=file,
        sheet=None,
        format="csv",
        sha256=digest,
        header=header,
        cols=cols,
        lines=np.arange(2, n + 2, dtype=np.int64),
        n_read=n,
    )


def _encode(ch: Any) -> Col:
    """Dictionary-encode a pyarrow text column (values in first-seen order, -1 = empty).

    Cheaper than pyarrow's own dictionary conversion for the shapes of a long attendance
    file: one-byte values (codes) are factorised as bytes, and values that come in runs
    (ids in a file sorted by person) are encoded once per run."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = ch.combine_chunks() if ch.num_chunks != 1 else ch.chunk(0)
    n = len(arr)
    if n == 0:
        return Col(np.empty(0, dtype=np.int32), [])
    width = 0
    if not arr.null_count:
        offsets = np.frombuffer(arr.buffers()[1], np.int32, count=n + 1, offset=arr.offset * 4)
        lengths = np.diff(offsets)
        width = int(lengths[0]) if (lengths == lengths[0]).all() else 0
        if width == 1:
            data = np.frombuffer(arr.buffers()[2], np.uint8, count=n, offset=int(offsets[0]))
            codes, uniq = pd.factorize(data)  # one-byte values are ASCII (valid UTF-8)
            return Col(codes.astype(np.int32), [chr(u) for u in uniq.tolist()])
    starts = _run_starts(arr) if n > 64 else None
    if starts is not None:
        enc = pc.dictionary_encode(arr.take(pa.array(starts)))
        run_codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
        codes = np.repeat(run_codes, np.diff(np.append(starts, n)))
    elif width:
        # equal-length values (dates): hashing fixed-width binary is ~20% cheaper than text;
        # same first-seen order, and whole values of valid UTF-8 decode back unchanged
        data = arr.buffers()[2].slice(int(offsets[0]), n * width)
        fixed = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), n, [None, data])
        enc = pc.dictionary_encode(fixed)
        codes = enc.indices.to_numpy().astype(np.int32)
        return Col(codes, [v.decode("utf-8") for v in enc.dictionary.to_pylist()])
    else:
        enc = pc.dictionary_encode(arr)
        codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
    return Col(codes, enc.dictionary.to_pylist())


def _run_starts(arr: Any) -> np.ndarray | None:
    """Rows where a new value starts, when runs average 8 rows or more; else None."""
    import pyarrow.compute as pc

    n = len(arr)
    k = min(n, 4096)  # look at a sample first: most columns have no runs
    head = arr.slice(0, k)
    if pc.sum(pc.not_equal(head.slice(1), head.slice(0, k - 1)).fill_null(True)).as_py() * 8 > k:
        return None
    same = pc.equal(arr.slice(1), arr.slice(0, n - 1)).fill_null(False)
    new = np.flatnonzero(~same.to_numpy(zero_copy_only=False)) + 1
    if (len(new) + 1) * 8 > n:
        return None
    return np.concatenate([np.zeros(1, dtype=np.int64), new])


def _read_csv_python(
    text: str,
    sep: str,
    *,
    path: Path,
    file: str,
    digest: str,
    score: Callable[[list[str]], float],
) -> RawTable:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    records: list[list[str]] = []
    starts: list[int] = []
    prev = 0
    # no field limit here (the module's is 128 KiB, process-wide): oversized cells are
    # quarantined with their row by flag_oversized, not the whole file refused
    limit = csv.field_size_limit(max(len(text) + 1, csv.field_size_limit()))
    try:
        for rec in reader:
            starts.append(prev + 1)
            prev = reader.line_num
            records.append(rec)
    except csv.Error as exc:
        raise IngestError(f"{file}: line {prev + 1}: malformed CSV ({exc})") from None
    finally:
        csv.field_size_limit(limit)
    # header: first record (within the first 10) that names known columns; else the first
    # non-blank record
    hdr = None
    for i, rec in enumerate(records[:10]):
        if any(x.strip() for x in rec) and score([x.strip() for x in rec]) > 0:
            hdr = i
            break
    if hdr is None:
        hdr = next((i for i, r in enumerate(records) if any(x.strip() for x in r)), None)
    if hdr is None:
        raise IngestError(f"{file}: the file is empty")
    header = [h.strip() for h in records[hdr]]
    ncol = len(header)
    skipped = {"title": 0, "blank": 0, "total": 0}
    for rec in records[:hdr]:
        skipped["blank" if not any(x.strip() for x in rec) else "title"] += 1
    data = records[hdr + 1 :]
    lines = np.array(starts[hdr + 1 :], dtype=np.int64)
    problems = []
    columns: list[list[str | None]] = [[] for _ in range(ncol)]
    for r, rec in enumerate(data):
        if len(rec) > ncol and any(x.strip() for x in rec[ncol:]):
            problems.append(
                (
                    r,
                    -1,
                    "wrong_field_count",
                    f"row has {len(rec)} fields but the header has {ncol}",
                )
            )
        for j in range(ncol):
            v = rec[j] if j < len(rec) else None
            columns[j].append(v if v is not None and v.strip() else None)
    cols = [_clean(_factorize(c)) for c in columns]
    if not data:
        cols = [Col(np.empty(0, dtype=np.int32), []) for _ in range(ncol)]
    problems += _joined_lines(cols, sep, ncol)
    return RawTable(
        path=path,
        file=file,
        sheet=None,
        format="csv",
        sha256=digest,
        header=header,
        cols=cols,
        lines=lines,
        n_read=len(data) + hdr,
        skipped=skipped,
        problems=problems,
    )


def _joined_lines(cols: list[Col], sep: str, ncol: int) -> list[tuple[int, int, str, str]]:
    """Rows with a quoted value whose later lines look like rows of their own (as many
    separators as a row has): an unmatched quote joined them, and the rows inside would
    otherwise vanish into one value. Line breaks in free text stay allowed."""
    out = []
    for j, c in enumerate(cols):
        for i, v in enumerate(c.values):
            if "\n" not in v:
                continue
            k = sum(ln.count(sep) >= ncol - 1 for ln in v.split("\n")[1:])
            if k and ncol > 1:
                msg = (
                    f"a quoted value holds {k} more line(s) that look like rows of their own: "
                    'an unmatched quote (") probably joined them; fix the quotes in this row'
                )
                out += [(int(r), j, "unmatched_quote", msg) for r in np.flatnonzero(c.codes == i)]
    return out


# -- Excel ----------------------------------------------------------------------------------


def cell_text(v: object) -> str | None:
    """A spreadsheet cell value as text: ISO for dates, ``HH:MM[:SS]`` for times, plain
    numbers."""
    if v is None:
        return None
    if isinstance(v, str):
        s = v.strip()
        return s or None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, _dt.datetime):
        if v.time() == _dt.time(0, 0):
            return v.date().isoformat()
        if v.date() == _dt.date(1899, 12, 30) or v.date() == _dt.date(1900, 1, 1):
            return clock_text(v.time())
        return v.isoformat()
    if isinstance(v, _dt.date):
        return v.isoformat()
    if isinstance(v, _dt.time):
        return clock_text(v)
    if isinstance(v, _dt.timedelta):
        return _clock(round(v.total_seconds()))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != v:  # NaN
            return None
        if v.is_integer():
            return str(int(v))
        r = repr(v)
        # 1.234 would read like Danish thousands ('1.234' typed as text is ambiguous)
        return r + "0" if _THREE_DECIMALS.match(r) else r
    return str(v).strip() or None


_THREE_DECIMALS = re.compile(r"^-?\d{1,3}\.\d{3}$")


def clock_text(t: _dt.time) -> str:
    """``HH:MM``, or ``HH:MM:SS`` when the time has seconds (never cut to the minute)."""
    # a spreadsheet time is a fraction of a day: 07:46:59 may come back as 07:46:58.999999,
    # so round to the second (the finest unit a spreadsheet shows)
    return _clock(round(t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6))


def _clock(secs: int) -> str:
    hm = f"{secs // 3600:02d}:{secs % 3600 // 60:02d}"
    return f"{hm}:{secs % 60:02d}" if secs % 60 else hm


def read_xlsx(
    path: Path,
    *,
    file: str,
    header_score: Callable[[list[str]], float],
    date_of: Callable[[str], int | None],
) -> list[RawTable]:
    """Read every non-empty sheet of a workbook (see module docstring)."""
    import warnings
    import zipfile

    import openpyxl

    data = path.read_bytes()
    digest = sha256_bytes(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
        formulas = _formula_cells(data)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError, IndexError) as exc:
        raise IngestError(f"{file}: not a readable .xlsx workbook ({type(exc).__name__})") from None
    except Exception as exc:  # openpyxl raises many kinds on corrupt files
        raise IngestError(f"{file}: not a readable .xlsx workbook ({type(exc).__name__})") from None
    out = []
    for ws in wb.worksheets:
        grid = [list(r) for r in ws.iter_rows(min_row=1, min_col=1, values_only=True)]
        _fill_merged(
            grid, [(r.min_row, r.min_col, r.max_row, r.max_col) for r in ws.merged_cells.ranges]
        )
        tbl = grid_table(
            grid,
            path=path,
            file=file,
            sheet=ws.title,
            fmt="xlsx",
            digest=digest,
            header_score=header_score,
            date_of=date_of,
            uncached=formulas.get(ws.title, ()),
        )
        if tbl is not None:
            out.append(tbl)
    return out


def _fill_merged(grid: list[list[Any]], ranges: list[tuple[int, int, int, int]]) -> None:
    """Fill merged ranges (1-based min_row, min_col, max_row, max_col) with the top-left value."""
    for r0, c0, r1, c1 in ranges:
        if r0 - 1 >= len(grid) or c0 - 1 >= len(grid[r0 - 1]):
            continue
        top = grid[r0 - 1][c0 - 1]
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                if r - 1 < len(grid) and c - 1 < len(grid[r - 1]):
                    grid[r - 1][c - 1] = top


def grid_table(
    grid: list[list[Any]],
    *,
    path: Path,
    file: str,
    sheet: str | None,
    fmt: str,
    digest: str,
    header_score: Callable[[list[str]], float],
    date_of: Callable[[str], int | None],
    uncached: Any = (),
) -> RawTable | None:
    """A sheet as typed cell values (rows of Python values, merged cells filled) -> RawTable;
    None for an empty sheet. Shared by every spreadsheet format. ``uncached``: (row, col),
    1-based, of formulas without a stored result."""
    from openpyxl.utils import get_column_letter

    texts = [[cell_text(v) for v in row] for row in grid]
    # formulas without a stored result (0-based row, col): problems, not blanks
    uncached = {
        (r - 1, c - 1)
        for r, c in uncached
        if r - 1 >= len(texts) or c - 1 >= len(texts[r - 1]) or texts[r - 1][c - 1] is None
    }
    last = max((r for r, _ in uncached), default=-1)
    while len(texts) > last + 1 and not any(texts[-1]):
        texts.pop()
    texts.extend([] for _ in range(last + 1 - len(texts)))
    if not texts:
        return None
    width = max(max((j + 1 for j, v in enumerate(r) if v), default=0) for r in texts)
    width = max([width, *(c + 1 for _, c in uncached)])
    texts = [(r + [None] * width)[:width] for r in texts]
    raw_grid = [(list(r) + [None] * width)[:width] for r in grid[: len(texts)]]
    hdr, best = 0, -1.0
    for i, row in enumerate(texts[:15]):
        s = header_score([v or "" for v in row])
        if s > best:
            hdr, best = i, s
    if best <= 0:
        hdr = next(i for i, r in enumerate(texts) if any(r))
    above, below = _label_rows(texts, raw_grid, hdr, uncached)
    header_cells = raw_grid[hdr]
    header = []
    hdates: list[int | None] = []
    for v, t in zip(header_cells, texts[hdr], strict=True):
        d = None
        if isinstance(v, _dt.datetime | _dt.date):
            d = date_of(cell_text(v) or "")
        elif isinstance(v, int | float) and not isinstance(v, bool):
            d = date_of(t or "")
        elif t:
            d = date_of(t)
        hdates.append(d)
        if d is not None:
            header.append((_dt.date(1970, 1, 1) + _dt.timedelta(days=d)).strftime("%d-%m-%Y"))
        else:
            header.append(t or "")
    labels = [texts[i] for i in (*above, *below)]
    header = _prefer_known(
        header, labels, lambda h: header_score([h]) > 0 or date_of(h) is not None
    )
    skipped = {"title": 0, "blank": 0, "total": 0}
    for row in texts[:hdr]:
        skipped["title" if any(row) else "blank"] += 1
    skipped["title"] += len(below)  # label rows under the header (survey exports)
    first = hdr + 1 + len(below)
    body = texts[first:]
    problems = [
        (r - first, c, "formula_without_value", FORMULA_MSG)
        for r, c in sorted(uncached)
        if r >= first
    ]
    if any(r == hdr for r, _ in uncached):
        ref = get_column_letter(min(c for r, c in uncached if r == hdr) + 1) + str(hdr + 1)
        where = f"{file}[{sheet}]" if sheet else file
        raise IngestError(f"{where} cell {ref}: a header {FORMULA_MSG}")
    cols = [_clean(_factorize([r[j] for r in body])) for j in range(width)]
    if not body:
        cols = [Col(np.empty(0, dtype=np.int32), []) for _ in range(width)]
    tbl = RawTable(
        path=path,
        file=file,
        sheet=sheet,
        format=fmt,
        sha256=digest,
        header=header,
        cols=cols,
        lines=np.arange(first + 1, first + 1 + len(body), dtype=np.int64),
        n_read=len(body) + first - 1,
        skipped=skipped,
        header_dates=hdates,
        letters=[get_column_letter(j + 1) for j in range(width)],
        problems=problems,
        labels=labels,
    )
    flag_oversized(tbl)
    skip_blank_and_total(tbl)
    return tbl


def _label_rows(
    texts: list[list[str | None]], raw: list[list[Any]], hdr: int, uncached: set
) -> tuple[list[int], list[int]]:
    """Rows right above and right below the header that hold column labels, as survey
    tools export them (variable names in one row, question texts in the next).

    A label row has at least two different texts, every cell typed as text (no number,
    date, time, CPR-shaped or formula cell), and none of its texts occurs again in its
    column below the header (data values such as codes, teams and places repeat; labels
    do not). Rows below the header stop at the first row that fails, and must be followed
    by data, so a data row is never taken for labels."""
    from collections import Counter

    from envejind_eval.disclosure.scan import contains_cpr

    below_hdr: dict[int, Counter] = {}  # column -> counts of its texts under the header

    def count(j: int, v: str) -> int:
        if j not in below_hdr:
            below_hdr[j] = Counter(r[j] for r in texts[hdr + 1 :])
        return below_hdr[j][v]

    def is_label(i: int) -> bool:
        row = texts[i]
        vals = [v for v in row if v]
        if len(set(vals)) < 2 or any((i, j) in uncached for j in range(len(row))):
            return False
        for j, v in enumerate(row):
            if v is None:
                continue
            if not isinstance(raw[i][j], str) or _NUMBERISH.match(v) or contains_cpr(v):
                return False
            if count(j, v) > (1 if i > hdr else 0):  # the row's own cell counts once
                return False
        return True

    below = []
    i = hdr + 1
    while i + 1 < len(texts) and i <= hdr + 3 and is_label(i):  # data must follow
        below.append(i)
        i += 1
    above = []
    i = hdr - 1
    while i >= 0 and i >= hdr - 3 and is_label(i):
        above.append(i)
        i -= 1
    return above, below


_NUMBERISH = re.compile(r"^[\d\s.,:/+-]+$")  # numbers, dates, times typed as text


def _prefer_known(
    header: list[str], labels: list[list[str | None]], known: Callable[[str], bool]
) -> list[str]:
    """Per column, the header cell, or the first label that names a known column when the
    header cell does not (``Q3`` over ``Startdato``)."""
    out = list(header)
    for j, h in enumerate(header):
        if h and known(h):
            continue
        lab = next((x for r in labels if j < len(r) and (x := r[j]) and known(x)), None)
        if lab:
            out[j] = lab
    return out


FORMULA_MSG = (
    "formula without a stored result (the workbook was saved by a program that does not "
    "calculate formulas): open it in Excel and save it again, or type the value"
)


def _formula_cells(data: bytes) -> dict[str, list[tuple[int, int]]]:
    """Per sheet name, the (row, column) (1-based) of formula cells without a stored result.

    openpyxl reads both such a cell and a formula whose result is the empty string as None,
    so the sheet XML decides: no ``<v>`` or an empty one, and not of string type."""
    import zipfile
    from xml.etree import ElementTree as ET

    from openpyxl.utils.cell import coordinate_to_tuple

    out: dict[str, list[tuple[int, int]]] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = set(z.namelist())
        rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
        target = {r.get("Id"): r.get("Target") or "" for r in rels}
        for sh in ET.fromstring(z.read("xl/workbook.xml")).iter():
            if not sh.tag.endswith("}sheet"):
                continue
            rid = next((v for k, v in sh.attrib.items() if k.endswith("}id")), None)
            t = target.get(rid, "")
            part = t.lstrip("/") if t.startswith("/") else f"xl/{t}"
            if part not in names:
                continue
            xml = z.read(part)
            if not _FORMULA_TAG.search(xml):
                continue
            cells = []
            for m in _CELL.finditer(xml):
                attrs, inner = m.group(1), m.group(2) or b""
                if not _FORMULA_TAG.search(inner):
                    continue
                v = _VALUE.search(inner)
                if v is not None and (v.group(1) or _STR_TYPE.search(attrs)):
                    continue  # a stored result (possibly the empty string)
                ref = _REF.search(attrs)
                if ref is not None:
                    cells.append(coordinate_to_tuple(ref.group(1).decode()))
            out[sh.get("name") or ""] = cells
    return out


_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[ >/]")
_CELL = re.compile(rb"<(?:\w+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)
_VALUE = re.compile(rb"<(?:\w+:)?v(?:\s[^>]*)?(?:/>|>(.*?)</(?:\w+:)?v>)", re.S)
_STR_TYPE = re.compile(rb'\bt="str"')
_REF = re.compile(rb'\br="([A-Z]+[0-9]+)"')


# -- .xls, .ods -----------------------------------------------------------------------------


def read_xls(
    path: Path,
    *,
    file: str,
    header_score: Callable[[list[str]], float],
    date_of: Callable[[str], int | None],
) -> list[RawTable]:
    """Every non-empty sheet of an Excel 97-2003 workbook (xlrd), as :func:`read_xlsx`."""
    import xlrd

    data = path.read_bytes()
    try:
        wb = xlrd.open_workbook(file_contents=data, formatting_info=True, on_demand=True)
    except Exception as exc:  # xlrd raises XLRDError, struct.error, ... on corrupt files
        head = data[:512].lstrip().lower()
        if data.startswith(b"PK"):
            hint = ": it is an .xlsx workbook with the wrong extension; rename it to .xlsx"
        elif head.lstrip(b"\xef\xbb\xbf").startswith(b"<") and (
            b"<html" in head or b"<table" in head
        ):
            hint = (
                ": it is a web page (HTML) saved as .xls, as some systems export; open it "
                "in Excel and save it as .xlsx"
            )
        else:
            hint = f" ({type(exc).__name__})"
        raise IngestError(f"{file}: not a readable .xls workbook{hint}") from None
    out = []
    for ws in wb.sheets():
        grid = [
            [_xls_value(ws.cell(r, c), wb.datemode, xlrd) for c in range(ws.ncols)]
            for r in range(ws.nrows)
        ]
        # xlrd: (rlo, rhi, clo, chi), 0-based, hi exclusive
        _fill_merged(grid, [(r0 + 1, c0 + 1, r1, c1) for r0, r1, c0, c1 in ws.merged_cells])
        tbl = grid_table(
            grid,
            path=path,
            file=file,
            sheet=ws.name,
            fmt="xls",
            digest=sha256_bytes(data),
            header_score=header_score,
            date_of=date_of,
        )
        if tbl is not None:
            out.append(tbl)
    return out


def _xls_value(cell: Any, datemode: int, xlrd: Any) -> Any:
    t, v = cell.ctype, cell.value
    if t in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return None
    if t == xlrd.XL_CELL_DATE:
        if 0 <= v < 1:  # a time of day without a date
            return _dt.timedelta(days=v)
        return xlrd.xldate_as_datetime(v, datemode)
    if t == xlrd.XL_CELL_BOOLEAN:
        return bool(v)
    if t == xlrd.XL_CELL_ERROR:  # #DIV/0! and the like: kept as text, so it is quarantined
        return xlrd.error_text_from_code.get(v, "#ERROR")
    return v


# ElementTree tag prefixes of the OpenDocument namespaces
_TB = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OF = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_TX = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_ODS_DURATION = re.compile(r"^-?P(?:\d+D)?T(\d+)H(\d+)M(\d+(?:\.\d+)?)S$")


def read_ods(
    path: Path,
    *,
    file: str,
    header_score: Callable[[list[str]], float],
    date_of: Callable[[str], int | None],
) -> list[RawTable]:
    """Every non-empty sheet of an OpenDocument spreadsheet (LibreOffice), as
    :func:`read_xlsx`. Read from ``content.xml`` directly: typed values (dates, times,
    numbers) as the file stores them, merged cells filled."""
    import zipfile
    from xml.etree import ElementTree as ET

    data = path.read_bytes()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            root = ET.fromstring(z.read("content.xml"))
    except (zipfile.BadZipFile, KeyError, ET.ParseError, OSError) as exc:
        raise IngestError(
            f"{file}: not a readable .ods spreadsheet ({type(exc).__name__})"
        ) from None
    T = _TB
    out = []
    for sheet in root.iter(f"{T}table"):
        grid, merged = _ods_grid(sheet)
        _fill_merged(grid, merged)
        tbl = grid_table(
            grid,
            path=path,
            file=file,
            sheet=sheet.get(f"{T}name"),
            fmt="ods",
            digest=sha256_bytes(data),
            header_score=header_score,
            date_of=date_of,
        )
        if tbl is not None:
            out.append(tbl)
    return out


def _ods_grid(sheet: Any) -> tuple[list[list[Any]], list[tuple[int, int, int, int]]]:
    """Rows of typed values of one ``table:table``, and its merged ranges (1-based)."""
    T = _TB
    rows: list[list[Any]] = []
    merged = []
    pending_rows = 0  # repeated empty rows (a sheet ends in a million of them) kept lazily
    for row in sheet.iter(f"{T}table-row"):
        cells: list[Any] = []
        pending = 0
        for c in row:
            if c.tag not in (f"{T}table-cell", f"{T}covered-table-cell"):
                continue
            rep = int(c.get(f"{T}number-columns-repeated", "1"))
            v = _ods_value(c)
            if v is None:
                pending += rep
                continue
            cells.extend([None] * pending)
            pending = 0
            span_r = int(c.get(f"{T}number-rows-spanned", "1"))
            span_c = int(c.get(f"{T}number-columns-spanned", "1"))
            r0 = len(rows) + pending_rows + 1
            for _ in range(min(rep, MAX_REPEAT)):
                if span_r > 1 or span_c > 1:
                    c0 = len(cells) + 1
                    merged.append((r0, c0, r0 + span_r - 1, c0 + span_c - 1))
                cells.append(v)
        rep = int(row.get(f"{T}number-rows-repeated", "1"))
        if not cells:
            pending_rows += rep
            continue
        rows.extend([] for _ in range(pending_rows))
        pending_rows = 0
        rows.extend(list(cells) for _ in range(min(rep, MAX_REPEAT)))
    return rows, merged


MAX_REPEAT = 10_000  # repeats of a non-empty cell or row beyond this are formatting, not data


def _ods_value(c: Any) -> Any:
    O, X = _OF, _TX  # noqa: E741
    typ = c.get(f"{O}value-type")
    if typ in ("float", "percentage", "currency"):
        return float(c.get(f"{O}value"))
    if typ == "date":
        v = c.get(f"{O}date-value", "")
        try:
            d = _dt.datetime.fromisoformat(v)
        except ValueError:
            return v
        return d if "T" in v else d.date()
    if typ == "time":
        m = _ODS_DURATION.match(c.get(f"{O}time-value", ""))
        if m:
            h, mi, sec = int(m.group(1)), int(m.group(2)), float(m.group(3))
            return _dt.timedelta(hours=h, minutes=mi, seconds=sec)
    if typ == "boolean":
        return c.get(f"{O}boolean-value") == "true"
    paras = ["".join(p.itertext()) for p in c.iter(f"{X}p")]
    return "\n".join(paras) if paras else None


# -- SPSS -----------------------------------------------------------------------------------


def read_sav(path: Path, *, file: str, header_score: Callable[[list[str]], float]) -> RawTable:
    """An SPSS ``.sav`` file (pyreadstat): value labels applied (a coded answer ``1`` with
    the label ``Ja`` reads as ``Ja``, as in a CSV export with labels), dates as dates.
    Variable labels are the label row: a column whose name is not recognised is taken
    under its label when that is (``q3`` labelled ``Startdato``). Row numbers are case
    numbers. SPSS user-missing codes read as empty."""
    import pyreadstat

    data = path.read_bytes()
    try:
        df, meta = pyreadstat.read_sav(str(path), apply_value_formats=True)
    except Exception as exc:  # pyreadstat.ReadstatError, ... on corrupt files
        raise IngestError(f"{file}: not a readable SPSS .sav file ({type(exc).__name__})") from None
    names = [str(c) for c in df.columns]
    var_labels = [meta.column_names_to_labels.get(c) or None for c in df.columns]
    header = _prefer_known(names, [var_labels], lambda h: header_score([h]) > 0)
    cols = []
    for c in df.columns:
        vals = df[c].astype(object).tolist()
        cols.append(_clean(_factorize([_sav_text(v) for v in vals])))
    n = len(df)
    t = RawTable(
        path=path,
        file=file,
        sheet=None,
        format="sav",
        sha256=sha256_bytes(data),
        header=header,
        cols=cols,
        lines=np.arange(1, n + 1, dtype=np.int64),
        n_read=n,
        labels=[var_labels],
    )
    flag_oversized(t)
    skip_blank_and_total(t)
    return t


def _sav_text(v: Any) -> str | None:
    import pandas as pd

    if v is None or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime()
    return cell_text(v)


# -- dispatch -------------------------------------------------------------------------------

#: file suffixes read as tables (anything else in the delivery folder is not a table)
SUFFIXES = (".csv", ".txt", ".xlsx", ".xls", ".ods", ".sav", ".parquet")


def read_table(
    path: Path,
    *,
    header_score: Callable[[list[str]], float],
    date_of: Callable[[str], int | None],
) -> list[RawTable]:
    """Read one delivered file by its suffix (one table per sheet of a workbook)."""
    suffix, file = path.suffix.lower(), path.name
    if suffix in (".csv", ".txt"):
        return [read_csv(path, file=file, header_score=header_score)]
    if suffix in (".xlsx", ".xls", ".ods"):
        fn = {".xlsx": read_xlsx, ".xls": read_xls, ".ods": read_ods}[suffix]
        return fn(path, file=file, header_score=header_score, date_of=date_of)
    if suffix == ".sav":
        return [read_sav(path, file=file, header_score=header_score)]
    return [read_parquet(path, file=file)]


# -- Parquet --------------------------------------------------------------------------------


def read_parquet(path: Path, *, file: str) -> RawTable:
    """Read a canonical Parquet table; typed columns become text."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    data = path.read_bytes()
    try:
        tbl = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        raise IngestError(f"{file}: not a readable Parquet file ({type(exc).__name__})") from None
    cols = []
    for name in tbl.column_names:
        ch = tbl.column(name).combine_chunks() if tbl.num_rows else tbl.column(name)
        typ = ch.type
        if pa.types.is_dictionary(typ):
            ch = ch.cast(typ.value_type)
            typ = ch.type
        if pa.types.is_timestamp(typ) or pa.types.is_date(typ):
            ch = pc.strftime(ch.cast(pa.timestamp("s")), format="%Y-%m-%d")
        elif pa.types.is_floating(typ):
            ch = pc.if_else(pc.is_nan(ch), pa.scalar(None, typ), ch)
            vals = ch.to_pylist()
            ch = pa.array([None if v is None else cell_text(v) for v in vals], pa.string())
        elif pa.types.is_boolean(typ):
            ch = pc.if_else(ch, "true", "false")
        elif not pa.types.is_string(typ) and not pa.types.is_large_string(typ):
            ch = ch.cast(pa.string())
        enc = pc.dictionary_encode(ch)
        if isinstance(enc, pa.ChunkedArray):
            enc = enc.combine_chunks()
        codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
        cols.append(_clean(Col(codes, enc.dictionary.to_pylist())))
    n = tbl.num_rows
    t = RawTable(
        path=path,
        file=file,
        sheet=None,
        format="parquet",
        sha256=sha256_bytes(data),
        header=list(tbl.column_names),
        cols=cols,
        lines=np.arange(1, n + 1, dtype=np.int64),
        n_read=n,
    )
    flag_oversized(t)
    skip_blank_and_total(t)
    return t
