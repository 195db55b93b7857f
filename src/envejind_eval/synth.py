"""Synthetic "En vej ind" data with known ground truth.

:func:`synthesize` draws a complete programme -- municipalities, teams, young people,
daily attendance with arrival times, ART sessions and MI talks, measurements with the
shipped instruments, status outcomes -- from one ``np.random.default_rng(seed)`` and returns
the validated :class:`~envejind_eval.dataset.Dataset` together with a :class:`GroundTruth`
holding the parameters it was drawn from (true mean changes, municipality deviations,
dropout hazard, punctuality trend, outcome probabilities).

:func:`write_delivery` writes the same data the way municipal staff deliver it (see
``docs/delivery_format.md``) plus the canonical form, byte-identical for the same seed.

Every person, CPR-shaped number and value produced here is synthetic.

Generative model (per participant *p*, instrument-domain *d*, item *i*, timepoint *t*)
----------------------------------------------------------------------------------------
Latent item value on the instrument's scale::

    x = mu_d + delta_i + bias_r*s
        + f_t * (Delta_d + dev_m) * k_r * s
        + s * (sp*level_pd + f_t*ss*k_r*slope_pd + so*occasion + si*noise)

with ``s`` the instrument's scale SD, ``f_t`` the share of the change reached at the
timepoint (baseline 0, midway 0.55, end 1, follow-up 0.9), ``k_r`` the rater's view of the
change (self 1, mentor 0.85), ``dev_m`` the municipality deviation, and person level/slope
standard normal with a general factor shared across domains. The scored item is
``x`` clipped to the scale and stochastically rounded to an integer (unbiased), and
reverse-keyed items are written as ``min + max - scored``, so the *scored* item has
expectation ``E[clip(x, min, max)]`` -- which :class:`GroundTruth` gives in closed form.
Missing forms and items are drawn independently of the latent values (MCAR given
status), so the mean of end − baseline among paired participants estimates the truth.
"""

from __future__ import annotations

import datetime as _dt
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy.special import expit, logit, ndtr

from envejind_eval.ingest.vocabulary import DELIVERY, EXCUSED_NOTIFIED, NO, YES
from envejind_eval.instruments import default_registry
from envejind_eval.schema import OUTCOME_INDICATORS

if TYPE_CHECKING:
    from envejind_eval.dataset import Dataset
    from envejind_eval.instruments import Instrument

Scale = Literal["sample", "tiny", "national"]
SCALES: tuple[str, ...] = ("sample", "tiny", "national")

SAMPLE_MUNICIPALITIES: tuple[str, ...] = ("Ishøj", "Aalborg", "Odense", "Halsnæs")

#: The 98 Danish municipalities (used for ``scale="national"``).
DANISH_MUNICIPALITIES: tuple[str, ...] = (
    "København", "Frederiksberg", "Albertslund", "Ballerup", "Brøndby", "Dragør",
    "Gentofte", "Gladsaxe", "Glostrup", "Herlev", "Hvidovre", "Høje-Taastrup", "Ishøj",
    "Lyngby-Taarbæk", "Rødovre", "Tårnby", "Vallensbæk", "Allerød", "Egedal",
    "Fredensborg", "Frederikssund", "Furesø", "Gribskov", "Halsnæs", "Helsingør",
    "Hillerød", "Hørsholm", "Rudersdal", "Bornholm", "Greve", "Køge", "Lejre", "Roskilde",
    "Solrød", "Faxe", "Guldborgsund", "Holbæk", "Kalundborg", "Lolland", "Næstved",
    "Odsherred", "Ringsted", "Slagelse", "Sorø", "Stevns", "Vordingborg", "Assens",
    "Billund", "Esbjerg", "Fanø", "Fredericia", "Faaborg-Midtfyn", "Haderslev",
    "Kerteminde", "Kolding", "Langeland", "Middelfart", "Nordfyns", "Nyborg", "Odense",
    "Svendborg", "Sønderborg", "Tønder", "Varde", "Vejen", "Vejle", "Ærø", "Aabenraa",
    "Favrskov", "Hedensted", "Herning", "Holstebro", "Horsens", "Ikast-Brande", "Lemvig",
    "Norddjurs", "Odder", "Randers", "Ringkøbing-Skjern", "Samsø", "Silkeborg",
    "Skanderborg", "Skive", "Struer", "Syddjurs", "Viborg", "Aarhus", "Brønderslev",
    "Frederikshavn", "Hjørring", "Jammerbugt", "Læsø", "Mariagerfjord", "Morsø", "Rebild",
    "Thisted", "Vesthimmerlands", "Aalborg",
)  # fmt: skip

#: Share of the true change reached at each timepoint.
TIME_FRACTION: dict[str, float] = {"baseline": 0.0, "midway": 0.55, "end": 1.0, "followup": 0.9}

#: Per instrument: scale SD (points) and per domain (baseline mean, true change in SD units).
DOMAIN_PARAMS: dict[str, dict[str, Any]] = {
    "ungestjernen": {
        "sd": 1.7,
        "domains": {
            "daily_rhythm": (4.0, 0.80),
            "self_control": (4.8, 0.50),
            "social_relations": (5.5, 0.35),
            "responsibility": (4.6, 0.60),
            "education_work": (3.5, 0.70),
            "wellbeing": (5.2, 0.40),
            "future_belief": (5.0, 0.60),
            "crime_risk": (4.5, 0.50),
        },
    },
    "lfl": {
        "sd": 0.75,
        "domains": {
            "daily_rhythm": (2.5, 0.70),
            "responsibility": (2.8, 0.50),
            "future_prospects": (2.7, 0.60),
            "crime_risk": (2.6, 0.45),
            "wellbeing": (3.0, 0.35),
        },
    },
    "art_skills": {
        "sd": 0.7,
        "domains": {
            "anger_control": (2.4, 0.70),
            "social_skills": (2.7, 0.50),
            "moral_reasoning": (2.6, 0.40),
        },
    },
}
#: Rater view: (bias in SD units, share of the change seen).
RATER_PARAMS: dict[str, tuple[float, float]] = {"self": (0.0, 1.0), "mentor": (-0.15, 0.85)}

#: Outcome probabilities at baseline / end / follow-up for completers; non-completers reach
#: ``noncompleter_share`` of the completers' change on the logit scale.
OUTCOME_PARAMS: dict[str, tuple[float, float, float]] = {
    "in_education": (0.22, 0.38, 0.45),
    "in_employment": (0.08, 0.14, 0.24),
    "police_charge": (0.45, 0.25, 0.22),
    "stable_housing": (0.70, 0.78, 0.82),
}
OUTCOME_TIMEPOINTS: tuple[str, ...] = ("baseline", "end", "followup")

_DROPOUT_REASONS = (
    "Stoppede med at møde op",
    "Fraflyttet kommunen",
    "Varetægtsfængslet",
    "Fik arbejde",
    "Andet",
)
_EXCLUSION_REASONS = ("Vold mod andre deltagere", "Trusler mod personale", "Bandekonflikt")
_REFERRERS = ("social_services", "police", "sspk", "jobcentre", "school", "probation", "other")
_REFERRER_P = (0.30, 0.15, 0.25, 0.12, 0.06, 0.08, 0.04)
_SEXES = ("male", "female", "other", "unknown")
_SEX_P = (0.85, 0.13, 0.01, 0.01)


@dataclass(frozen=True)
class SynthParams:
    """Knobs of the generator; any of them can be passed to :func:`synthesize` as override."""

    municipalities: tuple[str, ...] = SAMPLE_MUNICIPALITIES
    #: inclusive range of teams per municipality (sample/tiny)
    teams_per_municipality: tuple[int, int] = (2, 3)
    #: target number of participants (national: teams are spread over municipalities)
    n_participants: int | None = None
    team_size: tuple[int, int] = (5, 8)
    #: share of teams meeting four (not five) weekdays a week
    p_four_day_week: float = 0.5
    first_start: str = "2016-10-03"
    last_start: str = "2017-09-25"
    n_weeks: int = 17
    #: weekly dropout hazard in the early weeks and after them
    hazard_early: float = 0.042
    hazard_late: float = 0.007
    early_weeks: int = 6
    hazard_excluded: float = 0.002
    #: multiplies every true change (0 gives a null programme)
    effect_scale: float = 1.0
    #: SD of municipality deviations from the mean change (SD units)
    municipality_sd: float = 0.2
    #: variance shares of a domain score at baseline: person level / occasion (+items)
    var_person: float = 0.55
    var_occasion: float = 0.45
    var_item: float = 0.6
    var_slope: float = 0.10
    #: attendance (present or late) probability in week 1 and the last week
    attend_first: float = 0.68
    attend_last: float = 0.88
    attend_person_sd: float = 0.8
    #: arrival minutes after the daily start: week-1 mean, change per week, SDs
    arrival_mean: float = 12.0
    arrival_per_week: float = -1.0
    arrival_person_sd: float = 8.0
    arrival_day_sd: float = 10.0
    arrival_missing: float = 0.03
    item_missing: float = 0.02
    item_missing_code: float = 0.01
    #: forms: probability of a timepoint's forms being filled in
    p_baseline: float = 0.97
    p_midway: float = 0.88
    p_end_completed: float = 0.92
    p_end_exited: float = 0.2
    p_followup_completed: float = 0.7
    p_followup_exited: float = 0.4
    p_form: float = 0.97
    noncompleter_share: float = 0.4


@dataclass(frozen=True)
class GroundTruth:
    """The truth a synthetic dataset was drawn from (tidy DataFrames).

    Attributes
    ----------
    change
        ``instrument, rater, domain, baseline_mean, end_mean, true_change``: expected scored
        domain score (instrument's direction, reverse keys applied) at baseline and end and
        their difference, over the generated municipality mix.
    means
        ``instrument, rater, domain, timepoint, true_mean`` for all four timepoints.
    municipality_deviations
        ``municipality, instrument, rater, domain, true_change, deviation`` with deviation =
        the municipality's true change minus the overall true change (scale points), and
        ``deviation_sd`` the drawn deviation in SD units.
    dropout_hazard
        ``week, hazard_dropout, hazard_excluded, hazard, survival``: weekly probability of
        leaving given still enrolled, and the share still enrolled at the end of the week.
    punctuality
        ``week, p_attend, p_on_time, mean_arrival_minutes``: probability of attending
        (present or late; outside a dropout's final two weeks), of being on time given
        attended, and the mean arrival in minutes after the daily start.
    punctuality_trend
        One row: ``attendance_change_per_week, on_time_change_per_week,
        arrival_minutes_per_week`` (least-squares slopes of the weekly truth).
    outcomes
        ``indicator, timepoint, group, probability`` with group ``all``, ``completed``,
        ``not_completed`` (expected share answering yes).
    persons
        ``participant_id, cpr, birth_date``: the synthetic CPR-shaped numbers used in the
        municipal delivery files.
    """

    seed: int
    scale: str
    params: SynthParams
    change: pd.DataFrame
    means: pd.DataFrame
    municipality_deviations: pd.DataFrame
    dropout_hazard: pd.DataFrame
    punctuality: pd.DataFrame
    punctuality_trend: pd.DataFrame
    outcomes: pd.DataFrame
    persons: pd.DataFrame = field(repr=False)


# -- public API -------------------------------------------------------------------------------


def synthesize(
    *, seed: int = 2018, scale: Scale = "sample", **overrides: Any
) -> tuple[Dataset, GroundTruth]:
    """Draw a synthetic programme and return its validated Dataset and ground truth.

    Parameters
    ----------
    seed
        Seed of ``np.random.default_rng``; the same seed gives identical output.
    scale
        ``"sample"`` (Ishøj, Aalborg, Odense, Halsnæs; 2-3 teams each), ``"tiny"`` (one
        team of five with one dropout) or ``"national"`` (98 municipalities, ~20,000
        participants, ~1.5-2 million attendance rows).
    **overrides
        Fields of :class:`SynthParams`, e.g. ``teams_per_municipality=(40, 40)`` or
        ``effect_scale=0``.

    Returns
    -------
    (Dataset, GroundTruth)

    Notes
    -----
    See the module docstring for the generative model. The true mean change is
    ``E[clip(x_end)] - E[clip(x_baseline)]`` averaged over items of the domain, with
    ``E[clip(X, a, b)] = a Φ(α) + b (1 - Φ(β)) + μ (Φ(β) - Φ(α)) + σ (φ(α) - φ(β))`` for
    ``X ~ N(μ, σ²)``, ``α = (a-μ)/σ``, ``β = (b-μ)/σ``.

    Examples
    --------
    >>> from envejind_eval.synth import synthesize
    >>> ds, truth = synthesize(seed=1, scale="tiny")
    >>> len(ds.participants), int((ds.participants["status"] == "dropped_out").sum())
    (5, 1)
    """
    from envejind_eval.dataset import Dataset

    tables, truth = _generate(seed=seed, scale=scale, overrides=overrides)
    ds = Dataset.from_tables(tables, instruments=default_registry())
    return ds, truth


# -- parameters -------------------------------------------------------------------------------


def _params(scale: str, overrides: dict[str, Any]) -> SynthParams:
    if scale not in SCALES:
        raise ValueError(f"Expecting one of {', '.join(SCALES)}; got '{scale}'")
    names = {f.name for f in fields(SynthParams)}
    unknown = set(overrides) - names
    if unknown:
        raise ValueError(
            f"Expecting overrides from {', '.join(sorted(names))}; got {', '.join(sorted(unknown))}"
        )
    base = SynthParams()
    if scale == "tiny":
        base = replace(base, municipalities=("Ishøj",), teams_per_municipality=(1, 1))
    elif scale == "national":
        base = replace(
            base,
            municipalities=DANISH_MUNICIPALITIES,
            n_participants=20_000,
            first_start="2016-10-03",
            last_start="2019-12-30",
            p_four_day_week=0.2,
        )
    p = replace(base, **overrides)
    lo, hi = p.team_size
    if not 1 <= lo <= hi:
        raise ValueError("team_size must be (min, max) with 1 <= min <= max")
    return p


def _municipality_codes(names: tuple[str, ...]) -> list[str]:
    codes: list[str] = []
    for n in names:
        f = _ascii_fold(n).replace("-", "").upper()
        code, k = f[:3], 3
        while code in codes and k < len(f):
            k += 1
            code = f[:3] + f[k - 1]
        while code in codes:
            code = code + "X"
        codes.append(code)
    return codes


def _ascii_fold(s: str) -> str:
    s = s.replace("æ", "ae").replace("ø", "oe").replace("å", "aa")
    s = s.replace("Æ", "Ae").replace("Ø", "Oe").replace("Å", "Aa")
    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii")


# -- generation -------------------------------------------------------------------------------


def _generate(
    *, seed: int, scale: str, overrides: dict[str, Any]
) -> tuple[dict[str, pd.DataFrame], GroundTruth]:
    p = _params(scale, overrides)
    rng = np.random.default_rng(seed)
    W = p.n_weeks
    n_off = 7 * W

    # ---- teams -------------------------------------------------------------------------
    muni_names = p.municipalities
    n_mun = len(muni_names)
    if p.n_participants is not None:
        mean_size = (p.team_size[0] + p.team_size[1]) / 2
        n_teams_total = max(n_mun, round(p.n_participants / mean_size))
        weights = rng.lognormal(0.0, 0.8, n_mun)
        teams_per_mun = 1 + rng.multinomial(n_teams_total - n_mun, weights / weights.sum())
    else:
        lo, hi = p.teams_per_municipality
        teams_per_mun = rng.integers(lo, hi + 1, n_mun)
    n_teams = int(teams_per_mun.sum())
    team_mun = np.repeat(np.arange(n_mun), teams_per_mun)
    first = np.datetime64(p.first_start, "D")
    last = np.datetime64(p.last_start, "D")
    first_monday = first + ((7 - _weekday(first)) % 7)
    n_mondays = max(1, int((last - first_monday).astype(int)) // 7 + 1)
    team_start = first_monday + 7 * rng.integers(0, n_mondays, n_teams).astype("timedelta64[D]")
    # order teams by start within municipality so team numbers follow time
    order = np.lexsort((team_start, team_mun))
    team_start = team_start[order]
    team_num = np.concatenate([np.arange(1, k + 1) for k in teams_per_mun])
    codes = _municipality_codes(muni_names)
    team_ids = np.array([f"{codes[m]}-{k}" for m, k in zip(team_mun, team_num, strict=True)])
    # programme weekdays: Mon-Fri, or four of them
    pattern = np.ones((n_teams, 7), dtype=bool)
    pattern[:, 5:] = False
    four = rng.random(n_teams) < p.p_four_day_week
    drop_day = rng.integers(0, 5, n_teams)
    pattern[np.flatnonzero(four), drop_day[four]] = False
    days_per_week = pattern.sum(axis=1)
    team_start_min = np.where(rng.random(n_teams) < 0.3, 8 * 60 + 30, 9 * 60)
    last_weekday = 4 - np.argmax(pattern[:, 4::-1], axis=1)
    team_end = team_start + (7 * (W - 1) + last_weekday).astype("timedelta64[D]")
    # ART on two programme weekdays, sport on one
    art_days = np.zeros((n_teams, 7), dtype=bool)
    sport_day = np.zeros(n_teams, dtype=int)
    for t in range(n_teams):  # one small loop per team (not per participant-day)
        wd = np.flatnonzero(pattern[t])
        art_days[t, rng.choice(wd, 2, replace=False)] = True
        sport_day[t] = rng.choice(wd)
    n_mentors = rng.integers(2, 4, n_teams)

    # ---- participants ----------------------------------------------------------------
    lo, hi = p.team_size
    sizes = rng.integers(lo, hi + 1, n_teams)
    if scale == "tiny":
        sizes[:] = 5
    n = int(sizes.sum())
    pt = np.repeat(np.arange(n_teams), sizes)
    pmun = team_mun[pt]
    pid = _unique_hex(rng, n)
    sex = np.asarray(_SEXES)[rng.choice(4, n, p=_SEX_P)]
    age = rng.integers(16, 24, n)
    start = team_start[pt]
    start_year = start.astype("datetime64[Y]").astype(int) + 1970
    birth_year = start_year - age
    referred = np.asarray(_REFERRERS)[rng.choice(len(_REFERRERS), n, p=_REFERRER_P)]
    mentor_k = (rng.random(n) * n_mentors[pt]).astype(int) + 1
    mentor = np.array([f"{team_ids[t]}-M{k}" for t, k in zip(pt, mentor_k, strict=True)])

    # exits: weekly competing hazards
    weeks = np.arange(1, W + 1)
    h_drop = np.where(weeks <= p.early_weeks, p.hazard_early, p.hazard_late)
    h_exc = np.full(W, p.hazard_excluded)
    h_all = h_drop + h_exc
    u = rng.random((n, W))
    leaves = u < h_all[None, :]
    has_exit = leaves.any(axis=1)
    exit_week = np.where(has_exit, leaves.argmax(axis=1), W - 1)  # 0-based
    is_excl = has_exit & (rng.random(n) < (h_exc / h_all)[exit_week])
    is_drop = has_exit & ~is_excl
    if scale == "tiny":
        is_drop[:] = False
        is_excl[:] = False
        is_drop[-1] = True
        exit_week[-1] = 2
        has_exit = is_drop.copy()
    # exit on a random programme day of the exit week
    pat_p = pattern[pt]
    k_day = (rng.random(n) * days_per_week[pt]).astype(int)
    cum = np.cumsum(pat_p, axis=1)
    exit_wd = np.argmax(cum > k_day[:, None], axis=1)
    exit_off = np.where(has_exit, 7 * exit_week + exit_wd, 7 * (W - 1) + last_weekday[pt])
    planned_end = team_end[pt]
    exit_date = start + exit_off.astype("timedelta64[D]")
    status = np.where(is_drop, "dropped_out", np.where(is_excl, "excluded", "completed"))
    reason = np.full(n, None, dtype=object)
    reason[is_drop] = np.asarray(_DROPOUT_REASONS, dtype=object)[
        rng.choice(5, int(is_drop.sum()), p=(0.5, 0.15, 0.15, 0.1, 0.1))
    ]
    reason[is_excl] = np.asarray(_EXCLUSION_REASONS, dtype=object)[
        rng.integers(0, 3, int(is_excl.sum()))
    ]

    participants = pd.DataFrame(
        {
            "participant_id": pid,
            "municipality": np.asarray(muni_names, dtype=object)[pmun],
            "cohort_id": team_ids[pt],
            "mentor_id": mentor,
            "sex": sex,
            "birth_year": birth_year,
            "referred_by": referred,
            "start_date": start.astype("datetime64[us]"),
            "planned_end_date": planned_end.astype("datetime64[us]"),
            "status": status,
            "exit_date": exit_date.astype("datetime64[us]"),
            "exit_reason": reason,
        }
    )
    cohorts = pd.DataFrame(
        {
            "cohort_id": team_ids,
            "municipality": np.asarray(muni_names, dtype=object)[team_mun],
            "start_date": team_start.astype("datetime64[us]"),
            "end_date": team_end.astype("datetime64[us]"),
        }
    )

    # ---- attendance ------------------------------------------------------------------
    off = np.arange(n_off)
    sched = pattern[:, off % 7]  # team x offset
    enrolled = sched[pt] & (off[None, :] <= exit_off[:, None])
    ai, ao = np.nonzero(enrolled)
    aw = ao // 7  # 0-based week
    v_p = rng.normal(0.0, p.attend_person_sd, n)
    a0 = logit(p.attend_first)
    a1 = logit(p.attend_last) - a0
    lin = a0 + a1 * aw / max(W - 1, 1) + v_p[ai]
    final_two = (is_drop[ai]) & (exit_off[ai] - ao < 14)
    lin = lin - 1.2 * final_two
    attended = rng.random(len(ai)) < expit(lin)
    u_p = rng.normal(0.0, p.arrival_person_sd, n)
    arr = p.arrival_mean + u_p[ai] + p.arrival_per_week * aw
    arr = np.rint(arr + rng.normal(0.0, p.arrival_day_sd, len(ai)))
    arr = np.clip(arr, -120, 240)
    late = attended & (arr > 0)
    excused = rng.random(len(ai)) < 0.5
    att_status = np.where(
        attended,
        np.where(late, "late", "present"),
        np.where(excused, "excused", "unexcused"),
    )
    minute_of_day = (team_start_min[pt[ai]] + arr).astype(int)
    hhmm = np.array([f"{m // 60:02d}:{m % 60:02d}" for m in range(24 * 60)], dtype=object)
    arrival = hhmm[np.clip(minute_of_day, 0, 24 * 60 - 1)]
    arrival[~attended | (rng.random(len(ai)) < p.arrival_missing)] = None
    adate = start[ai] + ao.astype("timedelta64[D]")
    pid_cat = pd.Categorical.from_codes(ai, categories=pd.Index(pid, dtype=str))
    attendance = pd.DataFrame(
        {
            "participant_id": pid_cat,
            "date": adate.astype("datetime64[us]"),
            "status": att_status,
            "arrival_time": arrival,
        }
    )

    # ---- activities ------------------------------------------------------------------
    wd = ao % 7
    act_parts = []
    # ART: weeks 2-9 on the team's two ART weekdays, ~2 h (16 sessions, ~30 h)
    is_art = art_days[pt[ai], wd] & (aw >= 1) & (aw <= 8)
    sess_min = rng.choice(np.array([105.0, 110.0, 115.0, 120.0]), (n_teams, n_off))
    art_min = sess_min[pt[ai], ao]
    act_parts.append((is_art, "art", attended, art_min))
    # MI talks: about 2.5 per week on random programme days
    p_mi = 2.5 / days_per_week[pt[ai]]
    is_mi = rng.random(len(ai)) < p_mi
    mi_att = attended & (rng.random(len(ai)) < 0.92)
    mi_min = 5.0 * rng.integers(4, 13, len(ai))
    act_parts.append((is_mi, "mi", mi_att, mi_min))
    # sport once a week
    is_sport = sport_day[pt[ai]] == wd
    sp_att = attended & (rng.random(len(ai)) < 0.9)
    act_parts.append((is_sport, "sport", sp_att, np.full(len(ai), 90.0)))
    rows_i, rows_d, rows_a, rows_att, rows_min, rows_order = [], [], [], [], [], []
    for k, (sel, name, att, mins) in enumerate(act_parts):
        idx = np.flatnonzero(sel)
        rows_i.append(ai[idx])
        rows_d.append(ao[idx])
        rows_a.append(np.full(len(idx), name, dtype=object))
        rows_att.append(att[idx])
        rows_min.append(np.where(att[idx], mins[idx], np.nan))
        rows_order.append(np.full(len(idx), k))
    ri = np.concatenate(rows_i)
    rd = np.concatenate(rows_d)
    ro = np.concatenate(rows_order)
    srt = np.lexsort((ro, rd, ri))
    ri, rd = ri[srt], rd[srt]
    activities = pd.DataFrame(
        {
            "participant_id": pd.Categorical.from_codes(ri, categories=pd.Index(pid, dtype=str)),
            "date": (start[ri] + rd.astype("timedelta64[D]")).astype("datetime64[us]"),
            "activity": np.concatenate(rows_a)[srt],
            "attended": np.concatenate(rows_att)[srt],
            "minutes": np.concatenate(rows_min)[srt],
        }
    )

    # ---- measurements ----------------------------------------------------------------
    registry = default_registry()
    mun_dev = rng.normal(0.0, p.municipality_sd, n_mun)
    g_level = rng.standard_normal(n)
    g_slope = rng.standard_normal(n)
    exited_early = has_exit
    # timepoint presence (shared by the forms of that day) and dates
    tp_dates: dict[str, np.ndarray] = {}
    tp_present: dict[str, np.ndarray] = {}
    tp_dates["baseline"] = _weekday_shift(start + rng.integers(-7, 5, n).astype("timedelta64[D]"))
    tp_present["baseline"] = rng.random(n) < p.p_baseline
    mid = _weekday_shift(start + (56 + rng.integers(-4, 5, n)).astype("timedelta64[D]"))
    tp_dates["midway"] = mid
    tp_present["midway"] = (rng.random(n) < p.p_midway) & (exit_date >= mid)
    end_d = np.where(
        exited_early,
        exit_date + rng.integers(0, 8, n).astype("timedelta64[D]"),
        planned_end + rng.integers(-4, 8, n).astype("timedelta64[D]"),
    )
    end_d = _weekday_shift(end_d, back=True)
    tp_dates["end"] = end_d
    tp_present["end"] = rng.random(n) < np.where(exited_early, p.p_end_exited, p.p_end_completed)
    fu = _weekday_shift(planned_end + (90 + rng.integers(-14, 15, n)).astype("timedelta64[D]"))
    tp_dates["followup"] = fu
    tp_present["followup"] = rng.random(n) < np.where(
        exited_early, p.p_followup_exited, p.p_followup_completed
    )

    meas_parts: list[tuple[int, list[dict[str, Any]]]] = []
    truth_means: list[dict[str, Any]] = []
    truth_mun: list[dict[str, Any]] = []
    mun_share = np.bincount(pmun, minlength=n_mun) / n
    for iid in ("ungestjernen", "lfl", "art_skills"):
        inst = registry[iid]
        meas, tm, tmun = _measure(
            inst,
            rng,
            p=p,
            n=n,
            pmun=pmun,
            mun_dev=mun_dev,
            mun_share=mun_share,
            mun_names=muni_names,
            g_level=g_level,
            g_slope=g_slope,
            tp_present=tp_present,
            tp_dates=tp_dates,
        )
        meas_parts.append((len(meas_parts), meas))
        truth_means.extend(tm)
        truth_mun.extend(tmun)
    measurements = _measurement_frame(meas_parts, registry, pid)

    # ---- outcomes --------------------------------------------------------------------
    g_out = rng.standard_normal(n)
    completed = status == "completed"
    out_rows = []
    truth_out = []
    for t_k, tp in enumerate(OUTCOME_TIMEPOINTS):
        present = tp_present[tp]
        for ind in OUTCOME_INDICATORS:
            probs = OUTCOME_PARAMS[ind]
            b = logit(probs[0])
            full = logit(probs[t_k]) - b
            eff = full * np.where(completed, 1.0, p.noncompleter_share) * p.effect_scale
            pr = expit(b + eff + 0.7 * g_out)
            val = (rng.random(n) < pr).astype(float)
            val[rng.random(n) < 0.01] = np.nan
            idx = np.flatnonzero(present)
            out_rows.append(
                pd.DataFrame(
                    {"_p": idx, "_t": t_k, "timepoint": tp, "indicator": ind, "value": val[idx]}
                )
            )
            for grp, sel in (
                ("all", np.ones(n, bool)),
                ("completed", completed),
                ("not_completed", ~completed),
            ):
                truth_out.append(
                    {
                        "indicator": ind,
                        "timepoint": tp,
                        "group": grp,
                        "probability": float(pr[sel].mean()) if sel.any() else np.nan,
                    }
                )
    o = pd.concat(out_rows, ignore_index=True)
    o["_i"] = o["indicator"].map({k: i for i, k in enumerate(OUTCOME_INDICATORS)})
    o = o.sort_values(["_p", "_t", "_i"], kind="stable")
    outcomes = pd.DataFrame(
        {
            "participant_id": pd.Categorical.from_codes(
                o["_p"].to_numpy(), categories=pd.Index(pid, dtype=str)
            ),
            "timepoint": o["timepoint"].to_numpy(),
            "indicator": o["indicator"].to_numpy(),
            "value": o["value"].to_numpy(),
        }
    )

    # ---- persons (synthetic CPR) ------------------------------------------------------
    doy = (rng.random(n) * _days_in_year(birth_year)).astype(int)
    birth = (birth_year - 1970).astype("datetime64[Y]").astype("datetime64[D]") + doy.astype(
        "timedelta64[D]"
    )
    cpr = _synthetic_cpr(rng, birth, sex)
    persons = pd.DataFrame(
        {"participant_id": pid, "cpr": cpr, "birth_date": birth.astype("datetime64[us]")}
    )

    # ---- truth tables ----------------------------------------------------------------
    means = pd.DataFrame(truth_means)
    wide = means.pivot_table(
        index=["instrument", "rater", "domain"], columns="timepoint", values="true_mean", sort=False
    ).reset_index()
    change = pd.DataFrame(
        {
            "instrument": wide["instrument"],
            "rater": wide["rater"],
            "domain": wide["domain"],
            "baseline_mean": wide["baseline"],
            "end_mean": wide["end"],
            "true_change": wide["end"] - wide["baseline"],
        }
    )
    mdev = pd.DataFrame(truth_mun)
    mdev = mdev.merge(
        change[["instrument", "rater", "domain", "true_change"]].rename(
            columns={"true_change": "_overall"}
        ),
        on=["instrument", "rater", "domain"],
    )
    mdev["deviation"] = mdev["true_change"] - mdev["_overall"]
    mdev = mdev.drop(columns="_overall")
    surv = np.cumprod(1 - h_all)
    hazard = pd.DataFrame(
        {
            "week": weeks,
            "hazard_dropout": h_drop,
            "hazard_excluded": h_exc,
            "hazard": h_all,
            "survival": surv,
        }
    )
    punct = _punctuality_truth(p, v_sd=p.attend_person_sd)
    trend = pd.DataFrame(
        {
            "attendance_change_per_week": [_slope(punct["week"], punct["p_attend"])],
            "on_time_change_per_week": [_slope(punct["week"], punct["p_on_time"])],
            "arrival_minutes_per_week": [p.arrival_per_week],
        }
    )
    truth = GroundTruth(
        seed=seed,
        scale=scale,
        params=p,
        change=change,
        means=means,
        municipality_deviations=mdev,
        dropout_hazard=hazard,
        punctuality=punct,
        punctuality_trend=trend,
        outcomes=pd.DataFrame(truth_out),
        persons=persons,
    )
    tables = {
        "participants": participants,
        "cohorts": cohorts,
        "attendance": attendance,
        "activities": activities,
        "measurements": measurements,
        "outcomes": outcomes,
    }
    return tables, truth


def _measure(
    inst: Instrument,
    rng: np.random.Generator,
    *,
    p: SynthParams,
    n: int,
    pmun: np.ndarray,
    mun_dev: np.ndarray,
    mun_share: np.ndarray,
    mun_names: tuple[str, ...],
    g_level: np.ndarray,
    g_slope: np.ndarray,
    tp_present: dict[str, np.ndarray],
    tp_dates: dict[str, np.ndarray],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Any]]:
    spec = DOMAIN_PARAMS[inst.id]
    s = spec["sd"]
    lo, hi = inst.scale_min, inst.scale_max
    doms = inst.domain_ids
    item_dom = np.array([doms.index(i.domain) for i in inst.items])
    item_rev = np.array([i.reverse for i in inst.items])
    k_dom = np.bincount(item_dom, minlength=len(doms))
    n_items = len(inst.items)
    # item offsets (SD units), centred within their domain
    delta = rng.normal(0.0, 0.15, n_items)
    for d in range(len(doms)):
        sel = item_dom == d
        delta[sel] -= delta[sel].mean()
    delta[k_dom[item_dom] == 1] = 0.0
    var_i = np.where(k_dom[item_dom] > 1, p.var_item, 0.0)
    var_o = np.maximum(p.var_occasion - var_i / k_dom[item_dom], 0.0)
    base = np.array([spec["domains"][d][0] for d in doms])
    eff = np.array([spec["domains"][d][1] for d in doms]) * p.effect_scale
    # person level / slope per domain (shared by raters), half general factor
    lvl = np.sqrt(0.5) * g_level[:, None] + np.sqrt(0.5) * rng.standard_normal((n, len(doms)))
    slp = np.sqrt(0.5) * g_slope[:, None] + np.sqrt(0.5) * rng.standard_normal((n, len(doms)))
    sp, ss = np.sqrt(p.var_person), np.sqrt(p.var_slope)
    parts = []
    tmeans: list[dict[str, Any]] = []
    tmun: list[dict[str, Any]] = []
    codes = np.asarray(inst.missing_codes, dtype=float)
    for rater in inst.raters:
        bias, k_r = RATER_PARAMS.get(rater, (0.0, 1.0))
        for tp in ("baseline", "midway", "end", "followup"):
            f = TIME_FRACTION[tp]
            has = tp_present[tp] & (rng.random(n) < p.p_form)
            idx = np.flatnonzero(has)
            m = len(idx)
            # latent (n_forms x items), in SD units then scale points
            mean_sd = (
                delta[None, :]
                + bias
                + f * (eff[item_dom][None, :] + mun_dev[pmun[idx]][:, None]) * k_r
            )
            occ = rng.standard_normal((m, len(doms)))[:, item_dom]
            z = (
                sp * lvl[idx][:, item_dom]
                + f * ss * k_r * slp[idx][:, item_dom]
                + np.sqrt(var_o)[None, :] * occ
                + np.sqrt(var_i)[None, :] * rng.standard_normal((m, n_items))
            )
            x = base[item_dom][None, :] + s * (mean_sd + z)
            c = np.clip(x, lo, hi)
            fl = np.floor(c)
            scored = fl + (rng.random(c.shape) < (c - fl))
            raw = np.where(item_rev[None, :], lo + hi - scored, scored)
            r = rng.random(raw.shape)
            raw[r < p.item_missing] = np.nan
            use_code = (r >= p.item_missing) & (r < p.item_missing + p.item_missing_code)
            if len(codes):
                pick = codes[rng.integers(0, len(codes), raw.shape)]
                raw = np.where(use_code, pick, raw)
            parts.append(
                {
                    "_p": np.repeat(idx, n_items),
                    "timepoint": tp,
                    "rater": rater,
                    "item": np.tile(np.arange(n_items), m),
                    "date": np.repeat(tp_dates[tp][idx], n_items),
                    "value": raw.ravel(),
                }
            )
            # truth: expected scored item per municipality, averaged over domain items
            sd_t = s * np.sqrt(p.var_person + (f * k_r) ** 2 * p.var_slope + var_o + var_i)
            mu = base[item_dom][None, :] + s * (
                delta[None, :] + bias + f * (eff[item_dom][None, :] + mun_dev[:, None]) * k_r
            )  # municipality x item
            e_item = _expected_clip(mu, sd_t[None, :], lo, hi)
            onehot = (item_dom[:, None] == np.arange(len(doms))[None, :]) / k_dom[None, :]
            per_mun = e_item @ onehot  # municipality x domain
            overall = mun_share @ per_mun
            for d, dom in enumerate(doms):
                tmeans.append(
                    {
                        "instrument": inst.id,
                        "rater": rater,
                        "domain": dom,
                        "timepoint": tp,
                        "true_mean": float(overall[d]),
                    }
                )
            if tp in ("baseline", "end"):
                for j, mn in enumerate(mun_names):
                    for d, dom in enumerate(doms):
                        tmun.append(
                            {
                                "municipality": mn,
                                "instrument": inst.id,
                                "rater": rater,
                                "domain": dom,
                                "_tp": tp,
                                "_v": float(per_mun[j, d]),
                                "deviation_sd": float(mun_dev[j]),
                            }
                        )
    # collapse municipality truth to the change end - baseline
    tm = pd.DataFrame(tmun)
    if len(tm):
        w = tm.pivot_table(
            index=["municipality", "instrument", "rater", "domain", "deviation_sd"],
            columns="_tp",
            values="_v",
            sort=False,
        ).reset_index()
        w["true_change"] = w["end"] - w["baseline"]
        tmun_out = w[
            ["municipality", "instrument", "rater", "domain", "true_change", "deviation_sd"]
        ].to_dict("records")
    else:
        tmun_out = []
    return parts, tmeans, tmun_out


def _measurement_frame(
    meas_parts: list[tuple[int, list[dict[str, Any]]]],
    registry: dict[str, Instrument],
    pid: np.ndarray,
) -> pd.DataFrame:
    """Concatenate measurement blocks into one frame with categorical codes (fast)."""
    inst_ids = ["ungestjernen", "lfl", "art_skills"]
    tps = ["baseline", "midway", "end", "followup"]
    raters = ["self", "mentor", "staff"]
    items: list[str] = []
    offsets = []
    for iid in inst_ids:
        offsets.append(len(items))
        items.extend(registry[iid].item_ids)
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("p", "i", "t", "r", "it", "d", "v")}
    for k, parts in meas_parts:
        for b in parts:
            n_rows = len(b["_p"])
            cols["p"].append(b["_p"])
            cols["i"].append(np.full(n_rows, k, dtype=np.int8))
            cols["t"].append(np.full(n_rows, tps.index(b["timepoint"]), dtype=np.int8))
            cols["r"].append(np.full(n_rows, raters.index(b["rater"]), dtype=np.int8))
            cols["it"].append(b["item"] + offsets[k])
            cols["d"].append(b["date"])
            cols["v"].append(b["value"])
    c = {k: np.concatenate(v) for k, v in cols.items()}

    def cat(codes: np.ndarray, cats: list[str]) -> Any:
        return pd.Categorical.from_codes(codes, categories=pd.Index(cats, dtype=str))

    return pd.DataFrame(
        {
            "participant_id": cat(c["p"], list(pid)),
            "instrument": cat(c["i"], inst_ids),
            "timepoint": cat(c["t"], tps),
            "rater": cat(c["r"], raters),
            "item": cat(c["it"], items),
            "date": c["d"].astype("datetime64[us]"),
            "value": c["v"],
        }
    )


def _expected_clip(mu: np.ndarray, sd: np.ndarray | float, a: float, b: float) -> np.ndarray:
    """E[clip(X, a, b)] for X ~ N(mu, sd^2)."""
    al = (a - mu) / sd
    be = (b - mu) / sd
    pdf_al = np.exp(-0.5 * al**2) / np.sqrt(2 * np.pi)
    pdf_be = np.exp(-0.5 * be**2) / np.sqrt(2 * np.pi)
    return a * ndtr(al) + b * ndtr(-be) + mu * (ndtr(be) - ndtr(al)) + sd * (pdf_al - pdf_be)


def _punctuality_truth(p: SynthParams, *, v_sd: float) -> pd.DataFrame:
    W = p.n_weeks
    w0 = np.arange(W)
    # attendance: E[expit(lin + v)], v ~ N(0, v_sd^2), by Gauss-Hermite quadrature
    x, wq = np.polynomial.hermite_e.hermegauss(60)
    wq = wq / wq.sum()
    a0 = logit(p.attend_first)
    a1 = logit(p.attend_last) - a0
    lin = a0 + a1 * w0 / max(W - 1, 1)
    p_att = (expit(lin[:, None] + v_sd * x[None, :]) * wq[None, :]).sum(axis=1)
    mean_arr = p.arrival_mean + p.arrival_per_week * w0
    sd = np.sqrt(p.arrival_person_sd**2 + p.arrival_day_sd**2)
    # on time when the rounded arrival is at or before the start: X < 0.5
    p_on = ndtr((0.5 - mean_arr) / sd)
    return pd.DataFrame(
        {
            "week": w0 + 1,
            "p_attend": p_att,
            "p_on_time": p_on,
            "mean_arrival_minutes": mean_arr,
        }
    )


def _slope(x: pd.Series, y: pd.Series) -> float:
    xv = x.to_numpy(dtype=float)
    yv = y.to_numpy(dtype=float)
    return float(np.polyfit(xv, yv, 1)[0]) if len(xv) > 1 else 0.0


def _weekday(d: np.datetime64) -> int:
    """Monday = 0."""
    return int((d.astype("datetime64[D]").astype(int) - 4) % 7)


def _weekday_shift(d: np.ndarray, *, back: bool = False) -> np.ndarray:
    """Move weekend dates to the nearest weekday (Monday, or Friday with ``back``)."""
    d = d.astype("datetime64[D]")
    wd = (d.astype(int) - 4) % 7
    if back:
        shift = np.where(wd == 5, -1, np.where(wd == 6, -2, 0))
    else:
        shift = np.where(wd == 5, 2, np.where(wd == 6, 1, 0))
    return d + shift.astype("timedelta64[D]")


def _days_in_year(y: np.ndarray) -> np.ndarray:
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    return np.where(leap, 366, 365)


def _unique_hex(rng: np.random.Generator, n: int, width: int = 10) -> np.ndarray:
    vals = rng.integers(0, 16**width, n, dtype=np.int64)
    while len(np.unique(vals)) < n:
        _, first = np.unique(vals, return_index=True)
        dup = np.setdiff1d(np.arange(n), first)
        vals[dup] = rng.integers(0, 16**width, len(dup), dtype=np.int64)
    return np.array([f"{v:0{width}x}" for v in vals], dtype=object)


def _synthetic_cpr(rng: np.random.Generator, birth: np.ndarray, sex: np.ndarray) -> np.ndarray:
    """Random CPR-shaped numbers ``DDMMYY-SSSS`` with a valid date and century digit.

    The 7th digit follows the CPR century rules (0-3: 1900-1999; 4 and 9: 2000-2036 or
    1937-1999; 5-8: 2000-2057 or 1858-1899); the last digit is odd for males and even for
    females. No modulus-11 check: numbers issued since 2007 need not satisfy one.
    """
    n = len(birth)
    b = pd.DatetimeIndex(birth.astype("datetime64[ns]"))
    year = b.year.to_numpy()
    c19_late = np.array([0, 1, 2, 3, 4, 9])  # 1937-1999
    c19_early = np.array([0, 1, 2, 3])  # 1900-1936
    c20 = np.array([4, 5, 6, 7, 8, 9])  # 2000-2036
    dd = b.day.to_numpy()
    mm = b.month.to_numpy()
    yy = year % 100

    def draw(k: int, yr: np.ndarray, sx: np.ndarray) -> np.ndarray:
        d7 = np.where(
            yr >= 2000,
            c20[rng.integers(0, 6, k)],
            np.where(yr >= 1937, c19_late[rng.integers(0, 6, k)], c19_early[rng.integers(0, 4, k)]),
        )
        mid = rng.integers(0, 100, k)
        last = rng.integers(0, 5, k) * 2 + np.where(
            sx == "male", 1, np.where(sx == "female", 0, rng.integers(0, 2, k))
        )
        return d7 * 1000 + mid * 10 + last

    seq = draw(n, year, sex)
    key = ((dd * 100 + mm) * 100 + yy).astype(np.int64) * 10000 + seq
    while len(np.unique(key)) < n:
        _, first = np.unique(key, return_index=True)
        dup = np.setdiff1d(np.arange(n), first)
        seq[dup] = draw(len(dup), year[dup], sex[dup])
        key = ((dd * 100 + mm) * 100 + yy).astype(np.int64) * 10000 + seq
    return np.array(
        [f"{a:02d}{m:02d}{y:02d}-{s:04d}" for a, m, y, s in zip(dd, mm, yy, seq, strict=True)],
        dtype=object,
    )


# -- municipal delivery -----------------------------------------------------------------------

#: Fixed timestamp written into xlsx metadata and zip entries (reproducible files).
FIXED_TIMESTAMP = _dt.datetime(2018, 4, 1, 12, 0, 0)


def write_delivery(out: str | Path, *, seed: int = 2018, scale: Scale = "sample") -> Path:
    """Write a synthetic municipal delivery (see ``docs/delivery_format.md``).

    Writes ``deltagere.csv``, ``hold.csv``, the attendance register
    (``fremmoede_<kommune>.xlsx`` per municipality, one sheet per team; for
    ``scale="national"`` one long ``fremmoede.csv``), ``ankomsttider.csv``,
    ``aktiviteter.csv``, ``maalinger_<instrument>.csv``, ``status.csv``, the canonical
    tables in ``canonical/`` and a ``README.md``. The same seed gives byte-identical files.
    ``out`` must be new, empty or an earlier synthetic delivery (replaced only when the new
    one is complete); see :mod:`envejind_eval.outpath`.

    Returns
    -------
    Path
        The output folder.
    """
    if scale not in SCALES:
        raise ValueError(f"Expecting one of {', '.join(SCALES)}; got '{scale}'")
    from envejind_eval.outpath import staged

    with staged(out, kind="synth") as stage:  # refuses a folder holding anything else
        _write_files(stage.path, seed=seed, scale=scale)
    return Path(out)


def _write_files(out: Path, *, seed: int, scale: Scale) -> None:
    ds, truth = synthesize(seed=seed, scale=scale)
    cpr = truth.persons.set_index("participant_id")["cpr"]
    p = ds.participants
    cpr_of = _mapper(cpr)

    deltagere = pd.DataFrame(
        {
            "CPR": cpr_of(p["participant_id"]),
            "Kommune": p["municipality"],
            "Hold": p["cohort_id"],
            "Mentor": p["mentor_id"],
            "Køn": p["sex"].map(DELIVERY["sex"]),
            "Fødselsår": p["birth_year"]
            .astype("Int64")
            .astype(str)
            .where(p["birth_year"].notna(), ""),
            "Henvist af": p["referred_by"].map(DELIVERY["referred_by"]),
            "Startdato": _dk_date(p["start_date"]),
            "Planlagt slutdato": _dk_date(p["planned_end_date"]),
            "Status": p["status"].map(DELIVERY["status"]),
            "Slutdato": _dk_date(p["exit_date"]),
            "Ophørsårsag": p["exit_reason"],
        }
    )
    _write_dk_csv(deltagere, out / "deltagere.csv")
    c = ds.cohorts
    hold = pd.DataFrame(
        {
            "Hold": c["cohort_id"],
            "Kommune": c["municipality"],
            "Startdato": _dk_date(c["start_date"]),
            "Slutdato": _dk_date(c["end_date"]),
        }
    )
    _write_dk_csv(hold, out / "hold.csv")

    a = ds.attendance
    code = _attendance_codes(a, seed=seed)
    if scale == "national":
        _write_dk_csv(
            pd.DataFrame(
                {"CPR": cpr_of(a["participant_id"]), "Dato": _dk_date(a["date"]), "Kode": code}
            ),
            out / "fremmoede.csv",
        )
    else:
        _write_attendance_xlsx(out, p, c, a.assign(dk_code=code), cpr)
    has_time = a["arrival_time"].notna()
    at = a.loc[has_time]
    _write_dk_csv(
        pd.DataFrame(
            {
                "CPR": cpr_of(at["participant_id"]),
                "Dato": _dk_date(at["date"]),
                "Mødetid": at["arrival_time"],
            }
        ),
        out / "ankomsttider.csv",
    )
    act = ds.activities
    _write_dk_csv(
        pd.DataFrame(
            {
                "CPR": cpr_of(act["participant_id"]),
                "Dato": _dk_date(act["date"]),
                "Aktivitet": act["activity"].map(DELIVERY["activity"]),
                "Deltog": np.where(act["attended"], YES, NO),
                "Minutter": _dk_number(act["minutes"]),
            }
        ),
        out / "aktiviteter.csv",
    )
    m = ds.measurements
    for iid, inst in ds.instruments.items():
        mi = m.loc[m["instrument"] == iid]
        if not len(mi):
            continue
        form_keys = ["participant_id", "timepoint", "rater"]
        forms = mi.drop_duplicates(form_keys)[[*form_keys, "date"]]
        wide = mi.pivot(index=form_keys, columns="item", values="value")
        wide = wide.reindex(columns=inst.item_ids)
        forms = forms.join(wide, on=form_keys)
        df = pd.DataFrame(
            {
                "CPR": cpr_of(forms["participant_id"]),
                "Måletidspunkt": forms["timepoint"].map(DELIVERY["timepoint"]),
                "Bedømmer": forms["rater"].map(DELIVERY["rater"]),
                "Dato": _dk_date(forms["date"]),
            }
        )
        for item in inst.item_ids:
            df[item] = _dk_number(forms[item])
        _write_dk_csv(df, out / f"maalinger_{iid}.csv")
    o = ds.outcomes
    ow = o.pivot(index=["participant_id", "timepoint"], columns="indicator", values="value")
    keys = o.drop_duplicates(["participant_id", "timepoint"])[["participant_id", "timepoint"]]
    ow = keys.join(ow, on=["participant_id", "timepoint"])
    status = pd.DataFrame(
        {
            "CPR": cpr_of(ow["participant_id"]),
            "Måletidspunkt": ow["timepoint"].map(DELIVERY["timepoint"]),
        }
    )
    for ind in OUTCOME_INDICATORS:
        v = ow[ind] if ind in ow.columns else pd.Series(np.nan, index=ow.index)
        status[DELIVERY["indicator"][ind]] = np.where(v == 1, YES, np.where(v == 0, NO, ""))
    _write_dk_csv(status, out / "status.csv")

    ds.to_canonical(out / "canonical")
    (out / "README.md").write_text(_readme(seed=seed, scale=scale, ds=ds), encoding="utf-8")


def _mapper(cpr: pd.Series):  # type: ignore[no-untyped-def]
    lookup = cpr.to_dict()

    def f(ids: pd.Series) -> np.ndarray:
        codes, uniq = pd.factorize(ids.astype(str))
        return np.asarray([lookup[u] for u in uniq], dtype=object)[codes]

    return f


def _dk_date(s: pd.Series) -> np.ndarray:
    """dd-mm-yyyy strings ('' for missing), formatting each distinct date once."""
    codes, uniq = pd.factorize(s)
    strs = np.asarray(pd.DatetimeIndex(uniq).strftime("%d-%m-%Y"), dtype=object)
    out = np.full(len(s), "", dtype=object)
    ok = codes >= 0
    out[ok] = strs[codes[ok]]
    return out


def _dk_number(s: pd.Series) -> np.ndarray:
    v = s.to_numpy(dtype=float)
    out = np.full(len(v), "", dtype=object)
    ok = ~np.isnan(v)
    integral = ok & (v == np.round(v))
    out[integral] = [str(int(x)) for x in v[integral]]
    frac = ok & ~integral
    out[frac] = [repr(float(x)).replace(".", ",") for x in v[frac]]
    return out


def _write_dk_csv(df: pd.DataFrame, path: Path) -> None:
    """Danish Excel CSV: ';', decimal comma, UTF-8 with BOM, CRLF (cells preformatted).

    Written with pyarrow (fast for national scale). Cells never contain ``;``, quotes or
    line breaks, so nothing needs quoting; pandas writes the rare table that would.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    cols = {
        str(c): pa.array(np.where(pd.isna(v := df[c].to_numpy(dtype=object)), "", v).astype(str))
        for c in df.columns
    }
    opts = pacsv.WriteOptions(
        delimiter=";", eol="\r\n", quoting_style="none", quoting_header="none"
    )
    buf = io.BytesIO()
    try:
        pacsv.write_csv(pa.table(cols), buf, write_options=opts)
    except pa.ArrowInvalid:  # a cell needs quoting
        out = df.astype(object).where(df.notna(), "")
        out.to_csv(path, sep=";", index=False, encoding="utf-8-sig", lineterminator="\r\n")
        return
    path.write_bytes(b"\xef\xbb\xbf" + buf.getvalue())


def _attendance_codes(a: pd.DataFrame, *, seed: int) -> np.ndarray:
    """Danish codes: present M, late K, excused S (sick) or A (notified), unexcused F."""
    rng = np.random.default_rng([seed, 20180401])  # derived stream: keeps synthesize() unchanged
    st = a["status"].to_numpy(dtype=object)
    sick = rng.random(len(st)) < 0.6
    dk = DELIVERY["attendance"]
    return np.select(
        [st == "present", st == "late", (st == "excused") & sick, st == "excused"],
        [dk["present"], dk["late"], dk["excused"], EXCUSED_NOTIFIED],
        default=dk["unexcused"],
    ).astype(object)


def _write_attendance_xlsx(
    out: Path, p: pd.DataFrame, c: pd.DataFrame, a: pd.DataFrame, cpr: pd.Series
) -> None:
    from openpyxl import Workbook
    from openpyxl.writer.excel import ExcelWriter

    a = a.merge(p[["participant_id", "cohort_id"]], on="participant_id")
    for mun in sorted(c["municipality"].unique()):
        wb = Workbook()
        wb.remove(wb.active)
        wb.properties.creator = "envejind_eval (synthetic)"
        wb.properties.created = FIXED_TIMESTAMP
        wb.properties.modified = FIXED_TIMESTAMP
        for team in c.loc[c["municipality"] == mun].sort_values("start_date")["cohort_id"]:
            ws = wb.create_sheet(title=str(team))
            at = a.loc[a["cohort_id"] == team]
            dates = sorted(at["date"].unique())
            ids = p.loc[p["cohort_id"] == team, "participant_id"].tolist()
            ws.cell(row=1, column=1, value=f"Fremmøderegistrering – {team}")
            ws.cell(row=3, column=1, value="CPR")
            col_of = {}
            for k, d in enumerate(dates):
                cell = ws.cell(row=3, column=2 + k, value=pd.Timestamp(d).to_pydatetime())
                cell.number_format = "DD-MM-YYYY"
                col_of[pd.Timestamp(d)] = 2 + k
            row_of = {}
            for r, pid in enumerate(ids):
                ws.cell(row=4 + r, column=1, value=cpr[pid])
                row_of[pid] = 4 + r
            for rec in at.itertuples(index=False):
                ws.cell(
                    row=row_of[rec.participant_id],
                    column=col_of[pd.Timestamp(rec.date)],
                    value=rec.dk_code,
                )
            total_row = 4 + len(ids)
            ws.cell(row=total_row, column=1, value="I alt")
            counts = (
                at.loc[at["dk_code"].isin([DELIVERY["attendance"][s] for s in ("present", "late")])]
                .groupby("date")
                .size()
            )
            for d, k in col_of.items():
                ws.cell(row=total_row, column=k, value=int(counts.get(d, 0)))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            ExcelWriter(wb, archive).write_data()
        fname = f"fremmoede_{_ascii_fold(mun).replace(' ', '_')}.xlsx"
        (out / fname).write_bytes(_normalise_zip(buf.getvalue()))


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed entry timestamps and stable order (byte-identical output)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                stamp = FIXED_TIMESTAMP.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
                content = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)",
                    rb"\g<1>" + stamp + rb"\g<2>",
                    content,
                )
            zi = zipfile.ZipInfo(info.filename, date_time=FIXED_TIMESTAMP.timetuple()[:6])
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            dst.writestr(zi, content)
    return buf.getvalue()


def _readme(*, seed: int, scale: str, ds: Dataset) -> str:
    p = ds.participants
    return f"""# Synthetic delivery (seed {seed}, scale "{scale}")

**Every person, CPR-shaped number, date and value in this folder is synthetic.** It was
generated by `envejind-eval synth --out <folder> --seed {seed} --scale {scale}`
(`envejind_eval.synth.write_delivery`). No real young person, mentor or municipality record
was used; the CPR-shaped numbers are random (valid date part and century digit only) and
belong to nobody in particular. The municipality names are real, their data are not.

Contents: {len(p)} young people in {p["cohort_id"].nunique()} teams in
{p["municipality"].nunique()} municipalities.

- Municipal delivery files, as staff keep them: see `docs/delivery_format.md` in the
  repository (`deltagere.csv`, `hold.csv`, attendance register, `ankomsttider.csv`,
  `aktiviteter.csv`, `maalinger_<instrument>.csv`, `status.csv`).
- `canonical/`: the same data as canonical tables (UTF-8 CSV, ISO dates) with synthetic
  `participant_id`s (not HMAC pseudonyms of the CPR column).

The ground truth the data were drawn from is available in Python:
`envejind_eval.synth.synthesize(seed={seed}, scale="{scale}")[1]`.
"""
