"""The ingestion pipeline: raw tables -> canonical rows with provenance -> Dataset.

Every delivered row has a global id (``grow``) that maps back to its file, sheet and line.
Canonical rows carry the ``grow`` of the row they came from and, for wide layouts, the
column (``cell``) of the cell they came from. Steps:

1. classify each raw table (kind, layout) and map its headers to fields;
2. parse each field once per unique text (CPR -> pseudonym, dates, codes, numbers);
   unusable values become problems and their rows are quarantined;
3. per file, rows with the same key: identical content -> duplicates (dropped, counted),
   different content -> conflict (every such row quarantined);
4. build the canonical tables and run the canonical validation
   (:func:`envejind_eval.schema.validate_tables`; for attendance an equivalent vectorised
   check), quarantining the rows of failing canonical rows until nothing new fails.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from envejind_eval.errors import IngestError
from envejind_eval.ingest import dates as D
from envejind_eval.ingest import mapping as M
from envejind_eval.ingest import pseudonymise as P
from envejind_eval.ingest.readers import (
    SUFFIXES,
    Col,
    RawTable,
    _drop_rows,
    read_table,
    total_labels,
)
from envejind_eval.ingest.report import (
    COLUMN_COLUMNS,
    FILE_COLUMNS,
    PROBLEM_COLUMNS,
    IngestReport,
)

log = logging.getLogger("envejind_eval.ingest")

_WIDE_CANON = {
    "attendance": ("status", "date"),
    "measurements": ("value", "item"),
    "outcomes": ("value", "indicator"),
}
TABLE_OF_KIND = {
    "participants": "participants",
    "cohorts": "cohorts",
    "attendance": "attendance",
    "arrival": "attendance",
    "activities": "activities",
    "measurements": "measurements",
    "outcomes": "outcomes",
}
ID_FIELDS = ("cpr", "participant_id")
REQUIRED = {
    ("participants", "long"): ("municipality", "cohort_id", "start_date", "status"),
    ("cohorts", "long"): ("cohort_id", "municipality", "start_date"),
    ("attendance", "long"): ("date", "attendance_code"),
    ("attendance", "wide"): (),
    ("arrival", "long"): ("date", "arrival_time"),
    ("activities", "long"): ("date", "activity", "attended"),
    ("measurements", "wide"): ("timepoint", "rater"),
    ("measurements", "long"): ("instrument", "timepoint", "rater", "item"),
    ("outcomes", "wide"): ("timepoint",),
    ("outcomes", "long"): ("timepoint", "indicator"),
}
FIELD_TO_CANON = {
    "attendance_code": "status",
    "cpr": "participant_id",
    "end_date": "end_date",
}
MAX_MINUTES = 24 * 60  # one activity on one day
MSG = {
    "invalid_date": (
        "not a date in an accepted form (dd-mm-yyyy, dd.mm.yyyy, dd/mm/yyyy, yyyy-mm-dd or an "
        "Excel serial number; day before month)"
    ),
    "invalid_number": (
        "not a number in this file's decimal format (files.decimal: with the decimal comma "
        "1234,5 or 1.234,5; with the decimal point 1234.5)"
    ),
    "ambiguous_number": (
        "'.' between groups of three digits may be a thousands separator or a decimal "
        "point, and nothing in the file settles which: write the number without it (1200) "
        "or with a decimal comma (1,2); in a workbook, enter it as a number, not text"
    ),
    "out_of_range": f"minutes must be between 0 and {MAX_MINUTES} (one day)",
    "invalid_time": "not a time of day (HH:MM or HH:MM:SS)",
    "not_null": "a value is required here",
    "duplicate_key_conflict": (
        "another row has the same key with different values; both are quarantined"
    ),
}
SEVERITY_ERROR, SEVERITY_WARNING, SEVERITY_INFO = "error", "warning", "info"


# -- small helpers ----------------------------------------------------------------------------


def _shown(text: Any) -> Any:
    """A delivered name (file, sheet, header) as it may be shown: CPR-shaped parts masked.
    The mask has no brackets, so ``file[sheet]`` stays unambiguous."""
    from envejind_eval.disclosure.scan import redact_cpr

    return redact_cpr(text, P.NAME_MASK) if isinstance(text, str) else text


def _shown_all(labels: Any) -> Any:
    """:func:`_shown` of a label or of an array of labels (once per distinct label)."""
    if not isinstance(labels, np.ndarray | list):
        return _shown(labels)
    memo: dict[Any, Any] = {}
    return [memo[x] if x in memo else memo.setdefault(x, _shown(x)) for x in labels]


def _redact_cell(text: str, *, free_text: bool = False) -> str:
    """A delivered value for the quarantine file: CPR-shaped text replaced; a whole cell
    holding a 9-digit number that reads as a CPR without its leading 0 replaced too; in
    free text, a value shaped like a personal name (as :meth:`Pipeline._redact` does)."""
    from envejind_eval.disclosure.scan import contains_cpr

    new, _ = P.redact_cpr(text)
    if contains_cpr(new, field=True):
        return P.REDACTED
    if free_text and M.looks_like_person_name(new):
        return P.REDACTED_NAME
    return new


def combine(arrs: list[np.ndarray]) -> np.ndarray:
    """Row-wise combination of non-negative-or--1 int codes into one int64 code."""
    out = arrs[0].astype(np.int64) + 1
    for a in arrs[1:]:
        m = int(a.max()) + 2 if len(a) else 2
        if out.size and int(out.max()) >= (1 << 62) // m:
            out = pd.factorize(out)[0].astype(np.int64)
        out = out * m + (np.asarray(a, dtype=np.int64) + 1)
    return out


def dup_mask(key: np.ndarray) -> np.ndarray:
    """``pandas.Series(key).duplicated(keep=False)`` by sorting (radix sort for dense keys);
    much faster than hashing on sparse int64 keys."""
    if len(key) < 2:
        return np.zeros(len(key), dtype=bool)
    lo = int(key.min())
    k = key - lo
    if int(k.max()) < (1 << 31):
        k = k.astype(np.int32)
    s = np.sort(k, kind="stable")
    same = s[1:] == s[:-1]
    if not same.any():
        return np.zeros(len(key), dtype=bool)
    return np.isin(k, np.unique(s[1:][same]))


def _grouped_increasing(first: np.ndarray, second: np.ndarray) -> bool:
    """True when the rows come grouped by ``first`` (one run per value) and ``second``
    strictly increases within each run: then no two rows share (first, second)."""
    if len(first) < 2:
        return True
    same = first[1:] == first[:-1]
    if not ((second[1:] > second[:-1]) | ~same).all():
        return False
    heads = first[np.flatnonzero(np.concatenate(([True], ~same)))]
    return len(np.unique(heads)) == len(heads)


@dataclass
class Parsed:
    """A field parsed once per unique text; ``idx`` maps rows to uniques (last = empty)."""

    values: np.ndarray  # object, per unique (+ a trailing empty entry)
    rules: np.ndarray  # object: rule name or None, per unique (+ trailing None)
    idx: np.ndarray  # per row

    @property
    def row_values(self) -> np.ndarray:
        return self.values[self.idx]

    @property
    def bad(self) -> np.ndarray:
        ub = np.array([r is not None for r in self.rules])
        return ub[self.idx]

    @property
    def empty(self) -> np.ndarray:
        return self.idx == len(self.values) - 1

    def codes(self) -> np.ndarray:
        """Per-row code of the parsed value (equal values -> equal codes; empty -> -1)."""
        seen: dict[Any, int] = {}
        u = np.empty(len(self.values), dtype=np.int64)
        for i, v in enumerate(self.values[:-1]):
            k = v if v == v else "\x00nan"  # NaN != NaN
            u[i] = seen.setdefault(k, len(seen))
        u[-1] = -1
        return u[self.idx]


def parse_col(col: Col, fn: Callable[[str], tuple[Any, str | None]]) -> Parsed:
    n = len(col.values)
    values = np.empty(n + 1, dtype=object)
    rules = np.empty(n + 1, dtype=object)
    for i, v in enumerate(col.values):
        values[i], rules[i] = fn(v)
    values[n], rules[n] = None, None
    idx = np.where(col.codes < 0, n, col.codes)
    return Parsed(values, rules, idx)


# Numbers. Thousands are grouped by threes with '.' (Danish) or a space; the decimal mark is
# the file's (see Pipeline._decimal). '1.200' in a file whose decimal mark nothing settled
# (whole numbers only) may be 1200 or 1.2: it is quarantined, not guessed.
_INT = r"(?:\d+|\d{1,3}(?: \d{3})+)"  # 1200, 1 200
_DOT_GROUPED = r"\d{1,3}(?:\.\d{3})+"  # 1.200, 12.345.678
_NUMBER_RX = {
    "comma": re.compile(rf"^-?(?:{_INT}|{_DOT_GROUPED})(?:,\d+)?$"),
    "point": re.compile(rf"^-?{_INT}(?:\.\d+)?$"),
    "either": re.compile(rf"^-?{_INT}(?:[.,]\d+)?$"),  # typed cells of .xlsx / Parquet
}
_COMMA_DECIMAL = re.compile(rf"^-?(?:{_INT}|{_DOT_GROUPED}),\d+$")
_POINT_DECIMAL = re.compile(rf"^-?{_INT}\.\d+$")
_DOT_GROUPED_RX = re.compile(rf"^-?{_DOT_GROUPED}$")


def _number_parser(
    decimal: str, *, settled: bool = True, upper: float | None = None
) -> Callable[[str], tuple[Any, str | None]]:
    rx = _NUMBER_RX[decimal]

    def fn(v: str) -> tuple[Any, str | None]:
        t = v.replace("\u00a0", " ").replace("\u202f", " ")  # Excel's spaces
        if not rx.match(t):
            return None, "invalid_number"
        # in workbooks a number cell never reads as 1.200 (see readers.cell_text): that is
        # text typed as 1200 or as 1.2
        if (decimal == "either" or not settled) and _DOT_GROUPED_RX.match(t):
            return None, "ambiguous_number"
        t = t.replace(" ", "")
        if decimal == "comma":
            t = t.replace(".", "")  # thousands
        x = float(t.replace(",", "."))
        if upper is not None and not 0 <= x <= upper:
            return None, "out_of_range"
        return x, None

    return fn


def _date_fn(v: str) -> tuple[Any, str | None]:
    d, _ = D.parse_date(v)
    return (d, None) if d is not None else (None, "invalid_date")


def _time_fn(v: str) -> tuple[Any, str | None]:
    t = D.parse_time(v)
    return (t, None) if t is not None else (None, "invalid_time")


def _text_fn(v: str) -> tuple[Any, str | None]:
    return v, None


def _year_fn(v: str) -> tuple[Any, str | None]:
    t = v.strip()
    if t.endswith(".0"):
        t = t[:-2]
    if t.isdigit() and len(t) == 4 and 1900 <= int(t) <= 2100:
        return int(t), None
    return None, "invalid_year"


def _code_fn(codes: dict[str, str]) -> Callable[[str], tuple[Any, str | None]]:
    def fn(v: str) -> tuple[Any, str | None]:
        c = codes.get(M.norm(v))
        return (c, None) if c is not None else (None, "unknown_code")

    return fn


def _att_codes(p: Parsed, rows: np.ndarray | slice) -> np.ndarray:
    from envejind_eval.schema import ATTENDANCE_STATUSES

    u = np.array([ATTENDANCE_STATUSES.index(v) if v else -1 for v in p.values], dtype=np.int64)
    return u[p.idx[rows]]


# -- the pipeline -------------------------------------------------------------------------------


@dataclass
class Source:
    raw: RawTable
    kind: str
    layout: str
    fields: dict[str, int]  # field -> header index
    instrument: str | None
    offset: int = 0
    decimal: str | None = None
    decimal_settled: bool = True  # False: no number showed the decimal mark
    date_forms: set[str] = field(default_factory=set)
    ignored: list[int] = field(default_factory=list)
    names: list[int] = field(default_factory=list)  # name columns: never read nor written
    targets: dict[int, str] = field(default_factory=dict)  # header -> indicator/item mapped
    derived: dict[str, int] = field(default_factory=dict)  # field -> rows derived from CPR
    dropped: dict[str, str] = field(default_factory=dict)  # field -> header, values were names
    wide_cols: list[int] = field(
        default_factory=list
    )  # header indices of date/item/indicator cells
    wide_keys: list[Any] = field(default_factory=list)  # day / item id / indicator per wide col
    redacted_rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    pcode: np.ndarray = field(
        default_factory=lambda: np.empty(0, dtype=np.int64)
    )  # per row participant code (-1 = none)
    parsed: dict[str, Parsed] = field(default_factory=dict)
    bad: np.ndarray = field(
        default_factory=lambda: np.empty(0, dtype=np.int64)
    )  # per row: has an error
    dup: np.ndarray = field(
        default_factory=lambda: np.empty(0, dtype=np.int64)
    )  # per row: exact duplicate (dropped)

    @property
    def file(self) -> str:
        """The file name as shown (CPR-shaped parts masked)."""
        return _shown(self.raw.file)

    @property
    def sheet(self) -> str | None:
        return None if self.raw.sheet is None else _shown(self.raw.sheet)

    @property
    def name(self) -> str:
        """``file[sheet]`` as shown in messages, reports and quarantine file names."""
        return self.file + (f"[{self.sheet}]" if self.sheet else "")

    @property
    def n(self) -> int:
        return self.raw.n_rows

    def header_of(self, fld: str) -> str:
        i = self.fields.get(fld)
        return self.raw.header[i] if i is not None else fld


class Pipeline:
    def __init__(self, folder: Path, mapping: M.Mapping_, key: Any, instruments: dict) -> None:
        self.folder = folder
        self.mapping = mapping
        self._key_arg = key
        self._key: bytes | None = None
        self.instruments = instruments
        self.codes = mapping.codes
        self.sources: list[Source] = []
        self.pids: dict[str, int] = {}
        self.pid_list: list[str] = []
        # problem records: (grow array, col label array-or-str, rule, message, severity, cell)
        self._problems: list[tuple[np.ndarray, Any, str, str, str, Any]] = []
        self.quarantined: np.ndarray | None = None  # per grow
        # (file, sheet, reason, severity) of every file or sheet in the folder not read:
        # info when it is no table (a note, a lock file) or left out by datakilder.toml,
        # a warning when it is a table nothing identifies (its rows may be data)
        self.not_read: list[tuple[str, str | None, str, str]] = []
        self._cpr_cache: dict[str, tuple[int, str | None]] = {}

    # -- keys & ids ---------------------------------------------------------------------------
    def key(self) -> bytes:
        if self._key is None:
            self._key = P.load_key(self._key_arg, data_dir=self.folder)
        return self._key

    def pid_code(self, pid: str) -> int:
        c = self.pids.get(pid)
        if c is None:
            c = self.pids[pid] = len(self.pid_list)
            self.pid_list.append(pid)
        return c

    def problem(
        self,
        grow: np.ndarray,
        column: Any,
        rule: str,
        message: str,
        severity: str = SEVERITY_ERROR,
        cell: Any = None,
    ) -> None:
        if len(grow):
            self._problems.append(
                (np.asarray(grow, dtype=np.int64), column, rule, message, severity, cell)
            )

    # -- 1. reading and classification ---------------------------------------------------------
    def read(self) -> None:
        from envejind_eval.outpath import MARKER

        config = {"datakilder.toml", MARKER}  # the mapping, and our own folder marker
        if self.mapping.source is not None:
            config.add(self.mapping.source.name)
        files = []
        for p in sorted(self.folder.iterdir()):
            if not p.is_file() or p.name.lower() in config:
                continue
            reason = _unread_reason(p)
            if reason:  # listed in the report, never skipped in silence
                self.not_read.append((p.name, None, reason, SEVERITY_INFO))
            else:
                files.append(p)
        _refuse_same_stem(files)
        for path in files:
            rule = self.mapping.rule_for(path.name)
            raws = read_table(
                path,
                header_score=self.mapping.header_scorer(rule),
                date_of=lambda t: D.parse_date(t)[0],
            )
            if rule is not None and rule.sheets:
                for r in raws:
                    if r.sheet is not None and r.sheet not in rule.sheets:
                        self.not_read.append(
                            (
                                r.file,
                                r.sheet,
                                "sheet not listed under sheets in datakilder.toml",
                                SEVERITY_INFO,
                            )
                        )
                raws = [r for r in raws if r.sheet is None or r.sheet in rule.sheets]
            for raw in raws:
                src = self.classify(raw, rule)
                if src is None:
                    self.not_read.append(
                        (
                            raw.file,
                            raw.sheet,
                            "not recognised as a table by its name or columns: name it in "
                            f'datakilder.toml ([files."{raw.file}"] table = "participants", '
                            '"attendance", …)',
                            SEVERITY_WARNING,
                        )
                    )
                    continue
                self.sources.append(src)
        self._unused_mappings()
        off = 0
        for s in self.sources:
            s.offset = off
            off += s.n
        self.n_grow = off

    def _unused_mappings(self) -> None:
        """A header mapped for a file in datakilder.toml that none of the files (sheets)
        it applies to has: a dead mapping (a typo, a renamed column) is a warning."""
        for rule in self.mapping.files:
            mine = [
                i for i, s in enumerate(self.sources) if self.mapping.rule_for(s.raw.file) is rule
            ]
            if not mine:
                continue
            seen = {M.norm(h) for i in mine for h in self.sources[i].raw.header}
            for h in rule.columns:
                if h not in seen:
                    self.problem(
                        np.array([-1 - mine[0]]),
                        h,
                        "mapping_unused",
                        f'mapped under [files."{rule.pattern}".columns] in datakilder.toml, '
                        "but no column of the file has this header (headers are compared "
                        "ignoring case, spaces and punctuation)",
                        SEVERITY_WARNING,
                    )

    def classify(self, raw: RawTable, rule: M.FileRule | None) -> Source | None:
        stem = raw.path.stem
        kind, layout, suffix = M.kind_from_name(stem)
        if rule is not None and rule.table:
            kind, layout = rule.table, rule.layout
        if kind is None:
            kind = self._kind_from_header(raw, rule)
            if kind is None:
                return None
        fields: dict[str, int] = {}
        targets: dict[int, str] = {}
        readable = {*ID_FIELDS, *M.KIND_FIELDS[kind]}
        ids: list[int] = []
        names: list[int] = []
        for i, h in enumerate(raw.header):
            f = M.header_field(h, kind, self.mapping, rule)
            if M.is_name_header(h, f):
                names.append(i)  # dropped with a warning (see _parse_source)
                continue
            if f in ID_FIELDS:
                ids.append(i)
            if f is not None and f != "ignore" and (f in fields or f not in readable):
                # an indicator or instrument item (a wide column), a field another column
                # already gives or one this table does not read: not parsed, accounted
                # (values not loaded are a problem, see column_accounts)
                targets[i] = f
                continue
            if f is not None and f != "ignore" and f not in fields:
                fields[f] = i
        if len(ids) > 1:
            cols = " and ".join(f"'{raw.header[i]}'" for i in ids)
            raise IngestError(
                f"{raw.file}{f'[{raw.sheet}]' if raw.sheet else ''}: {len(ids)} person columns "
                f"({cols}); which one identifies the person? Remove the others, or map them "
                'to "ignore" in datakilder.toml'
            )
        for f, v in (rule.values if rule else {}).items():
            if f in fields:
                raise IngestError(
                    f"{raw.file}{f'[{raw.sheet}]' if raw.sheet else ''}: {f} is both a column "
                    f"('{raw.header[fields[f]]}') and a fixed value in datakilder.toml; "
                    "remove one"
                )
            fields[f] = _add_fixed_column(raw, f, v)
        idf = fields.get("cpr", fields.get("participant_id"))
        if idf is not None:
            _skip_total_rows(raw, idf)
        if layout is None:
            layout = self._layout(kind, raw, fields)
        instrument = None
        if kind == "measurements" and layout == "wide":
            instrument = (rule.instrument if rule else None) or self._instrument(
                suffix, raw, fields
            )
        return Source(raw, kind, layout, fields, instrument, names=names, targets=targets)

    def _kind_from_header(self, raw: RawTable, rule: M.FileRule | None) -> str | None:
        f = {M.header_field(h, None, self.mapping, rule) for h in raw.header} - {None}
        has_id = bool(f & set(ID_FIELDS))
        ndates = sum(
            d is not None for d in (raw.header_dates or [D.parse_date(h)[0] for h in raw.header])
        )
        if has_id and ndates:
            return "attendance"
        if has_id and "activity" in f:
            return "activities"
        if has_id and "timepoint" in f:
            inds = {M.indicator_of(h) for h in [*raw.header, *f] if h and not M.is_field(h)}
            return "outcomes" if inds - {None} or "indicator" in f else "measurements"
        if has_id and "date" in f and f & {"attendance_code", "status"}:
            return "attendance"
        if has_id and "date" in f and "arrival_time" in f:
            return "arrival"
        if has_id and f & {"municipality", "cohort_id", "start_date"}:
            return "participants"
        if not has_id and "cohort_id" in f and "municipality" in f:
            return "cohorts"
        return None

    def _layout(self, kind: str, raw: RawTable, fields: dict[str, int]) -> str:
        if kind == "attendance":
            return "long" if "date" in fields else "wide"
        if kind == "measurements":
            return "long" if "item" in fields else "wide"
        if kind == "outcomes":
            return "long" if "indicator" in fields else "wide"
        return "long"

    def _instrument(self, suffix: str | None, raw: RawTable, fields: dict[str, int]) -> str:
        from envejind_eval.disclosure.scan import contains_cpr

        # a name holding a CPR never becomes an instrument id (it would reach the tables)
        cands = []
        if suffix and not contains_cpr(raw.file):
            cands.append(suffix.replace(" ", "_"))
        if raw.sheet and not contains_cpr(raw.sheet):
            cands.append(M.norm(raw.sheet).replace(" ", "_"))
        for c in cands:
            if c in self.instruments:
                return c
        if "instrument" in fields:
            return ""  # per row
        if cands:
            return cands[0]
        raise IngestError(
            f"{raw.file}: cannot tell which instrument this form belongs to; name the file "
            "maalinger_<instrument>.csv or set instrument in datakilder.toml"
        )

    # -- 2. parsing ----------------------------------------------------------------------------
    def parse(self) -> None:
        for s in self.sources:
            self._parse_source(s)

    def _grow(self, s: Source, rows: np.ndarray) -> np.ndarray:
        return np.asarray(rows, dtype=np.int64) + s.offset

    def _flag(
        self,
        s: Source,
        rows: np.ndarray,
        col: int,
        rule: str,
        message: str,
        severity: str = SEVERITY_ERROR,
    ) -> None:
        if not len(rows):
            return
        label = s.raw.header[col] if col >= 0 else ""
        cell = None
        if s.raw.letters is not None and col >= 0 and s.raw.letters[col]:
            cell = np.char.add(s.raw.letters[col], s.raw.lines[rows].astype(str)).astype(object)
        self.problem(self._grow(s, rows), label, rule, message, severity, cell)
        if severity == SEVERITY_ERROR:
            s.bad[rows] = True

    def _check_parsed(self, s: Source, p: Parsed, col: int, what: str) -> None:
        if all(r is None for r in p.rules):
            return  # every distinct value parsed: no per-row pass needed
        bad = p.bad
        if not bad.any():
            return
        rows = np.nonzero(bad)[0]
        rules = p.rules[p.idx[rows]]
        for rule in pd.unique(rules):
            sel = rows[rules == rule]
            self._flag(s, sel, col, rule, self._message(rule, what))

    def _message(self, rule: str, what: str) -> str:
        if rule == "unknown_code":
            return (
                f"code is not in the '{what}' code list (add it under [codes.{what}] in "
                "datakilder.toml if it is a valid code)"
            )
        if rule in P.CPR_RULES:
            return P.CPR_RULES[rule]
        if rule == "invalid_year":
            return "not a four-digit year"
        return MSG.get(rule, rule)

    def _decimal(self, s: Source, cols: list[int]) -> tuple[str, bool]:
        """The file's decimal mark and whether a number settles it (else the comma of
        ';'-separated Danish files, by default)."""
        if s.raw.format != "csv":
            return "either", True
        if s.raw.separator == ",":
            return "point", True
        seen_point = False
        for c in cols:
            for v in s.raw.cols[c].values:
                if _COMMA_DECIMAL.match(v):
                    return "comma", True
                if not seen_point and _POINT_DECIMAL.match(v) and not _DOT_GROUPED_RX.match(v):
                    seen_point = True
        return ("point", True) if seen_point else ("comma", False)

    def _parse_ids(self, s: Source) -> None:
        fld = (
            "cpr"
            if "cpr" in s.fields
            else "participant_id"
            if "participant_id" in s.fields
            else None
        )
        if fld is None:
            if s.kind != "cohorts":
                raise IngestError(
                    f"{s.name}: no participant column (expected one of CPR, Deltager, "
                    "participant_id); map it in datakilder.toml"
                )
            return
        ci = s.fields[fld]
        col = s.raw.cols[ci]
        vals = col.values
        if fld == "cpr":
            is_cpr = np.ones(len(vals), dtype=bool)
        else:
            is_cpr = np.array([P.looks_like_cpr(v) for v in vals], dtype=bool)
        codes_u = np.full(len(vals) + 1, -1, dtype=np.int64)
        rules_u = np.full(len(vals) + 1, None, dtype=object)
        if is_cpr.any():
            key = self.key()
            cache = self._cpr_cache  # CPR text -> (participant code or -1, rule)
            j = np.nonzero(is_cpr)[0]
            sub = [vals[i] for i in j.tolist()]
            todo = [v for v in sub if v not in cache]
            if todo:
                ps, rs = P.pseudonymise(todo, key)
                for v, ps_, r_ in zip(todo, ps.tolist(), rs.tolist(), strict=True):
                    cache[v] = (-1 if ps_ is None else self.pid_code(ps_), r_)
            got = [cache[v] for v in sub]
            codes_u[j] = [c for c, _ in got]
            rules_u[j] = [r for _, r in got]
        from envejind_eval.disclosure.scan import contains_cpr

        for k in np.nonzero(~is_cpr)[0].tolist():
            if contains_cpr(vals[k], field=True):  # e.g. "ID 0101901234": not a pseudonym
                rules_u[k] = "cpr_in_column"
            else:
                codes_u[k] = self.pid_code(vals[k])
        rules_u[len(vals)] = "not_null"
        has_empty = bool(len(col.codes)) and int(col.codes.min()) < 0
        idx = np.where(col.codes < 0, len(vals), col.codes) if has_empty else col.codes
        s.pcode = codes_u[idx]
        if s.kind == "participants" and fld == "cpr":
            self._derive_from_cpr(s, vals, codes_u, idx)
        bad_u = np.array([r is not None for r in rules_u])
        # rows are bad only through a bad distinct value or an empty cell
        if has_empty or bad_u[:-1].any():
            bad = bad_u[idx]
            rows = np.nonzero(bad)[0]
            r = rules_u[idx[rows]]
            for rule in pd.unique(r):
                sel = rows[r == rule]
                msg = MSG["not_null"] if rule == "not_null" else P.CPR_RULES[rule]
                if rule == "not_null":
                    msg = "the participant (CPR) is missing"
                self._flag(s, sel, ci, rule, msg)

    def _derive_from_cpr(
        self, s: Source, vals: list[str], codes_u: np.ndarray, idx: np.ndarray
    ) -> None:
        """Birth year and sex from the CPR number when the participant list lacks them
        (read before the CPR is dropped; only the derived values are kept). Counted in
        ``s.derived`` and shown in the report as derived."""
        todo = [f for f in ("birth_year", "sex") if f not in s.fields and f not in s.dropped]
        if not todo:
            return
        year = np.full(len(vals) + 1, None, dtype=object)
        sex = np.full(len(vals) + 1, None, dtype=object)
        for j in np.flatnonzero(codes_u[:-1] >= 0).tolist():
            digits, _ = P.normalise_cpr(vals[j])
            if digits is not None:
                year[j], sex[j] = P.birth_year_and_sex(digits)
        for f, u in (("birth_year", year), ("sex", sex)):
            if f in todo:
                s.parsed[f] = Parsed(u, np.full(len(u), None, dtype=object), idx)
                s.derived[f] = int((u[idx] != None).sum())  # noqa: E711

    def _parse_source(self, s: Source) -> None:
        raw = s.raw
        s.bad = np.zeros(s.n, dtype=bool)
        s.dup = np.zeros(s.n, dtype=bool)
        for r, c, rule, msg in raw.problems:
            self._flag(s, np.array([r]), c, rule, msg)
        named = self._drop_name_columns(s)
        req = REQUIRED.get((s.kind, s.layout), ())
        missing = [f for f in req if f not in s.fields]
        if missing:
            if any(f in named for f in missing):
                f = next(f for f in missing if f in named)
                raise IngestError(
                    f"{s.name}: column '{named[f]}' ({f}) looks like it holds personal names "
                    "(two or more capitalised words, no word shared by most); deliver codes "
                    f"instead, or, if these are {f} labels, map the column in datakilder.toml "
                    f'([columns] "{named[f]}" = "{f}")'
                )
            raise _missing_columns(s.name, missing)
        self._parse_ids(s)
        used = set(s.fields.values())
        # wide columns
        if s.layout == "wide":
            self._wide_columns(s, used)
        frule = self.mapping.rule_for(raw.file)
        for i, h in enumerate(raw.header):
            if i in s.targets or i in used or i in s.wide_cols or i in s.names:
                continue
            # a column datakilder.toml maps to "ignore" is left out on purpose
            if h.strip() and M.header_field(h, s.kind, self.mapping, frule) != "ignore":
                s.ignored.append(i)
        num_fields = [s.fields[f] for f in ("minutes", "value") if f in s.fields]
        if s.kind == "measurements" and s.layout == "wide":
            num_fields += s.wide_cols
        s.decimal, s.decimal_settled = self._decimal(s, num_fields) if num_fields else (None, True)
        numfn = _number_parser(s.decimal or "either", settled=s.decimal_settled)
        for f, ci in s.fields.items():
            if f in ID_FIELDS:
                continue
            col = raw.cols[ci]
            if f in ("start_date", "planned_end_date", "exit_date", "end_date", "date"):
                p = parse_col(col, _date_fn)
                s.date_forms.update(
                    x for x in (D.parse_date(v)[1] for v in col.values) if x is not None
                )
            elif f in M.FIELD_CODES:
                lst = M.FIELD_CODES[f]
                p = parse_col(col, _code_fn(self.codes[lst]))
                if f == "sex":  # blank -> unknown
                    p.values[-1] = "unknown"
            elif f == "birth_year":
                p = parse_col(col, _year_fn)
            elif f == "arrival_time":
                p = parse_col(col, _time_fn)
            elif f == "minutes":
                p = parse_col(
                    col,
                    _number_parser(
                        s.decimal or "either", settled=s.decimal_settled, upper=MAX_MINUTES
                    ),
                )
            elif f == "value" and s.kind == "measurements":
                p = parse_col(col, numfn)
            elif f == "value" and s.kind == "outcomes":
                p = parse_col(col, _code_fn(self.codes["yes_no"]))
                p.values = np.array(
                    [None if v is None else float(v) for v in p.values], dtype=object
                )
            elif f == "indicator":
                p = parse_col(
                    col,
                    lambda v: (
                        (M.INDICATOR_ALIASES.get(M.norm(v)), None)
                        if M.norm(v) in M.INDICATOR_ALIASES
                        else (None, "unknown_code")
                    ),
                )
            else:
                p = parse_col(col, _text_fn)
            s.parsed[f] = p
            what = M.FIELD_CODES.get(f, f)
            self._check_parsed(s, p, ci, what)
            if f in M.FREE_TEXT_FIELDS:
                self._redact(s, f, ci, p)
        for f in req:
            p = s.parsed[f]
            empty = p.empty & ~s.bad
            self._flag(s, np.nonzero(empty)[0], s.fields[f], "not_null", MSG["not_null"])
        checked = [c for f, c in s.fields.items() if f not in (*ID_FIELDS, *M.FREE_TEXT_FIELDS)]
        for ci in checked + s.wide_cols:
            self._check_cpr_shaped(s, ci)
        for i in s.ignored:
            self.problem(
                np.array([-1 - self.sources.index(s)]),
                raw.header[i],
                "ignored_column",
                "column not recognised; it is not read (map it in datakilder.toml)",
                SEVERITY_WARNING,
            )

    def _drop_name_columns(self, s: Source) -> dict[str, str]:
        """Warn about the name columns found by header and drop the text columns whose
        values look like personal names (:func:`mapping.name_like_column`); returns the
        dropped fields (field -> header). Their values are never read nor written."""
        codes = {c for lst in self.codes.values() for c in lst}
        rule = self.mapping.rule_for(s.raw.file)
        mapped = {*self.mapping.columns, *(rule.columns if rule else ())}
        dropped: dict[str, str] = {}
        for f in M.NAME_CHECK_FIELDS:
            ci = s.fields.get(f)
            if ci is None or M.norm(s.raw.header[ci]) in mapped:  # the user said what it is
                continue
            if M.name_like_column(s.raw.cols[ci].values, codes):
                dropped[f] = s.raw.header[ci]
                del s.fields[f]
                s.names.append(ci)
        s.dropped = dropped
        where = np.array([-1 - self.sources.index(s)])
        for ci in s.names:
            by_value = s.raw.header[ci] in dropped.values()
            self.problem(
                where,
                s.raw.header[ci],
                "name_column",
                (
                    "the values look like personal names (two or more capitalised words)"
                    if by_value
                    else "the header says the column holds names"
                )
                + "; the column is not read and is left out of every output, the quarantine "
                "file included (names must not be delivered: ask the sender to remove it)",
                SEVERITY_WARNING,
            )
        return dropped

    def _check_cpr_shaped(self, s: Source, ci: int) -> None:
        """A CPR-shaped value in any column read other than the id and free text (a code,
        team, mentor, date or number) is an error: the row is quarantined (the value masked
        in the quarantine file) and never reaches the canonical tables."""
        col = s.raw.cols[ci]
        from envejind_eval.disclosure.scan import contains_cpr

        hit = np.array([contains_cpr(v, field=True) for v in col.values] + [False])
        if not hit[:-1].any():
            return
        rows = np.nonzero(hit[np.where(col.codes < 0, len(col.values), col.codes)])[0]
        self._flag(s, rows, ci, "cpr_in_column", P.CPR_RULES["cpr_in_column"])

    def _redact(self, s: Source, f: str, ci: int, p: Parsed) -> None:
        """CPR-shaped text and whole values shaped like a personal name are replaced."""
        cpr = np.zeros(len(p.values), dtype=bool)
        name = np.zeros(len(p.values), dtype=bool)
        for i, v in enumerate(p.values):
            if isinstance(v, str):
                new, k = P.redact_cpr(v)
                if k:
                    p.values[i], cpr[i] = new, True
                elif M.looks_like_person_name(v):
                    p.values[i], name[i] = P.REDACTED_NAME, True
        s.redacted_rows = np.nonzero((cpr | name)[p.idx])[0]
        for mask, rule, what in (
            (cpr, "cpr_in_free_text", "CPR-shaped text"),
            (name, "name_in_free_text", "a value shaped like a personal name"),
        ):
            self._flag(
                s,
                np.nonzero(mask[p.idx])[0],
                ci,
                rule,
                f"{what} in a free-text column was redacted",
                SEVERITY_WARNING,
            )

    def _wide_columns(self, s: Source, used: set[int]) -> None:
        raw = s.raw
        if s.kind == "attendance":
            hd = raw.header_dates or [D.parse_date(h)[0] for h in raw.header]
            for i, d in enumerate(hd):
                if i not in used and d is not None:
                    s.wide_cols.append(i)
                    s.wide_keys.append(d)
            fn = _code_fn(self.codes["attendance"])
            for i in s.wide_cols:
                p = parse_col(raw.cols[i], fn)
                s.parsed[f"cell:{i}"] = p
                self._check_parsed(s, p, i, "attendance")
            if not s.wide_cols:
                raise IngestError(f"{s.name}: attendance register without date columns")
            s.date_forms.add("excel_date" if raw.format == "xlsx" else "header")
        elif s.kind == "measurements":
            # items by id, label or alias (of the item or its one-item domain); a column
            # mapped in datakilder.toml by any of these too
            inst = self.instruments.get(s.instrument or "")
            items = M.item_names(inst) if inst is not None else None
            for i, h in enumerate(raw.header):
                if i in used or i in s.names or not h.strip():
                    continue
                name = M.norm(s.targets.get(i, h))
                if items is None or name in items:
                    s.wide_cols.append(i)
                    s.wide_keys.append(items[name] if items else h.strip())
        elif s.kind == "outcomes":
            for i, h in enumerate(raw.header):
                ind = M.indicator_of(s.targets.get(i, h))
                if i not in used and ind is not None:
                    s.wide_cols.append(i)
                    s.wide_keys.append(ind)

    def parse_wide_values(self) -> None:
        for s in self.sources:
            if s.layout != "wide" or s.kind == "attendance":
                continue
            if s.kind == "measurements":
                numfn = _number_parser(s.decimal or "either", settled=s.decimal_settled)
                for i in s.wide_cols:
                    p = parse_col(s.raw.cols[i], numfn)
                    s.parsed[f"cell:{i}"] = p
                    self._check_parsed(s, p, i, "value")
            else:
                fn = _code_fn(self.codes["yes_no"])
                for i in s.wide_cols:
                    p = parse_col(s.raw.cols[i], fn)
                    p.values = np.array(
                        [None if v is None else float(v) for v in p.values], dtype=object
                    )
                    s.parsed[f"cell:{i}"] = p
                    self._check_parsed(s, p, i, "yes_no")

    # -- 3. duplicates and conflicts -------------------------------------------------------------
    def _key_fields(self, s: Source) -> list[str]:
        k = {
            ("participants", "long"): [],
            ("cohorts", "long"): ["cohort_id"],
            ("attendance", "long"): ["date"],
            ("attendance", "wide"): [],
            ("arrival", "long"): ["date"],
            ("activities", "long"): ["date", "activity"],
            ("measurements", "wide"): ["instrument", "timepoint", "rater"],
            ("measurements", "long"): ["instrument", "timepoint", "rater", "item"],
            ("outcomes", "wide"): ["timepoint"],
            ("outcomes", "long"): ["timepoint", "indicator"],
        }[(s.kind, s.layout)]
        return [f for f in k if f in s.parsed]

    def dedupe(self) -> None:
        for s in self.sources:
            if not s.n:
                continue
            kf = self._key_fields(s)
            has_id = len(s.pcode) == s.n
            parts = ([s.pcode] if has_id else []) + [s.parsed[f].codes() for f in kf]
            ok = ~s.bad
            if len(parts) == 2 and ok.all() and _grouped_increasing(*parts):
                continue  # e.g. attendance sorted by person and date: no key repeats
            key = combine(parts)
            idx = np.nonzero(ok)[0]
            k = key[idx]
            dupk = dup_mask(k)
            if not dupk.any():
                continue
            sub = idx[dupk]
            allp = [s.parsed[f].codes()[sub] for f in sorted(s.parsed)]
            content = combine([key[sub], *allp]) if allp else key[sub]
            df = pd.DataFrame({"k": key[sub], "c": content})
            nc = df.groupby("k")["c"].transform("nunique").to_numpy()
            conflict = sub[nc > 1]
            same = sub[nc == 1]
            dups = same[pd.Series(key[same]).duplicated(keep="first").to_numpy()]
            s.dup[dups] = True
            idcol = s.fields.get("cpr", s.fields.get("participant_id", -1))
            if s.kind == "cohorts":
                idcol = s.fields["cohort_id"]
            self._flag(s, conflict, idcol, "conflict", MSG["duplicate_key_conflict"])

    # -- 4. canonical tables -------------------------------------------------------------------------
    def build_rows(self) -> None:
        """Per table, canonical rows (as column arrays) with their grow and cell."""
        self.rows: dict[str, list[tuple[np.ndarray, np.ndarray, dict[str, Any]]]] = {}
        self.arrivals: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        for s in self.sources:
            if not s.n:
                continue
            keep = ~(s.bad | s.dup)
            fn = getattr(self, f"_rows_{s.kind}_{s.layout}", None)
            if fn is None:
                raise IngestError(f"{s.name}: layout '{s.layout}' is not supported for {s.kind}")
            fn(s, np.nonzero(keep)[0])

    def _emit(
        self,
        table: str,
        s: Source,
        rows: np.ndarray,
        cell: np.ndarray | None,
        cols: dict[str, np.ndarray],
    ) -> None:
        if cell is None:
            cell = np.full(len(rows), -1, np.int64)
        self.rows.setdefault(table, []).append((self._grow(s, rows), cell, cols))

    def _v(self, s: Source, f: str, rows: np.ndarray) -> Any:
        p = s.parsed.get(f)
        return None if p is None else p.values[p.idx[rows]]

    def _rows_participants_long(self, s: Source, rows: np.ndarray) -> None:
        cols = {"participant_id": s.pcode[rows]}
        for f in M.KIND_FIELDS["participants"]:
            v = self._v(s, f, rows)
            if v is None and f in s.dropped:  # a column of names (mentors'): read as blank
                v = np.full(len(rows), None, dtype=object)
            if v is not None:
                cols[f] = v
        self._emit("participants", s, rows, None, cols)

    def _rows_cohorts_long(self, s: Source, rows: np.ndarray) -> None:
        cols = {f: self._v(s, f, rows) for f in M.KIND_FIELDS["cohorts"] if f in s.parsed}
        self._emit("cohorts", s, rows, None, cols)

    def _rows_attendance_long(self, s: Source, rows: np.ndarray) -> None:
        # every row kept (rows == arange(n)): use the per-row arrays without gathering
        sel = slice(None) if len(rows) == s.n else rows
        cols = {
            "participant_id": s.pcode[sel],
            "date": self._days(s, "date", sel),
            "status": _att_codes(s.parsed["attendance_code"], sel),
        }
        if "arrival_time" in s.parsed:
            cols["arrival_time"] = self._v(s, "arrival_time", rows)
        self._emit("attendance", s, rows, None, cols)

    def _days(self, s: Source, f: str, rows: np.ndarray | slice) -> np.ndarray:
        p = s.parsed[f]
        u = np.array([D.NAT if v is None else v for v in p.values], dtype=np.int64)
        return u[p.idx[rows]]

    def _rows_attendance_wide(self, s: Source, rows: np.ndarray) -> None:
        R, C, Dd, S = [], [], [], []
        for i, day in zip(s.wide_cols, s.wide_keys, strict=True):
            p = s.parsed[f"cell:{i}"]
            sel = rows[~p.empty[rows]]
            R.append(sel)
            C.append(np.full(len(sel), i, np.int64))
            Dd.append(np.full(len(sel), day, np.int64))
            S.append(_att_codes(p, sel))
        r = np.concatenate(R) if R else np.empty(0, np.int64)
        self._emit(
            "attendance",
            s,
            r,
            np.concatenate(C) if C else np.empty(0, np.int64),
            {
                "participant_id": s.pcode[r],
                "date": np.concatenate(Dd) if Dd else np.empty(0, np.int64),
                "status": np.concatenate(S) if S else np.empty(0, np.int64),
            },
        )

    def _rows_arrival_long(self, s: Source, rows: np.ndarray) -> None:
        self.arrivals.append(
            (
                self._grow(s, rows),
                s.pcode[rows],
                self._days(s, "date", rows),
                self._v(s, "arrival_time", rows),
            )
        )

    def _rows_activities_long(self, s: Source, rows: np.ndarray) -> None:
        cols = {
            "participant_id": s.pcode[rows],
            "date": self._days(s, "date", rows),
            "activity": self._v(s, "activity", rows),
            "attended": self._v(s, "attended", rows),
        }
        if "minutes" in s.parsed:
            cols["minutes"] = self._v(s, "minutes", rows)
        self._emit("activities", s, rows, None, cols)

    @staticmethod
    def _melt_wide(
        s: Source, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """The wide cells of ``rows`` stacked column by column: (row, column, key, value)
        with the key (item id / indicator) of each column; None without wide columns."""
        R, C, It, V = [], [], [], []
        for i, key in zip(s.wide_cols, s.wide_keys, strict=True):
            p = s.parsed[f"cell:{i}"]
            R.append(rows)
            C.append(np.full(len(rows), i, np.int64))
            It.append(np.full(len(rows), key, dtype=object))
            V.append(p.values[p.idx[rows]])
        if not R:
            return None
        return np.concatenate(R), np.concatenate(C), np.concatenate(It), np.concatenate(V)

    def _rows_measurements_wide(self, s: Source, rows: np.ndarray) -> None:
        melted = self._melt_wide(s, rows)
        if melted is None:
            return
        r, c, keys, values = melted
        inst = (
            self._v(s, "instrument", r)
            if s.instrument == ""
            else np.full(len(r), s.instrument, dtype=object)
        )
        cols = {
            "participant_id": s.pcode[r],
            "instrument": inst,
            "timepoint": self._v(s, "timepoint", r),
            "rater": self._v(s, "rater", r),
            "item": keys,
            "value": values,
        }
        if "date" in s.parsed:
            cols["date"] = self._days(s, "date", r)
        self._emit("measurements", s, r, c, cols)

    def _rows_measurements_long(self, s: Source, rows: np.ndarray) -> None:
        cols = {"participant_id": s.pcode[rows]}
        for f in ("instrument", "timepoint", "rater", "item", "value"):
            cols[f] = self._v(s, f, rows)
        if "date" in s.parsed:
            cols["date"] = self._days(s, "date", rows)
        self._emit("measurements", s, rows, None, cols)

    def _rows_outcomes_wide(self, s: Source, rows: np.ndarray) -> None:
        melted = self._melt_wide(s, rows)
        if melted is None:
            return
        r, c, keys, values = melted
        self._emit(
            "outcomes",
            s,
            r,
            c,
            {
                "participant_id": s.pcode[r],
                "timepoint": self._v(s, "timepoint", r),
                "indicator": keys,
                "value": values,
            },
        )

    def _rows_outcomes_long(self, s: Source, rows: np.ndarray) -> None:
        cols = {"participant_id": s.pcode[rows]}
        for f in ("timepoint", "indicator", "value"):
            cols[f] = self._v(s, f, rows)
        self._emit("outcomes", s, rows, None, cols)

    # -- 5. canonical frames, validation, quarantine --------------------------------------------
    def _assemble(self, table: str) -> dict[str, np.ndarray]:
        """Concatenate the parts of ``table``: ``_grow``, ``_cell`` and canonical columns."""
        from envejind_eval.schema import TABLES

        parts = self.rows.get(table, [])
        out: dict[str, np.ndarray] = {
            "_grow": _cat([p[0] for p in parts]),
            "_cell": _cat([p[1] for p in parts]),
        }
        for c, spec in TABLES[table].columns.items():
            if not any(c in p[2] for p in parts):
                continue
            arrs = []
            for g, _, cols in parts:
                v = cols.get(c)
                if v is None:
                    if c == "participant_id" or (table == "attendance" and c == "status"):
                        v = np.full(len(g), -1, np.int64)
                    elif spec.kind == "date":
                        v = np.full(len(g), D.NAT, np.int64)
                    else:
                        v = np.full(len(g), None, dtype=object)
                elif spec.kind == "date" and v.dtype == object:
                    v = np.array([D.NAT if x is None else x for x in v], dtype=np.int64)
                arrs.append(v)
            out[c] = arrs[0] if len(arrs) == 1 else np.concatenate(arrs)
        return out

    def _frame(self, table: str, a: dict[str, np.ndarray], keep: np.ndarray) -> pd.DataFrame:
        """A canonical frame of the kept rows, indexed by canonical row number."""
        from envejind_eval.schema import ATTENDANCE_STATUSES, TABLES, coerce_table

        if not self.rows.get(table):
            from envejind_eval.schema import empty_table

            return empty_table(table)
        idx = np.nonzero(keep)[0]
        everything = len(idx) == len(keep)
        cols: dict[str, Any] = {}
        for c, spec in TABLES[table].columns.items():
            if c not in a:
                continue
            v = a[c] if everything else a[c][idx]
            if c == "participant_id":
                cols[c] = _str_from_codes(v, self.pid_list)
            elif table == "attendance" and c == "status":
                cols[c] = _str_from_codes(v, list(ATTENDANCE_STATUSES))
            elif spec.kind == "date":
                cols[c] = D.days_to_datetime64(v)
            elif spec.kind == "float":
                cols[c] = np.array([np.nan if x is None else float(x) for x in v], dtype=float)
            elif spec.kind == "int":
                cols[c] = pd.array([None if x is None else int(x) for x in v], dtype="Int64")
            elif spec.kind == "bool":
                cols[c] = np.array([x == "1" for x in v], dtype=bool)
            else:
                cols[c] = pd.array(v, dtype="str")
        index = pd.RangeIndex(len(idx)) if everything else pd.Index(idx)
        df = pd.DataFrame(cols, index=index, copy=False)
        if table == "attendance":  # built with the canonical dtypes; skip a 2M-row re-cast
            if "arrival_time" not in df.columns:
                df["arrival_time"] = _str_from_codes(np.full(len(df), -1), [])
            return df[list(TABLES[table].columns)]
        # a column the canonical table requires (even if its cells may be empty) that no
        # file of the table delivered: name the files, not the canonical table
        # a column whose cells may be empty that no file delivered: empty ("not
        # delivered", reported per file in column_accounts)
        for c, sp in TABLES[table].columns.items():
            if sp.required and sp.nullable and c not in df:
                df[c] = _null_column(sp.kind, len(df), df.index)
        missing = [c for c, sp in TABLES[table].columns.items() if sp.required and c not in df]
        if missing:
            names = [s.name for s in self.sources if TABLE_OF_KIND[s.kind] == table and s.n]
            raise _missing_columns(", ".join(names), missing, empty_ok=True)
        return coerce_table(table, df)

    def validate(self) -> dict[str, pd.DataFrame]:
        from envejind_eval.dataset import derive_cohorts
        from envejind_eval.schema import coerce_table, validate_tables

        self.q = np.zeros(self.n_grow, dtype=bool)
        for s in self.sources:
            self.q[s.offset : s.offset + s.n] = s.bad
        tables = ("participants", "cohorts", "activities", "measurements", "outcomes")
        A = {t: self._assemble(t) for t in (*tables, "attendance")}
        for _ in range(10):
            frames = {}
            for t in tables:
                if t == "cohorts" and not len(A[t]["_grow"]):
                    continue
                keep = ~self.q[A[t]["_grow"]]
                frames[t] = self._frame(t, A[t], keep)
            if "participants" not in frames:
                frames["participants"] = self._frame(
                    "participants", A["participants"], np.zeros(0, bool)
                )
            derived = "cohorts" not in frames
            if derived:
                frames["cohorts"] = coerce_table("cohorts", derive_cohorts(frames["participants"]))
            # empty tables cannot fail; skipping them saves pandera's fixed cost per table
            probs = validate_tables(
                {t: f for t, f in frames.items() if len(f) or t == "participants"},
                self.instruments,
            )
            if derived:
                probs = probs[probs["table"] != "cohorts"]
            found = [self._map_schema_problems(probs, A)]
            pk = ~self.q[A["participants"]["_grow"]]
            pcodes = A["participants"].get("participant_id", np.empty(0, np.int64))[pk]
            found.append(self._validate_attendance(A["attendance"], frames["participants"], pcodes))
            new = 0
            for grow, label, rule, msg, cell in found[0] + found[1]:
                # every error quarantines its row, so a row never fails twice across
                # iterations; repeats within one (wide rows) are dropped in the report
                self.problem(grow, label, rule, msg, SEVERITY_ERROR, cell)
                new += int((~self.q[grow]).sum())
                self.q[grow] = True
            if not new:
                break
        self.frames = frames
        self.A = A
        return frames

    def _source_of(self, grow: np.ndarray) -> np.ndarray:
        offs = np.array([s.offset for s in self.sources], dtype=np.int64)
        return np.searchsorted(offs, grow, side="right") - 1

    def _label(self, s: Source, canon: str, cell: int) -> tuple[str, int | None]:
        wide_canon = {
            "attendance": ("status", "date"),
            "measurements": ("value", "item"),
            "outcomes": ("value", "indicator"),
        }
        if cell >= 0 and canon in wide_canon.get(TABLE_OF_KIND[s.kind], ()):
            return s.raw.header[cell], cell
        fld = {
            "participant_id": "cpr" if "cpr" in s.fields else "participant_id",
            "status": "attendance_code" if s.kind == "attendance" else "status",
        }.get(canon, canon)
        i = s.fields.get(fld)
        if i is None:
            return canon, None
        return s.raw.header[i], i

    def _where(self, grow: np.ndarray, canon_cols: str, cell: np.ndarray) -> tuple[Any, Any]:
        """Header labels and Excel cell references for problem rows (vectorised per source)."""
        grow = np.asarray(grow, dtype=np.int64)
        cell = np.asarray(cell, dtype=np.int64)
        src = self._source_of(grow)
        labels = np.empty(len(grow), dtype=object)
        refs = np.full(len(grow), None, dtype=object)
        for si in np.unique(src).tolist():
            m = src == si
            s = self.sources[si]
            g, c = grow[m], cell[m]
            labs: list[np.ndarray] = []
            cis: list[np.ndarray] = []
            for canon in canon_cols.split(","):
                lab = np.empty(len(g), dtype=object)
                ci = np.full(len(g), -1, dtype=np.int64)
                wide = c >= 0 if canon in _WIDE_CANON.get(TABLE_OF_KIND[s.kind], ()) else None
                if wide is not None and wide.any():
                    lab[wide] = np.array(s.raw.header, dtype=object)[c[wide]]
                    ci[wide] = c[wide]
                rest = ~wide if wide is not None else np.ones(len(g), dtype=bool)
                if rest.any():
                    hl, hi = self._label(s, canon, -1)
                    lab[rest] = hl
                    ci[rest] = -1 if hi is None else hi
                labs.append(lab)
                cis.append(ci)
            labels[m] = (
                labs[0] if len(labs) == 1 else [",".join(t) for t in zip(*labs, strict=True)]
            )
            if s.raw.letters is not None:
                lines = s.raw.lines[g - s.offset]
                letters = np.array([*s.raw.letters, ""], dtype=object)
                parts = [
                    [
                        f"{letters[x]}{ln}" if x >= 0 else None
                        for x, ln in zip(ci, lines, strict=True)
                    ]
                    for ci in cis
                ]
                refs[m] = [",".join(x for x in t if x) or None for t in zip(*parts, strict=True)]
        return labels, refs

    def _map_schema_problems(self, probs: pd.DataFrame, A: dict) -> list:
        out = []
        probs = probs[probs["row"].notna()]
        for (table, column, rule, msg), g in probs.groupby(
            ["table", "column", "rule", "message"], sort=False
        ):
            a = A[table]
            rows = g["row"].to_numpy(dtype=np.int64)
            grow = a["_grow"][rows]
            labels, refs = self._where(grow, str(column), a["_cell"][rows])
            out.append((grow, labels, str(rule), str(msg), refs))
        return out

    def _validate_attendance(self, a: dict, participants: pd.DataFrame, codes: np.ndarray) -> list:
        """The schema's attendance checks, vectorised on integer codes (same rules/messages)."""
        out: list = []
        if not len(a["_grow"]):
            return out
        keep = ~self.q[a["_grow"]]
        if not keep.any():
            return out
        ix = np.nonzero(keep)[0]
        if len(ix) == len(keep):
            pc, day = a["participant_id"], a["date"]
        else:
            pc, day = a["participant_id"][ix], a["date"][ix]
        npid = len(self.pid_list) + 1
        codes = np.asarray(codes, dtype=np.int64)
        known = np.zeros(npid, dtype=bool)
        known[codes] = True
        start = np.full(npid, D.NAT, np.int64)
        end = np.full(npid, D.NAT, np.int64)
        first = ~pd.Series(codes).duplicated().to_numpy()
        sd = participants["start_date"].to_numpy("datetime64[D]").astype(np.int64)
        ends = participants["exit_date"].fillna(participants["planned_end_date"])
        ed = ends.to_numpy("datetime64[D]").astype(np.int64)
        start[codes[first]] = sd[first]
        end[codes[first]] = ed[first]
        k = known[pc]
        # an open end never excludes (NAT is the smallest int64, so an open start never does)
        end[end == D.NAT] = np.iinfo(np.int64).max
        outside = (day < start[pc]) | (day > end[pc])
        parts = self.rows.get("attendance", [])
        if len(parts) == 1 and (parts[0][1] < 0).all():
            dupk = np.zeros(len(pc), dtype=bool)  # one long file: deduplicated already
        else:
            dupk = dup_mask(combine([pc, day - (day.min() if len(day) else 0)]))
        checks = [
            (
                dupk,
                "participant_id,date",
                "unique_key",
                "attendance: participant_id,date: key is not unique",
            ),
            (
                ~k & (pc >= 0),
                "participant_id",
                "unknown_participant",
                "attendance: participant_id is not in participants",
            ),
            (
                k & outside,
                "date",
                "date_in_course_window",
                "attendance: date is outside the participant's course window",
            ),
        ]
        for mask, col, rule, msg in checks:
            j = np.nonzero(mask)[0]
            if len(j):
                g = a["_grow"][ix[j]]
                labels, refs = self._where(g, col, a["_cell"][ix[j]])
                out.append((g, labels, rule, msg, refs))
        return out

    def attendance_frame(self) -> pd.DataFrame:
        a = self.A["attendance"]
        keep = ~self.q[a["_grow"]] if len(a["_grow"]) else np.zeros(0, bool)
        df = self._frame("attendance", a, keep) if "participant_id" in a else None
        # arrival times
        arr = [x for x in self.arrivals if len(x[0])]
        if df is None:
            from envejind_eval.schema import empty_table

            df = empty_table("attendance")
        if not arr:
            if "arrival_time" not in df.columns:
                df = df.assign(arrival_time=_str_from_codes(np.full(len(df), -1), []))
            return df.reset_index(drop=True)
        ag = np.concatenate([x[0] for x in arr])
        apc = np.concatenate([x[1] for x in arr])
        aday = np.concatenate([x[2] for x in arr])
        atime = np.concatenate([x[3] for x in arr])
        ok = ~self.q[ag]
        ix = np.nonzero(keep)[0]
        pc, day = a["participant_id"][ix], a["date"][ix]
        base = int(min(day.min() if len(day) else 0, aday.min()))
        k_att = pd.Index(pc * (1 << 32) + (day - base))
        k_arr = apc * (1 << 32) + (aday - base)
        pos = k_att.get_indexer(k_arr)
        missing = ok & (pos < 0)
        for j in np.nonzero(missing)[0]:
            g = int(ag[j])
            s = self.sources[int(self._source_of(np.array([g]))[0])]
            lab = s.header_of("date")
            self.problem(
                np.array([g]),
                lab,
                "no_attendance_record",
                "no accepted attendance record for this participant and date",
                SEVERITY_ERROR,
                None,
            )
            self.q[g] = True
        times = (
            df["arrival_time"].astype(object).to_numpy(copy=True) if "arrival_time" in df else None
        )
        if times is None or len(times) != len(df):
            times = np.full(len(df), None, dtype=object)
        hit = ok & (pos >= 0)
        times[pos[hit]] = atime[hit]
        df = df.assign(arrival_time=pd.array(times, dtype="str"))
        return df.reset_index(drop=True)

    # -- 6. report -------------------------------------------------------------------------------------
    def _loaded_rows(self, s: Source, ci: int, fld: str | None) -> np.ndarray:
        """Per row of ``s``: a value of header ``ci`` reached its canonical table (a kept
        canonical row from this row, and for wide columns this cell, with a value)."""
        mark = np.zeros(s.n, dtype=bool)
        if s.kind == "arrival":  # merged into attendance; an unmerged row is quarantined
            mark[:] = fld in ("cpr", "participant_id", "date", "arrival_time")
            return mark & ~self.q[s.offset : s.offset + s.n]
        table = TABLE_OF_KIND[s.kind]
        a = self.A.get(table)
        if a is None or not len(a["_grow"]):
            return mark
        wide = ci in s.wide_cols
        canon = _WIDE_CANON[s.kind][0] if wide else FIELD_TO_CANON.get(fld or "", fld)
        if s.kind == "attendance" and canon == "status" and not wide:
            canon = None if fld != "attendance_code" else "status"
        v = a.get(canon or "")
        if v is None:
            return mark
        g = a["_grow"]
        key = (s.offset, table)
        if key not in self._kept:  # once per source, not per column (2M-row files)
            self._kept[key] = (g >= s.offset) & (g < s.offset + s.n) & ~self.q[g]
        sel = self._kept[key]  # not changed in place: shared by the columns
        if wide:
            sel = sel & (a["_cell"] == ci)
        if v.dtype == object:
            sel = sel & pd.notna(v)
        elif canon == "date":
            sel = sel & (v != D.NAT)
        else:  # integer codes: participant, attendance status
            sel = sel & (v >= 0)
        whole = s.layout == "long" and len(g) == s.n > 0
        if whole and g[0] == s.offset and g[-1] == s.offset + s.n - 1:
            # long files give at most one canonical row per delivered row, in order: here
            # the table is exactly this file's rows, so no scatter is needed
            mark = sel
        else:
            mark[g[sel] - s.offset] = True
        if s.kind == "attendance" and s.layout == "wide" and not wide:
            # a register row without any code has no scheduled day: nothing to load
            blank = np.ones(s.n, dtype=bool)
            for i in s.wide_cols:
                blank &= s.raw.cols[i].codes < 0
            mark |= blank
        return mark

    def column_accounts(self) -> pd.DataFrame:
        """Per file and mapped column: values read = loaded + quarantined + duplicate; a
        column whose values reach no table (mapped to something the file's table does not
        read) is an error problem, never a silent loss. Values derived from the CPR number
        and canonical columns the file does not deliver are listed too (``origin``)."""
        from envejind_eval.schema import TABLES

        recs = []
        self._kept: dict[tuple[int, str], np.ndarray] = {}
        for si, s in enumerate(self.sources):
            where = np.array([-1 - si])
            q = self.q[s.offset : s.offset + s.n]
            dup = s.dup & ~q
            by_col = {ci: f for f, ci in s.fields.items()}
            entries = []  # (header index, field, per-row has a value, origin)
            for ci in sorted({*by_col, *s.wide_cols, *s.targets}):
                fld = by_col.get(ci)
                fixed = s.raw.header[ci].endswith(FIXED_SUFFIX) and fld in M.FIXED_FIELDS
                target = (
                    fld
                    or s.targets.get(ci)
                    or (s.wide_keys[s.wide_cols.index(ci)] if ci in s.wide_cols else None)
                )
                origin = "fixed value" if fixed else "delivered"
                entries.append((ci, fld, str(target), s.raw.cols[ci].codes >= 0, origin))
            idcol = s.fields.get("cpr", -1)  # derived values exist only with a CPR column
            for f, n in s.derived.items():
                p = s.parsed[f]
                has = p.values[p.idx] != None  # noqa: E711
                entries.append((idcol, f, f, has, "derived from CPR"))
                self.problem(
                    where,
                    s.raw.header[idcol],
                    "derived_from_cpr",
                    f"{f}: derived from the CPR number for {n} persons (the file has no "
                    f"{f} column); century from the 7th digit, sex from the last digit",
                    SEVERITY_INFO,
                )
            for ci, fld, target, nonempty, origin in entries:
                loaded = nonempty & self._loaded_rows(s, ci, fld) & ~q
                rec = {
                    "file": s.file,
                    "sheet": s.sheet,
                    "column": _shown(s.raw.header[ci]),
                    "target": target,
                    "origin": origin,
                    "values_read": int(nonempty.sum()),
                    "values_loaded": int(loaded.sum()),
                    "values_quarantined": int((nonempty & q).sum()),
                    "values_duplicate": int((nonempty & dup).sum()),
                }
                lost = (
                    rec["values_read"]
                    - rec["values_loaded"]
                    - rec["values_quarantined"]
                    - rec["values_duplicate"]
                )
                if lost:
                    why = (
                        f"'{target}' is read from column '{s.header_of(target)}' (one "
                        "column per target)"
                        if fld is None and target in s.fields
                        else f"it is mapped to '{target}', which a {s.kind} ({s.layout}) "
                        "file does not use"
                    )
                    self.problem(
                        where,
                        s.raw.header[ci],
                        "values_not_loaded",
                        f"{lost} of {rec['values_read']} values in this column reached no "
                        f'table: {why}; map it to another target or to "ignore"',
                    )
                recs.append(rec)
            for c in self._not_delivered(s, TABLES):
                recs.append(
                    {
                        "file": s.file,
                        "sheet": s.sheet,
                        "column": None,
                        "target": c,
                        "origin": "not delivered",
                        **dict.fromkeys(COLUMN_COLUMNS[5:], 0),
                    }
                )
                self.problem(
                    where,
                    None,
                    "not_delivered",
                    f"{c}: not delivered (no such column); left empty for every row of "
                    "this file (not missing answers: the column was not delivered)",
                    SEVERITY_INFO,
                )
        return pd.DataFrame(recs, columns=COLUMN_COLUMNS)

    @staticmethod
    def _not_delivered(s: Source, tables: dict) -> list[str]:
        """Canonical columns of the source's table (those whose cells may be empty) that
        the file does not deliver."""
        if s.kind == "arrival":
            return []
        have = {FIELD_TO_CANON.get(f, f) for f in s.fields} | set(s.derived)
        have |= {"participant_id", *s.dropped}
        if s.layout == "wide":
            have |= set(_WIDE_CANON.get(s.kind, ()))
        if s.kind == "measurements":
            have.add("instrument")
        spec = tables[TABLE_OF_KIND[s.kind]].columns
        return [c for c, sp in spec.items() if sp.required and sp.nullable and c not in have]

    def report(self) -> IngestReport:
        rows = []
        for s in self.sources:
            q = self.q[s.offset : s.offset + s.n]
            nq = int(q.sum())
            nd = int((s.dup & ~q).sum())
            sk = s.raw.skipped
            nskip = sum(sk.values())
            rows.append(
                {
                    "file": s.file,
                    "sheet": s.sheet,
                    "table": TABLE_OF_KIND[s.kind],
                    "layout": s.layout,
                    "format": s.raw.format,
                    "sha256": s.raw.sha256,
                    "encoding": s.raw.encoding,
                    "separator": s.raw.separator,
                    "decimal": s.decimal if s.decimal != "either" else None,
                    "date_formats": ",".join(sorted(s.date_forms)) or None,
                    "rows_read": int(s.raw.n_read),
                    "accepted": int(s.n - nq - nd),
                    "skipped": int(nskip),
                    "quarantined": nq,
                    "duplicates": nd,
                    "skipped_title": int(sk["title"]),
                    "skipped_blank": int(sk["blank"]),
                    "skipped_total": int(sk["total"]),
                    "redacted": int(len(s.redacted_rows)),
                }
            )
        files = pd.DataFrame(rows, columns=FILE_COLUMNS)
        for c in (
            "rows_read",
            "accepted",
            "skipped",
            "quarantined",
            "duplicates",
            "skipped_title",
            "skipped_blank",
            "skipped_total",
            "redacted",
        ):
            files[c] = files[c].astype("int64")
        columns = self.column_accounts()
        probs = self._problem_frame()
        return IngestReport(
            files=files,
            columns=columns,
            problems=probs,
            quarantined_rows=MappingProxyType(self._quarantine_rows(probs)),
            folder=_shown(str(self.folder)),
        )

    def _problem_frame(self) -> pd.DataFrame:
        cols = [*PROBLEM_COLUMNS, "_g"]
        if not self._problems and not self.not_read:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in PROBLEM_COLUMNS})
        g_lines = (
            np.concatenate([s.raw.lines for s in self.sources])
            if self.sources
            else np.empty(0, np.int64)
        )
        files = np.array([s.file for s in self.sources], dtype=object)
        sheets = np.array([s.sheet for s in self.sources], dtype=object)
        chunks = []
        for grow, col, rule, msg, sev, cell in self._problems:
            n = len(grow)
            if grow[0] < 0:  # file-level (e.g. an ignored column)
                si = -1 - int(grow[0])
                src = np.array([si])
                line = np.array([None], dtype=object)
                gg = grow
            else:
                src = self._source_of(grow)
                line = g_lines[grow]
                gg = grow
            chunks.append(
                pd.DataFrame(
                    {
                        "file": files[src],
                        "sheet": sheets[src],
                        "row": line,
                        "cell": np.array(_seq(cell, n), dtype=object),
                        "column": np.array(_seq(_shown_all(col), n), dtype=object),
                        "rule": rule,
                        "severity": sev,
                        "message": msg,
                        "_g": gg,
                        "_o": src,
                    }
                )
            )
        if self.not_read:  # after the files read
            chunks.append(
                pd.DataFrame(
                    {
                        "file": [_shown(r[0]) for r in self.not_read],
                        "sheet": [_shown(r[1]) for r in self.not_read],
                        "row": None,
                        "cell": None,
                        "column": None,
                        "rule": "file_not_read",
                        "severity": [r[3] for r in self.not_read],
                        "message": [r[2] for r in self.not_read],
                        "_g": -1,
                        "_o": len(self.sources) + np.arange(len(self.not_read)),
                    }
                )
            )
        df = pd.concat(chunks, ignore_index=True)
        df = df.drop_duplicates(subset=["_o", "_g", "column", "rule", "message"])
        df = df.sort_values(["_o", "_g", "rule", "column"], kind="stable")
        df = df[cols].drop(columns="_g").reset_index(drop=True)
        df["row"] = df["row"].astype("Int64")
        return df.astype({c: object for c in PROBLEM_COLUMNS if c != "row"})

    def _quarantine_rows(self, probs: pd.DataFrame) -> dict[str, pd.DataFrame]:
        out = {}
        err = probs[probs["severity"] == SEVERITY_ERROR] if len(probs) else probs
        for s in self.sources:
            q = np.nonzero(self.q[s.offset : s.offset + s.n])[0]
            if not len(q):
                continue
            mine = err[
                (err["file"] == s.file)
                & (err["sheet"].fillna("") == (s.sheet or ""))
                & err["row"].notna()  # not the file-level ones (values_not_loaded)
            ]
            reasons = _reasons(mine)
            lines = s.raw.lines[q]
            data: dict[str, Any] = {
                "row": lines,
                "reasons": pd.Series(lines).map(reasons).fillna("").to_numpy(dtype=object),
            }
            idcol = s.fields.get("cpr", s.fields.get("participant_id"))
            # only the columns read: unrecognised and name columns are left out (they may
            # hold anything); every value shown is redacted, the id column masked
            read = sorted({*s.fields.values(), *s.wide_cols})
            free = {s.fields[f] for f in M.FREE_TEXT_FIELDS if f in s.fields}
            for i in read:
                col = s.raw.cols[i].take(q)
                # redacted once per distinct value (a million quarantined rows stay fast)
                shown = np.full(len(col.values) + 1, None, dtype=object)
                for u in np.unique(col.codes[col.codes >= 0]).tolist():
                    shown[u] = (
                        "XXXXXX-XXXX"
                        if i == idcol
                        else _redact_cell(col.values[u], free_text=i in free)
                    )
                texts = shown[np.where(col.codes < 0, len(col.values), col.codes)]
                name = _shown(s.raw.header[i]) or f"column_{i + 1}"
                while name in data:
                    name += "_"
                data[name] = texts
            key = s.name
            while key in out:  # two names that differ only in a redacted CPR
                key += "_"
            out[key] = pd.DataFrame(data)
        return out


FIXED_SUFFIX = " (datakilder.toml)"  # header of a column of fixed values


def _add_fixed_column(raw: RawTable, fld: str, value: str) -> int:
    """A column holding ``value`` in every row (a fixed value from datakilder.toml); it is
    parsed and checked like a delivered column. Returns its header index."""
    raw.header.append(fld + FIXED_SUFFIX)
    raw.cols.append(Col(np.zeros(raw.n_rows, dtype=np.int32), [value.strip()]))
    if raw.letters is not None:
        raw.letters.append("")
    if raw.header_dates is not None:
        raw.header_dates.append(None)
    return len(raw.header) - 1


def _skip_total_rows(raw: RawTable, idcol: int) -> None:
    """Total and footnote rows, found by the person column: a total label there (``I alt``,
    ``Total fremmødte``, ``Gns.``, …) or, after the last person, an empty cell. They are
    skipped and counted as total rows, never read as invalid CPR numbers."""
    col = raw.cols[idcol]
    if not raw.n_rows:
        return
    label = np.append(total_labels(col.values), False)
    if not label.any() and col.codes[-1] >= 0:
        return  # the common case: no label, a person in the last row
    total = label[np.where(col.codes < 0, len(col.values), col.codes)]
    has_id = np.flatnonzero((col.codes >= 0) & ~total)
    # (a file without any person keeps its rows: each is a not_null problem)
    after = np.arange(raw.n_rows) > (has_id[-1] if len(has_id) else raw.n_rows)
    if raw.problems:  # a row with a problem is quarantined with its reason, not skipped
        after[[r for r, *_ in raw.problems]] = False
    skip = total | (after & (col.codes < 0))
    if skip.any():
        raw.skipped["total"] += int(skip.sum())
        _drop_rows(raw, ~skip)


def _unread_reason(path: Path) -> str:
    """Why a file in the delivery folder is not read ("" when it is read)."""
    if path.name.startswith("~$"):
        return "an Excel lock file (the workbook was open when the delivery was copied): not read"
    if path.name.startswith("."):
        return "a hidden file: not read"
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        return (
            f"format {suffix or '(no extension)'}: not read (readable: {', '.join(SUFFIXES)}); "
            "if it holds a table, save it in one of these formats"
        )
    return ""


def _missing_columns(where: str, fields: list[str], *, empty_ok: bool = False) -> IngestError:
    def eg(f: str) -> str:
        return ", ".join(repr(a) for a in list(dict.fromkeys(M.FIELD_ALIASES.get(f, [f])))[:3])

    exp = "; ".join(f"{f} (e.g. {eg(f)})" for f in fields)
    hint = "; add it (cells may be empty) or map it in datakilder.toml" if empty_ok else ""
    return IngestError(f"{where}: required column(s) missing: {exp}{hint}")


def _null_column(kind: str, n: int, index: pd.Index) -> Any:
    if kind == "date":
        return pd.Series(np.full(n, np.datetime64("NaT"), dtype="datetime64[us]"), index=index)
    if kind == "int":
        return pd.Series(pd.array([None] * n, dtype="Int64"), index=index)
    if kind == "float":
        return pd.Series(np.full(n, np.nan), index=index)
    return pd.Series(pd.array([None] * n, dtype="str"), index=index)


def _refuse_same_stem(files: list[Path]) -> None:
    """One table sent twice (``deltagere.csv`` and ``deltagere.xlsx``) would count every row
    twice; no precedence is guessed, as the two may differ."""
    seen: dict[str, Path] = {}
    for f in files:
        other = seen.setdefault(f.stem.casefold(), f)
        if other is not f:
            raise IngestError(
                f"{other.name} and {f.name}: the same file delivered in two formats "
                "(one table per file name); remove one of them and deliver again"
            )


def _no_participants(rep: IngestReport) -> str:
    """Why no participant was accepted, naming the participant list(s)."""
    f = rep.files[rep.files["table"] == "participants"]
    names = ", ".join(dict.fromkeys(f["file"].astype(str)))
    nq = int(f["quarantined"].sum())
    if not nq:
        return f"no participants accepted: the participant list ({names}) has no data rows"
    return f"no participants accepted: all {nq} participant row(s) of {names} were quarantined"


def _cat(arrs: list[np.ndarray]) -> np.ndarray:
    if not arrs:
        return np.empty(0, np.int64)
    return arrs[0] if len(arrs) == 1 else np.concatenate(arrs)


def _reasons(problems: pd.DataFrame) -> pd.Series:
    """``rule: column; ...`` per row number; the per-group join runs only for rows with more
    than one problem (a million single-problem rows stay vectorised)."""
    r = (problems["rule"].astype(str) + ": " + problems["column"].fillna("").astype(str)).to_numpy(
        dtype=object
    )
    rows = problems["row"].to_numpy(dtype=np.int64)
    multi = pd.Series(rows).duplicated(keep=False).to_numpy()
    single = pd.Series(r[~multi], index=rows[~multi], dtype=object)
    if not multi.any():
        return single
    joined = pd.Series(r[multi], dtype=object).groupby(rows[multi], sort=False).agg("; ".join)
    return pd.concat([single, joined])


def _seq(x: Any, n: int) -> list:
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, list):
        return x
    return [x] * n


def _str_from_codes(codes: np.ndarray, cats: list[str]) -> Any:
    """A pandas ``str`` array of ``cats[codes]`` (-1 = missing), built in pyarrow."""
    import pyarrow as pa
    import pyarrow.compute as pc

    codes = np.asarray(codes)
    n = len(codes)
    missing = codes < 0
    enc = [c.encode("utf-8") for c in cats]
    w = len(enc[0]) if enc else 0
    if missing.all():
        arr = pa.nulls(n, pa.large_string())
    elif w and not missing.any() and all(len(e) == w for e in enc):
        # equal-length texts (pseudonyms): gather w-byte records, offsets are a stride
        table = np.array(enc, dtype=f"S{w}").view(np.dtype((np.void, w)))
        data = np.take(table, codes)
        offsets = np.arange(0, (n + 1) * w, w, dtype=np.int64)
        arr = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    else:
        idx = pa.array(codes, mask=missing) if missing.any() else pa.array(codes)
        arr = pc.take(pa.array(cats, pa.large_string()), idx)
    return pd.array(arr, dtype="str")  # large_string: pandas' own storage type


def run(
    folder: Path, *, config: Any, key: Any, instruments: dict | None = None
) -> tuple[dict, IngestReport, dict]:
    """Run the pipeline; returns (canonical frames, report, instrument registry)."""
    from envejind_eval.instruments import default_registry, load_instrument

    mapping = M.load_mapping(folder, config)
    reg = dict(instruments) if instruments is not None else default_registry()
    for f in [*mapping.instrument_files, *sorted((folder / "instruments").glob("*.toml"))]:
        inst = load_instrument(f)
        reg[inst.id] = inst
    M.check_targets(mapping, reg)
    p = Pipeline(folder, mapping, key, reg)
    p.read()
    if not any(s.kind == "participants" for s in p.sources):
        raise IngestError(
            f"{folder.name}: no participant list found (expected deltagere.csv/.xlsx or a file "
            "with CPR, Kommune, Hold, Startdato, Status columns); the delivery cannot be used"
        )
    p.parse()
    p.parse_wide_values()
    p.dedupe()
    p.build_rows()
    frames = p.validate()
    att = p.attendance_frame()
    tables = {t: df.reset_index(drop=True) for t, df in frames.items()}
    tables["attendance"] = att
    from envejind_eval.schema import TABLES

    tables = {n: tables[n] for n in TABLES}
    rep = p.report()
    if p._key is not None:  # the report records which key made the pseudonyms
        rep = dataclasses.replace(rep, key_fingerprint=P.key_fingerprint(p._key))
    if not len(tables["participants"]):
        rep = dataclasses.replace(rep, fatal=_no_participants(rep))
    log.info(
        "ingested %s: %d rows read, %d quarantined",
        _shown(folder.name),
        int(rep.files["rows_read"].sum()),
        rep.n_quarantined,
    )
    return tables, rep, reg
