"""Dataset: immutability, filter, summary, HTML repr, canonical CSV/Parquet round trip."""

from __future__ import annotations

import pandas as pd
import pytest

from envejind_eval.dataset import TABLE_NAMES, Dataset
from envejind_eval.errors import EnvejindError
from envejind_eval.schema import TIMEPOINTS


def test_assigning_to_a_returned_table_does_not_change_the_dataset(tiny_ds):
    before = tiny_ds.participants.copy()
    p = tiny_ds.participants
    p["status"] = "excluded"
    p.loc[p.index[0], "municipality"] = "Elsewhere"
    pd.testing.assert_frame_equal(tiny_ds.participants, before)
    t = tiny_ds.tables["attendance"]
    t["status"] = "late"
    assert (tiny_ds.attendance["status"] != "late").any()


def test_setattr_and_table_mapping_are_read_only(tiny_ds):
    with pytest.raises(AttributeError):
        tiny_ds.x = 1
    with pytest.raises(AttributeError):
        tiny_ds._tables = {}
    with pytest.raises(TypeError):
        tiny_ds.tables["participants"] = pd.DataFrame()  # type: ignore[index]
    with pytest.raises(TypeError):
        tiny_ds.instruments["lfl"] = None  # type: ignore[index]


def test_table_rejects_unknown_name(tiny_ds):
    with pytest.raises(ValueError, match="Expecting one of"):
        tiny_ds.table("nope")


def test_filter_by_municipality_and_cohort(sample_ds):
    f = sample_ds.filter(municipality="Odense")
    assert f is not sample_ds
    assert f.municipalities == ["Odense"]
    ids = set(f.participants["participant_id"])
    for name in ("attendance", "activities", "measurements", "outcomes"):
        assert set(f.table(name)["participant_id"]) <= ids
        assert len(f.table(name)) > 0
    assert set(f.cohorts["municipality"]) == {"Odense"}
    cohort = sorted(sample_ds.cohorts["cohort_id"])[0]
    g = sample_ds.filter(cohort=cohort)
    assert set(g.participants["cohort_id"]) == {cohort}
    assert g.cohorts["cohort_id"].tolist() == [cohort]
    both = sample_ds.filter(municipality=["Odense", "Aalborg"])
    assert both.municipalities == ["Aalborg", "Odense"]
    # the original is unchanged
    assert len(sample_ds.municipalities) == 4


def test_filter_unknown_value_raises(sample_ds):
    with pytest.raises(ValueError, match="Expecting municipality"):
        sample_ds.filter(municipality="Atlantis")


def test_summary_columns_and_counts(sample_ds):
    s = sample_ds.summary()
    assert list(s.columns) == [
        "municipality",
        "cohort_id",
        "status",
        "timepoint",
        "n_participants",
        "n_measured",
    ]
    assert list(s["timepoint"].cat.categories) == list(TIMEPOINTS)
    per_tp = s.groupby("timepoint", observed=True)["n_participants"].sum()
    assert (per_tp == len(sample_ds.participants)).all()
    assert (s["n_measured"] <= s["n_participants"]).all()
    base = s.loc[s["timepoint"] == "baseline", "n_measured"].sum()
    assert (
        base == sample_ds.measurements.query("timepoint == 'baseline'")["participant_id"].nunique()
    )


def test_html_repr(sample_ds):
    h = sample_ds._repr_html_()
    assert h.startswith("<div>") and "<table" in h
    for m in sample_ds.municipalities:
        assert m in h
    assert "ungestjernen" in h
    assert "Dataset" in repr(sample_ds)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_canonical_round_trip_is_identical(sample_ds, tmp_path, fmt):
    sample_ds.to_canonical(tmp_path, format=fmt)
    back = Dataset.from_canonical(tmp_path)
    for name in TABLE_NAMES:
        a = sample_ds.table(name).reset_index(drop=True)
        b = back.table(name).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_categorical=False)


def test_to_canonical_rejects_unknown_format(tiny_ds, tmp_path):
    with pytest.raises(ValueError, match="Expecting one of csv, parquet"):
        tiny_ds.to_canonical(tmp_path, format="xlsx")  # type: ignore[arg-type]


def test_from_canonical_missing_folder(tmp_path):
    with pytest.raises(EnvejindError):
        Dataset.from_canonical(tmp_path / "nope")


def test_from_tables_rejects_unknown_table(tiny_ds):
    with pytest.raises(ValueError, match="Expecting tables from"):
        Dataset.from_tables({"participants": tiny_ds.participants, "people": pd.DataFrame()})


def test_cohorts_derived_when_missing(tiny_ds):
    tables = {n: df for n, df in tiny_ds.tables.items() if n != "cohorts"}
    ds = Dataset.from_tables(tables)
    c = ds.cohorts
    assert c["cohort_id"].tolist() == tiny_ds.cohorts["cohort_id"].tolist()
    assert c["start_date"].tolist() == tiny_ds.participants["start_date"].drop_duplicates().tolist()
