"""Exception and warning classes.

Messages name the file, row, column and rule -- never the offending value, which may be
a CPR number or another personal detail.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def _redacted(args: tuple[object, ...]) -> tuple[object, ...]:
    # file, sheet and column names come from the delivery and may hold a CPR number
    from envejind_eval.disclosure.scan import redact_cpr

    return tuple(redact_cpr(a, "XXXXXX-XXXX") if isinstance(a, str) else a for a in args)


class EnvejindError(Exception):
    """Base class for every error this package raises on purpose (a user mistake).

    A CPR-shaped part of the message (e.g. in a delivered file name) is masked here, so no
    raise site can echo one.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*_redacted(args))


class DataValidationError(EnvejindError):
    """Tables break the canonical contract; ``problems`` lists every failure."""

    def __init__(self, message: str, problems: pd.DataFrame | None = None) -> None:
        super().__init__(message)
        self.problems = problems


class InstrumentError(EnvejindError):
    """An instrument definition file is malformed."""


class InsufficientDataError(EnvejindError):
    """Too few observations for the requested analysis."""


class DisclosureError(EnvejindError):
    """Publishing the requested output would disclose information about individuals."""


class IngestError(EnvejindError):
    """A delivery cannot be used (missing table, unreadable file, no pseudonym key).

    ``report`` is the ingest report when every file could be read but nothing usable was
    accepted (e.g. every participant quarantined), else None."""

    def __init__(self, message: str, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report


class EnvejindWarning(UserWarning):
    """Warnings about data quality or weak designs (few groups, small samples); CPR-shaped
    parts of the message are masked as in :class:`EnvejindError`."""

    def __init__(self, *args: object) -> None:
        super().__init__(*_redacted(args))
