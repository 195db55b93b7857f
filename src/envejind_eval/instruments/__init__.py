"""Instruments are data: TOML definitions validated strictly on load.

A definition gives the scale, direction, missing codes, allowed raters, reliability (a
number, or ``"estimate"`` for Cronbach's alpha at baseline), optional clinical cut-off,
domains and items. See ``docs/instruments.md`` for the format and the shipped files
(``lfl``, ``ungestjernen``, ``art_skills``), which are *sample operationalisations*: the
exact wording of the real forms is not public.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from envejind_eval.errors import InstrumentError
from envejind_eval.schema import RATERS

SHIPPED: tuple[str, ...] = ("ungestjernen", "lfl", "art_skills")

#: The programme's four claimed results (brochure) and the official evaluation's outcome
#: areas; every shipped domain names the one it answers (``claim``).
CLAIMS: dict[str, dict[str, str]] = {
    "daily_rhythm": {"da": "Ændret døgnrytme", "en": "Changed daily rhythm"},
    "self_control_social": {
        "da": "Bedre selvkontrol og sociale kompetencer",
        "en": "Better self-control and social skills",
    },
    "responsibility": {
        "da": "Større bevidsthed om ansvar for eget liv",
        "en": "Greater awareness of responsibility for own life",
    },
    "future_prospects": {
        "da": "Klarere fremtidsperspektiver",
        "en": "Clearer future prospects",
    },
    "work_education": {"da": "Arbejde og uddannelse", "en": "Work and education"},
    "wellbeing": {"da": "Trivsel", "en": "Well-being"},
    "crime_risk": {"da": "Kriminalitet og risikoadfærd", "en": "Crime and risk behaviour"},
}


@dataclass(frozen=True)
class Domain:
    id: str
    label: dict[str, str]
    claim: str | None = None
    reliability: float | Literal["estimate"] | None = None
    #: further names staff write for the domain (headers of a delivered form)
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Item:
    id: str
    domain: str
    label: dict[str, str]
    reverse: bool = False
    #: further names staff write for the item (headers of a delivered form)
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Instrument:
    """A validated instrument definition (immutable)."""

    id: str
    version: str
    name: dict[str, str]
    description: dict[str, str]
    scale_min: float
    scale_max: float
    higher_is_better: bool
    missing_codes: tuple[float, ...]
    raters: tuple[str, ...]
    reliability: float | Literal["estimate"]
    min_answered_share: float
    domains: tuple[Domain, ...]
    items: tuple[Item, ...]
    clinical_cutoff: float | None = None
    sample_operationalisation: bool = False
    source: str = ""

    @property
    def item_ids(self) -> list[str]:
        return [i.id for i in self.items]

    @property
    def domain_ids(self) -> list[str]:
        return [d.id for d in self.domains]

    def domain(self, domain_id: str) -> Domain:
        for d in self.domains:
            if d.id == domain_id:
                return d
        raise KeyError(domain_id)

    def reliability_for(self, domain_id: str | None) -> float | Literal["estimate"]:
        """Reliability of a domain score (its own, else the instrument's)."""
        if domain_id is not None and domain_id in self.domain_ids:
            r = self.domain(domain_id).reliability
            if r is not None:
                return r
        return self.reliability

    def label(self, unit: str, lang: str = "da") -> str:
        """Label of an item, a domain, ``total`` or the instrument itself."""
        if unit == "total":
            return {"da": "Samlet score", "en": "Total score"}[lang]
        if unit == self.id:
            return self.name[lang]
        for d in self.domains:
            if d.id == unit:
                return d.label[lang]
        for i in self.items:
            if i.id == unit:
                return i.label[lang]
        raise KeyError(unit)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{d.id}</td><td>{d.label['da']}</td><td>{d.label['en']}</td>"
            f"<td>{sum(i.domain == d.id for i in self.items)}</td></tr>"
            for d in self.domains
        )
        return (
            f"<b>{self.name['en']}</b> ({self.id} v{self.version}), scale "
            f"{self.scale_min:g}-{self.scale_max:g}, raters {', '.join(self.raters)}"
            f"<table><tr><th>domain</th><th>da</th><th>en</th><th>items</th></tr>{rows}</table>"
        )


# -- loading ------------------------------------------------------------------------------


def _need(d: dict[str, Any], key: str, typ: type | tuple[type, ...], where: str) -> Any:
    if key not in d:
        raise InstrumentError(f"{where}: missing required key '{key}'")
    v = d[key]
    if not isinstance(v, typ) or (isinstance(v, bool) and typ in (int, float, (int, float))):
        raise InstrumentError(f"{where}: key '{key}' has the wrong type ({type(v).__name__})")
    return v


def _labels(d: dict[str, Any], key: str, where: str) -> dict[str, str]:
    v = _need(d, key, dict, where)
    for lang in ("da", "en"):
        if not isinstance(v.get(lang), str) or not v[lang].strip():
            raise InstrumentError(f"{where}: '{key}' needs a non-empty '{lang}' label")
    return {"da": v["da"], "en": v["en"]}


def _aliases(d: dict[str, Any], where: str) -> tuple[str, ...]:
    v = d.get("aliases", [])
    if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
        raise InstrumentError(f"{where}: aliases must be a list of non-empty texts")
    return tuple(v)


def _reliability(v: Any, where: str) -> float | Literal["estimate"]:
    if v == "estimate":
        return "estimate"
    if isinstance(v, int | float) and not isinstance(v, bool) and 0 < v < 1:
        return float(v)
    raise InstrumentError(f'{where}: reliability must be a number in (0, 1) or "estimate"')


_TOP_KEYS = {
    "id",
    "version",
    "name",
    "description",
    "scale",
    "direction",
    "raters",
    "reliability",
    "min_answered_share",
    "clinical_cutoff",
    "sample_operationalisation",
    "domains",
    "items",
}


def parse_instrument(data: dict[str, Any], source: str = "<dict>") -> Instrument:
    """Validate a parsed TOML mapping and build an :class:`Instrument`."""
    w = source
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise InstrumentError(f"{w}: unknown key(s) {', '.join(sorted(unknown))}")
    iid = _need(data, "id", str, w)
    if not iid.isidentifier():
        raise InstrumentError(f"{w}: id must be a simple identifier (letters, digits, _)")
    scale = _need(data, "scale", dict, w)
    lo = _need(scale, "min", (int, float), f"{w} [scale]")
    hi = _need(scale, "max", (int, float), f"{w} [scale]")
    if not lo < hi:
        raise InstrumentError(f"{w} [scale]: min must be below max")
    missing = scale.get("missing_codes", [])
    if not isinstance(missing, list) or not all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in missing
    ):
        raise InstrumentError(f"{w} [scale]: missing_codes must be a list of numbers")
    if any(lo <= x <= hi for x in missing):
        raise InstrumentError(f"{w} [scale]: a missing code lies inside the scale")
    direction = _need(data, "direction", str, w)
    if direction not in ("higher_is_better", "lower_is_better"):
        raise InstrumentError(
            f"{w}: direction must be 'higher_is_better' or 'lower_is_better', got '{direction}'"
        )
    raters = _need(data, "raters", list, w)
    if not raters or any(r not in RATERS for r in raters):
        raise InstrumentError(f"{w}: raters must be a non-empty list from {', '.join(RATERS)}")
    share = data.get("min_answered_share", 0.5)
    if not isinstance(share, int | float) or not 0 < share <= 1:
        raise InstrumentError(f"{w}: min_answered_share must be in (0, 1]")
    cutoff = data.get("clinical_cutoff")
    if cutoff is not None and not (isinstance(cutoff, int | float) and lo <= cutoff <= hi):
        raise InstrumentError(f"{w}: clinical_cutoff must be a number on the scale")

    domains = []
    for k, d in enumerate(_need(data, "domains", list, w)):
        dw = f"{w} domains[{k}]"
        if not isinstance(d, dict):
            raise InstrumentError(f"{dw}: must be a table")
        claim = d.get("claim")
        if claim is not None and claim not in CLAIMS:
            raise InstrumentError(f"{dw}: claim must be one of {', '.join(CLAIMS)}")
        rel = d.get("reliability")
        domains.append(
            Domain(
                id=_need(d, "id", str, dw),
                label=_labels(d, "label", dw),
                claim=claim,
                reliability=None if rel is None else _reliability(rel, dw),
                aliases=_aliases(d, dw),
            )
        )
    dids = [d.id for d in domains]
    if not dids or len(set(dids)) != len(dids):
        raise InstrumentError(f"{w}: domains must be non-empty with unique ids")
    items = []
    for k, it in enumerate(_need(data, "items", list, w)):
        iw = f"{w} items[{k}]"
        if not isinstance(it, dict):
            raise InstrumentError(f"{iw}: must be a table")
        dom = _need(it, "domain", str, iw)
        if dom not in dids:
            raise InstrumentError(f"{iw}: domain '{dom}' is not declared")
        rev = it.get("reverse", False)
        if not isinstance(rev, bool):
            raise InstrumentError(f"{iw}: reverse must be true or false")
        items.append(
            Item(_need(it, "id", str, iw), dom, _labels(it, "label", iw), rev, _aliases(it, iw))
        )
    iids = [i.id for i in items]
    if len(set(iids)) != len(iids):
        raise InstrumentError(f"{w}: item ids must be unique")
    empty = [d for d in dids if d not in {i.domain for i in items}]
    if empty:
        raise InstrumentError(f"{w}: domain(s) without items: {', '.join(empty)}")
    return Instrument(
        id=iid,
        version=str(_need(data, "version", str, w)),
        name=_labels(data, "name", w),
        description=_labels(data, "description", w),
        scale_min=float(lo),
        scale_max=float(hi),
        higher_is_better=direction == "higher_is_better",
        missing_codes=tuple(float(x) for x in missing),
        raters=tuple(raters),
        reliability=_reliability(_need(data, "reliability", (str, int, float), w), w),
        min_answered_share=float(share),
        domains=tuple(domains),
        items=tuple(items),
        clinical_cutoff=None if cutoff is None else float(cutoff),
        sample_operationalisation=bool(data.get("sample_operationalisation", False)),
        source=source,
    )


def load_instrument(path: str | Path) -> Instrument:
    """Load and validate a user's own instrument definition (TOML).

    Examples
    --------
    >>> from envejind_eval.instruments import load_instrument, shipped_path
    >>> load_instrument(shipped_path("lfl")).id
    'lfl'
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InstrumentError(f"{path}: instrument file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InstrumentError(f"{path}: not valid TOML ({exc})") from None
    return parse_instrument(data, source=path.name)


def shipped_path(instrument_id: str) -> Path:
    return Path(str(resources.files(__name__) / f"{instrument_id}.toml"))


_CACHE: dict[str, Instrument] = {}


def get_instrument(instrument_id: str) -> Instrument:
    """One of the shipped instruments (``ungestjernen``, ``lfl``, ``art_skills``)."""
    if instrument_id not in SHIPPED:
        raise ValueError(f"Expecting one of {', '.join(SHIPPED)}; got '{instrument_id}'")
    if instrument_id not in _CACHE:
        _CACHE[instrument_id] = load_instrument(shipped_path(instrument_id))
    return _CACHE[instrument_id]


def default_registry() -> dict[str, Instrument]:
    """The shipped instruments keyed by id."""
    return {i: get_instrument(i) for i in SHIPPED}
