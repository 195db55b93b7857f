"""The report's building blocks: sections made of paragraphs, tables and figures.

A section builder computes tidy tables from the analysis layer (never rounded), declares
which columns count persons, and gives a *narrator*: a function that writes the section's
prose from the tables **after** they have passed the disclosure gate, so a number the gate
suppressed can never reappear in the text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from envejind_eval.report.fmt import Lang

Scope = str  # "national" or a municipality name


@dataclass
class Table:
    """A table meant for publication.

    ``data`` is tidy and unrounded. ``count_cols`` hold person counts; ``n_col`` names the
    column with the number of persons each row's estimates rest on; ``value_cols`` are the
    estimates (suppressed together with their row when ``n_col`` is too small). ``total_row``
    marks the label of a margin row (``by`` column), so suppression protects it.
    """

    name: str
    title: str
    data: pd.DataFrame
    by: tuple[str, ...] = ()
    count_cols: tuple[str, ...] = ()
    n_col: str | None = None
    value_cols: tuple[str, ...] = ()
    share_cols: tuple[str, ...] = ()
    total: str | None = None  # count column that is the group size (margin of count_cols)
    total_label: str = ""  # value of a ``by`` column marking a margin row
    kind: str = "mean"  # estimate kind for the disclosure rules (mean, model, share, ...)
    population: str | None = None  # tables counting the same persons share a population
    n_is_total: bool = False  # ``n_col`` is the persons of the whole table, not of each row
    public_cols: tuple[str, ...] = ()  # whole-number columns that do not count persons
    # the table shows no person-level information (instrument definitions, texts): it may
    # declare no counted columns; any other such table is refused by the gate (fail closed)
    public: bool = False
    # headcounts of whole scopes (participants of the run / a municipality / a team, forms
    # received): published as they are, and known to the gate (docs/disclosure.md rule 9)
    known_cols: tuple[str, ...] = ()
    # the count columns are disjoint parts of the scope's participants (pre/post: the
    # analysed pairs and the excluded): the gate is told their sum is that known headcount
    parts_of_scope: bool = False
    formats: Mapping[str, str] = field(default_factory=dict)  # column -> int|num1|num2|lim2|pct|p
    labels: Mapping[str, str] = field(default_factory=dict)  # column -> header
    caption: str = ""
    # filled by the gate
    suppressed: pd.DataFrame | None = None  # bool frame, same shape as data
    marks: pd.DataFrame | None = None  # display text of suppressed cells ("<5", "..")
    footnote: str = ""


@dataclass
class Figure:
    """A figure: a ggplot factory fed with the (gated) data of one table."""

    name: str
    title: str
    table: str  # name of the table whose gated data draws it
    make: Callable[[pd.DataFrame], Any]  # gated data -> plotnine ggplot
    caption: str = ""
    alt: str = ""


@dataclass
class Para:
    text: str  # plain text; **bold** allowed


@dataclass
class Heading:
    text: str


Block = Para | Heading | Table | Figure


@dataclass
class Section:
    id: str
    title: str
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    narrate: Callable[[Published], list[Block]] | None = None
    note: str = ""  # why the section is incomplete, shown in the report
    status: Literal["ok", "partial", "absent"] = "ok"


@dataclass(frozen=True)
class Context:
    """Everything a section builder needs."""

    ds: Any  # envejind_eval.Dataset
    lang: Lang
    min_cell: int
    seed: int
    n_boot: int
    scope: Scope = "national"
    national: Any = None  # the whole run's Dataset (reference population), when ds is a subset

    def t(self, key: str, **kw: Any) -> str:
        from envejind_eval.report.texts import text

        return text(key, self.lang, **kw)


class Published:
    """Read access to gated tables for narrators: values come out formatted, and a
    suppressed value comes out in words (:func:`prose_mark` of the gate's symbol)."""

    def __init__(self, tables: Mapping[str, Table], lang: Lang, min_cell: int) -> None:
        self.tables = dict(tables)
        self.lang = lang
        self.min_cell = min_cell

    def __contains__(self, name: str) -> bool:
        return name in self.tables

    def frame(self, name: str) -> pd.DataFrame:
        """The gated data with suppressed cells set to missing."""
        t = self.tables[name]
        if t.suppressed is None:
            return t.data.copy()
        return t.data.mask(t.suppressed.reindex_like(t.data).fillna(False).astype(bool))

    def row(self, name: str, **where: Any) -> pd.Series | None:
        t = self.tables[name]
        d = t.data
        keep = pd.Series(True, index=d.index)
        for c, v in where.items():
            keep &= d[c] == v
        idx = d.index[keep]
        return None if not len(idx) else d.loc[idx[0]]

    def is_suppressed(self, name: str, col: str, **where: Any) -> bool:
        t = self.tables[name]
        r = self.row(name, **where)
        if r is None:
            return True
        return bool(t.suppressed is not None and t.suppressed.at[r.name, col])  # type: ignore[index]

    def shown(self, name: str, *cols: str, **where: Any) -> bool:
        """True when the row exists and none of ``cols`` is suppressed."""
        return name in self.tables and all(not self.is_suppressed(name, c, **where) for c in cols)

    def raw(self, name: str, col: str, **where: Any) -> float | None:
        """The numeric value, or None when suppressed or absent."""
        if self.is_suppressed(name, col, **where):
            return None
        r = self.row(name, **where)
        return None if r is None else r[col]

    def fmt(self, name: str, col: str, kind: str = "num1", **where: Any) -> str:
        from envejind_eval.report.render import format_value

        if self.is_suppressed(name, col, **where):
            t = self.tables[name]
            r = self.row(name, **where)
            mark = ".."  # the neutral symbol unless the gate chose one
            if t.marks is not None and r is not None:
                mark = str(t.marks.at[r.name, col])  # type: ignore[index]
            return prose_mark(mark, self.lang, self.min_cell)
        r = self.row(name, **where)
        return "–" if r is None else format_value(r[col], kind, self.lang)


def prose_mark(mark: str, lang: str, min_cell: int) -> str:
    """A suppression symbol in running text: words instead of ``<5`` and ``..``."""
    if mark.startswith("<"):
        return {"da": f"færre end {min_cell}", "en": f"fewer than {min_cell}"}[lang]
    return {"da": "et ikke oplyst antal", "en": "an undisclosed number"}[lang]
