"""The reader's attack: what can be worked out from the published tables of a report?

:func:`attack` reads only what a report folder publishes (``tables/*.csv`` of the national
report and of every municipality sub-folder), writes every published number as an equation
over whole-number unknowns and asks an integer programme (``scipy.optimize.milp``, HiGHS)
for the smallest and largest value of every suppressed count. It is the attacker model of
docs/disclosure.md §2, independent of the gate's own bookkeeping, so evaluators can run it
on their output before they hand it out::

    from envejind_eval.report.attack import attack
    res = attack(["out/report"], min_cell=5)
    res.loc[res["disclosed"]]          # cells a reader can pin (should be empty)

What the reader knows (and nothing else):

* the unknowns are whole numbers >= 0, one per municipality (and team, for the flow of
  participants) and published category; a national number is the sum over the
  municipalities of the run (the list is in the national flow table);
* "<5" is 1 .. min_cell-1, ".." is any number >= 0;
* the participants of a scope (national, municipality, team) are ``started`` of the flow
  tables; a pre/post row's ``n + n_excluded``, ``n_expected`` of the response table and
  ``n_total`` of the start tables are that number;
* a start table's categories cover everyone ("unknown" is a category); a category missing
  from a municipality's table has nobody there;
* a reliable-change row's classes add up to its ``n``; a share next to its n is count / n
  ("<5" in a share column next to an ``n`` of at least min_cell: the count is 1 .. min_cell-1;
  next to a smaller or hidden ``n`` it marks an estimate on too few persons, like "..");
* any other whole-number column named ``n`` / ``n_*`` is a count of its row (national = sum
  of municipalities).

A cell is **disclosed** when it is shown "<5" and its value is pinned exactly, or shown
".." and its range lies inside ``[1, min_cell - 1]``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import LinearConstraint, milp

from envejind_eval.report.texts import TEXTS

#: Row labels the report uses for margins ("I alt" in Danish, "Total" in English).
TOTAL_LABELS = frozenset(TEXTS["total"].values())
#: Whole-number columns that do not count persons.
NOT_PERSONS = frozenset({"n_teams", "n_domains", "n_items", "n_municipalities"})
ATTACK_COLUMNS = ["folder", "scope", "table", "row", "column", "shown", "low", "high", "disclosed"]
_START = re.compile(r"^start_(sex|age|referral)$")
_CLASSES = ("improved", "unchanged", "deteriorated")


@dataclass
class _Model:
    min_cell: int
    municipalities: list[str] = field(default_factory=list)
    teams: dict[str, list[str]] = field(default_factory=dict)
    index: dict[tuple, int] = field(default_factory=dict)
    rows: list[tuple[dict[int, float], float, float]] = field(default_factory=list)
    targets: list[tuple[dict[int, float], dict[str, object]]] = field(default_factory=list)
    ns: int = 0  # edition (0, 1, ...): each has its own unknowns
    #: every observed cell: (edition, scope, table, row labels, column) -> (expr, shown)
    cells: dict[tuple, tuple[dict[int, float], str]] = field(default_factory=dict)

    def leaf(self, *key: object) -> int:
        return self.index.setdefault((self.ns, *key), len(self.index))

    def scope_sum(self, concept: str, scope: str | None, key: tuple) -> dict[int, float]:
        """A national number (scope None) is the sum over the municipalities."""
        ms = self.municipalities if scope is None else [scope]
        return {self.leaf(concept, m, key): 1.0 for m in ms}

    def flow(self, scope: str | None, team: str | None, status: str | None) -> dict[int, float]:
        ms = self.municipalities if scope is None else [scope]
        out: dict[int, float] = {}
        for m in ms:
            for t in self.teams.get(m, []) if team is None else [team]:
                for s in self.statuses if status is None else [status]:
                    out[self.leaf("flow", m, t, s)] = 1.0
        return out

    def participants(self, scope: str | None) -> dict[int, float]:
        return self.flow(scope, None, None)

    statuses: tuple[str, ...] = ()

    def eq(self, expr: dict[int, float], lo: float, hi: float | None = None) -> None:
        self.rows.append((expr, lo, lo if hi is None else hi))

    def observe(self, expr: dict[int, float], shown: str, where: dict[str, object]) -> None:
        """One published count: a number is an equation, "<5" a range, ".." unknown."""
        if "labels" in where:
            k = (self.ns, where["scope"], where["table"], where["labels"], where["column"])
            self.cells[k] = (expr, shown)
        v = _number(shown)
        if v is not None:
            self.eq(expr, v)
        elif shown == f"<{self.min_cell}":
            self.eq(expr, 1, self.min_cell - 1)
            self.targets.append((expr, {**where, "shown": shown}))
        elif shown == "..":
            self.targets.append((expr, {**where, "shown": shown}))

    def share(self, count: dict[int, float], n: dict[int, float], shown: str) -> None:
        """A share next to its n: denominator * count - numerator * n = 0."""
        s = _number(shown, whole=False)
        if s is None:
            return
        f = Fraction(s).limit_denominator(1000)
        if abs(float(f) - s) > 1e-9:
            return  # not an exact fraction (weighted or rounded): no equation
        expr = _add(count, n, f.denominator, -f.numerator)
        self.eq(expr, 0)


def _add(a: dict[int, float], b: dict[int, float], ca: float = 1, cb: float = 1) -> dict:
    out = {k: ca * v for k, v in a.items()}
    for k, v in b.items():
        out[k] = out.get(k, 0.0) + cb * v
    return {k: v for k, v in out.items() if v != 0}


def _number(text: object, *, whole: bool = True) -> float | None:
    try:
        v = float(str(text).replace(",", "."))
    except ValueError:
        return None
    if math.isnan(v) or (whole and v != math.floor(v)):
        return None
    return v


def _read(folder: Path) -> dict[str, pd.DataFrame]:
    tdir = folder / "tables"
    if not tdir.is_dir():
        return {}
    return {
        p.stem: pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted(tdir.glob("*.csv"))
    }


def _scopes(root: Path) -> dict[str | None, dict[str, pd.DataFrame]]:
    out: dict[str | None, dict[str, pd.DataFrame]] = {None: _read(root)}
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        t = _read(sub)
        if t:
            out[sub.name] = t
    return out


def _structure(m: _Model, scopes: dict[str | None, dict[str, pd.DataFrame]]) -> None:
    """Municipalities, teams and statuses from the flow tables (what the reader sees)."""
    nat = scopes.get(None, {})
    muns: list[str] = []
    if "flow_municipality" in nat:
        muns = [x for x in nat["flow_municipality"]["municipality"] if x not in TOTAL_LABELS]
    muns += [s for s in scopes if s is not None and s not in muns]
    m.municipalities = muns
    teams: dict[str, list[str]] = {x: [] for x in muns}
    statuses: list[str] = []
    for scope, tabs in scopes.items():
        ft = tabs.get("flow_team")
        if ft is None:
            continue
        for _, r in ft.iterrows():
            mun = r["municipality"] if scope is None else scope
            if r["cohort_id"] not in TOTAL_LABELS and r["cohort_id"] not in teams[mun]:
                teams[mun].append(r["cohort_id"])
        for c in ft.columns:
            if c not in ("municipality", "cohort_id", "n_teams", "started") and c not in statuses:
                statuses.append(c)
    for x in muns:  # a municipality whose teams are not shown: one unknown team
        teams[x] = teams[x] or ["?"]
    m.teams = teams
    m.statuses = tuple(statuses) or ("all",)


def _count_cols(df: pd.DataFrame, min_cell: int) -> list[str]:
    """Whole-number person-count columns named n / n_* (or shown "<5" / "..")."""
    out = []
    for c in df.columns:
        if c in NOT_PERSONS or not (c == "n" or c.startswith("n_")):
            continue
        vals = [v for v in df[c] if v not in ("..", f"<{min_cell}", "")]
        if all(_number(v) is not None for v in vals):
            out.append(c)
    return out


def _model_folder(
    m: _Model, folder: str, scopes: dict[str | None, dict[str, pd.DataFrame]]
) -> None:
    start_cats: dict[str, set[str]] = {}
    for tabs in scopes.values():
        for name, df in tabs.items():
            if _START.match(name):
                key = "code" if "code" in df.columns else "group"
                start_cats.setdefault(name, set()).update(df[key])
    for scope, tabs in scopes.items():
        sname = scope or "national"
        for name, df in tabs.items():

            def where(
                r: Any, col: str, name: str = name, sname: str = sname, df: pd.DataFrame = df
            ) -> dict:
                hidden = ("..", "", f"<{m.min_cell}")
                labels = tuple(
                    v for v in df.loc[r] if v not in hidden and _number(v, whole=False) is None
                )
                return {
                    "folder": folder,
                    "scope": sname,
                    "table": name,
                    "row": r,
                    "column": col,
                    "labels": labels,
                }

            if name in ("flow_municipality", "flow_team"):
                for r, row in df.iterrows():
                    mun = scope
                    if "municipality" in df.columns and row["municipality"] not in TOTAL_LABELS:
                        mun = row["municipality"]
                    team = row.get("cohort_id")
                    team = None if team is None or team in TOTAL_LABELS else team
                    m.observe(m.flow(mun, team, None), row["started"], where(r, "started"))
                    for s in m.statuses:
                        if s in df.columns:
                            m.observe(m.flow(mun, team, s), row[s], where(r, s))
            elif _START.match(name):
                key = "code" if "code" in df.columns else "group"
                tot = m.participants(scope)
                allc: dict[int, float] = {}
                for r, row in df.iterrows():
                    x = m.scope_sum(name, scope, (row[key],))
                    allc = _add(allc, x)
                    m.observe(x, row["n"], where(r, "n"))
                    m.observe(tot, row.get("n_total", ""), where(r, "n_total"))
                    m.share(x, tot, row.get("share", ""))
                # the categories cover everyone; a category not listed has nobody
                missing = sorted(start_cats[name] - set(df[key]))
                for c in missing:
                    m.eq(m.scope_sum(name, scope, (c,)), 0)
                    allc = _add(allc, m.scope_sum(name, scope, (c,)))
                m.eq(_add(allc, tot, 1, -1), 0)
            elif name == "response":
                for r, row in df.iterrows():
                    k: tuple = (row["instrument_id"], row["rater_code"], row["timepoint_code"])
                    x = m.scope_sum(name, scope, k)
                    tot = m.participants(scope)
                    m.observe(tot, row["n_expected"], where(r, "n_expected"))
                    m.observe(x, row["n_forms"], where(r, "n_forms"))
                    m.eq(_add(x, tot, 1, -1), -math.inf, 0)
                    m.share(x, tot, row["response_rate"])
            elif name.startswith("prepost_"):
                for r, row in df.iterrows():
                    k = (row["level"], row["unit"], row["rater_code"])
                    x = m.scope_sum(name, scope, k)
                    rest = _add(m.participants(scope), x, 1, -1)
                    m.observe(x, row["n"], where(r, "n"))
                    m.observe(rest, row["n_excluded"], where(r, "n_excluded"))
            elif name.startswith("rci_"):
                for r, row in df.iterrows():
                    k = (row["rater_code"], row["unit"])
                    n: dict[int, float] = {}
                    for c in _CLASSES:
                        x = m.scope_sum(name, scope, (*k, c))
                        n = _add(n, x)
                        m.observe(x, row[c], where(r, c))
                    m.observe(n, row["n"], where(r, "n"))
            else:
                _generic(m, name, scope, df, where)


def _generic(m: _Model, name: str, scope: str | None, df: pd.DataFrame, where) -> None:
    counts = _count_cols(df, m.min_cell)
    keys = [
        c
        for c in df.columns
        if c not in counts
        and c != "municipality"
        and not c.endswith("_label")
        and not all(_number(v, whole=False) is not None for v in df[c] if v not in ("..", ""))
    ]
    shares = [c for c in df.columns if c.startswith("share_")]
    for r, row in df.iterrows():
        mun = scope
        if "municipality" in df.columns and row["municipality"] not in TOTAL_LABELS:
            mun = row["municipality"]
        k = tuple(row[c] for c in keys if c not in shares and c != "method")
        for c in counts:
            m.observe(m.scope_sum(name, mun, (*k, c)), row[c], where(r, c))
        if "n" in counts:
            n = m.scope_sum(name, mun, (*k, "n"))
            for s in shares:  # outcomes: share_pre / share_post of the n pairs
                x = m.scope_sum(name, mun, (*k, s))
                m.eq(_add(x, n, 1, -1), -math.inf, 0)
                if _number(row[s], whole=False) is None:  # "<5" / "..": the count is hidden
                    shown = row[s]
                    nv = _number(row["n"])
                    if shown != ".." and (nv is None or nv < m.min_cell):
                        shown = ".."  # "<5" of an estimate on fewer than 5: says nothing more
                    m.observe(x, shown, where(r, s))
                else:
                    m.share(x, n, row[s])


#: Concepts whose counts a person keeps from one edition to the next (reliable change is
#: not one: its threshold comes from the whole run's baseline SD, which a newcomer moves).
_STABLE = re.compile(r"^(flow|start_.*|response|prepost_.*|outcomes|attrition|baseline_profile)$")
#: Columns that are headcounts of whole scopes (rule 9): their differences are public too.
HEADCOUNTS = frozenset({"started", "n_total", "n_expected", "n_forms", "n_excluded"})


def build(folders: Sequence[str | Path], *, min_cell: int = 5, editions: bool = False) -> _Model:
    """The reader's integer system over every published table of ``folders`` (one run's
    folders, or with ``editions=True`` successive editions, oldest first)."""
    m = _Model(min_cell=min_cell)
    runs = []
    for i, f in enumerate(folders):
        m.ns = i if editions else 0
        scopes = _scopes(Path(f))
        _structure(m, scopes)
        _model_folder(m, str(f), scopes)
        runs.append(scopes)
    if editions:
        for i in range(1, len(folders)):
            _link(m, i - 1, i, runs[i - 1], runs[i], str(folders[i]))
    return m


def _started(scopes: dict[str | None, dict[str, pd.DataFrame]]) -> dict[str, str]:
    fm = scopes.get(None, {}).get("flow_municipality")
    if fm is None:
        return {}
    return dict(zip(fm["municipality"], fm["started"], strict=True))


def _link(m: _Model, a: int, b: int, run_a: dict, run_b: dict, folder: str) -> None:
    """What a reader assumes of two editions of one programme: in a municipality with more
    participants the later edition has everybody of the earlier one with the same data,
    plus newcomers (fewer: a subset of them); one whose number of participants did not
    change is unchanged; a municipality missing from one edition is not linked. Then every
    count that changed by 1 .. min_cell-1 (and is not a headcount) tells something about
    the persons who came or went."""
    sa, sb = _started(run_a), _started(run_b)
    sign: dict[str, int] = {}
    for mun, v in sa.items():
        x, y = _number(v), _number(sb.get(mun, ""))
        if x is not None and y is not None:
            sign[mun] = int(np.sign(y - x))
    for key, i in list(m.index.items()):
        if key[0] != a or not _STABLE.match(str(key[1])):
            continue
        j = m.index.get((b, *key[1:]))
        if j is None:
            continue
        d = sign.get(str(key[2]))
        if d == 0:
            m.eq({j: 1.0, i: -1.0}, 0)
        elif d is not None:  # later - earlier has the sign of the change in participants
            m.eq({j: float(d), i: -float(d)}, 0, math.inf)
    for (ns, scope, table, labels, col), (expr_b, _shown) in list(m.cells.items()):
        if ns != b or col in HEADCOUNTS:
            continue
        old = m.cells.get((a, scope, table, labels, col))
        if old is None:
            continue
        diff = _add(expr_b, old[0], 1, -1)
        if diff:
            info = {"folder": folder, "scope": scope, "table": table, "row": labels, "column": col}
            m.targets.append((diff, {**info, "shown": "difference"}))


def attack(
    folders: Sequence[str | Path] | str | Path, *, min_cell: int = 5, editions: bool = False
) -> pd.DataFrame:
    """Smallest and largest value of every suppressed count a reader can work out.

    Parameters
    ----------
    folders
        Report folder(s) (``--out`` of ``envejind-eval report``). Several folders are read
        as one run, or with ``editions=True`` as successive editions (copies of the output
        folder, oldest first), linked as :func:`_link` says; then each changed count that
        is not a headcount is also checked (``shown == "difference"``).
    min_cell
        The threshold the report used (its "<5" label).

    Returns
    -------
    DataFrame
        One row per cell shown "<5" or "..": ``folder, scope, table, row, column, shown,
        low, high, disclosed`` (``high`` is inf when unbounded).
    """
    if isinstance(folders, (str, Path)):
        folders = [folders]
    m = build(folders, min_cell=min_cell, editions=editions)
    return _solve(m)


def _solve(m: _Model, *, seeds: int = 8) -> pd.DataFrame:
    """Integer range of every target. Integer solutions found on the way are pooled: a
    target whose pooled values already show it safe (two different values for "<5"; a
    value outside 1 .. min_cell-1 for "..") needs no programme of its own, and its
    ``low``/``high`` are then the pooled values (the true range is at least as wide)."""
    nv = len(m.index)
    a = sparse.lil_matrix((len(m.rows), nv))
    lo = np.empty(len(m.rows))
    hi = np.empty(len(m.rows))
    for i, (expr, l_, h_) in enumerate(m.rows):
        for k, v in expr.items():
            a[i, k] = v
        lo[i], hi[i] = l_, h_
    cons = [LinearConstraint(a.tocsr(), lo, hi)] if len(m.rows) else []
    integ = np.ones(nv)
    pool: list[np.ndarray] = []

    def run(c: np.ndarray) -> float:
        res = milp(c, constraints=cons, integrality=integ, bounds=(0, np.inf))
        if res.status == 3 or (pool and "unbounded" in str(res.message).lower()):
            return -math.inf  # unbounded (only a maximum can be; the system is feasible)
        if res.status != 0:
            raise ValueError(f"the published tables are inconsistent ({res.message})")
        pool.append(np.round(res.x))
        return float(round(res.fun))

    rng = np.random.default_rng(0)
    for _ in range(seeds):  # positive weights: bounded below, a different vertex each
        run(rng.random(nv))
    small_hi = m.min_cell - 1
    out = []
    for expr, info in m.targets:
        c = np.zeros(nv)
        for k, v in expr.items():
            c[k] = v
        small = info["shown"] == f"<{m.min_cell}"
        vals = np.stack(pool) @ c
        low, high = float(vals.min()), float(vals.max())
        if info["shown"] == "difference":  # a newcomer's count: disclosed when exact, small
            safe = high > low or not 1 <= low <= small_hi
        else:
            safe = high > low if small else (low < 1 or high > small_hi)
        if not safe:
            low, high = run(c), -run(-c)
        if info["shown"] == "difference":
            disclosed = low == high and 1 <= low <= small_hi
        else:
            disclosed = (small and low == high) or (not small and low >= 1 and high <= small_hi)
        out.append({**info, "low": low, "high": high, "disclosed": bool(disclosed)})
    return pd.DataFrame(out, columns=ATTACK_COLUMNS)


def disclosed(
    folders: Iterable[str | Path] | str | Path, *, min_cell: int = 5, editions: bool = False
) -> pd.DataFrame:
    """The cells of :func:`attack` a reader can pin (empty when the report is safe)."""
    res = attack(
        folders if isinstance(folders, (str, Path)) else list(folders),
        min_cell=min_cell,
        editions=editions,
    )
    return res.loc[res["disclosed"]].reset_index(drop=True)


def check_editions(
    previous: str | Path,
    current: str | Path,
    *,
    min_cell: int = 5,
    earlier: str = "the report already in the output folder",
) -> None:
    """Refuse an edition that, read together with an earlier edition, lets a reader work
    out a protected count (:class:`DisclosureError`, exit 2).

    ``previous`` is the earlier report (the output folder before it is replaced, or a
    folder given with ``--previous``), ``current`` the new one; ``earlier`` names the
    earlier edition in the message. When the reader's assumptions do not fit the two editions (the
    published counts contradict "same persons, same data"), they cannot be linked that way
    and nothing is refused.
    """
    from envejind_eval.errors import DisclosureError

    if not (Path(previous) / "tables").is_dir():
        return

    def tables(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("tables/*.csv")}

    if tables(Path(previous)) == tables(Path(current)):
        return  # the same numbers again (a re-run): nothing new to subtract
    try:
        res = attack([previous, current], min_cell=min_cell, editions=True)
    except ValueError:
        return
    bad = res.loc[res["disclosed"]]
    if len(bad):
        where = ", ".join(sorted({f"{r.scope}/{r.table}" for r in bad.itertuples()})[:5])
        raise DisclosureError(
            f"this edition, read together with {earlier}, lets a reader work out "
            f"{len(bad)} protected count(s) ({where}); it is not written. "
            "Publish the new edition only where the earlier one was never handed out, or "
            "wait until the changes are larger"
        )
