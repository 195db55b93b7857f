"""Strict date and time parsing for delivered files.

Accepted date forms (day always before month): ``dd-mm-yyyy``, ``dd.mm.yyyy``,
``dd/mm/yyyy`` (day and month may have one digit), ISO ``yyyy-mm-dd`` (optionally with a
midnight time), and Excel serial numbers (1900 date system, 1950-01-01 to 2099-12-31).
Anything else is an error: ``01-22-2024`` is month 22, not the 22nd of January.

Parsing runs once per *unique* text (:func:`parse_unique_dates`); callers map the result
back to rows by position, which keeps million-row files fast.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Sequence

import numpy as np

#: Sentinel for "no date" in int64 day arrays (days since 1970-01-01).
NAT = np.iinfo(np.int64).min
_EPOCH = _dt.date(1970, 1, 1).toordinal()
_EXCEL0 = _dt.date(1899, 12, 30).toordinal()
SERIAL_MIN, SERIAL_MAX = 18264, 73050  # 1950-01-01 .. 2099-12-31

_DMY = re.compile(r"^(\d{1,2})([-./])(\d{1,2})\2(\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ]00:00(?::00(?:\.0+)?)?)?$")
_SERIAL = re.compile(r"^(\d{4,5})(?:\.0+)?$")
_TIME = re.compile(r"^([01]?\d|2[0-3])[:.]([0-5]\d)(?::([0-5]\d(?:\.\d+)?))?$")
FORMS = {"-": "dd-mm-yyyy", ".": "dd.mm.yyyy", "/": "dd/mm/yyyy"}


def parse_date(text: str) -> tuple[int | None, str | None]:
    """Days since 1970-01-01 and the form recognised, or ``(None, None)``."""
    t = text.strip()
    m = _DMY.match(t)
    try:
        if m:
            d = _dt.date(int(m.group(4)), int(m.group(3)), int(m.group(1)))
            return d.toordinal() - _EPOCH, FORMS[m.group(2)]
        m = _ISO.match(t)
        if m:
            d = _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            return d.toordinal() - _EPOCH, "iso"
    except ValueError:
        return None, None
    m = _SERIAL.match(t)
    if m:
        n = int(m.group(1))
        if SERIAL_MIN <= n <= SERIAL_MAX:
            return _EXCEL0 + n - _EPOCH, "excel_serial"
    return None, None


def parse_unique_dates(values: Sequence[str]) -> tuple[np.ndarray, list[str | None]]:
    """Parse unique texts; returns int64 days (:data:`NAT` where invalid) and the forms."""
    days = np.full(len(values), NAT, dtype=np.int64)
    forms: list[str | None] = []
    for i, v in enumerate(values):
        d, f = parse_date(v)
        if d is not None:
            days[i] = d
        forms.append(f)
    return days, forms


def days_to_datetime64(days: np.ndarray) -> np.ndarray:
    """int64 days (with :data:`NAT`) -> ``datetime64[us]``."""
    # NAT is numpy's own NaT bit pattern, so a view keeps missing dates missing
    return np.asarray(days, dtype=np.int64).view("datetime64[D]").astype("datetime64[us]")


def parse_time(text: str) -> str | None:
    """``H:MM``/``HH:MM``/``HH.MM`` -> ``HH:MM``; with seconds -> ``HH:MM:SS`` (seconds kept
    as delivered, ``:00`` dropped); else None."""
    m = _TIME.match(text.strip())
    if not m:
        return None
    hm = f"{int(m.group(1)):02d}:{m.group(2)}"
    sec = m.group(3)
    return hm if sec is None or float(sec) == 0 else f"{hm}:{sec}"
