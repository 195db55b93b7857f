"""Gate API, primary rules and crafted differencing attacks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envejind_eval.disclosure import DisclosureRules, Gate, Ledger
from envejind_eval.errors import DisclosureError


def _status(rows):
    return pd.DataFrame(rows, columns=["team", "status", "n"])


def test_rules_defaults_and_floor():
    r = DisclosureRules()
    assert r.min_cell == 5 and r.dominance_limit == 10 and r.label_small == "<5"
    assert DisclosureRules(min_cell=3).label_small == "<3"
    with pytest.raises(ValueError, match="at least 3"):
        DisclosureRules(min_cell=2)
    np.testing.assert_array_equal(r.small_count([0, 1, 4, 5, np.nan]), [0, 1, 1, 0, 0])
    np.testing.assert_array_equal(
        r.extreme_share([0, 7, 3, 0, 12], [7, 7, 7, 0, 12]), [1, 1, 0, 0, 0]
    )
    assert r.estimate_unsafe([4, 5], kind="mean").tolist() == [True, False]
    assert r.estimate_unsafe([8, 8], kind="share", value=[1.0, 0.5]).tolist() == [True, False]
    assert r.estimate_unsafe([20, 20], kind="median", n_sharing=[2, 6]).tolist() == [True, False]
    with pytest.raises(ValueError, match="Expecting one of"):
        r.estimate_unsafe([5], kind="mode")  # type: ignore[arg-type]


def test_one_dropout_in_a_team_is_protected():
    df = _status(
        [
            ("A", "completed", 6),
            ("A", "dropped_out", 1),
            ("B", "completed", 8),
            ("B", "dropped_out", 7),
            ("C", "completed", 9),
            ("C", "dropped_out", 5),
        ]
    )
    before = df.copy()
    gate = Gate()
    t = gate.release().table(
        "status", df, by=["team", "status"], counts=["n"], margins=True, attributes=["status"]
    )
    pd.testing.assert_frame_equal(df, before)  # input not mutated
    disp = t.display
    row = (disp["team"] == "A") & (disp["status"] == "dropped_out")
    assert disp.loc[row, "n"].item() == "<5"
    # the dropout cannot be recovered from the row total and the completers
    assert t.suppressed["n"].sum() >= 4
    assert math.isnan(t.data.loc[row, "n"].item())
    assert "<5" in t.footnote
    v = gate.verify()
    assert v.ok, v.failures
    log = gate.log()
    assert set(log["rule"]) <= {"small_count", "protected"}
    assert "n" in set(log["column"])


def test_municipality_of_four_not_recoverable_from_national_total():
    df = pd.DataFrame({"municipality": ["Aalborg", "Odense", "Halsnaes"], "n": [23, 17, 4]})
    gate = Gate()
    t = gate.release().table(
        "size", df, by=["municipality"], counts=["n"], margins=True, attributes=[]
    )
    sup = t.suppressed["n"]
    assert sup.sum() == 2  # Halsnaes and one complement; the total stays
    assert not sup.iloc[-1]
    assert gate.verify().ok


def test_per_municipality_report_linked_to_national():
    nat = pd.DataFrame({"municipality": ["Aalborg", "Odense"], "n": [12, 9]})
    aal = pd.DataFrame({"team": ["AAL-1", "AAL-2"], "n": [9, 3]})
    gate = Gate()
    tn = gate.release("national").table(
        "size", nat, by=["municipality"], counts=["n"], margins=True, attributes=[]
    )
    ta = gate.release("Aalborg", scope={"municipality": "Aalborg"}).table(
        "size", aal, by=["team"], counts=["n"], margins=True, attributes=[]
    )
    gate.run()
    # AAL-2 (3) is small; AAL-1 = Aalborg total (published nationally) - AAL-2 must not pin it
    assert ta.suppressed["n"].sum() >= 2
    v = gate.verify()
    assert v.ok, v.failures
    assert tn.display is not None


def test_team_of_six_then_seven_across_editions(tmp_path):
    old = pd.DataFrame({"team": ["A", "B"], "charged": [5, 6], "n": [11, 12]})
    g1 = Gate(edition="2026-06")
    g1.release().table(
        "charges", old, by=["team"], counts=["charged"], n="n", margins=True, attributes=[]
    )
    assert g1.verify().ok
    g1.record().save(tmp_path)
    led = Ledger.load(tmp_path)
    assert led.editions == ("2026-06",)
    new = pd.DataFrame({"team": ["A", "B"], "charged": [6, 6], "n": [12, 12]})
    g2 = Gate(edition="2026-11", ledger=led)
    t2 = g2.release().table(
        "charges", new, by=["team"], counts=["charged"], n="n", margins=True, attributes=[]
    )
    v = g2.verify()
    assert v.ok, v.failures
    # without suppression, new - old would show the newcomer (charged 6-5, n 12-11)
    assert t2.suppressed[["charged", "n"]].to_numpy().any()
    # the same data without the ledger is published in full
    g3 = Gate(edition="2026-11")
    t3 = g3.release().table(
        "charges", new, by=["team"], counts=["charged"], n="n", margins=True, attributes=[]
    )
    assert not t3.suppressed[["charged", "n"]].to_numpy().any()


def test_estimates_and_where_differencing():
    # mean over all 7 of team A, and over its 6 completers: the dropout's value is exposed
    allp = pd.DataFrame({"team": ["A", "B"], "mean": [3.2, 4.1], "n": [7, 12]})
    comp = pd.DataFrame({"team": ["A", "B"], "mean": [3.0, 4.0], "n": [6, 12]})
    gate = Gate()
    rel = gate.release()
    ta = rel.table(
        "score_all",
        allp,
        by=["team"],
        estimates=["mean"],
        n="n",
        population="baseline",
        attributes=[],
    )
    tc = rel.table(
        "score_completers",
        comp,
        by=["team"],
        estimates=["mean"],
        n="n",
        population="baseline",
        where={"status": "completed"},
        attributes=[],
    )
    gate.run()
    hidden_a = ta.suppressed.loc[0, "mean"] or tc.suppressed.loc[0, "mean"]
    assert hidden_a
    assert gate.verify().ok


def test_estimates_on_few_persons_show_neutral_symbol():
    """A mean of "<5" reads as a value: an estimate on fewer than min_cell persons is "..",
    the count beside it keeps "<5" (issue 16 §4)."""
    df = pd.DataFrame({"team": ["A", "B"], "mean": [3.2, 4.1], "n": [4, 12]})
    t = Gate().release().table("m", df, by=["team"], estimates=["mean"], n="n", attributes=[])
    assert t.display.loc[0, "mean"] == ".."
    assert t.display.loc[0, "n"] == "<5"
    assert "fewer than 5 persons" in t.footnote and "estimate or share" in t.footnote
    assert math.isnan(t.data.loc[0, "mean"]) and t.data.loc[1, "mean"] == 4.1


def test_share_rule_and_order_statistics():
    df = pd.DataFrame({"team": ["A", "B"], "share": [1.0, 1.0], "n": [8, 12]})
    t = Gate().release().table("s", df, by=["team"], shares=["share"], n="n", attributes=[])
    assert t.suppressed["share"].tolist() == [True, False]
    med = pd.DataFrame({"team": ["A", "B"], "median": [5.0, 6.0], "n": [20, 20], "n_at": [3, 7]})
    t = (
        Gate()
        .release()
        .table(
            "md",
            med,
            by=["team"],
            estimates=["median"],
            kind="median",
            n="n",
            n_sharing="n_at",
            attributes=[],
        )
    )
    assert t.suppressed["median"].tolist() == [True, False]


def test_dominance_all_in_small_group():
    df = pd.DataFrame({"team": ["A", "B"], "n": [7, 12], "charged": [7, 6]})
    t = Gate().release().table("c", df, by=["team"], counts=["charged"], total="n")
    assert t.suppressed.loc[0, "charged"]
    assert t.display.loc[0, "charged"] == ".."
    assert not t.suppressed.loc[1, "charged"]


def test_publication_refuses_individuals():
    df = pd.DataFrame({"participant_id": ["x1", "x2"], "n": [5, 6]})
    gate = Gate()
    with pytest.raises(DisclosureError, match="individual"):
        gate.release().table("t", df, by=["participant_id"], counts=["n"])
    with pytest.raises(DisclosureError, match="individuals"):
        gate.release().figure("traj", individual=True)
    Gate(publication=False).release().figure("traj", individual=True)


def test_internal_mode_passes_through():
    df = pd.DataFrame({"team": ["A"], "n": [2]})
    t = Gate(publication=False).release().table("t", df, by=["team"], counts=["n"])
    assert not t.suppressed.to_numpy().any()


def test_manifest_has_no_values():
    df = pd.DataFrame({"team": ["A", "B", "C"], "n": [3, 8, 9]})
    gate = Gate()
    gate.release().table("t", df, by=["team"], counts=["n"], margins=True, attributes=[])
    m = gate.manifest()
    assert m["n_suppressed"] >= 2 and m["min_cell"] == 5
    text = str(m["suppression_log"])
    assert "'3'" not in text


def _attacker_range(gate: Gate, functional) -> tuple[float, float]:
    """Range a reader can derive for ``functional(system) -> coef`` from everything
    published (this edition and the ledger)."""
    from envejind_eval.disclosure.verify import System

    tables, cells = gate.system_parts()
    system = System(tables, cells, gate.rules)
    return system.bounds(functional(system))


def test_newcomer_status_not_derivable_by_subtracting_editions(tmp_path):
    old = pd.DataFrame(
        {"team": ["A", "A", "B", "B"], "status": ["charged", "not_charged"] * 2,
         "n": [5, 6, 7, 8]}
    )  # fmt: skip
    g1 = Gate(edition="e1")
    g1.release().table("charges", old, by=["team", "status"], counts=["n"], margins=True,
                       attributes=["status"])  # fmt: skip
    g1.record().save(tmp_path)
    new = old.copy()
    new.loc[0, "n"] = 6  # one newcomer in team A, charged
    g2 = Gate(edition="e2", ledger=Ledger.load(tmp_path))
    t2 = g2.release().table("charges", new, by=["team", "status"], counts=["n"],
                            margins=True, attributes=["status"])  # fmt: skip
    assert g2.verify().ok
    from envejind_eval.disclosure.verify import CURRENT

    def newcomer_charged(system):
        cur = system.support("charges", CURRENT, (("status", "charged"), ("team", "A")))
        prev = system.support("charges", "ledger:e1", (("status", "charged"), ("team", "A")))
        f = system.indicator(cur)
        f[prev] -= 1
        return f

    lo, hi = _attacker_range(g2, newcomer_charged)
    assert hi - lo >= 1  # the reader cannot tell whether the newcomer was charged
    assert t2.suppressed["n"].any()
    assert g2.record().editions == ("e1", "e2")


def test_ledger_keeps_one_copy_of_identical_reruns(tmp_path):
    df = pd.DataFrame({"team": ["A", "B"], "n": [6, 9]})
    led = Ledger()
    for name in ("run1", "run2"):
        g = Gate(edition=name, ledger=led)
        g.release().table("size", df, by=["team"], counts=["n"], margins=True, attributes=[])
        led = g.record()
    assert led.editions == ("run2",)
    led.save(tmp_path)
    text = (tmp_path / "disclosure_ledger.json").read_text()
    assert Ledger.load(tmp_path).editions == ("run2",)
    assert "key" in text and "pseudonym" not in text


def test_team_size_six_then_seven_newcomer_not_exposed(tmp_path):
    """The literal attack: team A has 6, then 7 members; both size tables published."""
    from envejind_eval.disclosure.verify import CURRENT

    old = pd.DataFrame({"team": ["A", "B", "C"], "n": [6, 9, 8]})
    g1 = Gate(edition="spring")
    g1.release().table("size", old, by=["team"], counts=["n"], margins=True, attributes=[])
    g1.record().save(tmp_path)
    new = pd.DataFrame({"team": ["A", "B", "C"], "n": [7, 9, 8]})
    g2 = Gate(edition="autumn", ledger=Ledger.load(tmp_path))
    t2 = g2.release().table("size", new, by=["team"], counts=["n"], margins=True, attributes=[])
    assert g2.verify().ok
    assert t2.suppressed["n"].iloc[0]  # team A's new size is not shown ...

    def newcomers_in_a(system):
        f = system.indicator(system.support("size", CURRENT, (("team", "A"),)))
        f[system.support("size", "ledger:spring", (("team", "A"),))] -= 1
        return f

    lo, hi = _attacker_range(g2, newcomers_in_a)
    assert hi - lo >= 1  # ... and cannot be worked out from the totals and the old edition


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.integers(5, 12), min_size=2, max_size=3),
    st.lists(st.integers(0, 12), min_size=3, max_size=3),
)
def test_means_of_all_and_of_completers_never_expose_the_rest(sizes, completers):
    """Random teams; mean score of everyone and of the completers per team: the non-
    completers of a team (if 1-4) are never pinned by subtracting the two n columns."""
    comp = [min(c, s) for c, s in zip(completers, sizes, strict=False)]
    teams = [f"T{i}" for i in range(len(sizes))]
    allp = pd.DataFrame({"team": teams, "mean": 3.0, "n": sizes})
    done = pd.DataFrame({"team": teams, "mean": 2.5, "n": comp})
    gate = Gate()
    rel = gate.release()
    ta = rel.table("all", allp, by=["team"], estimates=["mean"], n="n", population="p",
                   attributes=[])  # fmt: skip
    tc = rel.table("done", done, by=["team"], estimates=["mean"], n="n", population="p",
                   where={"status": "completed"}, attributes=[])  # fmt: skip
    gate.run()
    assert gate.verify().ok
    for i, (s, c) in enumerate(zip(sizes, comp, strict=True)):
        if 1 <= s - c <= 4:
            shown = (not ta.suppressed.loc[i, "n"]) and (not tc.suppressed.loc[i, "n"])
            assert not shown


def test_repeated_table_total_in_n_column_is_a_margin():
    """``n_total`` repeated on every row (the shares' denominator) is the table total:
    with it, 'other' = 50 - 42 - 7 would be 1, so a complement must be hidden."""
    df = pd.DataFrame(
        {"group": ["male", "female", "other"], "n": [42, 7, 1], "share": [0.84, 0.14, 0.02],
         "n_total": [50, 50, 50]}
    )  # fmt: skip
    gate = Gate()
    t = gate.release().table("sex", df, by=["group"], counts=["n"], n="n_total",
                             shares=["share"])  # fmt: skip
    assert gate.verify().ok
    sup = t.suppressed
    assert sup.loc[2, "n"] and sup.loc[2, "share"]
    assert sup.loc[[0, 1], "n"].any() or sup["n_total"].all()
    # persons outside the listed groups (n_total > sum) are allowed for
    t2 = Gate().release().table("sex", df.assign(n_total=52), by=["group"], counts=["n"],
                                n="n_total", shares=["share"])  # fmt: skip
    assert t2.suppressed["n"].tolist() == [False, False, True]


def test_undeclared_count_columns_are_gated_with_a_warning():
    from envejind_eval.errors import EnvejindWarning

    df = pd.DataFrame(
        {"unit": ["a", "b"], "n": [7, 9], "n_excluded": [3, 6], "n_teams": [1, 2],
         "mean": [2.1, 2.2]}
    )  # fmt: skip
    with pytest.warns(EnvejindWarning, match="n_excluded"):
        t = Gate().release().table("pp", df, by=["unit"], n="n", estimates=["mean"])
    assert t.display["n_excluded"].tolist() == ["<5", 6]
    assert t.display["n_teams"].tolist() == [1, 2]  # not about persons: left alone
    assert t.suppressed["n_excluded"].tolist() == [True, False]


def test_share_times_n_is_a_count():
    """share_post = 1/9 with n = 9 publishes 'one person'; the share is a count in
    disguise and gets the threshold rule, and estimates derived from it go with it."""
    df = pd.DataFrame(
        {"indicator": ["charge", "house"], "n": [9, 30], "share_pre": [3 / 9, 12 / 30],
         "share_post": [1 / 9, 15 / 30], "difference": [-2 / 9, 3 / 30]}
    )  # fmt: skip
    gate = Gate()
    t = gate.release().table("outcomes", df, by=["indicator"], n="n",
                             shares=["share_pre", "share_post"], estimates=["difference"])  # fmt: skip
    assert gate.verify().ok
    # hidden as counts, shown as ".." (a share of "<5" would read as "<5 %")
    assert t.display.loc[0, ["share_pre", "share_post"]].tolist() == ["..", ".."]
    assert t.log.set_index("column").loc["share_post", "rule"] == "small_count"
    assert t.suppressed.loc[0, "difference"]
    assert not t.suppressed.loc[1].any()
    # pre and post may both be "yes" for a person: no false inconsistency
    both = pd.DataFrame({"indicator": ["house"], "n": [10], "share_pre": [0.8],
                         "share_post": [0.9]})  # fmt: skip
    g2 = Gate()
    g2.release().table("o2", both, by=["indicator"], n="n", shares=["share_pre", "share_post"])
    assert g2.verify().ok


def test_per_row_n_that_happens_to_equal_the_counts_sum() -> None:
    """A per-row ``n`` (pairs per unit) whose count columns happen to add up to it must not
    be read as the table's grand total when the caller says so (``n_total=False``): the
    municipality and national tables are then consistent. (Found at 1/4 national scale:
    a municipality with n = 4 and one excluded person on each of four rows.)"""
    import pandas as pd

    def tab(n: int, excl: int) -> pd.DataFrame:
        units = ["a", "b", "c", "d"]
        return pd.DataFrame({"unit": units, "n": [n] * 4, "n_excluded": [excl] * 4,
                             "mean": [1.0] * 4})  # fmt: skip

    def n_cells_of_x(n_total: bool | None) -> int:
        gate = Gate()
        kw = dict(by=["unit"], counts=["n_excluded"], n="n", estimates=["mean"],
                  population="prepost", n_total=n_total)  # fmt: skip
        gate.release("national").table("prepost", tab(30, 7), **kw)
        gate.release("X", scope={"municipality": "X"}).table("prepost", tab(20, 5), **kw)
        gate.release("Y", scope={"municipality": "Y"}).table("prepost", tab(10, 2), **kw)
        gate.run()
        assert gate.verify().ok
        _, cells = gate.system_parts()
        refs = [c.ref if isinstance(c.ref, list) else [c.ref] for c in cells if c.release == "X"]
        return sum(any(col == "n" for _, col in r) for r in refs)  # cells publishing n

    assert n_cells_of_x(False) == 4  # one n per unit, as the table means it
    assert n_cells_of_x(None) == 1  # inferred: 20 = 4 x 5 reads as X's grand total


def _sex(n_male: int, n_female: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"group": ["male", "female"], "n": [n_male, n_female], "n_total": n_male + n_female}
    )


def _sex_run(scopes):
    g = Gate(scopes=scopes)
    # n_total is not declared known here: with known headcounts the municipalities' totals
    # already add up to the national one and close the list by themselves
    kw = dict(by=["group"], counts=["n"], n="n_total", n_total=True)
    nat = g.release("national").table("sex", _sex(42, 8), **kw)
    g.run()  # the national report first, then the municipalities against it
    mun = {}
    for m, (a, b) in {"A": (12, 0), "H": (10, 3), "I": (11, 0), "O": (9, 5)}.items():
        mun[m] = g.release(m, scope={"municipality": m}).table("sex", _sex(a, b), **kw)
    g.run()
    assert g.verify().ok
    return nat, mun


def test_complete_municipality_list_national_minus_the_others():
    # 42 men nationally, 12 + 11 + 9 elsewhere: Halsnæs has 10 men, so with 13 participants
    # its 3 women are pinned unless one more count of men is hidden (its own is anyway)
    def men(scopes):
        nat, mun = _sex_run(scopes)
        tabs = {"national": nat, **{m: mun[m] for m in ("A", "I", "O")}}
        return {k: t.display.set_index("group").loc["male", "n"] for k, t in tabs.items()}

    assert ".." in men({"municipality": ["A", "H", "I", "O"]}).values()
    # without the complete list the gate thinks other municipalities may exist
    assert ".." not in men(None).values()


def test_known_headcounts_are_shown_and_parts_protected_against_them():
    df = pd.DataFrame({"team": ["T"], "started": [3], "completed": [2], "dropped_out": [1]})
    g = Gate()
    t = g.release().table(
        "flow", df, by=["team"], counts=["completed", "dropped_out"], total="started",
        known=["started"],
    )  # fmt: skip
    d = t.display.iloc[0]
    assert d["started"] == 3  # a team's headcount is not an attribute (rule 9)
    assert d["completed"] in ("<5", "..") and d["dropped_out"] in ("<5", "..")
    assert g.verify().ok
    with pytest.raises(ValueError, match="known columns"):
        Gate().release().table("x", df, counts=["completed"], known=["started"])
