"""Verifier: what can a reader derive from *all* published numbers together?

Every published count of a run (all tables of the national report and of the
per-municipality reports, their margins, and the earlier editions kept in the release
ledger) becomes one linear system over the unknown cross-classification of each
*population* (the persons a family of tables counts). For every protected cell and every
aggregate a reader could form, ``scipy.optimize.linprog`` computes its feasible range
(minimum and maximum over non-negative, integer-relaxed solutions). The release fails when

* a suppressed sensitive cell is pinned to an exact value, or -- for cells not shown as
  "<5" -- its range lies inside ``[1, min_cell - 1]``;
* an aggregate no table shows (for instance "team A minus the completers", or a
  newcomer's cell "this edition minus the last") is pinned to an exact value in
  ``[1, min_cell - 1]``.

Structure
---------
``TableMeta`` describes one registered table (population, release, fixed dimensions such
as ``municipality`` of a per-municipality report, free dimensions, interior keys);
``Cell`` is one published or suppressed number. :class:`System` builds the joint unknowns
(the product of all categories of a population, minus the combinations some table shows
to be empty) and answers range queries. :func:`verify` checks a whole run.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import LinearConstraint, linprog, milp

from envejind_eval.disclosure.rules import DisclosureRules
from envejind_eval.errors import DisclosureError

#: Category standing for "every other value" of a dimension a table fixes (``where=``).
OTHER = "__other__"
CURRENT = "__current__"
#: Systems with at most this many unknowns are passed to linprog as dense arrays.
DENSE_LIMIT = 60

Key = tuple[tuple[str, str], ...]
State = Literal["published", "small", "suppressed"]
TargetKind = Literal["suppressed", "implicit", "edition_difference"]

VERIFY_COLUMNS = [
    "kind",
    "population",
    "release",
    "table",
    "cell",
    "edition",
    "passed",
    "problem",
]


def make_key(assignment: Mapping[str, object]) -> Key:
    """Canonical, hashable form of a cell's coordinates (dimension -> category)."""
    return tuple(sorted((str(k), str(v)) for k, v in assignment.items()))


def key_text(key: Key) -> str:
    return ", ".join(f"{d}={v}" for d, v in key) if key else "(total)"


@dataclass(frozen=True)
class TableMeta:
    """One registered table: which persons it counts and which combinations it shows."""

    population: str
    release: str
    table: str
    dims: tuple[str, ...]  # free dimensions (one column each)
    fixed: Key = ()  # dimensions fixed for the whole table (scope, where=)
    interior: frozenset[tuple[str, ...]] = frozenset()  # category tuples over ``dims``
    edition: str = CURRENT


@dataclass
class Cell:
    """One number of a count table (interior cell or margin)."""

    population: str
    release: str
    table: str
    key: Key  # full coordinates (fixed + free dims present in this cell)
    value: float  # true count; NaN when unknown (suppressed cells of earlier editions)
    state: State = "published"
    reason: str | None = None  # small | dominance | secondary | estimate (internal only)
    locked: bool = False  # already handed out: may not be suppressed any more
    public: bool = False  # a headcount of a whole scope: never suppressed (rules §4)
    stage: int = 0  # gated in this round of the run (national 0, municipalities 1)
    margin: bool = False
    edition: str = CURRENT
    ref: object = None  # caller's handle (row label, column)

    @property
    def protected(self) -> bool:
        return self.edition == CURRENT and self.reason in ("small", "dominance")


@dataclass
class Target:
    kind: TargetKind
    coef: np.ndarray  # dense functional over the variables
    population: str
    release: str = ""
    table: str = ""
    key: Key = ()
    edition: str = CURRENT
    cell: int | None = None  # index into System.cells for kind == "suppressed"
    strict: bool = False  # also fail when the range lies inside [1, min_cell - 1]
    nz: np.ndarray | None = None  # non-zero positions of ``coef`` (filled when first used)


@dataclass
class _Block:
    offset: int
    dims: list[str]
    cats: dict[str, list[str]]
    codes: np.ndarray  # (n_vars, n_dims) category codes


#: Use scipy's bundled HiGHS object directly (warm-started between the many small LPs of a
#: run, several times faster than a fresh ``linprog`` call each). ``linprog`` stays the
#: reference: it is used when this is False or the bundled object is not available, and
#: the tests check that both give the same ranges.
FAST_SOLVER = True
#: Most feasible points kept for :meth:`System.quick_check` (each check costs points x
#: support), of which the first ``POOL_SEEDS`` are the random vertices of ``seed_pool``.
POOL_SIZE = 400
POOL_SEEDS = 6


class _WarmSolver:
    """One HiGHS model per system state; objectives and relaxed rows change in place."""

    def __init__(
        self, n_vars: int, rows: list[np.ndarray], lower: list[float], upper: list[float], n_eq: int
    ) -> None:
        from scipy.optimize._highspy import _core as hc

        self.hc = hc
        self.n = n_vars
        self.n_eq = n_eq
        self.lower = np.asarray(lower, dtype=float)
        self.upper = np.asarray(upper, dtype=float)
        mat = _sparse_rows(rows, n_vars).tocsc() if rows else sparse.csc_matrix((0, n_vars))
        lp = hc.HighsLp()
        lp.num_col_ = n_vars
        lp.num_row_ = len(rows)
        lp.col_cost_ = np.zeros(n_vars)
        lp.col_lower_ = np.zeros(n_vars)
        lp.col_upper_ = np.full(n_vars, hc.kHighsInf)
        lp.row_lower_ = np.where(np.isfinite(self.lower), self.lower, -hc.kHighsInf)
        lp.row_upper_ = np.where(np.isfinite(self.upper), self.upper, hc.kHighsInf)
        lp.a_matrix_.format_ = hc.MatrixFormat.kColwise
        lp.a_matrix_.start_ = mat.indptr.astype(np.int32)
        lp.a_matrix_.index_ = mat.indices.astype(np.int32)
        lp.a_matrix_.value_ = mat.data.astype(float)
        lp.a_matrix_.num_col_ = n_vars
        lp.a_matrix_.num_row_ = len(rows)
        h = hc._Highs()
        h.setOptionValue("output_flag", False)
        if h.passModel(lp) != hc.HighsStatus.kOk:
            raise RuntimeError("HiGHS rejected the model")
        self.h = h
        self.cols = np.arange(n_vars, dtype=np.int32)

    def set_row(self, r: int, lo: float, hi: float) -> None:
        """New bounds of row ``r`` (infinite: its number is no longer published)."""
        self.lower[r], self.upper[r] = lo, hi
        inf = self.hc.kHighsInf
        self.h.changeRowBounds(
            int(r), lo if np.isfinite(lo) else -inf, hi if np.isfinite(hi) else inf
        )

    def solve(self, coef: np.ndarray, sense: str, relax: Sequence[int] = ()):
        """(status, value, x, eq duals); status is optimal|infeasible|unbounded|other."""
        hc, h = self.hc, self.h
        inf = hc.kHighsInf
        for r in relax:
            h.changeRowBounds(int(r), -inf, inf)
        try:
            h.changeColsCost(self.n, self.cols, np.asarray(coef, dtype=float))
            h.changeObjectiveSense(
                hc.ObjSense.kMinimize if sense == "min" else hc.ObjSense.kMaximize
            )
            h.run()
            st = h.getModelStatus()
            if st == hc.HighsModelStatus.kOptimal:
                sol = h.getSolution()
                value = float(h.getInfo().objective_function_value)
                return (
                    "optimal",
                    value,
                    np.asarray(sol.col_value),
                    np.asarray(sol.row_dual),
                )
            if st == hc.HighsModelStatus.kInfeasible:
                return "infeasible", math.nan, None, None
            if st in (hc.HighsModelStatus.kUnbounded, hc.HighsModelStatus.kUnboundedOrInfeasible):
                return "unbounded", math.nan, None, None
            return "other", math.nan, None, None
        finally:
            for r in relax:
                lo = self.lower[r] if np.isfinite(self.lower[r]) else -inf
                hi = self.upper[r] if np.isfinite(self.upper[r]) else inf
                h.changeRowBounds(int(r), float(lo), float(hi))


@dataclass
class System:
    """The linear system of a run: joint unknowns, one row per published number.

    Parameters
    ----------
    tables, cells
        Registered tables and their cells (current run and ledger editions).
    rules
        Thresholds.
    """

    tables: Sequence[TableMeta]
    cells: list[Cell]
    rules: DisclosureRules = field(default_factory=DisclosureRules)
    #: complete list of values of a scope dimension (e.g. every municipality of the run):
    #: a number over the whole dimension is the sum over these, with no "other" category
    scopes: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.blocks: dict[tuple[str, str], _Block] = {}
        n = 0
        pops = sorted({t.population for t in self.tables} | {c.population for c in self.cells})
        for pop in pops:
            ptab = [t for t in self.tables if t.population == pop]
            pcell = [c for c in self.cells if c.population == pop]
            dims_set: set[str] = set()
            for t in ptab:
                dims_set |= set(t.dims) | {d for d, _ in t.fixed}
            for c in pcell:
                dims_set |= {d for d, _ in c.key}
            dims = sorted(dims_set)
            cats: dict[str, set[str]] = {d: set() for d in dims}
            fixed_dims: set[str] = set()
            for t in ptab:
                for d, v in t.fixed:
                    cats[d].add(v)
                    fixed_dims.add(d)
                for tup in t.interior:
                    for d, v in zip(t.dims, tup, strict=True):
                        cats[d].add(v)
            for c in pcell:
                for d, v in c.key:
                    cats[d].add(v)
            for d in dims:
                if d in self.scopes:
                    cats[d] |= {str(v) for v in self.scopes[d]}
            catl = {
                d: sorted(cats[d] - {OTHER})
                + (
                    [OTHER]
                    if (d in fixed_dims and d not in self.scopes) or OTHER in cats[d]
                    else []
                )
                for d in dims
            }
            editions = sorted({t.edition for t in ptab} | {c.edition for c in pcell})
            for ed in editions:
                codes = _joint(
                    dims, catl, [t for t in ptab if t.edition == ed], self.rules.max_unknowns, pop
                )
                self.blocks[(pop, ed)] = _Block(n, dims, catl, codes)
                n += len(codes)
        self.n_vars = n
        self.supports = [self.support(c.population, c.edition, c.key) for c in self.cells]
        self._pool: list[np.ndarray] = []
        self._pool_arr: np.ndarray | None = None
        self._pool_rows = 0
        self._warm_sig: tuple | None = None
        self._warm_solver: _WarmSolver | None = None
        self._warm_rows: dict[int, int] = {}
        self._warm_eq_cells: list[int] = []
        #: how many aggregates :meth:`targets` enumerated (all of them are audited)
        self.audit_counts: dict[str, int] = {}
        self._int_pool: list[np.ndarray] = []

    # -- structure ---------------------------------------------------------------------

    def support(self, population: str, edition: str, key: Key) -> np.ndarray:
        """Variable indices of the joint cells summed by the cell ``key``."""
        b = self.blocks.get((population, edition))
        if b is None:
            return np.zeros(0, dtype=np.int64)
        mask = np.ones(len(b.codes), dtype=bool)
        for d, v in key:
            if d not in b.cats or v not in b.cats[d]:
                return np.zeros(0, dtype=np.int64)
            mask &= b.codes[:, b.dims.index(d)] == b.cats[d].index(v)
        return np.flatnonzero(mask) + b.offset

    def indicator(self, idx: np.ndarray) -> np.ndarray:
        f = np.zeros(self.n_vars)
        f[idx] = 1.0
        return f

    # -- constraints -------------------------------------------------------------------

    def _matrices(self, drop: Iterable[int] = ()) -> tuple:
        dropped = set(drop)
        eq_rows, eq_b, ub_rows, ub_b = [], [], [], []
        eq_cells: list[int] = []
        ub_cells: list[int] = []
        upper = self.rules.min_cell - 1
        for i, c in enumerate(self.cells):
            if i in dropped:
                continue
            sup = self.supports[i]
            if c.state == "published" and not math.isnan(c.value):
                eq_rows.append(sup)
                eq_b.append(float(c.value))
                eq_cells.append(i)
            elif c.state == "small":
                ub_rows.append((sup, 1.0))
                ub_b.append(float(upper))
                ub_rows.append((sup, -1.0))
                ub_b.append(-1.0)
                ub_cells.extend((i, i))
        a_eq = _sparse_rows(eq_rows, self.n_vars) if eq_rows else None
        a_ub = (
            _sparse_rows([s for s, _ in ub_rows], self.n_vars, [v for _, v in ub_rows])
            if ub_rows
            else None
        )
        if self.n_vars <= DENSE_LIMIT:  # scipy's input checks are cheaper on dense arrays
            a_eq = a_eq.toarray() if a_eq is not None else None
            a_ub = a_ub.toarray() if a_ub is not None else None
        if not dropped:
            self._eq_cells = eq_cells
            self._ub_cells = ub_cells
        return a_eq, (np.array(eq_b) if eq_b else None), a_ub, (np.array(ub_b) if ub_b else None)

    def bounds(
        self, coef: np.ndarray, *, drop: Iterable[int] = (), _m: tuple | None = None
    ) -> tuple[float, float]:
        lo, hi, _ = self.solve(coef, drop=drop, _m=_m)
        return lo, hi

    def extreme(
        self,
        coef: np.ndarray,
        sense: Literal["min", "max"],
        *,
        drop: Sequence[int] = (),
        _m: tuple | None = None,
        binding: set[int] | None = None,
    ) -> float:
        """Minimum or maximum of ``coef @ x`` over the feasible counts, rounded inwards
        (a reader knows counts are whole numbers). Solutions of the undropped system are
        pooled for :meth:`quick_check`; cells whose equations bind the optimum (non-zero
        dual value) are added to ``binding``."""
        fast = self._fast_extreme(coef, sense, drop=drop, binding=binding)
        if fast is not None:
            return fast
        a_eq, b_eq, a_ub, b_ub = m = _m if _m is not None else self._matrices(drop)
        sign = 1.0 if sense == "min" else -1.0
        res = _linprog(sign * coef, m)
        if res.status == 2:
            raise DisclosureError(self._infeasible_message())
        if res.status == 3:
            return -math.inf if sense == "min" else math.inf
        if res.status != 0:
            raise DisclosureError(f"linear programme failed ({res.message})")
        if not drop:
            self._add_to_pool(np.asarray(res.x, dtype=float))
            if binding is not None and a_eq is not None and res.eqlin is not None:
                marg = np.asarray(res.eqlin.marginals)
                binding.update(self._eq_cells[j] for j in np.flatnonzero(np.abs(marg) > 1e-9))
            if binding is not None and a_ub is not None and res.ineqlin is not None:
                marg = np.asarray(res.ineqlin.marginals)
                binding.update(self._ub_cells[j] for j in np.flatnonzero(np.abs(marg) > 1e-9))
        value = sign * res.fun
        return math.ceil(value - 1e-6) if sense == "min" else math.floor(value + 1e-6)

    def _warm(self) -> _WarmSolver | None:
        """The warm-started solver for the current cell states (rebuilt when they change)."""
        if not FAST_SOLVER:
            return None
        sig = tuple(c.state for c in self.cells)
        if self._warm_sig == sig:
            return self._warm_solver
        if self._warm_solver is not None and self._warm_sig is not None:
            # cells only ever go to "suppressed": free their rows in the live model
            changed = [
                i for i, (a, b) in enumerate(zip(self._warm_sig, sig, strict=True)) if a != b
            ]
            # a cell suppressed (or published again, when its row exists): change the
            # row's bounds in the live model instead of rebuilding it
            if all(sig[i] == "suppressed" or i in self._warm_rows for i in changed):
                for i in changed:
                    r = self._warm_rows.get(i)
                    if r is None:
                        continue
                    if sig[i] == "suppressed":
                        self._warm_solver.set_row(r, -np.inf, np.inf)
                    elif sig[i] == "small":
                        self._warm_solver.set_row(r, 1.0, float(self.rules.min_cell - 1))
                    else:
                        v = float(self.cells[i].value)
                        self._warm_solver.set_row(r, v, v)
                self._warm_sig = sig
                return self._warm_solver
        rows: list[np.ndarray] = []
        lower: list[float] = []
        upper: list[float] = []
        row_of: dict[int, int] = {}
        eq_cells: list[int] = []
        for i, c in enumerate(self.cells):
            if c.state == "published" and not math.isnan(c.value):
                row_of[i] = len(rows)
                eq_cells.append(i)
                rows.append(self.supports[i])
                lower.append(float(c.value))
                upper.append(float(c.value))
        n_eq = len(rows)
        for i, c in enumerate(self.cells):
            if c.state == "small":
                row_of[i] = len(rows)
                rows.append(self.supports[i])
                lower.append(1.0)
                upper.append(float(self.rules.min_cell - 1))
        row_cells = eq_cells + [i for i, c in enumerate(self.cells) if c.state == "small"]
        try:
            solver: _WarmSolver | None = _WarmSolver(self.n_vars, rows, lower, upper, n_eq)
        except Exception:  # the bundled HiGHS object is private scipy API: fall back
            solver = None
        self._warm_sig, self._warm_solver = sig, solver
        self._warm_rows, self._warm_eq_cells = row_of, row_cells
        return solver

    def _fast_extreme(
        self,
        coef: np.ndarray,
        sense: Literal["min", "max"],
        *,
        drop: Sequence[int],
        binding: set[int] | None,
    ) -> float | None:
        solver = self._warm()
        if solver is None:
            return None
        relax = [self._warm_rows[i] for i in drop if i in self._warm_rows]
        status, value, x, duals = solver.solve(coef, sense, relax)
        if status == "infeasible":
            raise DisclosureError(self._infeasible_message())
        if status == "unbounded":
            return -math.inf if sense == "min" else math.inf
        if status != "optimal":
            return None  # let linprog decide
        if not drop:
            self._add_to_pool(x)
            if binding is not None and duals is not None:
                binding.update(self._warm_eq_cells[j] for j in np.flatnonzero(np.abs(duals) > 1e-9))
        return math.ceil(value - 1e-6) if sense == "min" else math.floor(value + 1e-6)

    def solve(
        self, coef: np.ndarray, *, drop: Iterable[int] = (), _m: tuple | None = None
    ) -> tuple[float, float, list[int]]:
        """Feasible ``(low, high)`` of ``coef @ x`` given every published number, and the
        cells whose published values bind either end."""
        drop = list(drop)
        # the dense matrices are for linprog only: build them once for both ends, and only
        # when the warm-started HiGHS path is off (building them dominated the gate's time)
        m = _m if _m is not None or FAST_SOLVER else self._matrices(drop)
        binding: set[int] = set()
        lo = self.extreme(coef, "min", drop=drop, _m=m, binding=binding)
        hi = self.extreme(coef, "max", drop=drop, _m=m, binding=binding)
        return lo, hi, sorted(binding)

    def _infeasible_message(self) -> str:
        """Name the population(s) and tables whose counts contradict each other."""
        bad: list[str] = []
        for pop in sorted({k[0] for k in self.blocks}):
            keep = [i for i, c in enumerate(self.cells) if c.population != pop]
            res = _linprog(np.zeros(self.n_vars), self._matrices(keep))
            if res.status == 2:
                seen: dict[tuple, tuple[float, str]] = {}
                clash: set[str] = set()
                for i, c in enumerate(self.cells):
                    if c.population != pop or c.state != "published":
                        continue
                    sig = (c.edition, self.supports[i].tobytes())
                    name = (
                        f"{c.release}/{c.table}"
                        if c.edition == CURRENT
                        else f"{c.edition}/{c.table}"
                    )
                    if sig in seen and seen[sig][0] != c.value:
                        clash.update({seen[sig][1], name})
                    seen.setdefault(sig, (c.value, name))
                where = (
                    f" (tables {sorted(clash)} give different counts for the same cell)"
                    if clash
                    else ""
                )
                bad.append(f"population {pop!r}{where}")
        which = "; ".join(bad) if bad else "several populations together"
        return (
            f"the published counts are inconsistent: {which}. Tables that count different "
            "persons need different `population=` names, or the distinguishing dimension "
            "given with `where=` or `by=`"
        )

    def seed_pool(self, k: int = 3, *, seed: int = 0) -> None:
        """Add ``2 k`` vertices (min and max of random objectives) to the solution pool."""
        rng = np.random.default_rng(seed)
        for _ in range(k):
            self.bounds(rng.standard_normal(self.n_vars))

    def quick_check(self, t: Target) -> bool:
        """True when pooled feasible points already prove that ``t`` passes.

        Every pooled point satisfies the current constraints (suppression only removes
        constraints, so points stay feasible), hence the true range contains the pooled
        range; :meth:`problem` is monotone in the range.
        """
        if not self._pool:
            return False
        if t.nz is None:
            t.nz = np.flatnonzero(t.coef)
        vals = self.pool_matrix()[:, t.nz] @ t.coef[t.nz]
        lo, hi = math.ceil(vals.min() - 1e-6), math.floor(vals.max() + 1e-6)
        if hi < lo:  # pooled range narrower than one integer: no proof
            return False
        return self.problem(t, lo, hi) is None

    def _add_to_pool(self, x: np.ndarray) -> None:
        """Pool a feasible point; past :data:`POOL_SIZE` the older half of the points after
        the seeds is dropped (the pool only speeds up proofs, any subset is as sound)."""
        self._pool.append(x)
        if len(self._pool) > POOL_SIZE:
            keep = POOL_SEEDS + (len(self._pool) - POOL_SEEDS) // 2
            self._pool = self._pool[:POOL_SEEDS] + self._pool[keep:]
            self._pool_arr, self._pool_rows = None, 0

    def pool_matrix(self) -> np.ndarray:
        """The pooled points as rows of one array (grown in place, not restacked)."""
        n = len(self._pool)
        arr = self._pool_arr
        have = self._pool_rows
        if arr is None or arr.shape[0] < n:
            new = np.empty((max(2 * n, 16), self.n_vars))
            if arr is not None:
                new[:have] = arr[:have]
            self._pool_arr = arr = new
        if have < n:
            arr[have:n] = np.stack(self._pool[have:n])
            self._pool_rows = n
        return arr[:n]

    def keep_feasible(self, i: int) -> None:
        """Keep only the pooled points that satisfy cell ``i``'s constraint (after it is
        published again)."""
        if not self._pool:
            return
        c = self.cells[i]
        vals = self.pool_matrix()[:, self.supports[i]].sum(axis=1)
        if c.state == "published":
            ok = np.abs(vals - c.value) < 1e-6
        elif c.state == "small":
            ok = (vals > 1 - 1e-6) & (vals < self.rules.min_cell - 1 + 1e-6)
        else:
            return
        kept = [p for p, k in zip(self._pool, ok, strict=True) if k]
        self.reset_pool()
        self._pool = kept

    def reset_pool(self) -> None:
        self._int_seen = 0
        self._pool = []
        self._pool_arr = None
        self._pool_rows = 0

    # -- integer feasibility -----------------------------------------------------------

    def int_problem(self, t: Target, lp: tuple[float, float] | None = None) -> str | None:
        """:meth:`problem` on the *integer* range of ``t`` (a reader solving integer
        programmes). Only called when the LP range passes: the integer range lies inside
        it and can be narrower when three or more linked dimensions make the constraint
        matrix not totally unimodular. Integer solutions are pooled: two of them that
        already show ``t`` safe make the programme unnecessary."""
        if self.n_vars == 0 or (lp is not None and lp[1] - lp[0] < 0.5):
            return None  # an exact LP range is the integer range (the true counts fit it)
        cons = self._int_constraints()
        if cons is None:
            return None
        # vertices of the LP audit are often whole numbers (hierarchical tables): reuse them
        seen = self.__dict__.setdefault("_int_seen", 0)
        for x in self._pool[seen:]:
            if np.all(np.abs(x - np.round(x)) < 1e-9):
                self._int_pool.append(np.round(x))
        self._int_seen = len(self._pool)
        if not self._int_pool:  # a few integer vertices decide most targets at once
            rng = np.random.default_rng(0)
            for _ in range(4):
                res = milp(
                    rng.standard_normal(self.n_vars),
                    constraints=cons,
                    integrality=np.ones(self.n_vars),
                    bounds=(0, np.inf),
                )
                if res.status == 0:
                    self._int_pool.append(np.round(res.x))
        if self._int_pool:
            vals = np.stack(self._int_pool) @ t.coef
            lo, hi = round(float(vals.min())), round(float(vals.max()))
            if self.problem(t, lo, hi) is None:  # monotone: a wider true range passes too
                return None
        ends = []
        for sign in (1.0, -1.0):
            res = milp(
                sign * t.coef,
                constraints=cons,
                integrality=np.ones(self.n_vars),
                bounds=(0, np.inf),
            )
            if res.status == 3:
                ends.append(math.inf)
                continue
            if res.status != 0:
                return None  # the LP audit stands (a time limit; infeasible is caught there)
            self._int_pool.append(np.round(res.x))
            ends.append(round(sign * res.fun))
        return self.problem(t, ends[0], ends[1])

    def _int_constraints(self) -> list | None:
        sig = tuple(c.state for c in self.cells)
        if getattr(self, "_int_sig", None) == sig:
            return self._int_cons
        a_eq, b_eq, a_ub, b_ub = self._matrices()
        cons = []
        if a_eq is not None:
            cons.append(LinearConstraint(a_eq, b_eq, b_eq))
        if a_ub is not None:
            cons.append(LinearConstraint(a_ub, -np.inf, b_ub))
        self._int_sig = sig
        self._int_cons: list | None = cons or None
        self._int_pool = [x for x in getattr(self, "_int_pool", []) if self._int_ok(x)]
        return self._int_cons

    def _int_ok(self, x: np.ndarray) -> bool:
        """``x`` still satisfies every constraint (suppression only removes equations)."""
        for c in self._int_cons or []:
            v = c.A @ x
            if np.any(v < c.lb - 1e-6) or np.any(v > c.ub + 1e-6):
                return False
        return True

    def matrices(self, drop: Iterable[int] = ()) -> tuple:
        return self._matrices(drop)

    # -- targets -----------------------------------------------------------------------

    def problem(self, t: Target, lo: float, hi: float) -> str | None:
        """Why a range fails, or None. Never mentions the value itself."""
        small_hi = self.rules.min_cell - 1
        exact = math.isfinite(lo) and math.isfinite(hi) and hi - lo < 0.5
        if t.kind == "suppressed":
            if exact:
                return "pinned to an exact value"
            if t.strict and lo >= 1 and hi <= small_hi:
                return f"range inside [1, {small_hi}]"
            return None
        if exact and 1 <= lo <= small_hi and not self._public_fact(t):
            return "derivable small count"
        return None

    def _public_fact(self, t: Target) -> bool:
        """True when the headcounts of whole scopes alone (``Cell.public``) pin ``t``: then
        it is itself such a headcount (forms not received = expected - received), not an
        attribute a suppression could protect."""
        return self._pinned_by(t, lambda c: c.public, "public")

    def earlier_facts(self, stage: int) -> list[int]:
        """Cells of ``stage`` the rules would hide that what earlier stages published (the
        national report) and the headcounts already pin: nobody of 31 nationally
        deteriorated means nobody in each municipality, and a municipality's 4 pairs are
        then all "unchanged". That group fact was allowed where it was published (a group of
        at least ``2 * min_cell``); hiding it again protects nothing, so it is shown."""
        out = []
        for i, c in enumerate(self.cells):
            if c.stage != stage or c.edition != CURRENT or c.reason not in ("small", "dominance"):
                continue
            t = Target("suppressed", self.indicator(self.supports[i]), c.population, cell=i)
            pinned = self._pinned_by(
                t,
                lambda o: o.public or (o.edition == CURRENT and o.stage < stage),
                ("stage", stage),
            )
            if pinned:
                out.append(i)
        return out

    def _pinned_by(self, t: Target, known, cache_key: object) -> bool:
        # the cells ``known`` selects are never suppressed later (public or locked): cache
        cache = self.__dict__.setdefault("_known_rows", {})
        if cache_key not in cache:
            idx = [
                i
                for i, c in enumerate(self.cells)
                if c.state == "published" and known(c) and not math.isnan(c.value)
            ]
            vals = [float(self.cells[i].value) for i in idx]
            cache[cache_key] = (
                _solver_or_none([self.supports[i] for i in idx], vals, self.n_vars) if idx else None
            )
        if cache[cache_key] is None:
            return False
        done = self.__dict__.setdefault("_known_pins", {})
        sig = (cache_key, np.flatnonzero(t.coef).tobytes(), t.coef[t.coef != 0].tobytes())
        if sig not in done:
            solver = cache[cache_key]
            ends = [solver.solve(t.coef, sense)[:2] for sense in ("min", "max")]
            done[sig] = all(st == "optimal" for st, _ in ends) and ends[1][1] - ends[0][1] < 0.5
        return done[sig]

    def targets(self, *, populations: Iterable[str] | None = None) -> list[Target]:
        """Every protected quantity not yet proved safe: suppressed sensitive cells, and
        every implicit aggregate of the current edition and its difference to every earlier
        edition (all of them are enumerated; those the pooled feasible points prove safe
        are counted in ``audit_counts`` and not returned, see :mod:`.aggregates`)."""
        pops = set(populations) if populations is not None else None
        out: list[Target] = []
        published_supports: set[bytes] = set()
        seen: set[bytes] = set()
        for i, c in enumerate(self.cells):
            if pops is not None and c.population not in pops:
                continue
            if c.protected and c.state != "published":
                out.append(
                    Target(
                        "suppressed",
                        self.indicator(self.supports[i]),
                        c.population,
                        c.release,
                        c.table,
                        c.key,
                        cell=i,
                        strict=c.state != "small",
                    )
                )
            if c.edition == CURRENT and c.state == "published":
                published_supports.add(self.supports[i].tobytes())
            elif c.protected:
                seen.add(self.supports[i].tobytes())
        # every aggregate, uncapped; the pooled feasible points clear most of them in bulk
        from envejind_eval.disclosure.aggregates import aggregate_targets

        if not self._pool:
            self.seed_pool()
        for pop, ed in list(self.blocks):
            if ed != CURRENT or (pops is not None and pop not in pops):
                continue
            out.extend(aggregate_targets(self, pop, published_supports, seen, self.audit_counts))
        return out


def _joint(
    dims: list[str],
    cats: dict[str, list[str]],
    tables: Sequence[TableMeta],
    limit: int | None = None,
    population: str = "",
) -> np.ndarray:
    """Category codes of the joint cells that can be non-empty.

    Built dimension by dimension; after each step, combinations a table shows to be empty
    (its fixed values match but its free categories are not among its rows) are dropped.
    More than ``limit`` cells after a step: :class:`DisclosureError` (the population cannot
    be audited completely, and a partial audit is never published).
    """
    codes = np.zeros((1, 0), dtype=np.int32)
    for i, d in enumerate(dims):
        k = len(cats[d])
        codes = np.concatenate(
            [
                np.repeat(codes, k, axis=0),
                np.tile(np.arange(k, dtype=np.int32), len(codes))[:, None],
            ],
            axis=1,
        )
        prefix = set(dims[: i + 1])
        for t in tables:
            tdims = set(t.dims) | {dd for dd, _ in t.fixed}
            if d not in tdims or not tdims <= prefix or not len(codes):
                continue
            match = np.ones(len(codes), dtype=bool)
            for dd, v in t.fixed:
                match &= codes[:, dims.index(dd)] == cats[dd].index(v)
            if t.dims:
                allowed = {
                    tuple(cats[dd].index(v) for dd, v in zip(t.dims, tup, strict=True))
                    for tup in t.interior
                }
                cols = [dims.index(dd) for dd in t.dims]
                inside = _rows_in(codes[:, cols], allowed, [len(cats[dd]) for dd in t.dims])
            else:
                inside = np.full(len(codes), bool(t.interior))
            codes = codes[~match | inside]
        if limit is not None and len(codes) > limit:
            raise DisclosureError(
                f"population {population!r} has more than {limit} possible cells "
                f"(dimensions {', '.join(dims[: i + 1])}), more than the verifier can audit "
                "completely; publish coarser tables or fewer dimensions per population"
            )
    return codes


def _rows_in(rows: np.ndarray, allowed: set[tuple[int, ...]], radix: list[int]) -> np.ndarray:
    """Which rows of ``rows`` (category codes) are in ``allowed``; each row is read as one
    mixed-radix integer so the test is a vectorised ``isin``."""
    if math.prod(radix) >= 2**62:  # too many combinations for one integer: row by row
        return np.fromiter((tuple(r) in allowed for r in rows.tolist()), bool, len(rows))
    mult = np.cumprod([1, *radix[:0:-1]])[::-1].astype(np.int64)
    keys = rows.astype(np.int64) @ mult
    ok = np.fromiter((int(np.dot(a, mult)) for a in allowed), np.int64, len(allowed))
    return np.isin(keys, ok)


def _solver_or_none(rows: list[np.ndarray], values: list[float], n: int) -> Any:
    """A HiGHS model of ``rows @ x == values``, ``x >= 0``; falls back to linprog."""
    try:
        return _WarmSolver(n, rows, values, values, len(rows))
    except Exception:  # the bundled HiGHS object is private scipy API

        class _Lp:
            def solve(self, coef: np.ndarray, sense: str) -> tuple:
                a = _sparse_rows(rows, n)
                sign = 1.0 if sense == "min" else -1.0
                res = _linprog(sign * coef, (a, np.asarray(values), None, None))
                return ("optimal", sign * res.fun) if res.status == 0 else ("other", math.nan)

        return _Lp()


def _linprog(c: np.ndarray, m: tuple) -> Any:
    """``min c'x`` subject to the system's matrices ``m`` (from ``_matrices``), ``x >= 0``."""
    a_eq, b_eq, a_ub, b_ub = m
    return linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")


def _sparse_rows(
    rows: Sequence[np.ndarray], n: int, signs: Sequence[float] | None = None
) -> sparse.csr_matrix:
    lens = np.fromiter((len(r) for r in rows), np.int64, len(rows))
    data = np.repeat(np.ones(len(rows)) if signs is None else np.asarray(signs, float), lens)
    ind = np.concatenate(rows) if len(rows) else np.zeros(0, np.int64)
    return sparse.csr_matrix((data, ind, np.r_[0, np.cumsum(lens)]), shape=(len(rows), n))


@dataclass(frozen=True)
class Verification:
    """Result of :func:`verify`. ``tidy()`` has one row per checked quantity with the
    columns ``kind, population, release, table, cell, edition, passed, problem`` (no
    values: the table may be written to a manifest). ``audited`` counts every aggregate
    and edition difference enumerated, including those proved safe without a programme
    (which have no row)."""

    results: pd.DataFrame
    audited: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.results["passed"].all()) if len(self.results) else True

    @property
    def failures(self) -> pd.DataFrame:
        return self.results[~self.results["passed"]].reset_index(drop=True)

    def tidy(self) -> pd.DataFrame:
        return self.results.copy()

    def raise_if_failed(self) -> None:
        if not self.ok:
            f = self.failures
            where = "; ".join(
                f"{r['kind']} {r['table'] or r['population']} [{r['cell']}]: {r['problem']}"
                for r in f.head(5).to_dict(orient="records")
            )
            raise DisclosureError(f"{len(f)} protected quantities are disclosed: {where}")


def check_targets(system: System, targets: Sequence[Target]) -> pd.DataFrame:
    system.reset_pool()
    system.seed_pool()
    rows = []
    for t in targets:
        if system.quick_check(t):
            prob = system.int_problem(t)
        else:
            lo, hi = system.bounds(t.coef)
            prob = system.problem(t, lo, hi)
            if prob is None:
                prob = system.int_problem(t, (lo, hi))
        rows.append(
            {
                "kind": t.kind,
                "population": t.population,
                "release": t.release,
                "table": t.table,
                "cell": key_text(t.key),
                "edition": "" if t.edition == CURRENT else t.edition,
                "passed": prob is None,
                "problem": prob or "",
            }
        )
    return pd.DataFrame(rows, columns=VERIFY_COLUMNS)


def verify(
    tables: Sequence[TableMeta], cells: Sequence[Cell], *, rules: DisclosureRules | None = None
) -> Verification:
    """Check a whole run: every protected quantity keeps a safe feasible range.

    Parameters
    ----------
    tables, cells
        Table descriptions and cells (usually ``Gate.system_parts()``; ledger editions
        included).
    rules
        Thresholds (default :class:`DisclosureRules`).

    Returns
    -------
    Verification
        ``.ok``, ``.failures`` and ``.tidy()`` (columns listed in :class:`Verification`).

    Notes
    -----
    For each target functional ``f`` the verifier solves ``min f'x`` and ``max f'x``
    subject to ``A_eq x = b`` (every published count as a sum of joint cells), ``1 <= a'x <=
    r-1`` for cells shown as "<r", and ``x >= 0``; the bounds are rounded inwards since
    counts are integers. This is the classical audit of a suppression pattern (ESSnet SDC
    Handbook, sec. 4.2; tau-ARGUS's "audit"); there is no R counterpart in base R
    (sdcTable::protectTable does the same with its own solver).
    """
    system = System(list(tables), list(cells), rules or DisclosureRules())
    return Verification(check_targets(system, system.targets()), dict(system.audit_counts))
