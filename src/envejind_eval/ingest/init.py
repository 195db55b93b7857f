"""``envejind-eval init``: propose a ``datakilder.toml`` for a delivery never seen before.

Every file in the folder is read the way ingestion reads it (:func:`readers.read_table`,
with a header-row finder that also knows near-misses of the recognised names). Per
table it guesses

* the **table kind**: from the columns (as ingestion classifies a file without a name
  hint) and from the file name; when both speak and disagree, the columns win;
* the **column mapping**, for headers ingestion does not already recognise: closeness to
  the recognised names (:data:`mapping.FIELD_ALIASES`, outcome indicators; ``nr`` read as
  ``nummer``), and the shape of the values (CPR numbers, dates, clock times, years, the
  codes of a code list), restricted to the fields of the guessed kind;
* the **instrument** of a wide questionnaire file: the one whose item ids and Danish or
  English labels (from the instrument definitions) match most headers.

Guesses that header and values do not both support are marked ``USIKKER``/``UNCERTAIN``
in a comment. Comments describe values only by their shape; no cell value is written, and
CPR-shaped text in file, sheet and column names is masked (a column name holding a CPR
cannot be mapped by name and is only mentioned, masked).
"""

from __future__ import annotations

import datetime as _dt
import difflib
import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envejind_eval.disclosure.scan import contains_cpr, redact_cpr
from envejind_eval.errors import EnvejindError
from envejind_eval.ingest import dates as D
from envejind_eval.ingest import mapping as M
from envejind_eval.ingest.readers import SUFFIXES, RawTable, read_table

#: fields of each code list (the value-pattern guess)
_CODE_FIELDS: dict[str, tuple[str, ...]] = {
    "attendance": ("attendance_code",),
    "sex": ("sex",),
    "status": ("status",),
    "referred_by": ("referred_by",),
    "timepoint": ("timepoint",),
    "rater": ("rater",),
    "activity": ("activity",),
}
_DATE_FIELDS = ("date", "start_date", "planned_end_date", "exit_date", "end_date")
SURE = 0.8  # header closeness from which a guess the values agree with is not marked

TEXT: dict[str, dict[str, Any]] = {
    "en": {
        "head": "Proposed by `envejind-eval init` on {date} for the delivery folder {folder}.",
        "check": "Check every line marked {mark}, then run: envejind-eval validate {folder}",
        "mark": "UNCERTAIN",
        "recognised": "recognised without mapping: {cols}",
        "dates": "{n} columns headed by dates (one per course day)",
        "kind_cols": "from the columns",
        "kind_name": "from the file name",
        "kind_conflict": "{mark}: the file name suggests {other}, the columns {kind}",
        "kind_none": "{mark}: which table is this? set table to one of {kinds}, or delete "
        "this section and the file from the delivery",
        "close": "close to '{alias}'",
        "values": "values look like {what}",
        "unknown": '{mark}: not recognised; replace ? by a field ({fields}) or by "ignore"',
        "cpr_header": "a column name holding a CPR-shaped text ({h}) cannot be mapped: rename it",
        "not_read": "not read: {why}",
        "not_table": "not a table format (reads {suffixes})",
        "empty": "no data",
        "names": "'{h}' holds names: delete the column from the delivery (names are never read)",
        "instrument": "the form whose items match most column names ({n} of {m})",
        "items": "{n} columns are items of {inst}",
        "sheets": "sheets of other kinds: {sheets}; split them into their own files",
        "what": {
            "cpr": "CPR numbers",
            "date": "dates",
            "time": "clock times",
            "year": "years of birth",
            "number": "numbers",
            "yes_no": "yes/no answers",
        },
        "code": "codes of the {lst} list",
        "summary": "wrote {path}: {files} file(s), {n} guess(es) to check (marked {mark})",
        "next": "next: check the lines marked {mark} in {name}, then run `envejind-eval "
        "validate {folder}`",
    },
    "da": {
        "head": "Forslag fra `envejind-eval init` {date} til leverancemappen {folder}.",
        "check": "Tjek hver linje markeret {mark}, og kør så: envejind-eval validate {folder}",
        "mark": "USIKKER",
        "recognised": "genkendt uden opsætning: {cols}",
        "dates": "{n} kolonner med datoer som overskrift (én pr. kursusdag)",
        "kind_cols": "ud fra kolonnerne",
        "kind_name": "ud fra filnavnet",
        "kind_conflict": "{mark}: filnavnet tyder på {other}, kolonnerne på {kind}",
        "kind_none": "{mark}: hvilken tabel er det? sæt table til en af {kinds}, eller slet "
        "afsnittet og filen fra leverancen",
        "close": "ligner '{alias}'",
        "values": "værdierne ligner {what}",
        "unknown": '{mark}: ikke genkendt; erstat ? med et felt ({fields}) eller med "ignore"',
        "cpr_header": "en kolonneoverskrift med CPR-lignende tekst ({h}) kan ikke opsættes: "
        "omdøb den",
        "not_read": "ikke læst: {why}",
        "not_table": "ikke et tabelformat (læser {suffixes})",
        "empty": "ingen data",
        "names": "'{h}' indeholder navne: slet kolonnen fra leverancen (navne læses aldrig)",
        "instrument": "skemaet hvis spørgsmål passer med flest kolonnenavne ({n} af {m})",
        "items": "{n} kolonner er spørgsmål i {inst}",
        "sheets": "faner af andre slags: {sheets}; læg dem i hver sin fil",
        "what": {
            "cpr": "CPR-numre",
            "date": "datoer",
            "time": "klokkeslæt",
            "year": "fødselsår",
            "number": "tal",
            "yes_no": "ja/nej-svar",
        },
        "code": "koder fra listen {lst}",
        "summary": "skrev {path}: {files} fil(er), {n} gæt at tjekke (markeret {mark})",
        "next": "næste skridt: tjek linjerne markeret {mark} i {name}, og kør så "
        "`envejind-eval validate {folder}`",
    },
}


@dataclass
class Guess:
    header: str
    target: str | None  # the field proposed; None: no guess
    sure: bool
    why: list[str] = field(default_factory=list)


@dataclass
class FileGuess:
    pattern: str
    shown: str  # the file name as shown (CPR masked)
    kind: str | None = None
    layout: str | None = None
    instrument: str | None = None
    kind_note: str = ""
    kind_sure: bool = True
    recognised: list[str] = field(default_factory=list)
    n_dates: int = 0
    columns: list[Guess] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    not_read: str | None = None


# -- closeness of a header to the recognised names -------------------------------------------


# words staff write for the same thing (normalised spelling), and filler words: header
# words, not header names, so they do not duplicate the alias tables
_SAME_WORD = {
    "forventet": "planlagt",
    "forventede": "planlagt",
    "planlagte": "planlagt",
    "ophoert": "ophoer",
    "ophoers": "ophoer",
    "afsluttet": "ophoer",
    "foedt": "foedsel",
    "foedsels": "foedsel",
    "grund": "aarsag",
    "ankommet": "ankomst",
    "ankomsts": "ankomst",
    "moedt": "ankomst",
    "moede": "ankomst",
    "nr": "nummer",
    "kl": "tid",
    "klokken": "tid",
    "tidspunkt": "tid",
}
_FILLER = {"af", "fra", "til", "den", "d", "dato", "aar", "kl", "for", "i", "paa", "ved"}
_PARTS = ("dato", "aar", "nummer", "nr", "tid")  # compounds split off: slutdato -> slut dato


def _words(n: str) -> frozenset[str]:
    out = set()
    for w in n.split():
        for part in _PARTS:
            if w.endswith(part) and len(w) > len(part) + 2:
                out.add(_SAME_WORD.get(w[: -len(part)], w[: -len(part)]))
                w = part
                break
        w = _SAME_WORD.get(w, w)
        if w not in _FILLER:
            out.add(w)
    return frozenset(out)


def _closeness(h: str, alias: str) -> float:
    """1 for the same normalised name; 0.95 for the same words (after the word list
    above); 0.85 when one's words hold the other's and share at least half; else the
    character similarity."""
    if not h or not alias:
        return 0.0
    if h == alias:
        return 1.0
    a, b = _words(h), _words(alias)
    if a and a == b:
        return 0.95
    if a and b and (a <= b or b <= a) and 2 * min(len(a), len(b)) >= max(len(a), len(b)):
        return 0.85
    return difflib.SequenceMatcher(None, h, alias).ratio() * 0.9


def _candidates() -> dict[str, list[str]]:
    out = {f: list(a) for f, a in M.FIELD_ALIASES.items()}
    for n, ind in M.INDICATOR_ALIASES.items():
        out.setdefault(ind, []).append(n)
    return out


def best_field(
    header: str, allowed: frozenset[str] | set[str] | None = None
) -> tuple[str | None, float, str]:
    """(field, closeness, the recognised name it is close to) for a header."""
    return _best_field(header, None if allowed is None else frozenset(allowed))


@functools.lru_cache(maxsize=4096)  # the header finder asks about the same cells often
def _best_field(header: str, allowed: frozenset[str] | None) -> tuple[str | None, float, str]:
    n = M.norm(header)
    best: tuple[str | None, float, str] = (None, 0.0, "")
    for f, aliases in _candidates().items():
        if allowed is not None and f not in allowed:
            continue
        for a in aliases:
            c = _closeness(n, a)
            if c > best[1]:
                best = (f, c, a)
    return best


# -- the shape of the values -------------------------------------------------------------------


def value_shape(values: list[str], codes: dict[str, dict[str, str]]) -> tuple[str, str | None]:
    """(shape, code list) of a column's distinct values: cpr, date, time, year, number,
    code (with the list), or "" when nothing fits at least 80 % of them."""
    vals = [v for v in values[:500] if v.strip()]
    if not vals:
        return "", None

    def share(fn: Callable[[str], Any]) -> float:
        return sum(bool(fn(v)) for v in vals) / len(vals)

    if share(lambda v: contains_cpr(v, field=True)) >= 0.8:
        return "cpr", None
    if share(lambda v: re.fullmatch(r"(19[5-9]\d|20[0-2]\d)(\.0)?", v)) >= 0.8:
        return "year", None
    if share(lambda v: D.parse_date(v)[0] is not None) >= 0.8:
        return "date", None
    if share(D.parse_time) >= 0.8:
        return "time", None
    best, best_share = None, 0.0
    for lst in (*_CODE_FIELDS, "yes_no"):
        known: dict[str, str] = codes.get(lst, {})
        s = sum(M.norm(v) in known for v in vals) / len(vals)
        if s > best_share:
            best, best_share = lst, s
    if best is not None and best_share >= 0.8:
        return ("yes_no", None) if best == "yes_no" else ("code", best)
    if share(lambda v: re.fullmatch(r"-?\d+([.,]\d+)?", v)) >= 0.8:
        return "number", None
    return "", None


def _fields_of_shape(shape: str, lst: str | None) -> set[str]:
    return {
        "cpr": {"cpr"},
        "date": set(_DATE_FIELDS),
        "time": {"arrival_time"},
        "year": {"birth_year"},
        "number": {"minutes", "value", "birth_year", "participant_id"},
        "yes_no": {"attended", *M.OUTCOME_INDICATORS},
        "code": set(_CODE_FIELDS.get(lst or "", ())),
    }.get(shape, set())


# -- one delivery ------------------------------------------------------------------------------


def _guess_scorer(cells: list[str]) -> float:
    """:func:`mapping.header_score`, also counting names close to a recognised one."""
    s = M.header_score(cells)
    # merged cells repeat one text; dates (a register's header) are no names
    distinct = [c for c in dict.fromkeys(cells) if c and D.parse_date(c)[0] is None]
    if s > 0:
        return s + sum(0.5 for c in distinct if best_field(c)[1] >= SURE)
    near = [best_field(c) for c in distinct]
    k = sum(c >= SURE for _, c, _ in near)
    has_id = any(f in ("cpr", "participant_id") and c >= SURE for f, c, _ in near)
    return k + (1 if has_id else 0) if k >= 1 else 0.0


def propose(folder: Path, *, lang: str = "da") -> list[FileGuess]:
    """Guesses for every file of ``folder`` (see the module docstring)."""
    from envejind_eval.ingest._core import Pipeline
    from envejind_eval.instruments import default_registry, load_instrument

    if lang not in TEXT:
        raise ValueError(f"Expecting lang da or en; got '{lang}'")
    t = TEXT[lang]
    reg = default_registry()
    for f in sorted((folder / "instruments").glob("*.toml")):
        inst = load_instrument(f)
        reg[inst.id] = inst
    mapping = M.Mapping_()
    pipe = Pipeline(folder, mapping, None, reg)
    out = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        if path.name.startswith((".", "~$")) or path.name == "datakilder.toml":
            continue
        shown = redact_cpr(path.name)
        g = FileGuess(pattern=_glob(path.name), shown=shown)
        out.append(g)
        if path.suffix.lower() not in SUFFIXES:
            g.not_read = t["not_table"].format(suffixes=", ".join(SUFFIXES))
            continue
        try:
            raws = read_table(
                path, header_score=_guess_scorer, date_of=lambda x: D.parse_date(x)[0]
            )
        except EnvejindError as exc:
            g.not_read = t["not_read"].format(why=redact_cpr(str(exc)))
            continue
        raws = [r for r in raws if r.header and any(r.header)]
        if not raws:
            g.not_read = t["not_read"].format(why=t["empty"])
            continue
        per_sheet = [_guess_table(r, pipe, reg, mapping, t) for r in raws]
        first = per_sheet[0]
        g.kind, g.layout, g.instrument = first.kind, first.layout, first.instrument
        g.kind_note, g.kind_sure = first.kind_note, first.kind_sure
        g.recognised, g.n_dates, g.notes = first.recognised, first.n_dates, first.notes
        seen: dict[str, Guess] = {}
        for s in per_sheet:
            for c in s.columns:
                seen.setdefault(c.header, c)
        g.columns = list(seen.values())
        other = [
            redact_cpr(r.sheet or "")
            for r, s in zip(raws, per_sheet, strict=True)
            if s.kind != g.kind
        ]
        if other:
            g.notes.append(f"{t['mark']}: " + t["sheets"].format(sheets=", ".join(other)))
    return out


def _glob(name: str) -> str:
    """A file-name pattern for datakilder.toml: glob characters escaped, CPR-shaped parts
    replaced by ``*`` (never written)."""
    esc = re.sub(r"([\[\]*?])", r"[\1]", name)
    return redact_cpr(esc, mask="*")


def _guess_table(raw: RawTable, pipe: Any, reg: dict, mapping: M.Mapping_, t: dict) -> FileGuess:
    g = FileGuess(pattern="", shown="")
    dates = raw.header_dates or [D.parse_date(h)[0] for h in raw.header]
    cols: dict[int, Guess] = {}

    def guess_columns(kind: str | None) -> None:
        allowed = None
        if kind is not None:
            allowed = {"cpr", "participant_id", *M.KIND_FIELDS.get(kind, ())}
            if kind == "outcomes":
                allowed |= set(M.OUTCOME_INDICATORS)
        cols.clear()
        g.recognised = []
        g.n_dates = 0
        for j, h in enumerate(raw.header):
            if dates[j] is not None:
                g.n_dates += 1
                continue
            if not h.strip():
                continue
            if (
                M.header_field(h, kind, mapping, None) is not None
                or M.norm(h) in M.INDICATOR_ALIASES
            ):
                g.recognised.append(h)
                continue
            cols[j] = _guess_column(h, raw.cols[j].values, allowed, mapping.codes, t)

    guess_columns(None)
    rule = M.FileRule("", columns={M.norm(c.header): c.target for c in cols.values() if c.target})
    by_cols = pipe._kind_from_header(raw, rule)
    by_name = M.kind_from_name(raw.path.stem)[0]
    if by_cols and by_name and by_cols != by_name:
        g.kind, g.kind_sure = by_cols, False
        g.kind_note = t["kind_conflict"].format(mark=t["mark"], other=by_name, kind=by_cols)
    elif by_cols or by_name:
        g.kind = by_cols or by_name
        g.kind_note = t["kind_cols"] if by_cols else t["kind_name"]
    else:
        g.kind_sure = False
        g.kind_note = t["kind_none"].format(mark=t["mark"], kinds=", ".join(M.KINDS))
    if g.kind is not None:
        guess_columns(g.kind)
    fields = {c.target: j for j, c in cols.items() if c.target}
    for h in g.recognised:
        f = M.header_field(h, g.kind, mapping, None)
        if f:
            fields.setdefault(f, raw.header.index(h))
    g.layout = pipe._layout(g.kind, raw, fields) if g.kind else None
    if g.kind == "measurements" and g.layout == "wide":
        _guess_instrument(g, raw, reg, cols, t)
    g.columns = [cols[j] for j in sorted(cols)]
    return g


def _guess_column(
    h: str, values: list[str], allowed: set[str] | None, codes: dict, t: dict
) -> Guess:
    if contains_cpr(h):
        return Guess(redact_cpr(h), None, False, [t["cpr_header"].format(h=redact_cpr(h))])
    if M.is_name_header(h, None) and best_field(h, allowed)[1] < SURE:
        return Guess(h, None, False, [t["names"].format(h=h)])
    f, c, alias = best_field(h, allowed)
    shape, lst = value_shape(values, codes)
    fits = _fields_of_shape(shape, lst)
    if allowed is not None:
        fits &= allowed
    what = t["code"].format(lst=lst) if shape == "code" else t["what"].get(shape, "")
    if f is not None and c >= SURE and (not shape or f in fits):
        why = [t["close"].format(alias=alias)] + ([t["values"].format(what=what)] if shape else [])
        return Guess(h, f, True, why)
    if len(fits) == 1:
        (only,) = fits
        why = [t["values"].format(what=what)]
        return Guess(h, only, shape in ("cpr", "time", "code"), why)
    if fits and f in fits and c >= 0.5:
        return Guess(h, f, False, [t["close"].format(alias=alias), t["values"].format(what=what)])
    if f is not None and c >= 0.7 and not fits:
        return Guess(h, f, False, [t["close"].format(alias=alias)])
    return Guess(h, None, False, [])


def _guess_instrument(g: FileGuess, raw: RawTable, reg: dict, cols: dict, t: dict) -> None:
    names = {M.norm(h) for h in raw.header if h}
    best, best_n, m = None, 0, 0
    for iid, inst in reg.items():
        keys = set()
        for it in [*inst.items, *inst.domains]:
            keys |= {M.norm(it.id), *(M.norm(v) for v in it.label.values())}
        n = len(names & keys)
        if n > best_n:
            best, best_n, m = iid, n, len(inst.items)
    if best is None:
        return
    g.instrument = best
    g.notes.append(t["instrument"].format(n=best_n, m=m))
    # item columns are matched by the reader: no "unknown column" guesses for them
    inst = reg[best]
    keys = set()
    for it in [*inst.items, *inst.domains]:
        keys |= {M.norm(it.id), *(M.norm(v) for v in it.label.values())}
    for j in [j for j, c in cols.items() if M.norm(c.header) in keys]:
        del cols[j]


# -- writing -----------------------------------------------------------------------------------


def _q(s: str) -> str:
    """A TOML basic string."""
    return json.dumps(s, ensure_ascii=False)


def render(guesses: list[FileGuess], folder: Path, *, lang: str = "da") -> tuple[str, int]:
    """The proposed datakilder.toml text and the number of uncertain guesses in it."""
    t = TEXT[lang]
    shown_folder = redact_cpr(folder.name)
    lines = [
        "# " + t["head"].format(date=_dt.date.today().isoformat(), folder=shown_folder),
        "# " + t["check"].format(mark=t["mark"], folder=shown_folder),
        "",
    ]
    n_unsure = 0
    fields = ", ".join(sorted(M.FIELD_ALIASES))
    for g in guesses:
        if g.not_read:
            lines += [f"# {g.shown}: {g.not_read}", ""]
            continue
        sec = f"files.{_q(g.pattern)}"
        lines.append(f"[{sec}]")
        if g.kind:
            lines.append(f"table = {_q(g.kind)}  # {g.kind_note}")
            n_unsure += not g.kind_sure
        else:
            lines.append(f'# table = "?"  # {g.kind_note}')
            n_unsure += 1
        if g.layout:
            lines.append(f"layout = {_q(g.layout)}")
        if g.instrument:
            lines.append(f"instrument = {_q(g.instrument)}")
        lines += [f"# {n}" for n in g.notes]
        if g.recognised:
            cols = ", ".join(redact_cpr(h) for h in g.recognised)
            lines.append("# " + t["recognised"].format(cols=cols))
        if g.n_dates:
            lines.append("# " + t["dates"].format(n=g.n_dates))
        if g.columns:
            lines.append(f"[{sec}.columns]")
        for c in g.columns:
            if c.target is None and c.why:  # a CPR or names in the header: only mentioned
                lines.append(f"# {'; '.join(c.why)}")
                n_unsure += 1
            elif c.target is None:
                unknown = t["unknown"].format(mark=t["mark"], fields=fields)
                lines.append(f'# {_q(c.header)} = "?"  # {unknown}')
                n_unsure += 1
            else:
                mark = "" if c.sure else f"{t['mark']}: "
                n_unsure += not c.sure
                lines.append(f"{_q(c.header)} = {_q(c.target)}  # {mark}{'; '.join(c.why)}")
        lines.append("")
    return "\n".join(lines), n_unsure


def init_delivery(folder: Path, *, force: bool = False, lang: str = "da") -> tuple[Path, str]:
    """Write ``folder/datakilder.toml`` (refusing to replace one without ``force``); returns
    the path and the one-line summary with the next step."""
    from envejind_eval.errors import IngestError
    from envejind_eval.outpath import write_config

    if not folder.is_dir():
        raise IngestError(f"{redact_cpr(str(folder))}: not a folder")
    guesses = propose(folder, lang=lang)
    text, n = render(guesses, folder, lang=lang)
    path = write_config(folder / "datakilder.toml", text, force=force)
    t = TEXT[lang]
    read = sum(g.not_read is None for g in guesses)
    summary = t["summary"].format(path=redact_cpr(str(path)), files=read, n=n, mark=t["mark"])
    nxt = t["next"].format(mark=t["mark"], name=path.name, folder=redact_cpr(str(folder)))
    return path, f"{summary}\n{nxt}"
