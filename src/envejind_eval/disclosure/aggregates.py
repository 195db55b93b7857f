"""Every aggregate a reader can form, enumerated completely and cleared in bulk.

A reader can add up any set of joint cells that some combination of categories names:
every marginal cell of a population's cross-classification ("team A, women", "Aalborg,
dropped out", the grand total), and, for each earlier edition in the ledger, "this edition
minus that one" for each of them. The verifier audits *all* of them (there is no cap; a
population too large to audit makes the run fail, see ``DisclosureRules.max_unknowns``).

Most of them cannot fail, and that can be proved without a linear programme. A functional
``f`` fails only when every feasible table gives it the same value and that value is in
``[1, min_cell - 1]``. Every pooled point (an optimal solution of an earlier programme of
the same system) is a feasible table, and stays feasible while suppression only removes
published numbers. So when the *integral* pooled points already give ``f`` two values, or a
value of 0 or at least ``min_cell``, ``f`` passes -- for the linear relaxation and for a
reader solving integer programmes alike (an integral feasible point is a feasible integer
table). Only the rest become :class:`~envejind_eval.disclosure.verify.Target` objects and
get their own programmes.

The pooled values of all aggregates over one set of dimensions are one sparse product
(groups x cells times cells x points), so the enumeration costs a few matrix products per
subset of dimensions, not one programme per aggregate.
"""

from __future__ import annotations

from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

if TYPE_CHECKING:
    from envejind_eval.disclosure.verify import System, Target, _Block


def integral_points(system: System) -> np.ndarray:
    """Pooled feasible points whose every coordinate is a whole number (points x vars)."""
    if not system._pool:
        return np.zeros((0, system.n_vars))
    pts = system.pool_matrix()
    ok = np.all(np.abs(pts - np.round(pts)) < 1e-6, axis=1)
    return np.round(pts[ok])


def undecided(values: np.ndarray, min_cell: int) -> np.ndarray:
    """Columns of ``values`` (points x functionals) the points do not prove safe."""
    if values.shape[0] == 0:
        return np.ones(values.shape[1], dtype=bool)
    lo = np.ceil(values.min(axis=0) - 1e-6)
    hi = np.floor(values.max(axis=0) + 1e-6)
    return (hi < lo) | ((hi == lo) & (lo >= 1) & (lo <= min_cell - 1))


def _groups(b: _Block, sub: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Distinct category combinations over dimensions ``sub`` and each cell's group."""
    n = len(b.codes)
    if not sub:
        return np.zeros((1, 0), dtype=np.int32), np.zeros(n, dtype=np.int64)
    uniq, inv = np.unique(b.codes[:, list(sub)], axis=0, return_inverse=True)
    return uniq, inv.reshape(-1)


def _group_values(inv: np.ndarray, n_groups: int, points: np.ndarray) -> np.ndarray:
    """Pooled value of every group (points x groups)."""
    if points.shape[0] == 0:
        return np.zeros((0, n_groups))
    g = sparse.csr_matrix(
        (np.ones(len(inv)), (inv, np.arange(len(inv)))), shape=(n_groups, len(inv))
    )
    return np.asarray((g @ points.T).T)


def aggregate_targets(
    system: System,
    pop: str,
    published: set[bytes],
    seen: set[bytes],
    counts: dict[str, int],
) -> list[Target]:
    """Targets for every marginal cell of ``pop``'s current cross-classification (and its
    difference to every earlier edition) that the pooled points do not prove safe.

    ``published`` and ``seen`` hold the supports (``idx.tobytes()``) of cells a table shows
    and of aggregates already targeted; ``counts`` receives how many were enumerated."""
    from envejind_eval.disclosure.verify import CURRENT, Target

    b = system.blocks.get((pop, CURRENT))
    if b is None or not len(b.codes):
        return []
    r = system.rules.min_cell
    points = integral_points(system)
    xb = points[:, b.offset : b.offset + len(b.codes)]
    previous = [(e, pb) for (p, e), pb in system.blocks.items() if p == pop and e != CURRENT]
    out: list[Target] = []
    nd = len(b.dims)
    for size in range(nd + 1):  # coarse first
        for sub in combinations(range(nd), size):
            uniq, inv = _groups(b, sub)
            vals = _group_values(inv, len(uniq), xb)
            counts["aggregates"] = counts.get("aggregates", 0) + len(uniq)
            need = undecided(vals, r)
            members = _members(inv, len(uniq)) if need.any() or previous else None
            for g in np.flatnonzero(need):
                idx = members[g] + b.offset  # type: ignore[index]
                sig = idx.tobytes()
                if sig in published or sig in seen:
                    continue
                seen.add(sig)
                out.append(
                    Target("implicit", system.indicator(idx), pop, key=_key(b, sub, uniq[g]))
                )
            for e, pb in previous:
                out.extend(
                    _edition_targets(
                        system, pop, b, pb, e, sub, uniq, members, points, vals, counts
                    )
                )
    return out


def _members(inv: np.ndarray, n_groups: int) -> list[np.ndarray]:
    """Cell indices (block-relative, sorted) of every group."""
    order = np.argsort(inv, kind="stable")
    bounds = np.searchsorted(inv[order], np.arange(n_groups + 1))
    return [order[bounds[g] : bounds[g + 1]] for g in range(n_groups)]


def _key(b: _Block, sub: tuple[int, ...], row: np.ndarray) -> tuple[tuple[str, str], ...]:
    return tuple((b.dims[j], b.cats[b.dims[j]][int(c)]) for j, c in zip(sub, row, strict=True))


def _edition_targets(
    system: System,
    pop: str,
    b: _Block,
    pb: _Block,
    edition: str,
    sub: tuple[int, ...],
    uniq: np.ndarray,
    members: list[np.ndarray] | None,
    points: np.ndarray,
    vals: np.ndarray,
    counts: dict[str, int],
) -> list[Target]:
    """ "This edition minus ``edition``" for every group over ``sub`` not proved safe."""
    from envejind_eval.disclosure.verify import Target

    assert members is not None
    r = system.rules.min_cell
    names = [b.dims[j] for j in sub]
    n_groups = len(uniq)
    counts["edition_differences"] = counts.get("edition_differences", 0) + n_groups
    prev_members: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * n_groups
    pvals = np.zeros_like(vals)
    if all(d in pb.dims for d in names) and len(pb.codes):
        psub = tuple(pb.dims.index(d) for d in names)
        puniq, pinv = _groups(pb, psub)
        pv = _group_values(pinv, len(puniq), points[:, pb.offset : pb.offset + len(pb.codes)])
        pmem = _members(pinv, len(puniq))
        where = {
            tuple(pb.cats[d][int(c)] for d, c in zip(names, row, strict=True)): k
            for k, row in enumerate(puniq)
        }
        for g, row in enumerate(uniq):
            k = where.get(tuple(b.cats[d][int(c)] for d, c in zip(names, row, strict=True)))
            if k is not None:
                prev_members[g] = pmem[k] + pb.offset
                pvals[:, g] = pv[:, k]
    out = []
    for g in np.flatnonzero(undecided(vals - pvals, r)).tolist():
        coef = system.indicator(members[g] + b.offset)
        coef[prev_members[g]] -= 1.0
        out.append(
            Target("edition_difference", coef, pop, key=_key(b, sub, uniq[g]), edition=edition)
        )
    return out
