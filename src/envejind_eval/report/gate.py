"""Adapter between the report's tables and the disclosure gate.

Every published table of a run (national and per-municipality reports together) passes
through :func:`gate` at once, so a suppressed cell cannot be recovered by combining tables,
reports of the same run, or earlier editions (the release ledger in the output folder).
The work is done by :class:`envejind_eval.disclosure.Gate` (primary and LP-verified
secondary suppression); the run fails when its verifier finds a protected cell that can be
pinned.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from envejind_eval.errors import DisclosureError
from envejind_eval.report.model import Table

LOG_COLUMNS = ["scope", "table", "row", "column", "rule"]
#: total_label for tables without margin rows (a value no category can take)
NO_MARGIN = "\x00no-margin"


@dataclass
class GateResult:
    tables: dict[tuple[str, str], Table]  # (scope, name) -> gated table
    log: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)
    gate: Any = None  # the disclosure Gate (figures are checked against it; ledger record)


def _gated(t: Table) -> bool:
    """True for a table the gate must suppress; refuses one that declares no counted columns
    unless it is marked ``public`` (fail closed: an undeclared table is not published as is).
    """
    if t.count_cols or t.n_col:
        return True
    if not t.public:
        raise DisclosureError(
            f"table '{t.name}' declares no counted columns (count_cols / n_col): refused; "
            "mark it public=True if it shows no information about persons"
        )
    return False


def gate(
    tables: dict[tuple[str, str], Table],
    *,
    min_cell: int,
    ledger_dir: Path | None = None,
    edition: str | None = None,
) -> GateResult:
    """Suppress every published cell that could disclose information about < min_cell persons.

    Parameters
    ----------
    tables
        ``(scope, name) -> Table`` for the whole run; scope is ``"national"`` or a
        municipality.
    min_cell
        Minimum number of persons behind any published number.
    ledger_dir
        Folder holding the release ledger of earlier editions (the previous output).
    edition
        Name of this edition in the ledger.
    """
    from envejind_eval.disclosure.gate import Gate
    from envejind_eval.disclosure.ledger import Ledger
    from envejind_eval.disclosure.rules import DisclosureRules

    ledger = Ledger.load(ledger_dir) if ledger_dir is not None and ledger_dir.is_dir() else None
    municipalities = sorted({s for s, _ in tables if s != "national"})
    g = Gate(
        rules=DisclosureRules(min_cell=min_cell),
        edition=edition,
        ledger=ledger,
        scopes={"municipality": municipalities} if municipalities else None,
    )
    published = {}
    # top down (as HiTaS protects a hierarchy): the national report first, on its own, then
    # the municipality reports against it. The national tables are then the same whether
    # or not the run writes municipality reports (docs/disclosure.md §2).
    for stage in ("national", "municipality"):
        for (scope, name), t in tables.items():
            if not _gated(t) or (scope == "national") != (stage == "national"):
                continue
            published[(scope, name)] = _register(g, scope, name, t)
        if published:
            g.run()
    if published:
        g.verify().raise_if_failed()
    out: dict[tuple[str, str], Table] = {}
    for key, t in tables.items():
        pt = published.get(key)
        if pt is None:
            out[key] = replace(
                t, suppressed=pd.DataFrame(False, index=t.data.index, columns=t.data.columns)
            )
            continue
        sup = pt.suppressed.reindex(index=t.data.index, columns=t.data.columns, fill_value=False)
        marks = pt.display.reindex(index=t.data.index, columns=t.data.columns)
        out[key] = replace(t, suppressed=sup.astype(bool), marks=marks, footnote=pt.footnote)
    man = g.manifest() if published else {"engine": "envejind_eval.disclosure", "n_suppressed": 0}
    log = g.log() if published else pd.DataFrame(columns=LOG_COLUMNS)
    return GateResult(out, log, man, g)


#: column the gate is given for a table whose counts are parts of the scope's participants
SCOPE_TOTAL = "\x00participants"


def _register(g: Any, scope: str, name: str, t: Table) -> Any:
    rel = g.release(scope, scope={} if scope == "national" else {"municipality": scope})
    by = tuple(b for b in t.by if not (scope != "national" and b == "municipality"))
    data, counts, total, known = (
        t.data,
        tuple(c for c in t.count_cols if c != t.total),
        t.total,
        t.known_cols,
    )
    if t.parts_of_scope:
        # a reader adds the parts up to the participants of the scope, which are published
        # elsewhere: the gate gets that sum as a known total
        data = data.assign(**{SCOPE_TOTAL: data[list(t.count_cols)].sum(axis=1)})
        total, known = SCOPE_TOTAL, (*known, SCOPE_TOTAL)
    # n_col stays a category when listed with other counts (parts of the row, no total)
    return rel.table(
        name,
        data,
        by=by,
        counts=counts,
        total=total,
        total_label=t.total_label or NO_MARGIN,
        n=t.n_col,
        n_total=t.n_is_total,
        estimates=t.value_cols,
        shares=t.share_cols,
        kind=t.kind,  # type: ignore[arg-type]
        population=t.population,
        public=t.public_cols,
        known=known,
    )


def n_suppressed(tables: dict[tuple[str, str], Table]) -> int:
    return int(
        sum(
            int(np.asarray(t.suppressed).sum()) for t in tables.values() if t.suppressed is not None
        )
    )
