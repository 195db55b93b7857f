"""Danish and English labels and number formatting for figures (presentation only).

Danish numbers use a decimal comma and ``.`` as thousands separator (``1.234,5``), a space
before the percent sign (``45 %``) and a period in clock times (``08.45``), following
Dansk Sprognævn. English uses ``1,234.5``, ``45%`` and ``08:45``.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

Lang = Literal["da", "en"]
LANGS: tuple[str, ...] = ("da", "en")

#: Display labels of canonical codes by code list and language: the one source for
#: figures and the report (``report.texts`` builds its ``tp_*``, ``rater_*``, ``sex_*``,
#: ``ref_*``, ``ind_*`` and status column texts from it).
CODE_LABELS: dict[str, dict[str, dict[str, str]]] = {
    "timepoint": {
        "baseline": {"da": "Start", "en": "Baseline"},
        "midway": {"da": "Midtvejs", "en": "Midway"},
        "end": {"da": "Slut", "en": "End"},
        "followup": {"da": "Opfølgning", "en": "Follow-up"},
    },
    "rater": {
        "self": {"da": "Den unge selv", "en": "Young person"},
        "mentor": {"da": "Mentor", "en": "Mentor"},
        "staff": {"da": "Personale", "en": "Staff"},
    },
    "status": {
        "completed": {"da": "Gennemført", "en": "Completed"},
        "dropped_out": {"da": "Frafaldet", "en": "Dropped out"},
        "excluded": {"da": "Udelukket", "en": "Excluded"},
        "ongoing": {"da": "I gang", "en": "Ongoing"},
    },
    "sex": {
        "female": {"da": "Kvinde", "en": "Female"},
        "male": {"da": "Mand", "en": "Male"},
        "other": {"da": "Andet", "en": "Other"},
        "unknown": {"da": "Ukendt", "en": "Unknown"},
    },
    "referred_by": {
        "social_services": {"da": "Socialforvaltningen", "en": "Social services"},
        "police": {"da": "Politiet", "en": "Police"},
        "sspk": {"da": "SSP", "en": "SSP (schools, social services, police)"},
        "jobcentre": {"da": "Jobcenter", "en": "Job centre"},
        "school": {"da": "Skole", "en": "School"},
        "probation": {"da": "Kriminalforsorgen", "en": "Probation service"},
        "other": {"da": "Andet", "en": "Other"},
        "unknown": {"da": "Ukendt", "en": "Unknown"},
    },
    "indicator": {
        "in_education": {"da": "I uddannelse", "en": "In education"},
        "in_employment": {"da": "I beskæftigelse", "en": "In employment"},
        "police_charge": {"da": "Sigtet af politiet", "en": "Charged by the police"},
        "stable_housing": {"da": "Stabil bolig", "en": "Stable housing"},
    },
}

#: Every fixed text a figure shows, by key and language.
TEXT: dict[str, dict[str, str]] = {
    # timepoints (the same words as the report's tables)
    **CODE_LABELS["timepoint"],
    # reliable change classes
    "improved": {"da": "Forbedret", "en": "Improved"},
    "unchanged": {"da": "Uændret", "en": "Unchanged"},
    "deteriorated": {"da": "Forværret", "en": "Deteriorated"},
    # flow stages
    "referred": {"da": "Henvist", "en": "Referred"},
    "started": {"da": "Startet", "en": "Started"},
    "completed": CODE_LABELS["status"]["completed"],
    "measured_end": {"da": "Målt ved afslutning", "en": "Measured at end"},
    # status outcome indicators
    **CODE_LABELS["indicator"],
    # raters
    "self": {"da": "Selvvurdering", "en": "Self-rated"},
    "mentor": {"da": "Mentorvurdering", "en": "Mentor-rated"},
    "staff": {"da": "Personalevurdering", "en": "Staff-rated"},
    "rater": {"da": "Bedømmer", "en": "Rater"},
    # common words
    "pooled": {"da": "Samlet (random effects)", "en": "Pooled (random effects)"},
    "municipality": {"da": "Kommune", "en": "Municipality"},
    "team": {"da": "Hold", "en": "Team"},
    "timepoint": {"da": "Måletidspunkt", "en": "Timepoint"},
    "mean": {"da": "Gennemsnit", "en": "Mean"},
    "score": {"da": "Score", "en": "Score"},
    "participants": {"da": "Deltagere", "en": "Participants"},
    "participant": {"da": "Deltager", "en": "Participant"},
    "share": {"da": "Andel", "en": "Share"},
    "share_participants": {"da": "Andel af deltagerne", "en": "Share of participants"},
    "course_week": {"da": "Forløbsuge", "en": "Course week"},
    "attendance_rate": {"da": "Fremmøde", "en": "Attendance"},
    "on_time_share": {"da": "Andel mødt til tiden", "en": "Share arriving on time"},
    "median_arrival": {"da": "Median mødetid", "en": "Median arrival"},
    "all_teams": {"da": "Alle hold", "en": "All teams"},
    "retained": {"da": "Andel stadig i forløbet", "en": "Share still in the programme"},
    "days_since_start": {"da": "Dage siden start", "en": "Days since start"},
    "weeks_since_start": {"da": "Uger siden start", "en": "Weeks since start"},
    "effect": {"da": "Effekt", "en": "Effect"},
    "mean_change": {"da": "Gennemsnitlig ændring", "en": "Mean change"},
    "before": {"da": "Før", "en": "Before"},
    "after": {"da": "Efter", "en": "After"},
    "n": {"da": "n", "en": "n"},
    "ci": {"da": "95 %-KI", "en": "95% CI"},
    "internal": {
        "da": "INTERNT – viser enkeltpersoner, må ikke offentliggøres",
        "en": "INTERNAL – shows individuals, not for publication",
    },
}


def check_lang(lang: str) -> Lang:
    """Return ``lang`` when it is ``"da"`` or ``"en"``, else raise ``ValueError``."""
    if lang not in LANGS:
        raise ValueError(f"Expecting one of {', '.join(LANGS)}; got '{lang}'")
    return lang  # type: ignore[return-value]


def t(key: str, lang: str) -> str:
    """The label for ``key`` in ``lang``; unknown keys come back unchanged."""
    check_lang(lang)
    entry = TEXT.get(key)
    return entry[lang] if entry else key


# -- numbers ------------------------------------------------------------------------------


def _seps(lang: str) -> tuple[str, str]:
    return (",", ".") if check_lang(lang) == "da" else (".", ",")


def fmt_number(x: float | None, lang: str = "da", *, digits: int = 1, sign: bool = False) -> str:
    """Format a number: ``fmt_number(1234.5, "da") == "1.234,5"``; NaN gives ``"–"``.

    ``sign=True`` adds ``+`` to positive values; negatives use a true minus sign (U+2212).
    """
    dec, thou = _seps(lang)
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    x = float(x)
    s = f"{abs(x):,.{max(digits, 0)}f}"
    s = s.replace(",", "\0").replace(".", dec).replace("\0", thou)
    if round(x, digits) == 0:
        return s
    if x < 0:
        return "\u2212" + s
    return ("+" + s) if sign else s


def fmt_int(x: float | None, lang: str = "da") -> str:
    """Integer with thousands separator (``12.345`` in Danish)."""
    return fmt_number(x, lang, digits=0)


def fmt_percent(share: float | None, lang: str = "da", *, digits: int = 0) -> str:
    """A share (0–1) as percent: ``45 %`` (da) or ``45%`` (en)."""
    if share is None or (isinstance(share, float) and math.isnan(share)):
        return "–"
    s = fmt_number(100 * float(share), lang, digits=digits)
    return f"{s} %" if lang == "da" else f"{s}%"


def fmt_ci(low: float, high: float, lang: str = "da", *, digits: int = 1) -> str:
    """A confidence interval: ``[0,4; 2,0]`` (da; ``;`` because ``,`` is the decimal mark)
    or ``[0.4, 2.0]`` (en)."""
    sep = "; " if lang == "da" else ", "
    return f"[{fmt_number(low, lang, digits=digits)}{sep}{fmt_number(high, lang, digits=digits)}]"


def fmt_time(minutes: float | None, lang: str = "da") -> str:
    """Minutes after midnight as clock time: ``08.45`` (da) or ``08:45`` (en)."""
    if minutes is None or (isinstance(minutes, float) and math.isnan(minutes)):
        return "–"
    m = int(round(float(minutes)))
    return f"{m // 60:02d}{'.' if check_lang(lang) == 'da' else ':'}{m % 60:02d}"


def _auto_digits(values: Sequence[float], max_digits: int = 3) -> int:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    for d in range(max_digits + 1):
        if all(abs(round(v, d) - v) < 1e-9 * max(1.0, abs(v)) for v in finite):
            return d
    return max_digits


def number_labels(lang: str = "da", *, digits: int | None = None) -> Callable[[Any], list[str]]:
    """Axis label function (for ``scale_*(labels=...)``) with the language's separators.

    ``digits=None`` uses the fewest decimals that show every break exactly.
    """
    check_lang(lang)

    def labels(breaks: Iterable[float]) -> list[str]:
        b = [float(x) for x in breaks]
        d = _auto_digits(b) if digits is None else digits
        return [fmt_number(x, lang, digits=d) for x in b]

    return labels


def percent_labels(
    lang: str = "da", *, digits: int | None = None, absolute: bool = False
) -> Callable[[Any], list[str]]:
    """Axis label function for shares (0–1) shown as percent; ``absolute`` drops the sign
    (for diverging bars)."""
    check_lang(lang)

    def labels(breaks: Iterable[float]) -> list[str]:
        b = [abs(float(x)) if absolute else float(x) for x in breaks]
        d = _auto_digits([100 * x for x in b]) if digits is None else digits
        return [fmt_percent(x, lang, digits=d) for x in b]

    return labels


def time_labels(lang: str = "da") -> Callable[[Any], list[str]]:
    """Axis label function for minutes after midnight."""
    check_lang(lang)
    return lambda breaks: [fmt_time(float(x), lang) for x in breaks]


def fmt_n(n: float, lang: str = "da") -> str:
    return f"n = {fmt_int(n, lang)}"


def fmt_n_range(ns: Iterable[float], lang: str = "da") -> str:
    """``n = 12`` or ``n = 10–12`` for a set of counts."""
    v = [int(x) for x in ns if x == x]
    if not v:
        return "n = 0"
    lo, hi = min(v), max(v)
    return fmt_n(lo, lang) if lo == hi else f"n = {fmt_int(lo, lang)}–{fmt_int(hi, lang)}"


# -- instruments and units ----------------------------------------------------------------


def unit_label(
    instrument: str,
    unit: str,
    lang: str = "da",
    *,
    instruments: Mapping[str, Any] | None = None,
) -> str:
    """Label of a domain/item/total of an instrument, from the given registry
    (``ds.instruments``) or the shipped instruments; falls back to the raw code."""
    check_lang(lang)
    inst = None
    if instruments is not None and instrument in instruments:
        inst = instruments[instrument]
    else:
        from envejind_eval.instruments import SHIPPED, get_instrument

        if instrument in SHIPPED:
            inst = get_instrument(instrument)
    if inst is None:
        return str(unit)
    try:
        return inst.label(unit, lang)
    except KeyError:
        return str(unit)


def instrument_name(
    instrument: str, lang: str = "da", *, instruments: Mapping[str, Any] | None = None
) -> str:
    """The instrument's name in ``lang`` (raw id if unknown)."""
    check_lang(lang)
    if instruments is not None and instrument in instruments:
        return instruments[instrument].name[lang]
    from envejind_eval.instruments import SHIPPED, get_instrument

    return get_instrument(instrument).name[lang] if instrument in SHIPPED else str(instrument)


def unit_order(
    instrument: str, units: Iterable[str], *, instruments: Mapping[str, Any] | None = None
) -> list[str]:
    """Units in the instrument's declared order (domains, then items, then total)."""
    units = list(dict.fromkeys(units))
    inst = None
    if instruments is not None and instrument in instruments:
        inst = instruments[instrument]
    else:
        from envejind_eval.instruments import SHIPPED, get_instrument

        if instrument in SHIPPED:
            inst = get_instrument(instrument)
    if inst is None:
        return sorted(units)
    declared = [*inst.domain_ids, *inst.item_ids, "total"]
    rank = {u: k for k, u in enumerate(declared)}
    return sorted(units, key=lambda u: (rank.get(u, len(rank)), u))


def wrap(text: str, width: int = 18) -> str:
    """Wrap a label onto several lines of at most ``width`` characters."""
    lines = textwrap.wrap(str(text), width=width, break_long_words=False, break_on_hyphens=False)
    return "\n".join(lines) or str(text)
