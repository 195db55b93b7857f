"""Adapter between the report's tables and the disclosure gate.

Every published table of a run (national and per-municipality reports together) passes
through :func:`gate` at once, so a suppressed cell cannot be recovered by combining tables.
When ``envejind_eval.disclosure`` offers a gate it is used; until then a conservative
built-in rule set applies (primary suppression of counts and estimates resting on fewer
than ``min_cell`` persons, 0/100 % shares in small groups, and margin protection) and the
manifest says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from envejind_eval.report.model import Table

LOG_COLUMNS = ["scope", "table", "row", "column", "rule"]


@dataclass
class GateResult:
    tables: dict[tuple[str, str], Table]  # (scope, name) -> gated table
    log: pd.DataFrame  # LOG_COLUMNS
    engine: str  # "disclosure" or "builtin"


def _builtin(scope: str, t: Table, min_cell: int) -> tuple[pd.DataFrame, list[dict]]:
    d = t.data
    sup = pd.DataFrame(False, index=d.index, columns=d.columns)
    log: list[dict] = []

    def mark(rows: pd.Index, cols: Sequence[str], rule: str) -> None:
        for c in cols:
            for r in rows:
                if not sup.at[r, c]:
                    sup.at[r, c] = True
                    log.append(
                        {"scope": scope, "table": t.name, "row": int(r), "column": c, "rule": rule}
                    )

    counts = [c for c in t.count_cols if c in d.columns]
    # estimates resting on too few persons: the whole row's estimates go
    if t.n_col is not None:
        small = d.index[d[t.n_col].fillna(0) < min_cell]
        mark(small, [*t.value_cols, *t.share_cols], "n_below_min_cell")
    # counts: 1..min_cell-1 primary; a 0 in a group smaller than 2*min_cell is sensitive too
    for c in counts:
        v = d[c].fillna(0)
        mark(d.index[(v > 0) & (v < min_cell)], [c], "count_below_min_cell")
    if counts:
        group = d[counts[0]] if len(counts) > 1 else d[counts[0]]
        for c in counts[1:]:
            zero_small = d.index[(d[c].fillna(0) == 0) & (group < 2 * min_cell) & (group > 0)]
            mark(zero_small, [c], "zero_in_small_group")
            full_small = d.index[(d[c] == group) & (group < 2 * min_cell) & (group > 0)]
            mark(full_small, [c], "all_in_small_group")
    # shares follow their counts
    if t.share_cols and counts:
        for r in d.index[sup[counts].any(axis=1)]:
            mark(pd.Index([r]), list(t.share_cols), "share_of_suppressed_count")
    # margin protection (row): if the first count is a total of the others and exactly one of
    # the others is suppressed, suppress the smallest remaining one too
    if len(counts) > 2:
        parts = counts[1:]
        for r in d.index:
            hidden = [c for c in parts if sup.at[r, c]]
            if len(hidden) == 1:
                rest = [c for c in parts if not sup.at[r, c]]
                if rest:
                    c2 = min(rest, key=lambda c: (d.at[r, c], c))
                    mark(pd.Index([r]), [c2], "secondary_row_margin")
    # margin protection (column): a suppressed cell in a column protects the whole column's
    # smallest other cell (so totals minus the rest do not pin it)
    for c in counts:
        hidden_rows = d.index[sup[c]]
        if len(hidden_rows) == 1 and len(d) > 1:
            shown = d.index[~sup[c]]
            r2 = d.loc[shown, c].astype(float).sort_values(kind="stable").index[0]
            mark(pd.Index([r2]), [c], "secondary_column_margin")
    if t.share_cols and counts:
        for r in d.index[sup[counts].any(axis=1)]:
            mark(pd.Index([r]), list(t.share_cols), "share_of_suppressed_count")
    # a single-row table of shares over a tiny group: nothing to add
    return sup, log


def gate(
    tables: dict[tuple[str, str], Table], *, min_cell: int, ledger: object | None = None
) -> GateResult:
    """Suppress every published cell that could disclose information about < min_cell persons.

    Parameters
    ----------
    tables
        ``(scope, name) -> Table`` for the whole run.
    min_cell
        Minimum number of persons behind any published number.
    """
    out: dict[tuple[str, str], Table] = {}
    logs: list[dict] = []
    for (scope, name), t in tables.items():
        sup, log = _builtin(scope, t, min_cell)
        g = Table(**{**t.__dict__, "suppressed": sup})
        out[(scope, name)] = g
        logs.extend(log)
    log_df = pd.DataFrame(logs, columns=LOG_COLUMNS)
    return GateResult(out, log_df, "builtin")


def n_suppressed(tables: dict[tuple[str, str], Table]) -> int:
    return int(
        sum(
            int(np.asarray(t.suppressed).sum()) for t in tables.values() if t.suppressed is not None
        )
    )
