"""Canonical table checks: each rule is caught with table/row/column/rule, never the value."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from envejind_eval.dataset import Dataset
from envejind_eval.errors import DataValidationError
from envejind_eval.instruments import default_registry
from envejind_eval.schema import (
    PROBLEM_COLUMNS,
    TABLES,
    coerce_table,
    empty_table,
    validate_tables,
)

# A value that must never show up in a problem message (CPR-shaped).
SECRET = "0101991234"


def _valid() -> dict[str, pd.DataFrame]:
    """Two young people in one team; one row of each kind per table."""
    d = pd.Timestamp
    participants = pd.DataFrame(
        {
            "participant_id": ["p1", "p2"],
            "municipality": ["Odense", "Odense"],
            "cohort_id": ["ODE-1", "ODE-1"],
            "mentor_id": ["m1", "m2"],
            "sex": ["male", "female"],
            "birth_year": [2000, 1999],
            "referred_by": ["police", "sspk"],
            "start_date": [d("2017-01-02"), d("2017-01-02")],
            "planned_end_date": [d("2017-04-28"), d("2017-04-28")],
            "status": ["completed", "dropped_out"],
            "exit_date": [d("2017-04-28"), d("2017-02-10")],
            "exit_reason": [None, "Andet"],
        }
    )
    cohorts = pd.DataFrame(
        {
            "cohort_id": ["ODE-1"],
            "municipality": ["Odense"],
            "start_date": [d("2017-01-02")],
            "end_date": [d("2017-04-28")],
        }
    )
    attendance = pd.DataFrame(
        {
            "participant_id": ["p1", "p1", "p2"],
            "date": [d("2017-01-02"), d("2017-01-03"), d("2017-01-02")],
            "status": ["present", "late", "unexcused"],
            "arrival_time": ["08:55", "09:12", None],
        }
    )
    activities = pd.DataFrame(
        {
            "participant_id": ["p1", "p2"],
            "date": [d("2017-01-03"), d("2017-01-03")],
            "activity": ["art", "mi"],
            "attended": [True, False],
            "minutes": [120.0, np.nan],
        }
    )
    measurements = pd.DataFrame(
        {
            "participant_id": ["p1", "p1", "p2", "p1"],
            "instrument": ["ungestjernen", "ungestjernen", "ungestjernen", "lfl"],
            "timepoint": ["baseline", "end", "baseline", "baseline"],
            "rater": ["self", "self", "self", "mentor"],
            "item": ["star_crime", "star_crime", "star_crime", "lfl01"],
            "date": [d("2017-01-02"), d("2017-04-28"), d("2017-01-02"), d("2017-01-02")],
            "value": [3.0, 99.0, np.nan, 4.0],
        }
    )
    outcomes = pd.DataFrame(
        {
            "participant_id": ["p1", "p1"],
            "timepoint": ["baseline", "end"],
            "indicator": ["police_charge", "police_charge"],
            "value": [1.0, 0.0],
        }
    )
    return {
        "participants": participants,
        "cohorts": cohorts,
        "attendance": attendance,
        "activities": activities,
        "measurements": measurements,
        "outcomes": outcomes,
    }


def _check(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    coerced = {n: coerce_table(n, df) for n, df in tables.items()}
    return validate_tables(coerced, default_registry())


def test_valid_tables_have_no_problems():
    problems = _check(_valid())
    assert list(problems.columns) == PROBLEM_COLUMNS
    assert problems.empty
    Dataset.from_tables(_valid())  # does not raise


def _set(table: str, row: int, column: str, value: object) -> Callable[[dict], None]:
    def f(t: dict[str, pd.DataFrame]) -> None:
        df = t[table].copy()
        df.loc[row, column] = value
        t[table] = df

    return f


def _dup_attendance(t: dict[str, pd.DataFrame]) -> None:
    a = t["attendance"]
    t["attendance"] = pd.concat([a, a.iloc[[2]]], ignore_index=True)  # row 3 repeats row 2


def _second_municipality(t: dict[str, pd.DataFrame]) -> None:
    p = t["participants"].copy()
    p.loc[1, "municipality"] = "Aalborg"
    t["participants"] = p


# (name, breaker, table, row, column, rule, bad value that must not be echoed)
CASES = [
    ("unique_key", _dup_attendance, "attendance", 3, "participant_id,date", "unique_key", None),
    ("not_null", _set("participants", 1, "status", None), "participants", 1, "status",
     "not_null", None),
    ("allowed_codes", _set("attendance", 1, "status", "sick_" + SECRET), "attendance", 1,
     "status", "allowed_codes", "sick_" + SECRET),
    ("unknown_participant", _set("measurements", 2, "participant_id", SECRET), "measurements",
     2, "participant_id", "unknown_participant", SECRET),
    ("cohort_one_municipality", _second_municipality, "participants", 1, "municipality",
     "cohort_one_municipality", "Aalborg"),
    ("unknown_cohort", _set("participants", 0, "cohort_id", "X" + SECRET), "participants", 0,
     "cohort_id", "unknown_cohort", "X" + SECRET),
    ("date_in_course_window", _set("attendance", 2, "date", pd.Timestamp("2017-03-01")),
     "attendance", 2, "date", "date_in_course_window", "2017-03-01"),
    ("exit_before_start", _set("participants", 1, "exit_date", pd.Timestamp("2016-12-01")),
     "participants", 1, "exit_date", "exit_before_start", "2016-12-01"),
    ("unknown_instrument", _set("measurements", 3, "instrument", "bdi_" + SECRET),
     "measurements", 3, "instrument", "unknown_instrument", "bdi_" + SECRET),
    ("unknown_item", _set("measurements", 1, "item", "it_" + SECRET), "measurements", 1, "item",
     "unknown_item", "it_" + SECRET),
    ("rater_not_allowed", _set("measurements", 0, "rater", "mentor"), "measurements", 0,
     "rater", "rater_not_allowed", None),
    ("value_in_scale", _set("measurements", 0, "value", 11.0), "measurements", 0, "value",
     "value_in_scale", "11.0"),
    ("binary_value", _set("outcomes", 1, "value", 7.0), "outcomes", 1, "value", "binary_value",
     "7"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("breaker", "table", "row", "column", "rule", "bad"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_each_rule_names_table_row_column(breaker, table, row, column, rule, bad):
    tables = _valid()
    breaker(tables)
    problems = _check(tables)
    hit = problems.loc[(problems["rule"] == rule) & (problems["table"] == table)]
    assert len(hit) >= 1, problems
    assert row in hit["row"].tolist()
    assert set(hit["column"]) == {column}
    if bad is not None:
        assert not problems["message"].str.contains(bad, regex=False).any()
    # the same problems come out of Dataset.from_tables, without the value in the message
    with pytest.raises(DataValidationError) as exc:
        Dataset.from_tables(tables)
    assert rule in set(exc.value.problems["rule"])
    if bad is not None:
        assert bad not in str(exc.value)


def test_cohorts_table_municipality_mismatch():
    t = _valid()
    c = t["cohorts"].copy()
    c.loc[0, "municipality"] = "Aalborg"
    t["cohorts"] = c
    problems = _check(t)
    hit = problems.loc[problems["rule"] == "cohort_one_municipality"]
    assert hit[["table", "row", "column"]].values.tolist() == [["cohorts", 0, "municipality"]]


def test_measurement_window_has_grace_and_open_followup():
    t = _valid()
    m = t["measurements"].copy()
    m.loc[0, "date"] = pd.Timestamp("2016-12-22")  # 11 days before start: inside grace
    m.loc[1, "timepoint"] = "followup"
    m.loc[1, "date"] = pd.Timestamp("2018-06-01")  # follow-up may be long after the end
    t["measurements"] = m
    assert _check(t).empty
    m.loc[0, "date"] = pd.Timestamp("2016-12-01")  # 32 days before start
    t["measurements"] = m
    problems = _check(t)
    assert problems[["table", "row", "rule"]].values.tolist() == [
        ["measurements", 0, "date_in_course_window"]
    ]


def test_missing_codes_are_valid_values():
    t = _valid()
    assert 99.0 in t["measurements"]["value"].tolist()  # ungestjernen's missing code
    assert _check(t).empty


def test_required_column_missing():
    t = _valid()
    t["attendance"] = t["attendance"].drop(columns=["status"])
    with pytest.raises(DataValidationError) as exc:
        Dataset.from_tables(t)
    p = exc.value.problems
    assert p[["table", "column", "rule"]].values.tolist() == [
        ["attendance", "status", "required_column"]
    ]


def test_optional_column_may_be_absent():
    t = _valid()
    t["attendance"] = t["attendance"].drop(columns=["arrival_time"])
    ds = Dataset.from_tables(t)
    assert ds.attendance["arrival_time"].isna().all()


def test_all_problems_are_collected_at_once():
    tables = _valid()
    for case in CASES:
        if case[0] == "unique_key":
            continue  # duplicating a row would double-report other breaks on that row
        case[1](tables)
    with pytest.raises(DataValidationError) as exc:
        Dataset.from_tables(tables)
    found = set(exc.value.problems["rule"])
    expected = {c[5] for c in CASES if c[0] != "unique_key"}
    assert expected <= found
    assert list(exc.value.problems.columns) == PROBLEM_COLUMNS
    assert SECRET not in str(exc.value)
    assert not exc.value.problems["message"].str.contains(SECRET).any()


def test_uncastable_column_names_column_not_value():
    t = _valid()
    p = t["participants"].copy()
    p["birth_year"] = p["birth_year"].astype(object)
    p.loc[0, "birth_year"] = SECRET + "x"
    t["participants"] = p
    with pytest.raises(DataValidationError) as exc:
        Dataset.from_tables(t)
    assert "birth_year" in str(exc.value)
    assert SECRET not in str(exc.value)


def test_empty_table_has_canonical_columns_and_validates():
    for name, spec in TABLES.items():
        assert list(empty_table(name).columns) == spec.column_names
    t = _valid()
    t["attendance"] = empty_table("attendance")
    assert _check(t).empty


def test_validation_does_not_mutate_inputs():
    t = _valid()
    before = {n: df.copy() for n, df in t.items()}
    Dataset.from_tables(t)
    for n, df in t.items():
        pd.testing.assert_frame_equal(df, before[n])


def test_synthetic_sample_is_valid(sample_ds):
    problems = validate_tables(dict(sample_ds.tables), sample_ds.instruments)
    assert problems.empty
