"""Primary and secondary (complementary) cell suppression.

Primary suppression marks the cells the rules call sensitive (:mod:`.rules`). Secondary
suppression then hides further published cells until the verifier (:mod:`.verify`) finds
no protected quantity with an unsafe feasible range, across all tables of the run, their
margins, the per-municipality reports and earlier editions.

The secondary step is a greedy audit-and-extend loop: for each failing target, try the
candidate cells in order of cost (interior cells before margins, non-zero before zero,
small before large) and take the first whose suppression makes the target pass; if none
does on its own, take the one that widens the target's range most (or, failing that, the
cheapest cell linked to the target through a published total), and repeat. Because
removing a published number can only widen feasible ranges, a target that passed stays
passed, so the loop ends; in the worst case every candidate is suppressed. The result is
not cost-optimal (tau-ARGUS's optimal method solves a mixed-integer programme) but it is
*verified*: the final pattern passes the same LP audit the report runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from envejind_eval.disclosure.verify import System, Target
from envejind_eval.errors import DisclosureError

#: How many candidate cells are tried (two LPs each) before falling back to a heuristic.
MAX_TRIALS = 12
#: :func:`prune` runs a whole audit per complementary suppression; it is done when the
#: unknowns times the suppressions to try stay under this (small and medium runs; the
#: national runs keep the greedy pattern, which is safe, only larger).
PRUNE_BUDGET = 250_000


def _cost(system: System, i: int) -> tuple:
    c = system.cells[i]
    v = c.value if not math.isnan(c.value) else 0.0
    # a "<5" cell can lose its label (shown as ".." instead): last resort, when the labels
    # themselves pin a cell (e.g. "<3" + "<3" = "<3" forces 1 + 1 = 2)
    return (c.state == "small", c.margin, v == 0, v, len(system.supports[i]))


def _width(lo: float, hi: float) -> float:
    return hi - lo if math.isfinite(hi) and math.isfinite(lo) else math.inf


def _choose(
    system: System,
    t: Target,
    candidates: Sequence[int],
    current: tuple[float, float, list[int]],
) -> tuple[int, bool]:
    """Pick one cell to suppress so that target ``t`` (currently failing) improves.

    ``current`` is ``(low, high, binding cells)`` of ``t`` in the current system. Returns
    the cell and whether suppressing it is known to make ``t`` pass.
    """
    cand = set(candidates)
    lo0, hi0, binding = current
    ordered = sorted((i for i in binding if i in cand), key=lambda i: _cost(system, i))
    best, best_gain = None, 0.0
    for i in ordered[:MAX_TRIALS]:
        # dropping a number only widens the range: try one end first
        hi = system.extreme(t.coef, "max", drop=[i])
        if system.problem(t, lo0, hi) is None:
            return i, True
        lo = system.extreme(t.coef, "min", drop=[i])
        if system.problem(t, lo, hi) is None:
            return i, True
        gain = _width(lo, hi) - _width(lo0, hi0)
        if gain > best_gain:
            best, best_gain = i, gain
    if best is not None:
        return best, False
    if ordered:
        return ordered[0], False
    # no binding candidate (the target is pinned by locked numbers and the new ones
    # together): take the cheapest candidate sharing a joint cell with a live constraint
    tset = set(np.flatnonzero(t.coef).tolist())
    near = set(tset)
    for i, c in enumerate(system.cells):
        if c.state == "published" and tset.intersection(system.supports[i].tolist()):
            near.update(system.supports[i].tolist())
    close = [i for i in candidates if near.intersection(system.supports[i].tolist())]
    return min(close or list(candidates), key=lambda i: _cost(system, i)), False


def secondary(
    system: System,
    candidates: Iterable[int],
    *,
    populations: Iterable[str] | None = None,
) -> list[int]:
    """Suppress candidate cells until every target of ``system`` passes.

    Parameters
    ----------
    system
        The run's linear system; cells change state in place (``"suppressed"``,
        reason ``"secondary"``).
    candidates
        Indices of cells that may still be suppressed (the tables being gated now).
    populations
        Only check targets of these populations (the ones the new tables touch).

    Returns
    -------
    list of int
        Indices of the cells suppressed here, in order.
    """
    cand = [i for i in candidates if system.cells[i].state in ("published", "small")]
    done: set[tuple] = set()
    added: list[int] = []
    pops = list(populations) if populations is not None else None
    system.reset_pool()
    system.seed_pool()
    while True:
        changed = False
        for t in system.targets(populations=pops):
            sig = (t.kind, t.population, t.release, t.table, t.key, t.edition)
            if sig in done:
                continue
            while True:
                lo, hi = math.nan, math.nan
                binding: list[int] = []
                lp_ok = system.quick_check(t)
                lp = None
                if not lp_ok:
                    lo, hi, binding = system.solve(t.coef)
                    lp_ok = system.problem(t, lo, hi) is None
                    lp = (lo, hi)
                if lp_ok and system.int_problem(t, lp) is None:
                    done.add(sig)
                    break
                if lp_ok:  # safe for the LP, not for whole numbers: widen through a binding cell
                    lo, hi, binding = system.solve(t.coef)
                free = [i for i in cand if system.cells[i].state in ("published", "small")]
                if not free:
                    raise DisclosureError(
                        f"cannot protect {t.kind} quantity in {t.table or t.population}: "
                        "earlier published tables already disclose it; publish fewer tables "
                        "or coarser groupings"
                    )
                pick, passes = _choose(system, t, free, (lo, hi, binding))
                passes = passes and not lp_ok
                if system.cells[pick].state == "published":
                    system.cells[pick].reason = "secondary"
                system.cells[pick].state = "suppressed"  # a "<5" cell keeps reason "small"
                added.append(pick)
                changed = True
                if passes:
                    done.add(sig)
                    break
        if not changed:
            return prune(system, added, populations=pops)


def _passes(system: System, populations: list[str] | None) -> bool:
    """The whole audit, stopping at the first disclosed quantity."""
    for t in system.targets(populations=populations):
        if system.quick_check(t):
            continue
        lo, hi = system.bounds(t.coef)
        if system.problem(t, lo, hi) is not None:
            return False
    return True


def prune(
    system: System, added: Sequence[int], *, populations: list[str] | None = None
) -> list[int]:
    """Publish again every complementary suppression the final pattern does not need.

    The greedy loop protects one target at a time, so a cell chosen early can become
    redundant once later choices protect its target too. Each one is tried, most valuable
    first (margins and large counts), and kept published when the whole audit still
    passes -- the classical clean-up pass of heuristic cell suppression. Returns the cells
    that stay suppressed."""
    kept: list[int] = []
    order = sorted(dict.fromkeys(added), key=lambda i: _cost(system, i), reverse=True)
    if system.n_vars * len(order) > PRUNE_BUDGET:
        return list(added)
    for i in order:
        c = system.cells[i]
        reason = c.reason
        c.state = "small" if reason == "small" else "published"
        if reason == "secondary":
            c.reason = None
        saved = list(system._pool)
        system.keep_feasible(i)
        if _passes(system, populations):
            continue
        c.state, c.reason = "suppressed", reason
        system.reset_pool()
        system._pool = saved  # feasible before the trial, so feasible again
        kept.append(i)
    return [i for i in added if i in set(kept)]
