"""Shared helpers for figure functions (private)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from envejind_eval.errors import DataValidationError, InsufficientDataError


def require_columns(df: pd.DataFrame, columns: Iterable[str], *, figure: str, source: str) -> None:
    """Raise :class:`DataValidationError` naming every missing column and the expected source."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{figure}: expecting a pandas DataFrame (the output of {source})")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataValidationError(
            f"{figure}: missing column(s) {', '.join(missing)}; pass the tidy output of {source}"
        )


def non_empty(df: pd.DataFrame, *, figure: str, what: str = "rows") -> pd.DataFrame:
    if not len(df):
        raise InsufficientDataError(f"{figure}: no {what} to draw")
    return df


def select(df: pd.DataFrame, column: str, value: object | None, *, figure: str) -> pd.DataFrame:
    """Keep rows where ``column == value`` (no-op for ``None``); unknown values raise."""
    if value is None or column not in df.columns:
        return df
    values = [value] if isinstance(value, str) else list(value)  # type: ignore[call-overload]
    known = set(df[column].dropna().unique())
    unknown = [v for v in values if v not in known]
    if unknown:
        raise ValueError(
            f"{figure}: Expecting {column} from {', '.join(map(str, sorted(known)))}; "
            f"got {', '.join(map(str, unknown))}"
        )
    return df.loc[df[column].isin(values)]


def present(df: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """Those of ``columns`` that exist in ``df`` and vary (more than one value)."""
    return [c for c in columns if c in df.columns and df[c].nunique(dropna=True) > 1]


def categorical(values: Iterable[object], order: Sequence[object]) -> pd.Categorical:
    """An ordered categorical keeping only the levels that occur, in ``order``."""
    values = list(values)
    seen = set(values)
    levels = [o for o in order if o in seen]
    levels += sorted({v for v in seen if v not in set(order)}, key=str)
    return pd.Categorical(values, categories=levels, ordered=True)


def frame_of(obj: object, attr: str, *, figure: str, source: str) -> pd.DataFrame:
    """The DataFrame to draw: ``obj`` itself, or its ``attr`` table for a result object."""
    if isinstance(obj, pd.DataFrame):
        return obj
    value = getattr(obj, attr, None)
    if isinstance(value, pd.DataFrame):
        return value
    raise TypeError(
        f"{figure}: expecting a DataFrame or the result of {source} (with a '{attr}' table); "
        f"got {type(obj).__name__}"
    )


def rename_aliases(df: pd.DataFrame, aliases: dict[str, str]) -> pd.DataFrame:
    """Rename alternative column names (``alias -> canonical``) when the canonical is absent."""
    ren = {a: c for a, c in aliases.items() if a in df.columns and c not in df.columns}
    return df.rename(columns=ren) if ren else df
