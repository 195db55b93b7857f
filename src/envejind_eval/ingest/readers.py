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
Excel (.xlsx)
    One :class:`RawTable` per sheet. Merged cells are filled with their top-left value. The
    header row is found among the first rows (title rows above it are skipped and counted);
    blank rows and total rows (``I alt``, ``Total``, ``Sum``) are skipped and counted. Cells
    holding real dates or times become ISO text; numbers become plain text. A formula
    without a stored result is a ``formula_without_value`` problem, not a blank.
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
TOTAL_LABELS = frozenset({"i alt", "ialt", "i alt:", "total", "totalt", "sum", "samlet", "i alt."})


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
    format: str  # csv / xlsx / parquet
    sha256: str
    header: list[str]
    cols: list[Col]
    lines: np.ndarray  # row number as the user sees it (CSV line / Excel row), per data row
    n_read: int  # every row after the header (data + skipped)
    skipped: dict[str, int] = field(default_factory=lambda: {"title": 0, "blank": 0, "total": 0})
    encoding: str | None = None
    separator: str | None = None
    header_dates: list[int | None] | None = None  # xlsx: header cells that are real dates
    letters: list[str] | None = None  # xlsx column letters
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
    total_vals = [
        i
        for i, v in enumerate(first.values)
        if len(v) <= 12 and v[:1] in "iItTsS" and _norm_label(v) in TOTAL_LABELS
    ]
    total = np.isin(first.codes, total_vals) if total_vals else np.zeros(t.n_rows, dtype=bool)
    total &= ~blank
    t.skipped["blank"] += int(blank.sum())
    t.skipped["total"] += int(total.sum())
    _drop_rows(t, ~(blank | total))


def _norm_label(v: str) -> str:
    return re.sub(r"\s+", " ", v.strip().lower())


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
    """An Excel cell value as text: ISO for dates, ``HH:MM`` for times, plain numbers."""
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
            return v.strftime("%H:%M")
        return v.isoformat()
    if isinstance(v, _dt.date):
        return v.isoformat()
    if isinstance(v, _dt.time):
        return v.strftime("%H:%M")
    if isinstance(v, _dt.timedelta):
        secs = int(v.total_seconds())
        return f"{secs // 3600:02d}:{secs % 3600 // 60:02d}"
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
    from openpyxl.utils import get_column_letter

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
        for rng in ws.merged_cells.ranges:
            top = ws.cell(rng.min_row, rng.min_col).value
            for r in range(rng.min_row, rng.max_row + 1):
                for c in range(rng.min_col, rng.max_col + 1):
                    if r - 1 < len(grid) and c - 1 < len(grid[r - 1]):
                        grid[r - 1][c - 1] = top
        texts = [[cell_text(v) for v in row] for row in grid]
        # formulas without a stored result (0-based row, col): problems, not blanks
        uncached = {
            (r - 1, c - 1)
            for r, c in formulas.get(ws.title, ())
            if r - 1 >= len(texts) or c - 1 >= len(texts[r - 1]) or texts[r - 1][c - 1] is None
        }
        last = max((r for r, _ in uncached), default=-1)
        while len(texts) > last + 1 and not any(texts[-1]):
            texts.pop()
        texts.extend([] for _ in range(last + 1 - len(texts)))
        if not texts:
            continue
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
        skipped = {"title": 0, "blank": 0, "total": 0}
        for row in texts[:hdr]:
            skipped["title" if any(row) else "blank"] += 1
        body = texts[hdr + 1 :]
        problems = [
            (r - hdr - 1, c, "formula_without_value", FORMULA_MSG)
            for r, c in sorted(uncached)
            if r > hdr
        ]
        if any(r == hdr for r, _ in uncached):
            ref = get_column_letter(min(c for r, c in uncached if r == hdr) + 1) + str(hdr + 1)
            raise IngestError(f"{file}[{ws.title}] cell {ref}: a header {FORMULA_MSG}")
        cols = [_clean(_factorize([r[j] for r in body])) for j in range(width)]
        if not body:
            cols = [Col(np.empty(0, dtype=np.int32), []) for _ in range(width)]
        tbl = RawTable(
            path=path,
            file=file,
            sheet=ws.title,
            format="xlsx",
            sha256=digest,
            header=header,
            cols=cols,
            lines=np.arange(hdr + 2, hdr + 2 + len(body), dtype=np.int64),
            n_read=len(body) + hdr,
            skipped=skipped,
            header_dates=hdates,
            letters=[get_column_letter(j + 1) for j in range(width)],
            problems=problems,
        )
        flag_oversized(tbl)
        skip_blank_and_total(tbl)
        out.append(tbl)
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
