"""Report wording in Danish and English. Numbers are passed in, never typed in here."""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

from envejind_eval.figures.labels import CODE_LABELS


def _codes(prefix: str, code_list: str) -> dict[str, dict[str, str]]:
    """``{prefix}_{code}`` texts from the shared code labels (``figures.labels``)."""
    return {f"{prefix}_{c}": dict(v) for c, v in CODE_LABELS[code_list].items()}


TEXTS: dict[str, dict[str, str]] = {
    # -- frame --------------------------------------------------------------------------
    "report_title": {"da": "Evaluering af En vej ind", "en": "Evaluation of En vej ind"},
    "report_subtitle_national": {
        "da": "Samlet rapport for alle kommuner",
        "en": "Combined report for all municipalities",
    },
    "report_subtitle_selected": {
        "da": "Samlet rapport for kommunerne {m}",
        "en": "Combined report for the municipalities {m}",
    },
    "report_subtitle_municipality": {"da": "Rapport for {m}", "en": "Report for {m}"},
    "toc": {"da": "Indhold", "en": "Contents"},
    "nav_reports": {"da": "Rapporter", "en": "Reports"},
    "generated": {
        "da": "Dannet med envejind_eval {version}, seed {seed}, mindste cellestørrelse {min_cell}.",
        "en": "Generated with envejind_eval {version}, seed {seed}, minimum cell size {min_cell}.",
    },
    "synthetic_note": {
        "da": "Måleredskaberne er prøveoperationaliseringer; de præcise formuleringer i de "
        "rigtige skemaer er ikke offentlige.",
        "en": "The instruments are sample operationalisations; the exact wording of the real "
        "forms is not public.",
    },
    "suppressed_footnote": {
        "da": "<{k}: færre end {k} personer (kun antal). '..': ikke vist for at beskytte små grupper (et tal, "
        "der er lille, omfatter alle eller ingen i en lille gruppe, eller som ville gøre det "
        "muligt at regne sig frem til et sådant tal, eller et estimat eller en andel, der "
        "bygger på færre end {k} personer).",
        "en": "<{k}: fewer than {k} persons (counts only). '..': not shown, to protect small groups (a value "
        "that is small, all or none of a small group, or that would let a reader work out such "
        "a value, or an estimate or share resting on fewer than {k} persons).",
    },
    "figure": {"da": "Figur", "en": "Figure"},
    "table": {"da": "Tabel", "en": "Table"},
    "total": {"da": "I alt", "en": "Total"},
    # -- section titles -----------------------------------------------------------------
    "sec_summary": {"da": "Sammenfatning", "en": "Summary"},
    "sec_design": {"da": "Evalueringsdesign og data", "en": "Evaluation design and data"},
    "sec_instruments": {"da": "Måleredskaberne", "en": "The measuring instruments"},
    "sec_participants": {"da": "Deltagerne ved start", "en": "The participants at start"},
    "sec_results": {
        "da": "Resultater per måleredskab og domæne",
        "en": "Results per instrument and domain",
    },
    "sec_claims": {"da": "Programmets fire resultater", "en": "The programme's four results"},
    "sec_outcomes": {
        "da": "Supplerende resultater: uddannelse, beskæftigelse og kriminalitet",
        "en": "Supplementary outcomes: education, employment and crime",
    },
    "sec_attendance": {"da": "Fremmøde og aktivitetsdosis", "en": "Attendance and activity dose"},
    "sec_attrition": {
        "da": "Frafald og følsomhedsanalyser",
        "en": "Attrition and sensitivity analyses",
    },
    "sec_methods": {"da": "Metodebilag", "en": "Methods appendix"},
    # -- column headers -----------------------------------------------------------------
    "col_municipality": {"da": "Kommune", "en": "Municipality"},
    "col_cohort_id": {"da": "Hold", "en": "Team"},
    "col_n_teams": {"da": "Hold", "en": "Teams"},
    "col_started": {"da": "Startet", "en": "Started"},
    **_codes("col", "status"),
    "col_instrument": {"da": "Måleredskab", "en": "Instrument"},
    "col_timepoint": {"da": "Måletidspunkt", "en": "Timepoint"},
    "col_rater": {"da": "Bedømmer", "en": "Rater"},
    "col_n_expected": {"da": "Deltagere", "en": "Participants"},
    "col_n_forms": {"da": "Skemaer", "en": "Forms"},
    "col_response_rate": {"da": "Svarprocent", "en": "Response rate"},
    "col_version": {"da": "Version", "en": "Version"},
    "col_scale": {"da": "Skala", "en": "Scale"},
    "col_raters": {"da": "Bedømmere", "en": "Raters"},
    "col_n_domains": {"da": "Domæner", "en": "Domains"},
    "col_n_items": {"da": "Spørgsmål", "en": "Items"},
    "col_reliability": {"da": "Reliabilitet", "en": "Reliability"},
    "col_group": {"da": "Gruppe", "en": "Group"},
    "col_n": {"da": "Antal", "en": "Number"},
    "col_share": {"da": "Andel", "en": "Share"},
    "col_domain": {"da": "Domæne", "en": "Domain"},
    "col_mean": {"da": "Gennemsnit", "en": "Mean"},
    "col_sd": {"da": "Spredning", "en": "SD"},
    "col_measure": {"da": "Mål", "en": "Measure"},
    # -- codes (labels from figures.labels.CODE_LABELS) ---------------------------------
    **_codes("tp", "timepoint"),
    **_codes("rater", "rater"),
    **_codes("sex", "sex"),
    **_codes("ref", "referred_by"),
    # a participant column the delivery did not have at all (not missing answers)
    "referral_not_delivered": {
        "da": "Henvist af: ikke leveret (leverancen havde ingen kolonne med henviser).",
        "en": "Referred by: not delivered (the delivery had no referral column).",
    },
    "yes": {"da": "ja", "en": "yes"},
    "no": {"da": "nej", "en": "no"},
}


def text(key: str, lang: str, **kw: Any) -> str:
    """The text for ``key`` in ``lang`` with ``{placeholders}`` filled in."""
    try:
        s = TEXTS[key][lang]
    except KeyError:
        raise KeyError(f"no {lang} text for '{key}'") from None
    return fill(s, **kw) if kw else s


def fill(template: str, **kw: Any) -> str:
    """``template.format(**kw)``, but a substituted phrase that opens a sentence gets a
    capital first letter ("et ikke oplyst antal er mænd" -> "Et ikke oplyst antal ...")."""
    out: list[str] = []
    for literal, field, spec, conv in string.Formatter().parse(template):
        out.append(literal)
        if field is None:
            continue
        value = format(kw[field] if conv is None else _convert(kw[field], conv), spec or "")
        done = "".join(out).rstrip()
        if value[:1].islower() and (not done or done.endswith((".", "!", "?"))):
            value = value[0].upper() + value[1:]
        out.append(value)
    return "".join(out)


_CONVERSIONS: dict[str, Callable[[Any], str]] = {"r": repr, "s": str, "a": ascii}


def _convert(value: Any, conv: str) -> Any:
    return _CONVERSIONS[conv](value)


def add(texts: dict[str, dict[str, str]]) -> None:
    """Register further texts (section modules keep their prose next to their code)."""
    clash = set(texts) & set(TEXTS)
    if clash:
        raise KeyError(f"text keys defined twice: {', '.join(sorted(clash))}")
    TEXTS.update(texts)
