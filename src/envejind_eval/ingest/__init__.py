"""Ingest a municipal delivery (a folder of CSV/Excel/Parquet files) into a ``Dataset``.

>>> import envejind_eval as ee                                  # doctest: +SKIP
>>> ds = ee.load(ee.sample_path())                               # doctest: +SKIP
>>> ds.ingest_report.files[["file", "rows_read", "quarantined"]]  # doctest: +SKIP

See ``docs/ingest.md`` for what is recognised, the checks, and the report.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envejind_eval.errors import IngestError
from envejind_eval.ingest.report import IngestReport

if TYPE_CHECKING:
    from envejind_eval.dataset import Dataset

__all__ = ["IngestReport", "keygen", "load", "read_delivery"]


def read_delivery(
    path: str | os.PathLike[str],
    *,
    config: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    key: bytes | str | os.PathLike[str] | None = None,
) -> tuple[dict, IngestReport, dict]:
    """Read a delivery folder into canonical frames, an :class:`IngestReport` and the
    instrument registry, without building a :class:`Dataset` (see :func:`load`)."""
    from envejind_eval.ingest._core import run

    folder = Path(path)
    if not folder.is_dir():
        raise IngestError(f"{folder}: not a folder (a delivery is a folder of files)")
    return run(folder, config=config, key=key)


def load(
    path: str | os.PathLike[str],
    *,
    config: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    key: bytes | str | os.PathLike[str] | None = None,
) -> Dataset:
    """Load a municipal delivery folder as a validated :class:`~envejind_eval.Dataset`.

    Parameters
    ----------
    path
        The delivery folder (CSV, .xlsx and/or Parquet files; sub-folders are not read).
    config
        A ``datakilder.toml`` (path or parsed dict) mapping file/column names and codes;
        default ``path/datakilder.toml`` when present, else the built-in Danish/English
        names.
    key
        The pseudonym key (bytes, hex text, or a key file path); default
        ``$ENVEJIND_PSEUDONYM_KEY`` or ``~/.config/envejind_eval/pseudonym.key``. Needed only
        when the delivery holds CPR numbers.

    Returns
    -------
    Dataset
        Only accepted rows; ``ds.ingest_report`` says what happened to every delivered row.

    Raises
    ------
    IngestError
        The delivery is unusable: no participant list, an unreadable file, a missing
        required column, a name column, CPR numbers without a key, or no participant
        accepted (then ``exc.report`` is the ingest report).

    Notes
    -----
    ``participant_id`` is the first 16 hex characters of HMAC-SHA256(key, the 10 CPR
    digits); ids that are not CPR-shaped (canonical data) are kept as delivered.

    Examples
    --------
    >>> import envejind_eval as ee
    >>> ds = ee.load(ee.sample_path(), key="00" * 32)  # use your own key file in practice
    >>> ds.ingest_report.n_quarantined
    0
    >>> sorted(ds.municipalities)
    ['Aalborg', 'Halsnæs', 'Ishøj', 'Odense']
    """
    from envejind_eval.dataset import Dataset

    tables, report, reg = read_delivery(path, config=config, key=key)
    if report.fatal:
        hint = f"; run `envejind-eval validate {Path(path).name} --quarantine DIR` to see why"
        raise IngestError(report.fatal + hint, report=report)
    # the tables are complete, coerced and validated (rows failing validation are quarantined)
    return Dataset(tables, reg, report)


def keygen(out: str | os.PathLike[str] | None = None, *, force: bool = False) -> Path:
    """Create a pseudonym key file (see :func:`envejind_eval.ingest.pseudonymise.keygen`)."""
    from envejind_eval.ingest.pseudonymise import keygen as _keygen

    return _keygen(out, force=force)
