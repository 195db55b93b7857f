"""The publication gate: every table and figure of a report run passes here.

Usage (the report layer)::

    gate = Gate(rules=DisclosureRules(min_cell=5), edition="2026-11",
                ledger=Ledger.load(out_dir))
    national = gate.release("national")
    aalborg = gate.release("Aalborg", scope={"municipality": "Aalborg"})
    t1 = national.table("status", df, by=["municipality"], counts=["n", "n_completed",
                        "n_dropped_out"], total="n", total_label="Total")
    t2 = aalborg.table("status", df_aalborg, by=["team"], counts=[...], total="n")
    gate.run()                   # optional: first access to a table result runs it too
    t1.suppressed                # bool frame, same index/columns as the data given
    t1.data                      # the data with suppressed values set to NaN
    t1.display                   # object frame: "<5" (counts) / ".." for suppressed values
    t1.footnote                  # text for under the table, or ""
    gate.verify().raise_if_failed()
    gate.log()                   # suppression log for the manifest (no values)
    gate.record().save(out_dir)  # release ledger for the next edition

Tables registered before the first :meth:`Gate.run` are suppressed *jointly*. Tables
registered later are gated against everything already handed out (which is then fixed).

How a table maps to cells
-------------------------
``by`` columns are dimensions; a row whose ``by`` value equals ``total_label`` is a margin
over that dimension. Each count column is a category of a column dimension
(``column_dim``, default ``"column"``), except ``total``, which is the margin over it.
``n`` (persons behind the row's estimates) is gated as a count too. Tables with the same
``population`` (default: the table name, so a table and its per-municipality versions are
always linked) are one linear system; a release's ``scope`` and a table's ``where`` are
fixed coordinates of all its cells (``where={"status": "completed"}`` for "completers
only"). Pass the same ``population`` to tables that count the same persons, so that
differencing *between* them is checked.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, cast

import numpy as np
import pandas as pd

from envejind_eval.disclosure.rules import ESTIMATE_KINDS, DisclosureRules, EstimateKind
from envejind_eval.disclosure.suppress import secondary
from envejind_eval.disclosure.verify import (
    CURRENT,
    Cell,
    System,
    TableMeta,
    Verification,
    check_targets,
    key_text,
    make_key,
)
from envejind_eval.errors import DisclosureError, EnvejindWarning

LOG_COLUMNS = ["release", "table", "row", "column", "cell", "rule"]

#: Count-like columns that do not count persons; left as they are unless declared.
PUBLIC_COUNT_NAMES = (
    "n_teams", "n_cohorts", "n_municipalities", "n_mentors", "n_items", "n_days",
    "n_sessions", "n_weeks",
)  # fmt: skip
_COUNT_LIKE = re.compile(r"^(n|n_.+|.+_n|count|count_.+|.+_count|antal|antal_.+)$", re.I)

#: Column names that identify individuals: a table with one of these as a dimension shows
#: individuals and is refused in publication mode.
INDIVIDUAL_COLUMNS = ("participant_id", "cpr", "pseudonym", "person_id", "name")


@dataclass
class _Registered:
    release: str
    name: str
    data: pd.DataFrame
    by: tuple[str, ...]
    counts: tuple[str, ...]
    total: str | None
    total_label: str
    n: str | None
    estimates: tuple[str, ...]
    shares: tuple[str, ...]
    kind: str
    n_sharing: str | None
    population: str
    fixed: dict[str, str]
    column_dim: str
    attributes: tuple[str, ...]
    n_total: bool | None = None
    known: tuple[str, ...] = ()  # count columns that are public headcounts of whole scopes
    extra: tuple[str, ...] = ()  # undeclared count columns, gated on their own
    result: PublishedTable | None = None
    cells: list[int] = field(default_factory=list)


class PublishedTable:
    """The gated version of one registered table.

    Attributes (computed on first access; this runs the gate)
    ----------------------------------------------------------
    data : DataFrame
        The table as given (plus margin rows if ``margins=True``) with every suppressed
        value set to NaN (count and estimate columns become float).
    suppressed : DataFrame of bool
        Same index and columns as ``data``; True where a value is suppressed.
    display : DataFrame (object)
        ``data`` with suppressed values replaced by ``rules.label_small`` ("<5") for counts
        of 1 .. min_cell-1 persons, and by ``rules.suppressed_label`` ("..") for every
        other suppression -- always for an estimate or share (a mean or a p-value of "<5"
        would read as a value). Other values are left unformatted (formatting is the
        presentation's job).
    footnote : str
        Explains the symbols used in this table ("" when nothing is suppressed).
    log : DataFrame
        ``release, table, row, column, cell, rule`` for each suppressed value. ``rule`` is
        ``small_count``, ``estimate_small_n`` or ``protected`` (sensitive shares and
        complementary suppressions are not told apart, on purpose).
    """

    def __init__(self, gate: Gate, reg: _Registered) -> None:
        self._gate = gate
        self._reg = reg
        self._out: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self._reg.name

    @property
    def release(self) -> str:
        return self._reg.release

    def _get(self, what: str) -> Any:
        if self._out is None:
            self._gate.run()
        assert self._out is not None  # set by Gate.run
        v = self._out[what]
        return v.copy() if isinstance(v, pd.DataFrame) else v

    @property
    def data(self) -> pd.DataFrame:
        return self._get("data")

    @property
    def suppressed(self) -> pd.DataFrame:
        return self._get("suppressed")

    @property
    def display(self) -> pd.DataFrame:
        return self._get("display")

    @property
    def footnote(self) -> str:
        return self._get("footnote")

    @property
    def log(self) -> pd.DataFrame:
        return self._get("log")

    def __repr__(self) -> str:
        return f"PublishedTable({self._reg.release!r}, {self._reg.name!r})"


class Release:
    """One report of a run (national or one municipality), created by :meth:`Gate.release`."""

    def __init__(self, gate: Gate, name: str, scope: Mapping[str, object]) -> None:
        self._gate = gate
        self.name = name
        self.scope = {str(k): str(v) for k, v in scope.items()}

    def table(
        self,
        name: str,
        data: pd.DataFrame,
        *,
        by: Sequence[str] = (),
        counts: Sequence[str] = (),
        total: str | None = None,
        total_label: str = "total",
        n: str | None = None,
        n_total: bool | None = None,
        estimates: Sequence[str] = (),
        shares: Sequence[str] = (),
        kind: EstimateKind = "mean",
        n_sharing: str | None = None,
        population: str | None = None,
        where: Mapping[str, object] | None = None,
        column_dim: str = "column",
        attributes: Sequence[str] | None = None,
        margins: bool = False,
        public: Sequence[str] = (),
        known: Sequence[str] = (),
    ) -> PublishedTable:
        """Register a table for publication; returns its (lazily) gated version.

        Parameters
        ----------
        name
            Table name, unique within the release.
        data
            Tidy or wide table, one row per group; not modified.
        by
            Dimension columns. A row whose value in a ``by`` column equals ``total_label``
            is the margin over that dimension.
        counts
            Columns holding person counts. With several, each is a category of
            ``column_dim`` (for instance ``n_completed``, ``n_dropped_out``).
        total
            The count column that is the group size (margin over the count columns). The
            other count columns are shares of it for the 0 %/100 % rule; without
            ``total`` they are taken to partition the row.
        n
            Column with the number of persons each row's estimates rest on (published and
            gated as a count too).
        n_total
            True when ``n`` is the persons of the whole table repeated on every row (the
            denominator of its shares), False when it is each row's own group. None infers
            it (same number on every row and the counts add up to it) -- ambiguous when a
            per-row ``n`` happens to equal the sum of the counts, so say it when known.
        estimates, kind
            Estimate columns (means, model estimates, ...) and their kind (one of
            ``"mean", "share", "model", "median", "quantile", "min", "max"``).
        shares
            Share columns (0..1); suppressed with their row's counts and when 0 or 1 in a
            group under ``2 * min_cell``.
        n_sharing
            For order statistics: persons holding the published value.
        population
            Tables with the same population count the same persons and are checked
            together (default: the table name).
        where
            Fixed coordinates of the whole table, e.g. ``{"status": "completed"}``.
        column_dim
            Dimension name of the count columns (default ``"column"``).
        attributes
            Dimensions that are characteristics of persons (checked for 0 %/100 % shares).
            Default: the count columns when there are several, else every ``by`` column.
        margins
            Add margin rows (``total_label``) for every subset of ``by`` (counts only).
        public
            Numeric columns that are not about persons and are published as they are. In
            publication mode every other *undeclared* whole-number column with a count-like
            name (``n``, ``n_*``, ``*_n``, ``count*``, ``antal*``; except
            :data:`PUBLIC_COUNT_NAMES` such as ``n_teams``) is gated as a person count, with
            an :class:`EnvejindWarning` naming it, so a forgotten ``n_excluded`` cannot
            leak a small number.
        known
            Count columns (of ``counts``, ``total`` or ``n``) that are headcounts of whole
            scopes -- the participants of the run, of a municipality, of a team, forms
            received -- and not attributes of a person (docs/disclosure.md §1, rule 9).
            They are published as they are, never suppressed, and enter the linear system
            as numbers every reader knows, so the attributes counted against them are
            protected against that knowledge.

        Returns
        -------
        PublishedTable
        """
        if kind not in ESTIMATE_KINDS:
            raise ValueError(f"Expecting one of {ESTIMATE_KINDS} for kind; got {kind!r}")
        by, counts, estimates, shares = tuple(by), tuple(counts), tuple(estimates), tuple(shares)
        cols = set(data.columns)
        for label, group in (
            ("by", by),
            ("counts", counts),
            ("estimates", estimates),
            ("shares", shares),
        ):
            missing = [c for c in group if c not in cols]
            if missing:
                raise ValueError(f"table {name!r}: {label} columns not in data: {missing}")
        for label, col in (("total", total), ("n", n), ("n_sharing", n_sharing)):
            if col is not None and col not in cols:
                raise ValueError(f"table {name!r}: {label} column {col!r} not in data")
        if total is not None and total not in counts:
            counts = (total, *counts)
        if self._gate.publication:
            declared = {*by, *counts, *estimates, *shares, total, n, n_sharing, *public}
            extra = tuple(
                c
                for c in data.columns
                if c not in declared
                and str(c) not in PUBLIC_COUNT_NAMES
                and _COUNT_LIKE.match(str(c))
                and pd.api.types.is_numeric_dtype(data[c])
                and _whole(data[c])
            )
            if extra:
                warnings.warn(
                    f"disclosure: table {name!r}: undeclared count column(s) {list(extra)} "
                    "are gated as person counts; declare them (counts= or public=)",
                    EnvejindWarning,
                    stacklevel=2,
                )
        else:
            extra = ()
        bad_known = [c for c in known if c not in (*counts, n)]
        if bad_known:
            raise ValueError(f"table {name!r}: known columns must be counts or n: {bad_known}")
        if (estimates or shares) and n is None:
            raise ValueError(f"table {name!r}: estimates and shares need n=")
        if self._gate.publication:
            bad = [c for c in (*by, *cols) if str(c).lower() in INDIVIDUAL_COLUMNS]
            if bad:
                raise DisclosureError(
                    f"table {name!r} shows individuals (column {bad[0]!r}); "
                    "individual-level tables cannot be published"
                )
        if self._gate.publication:
            _refuse_identifiers(name, data, by, {**self.scope, **dict(where or {})})
        key = (self.name, name)
        if key in self._gate._registered:
            raise ValueError(f"table {name!r} is already registered in release {self.name!r}")
        df = data.copy()
        if margins:
            if estimates or shares:
                raise ValueError("margins=True is for count tables only")
            df = _add_margins(
                df, by, (*counts, *([n] if n and n not in counts else [])), total_label
            )
        wide = len([c for c in counts if c != total]) > 1 or (total is not None)
        attrs = tuple(attributes) if attributes is not None else ((column_dim,) if wide else by)
        fixed = dict(self.scope)
        for k, v in (where or {}).items():
            fixed[str(k)] = str(v)
        clash = set(fixed) & set(by)
        if clash:
            raise ValueError(f"table {name!r}: {sorted(clash)} is both fixed and a by column")
        reg = _Registered(
            release=self.name,
            name=name,
            data=df,
            by=by,
            counts=counts,
            total=total,
            total_label=str(total_label),
            n=n,
            estimates=estimates,
            shares=shares,
            kind=kind,
            n_sharing=n_sharing,
            population=population or name,
            fixed=fixed,
            column_dim=column_dim,
            attributes=attrs,
            n_total=n_total,
            known=tuple(known),
            extra=extra,
        )
        self._gate._registered[key] = reg
        self._gate._pending.append(reg)
        reg.result = PublishedTable(self._gate, reg)
        return reg.result

    def figure(
        self,
        name: str,
        *,
        individual: bool = False,
        data: pd.DataFrame | None = None,
        n: str | None = None,
    ) -> None:
        """Check that a figure may be published; raise :class:`DisclosureError` if not.

        A figure that shows individuals (``individual=True``: trajectories, one point per
        person) is never published. When ``data`` and ``n`` are given, every plotted group
        must rest on at least ``min_cell`` persons. Draw published figures from a gated
        table's ``data``.
        """
        if not self._gate.publication:
            return
        if individual:
            raise DisclosureError(
                f"figure {name!r} shows individuals; such figures are for internal notebooks only"
            )
        if data is not None:
            bad = [c for c in data.columns if str(c).lower() in INDIVIDUAL_COLUMNS]
            if bad:
                raise DisclosureError(f"figure {name!r}: data has individual column {bad[0]!r}")
            if n is not None:
                nn = pd.to_numeric(data[n], errors="coerce").to_numpy(dtype=float)
                if np.any(~np.isnan(nn) & (nn < self._gate.rules.min_cell)):
                    raise DisclosureError(
                        f"figure {name!r}: a plotted group rests on fewer than "
                        f"{self._gate.rules.min_cell} persons (column {n!r})"
                    )


class Gate:
    """Collects every table of a run, suppresses, verifies and logs.

    Parameters
    ----------
    rules
        Thresholds (default :class:`DisclosureRules`: min_cell 5).
    publication
        True (default) for anything leaving the evaluator: suppression on, individual
        tables and figures refused. False passes tables through untouched (internal use).
    edition
        Name of this edition in the release ledger (e.g. ``"2026-11"``).
    ledger
        Earlier editions (:class:`~envejind_eval.disclosure.ledger.Ledger`); their
        published numbers join the verifier, so differencing editions is checked.
    scopes
        The complete list of values of a scope dimension in this run, e.g.
        ``{"municipality": [...every municipality...]}``: a reader knows that a national
        number is the sum over exactly these (without it, a scope's value may also stand
        for releases not published).

    Notes
    -----
    Primary rules: :class:`~envejind_eval.disclosure.rules.DisclosureRules`. Secondary
    suppression and the audit: :mod:`envejind_eval.disclosure.suppress` and
    :mod:`envejind_eval.disclosure.verify` (the audit of a suppression pattern by linear
    programming, ESSnet/Eurostat SDC Handbook ch. 4; R counterpart: ``sdcTable``'s
    ``protectTable`` / ``GaussSuppression``, which use their own solvers).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"team": ["A", "A", "B", "B"],
    ...                    "status": ["completed", "dropped_out"] * 2, "n": [6, 1, 8, 7]})
    >>> gate = Gate()
    >>> t = gate.release().table("status", df, by=["team", "status"], counts=["n"],
    ...                          margins=True, attributes=["status"])
    >>> t.display["n"].tolist()
    ['..', '<5', '..', '..', 7, 15, 14, 8, 22]
    >>> gate.verify().ok
    True
    """

    def __init__(
        self,
        *,
        rules: DisclosureRules | None = None,
        publication: bool = True,
        edition: str | None = None,
        ledger: Any = None,
        scopes: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.rules = rules or DisclosureRules()
        self.scopes = {str(k): [str(v) for v in vs] for k, vs in (scopes or {}).items()}
        self.publication = bool(publication)
        self.edition = edition
        self.ledger = ledger
        self._registered: dict[tuple[str, str], _Registered] = {}
        self._pending: list[_Registered] = []
        self._releases: dict[str, Release] = {}
        self._tables: list[TableMeta] = []
        self._cells: list[Cell] = []
        self._ledger_loaded = False
        self._stage = 0  # rounds of run(): tables registered later are gated against earlier

    def release(
        self, name: str = "national", *, scope: Mapping[str, object] | None = None
    ) -> Release:
        """A report of this run. ``scope`` fixes coordinates of all its tables, e.g.
        ``{"municipality": "Aalborg"}`` for a per-municipality report."""
        if name in self._releases:
            r = self._releases[name]
            if scope is not None and {str(k): str(v) for k, v in scope.items()} != r.scope:
                raise ValueError(f"release {name!r} already exists with another scope")
            return r
        r = Release(self, name, scope or {})
        self._releases[name] = r
        return r

    # -- running ----------------------------------------------------------------------

    def _load_ledger(self) -> None:
        if self._ledger_loaded or self.ledger is None:
            self._ledger_loaded = True
            return
        tables, cells = self.ledger.system_parts(exclude_edition=self.edition)
        self._tables.extend(tables)
        self._cells.extend(cells)
        self._ledger_loaded = True

    def run(self) -> None:
        """Suppress every pending table jointly (idempotent)."""
        self._load_ledger()
        pending, self._pending = self._pending, []
        if not pending:
            return
        stage = self._stage
        self._stage += 1
        for reg in pending:
            metas, cells = _cells_of(reg, self.rules, publication=self.publication)
            for c in cells:
                c.stage = stage
            self._tables.extend(metas)
            start = len(self._cells)
            self._cells.extend(cells)
            reg.cells = list(range(start, len(self._cells)))
        if self.publication:
            # populations are independent blocks of the linear system: solve them apart
            cand_all = {i for r in pending for i in r.cells}
            for pop in sorted({self._cells[i].population for i in cand_all}):
                system, index = self._system(pop)
                if stage > 0:  # facts of the national report are shown, not hidden again
                    for j in system.earlier_facts(stage):
                        system.cells[j].state, system.cells[j].reason = "published", None
                cand = [
                    j for j, i in enumerate(index) if i in cand_all and not system.cells[j].public
                ]
                secondary(system, cand)
        for reg in pending:
            for i in reg.cells:
                self._cells[i].locked = True
            assert reg.result is not None
            reg.result._out = _render(reg, self._cells, self.rules, publication=self.publication)

    def _system(self, population: str) -> tuple[System, list[int]]:
        """The linear system of one population (current run and ledger) and the indices
        of its cells in ``self._cells`` (the cell objects are shared)."""
        index = [i for i, c in enumerate(self._cells) if c.population == population]
        tables = [t for t in self._tables if t.population == population]
        return System(tables, [self._cells[i] for i in index], self.rules, self.scopes), index

    def verify(self) -> Verification:
        """Audit the whole run (all releases, margins, ledger editions) from scratch."""
        self.run()
        parts = []
        audited: dict[str, int] = {}
        pops = {c.population for c in self._cells if c.edition == CURRENT}
        for pop in sorted(pops):
            system, _ = self._system(pop)
            parts.append(check_targets(system, system.targets()))
            for k, v in system.audit_counts.items():
                audited[k] = audited.get(k, 0) + v
        if not parts:
            return Verification(check_targets(System([], [], self.rules, self.scopes), []))
        return Verification(pd.concat(parts, ignore_index=True), audited)

    def log(self) -> pd.DataFrame:
        """Suppression log of the run (``release, table, row, column, cell, rule``)."""
        self.run()
        logs = [r.result.log for r in self._registered.values() if r.result is not None]
        logs = [x for x in logs if len(x)]
        if not logs:
            return pd.DataFrame(columns=LOG_COLUMNS)
        return pd.concat(logs, ignore_index=True)

    def manifest(self) -> dict[str, Any]:
        """JSON-ready summary for the report manifest: rules, counts, the log."""
        from envejind_eval.disclosure.rules import rules_table

        log = self.log()
        return {
            "engine": "envejind_eval.disclosure",
            "publication": self.publication,
            "edition": self.edition,
            "min_cell": self.rules.min_cell,
            "dominance_limit": self.rules.dominance_limit,
            "rules": rules_table(self.rules).to_dict(orient="records"),
            "n_suppressed": len(log),
            "suppression_log": log.astype(str).to_dict(orient="records"),
        }

    def system_parts(self) -> tuple[list[TableMeta], list[Cell]]:
        """Tables and cells of the run so far (current edition and ledger)."""
        self.run()
        return list(self._tables), list(self._cells)

    def record(self) -> Any:
        """The ledger with this edition's published numbers added (save it with
        ``.save(folder)``)."""
        from envejind_eval.disclosure.ledger import Ledger

        self.run()
        base = self.ledger if self.ledger is not None else Ledger()
        cur_t = [t for t in self._tables if t.edition == CURRENT]
        cur_c = [c for c in self._cells if c.edition == CURRENT]
        return base.with_edition(self.edition, cur_t, cur_c, min_cell=self.rules.min_cell)


# -- table -> cells ---------------------------------------------------------------------


def _refuse_identifiers(
    name: str, data: pd.DataFrame, by: Sequence[str], fixed: Mapping[str, object]
) -> None:
    """Labels, text columns, column names and fixed values must not look like CPR numbers."""
    from envejind_eval.disclosure.scan import contains_cpr

    for c in data.columns:
        if contains_cpr(str(c)):
            raise DisclosureError(
                f"table {name!r}: a column name looks like a CPR number (rule: no identifiers)"
            )
    text_cols = [c for c in data.columns if c in by or not pd.api.types.is_numeric_dtype(data[c])]
    for c in text_cols:
        col = data[c]
        for j, v in enumerate(col.astype(str)):
            if contains_cpr(v):
                raise DisclosureError(
                    f"table {name!r}, column {c!r}, row {j}: a label looks like a CPR "
                    "number (rule: no identifiers in published tables)"
                )
    names = [n for n in data.index.names if n is not None]
    if any(str(n).lower() in INDIVIDUAL_COLUMNS for n in names):
        raise DisclosureError(
            f"table {name!r} is indexed by individuals; individual-level tables cannot be published"
        )
    if not isinstance(data.index, pd.RangeIndex):
        for j, v in enumerate(data.index.astype(str)):
            if contains_cpr(v):
                raise DisclosureError(
                    f"table {name!r}, row {j}: the row label looks like a CPR number "
                    "(rule: no identifiers in published tables)"
                )
    for k, fv in fixed.items():
        if contains_cpr(str(k)) or contains_cpr(str(fv)):
            raise DisclosureError(
                f"table {name!r}: a scope/where value looks like a CPR number (rule: no "
                "identifiers)"
            )


def _whole(col: pd.Series) -> bool:
    v = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
    v = v[~np.isnan(v)]
    return bool(len(v)) and bool(np.all(v == np.floor(v))) and bool(np.all(v >= 0))


def _is_total(v: object, label: str) -> bool:
    return isinstance(v, str) and v == label


def _add_margins(
    df: pd.DataFrame, by: tuple[str, ...], counts: Sequence[str], label: str
) -> pd.DataFrame:
    parts = [df]
    for size in range(len(by) - 1, -1, -1):
        for keep in combinations(by, size):
            if keep:
                g = (
                    df.groupby(list(keep), sort=True, dropna=False)[list(counts)]
                    .sum()
                    .reset_index()
                )
            else:
                g = pd.DataFrame({c: [df[c].sum()] for c in counts})
            for d in by:
                if d not in keep:
                    g[d] = label
            parts.append(g[[*by, *counts]])
    out = pd.concat([p.astype({d: object for d in by}) for p in parts], ignore_index=True)
    return out


def _cells_of(
    reg: _Registered, rules: DisclosureRules, *, publication: bool
) -> tuple[list[TableMeta], list[Cell]]:
    d = reg.data
    count_cols = list(reg.counts)
    if reg.n is not None and reg.n not in count_cols:
        count_cols.append(reg.n)
    label = reg.total_label
    rows = []  # (row label, by-key dict, is margin)
    for r, vals in zip(d.index, d[list(reg.by)].itertuples(index=False, name=None), strict=True):
        bykey = {}
        margin = False
        for dim, v in zip(reg.by, vals, strict=True):
            if _is_total(v, label):
                margin = True
            else:
                bykey[dim] = str(v)
        rows.append((r, bykey, margin))
    interior = frozenset(tuple(bk[dim] for dim in reg.by) for _, bk, m in rows if not m)
    metas: list[TableMeta] = []
    colkeys: dict[str, dict[str, str]] = {}
    values = {c: pd.to_numeric(d[c], errors="coerce").to_numpy(dtype=float) for c in count_cols}
    grand_n = _grand_total_n(reg, rows, values)
    cells: list[Cell] = []
    meta_interior = interior
    if grand_n is not None:
        # ``n`` repeats the number of persons of the whole table on every row (the
        # denominator of its shares): one cell, the margin over every dimension
        count_cols = [c for c in count_cols if c != reg.n]
        nvals = values.pop(reg.n)  # type: ignore[arg-type]
        if grand_n == "other":  # persons outside the listed groups exist
            meta_interior = interior | {("__other__",)}
        cells.append(
            Cell(
                population=reg.population,
                release=reg.release,
                table=reg.name,
                key=make_key(reg.fixed),
                value=float(nvals[~np.isnan(nvals)][0]),
                margin=True,
                ref=[(r, reg.n) for r, _, _ in rows],
                public=reg.n in reg.known,
            )
        )
    total = reg.total
    if total is None and len(count_cols) == 1:
        total = count_cols[0]  # a single count column is the table's own count
    elif total is None and reg.n is not None and reg.n not in reg.counts and reg.counts:
        # persons behind the row: the group the other counts are part of (list ``n`` in
        # ``counts`` when it is one of several disjoint parts instead)
        total = reg.n
    for c in count_cols:
        ck = {} if c == total else {reg.column_dim: str(c)}
        colkeys[c] = ck
        metas.append(
            TableMeta(
                population=reg.population,
                release=reg.release,
                table=reg.name,
                dims=reg.by,
                fixed=make_key({**reg.fixed, **ck}),
                interior=meta_interior,
            )
        )
    parts = [c for c in count_cols if c != total]
    if total is not None and parts:
        # when the count columns add up to the total in every row, no one is outside them:
        # tell the linear system (fewer unknowns, and a reader can check it anyway)
        summed = np.nansum([values[c] for c in parts], axis=0)
        tot = values[total]
        ok = ~np.isnan(tot)
        if ok.any() and np.allclose(summed[ok], tot[ok]):
            metas.append(
                TableMeta(
                    population=reg.population,
                    release=reg.release,
                    table=reg.name,
                    dims=(*reg.by, reg.column_dim),
                    fixed=make_key(reg.fixed),
                    interior=frozenset((*k, str(c)) for k in interior for c in parts),
                )
            )
    for j, (r, bykey, margin) in enumerate(rows):
        for c in count_cols:
            v = values[c][j]
            if math.isnan(v):
                continue
            if v < 0 or v != math.floor(v):
                raise DisclosureError(
                    f"table {reg.name!r}, row {j}, column {c!r}: counts must be "
                    "non-negative whole numbers"
                )
            cells.append(
                Cell(
                    population=reg.population,
                    release=reg.release,
                    table=reg.name,
                    key=make_key({**reg.fixed, **colkeys[c], **bykey}),
                    value=float(v),
                    margin=margin or (c == total and len(count_cols) > 1),
                    ref=(r, c),
                    public=c in reg.known,
                )
            )
    if publication:
        _primary(reg, cells, rules)
    if grand_n is None and reg.n is not None:
        cells.extend(_share_cells(reg, rows, interior, colkeys, rules, metas, publication))
    # undeclared count columns: their relation to the other columns is unknown, so each is
    # its own linear system (threshold rule and differencing across releases/editions only)
    for c in reg.extra:
        xvals = pd.to_numeric(d[c], errors="coerce").to_numpy(dtype=float)
        pop = f"{reg.population}::{c}"
        metas.append(
            TableMeta(
                population=pop,
                release=reg.release,
                table=reg.name,
                dims=reg.by,
                fixed=make_key(reg.fixed),
                interior=interior,
            )
        )
        for j, (r, bykey, margin) in enumerate(rows):
            if math.isnan(xvals[j]):
                continue
            cell = Cell(
                population=pop,
                release=reg.release,
                table=reg.name,
                key=make_key({**reg.fixed, **bykey}),
                value=float(xvals[j]),
                margin=margin,
                ref=(r, c),
            )
            if publication and rules.small_count(cell.value):
                cell.state, cell.reason = "small", "small"
            cells.append(cell)
    return metas, cells


def _share_cells(
    reg: _Registered,
    rows: list[tuple[Any, dict[str, str], bool]],
    interior: frozenset[tuple[str, ...]],
    colkeys: dict[str, dict[str, str]],
    rules: DisclosureRules,
    metas: list[TableMeta],
    publication: bool,
) -> list[Cell]:
    """A share next to its ``n`` publishes a count (share x n). Each share column becomes a
    yes/no dimension of the persons counted by ``n`` (``share:<column>``), so the count, its
    complement and their differences are checked like any other count."""
    assert reg.n is not None
    d = reg.data
    n = pd.to_numeric(d[reg.n], errors="coerce").to_numpy(dtype=float)
    counts = {
        c: pd.to_numeric(d[c], errors="coerce").to_numpy(dtype=float)
        for c in reg.counts
        if c != reg.n
    }
    out: list[Cell] = []
    nkey = colkeys.get(reg.n, {})
    for sh in reg.shares:
        share = pd.to_numeric(d[sh], errors="coerce").to_numpy(dtype=float)
        implied = share * n
        ok = ~np.isnan(implied)
        if not ok.any():
            continue
        if not np.allclose(implied[ok], np.round(implied[ok]), atol=1e-6):
            continue  # not an exact count (weighted or rounded share)
        implied = np.round(implied)
        if any(np.array_equal(implied[ok], v[ok]) for v in counts.values()):
            continue  # the count is published next to it already
        dim = f"share:{sh}"
        metas.append(
            TableMeta(
                population=reg.population,
                release=reg.release,
                table=reg.name,
                dims=reg.by,
                fixed=make_key({**reg.fixed, **nkey, dim: "yes"}),
                interior=interior,
            )
        )
        for j, (r, bykey, margin) in enumerate(rows):
            if not ok[j]:
                continue
            cell = Cell(
                population=reg.population,
                release=reg.release,
                table=reg.name,
                key=make_key({**reg.fixed, **nkey, **bykey, dim: "yes"}),
                value=float(implied[j]),
                margin=margin,
                ref=(r, sh),
            )
            if publication:
                if rules.small_count(cell.value):
                    cell.state, cell.reason = "small", "small"
                elif rules.extreme_share(cell.value, n[j]):
                    cell.state, cell.reason = "suppressed", "dominance"
            out.append(cell)
    return out


def _grand_total_n(
    reg: _Registered, rows: list[tuple[Any, dict[str, str], bool]], values: dict[str, np.ndarray]
) -> str | None:
    """``"exact"`` / ``"other"`` when the ``n`` column is the same number on every row and
    is the total of the whole table (``"other"``: a one-way table whose listed groups do
    not cover everyone); None when ``n`` is each row's own group size."""
    if reg.n_total is False:
        return None
    if reg.total is not None or reg.n is None or reg.n in reg.counts or not reg.counts:
        return None
    nv = values[reg.n][~np.isnan(values[reg.n])]
    if len(rows) < 2 or len(nv) == 0 or not np.all(nv == nv[0]):
        return None
    inner = [j for j, (_, _, m) in enumerate(rows) if not m]
    summed = float(np.nansum([values[c][inner] for c in reg.counts]))
    if summed == nv[0]:
        return "exact"
    if len(reg.by) == 1 and len(reg.counts) == 1 and summed < nv[0] and reg.shares:
        # only when the shares say so: share = count / n on every row
        cnt = values[reg.counts[0]][inner]
        for sh in reg.shares:
            got = pd.to_numeric(reg.data[sh], errors="coerce").to_numpy(dtype=float)[inner]
            if not np.allclose(got, cnt / nv[0], equal_nan=True):
                return None
        return "other"
    return None


def _primary(reg: _Registered, cells: list[Cell], rules: DisclosureRules) -> None:
    """Threshold and group-disclosure rules on one table's cells (in place)."""
    small = rules.small_count([c.value for c in cells])
    for c, s in zip(cells, small, strict=True):
        if s and not c.public:
            c.state, c.reason = "small", "small"
    by_key = {c.key: c for c in cells}
    col = reg.column_dim
    for c in cells:
        if c.reason == "small" or c.public:
            continue
        kd = dict(c.key)
        groups: list[float] = []
        for a in reg.attributes:
            if a not in kd or (a in reg.fixed and a != col):
                continue
            if a == col:
                if reg.total is not None:
                    gkey = make_key({k: v for k, v in kd.items() if k != col})
                    g = by_key.get(gkey)
                    groups.append(g.value if g is not None else math.nan)
                else:
                    sib = [by_key.get(make_key({**kd, col: str(x)})) for x in reg.counts]
                    groups.append(sum(s.value for s in sib if s is not None))
            else:
                gk = {k: v for k, v in kd.items() if k != a}
                g = by_key.get(make_key(gk))
                if g is not None:
                    groups.append(g.value)
                else:  # sum the cells that share every other coordinate
                    tot = 0.0
                    for o in cells:
                        od = dict(o.key)
                        if (
                            a in od
                            and set(od) == set(kd)
                            and all(od[k] == v for k, v in gk.items())
                        ):
                            tot += o.value
                    groups.append(tot)
        if any(bool(rules.extreme_share(c.value, g)) for g in groups if not math.isnan(g)):
            c.state, c.reason = "suppressed", "dominance"


def _render(
    reg: _Registered, cells: list[Cell], rules: DisclosureRules, *, publication: bool
) -> dict[str, Any]:
    d = reg.data
    mine = [cells[i] for i in reg.cells]
    sup = pd.DataFrame(False, index=d.index, columns=d.columns)
    lab: dict[tuple[Any, str], str] = {}
    log: list[dict[str, Any]] = []

    def mark(r: Any, c: str, text: str, rule: str, cellkey: str) -> None:
        if sup.at[r, c]:
            return
        sup.at[r, c] = True
        lab[(r, c)] = text
        log.append(
            {
                "release": reg.release,
                "table": reg.name,
                "row": str(r),
                "column": c,
                "cell": cellkey,
                "rule": rule,
            }
        )

    small_lab, sup_lab = rules.label_small, rules.suppressed_label
    # "<5" only for a count of persons: an estimate or a share (a count in disguise) that
    # cannot be shown is "..", since a mean, a p-value or a share of "<5" reads as a value
    not_counts = {*reg.estimates, *reg.shares}
    row_hidden: dict[Any, bool] = {}
    for c in mine:
        refs = c.ref if isinstance(c.ref, list) else [c.ref]
        for ref in refs:
            r, col = cast("tuple[Any, str]", ref)
            if c.state == "small":
                text = sup_lab if col in not_counts else small_lab
                mark(r, col, text, "small_count", key_text(c.key))
            elif c.state == "suppressed":
                mark(r, col, sup_lab, "protected", key_text(c.key))
            if c.state != "published" and len(refs) == 1:
                row_hidden[r] = True
    if publication and (reg.estimates or reg.shares):
        n = pd.to_numeric(d[reg.n], errors="coerce").to_numpy(dtype=float)
        few = ~(n >= rules.min_cell)
        nsh = d[reg.n_sharing].to_numpy(dtype=float) if reg.n_sharing else None
        for col in reg.shares:
            bad = rules.estimate_unsafe(
                n, kind="share", value=pd.to_numeric(d[col], errors="coerce").to_numpy(float)
            )
            for j, r in enumerate(d.index):
                if few[j]:
                    mark(r, col, sup_lab, "estimate_small_n", "")
                elif bad[j] or row_hidden.get(r, False):
                    mark(r, col, sup_lab, "protected", "")
        for col in reg.estimates:
            bad = rules.estimate_unsafe(
                n,
                kind=reg.kind,  # type: ignore[arg-type]
                value=pd.to_numeric(d[col], errors="coerce").to_numpy(dtype=float)
                if reg.kind == "share"
                else None,
                n_sharing=nsh,
            )
            for j, r in enumerate(d.index):
                if few[j]:
                    mark(r, col, sup_lab, "estimate_small_n", "")
                elif (
                    bad[j]
                    or sup.at[r, reg.n]
                    # an estimate next to shares is a function of them (a difference of
                    # shares is a difference of counts): it goes with a hidden share
                    or any(sup.at[r, sh] for sh in reg.shares)
                ):
                    mark(r, col, sup_lab, "protected", "")
    numeric = [*reg.counts, *([reg.n] if reg.n else []), *reg.extra, *reg.estimates, *reg.shares]
    data = d.copy()
    for col in dict.fromkeys(numeric):
        data[col] = pd.to_numeric(data[col], errors="coerce").astype(float).mask(sup[col])
    display = d.astype(object)
    for (r, col), text in lab.items():
        display.at[r, col] = text
    used = set(lab.values())
    notes = []
    if small_lab in used:
        notes.append(f"{small_lab}: fewer than {rules.min_cell} persons.")
    if sup_lab in used:
        notes.append(
            f"{sup_lab}: not shown, to protect small groups (a value that is small, all or "
            "none of a small group, or that would let a reader work out such a value, or an "
            f"estimate or share resting on fewer than {rules.min_cell} persons)."
        )
    return {
        "data": data,
        "suppressed": sup,
        "display": display,
        "footnote": " ".join(notes),
        "log": pd.DataFrame(log, columns=LOG_COLUMNS),
    }
