"""Which file is which table, which column is which field, which code is which value.

Without a ``datakilder.toml`` the common Danish and English file names, column names and
codes are recognised (``docs/ingest.md`` lists them). A ``datakilder.toml`` in the delivery
folder (or given with ``config=``) adds to or overrides them::

    [files."Fremmøde*.xlsx"]       # a glob, matched case-insensitively against file names
    table = "attendance"            # participants, cohorts, attendance, arrival,
                                    # activities, measurements, outcomes
    layout = "wide"                 # wide (one column per date/item/indicator) or long
    instrument = "lfl"              # measurements only
    sheets = ["Hold 1", "Hold 2"]   # optional: read only these sheets

    [files."Fremmøde*.xlsx".columns]
    "Personnummer" = "cpr"          # source header -> field (see FIELDS), outcome
    "Har job" = "in_employment"     # indicator, or instrument item (id, Danish or
    "Døgnrytme" = "star_daily_rhythm"  # English label or alias of the item or its domain)

    [files."Fremmøde*.xlsx".values] # fixed values for every row of the file
    municipality = "Holbæk"         # municipality, cohort_id, timepoint, rater, mentor_id

    [columns]                       # header -> field for every file
    "Ung" = "cpr"

    [codes.attendance]              # extra or changed codes, per code list
    "X" = "unexcused"

    [instruments]
    files = ["mit_skema.toml"]      # instrument definitions (paths relative to the folder)
"""

from __future__ import annotations

import difflib
import fnmatch
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envejind_eval.errors import IngestError
from envejind_eval.ingest.vocabulary import recognised
from envejind_eval.schema import OUTCOME_INDICATORS

KINDS = (
    "participants",
    "cohorts",
    "attendance",
    "arrival",
    "activities",
    "measurements",
    "outcomes",
)
LAYOUTS = ("long", "wide")

_TRANS = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "é": "e", "ü": "u", "ö": "oe", "ä": "ae"})


def norm(text: str) -> str:
    """Normalise a header or code for matching: lower case, æøå spelled out, no punctuation."""
    t = text.strip().lower().translate(_TRANS)
    t = re.sub(r"[^0-9a-z]+", " ", t)
    return t.strip()


def _n(*xs: str) -> list[str]:
    return [norm(x) for x in xs]


#: field -> recognised header names (normalised with :func:`norm`).
FIELD_ALIASES: dict[str, list[str]] = {
    "cpr": _n(
        "CPR",
        "CPR-nr",
        "CPR nr.",
        "CPR-nummer",
        "CPRnr",
        "CPRnummer",
        "Personnummer",
        "cpr_number",
        "CPR number",
        "civil registration number",
    ),
    "participant_id": _n(
        "participant_id",
        "Deltager",
        "Deltager-id",
        "Deltagerid",
        "Deltagernummer",
        "Deltager nr",
        "participant",
        "participant id",
        "pseudonym",
    ),
    # "...navn" aliases: a header with "navn"/"name" that is no known field is a name column
    "municipality": _n("Kommune", "Kommunenavn", "municipality"),
    "cohort_id": _n("Hold", "Hold-id", "Holdnavn", "Holdnr", "team", "cohort", "cohort_id"),
    "mentor_id": _n("Mentor", "Mentor-id", "mentor_id", "Kontaktperson"),
    "sex": _n("Køn", "Kon", "sex", "gender"),
    "birth_year": _n("Fødselsår", "Fodselsar", "birth_year", "year of birth", "Årgang"),
    "referred_by": _n("Henvist af", "Henvist", "Henviser", "Henvisning", "referred_by", "referral"),
    "start_date": _n("Startdato", "Start dato", "Start", "start_date", "Opstart", "Opstartsdato"),
    "planned_end_date": _n("Planlagt slutdato", "planned_end_date", "planned end"),
    "status": _n("Status"),
    "exit_date": _n("Slutdato", "Slut dato", "Ophørsdato", "Udskrevet", "exit_date"),
    "end_date": _n("Slutdato", "Slut dato", "end_date"),
    "exit_reason": _n("Ophørsårsag", "Årsag til ophør", "Årsag", "exit_reason"),
    "date": _n("Dato", "date", "Dag"),
    "attendance_code": _n("Kode", "Fremmøde", "Fremmødekode", "Registrering", "code", "status"),
    "arrival_time": _n("Mødetid", "Ankomst", "Ankomsttid", "Mødt kl", "arrival_time", "arrival"),
    "activity": _n("Aktivitet", "Aktivitetsnavn", "activity"),
    "attended": _n("Deltog", "Deltaget", "Fremmødt", "attended"),
    "minutes": _n("Minutter", "Min", "Varighed", "minutes", "duration"),
    "timepoint": _n("Måletidspunkt", "Tidspunkt", "Måling", "timepoint", "time point"),
    "rater": _n("Bedømmer", "Udfyldt af", "Besvaret af", "rater"),
    "instrument": _n("Instrument", "Instrumentnavn", "Redskab", "Skema", "Skemanavn", "instrument"),
    "item": _n("Item", "Spørgsmål", "item"),
    "indicator": _n("Indikator", "indicator"),
    "value": _n("Værdi", "Svar", "value"),
}

#: outcome indicator columns of the wide status file -> canonical indicator.
INDICATOR_ALIASES: dict[str, str] = {
    **{norm(k): v for k, v in recognised("indicator").items()},
    **{norm(c): c for c in OUTCOME_INDICATORS},
}

#: Headers that hold names: a delivery with one of these is refused.
NAME_HEADERS = frozenset(
    _n(
        "Navn",
        "Fornavn",
        "Efternavn",
        "Mellemnavn",
        "Fulde navn",
        "Fuldt navn",
        "Deltagernavn",
        "Name",
        "First name",
        "Last name",
        "Surname",
        "Full name",
        "Given name",
        "Family name",
        "Firstname",
        "Lastname",
    )
)

#: Parts of a header that mark a name column (``Elevens navn``, ``Fulde navn``, ``Name``).
NAME_WORDS = ("navn", "name")


def is_name_header(header: str, field: str | None) -> bool:
    """True for a header that names a column of personal names: one of
    :data:`NAME_HEADERS`, or any header containing ``navn``/``name`` that is not a known
    field's name (``Holdnavn`` is a team). ``field`` is what the header maps to; a column
    mapped to ``ignore`` in datakilder.toml is simply not read."""
    if field == "ignore":
        return False
    n = norm(header)
    return n in NAME_HEADERS or (field is None and any(w in n for w in NAME_WORDS))


_NAME_WORD = r"[A-ZÆØÅ][a-zæøåéèüöä]+(?:-[A-ZÆØÅ][a-zæøåéèüöä]+)?"
_PERSON_NAME = re.compile(rf"{_NAME_WORD}(?: (?:{_NAME_WORD}|[A-ZÆØÅ]\.)){{1,3}}")


def looks_like_person_name(value: str) -> bool:
    """Two to four capitalised words and nothing else (``Jens Hansen``, ``Anne-Marie
    P. Nielsen``): the shape of a personal name. Words of one letter (``Mentor Å``) do not
    count."""
    return bool(_PERSON_NAME.fullmatch(value.strip()))


def name_like_column(values: list[str], codes: set[str] | frozenset[str] = frozenset()) -> bool:
    """True when a text column's distinct values look like personal names: at least two
    and at least half of them are name-shaped (:func:`looks_like_person_name`, not in
    ``codes``), and no word is shared by more than half of those (``Hold Nord``/``Hold
    Syd`` or ``Aarhus Kommune``/``Odense Kommune`` are labels, not names)."""
    vals = [v for v in values if v.strip()]
    shaped = [v for v in vals if looks_like_person_name(v) and norm(v) not in codes]
    if len(shaped) < 2 or 2 * len(shaped) < len(vals):
        return False
    words: dict[str, int] = {}
    for v in shaped:
        for w in set(v.split()):
            words[w] = words.get(w, 0) + 1
    return 2 * max(words.values()) <= len(shaped)


#: Text fields whose values are checked for personal names (:func:`name_like_column`)
#: unless datakilder.toml maps the column explicitly. Not ``municipality``: its values are
#: place names, and a two-word spelling (``Høje Taastrup``) would be a false alarm.
NAME_CHECK_FIELDS = ("mentor_id", "cohort_id")

#: Free-text fields scanned for CPR-shaped text (redacted and counted).
FREE_TEXT_FIELDS = ("exit_reason",)

#: The fields each (kind, layout) reads; the id field is cpr or participant_id.
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "participants": (
        "municipality",
        "cohort_id",
        "mentor_id",
        "sex",
        "birth_year",
        "referred_by",
        "start_date",
        "planned_end_date",
        "status",
        "exit_date",
        "exit_reason",
    ),
    "cohorts": ("cohort_id", "municipality", "start_date", "end_date"),
    "attendance": ("date", "attendance_code", "arrival_time"),
    "arrival": ("date", "arrival_time"),
    "activities": ("date", "activity", "attended", "minutes"),
    "measurements": ("timepoint", "rater", "date", "instrument", "item", "value"),
    "outcomes": ("timepoint", "indicator", "value"),
}

# -- codes ----------------------------------------------------------------------------------


def _codes(pairs: Mapping[str, str], canonical: tuple[str, ...]) -> dict[str, str]:
    out = {norm(k): v for k, v in pairs.items()}
    out.update({norm(c): c for c in canonical})
    return out


def default_codes() -> dict[str, dict[str, str]]:
    from envejind_eval.schema import (
        ACTIVITIES,
        ATTENDANCE_STATUSES,
        RATERS,
        REFERRERS,
        SEXES,
        STATUSES,
        TIMEPOINTS,
    )

    canonical = {
        "attendance": ATTENDANCE_STATUSES,
        "sex": SEXES,
        "referred_by": REFERRERS,
        "status": STATUSES,
        "timepoint": TIMEPOINTS,
        "rater": RATERS,
        "activity": ACTIVITIES,
    }
    out = {lst: _codes(recognised(lst), codes) for lst, codes in canonical.items()}
    out["yes_no"] = {norm(k): v for k, v in recognised("yes_no").items()}
    return out


#: which code list each field uses
FIELD_CODES = {
    "attendance_code": "attendance",
    "sex": "sex",
    "referred_by": "referred_by",
    "status": "status",
    "timepoint": "timepoint",
    "rater": "rater",
    "activity": "activity",
    "attended": "yes_no",
}

# -- file names ------------------------------------------------------------------------------

_NAME_HINTS: list[tuple[str, str, str]] = [
    # (regex on the normalised stem, kind, layout)
    (r"^(deltagere?|deltagerliste|participants?)( |$)", "participants", "long"),
    (r"^(hold|holdliste|cohorts?|teams?)( |$)", "cohorts", "long"),
    (r"^(fremmoede|fremmoedeliste|fremmoederegistrering|attendance)( |$)", "attendance", ""),
    (r"^(ankomsttider|ankomst|moedetider|arrival|arrivals)( |$)", "arrival", "long"),
    (r"^(aktiviteter|aktivitet|activities)( |$)", "activities", "long"),
    (r"^(maalinger|maaling|spoergeskema|skema|measurements?)( |$)", "measurements", ""),
    (r"^(status|statusskema|outcomes?)( |$)", "outcomes", ""),
]


def kind_from_name(stem: str) -> tuple[str | None, str | None, str | None]:
    """(kind, layout or None, suffix after the name) from a file stem like ``maalinger_lfl``."""
    n = norm(stem)
    for rx, kind, layout in _NAME_HINTS:
        m = re.match(rx, n)
        if m:
            rest = n[m.end() :].strip() or None
            return kind, layout or None, rest
    return None, None, None


# -- config ---------------------------------------------------------------------------------


@dataclass
class FileRule:
    pattern: str
    table: str | None = None
    layout: str | None = None
    instrument: str | None = None
    sheets: list[str] | None = None
    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)  # field -> fixed value


@dataclass
class Mapping_:
    """The resolved mapping for one delivery (defaults + ``datakilder.toml``)."""

    files: list[FileRule] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # normalised header -> field
    codes: dict[str, dict[str, str]] = field(default_factory=default_codes)
    instrument_files: list[Path] = field(default_factory=list)
    source: Path | None = None

    def header_scorer(self, rule: FileRule | None) -> Callable[[list[str]], float]:
        """:func:`header_score` counting the headers this config maps for a file."""
        mapped = {**self.columns, **(rule.columns if rule else {})}
        return lambda cells: header_score(cells, mapped)

    def rule_for(self, name: str) -> FileRule | None:
        for r in self.files:
            if fnmatch.fnmatch(name.lower(), r.pattern.lower()):
                return r
        return None


_ALL_FIELDS = set(FIELD_ALIASES) | {"ignore"}
#: fields a ``[files."…".values]`` table may fix for every row of a file
FIXED_FIELDS = ("municipality", "cohort_id", "timepoint", "rater", "mentor_id")


def load_mapping(folder: Path, config: str | Path | Mapping[str, Any] | None = None) -> Mapping_:
    """Defaults plus ``config`` (a path or a parsed dict) or ``folder/datakilder.toml``."""
    source = None
    if config is None:
        cand = folder / "datakilder.toml"
        if not cand.exists():
            return Mapping_()
        config = cand
    if isinstance(config, str | Path):
        source = Path(config)
        try:
            data = tomllib.loads(source.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise IngestError(f"{source.name}: cannot read ({type(exc).__name__})") from None
        except tomllib.TOMLDecodeError as exc:
            raise IngestError(f"{source.name}: not valid TOML ({exc})") from None
    else:
        data = dict(config)
    where = source.name if source else "config"
    m = Mapping_(source=source)
    known = {"files", "columns", "codes", "instruments"}
    spec_keys = {"table", "layout", "instrument", "sheets", "columns", "values"}
    extra = set(data) - known
    if extra:
        raise IngestError(
            f"{where}: unknown section(s) {', '.join(sorted(extra))}; expecting "
            f"{', '.join(sorted(known))}"
        )
    for pattern, spec in (data.get("files") or {}).items():
        if not isinstance(spec, dict):
            raise IngestError(f'{where}: [files."{pattern}"] must be a table')
        table = spec.get("table")
        if table is not None and table not in KINDS:
            raise IngestError(
                f'{where}: [files."{pattern}"] table: Expecting one of {", ".join(KINDS)}; '
                f"got '{table}'"
            )
        layout = spec.get("layout")
        if layout is not None and layout not in LAYOUTS:
            raise IngestError(
                f"{where}: [files.\"{pattern}\"] layout: Expecting one of long, wide; got '{layout}'"
            )
        bad = set(spec) - spec_keys
        if bad:
            raise IngestError(
                f'{where}: [files."{pattern}"]: unknown key(s) {", ".join(sorted(bad))}; '
                f"expecting {', '.join(sorted(spec_keys))}"
            )
        cols = {norm(k): _target(v, where) for k, v in (spec.get("columns") or {}).items()}
        values = {}
        for k, v in (spec.get("values") or {}).items():
            if k not in FIXED_FIELDS:
                raise IngestError(
                    f'{where}: [files."{pattern}".values] {k}: Expecting one of '
                    f"{', '.join(FIXED_FIELDS)}{_closest(k, FIXED_FIELDS)}"
                )
            values[k] = str(v)
        sheets = spec.get("sheets")
        m.files.append(
            FileRule(
                pattern,
                table,
                layout,
                spec.get("instrument"),
                list(sheets) if sheets else None,
                cols,
                values,
            )
        )
    m.columns = {norm(k): _target(v, where) for k, v in (data.get("columns") or {}).items()}
    for lst, pairs in (data.get("codes") or {}).items():
        if lst not in m.codes:
            raise IngestError(
                f"{where}: [codes.{lst}]: Expecting one of {', '.join(sorted(m.codes))}; got '{lst}'"
            )
        for k, v in pairs.items():
            m.codes[lst][norm(str(k))] = str(v)
    files = (data.get("instruments") or {}).get("files") or []
    base = source.parent if source else folder
    m.instrument_files = [(base / f) for f in files]
    return m


def _target(v: object, where: str) -> str:
    """A column mapping target as written; checked against the instruments later
    (:func:`check_targets`), as item names are only known once they are loaded."""
    if not isinstance(v, str) or not norm(v):
        raise IngestError(f"{where}: column mapping to '{v}': a target must be a text")
    return v


def is_field(target: str) -> bool:
    return target in _ALL_FIELDS


def indicator_of(target: str) -> str | None:
    """The outcome indicator a mapping target names (``in_employment``, ``I job``), if any."""
    return INDICATOR_ALIASES.get(norm(target))


def item_names(inst: Any) -> dict[str, str]:
    """Normalised names -> item id for one instrument: the item's id, Danish and English
    labels and declared aliases, and those of its domain when the domain has only that
    item (Ungestjernen's arms: a column headed ``Døgnrytme``). A name two items share is
    left out: it cannot tell them apart."""
    per_domain: dict[str, list[Any]] = {}
    for it in inst.items:
        per_domain.setdefault(it.domain, []).append(it)
    cands: dict[str, set[str]] = {}
    for it in inst.items:
        names = [it.id, *it.label.values(), *it.aliases]
        if len(per_domain[it.domain]) == 1:
            d = inst.domain(it.domain)
            names += [d.id, *d.label.values(), *d.aliases]
        for n in names:
            cands.setdefault(norm(n), set()).add(it.id)
    return {n: next(iter(ids)) for n, ids in cands.items() if len(ids) == 1 and n}


def _closest(v: str, valid: Any) -> str:
    best = difflib.get_close_matches(norm(v), {norm(x): x for x in valid}, n=1, cutoff=0.6)
    if not best:
        return ""
    return f" (closest: '{ {norm(x): x for x in valid}[best[0]] }')"


def check_targets(m: Mapping_, instruments: Mapping[str, Any]) -> None:
    """Every column mapping target must be a field, an outcome indicator or an item of a
    loaded instrument (by id, label or alias); else the error lists the valid targets and
    the closest match."""
    items: dict[str, str] = {}
    for inst in instruments.values():
        items.update(item_names(inst))
    where = m.source.name if m.source else "config"
    targets = [*m.columns.items()] + [(k, v) for r in m.files for k, v in r.columns.items()]
    for header, t in targets:
        if is_field(t) or indicator_of(t) or norm(t) in items:
            continue
        fields = sorted(_ALL_FIELDS)
        inds = sorted(OUTCOME_INDICATORS)
        ids = sorted({i for inst in instruments.values() for i in inst.item_ids})
        labels = [
            x for inst in instruments.values() for it in inst.items for x in it.label.values()
        ]
        hint = _closest(t, [*fields, *inds, *ids, *labels])
        raise IngestError(
            f"{where}: column '{header}' mapped to '{t}', which is not a target{hint}; "
            f"expecting a field ({', '.join(fields)}), an outcome indicator "
            f"({', '.join(inds)}) or an instrument item by id, label or alias "
            f"({', '.join(ids)})"
        )


def header_field(
    header: str, kind: str | None, mapping: Mapping_, rule: FileRule | None
) -> str | None:
    """The field a header names in a file of ``kind`` (None when not recognised)."""
    n = norm(header)
    if not n:
        return None
    if rule is not None and n in rule.columns:
        return rule.columns[n]
    if n in mapping.columns:
        return mapping.columns[n]
    for f in ("cpr", "participant_id"):
        if n in FIELD_ALIASES[f]:
            return f
    allowed = KIND_FIELDS.get(kind or "", tuple(FIELD_ALIASES))
    for f in allowed:
        if n in FIELD_ALIASES[f]:
            return f
    if n == "id" and kind is not None:
        return "participant_id"
    return None


_NAMES: set[str] = set()
_ID_NAMES: set[str] = set()


def header_score(cells: list[str], mapped: Mapping[str, str] | None = None) -> float:
    """How much a row looks like a header: recognised names (+ dates count a little).
    ``mapped``: normalised header -> field from datakilder.toml, so that a file whose
    headers are only known from the config still has its header row found."""
    from envejind_eval.ingest.dates import parse_date

    if not _NAMES:
        _NAMES.update({a for v in FIELD_ALIASES.values() for a in v} | set(INDICATOR_ALIASES))
        _ID_NAMES.update(FIELD_ALIASES["cpr"] + FIELD_ALIASES["participant_id"])
    s = 0.0
    has_id = False
    for c in cells:
        if not c:
            continue
        n = norm(c)
        f = mapped.get(n) if mapped else None
        if f is not None and f != "ignore":
            s += 1
            has_id = has_id or f in ("cpr", "participant_id")
        elif n in _NAMES:
            s += 1
            has_id = has_id or n in _ID_NAMES
        elif parse_date(c)[0] is not None:
            s += 0.01
    return s + (1 if has_id else 0) if s >= 1 else 0.0
