"""``IngestReport``: what happened to every row of every delivered file.

``files`` has one row per file (per sheet for workbooks); per file
``rows_read == accepted + skipped + quarantined + duplicates``. ``problems`` has one row per
problem: ``file, sheet, row`` (CSV line / Excel row as the user sees it), ``cell`` (Excel
cell reference), ``column`` (the header as delivered), ``rule``, ``severity`` (``error``:
the row is quarantined; ``warning``: the row is kept, e.g. redacted free text, an ignored
column; ``info``: what was derived or not delivered) and ``message``. Neither table ever holds a delivered value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import pandas as pd

FILE_COLUMNS = [
    "file",
    "sheet",
    "table",
    "layout",
    "format",
    "sha256",
    "encoding",
    "separator",
    "decimal",
    "date_formats",
    "rows_read",
    "accepted",
    "skipped",
    "quarantined",
    "duplicates",
    "skipped_title",
    "skipped_blank",
    "skipped_total",
    "redacted",
]
#: per file and mapped column: values read = loaded + quarantined + duplicate
COLUMN_COLUMNS = [
    "file",
    "sheet",
    "column",
    "target",
    "origin",
    "values_read",
    "values_loaded",
    "values_quarantined",
    "values_duplicate",
]
PROBLEM_COLUMNS = ["file", "sheet", "row", "cell", "column", "rule", "severity", "message"]


def _problem_lines(p: pd.DataFrame, max_problems: int) -> list[str]:
    lines = []
    show = p.head(max_problems).astype(object)
    show = show.where(show.notna(), "")
    for rec in show.to_dict(orient="records"):
        r = {k: str(v) for k, v in rec.items()}
        where = r["file"] + (f"[{r['sheet']}]" if r["sheet"] else "")
        if r["row"]:
            where += f" row {r['row']}"
        if r["cell"]:
            where += f" ({r['cell']})"
        col = f" column '{r['column']}'" if r["column"] else ""
        lines.append(f"  {r['severity']}: {where}{col}: {r['rule']}: {r['message']}")
    if len(p) > max_problems:
        lines.append(f"  ... and {len(p) - max_problems} more (use --format json)")
    return lines


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


@dataclass(frozen=True)
class IngestReport:
    """Per-file counts and per-problem rows of one ingestion (see module docstring).

    Attributes
    ----------
    files : DataFrame
        Columns ``file, sheet, table, layout, format, sha256, encoding, separator, decimal,
        date_formats, rows_read, accepted, skipped, quarantined, duplicates,
        skipped_title, skipped_blank, skipped_total, redacted``.
    problems : DataFrame
        Columns ``file, sheet, row, cell, column, rule, severity, message``.
    columns : DataFrame
        Per file and mapped column (header as delivered, ``target`` the field, item or
        indicator it maps to, ``origin`` one of ``delivered``, ``fixed value`` (from
        datakilder.toml), ``derived from CPR`` (birth year, sex), ``not delivered`` (a
        column of the canonical table the file lacks; counts 0)): ``values_read`` (non-empty cells of data rows) =
        ``values_loaded`` + ``values_quarantined`` + ``values_duplicate``; a column where
        this does not hold has a ``values_not_loaded`` error problem.
    quarantined_rows : Mapping[str, DataFrame]
        Per file (``name`` or ``name[sheet]``, CPR-shaped parts masked) the quarantined
        rows, with ``row`` and ``reasons`` first, then the columns that were read: the id
        column masked, CPR-shaped text in every other column redacted.
    fatal : str
        Why the delivery is unusable although every file was read (no participant
        accepted); empty when it is usable.
    """

    files: pd.DataFrame = field(default_factory=lambda: _empty(FILE_COLUMNS))
    problems: pd.DataFrame = field(default_factory=lambda: _empty(PROBLEM_COLUMNS))
    columns: pd.DataFrame = field(default_factory=lambda: _empty(COLUMN_COLUMNS))
    quarantined_rows: Mapping[str, pd.DataFrame] = field(
        default_factory=lambda: MappingProxyType({})
    )
    folder: str = ""
    #: fingerprint of the pseudonym key used (None when no CPR needed one), see
    #: :func:`envejind_eval.ingest.pseudonymise.key_fingerprint`
    key_fingerprint: str | None = None
    fatal: str = ""

    @property
    def n_quarantined(self) -> int:
        return int(self.files["quarantined"].sum()) if len(self.files) else 0

    @property
    def exit_code(self) -> int:
        """0 when every row was accepted (or skipped/deduplicated), 1 when any is quarantined
        or a column's values reached no table (an error problem), 2 when the delivery is
        unusable (:attr:`fatal`)."""
        if self.fatal:
            return 2
        if self.n_quarantined:
            return 1
        p = self.problems
        return int(bool(len(p)) and bool((p["severity"] == "error").any()))

    def summary(self) -> pd.DataFrame:
        """Problem counts per ``file, sheet, rule, severity``."""
        p = self.problems
        if not len(p):
            return pd.DataFrame(columns=["file", "sheet", "rule", "severity", "n"])
        return (
            p.assign(sheet=p["sheet"].fillna(""))
            .groupby(["file", "sheet", "rule", "severity"], sort=True)
            .size()
            .rename("n")
            .reset_index()
        )

    def to_dict(self) -> dict:
        def rec(df: pd.DataFrame) -> list[dict]:
            out = df.astype(object).where(df.notna(), None)
            return [
                {
                    k: (int(v) if hasattr(v, "item") and not isinstance(v, str) else v)
                    for k, v in r.items()
                }
                for r in out.to_dict(orient="records")
            ]

        return {
            "folder": self.folder,
            "exit_code": self.exit_code,
            "error": self.fatal or None,
            "files": rec(self.files),
            "columns": rec(self.columns),
            "problems": rec(self.problems),
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def to_text(self, *, max_problems: int = 50) -> str:
        f = self.files
        lines = [f"Ingest report for {self.folder}" if self.folder else "Ingest report"]
        if len(f):
            cols = [
                "file",
                "sheet",
                "table",
                "encoding",
                "rows_read",
                "accepted",
                "skipped",
                "quarantined",
                "duplicates",
                "redacted",
            ]
            view = f[cols].astype(object).where(f[cols].notna(), "")
            lines.append(view.to_string(index=False))
            tot = f[["rows_read", "accepted", "skipped", "quarantined", "duplicates"]].sum()
            lines.append(
                f"total: {int(tot.rows_read)} rows read, {int(tot.accepted)} accepted, "
                f"{int(tot.skipped)} skipped, {int(tot.quarantined)} quarantined, "
                f"{int(tot.duplicates)} duplicates dropped"
            )
        p = self.problems
        info = p[p["severity"] == "info"] if len(p) else p
        p = p[p["severity"] != "info"] if len(p) else p
        if len(p):
            lines.append("")
            lines.append(f"{len(p)} problem(s):")
            lines += _problem_lines(p, max_problems)
        else:
            lines.append("no problems")
        if len(info):  # what was derived, not delivered or not read (no table): no problem
            lines.append("")
            lines.append(f"{len(info)} note(s):")
            lines += _problem_lines(info, max_problems)
        if self.fatal:
            lines.append(f"unusable: {self.fatal}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        return (
            "<div><b>IngestReport</b>"
            + self.files.to_html(index=False, border=0)
            + self.summary().to_html(index=False, border=0)
            + "</div>"
        )

    def write_quarantine(self, folder: str | Path) -> list[Path]:
        """Write each file's quarantined rows (masked) as ``<file>[__<sheet>].csv``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        out = []
        for name, df in self.quarantined_rows.items():
            safe = name.replace("[", "__").replace("]", "").replace("/", "_")
            stem = safe.rsplit(".", 1)[0] if "." in safe.split("__")[0] else safe
            if "__" in safe:
                base, sheet = safe.split("__", 1)
                stem = base.rsplit(".", 1)[0] + "__" + sheet
            p = folder / f"{stem}.quarantine.csv"
            df.to_csv(p, index=False, encoding="utf-8", lineterminator="\n")
            out.append(p)
        return out
