"""Adapter between the report's tables and the disclosure gate.

Every published table of a run (national and per-municipality reports together) passes
through :func:`gate` at once, so a suppressed cell cannot be recovered by combining tables,
reports of the same run, or earlier editions (the release ledger in the output folder).
The work is done by :class:`envejind_eval.disclosure.Gate` (primary and LP-verified
secondary suppression); the run fails when its verifier finds a protected cell that can be
pinned. Only if that module is missing does a conservative built-in rule set apply
(primary suppression, 0/100 % in small groups, margin protection), and the manifest says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from envejind_eval.report.model import Table

LOG_COLUMNS = ["scope", "table", "row", "column", "rule"]
#: total_label for tables without margin rows (a value no category can take)
NO_MARGIN = "\x00no-margin"


@dataclass
class GateResult:
    tables: dict[tuple[str, str], Table]  # (scope, name) -> gated table
    log: pd.DataFrame
    engine: str  # "envejind_eval.disclosure" or "builtin"
    manifest: dict[str, Any] = field(default_factory=dict)
    gate: Any = None  # the disclosure Gate (figures are checked against it; ledger record)


def _gated(t: Table) -> bool:
    return bool(t.count_cols or t.n_col or t.value_cols or t.share_cols)


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
    from envejind_eval.report.sections import optional

    Gate = optional("envejind_eval.disclosure.gate", "Gate")
    if Gate is None:
        return _builtin_gate(tables, min_cell)
    from envejind_eval.disclosure.ledger import Ledger
    from envejind_eval.disclosure.rules import DisclosureRules

    ledger = Ledger.load(ledger_dir) if ledger_dir is not None and ledger_dir.is_dir() else None
    g = Gate(rules=DisclosureRules(min_cell=min_cell), edition=edition, ledger=ledger)
    published = {}
    for (scope, name), t in tables.items():
        if not _gated(t):
            continue
        rel = g.release(scope, scope={} if scope == "national" else {"municipality": scope})
        by = tuple(b for b in t.by if not (scope != "national" and b == "municipality"))
        counts = tuple(c for c in t.count_cols if c != t.total and c != t.n_col)
        published[(scope, name)] = rel.table(
            name,
            t.data,
            by=by,
            counts=counts,
            total=t.total,
            total_label=t.total_label or NO_MARGIN,
            n=t.n_col,
            estimates=t.value_cols,
            shares=t.share_cols,
            kind=t.kind,  # type: ignore[arg-type]
            population=t.population,
            **({"public": t.public_cols} if t.public_cols and _accepts_public(Gate) else {}),
        )
    if published:
        g.run()
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
    return GateResult(out, log, "envejind_eval.disclosure", man, g)


def _accepts_public(gate_cls: Any) -> bool:
    import inspect

    from envejind_eval.disclosure.gate import Release

    return "public" in inspect.signature(Release.table).parameters


# -- built-in fallback ----------------------------------------------------------------------


def _builtin(scope: str, t: Table, min_cell: int) -> tuple[pd.DataFrame, list[dict]]:
    d = t.data
    sup = pd.DataFrame(False, index=d.index, columns=d.columns)
    log: list[dict] = []

    def mark(rows: Any, cols: Sequence[str], rule: str) -> None:
        for c in cols:
            for r in rows:
                if not sup.at[r, c]:
                    sup.at[r, c] = True
                    log.append(
                        {"scope": scope, "table": t.name, "row": str(r), "column": c, "rule": rule}
                    )

    counts = [c for c in t.count_cols if c in d.columns]
    if t.n_col is not None:
        small = d.index[d[t.n_col].fillna(0) < min_cell]
        mark(small, [*t.value_cols, *t.share_cols], "n_below_min_cell")
    for c in counts:
        v = d[c].fillna(0)
        mark(d.index[(v > 0) & (v < min_cell)], [c], "count_below_min_cell")
    if t.total is not None and t.total in counts:
        group = d[t.total]
        for c in counts:
            if c == t.total:
                continue
            small_group = (group < 2 * min_cell) & (group > 0)
            mark(d.index[(d[c].fillna(0) == 0) & small_group], [c], "zero_in_small_group")
            mark(d.index[(d[c] == group) & small_group], [c], "all_in_small_group")
        parts = [c for c in counts if c != t.total]
        for r in d.index:
            hidden = [c for c in parts if sup.at[r, c]]
            if len(hidden) == 1:
                rest = [c for c in parts if not sup.at[r, c]]
                if rest:
                    c2 = min(rest, key=lambda c: (d.at[r, c], c))
                    mark([r], [c2], "secondary_row_margin")
    for c in counts:
        hidden_rows = d.index[sup[c]]
        if len(hidden_rows) == 1 and len(d) > 1:
            shown = d.index[~sup[c]]
            r2 = d.loc[shown, c].astype(float).sort_values(kind="stable").index[0]
            mark([r2], [c], "secondary_column_margin")
    if t.share_cols and counts:
        mark(list(d.index[sup[counts].any(axis=1)]), list(t.share_cols), "share_of_suppressed")
    return sup, log


def _builtin_gate(tables: dict[tuple[str, str], Table], min_cell: int) -> GateResult:
    out: dict[tuple[str, str], Table] = {}
    logs: list[dict] = []
    for (scope, name), t in tables.items():
        sup, log = _builtin(scope, t, min_cell)
        out[(scope, name)] = replace(t, suppressed=sup)
        logs.extend(log)
    log_df = pd.DataFrame(logs, columns=LOG_COLUMNS)
    man = {
        "engine": "builtin",
        "min_cell": min_cell,
        "n_suppressed": len(log_df),
        "suppression_log": log_df.to_dict(orient="records"),
    }
    return GateResult(out, log_df, "builtin", man)


def n_suppressed(tables: dict[tuple[str, str], Table]) -> int:
    return int(
        sum(
            int(np.asarray(t.suppressed).sum()) for t in tables.values() if t.suppressed is not None
        )
    )
