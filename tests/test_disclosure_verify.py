"""Verifier and suppression: property tests on random small tables and audit of bad patterns."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envejind_eval.disclosure import DisclosureRules, Gate
from envejind_eval.disclosure.verify import (
    CURRENT,
    Cell,
    System,
    TableMeta,
    check_targets,
    make_key,
    verify,
)


def _table_2d(values: list[list[int]]) -> pd.DataFrame:
    rows = []
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            rows.append({"team": f"T{i}", "status": f"S{j}", "n": v})
    return pd.DataFrame(rows)


def _assert_safe(gate: Gate, t, rules: DisclosureRules) -> None:
    """Independent audit: every primary-sensitive cell is hidden and keeps a safe range."""
    v = gate.verify()
    assert v.ok, v.failures.to_string()
    tables, cells = gate.system_parts()
    system = System(tables, cells, rules)
    sup = t.suppressed
    data = t.data
    for c, i in zip(cells, range(len(cells)), strict=True):
        if c.edition != CURRENT or c.reason not in ("small", "dominance"):
            continue
        r, col = c.ref
        assert sup.at[r, col], "a sensitive cell is published"
        lo, hi = system.bounds(system.indicator(system.supports[i]))
        assert hi - lo >= 1, "a protected cell is pinned"
    # published small counts never appear
    pub = data["n"].dropna()
    assert not ((pub >= 1) & (pub < rules.min_cell)).any()


cells_0_12 = st.integers(min_value=0, max_value=12)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(min_value=2, max_value=3).flatmap(
        lambda nr: st.integers(min_value=2, max_value=3).flatmap(
            lambda nc: st.lists(
                st.lists(cells_0_12, min_size=nc, max_size=nc), min_size=nr, max_size=nr
            )
        )
    )
)
def test_random_two_way_tables_never_pin_a_protected_cell(values):
    rules = DisclosureRules()
    df = _table_2d(values)
    gate = Gate(rules=rules)
    t = gate.release().table(
        "t", df, by=["team", "status"], counts=["n"], margins=True, attributes=["status"]
    )
    _assert_safe(gate, t, rules)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(cells_0_12, min_size=2, max_size=6), st.sampled_from([3, 5]))
def test_random_one_way_tables_with_total(values, min_cell):
    rules = DisclosureRules(min_cell=min_cell)
    df = pd.DataFrame({"team": [f"T{i}" for i in range(len(values))], "n": values})
    gate = Gate(rules=rules)
    t = gate.release().table("t", df, by=["team"], counts=["n"], margins=True)
    _assert_safe(gate, t, rules)


@pytest.mark.slow
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.lists(cells_0_12, min_size=2, max_size=2), min_size=4, max_size=4),
)
def test_random_hierarchical_tables_linked_across_reports(values):
    """Teams nested in two municipalities; national table by municipality and the two
    per-municipality tables by team: every protected cell stays protected."""
    rules = DisclosureRules()
    teams = {"M0": ["M0-1", "M0-2"], "M1": ["M1-1", "M1-2"]}
    gate = Gate(rules=rules)
    nat = []
    results = []
    k = 0
    for m, ts in teams.items():
        rows = []
        for tm in ts:
            for j, st_ in enumerate(["done", "out"]):
                rows.append({"team": tm, "status": st_, "n": values[k][j]})
            k += 1
        df = pd.DataFrame(rows)
        nat.append(df.groupby("status", as_index=False)["n"].sum().assign(municipality=m))
        rel = gate.release(m, scope={"municipality": m})
        results.append(
            rel.table(
                "status",
                df,
                by=["team", "status"],
                counts=["n"],
                margins=True,
                attributes=["status"],
            )
        )
    ndf = pd.concat(nat, ignore_index=True)
    results.append(
        gate.release("national").table(
            "status",
            ndf,
            by=["municipality", "status"],
            counts=["n"],
            margins=True,
            attributes=["status"],
        )
    )
    v = gate.verify()
    assert v.ok, v.failures.to_string()


def _cells(values, states):
    """A 2x2 table with all margins, as raw cells (for auditing hand-made patterns)."""
    meta = TableMeta("p", "r", "t", ("a", "b"), (), frozenset(itertools.product("xy", "uv")))
    out = []
    for (a, b), v in values.items():
        key = {k: val for k, val in (("a", a), ("b", b)) if val is not None}
        out.append(
            Cell(
                "p",
                "r",
                "t",
                make_key(key),
                float(v),
                states.get((a, b), "published"),
                reason="small" if 0 < v < 5 else None,
                margin=a is None or b is None,
            )
        )
    return [meta], out


VALUES = {
    ("x", "u"): 2, ("x", "v"): 9, ("y", "u"): 8, ("y", "v"): 7,
    ("x", None): 11, ("y", None): 15, (None, "u"): 10, (None, "v"): 16, (None, None): 26,
}  # fmt: skip


def test_audit_catches_a_single_suppression_in_a_row():
    tables, cells = _cells(VALUES, {("x", "u"): "small"})
    v = verify(tables, cells)
    assert not v.ok
    f = v.failures
    assert (f["kind"] == "suppressed").any()
    assert "pinned" in f["problem"].iloc[0]
    # the failure report carries no value
    assert "2" not in f.to_string().replace("(total)", "")


def test_audit_passes_a_rectangle():
    states = {
        ("x", "u"): "small",
        ("x", "v"): "suppressed",
        ("y", "u"): "suppressed",
        ("y", "v"): "suppressed",
    }
    tables, cells = _cells(VALUES, states)
    assert verify(tables, cells).ok


def test_audit_small_labels_count_as_information():
    # two "<5" cells in a row whose total is 7: each is in [3, 4], not exact -> passes
    # but with a total of 8 both are pinned to 4
    vals = {("x", "u"): 4, ("x", "v"): 4, ("x", None): 8}
    meta = TableMeta("p", "r", "t", ("a", "b"), (), frozenset({("x", "u"), ("x", "v")}))
    cells = [
        Cell("p", "r", "t", make_key({"a": "x", "b": "u"}), 4.0, "small", reason="small"),
        Cell("p", "r", "t", make_key({"a": "x", "b": "v"}), 4.0, "small", reason="small"),
        Cell("p", "r", "t", make_key({"a": "x"}), 8.0, "published", margin=True),
    ]
    assert not verify([meta], cells).ok
    del vals


def test_inconsistent_population_raises_without_values():
    from envejind_eval.errors import DisclosureError

    a = pd.DataFrame({"team": ["A", "B"], "n": [7, 9]})
    b = pd.DataFrame({"team": ["A", "B"], "n": [6, 9]})
    gate = Gate()
    rel = gate.release()
    rel.table("baseline", a, by=["team"], counts=["n"], population="p", attributes=[])
    rel.table("end", b, by=["team"], counts=["n"], population="p", attributes=[])
    with pytest.raises(DisclosureError, match="population") as exc:
        gate.run()
    assert "7" not in str(exc.value) and "6" not in str(exc.value)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.lists(cells_0_12, min_size=3, max_size=3), min_size=3, max_size=3),
    st.integers(0, 2**16),
)
def test_warm_highs_matches_linprog(values, seed):
    """The warm-started HiGHS path gives exactly the ranges of scipy.optimize.linprog."""
    import envejind_eval.disclosure.verify as V

    df = _table_2d(values)
    gate = Gate()
    gate.release().table(
        "t", df, by=["team", "status"], counts=["n"], margins=True, attributes=["status"]
    )
    tables, cells = gate.system_parts()
    rng = np.random.default_rng(seed)
    coefs = [rng.integers(-1, 2, size=System(tables, cells).n_vars) for _ in range(4)]
    out = {}
    for fast in (True, False):
        old = V.FAST_SOLVER
        V.FAST_SOLVER = fast
        try:
            system = System(tables, cells)
            drops = [None, *[i for i, c in enumerate(cells) if c.state == "published"][:2]]
            out[fast] = [
                system.bounds(c.astype(float), drop=[] if d is None else [d])
                for c in coefs
                for d in drops
            ]
        finally:
            V.FAST_SOLVER = old
    assert out[True] == out[False]


def test_integer_audit_catches_what_the_lp_relaxation_misses():
    # joint cells x1..x4; published x1+x2 = 1, x2+x3 = 1, x1+x3+x4 = 1 (an odd cycle: the
    # matrix is not totally unimodular). The LP lets x2 = 1/2 .. 1, so the hidden
    # x1 + x3 = 2 - 2 x2 ranges over [0, 1]; in whole numbers x2 = 1 and x1 + x3 = 0.
    meta = TableMeta("p", "r", "t", ("k",), (), frozenset({("1",), ("2",), ("3",), ("4",)}))
    supports = [[0, 1], [1, 2], [0, 2, 3], [0, 2]]
    cells = [Cell("p", "r", "t", make_key({"k": str(i + 1)}), 1.0) for i in range(3)]
    cells.append(
        Cell("p", "r", "t", make_key({"k": "4"}), 0.0, state="suppressed", reason="dominance")
    )
    system = System([meta], cells, DisclosureRules())
    system.supports = [np.asarray(s, dtype=np.int64) + system.blocks[("p", CURRENT)].offset
                       for s in supports]  # fmt: skip
    (t,) = [t for t in system.targets() if t.kind == "suppressed"]
    assert system.problem(t, *system.bounds(t.coef)) is None  # the LP audit passes
    assert system.int_problem(t) == "pinned to an exact value"
    res = check_targets(system, [t])
    assert not res["passed"].any()
