"""``Dataset``: the validated canonical tables plus the instrument registry.

A ``Dataset`` is immutable: table properties hand out copy-on-write views (pandas 3), and
``filter`` returns a new object. Build one with :meth:`Dataset.from_tables` (validates),
:meth:`Dataset.from_canonical` (canonical CSV or Parquet) or ``envejind_eval.load`` (a
municipal delivery; see ``envejind_eval.ingest``).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from envejind_eval.errors import DataValidationError, EnvejindError
from envejind_eval.instruments import Instrument, default_registry, load_instrument
from envejind_eval.schema import TABLES, TIMEPOINTS, coerce_table, empty_table, validate_tables

if TYPE_CHECKING:
    from envejind_eval.ingest import IngestReport

TABLE_NAMES: tuple[str, ...] = tuple(TABLES)


def derive_cohorts(participants: pd.DataFrame) -> pd.DataFrame:
    """Cohorts from participants: earliest start, latest exit/planned end per cohort."""
    ends = participants["exit_date"].fillna(participants["planned_end_date"])
    g = participants.assign(_end=ends).groupby("cohort_id", sort=True)
    return pd.DataFrame(
        {
            "cohort_id": g.size().index,
            "municipality": g["municipality"].first().to_numpy(),
            "start_date": g["start_date"].min().to_numpy(),
            "end_date": g["_end"].max().to_numpy(),
        }
    )


class Dataset:
    """Validated canonical tables and the instruments they are measured with.

    Examples
    --------
    >>> import envejind_eval as ee
    >>> ds = ee.Dataset.from_canonical(ee.sample_path() / "canonical")
    >>> sorted(ds.municipalities)
    ['Aalborg', 'Halsnæs', 'Ishøj', 'Odense']
    >>> ds.filter(municipality="Odense").participants["municipality"].unique().tolist()
    ['Odense']
    """

    __slots__ = ("_instruments", "_report", "_tables")
    _tables: Mapping[str, pd.DataFrame]
    _instruments: Mapping[str, Instrument]
    _report: IngestReport | None

    def __init__(
        self,
        tables: Mapping[str, pd.DataFrame],
        instruments: Mapping[str, Instrument],
        ingest_report: IngestReport | None = None,
    ) -> None:
        # Use from_tables(): this constructor trusts its input (already coerced/validated).
        object.__setattr__(self, "_tables", MappingProxyType(dict(tables)))
        object.__setattr__(self, "_instruments", MappingProxyType(dict(instruments)))
        object.__setattr__(self, "_report", ingest_report)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Dataset is immutable; use filter() or from_tables() for a new one")

    # -- construction -----------------------------------------------------------------
    @classmethod
    def from_tables(
        cls,
        tables: Mapping[str, pd.DataFrame],
        *,
        instruments: Mapping[str, Instrument] | Iterable[Instrument] | None = None,
        ingest_report: IngestReport | None = None,
        validate: bool = True,
    ) -> Dataset:
        """Coerce, complete and validate canonical tables.

        Missing tables other than ``participants`` become empty; ``cohorts`` is derived from
        participants when not given. Raises :class:`DataValidationError` (with a
        ``problems`` table) when any check fails.
        """
        unknown = set(tables) - set(TABLE_NAMES)
        if unknown:
            raise ValueError(
                f"Expecting tables from {', '.join(TABLE_NAMES)}; got {', '.join(sorted(unknown))}"
            )
        if "participants" not in tables:
            raise DataValidationError("the participants table is required")
        reg = _registry(instruments)
        out = {n: coerce_table(n, tables[n]) if n in tables else empty_table(n) for n in TABLES}
        if "cohorts" not in tables or not len(tables["cohorts"]):
            out["cohorts"] = coerce_table("cohorts", derive_cohorts(out["participants"]))
        if validate:
            problems = validate_tables(out, reg)
            if len(problems):
                rules = problems.groupby(["table", "rule"]).size()
                summary = "; ".join(
                    f"{t}/{r}: {n}" for t, r, n in rules.reset_index().itertuples(index=False)
                )
                raise DataValidationError(
                    f"{len(problems)} problem(s) in the canonical tables ({summary}); "
                    "see .problems",
                    problems,
                )
        return cls(out, reg, ingest_report)

    @classmethod
    def from_canonical(
        cls,
        path: str | Path,
        *,
        instruments: Mapping[str, Instrument] | Iterable[Instrument] | None = None,
    ) -> Dataset:
        """Read canonical tables written by :meth:`to_canonical` (CSV or Parquet).

        Instrument definitions found in ``path/instruments/*.toml`` extend the registry.
        """
        path = Path(path)
        if not path.is_dir():
            raise EnvejindError(f"{path}: not a folder of canonical tables")
        tables: dict[str, pd.DataFrame] = {}
        for name in TABLES:
            pq, csv = path / f"{name}.parquet", path / f"{name}.csv"
            if pq.exists():
                tables[name] = pd.read_parquet(pq)
            elif csv.exists():
                tables[name] = pd.read_csv(csv, dtype=str, keep_default_na=False, na_values=[""])
        reg = _registry(instruments)
        for f in sorted((path / "instruments").glob("*.toml")):
            inst = load_instrument(f)
            reg[inst.id] = inst
        return cls.from_tables(tables, instruments=reg)

    def to_canonical(self, path: str | Path, *, format: Literal["csv", "parquet"] = "csv") -> Path:
        """Write every table as canonical CSV (UTF-8, ISO dates) or Parquet."""
        if format not in ("csv", "parquet"):
            raise ValueError(f"Expecting one of csv, parquet; got '{format}'")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for name, df in self._tables.items():
            if format == "parquet":
                df.reset_index(drop=True).to_parquet(path / f"{name}.parquet", index=False)
            else:
                out = df.copy()
                for c, s in TABLES[name].columns.items():
                    if s.kind == "date":
                        out[c] = out[c].dt.strftime("%Y-%m-%d")
                out.to_csv(path / f"{name}.csv", index=False, encoding="utf-8", lineterminator="\n")
        return path

    # -- access -------------------------------------------------------------------------
    def table(self, name: str) -> pd.DataFrame:
        if name not in self._tables:
            raise ValueError(f"Expecting one of {', '.join(TABLE_NAMES)}; got '{name}'")
        return self._tables[name].copy(deep=False)  # copy-on-write: callers cannot mutate us

    @property
    def participants(self) -> pd.DataFrame:
        return self.table("participants")

    @property
    def cohorts(self) -> pd.DataFrame:
        return self.table("cohorts")

    @property
    def attendance(self) -> pd.DataFrame:
        return self.table("attendance")

    @property
    def activities(self) -> pd.DataFrame:
        return self.table("activities")

    @property
    def measurements(self) -> pd.DataFrame:
        return self.table("measurements")

    @property
    def outcomes(self) -> pd.DataFrame:
        return self.table("outcomes")

    @property
    def tables(self) -> Mapping[str, pd.DataFrame]:
        return MappingProxyType({n: self.table(n) for n in self._tables})

    @property
    def instruments(self) -> Mapping[str, Instrument]:
        return self._instruments

    @property
    def ingest_report(self) -> IngestReport | None:
        return self._report

    @property
    def municipalities(self) -> list[str]:
        return sorted(self._tables["participants"]["municipality"].unique().tolist())

    # -- derived ------------------------------------------------------------------------
    def filter(
        self,
        *,
        municipality: str | Iterable[str] | None = None,
        cohort: str | Iterable[str] | None = None,
    ) -> Dataset:
        """A new Dataset restricted to the given municipalities and/or cohorts."""
        p = self._tables["participants"]
        keep = pd.Series(True, index=p.index)
        for col, want in (("municipality", municipality), ("cohort_id", cohort)):
            if want is None:
                continue
            wanted = [want] if isinstance(want, str) else list(want)
            unknown = set(wanted) - set(p[col].unique())
            if unknown:
                raise ValueError(
                    f"Expecting {col} from {', '.join(sorted(p[col].unique()))}; "
                    f"got {', '.join(sorted(unknown))}"
                )
            keep &= p[col].isin(wanted)
        ids = p.loc[keep, "participant_id"]
        out = {}
        for name, df in self._tables.items():
            if "participant_id" in df.columns:
                out[name] = df.loc[df["participant_id"].isin(ids)]
            else:
                out[name] = df.loc[df["cohort_id"].isin(p.loc[keep, "cohort_id"])]
        return Dataset(out, self._instruments, self._report)

    def summary(self) -> pd.DataFrame:
        """Tidy counts per municipality × cohort × status × timepoint.

        Columns ``municipality, cohort_id, status, timepoint, n_participants,
        n_measured`` (participants with any measurement at that timepoint).
        """
        p = self._tables["participants"][["participant_id", "municipality", "cohort_id", "status"]]
        m = self._tables["measurements"][["participant_id", "timepoint"]].drop_duplicates()
        base = p.groupby(["municipality", "cohort_id", "status"]).size().rename("n_participants")
        grid = base.reset_index().merge(pd.DataFrame({"timepoint": list(TIMEPOINTS)}), how="cross")
        measured = (
            m.merge(p, on="participant_id")
            .groupby(["municipality", "cohort_id", "status", "timepoint"])
            .size()
            .rename("n_measured")
            .reset_index()
        )
        out = grid.merge(
            measured, how="left", on=["municipality", "cohort_id", "status", "timepoint"]
        )
        out["n_measured"] = out["n_measured"].fillna(0).astype(int)
        out["timepoint"] = pd.Categorical(
            out["timepoint"], categories=list(TIMEPOINTS), ordered=True
        )
        cols = ["municipality", "cohort_id", "status", "timepoint", "n_participants", "n_measured"]
        return (
            out.sort_values(["municipality", "cohort_id", "status", "timepoint"])
            .reset_index(drop=True)
            .loc[:, cols]
        )

    def __repr__(self) -> str:
        counts = ", ".join(f"{n}={len(df):,}" for n, df in self._tables.items())
        return (
            f"<Dataset {len(self.municipalities)} municipalities, "
            f"{self._tables['cohorts'].shape[0]} cohorts; {counts}; "
            f"instruments: {', '.join(self._instruments)}>"
        )

    def _repr_html_(self) -> str:
        p = self._tables["participants"]
        by = (
            p.groupby("municipality")
            .agg(
                teams=("cohort_id", "nunique"),
                participants=("participant_id", "size"),
                completed=("status", lambda s: int((s == "completed").sum())),
                dropped_out=("status", lambda s: int((s == "dropped_out").sum())),
            )
            .reset_index()
        )
        rows = "".join(
            f"<li>{html.escape(n)}: {len(df):,} rows</li>" for n, df in self._tables.items()
        )
        return (
            "<div><b>envejind_eval.Dataset</b>"
            f"{by.to_html(index=False, border=0)}"
            f"<ul>{rows}</ul>"
            f"<p>Instruments: {html.escape(', '.join(self._instruments))}</p></div>"
        )


def _registry(
    instruments: Mapping[str, Instrument] | Iterable[Instrument] | None,
) -> dict[str, Instrument]:
    if instruments is None:
        return default_registry()
    if isinstance(instruments, Mapping):
        return dict(instruments)
    return {i.id: i for i in instruments}
