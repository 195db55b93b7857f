"""Canonical tables: the contract between ingest, analysis and reporting.

Each table is declared once in :data:`TABLES` (columns, dtypes, codes, key). From that
declaration we build pandera schemas for the per-table checks and run the cross-table checks
(participants exist, one municipality per cohort, dates inside the course window, values on
the instrument's scale) with vectorised pandas code.

Validation gathers *every* problem into one tidy table with the columns
``table, row, column, rule, message``. ``row`` is the frame's index label, so a reader that
indexes rows by their line in the source file gets problems that point at that line. The
offending value is never copied into the table: it may be a CPR number or a crime record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from envejind_eval.instruments import Instrument

Kind = Literal["str", "date", "int", "float", "bool"]

TIMEPOINTS: tuple[str, ...] = ("baseline", "midway", "end", "followup")
STATUSES: tuple[str, ...] = ("completed", "dropped_out", "excluded", "ongoing")
ATTENDANCE_STATUSES: tuple[str, ...] = ("present", "late", "excused", "unexcused")
ACTIVITIES: tuple[str, ...] = ("art", "mi", "teaching", "sport", "other")
SEXES: tuple[str, ...] = ("female", "male", "other", "unknown")
REFERRERS: tuple[str, ...] = (
    "social_services",
    "police",
    "sspk",
    "jobcentre",
    "school",
    "probation",
    "other",
)
RATERS: tuple[str, ...] = ("self", "mentor", "staff")
#: Binary status indicators (1 = yes, 0 = no) asked at baseline, end and follow-up.
OUTCOME_INDICATORS: tuple[str, ...] = (
    "in_education",
    "in_employment",
    "police_charge",
    "stable_housing",
)

#: Days a baseline form may precede the start date and an end form follow the exit/planned
#: end (forms are often filled in the week around the event). Follow-up has no upper bound.
WINDOW_GRACE_DAYS = 14

PROBLEM_COLUMNS = ["table", "row", "column", "rule", "message"]


@dataclass(frozen=True)
class ColumnSpec:
    kind: Kind
    nullable: bool = False
    codes: tuple[str, ...] | None = None
    required: bool = True


@dataclass(frozen=True)
class TableSpec:
    name: str
    key: tuple[str, ...]
    columns: Mapping[str, ColumnSpec] = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return list(self.columns)


def _c(kind: Kind, **kw: object) -> ColumnSpec:
    return ColumnSpec(kind, **kw)  # type: ignore[arg-type]


TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in [
        TableSpec(
            "participants",
            ("participant_id",),
            {
                "participant_id": _c("str"),
                "municipality": _c("str"),
                "cohort_id": _c("str"),
                "mentor_id": _c("str", nullable=True),
                "sex": _c("str", nullable=True, codes=SEXES),
                "birth_year": _c("int", nullable=True),
                "referred_by": _c("str", nullable=True, codes=REFERRERS),
                "start_date": _c("date"),
                "planned_end_date": _c("date", nullable=True),
                "status": _c("str", codes=STATUSES),
                "exit_date": _c("date", nullable=True),
                "exit_reason": _c("str", nullable=True),
            },
        ),
        TableSpec(
            "cohorts",
            ("cohort_id",),
            {
                "cohort_id": _c("str"),
                "municipality": _c("str"),
                "start_date": _c("date"),
                "end_date": _c("date", nullable=True),
            },
        ),
        TableSpec(
            "attendance",
            ("participant_id", "date"),
            {
                "participant_id": _c("str"),
                "date": _c("date"),
                "status": _c("str", codes=ATTENDANCE_STATUSES),
                "arrival_time": _c("str", nullable=True, required=False),
            },
        ),
        TableSpec(
            "activities",
            ("participant_id", "date", "activity"),
            {
                "participant_id": _c("str"),
                "date": _c("date"),
                "activity": _c("str", codes=ACTIVITIES),
                "attended": _c("bool"),
                "minutes": _c("float", nullable=True),
            },
        ),
        TableSpec(
            "measurements",
            ("participant_id", "instrument", "timepoint", "rater", "item"),
            {
                "participant_id": _c("str"),
                "instrument": _c("str"),
                "timepoint": _c("str", codes=TIMEPOINTS),
                "rater": _c("str", codes=RATERS),
                "item": _c("str"),
                "date": _c("date", nullable=True),
                "value": _c("float", nullable=True),
            },
        ),
        TableSpec(
            "outcomes",
            ("participant_id", "timepoint", "indicator"),
            {
                "participant_id": _c("str"),
                "timepoint": _c("str", codes=TIMEPOINTS),
                "indicator": _c("str", codes=OUTCOME_INDICATORS),
                "value": _c("float", nullable=True),
            },
        ),
    ]
}

_DTYPES: dict[Kind, str] = {
    "str": "str",
    "date": "datetime64[us]",
    "int": "Int64",
    "float": "float64",
    "bool": "bool",
}


def empty_table(name: str) -> pd.DataFrame:
    """An empty canonical table with the right columns and dtypes."""
    spec = TABLES[name]
    return pd.DataFrame({c: pd.Series(dtype=_DTYPES[s.kind]) for c, s in spec.columns.items()})


def coerce_table(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with canonical column order and dtypes (missing optional columns added).

    Raises ``DataValidationError`` when a required column is absent or a column cannot be
    cast; the message names the table and column only.
    """
    from envejind_eval.errors import DataValidationError

    spec = TABLES[name]
    missing = [c for c, s in spec.columns.items() if s.required and c not in df.columns]
    if missing:
        problems = pd.DataFrame(
            [
                {
                    "table": name,
                    "row": pd.NA,
                    "column": c,
                    "rule": "required_column",
                    "message": f"{name}: required column '{c}' is missing",
                }
                for c in missing
            ],
            columns=PROBLEM_COLUMNS,
        )
        raise DataValidationError(
            f"{name}: missing required column(s) {', '.join(missing)}", problems
        )
    out = {}
    for col, s in spec.columns.items():
        if col not in df.columns:
            out[col] = pd.Series(pd.NA, index=df.index, dtype=_DTYPES[s.kind])
            continue
        try:
            out[col] = _cast(df[col], s.kind)
        except (ValueError, TypeError) as exc:
            raise DataValidationError(
                f"{name}: column '{col}' cannot be read as {s.kind} ({type(exc).__name__})"
            ) from None
    return pd.DataFrame(out, index=df.index)


def _cast(s: pd.Series, kind: Kind) -> pd.Series:
    if kind == "date":
        if pd.api.types.is_datetime64_any_dtype(s):
            return s.astype("datetime64[us]")
        return pd.to_datetime(s, format="ISO8601").astype("datetime64[us]")
    if kind == "bool":
        if s.dtype == bool:
            return s
        mapped = s.map(
            lambda v: {"true": True, "false": False, "1": True, "0": False}.get(
                str(v).strip().lower()
            )
        )
        if mapped.isna().any():
            raise ValueError("not boolean")
        return mapped.astype(bool)
    if kind == "str":
        return s.astype("str").where(s.notna(), None).astype("str")
    return s.astype(_DTYPES[kind])  # type: ignore[call-overload]


# -- validation ---------------------------------------------------------------------------


def _problems(table: str, rows: pd.Index, column: str, rule: str, message: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "table": table,
            "row": rows.to_numpy(dtype=object),
            "column": column,
            "rule": rule,
            "message": message,
        },
        columns=PROBLEM_COLUMNS,
    )


def _pandera_schema(spec: TableSpec):  # type: ignore[no-untyped-def]
    import pandera.pandas as pa

    cols = {}
    for col, s in spec.columns.items():
        checks = [pa.Check.isin(list(s.codes), name="allowed_codes")] if s.codes else []
        cols[col] = pa.Column(nullable=s.nullable, checks=checks, required=s.required)
    return pa.DataFrameSchema(cols, unique=list(spec.key), report_duplicates="all")


_PANDERA_RULES = {
    "not_nullable": ("not_null", "value is missing"),
    "multiple_fields_uniqueness": ("unique_key", "key is not unique"),
    "allowed_codes": ("allowed_codes", "code is not one of the allowed codes"),
    # pandera reports Check.isin by its expression ("isin([...])"), not by the given name
    "isin": ("allowed_codes", "code is not one of the allowed codes"),
    "column_in_dataframe": ("required_column", "required column is missing"),
}


def _validate_table(name: str, df: pd.DataFrame) -> pd.DataFrame:
    import pandera.pandas as pa

    spec = TABLES[name]
    try:
        _pandera_schema(spec).validate(df, lazy=True)
    except pa.errors.SchemaErrors as err:
        fc = err.failure_cases
        out = []
        for rec in fc.itertuples(index=False):
            check = str(rec.check)
            rule, msg = _PANDERA_RULES.get(check.split("(")[0], (check, f"check '{check}' fails"))
            column = rec.column if isinstance(rec.column, str) else ",".join(spec.key)
            if rule == "unique_key":
                column = ",".join(spec.key)
            row = rec.index if pd.notna(rec.index) else pd.NA
            out.append(
                {
                    "table": name,
                    "row": row,
                    "column": column,
                    "rule": rule,
                    "message": f"{name}: {column}: {msg}",
                }
            )
        return pd.DataFrame(out, columns=PROBLEM_COLUMNS).drop_duplicates()
    return pd.DataFrame(columns=PROBLEM_COLUMNS)


def validate_tables(
    tables: Mapping[str, pd.DataFrame], instruments: Mapping[str, Instrument]
) -> pd.DataFrame:
    """Check canonical tables and return every problem as a tidy table.

    Parameters
    ----------
    tables
        Mapping of table name to a frame already coerced with :func:`coerce_table`.
    instruments
        The instrument registry measurements are checked against.

    Returns
    -------
    DataFrame
        Columns ``table, row, column, rule, message``; empty when everything is valid.
        Rules: ``required_column``, ``not_null``, ``allowed_codes``, ``unique_key``,
        ``unknown_participant``, ``cohort_one_municipality``, ``unknown_cohort``,
        ``date_in_course_window``, ``exit_before_start``, ``unknown_instrument``,
        ``unknown_item``, ``rater_not_allowed``, ``value_in_scale``, ``binary_value``.
    """
    found: list[pd.DataFrame] = [_validate_table(n, df) for n, df in tables.items()]
    p = tables.get("participants")
    if p is not None:
        found.extend(_cross_checks(tables, p, instruments))
    found = [f for f in found if len(f)]
    if not found:
        return pd.DataFrame(columns=PROBLEM_COLUMNS)
    return pd.concat(found, ignore_index=True)


def _isin(s: pd.Series, values: pd.Series) -> np.ndarray:
    """``s.isin(values)`` for text columns in pyarrow (pandas builds the value set of a
    ``str`` column one Python scalar at a time: 20 ms for 2,500 cohorts)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.is_in(pa.array(s), value_set=pa.array(values)).to_numpy(zero_copy_only=False)


def _with_nat(a: np.ndarray) -> np.ndarray:
    return np.append(a, np.array(["NaT"], dtype=a.dtype))


def _cross_checks(
    tables: Mapping[str, pd.DataFrame], p: pd.DataFrame, instruments: Mapping[str, Instrument]
) -> list[pd.DataFrame]:
    out: list[pd.DataFrame] = []

    # a cohort belongs to one municipality (in participants and in cohorts)
    n_mun = p.groupby("cohort_id")["municipality"].transform("nunique")
    bad = p.index[n_mun > 1]
    out.append(
        _problems(
            "participants",
            bad,
            "municipality",
            "cohort_one_municipality",
            "participants: cohort_id appears with more than one municipality",
        )
    )
    ends = p["exit_date"].fillna(p["planned_end_date"])
    bad = p.index[(ends < p["start_date"]).fillna(False)]
    out.append(
        _problems(
            "participants",
            bad,
            "exit_date",
            "exit_before_start",
            "participants: exit/planned end date is before the start date",
        )
    )
    c = tables.get("cohorts")
    if c is not None and len(c):
        pm = p.drop_duplicates("cohort_id").set_index("cohort_id")["municipality"]
        cm = c["cohort_id"].map(pm)
        bad = c.index[cm.notna() & (cm != c["municipality"])]
        out.append(
            _problems(
                "cohorts",
                bad,
                "municipality",
                "cohort_one_municipality",
                "cohorts: municipality differs from the participants' municipality",
            )
        )
        bad = p.index[~_isin(p["cohort_id"], c["cohort_id"])]
        out.append(
            _problems(
                "participants",
                bad,
                "cohort_id",
                "unknown_cohort",
                "participants: cohort_id is not in the cohorts table",
            )
        )

    start = p.set_index("participant_id")["start_date"]
    start = start[~start.index.duplicated()]
    end = ends.set_axis(p["participant_id"])
    end = end[~end.index.duplicated()]
    grace = pd.Timedelta(days=WINDOW_GRACE_DAYS)
    for name in ("attendance", "activities", "measurements", "outcomes"):
        df = tables.get(name)
        if df is None or not len(df):
            continue
        # one hash lookup per row, reused for membership and both window ends
        pos = start.index.get_indexer(pd.Index(df["participant_id"]))
        known = pd.Series(pos >= 0, index=df.index) & df["participant_id"].notna()
        out.append(
            _problems(
                name,
                df.index[~known & df["participant_id"].notna()],
                "participant_id",
                "unknown_participant",
                f"{name}: participant_id is not in participants",
            )
        )
        if "date" not in df.columns:
            continue
        # a trailing NaT is what pos == -1 (unknown participant) picks, also when there are
        # no participants at all
        s = pd.Series(_with_nat(start.to_numpy())[pos], index=df.index).where(known)
        e = pd.Series(_with_nat(end.reindex(start.index).to_numpy())[pos], index=df.index)
        e = e.where(known)
        d = df["date"]
        if name == "measurements":
            lo = s - grace
            hi = (e + grace).where(df["timepoint"] != "followup")  # follow-up: no upper bound
        else:
            lo, hi = s, e
        outside = (d < lo).fillna(False) | (d > hi).fillna(False)
        out.append(
            _problems(
                name,
                df.index[known & outside],
                "date",
                "date_in_course_window",
                f"{name}: date is outside the participant's course window",
            )
        )

    m = tables.get("measurements")
    if m is not None and len(m):
        out.extend(_measurement_checks(m, instruments))
    o = tables.get("outcomes")
    if o is not None and len(o):
        bad = o.index[o["value"].notna() & ~o["value"].isin([0.0, 1.0])]
        out.append(
            _problems(
                "outcomes", bad, "value", "binary_value", "outcomes: value must be 0, 1 or empty"
            )
        )
    return out


def _measurement_checks(
    m: pd.DataFrame, instruments: Mapping[str, Instrument]
) -> list[pd.DataFrame]:
    out = []
    known_inst = m["instrument"].isin(list(instruments))
    out.append(
        _problems(
            "measurements",
            m.index[~known_inst],
            "instrument",
            "unknown_instrument",
            "measurements: instrument is not in the registry",
        )
    )
    for iid, inst in instruments.items():
        sel = m["instrument"] == iid
        if not sel.any():
            continue
        mi = m.loc[sel]
        bad_item = ~mi["item"].isin(inst.item_ids)
        out.append(
            _problems(
                "measurements",
                mi.index[bad_item],
                "item",
                "unknown_item",
                f"measurements: item is not defined by instrument '{iid}'",
            )
        )
        bad_rater = ~mi["rater"].isin(inst.raters)
        out.append(
            _problems(
                "measurements",
                mi.index[bad_rater],
                "rater",
                "rater_not_allowed",
                f"measurements: rater is not allowed for instrument '{iid}'",
            )
        )
        v = mi["value"].to_numpy(dtype=float)
        ok = (
            np.isnan(v)
            | ((v >= inst.scale_min) & (v <= inst.scale_max))
            | np.isin(v, np.asarray(inst.missing_codes, dtype=float))
        )
        out.append(
            _problems(
                "measurements",
                mi.index[~ok],
                "value",
                "value_in_scale",
                f"measurements: value is outside the scale of '{iid}' "
                f"({inst.scale_min:g}-{inst.scale_max:g}) and not a missing code",
            )
        )
    return out
