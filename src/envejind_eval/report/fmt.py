"""Presentation formatting (the only place numbers are rounded): Danish or English style."""

from __future__ import annotations

import math
from typing import Literal

Lang = Literal["da", "en"]
LANGS: tuple[str, ...] = ("da", "en")


def check_lang(lang: str) -> Lang:
    if lang not in LANGS:
        raise ValueError(f"Expecting one of {', '.join(LANGS)}; got '{lang}'")
    return lang  # type: ignore[return-value]


def _missing(x: object) -> bool:
    if x is None:
        return True
    try:
        return bool(math.isnan(float(x)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def num(x: object, lang: Lang = "da", digits: int = 1, *, keep_sign: bool = False) -> str:
    """A number with ``digits`` decimals; Danish uses a decimal comma and a dot for thousands.

    A negative value that rounds to 0 shows as ``0`` unless ``keep_sign`` (interval limits:
    ``−0,00`` tells the reader the interval crosses 0)."""
    if _missing(x):
        return "–"
    s = f"{float(x):,.{digits}f}"  # type: ignore[arg-type]
    if s.startswith("-") and float(s.replace(",", "")) == 0 and not keep_sign:
        s = s[1:]
    if lang == "da":
        s = s.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return s.replace("-", "−")


def integer(x: object, lang: Lang = "da") -> str:
    return num(x, lang, 0)


def pct(x: object, lang: Lang = "da", digits: int = 0) -> str:
    """A share (0-1) as a percentage."""
    if _missing(x):
        return "–"
    return f"{num(float(x) * 100, lang, digits)} %"  # type: ignore[arg-type]


def p_value(p: object, lang: Lang = "da") -> str:
    if _missing(p):
        return "–"
    p = float(p)  # type: ignore[arg-type]
    if p < 0.001:
        return "< " + num(0.001, lang, 3)
    return num(p, lang, 3)


def limit(x: object, lang: Lang = "da", digits: int = 2) -> str:
    """An interval limit: rounded like :func:`num`, but a negative limit keeps its sign."""
    return num(x, lang, digits, keep_sign=True)


def ci(lo: object, hi: object, lang: Lang = "da", digits: int = 1) -> str:
    if _missing(lo) or _missing(hi):
        return "–"
    sep = "; " if lang == "da" else ", "
    return f"[{limit(lo, lang, digits)}{sep}{limit(hi, lang, digits)}]"


def p_text(p: object, lang: Lang = "da") -> str:
    """``p = 0,012`` or ``p < 0,001`` for running text."""
    if _missing(p):
        return "p = –"
    v = p_value(p, lang)
    return f"p {v}" if v.startswith("<") else f"p = {v}"


def clock(minutes: object) -> str:
    """Minutes after midnight as a time of day (``9:02``)."""
    if _missing(minutes):
        return "–"
    m = round(float(minutes))  # type: ignore[arg-type]
    return f"{m // 60}:{m % 60:02d}"


def minutes(x: object, lang: Lang = "da", *, keep_sign: bool = False) -> str:
    """A duration in minutes (``−11,8 min``); ``keep_sign`` for interval limits."""
    if _missing(x):
        return "–"
    return f"{num(x, lang, 1, keep_sign=keep_sign)} min"
