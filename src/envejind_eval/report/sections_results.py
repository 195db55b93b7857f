"""Section builders over the analysis layer: results per instrument, the programme's four
claims, supplementary outcomes, attendance and dose, attrition and sensitivity.

A builder returns ``None`` when the data hold nothing for its section (the section is
absent, never filled with made-up numbers). The analysis and figure modules are imported
inside the builders, so that ``import envejind_eval`` stays fast.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from envejind_eval.errors import EnvejindWarning, InsufficientDataError
from envejind_eval.figures.labels import CODE_LABELS
from envejind_eval.instruments import CLAIMS
from envejind_eval.report import fmt
from envejind_eval.report.model import (
    Block,
    Context,
    Figure,
    Heading,
    Para,
    Published,
    Section,
    Table,
)
from envejind_eval.report.sections import code_label
from envejind_eval.report.texts import add

add(
    {
        "results_intro": {
            "da": "For hvert måleredskab sammenlignes de unges score ved start og slut. Tabellerne "
            "viser antal par (n), gennemsnit før og efter, ændringen med 95 %-konfidensinterval, "
            "p-værdien fra Wilcoxons fortegnsrangtest og effektstørrelsen d_z. Positive "
            "ændringer er forbedringer.",
            "en": "For each instrument the young people's scores at baseline and end are "
            "compared. The tables show the number of pairs (n), the means before and after, the "
            "change with its 95 % confidence interval, the p-value of Wilcoxon's signed-rank test "
            "and the effect size d_z. Positive changes are improvements.",
        },
        "results_total": {
            "da": "{inst} ({rater}): samlet score ændret med {diff} point {ci} fra {pre} til {post} "
            "(n = {n}; d_z = {dz}; {p}).",
            "en": "{inst} ({rater}): total score changed by {diff} points {ci} from {pre} to {post} "
            "(n = {n}; d_z = {dz}; {p}).",
        },
        "results_excluded": {
            "da": "{k} deltager(e) uden både start- og slutmåling indgår ikke i parrene; se "
            "afsnittet om frafald.",
            "en": "{k} participant(s) without both a baseline and an end measurement are not in "
            "the pairs; see the attrition section.",
        },
        "tbl_prepost": {"da": "{inst}: før og efter", "en": "{inst}: before and after"},
        "tbl_rci": {"da": "{inst}: pålidelig ændring", "en": "{inst}: reliable change"},
        "fig_prepost": {
            "da": "{inst}: gennemsnit ved start og slut",
            "en": "{inst}: mean at baseline and end",
        },
        "fig_rci": {
            "da": "{inst}: andel med pålidelig ændring",
            "en": "{inst}: share with reliable change",
        },
        "fig_star": {
            "da": "Stjerneprofil ved start og slut",
            "en": "Star profile at baseline and end",
        },
        "rci_text": {
            "da": "Pålidelig ændring (Jacobson og Truax) tager højde for måleusikkerheden: en "
            "ændring tæller kun, hvis den er større end det, målefejl alene kan forklare.",
            "en": "Reliable change (Jacobson and Truax) accounts for measurement error: a change "
            "only counts when it is larger than measurement error alone can explain.",
        },
        "col_unit": {"da": "Domæne", "en": "Domain"},
        "col_rater_label": {"da": "Bedømmer", "en": "Rater"},
        "col_mean_pre": {"da": "Start", "en": "Baseline"},
        "col_mean_post": {"da": "Slut", "en": "End"},
        "col_mean_diff": {"da": "Ændring", "en": "Change"},
        "col_ci_low": {"da": "95 % KI, nedre", "en": "95 % CI, lower"},
        "col_ci_high": {"da": "95 % KI, øvre", "en": "95 % CI, upper"},
        "col_p": {"da": "p (Wilcoxon)", "en": "p (Wilcoxon)"},
        "col_cohens_dz": {"da": "d_z", "en": "d_z"},
        "col_n_pairs": {"da": "n (par)", "en": "n (pairs)"},
        "col_improved": {"da": "Forbedret", "en": "Improved"},
        "col_unchanged": {"da": "Uændret", "en": "Unchanged"},
        "col_deteriorated": {"da": "Forværret", "en": "Deteriorated"},
        "col_n_class": {"da": "Med par", "en": "With a pair"},
        # claims
        "claims_intro": {
            "da": "Programbeskrivelsen lover fire resultater. For hvert af dem samles de mål, der "
            "belyser det. Et resultat regnes som understøttet af et mål, når hele "
            "konfidensintervallet for ændringen ligger på forbedringssiden.",
            "en": "The programme description promises four results. For each, the measures that "
            "speak to it are gathered. A result counts as supported by a measure when the whole "
            "confidence interval of the change lies on the side of improvement.",
        },
        "claim_measure": {
            "da": "{inst}, {unit} ({rater}): ændring {diff} {ci}, n = {n}.",
            "en": "{inst}, {unit} ({rater}): change {diff} {ci}, n = {n}.",
        },
        "claim_measure_hidden": {
            "da": "{inst}, {unit} ({rater}): for få par til at vise resultatet.",
            "en": "{inst}, {unit} ({rater}): too few pairs to show the result.",
        },
        "claim_verdict": {
            "da": "Samlet: {k} af {m} mål viser en sikker forbedring.",
            "en": "Overall: {k} of {m} measures show a clear improvement.",
        },
        "claim_none": {
            "da": "Ingen af rapportens mål belyser dette resultat.",
            "en": "None of the report's measures speaks to this result.",
        },
        "claim_rhythm_attendance": {
            "da": "Fremmøde: andelen af fremmødedage med ankomst til tiden gik fra {pre} i de "
            "første uger til {post} i de sidste (n = {n}).",
            "en": "Attendance: the share of attended days with on-time arrival went from {pre} in "
            "the first weeks to {post} in the last (n = {n}).",
        },
        # outcomes
        "outcomes_intro": {
            "da": "De supplerende spørgsmål om uddannelse, beskæftigelse, sigtelser og bolig "
            "stilles ved start og slut. Ændringen testes med McNemars eksakte test for parrede "
            "ja/nej-svar.",
            "en": "The supplementary questions on education, employment, police charges and "
            "housing are asked at baseline and end. The change is tested with McNemar's exact "
            "test for paired yes/no answers.",
        },
        "outcome_line": {
            "da": "{ind}: {pre} ved start og {post} ved slut (n = {n}; {p}).",
            "en": "{ind}: {pre} at baseline and {post} at the end (n = {n}; {p}).",
        },
        "tbl_outcomes": {"da": "Status ved start og slut", "en": "Status at baseline and end"},
        "fig_outcomes": {"da": "Andel med hver status", "en": "Share with each status"},
        **{f"ind_{c}": dict(v) for c, v in CODE_LABELS["indicator"].items()},
        "col_indicator": {"da": "Status", "en": "Status"},
        "col_share_pre": {"da": "Andel ved start", "en": "Share at baseline"},
        "col_share_post": {"da": "Andel ved slut", "en": "Share at end"},
        "col_p_value": {"da": "p", "en": "p"},
        # attendance
        "attendance_intro": {
            "da": "Fremmøde er andelen af planlagte dage, hvor den unge mødte (til tiden eller "
            "for sent). Samlet var fremmødet {rate}.",
            "en": "Attendance is the share of scheduled days on which the young person came (on "
            "time or late). Overall attendance was {rate}.",
        },
        "tbl_attendance": {"da": "Fremmøde per kommune", "en": "Attendance per municipality"},
        "tbl_dose": {"da": "Aktivitetsdosis per kommune", "en": "Activity dose per municipality"},
        "tbl_rhythm": {
            "da": "Døgnrytme: ankomst i første og sidste uger",
            "en": "Daily rhythm: arrival in the first and last weeks",
        },
        "col_n_participants": {"da": "Deltagere", "en": "Participants"},
        "col_attendance_rate": {"da": "Fremmøde", "en": "Attendance"},
        "col_unexcused_rate": {"da": "Ulovligt fravær", "en": "Unexcused absence"},
        "col_late_rate": {"da": "For sent", "en": "Late"},
        "col_measure_label": {"da": "Mål", "en": "Measure"},
        "col_pre": {"da": "Første uger", "en": "First weeks"},
        "col_post": {"da": "Sidste uger", "en": "Last weeks"},
        "m_art_hours": {"da": "ART-timer", "en": "ART hours"},
        "m_art_sessions": {"da": "ART-sessioner", "en": "ART sessions"},
        "m_mi_talks": {"da": "MI-samtaler", "en": "MI talks"},
        "m_mi_per_week": {"da": "MI-samtaler per uge", "en": "MI talks per week"},
        "m_on_time_share": {"da": "Andel til tiden", "en": "Share on time"},
        "m_arrival_minutes": {"da": "Ankomsttid", "en": "Arrival time"},
        # attrition
        "attrition_intro": {
            "da": "Frafald kan skævvride før/efter-resultaterne, hvis de unge, der falder fra, "
            "adskiller sig fra dem, der gennemfører. Tabellen sammenligner deres startscore.",
            "en": "Attrition can bias the before/after results if those who drop out differ from "
            "those who complete. The table compares their baseline scores.",
        },
        "sensitivity_text": {
            "da": "Følsomhedsanalyse ({inst}, samlet score): blandt de {ncc} med begge målinger "
            "er ændringen {cc} {cci}; med multipel imputation af manglende målinger for alle "
            "{nitt} er den {mi} {mici}.",
            "en": "Sensitivity analysis ({inst}, total score): among the {ncc} with both "
            "measurements the change is {cc} {cci}; with multiple imputation of missing "
            "measurements for all {nitt} it is {mi} {mici}.",
        },
        "tbl_attrition": {
            "da": "Startscore for gennemførte og frafaldne",
            "en": "Baseline score of completers and dropouts",
        },
        "tbl_sensitivity": {
            "da": "Følsomhedsanalyse: ændring med og uden imputation",
            "en": "Sensitivity analysis: change with and without imputation",
        },
        "grp_completers": {"da": "Gennemført", "en": "Completed"},
        "grp_dropouts": {"da": "Frafaldet/udelukket", "en": "Dropped out/excluded"},
        "an_cc": {"da": "Komplette par", "en": "Complete pairs"},
        "an_mi": {"da": "Multipel imputation", "en": "Multiple imputation"},
        "col_analysis": {"da": "Analyse", "en": "Analysis"},
    }
)

PREPOST_ESTIMATES = (
    "mean_pre",
    "mean_post",
    "mean_diff",
    "ci_low",
    "ci_high",
    "wilcoxon_p_value",
    "cohens_dz",
)


def _quiet(fn: Any, *args: Any, **kw: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EnvejindWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*args, **kw)


def _measured(ctx: Context) -> list[str]:
    m = ctx.ds.measurements
    have = set(m["instrument"].unique()) if len(m) else set()
    return [i for i in ctx.ds.instruments if i in have]


# -- results per instrument -----------------------------------------------------------------


def _prepost_table(ctx: Context, inst_id: str) -> Table | None:
    from envejind_eval.analysis.progression import pre_post

    inst = ctx.ds.instruments[inst_id]
    parts = []
    for level in ("domain", "total"):
        try:
            parts.append(
                _quiet(pre_post, ctx.ds, inst_id, level=level, n_boot=ctx.n_boot, seed=ctx.seed)
            )
        except InsufficientDataError:
            continue
    if not parts:
        return None
    d = pd.concat(parts, ignore_index=True)
    d = d.rename(columns={"rater": "rater_code"})
    d.insert(0, "unit_label", d["unit"].map(lambda u: inst.label(u, ctx.lang)))
    d.insert(1, "rater", d["rater_code"].map(lambda r: code_label(ctx, "rater", r)))
    keep = [
        "instrument",
        "level",
        "unit",
        "rater_code",
        "unit_label",
        "rater",
        "n",
        "n_excluded",
        *PREPOST_ESTIMATES,
        "wilcoxon_method",
    ]
    order = {u: k for k, u in enumerate([*inst.domain_ids, "total"])}
    d = d.assign(_o=d["unit"].map(order)).sort_values(["rater_code", "_o"], kind="stable")
    d = d[keep].reset_index(drop=True)
    labels = {
        "unit_label": ctx.t("col_unit"),
        "rater": ctx.t("col_rater_label"),
        "n": ctx.t("col_n_pairs"),
        "mean_pre": ctx.t("col_mean_pre"),
        "mean_post": ctx.t("col_mean_post"),
        "mean_diff": ctx.t("col_mean_diff"),
        "ci_low": ctx.t("col_ci_low"),
        "ci_high": ctx.t("col_ci_high"),
        "wilcoxon_p_value": ctx.t("col_p"),
        "cohens_dz": ctx.t("col_cohens_dz"),
    }
    if d["rater_code"].nunique() == 1:
        labels.pop("rater")
    return Table(
        f"prepost_{inst_id}",
        ctx.t("tbl_prepost", inst=inst.name[ctx.lang]),
        d,
        by=("rater_code", "unit"),
        n_col="n",
        # the analysed pairs and the excluded are two disjoint groups (no published total);
        # read as "excluded among the n" the counts can contradict each other
        count_cols=("n", "n_excluded"),
        value_cols=PREPOST_ESTIMATES,
        parts_of_scope=True,  # n + n_excluded = the participants of the scope
        # who has a pre/post pair is a fact of data collection (forms received), not an
        # attribute of the person (docs/disclosure.md rule 9): both are shown as they are
        known_cols=("n", "n_excluded"),
        population=f"prepost_{inst_id}",
        formats={
            "n": "int",
            "mean_pre": "num1",
            "mean_post": "num1",
            "mean_diff": "num2",
            "ci_low": "lim2",
            "ci_high": "lim2",
            "wilcoxon_p_value": "p",
            "cohens_dz": "num2",
        },
        labels=labels,
    )


def _rci_table(ctx: Context, inst_id: str) -> Table | None:
    from envejind_eval.analysis.progression import reliable_change

    inst = ctx.ds.instruments[inst_id]
    # the SD of baseline scores comes from the whole run, so a municipality's counts add up
    # to the national ones (and a participant is classified the same way in every report)
    ref = ctx.national if ctx.national is not None else ctx.ds
    try:
        rc = _quiet(reliable_change, ref, inst_id, level="domain")
    except InsufficientDataError:
        return None
    rc = rc.loc[rc["participant_id"].isin(ctx.ds.participants["participant_id"])]
    rc = rc.loc[rc["rc_class"].notna()]
    if not len(rc):
        return None
    classes = ["improved", "unchanged", "deteriorated"]
    w = (
        rc.assign(rc_class=pd.Categorical(rc["rc_class"], categories=classes))
        .groupby(["rater", "unit"], observed=False, sort=False)["rc_class"]
        .value_counts()
        .unstack("rc_class", fill_value=0)
        .reindex(columns=classes, fill_value=0)
        .reset_index()
    )
    w.columns = ["rater_code", "unit", *classes]
    w = w.loc[w[classes].sum(axis=1) > 0].copy()
    order = {u: k for k, u in enumerate(inst.domain_ids)}
    w = w.sort_values(
        ["rater_code", "unit"], key=lambda s: s.map(order) if s.name == "unit" else s, kind="stable"
    ).reset_index(drop=True)
    w["n"] = w[classes].sum(axis=1).astype("int64")
    for c in classes:
        w[c] = w[c].astype("int64")
    w.insert(0, "instrument", inst_id)
    w.insert(3, "unit_label", w["unit"].map(lambda u: inst.label(u, ctx.lang)))
    w.insert(4, "rater", w["rater_code"].map(lambda r: code_label(ctx, "rater", r)))
    labels = {
        "unit_label": ctx.t("col_unit"),
        "rater": ctx.t("col_rater_label"),
        "n": ctx.t("col_n_class"),
        **{c: ctx.t(f"col_{c}") for c in classes},
    }
    if w["rater_code"].nunique() == 1:
        labels.pop("rater")
    return Table(
        f"rci_{inst_id}",
        ctx.t("tbl_rci", inst=inst.name[ctx.lang]),
        w[["instrument", "rater_code", "unit", "unit_label", "rater", "n", *classes]],
        by=("rater_code", "unit"),
        count_cols=("n", *classes),
        total="n",
        population=f"rci_{inst_id}",
        # the pairs classified are the pre/post pairs of the domain (forms received, a
        # headcount: disclosure.md rule 9); the classes are attributes, protected against it
        known_cols=("n",),
        formats=dict.fromkeys(["n", *classes], "int"),
        labels=labels,
    )


def _prepost_rows(data: pd.DataFrame) -> pd.DataFrame:
    d = data.dropna(subset=["mean_pre", "mean_post", "mean_diff"])
    return d.rename(columns={"rater_code": "rater", "rater": "rater_label"})


def results(ctx: Context) -> Section | None:
    from envejind_eval.figures.change import reliable_change_bars
    from envejind_eval.figures.prepost import pre_post_dumbbell
    from envejind_eval.figures.star import star_profile

    tables: list[Table] = []
    figures: list[Figure] = []
    per_inst: list[tuple[str, Table, Table | None]] = []
    for inst_id in _measured(ctx):
        pp = _prepost_table(ctx, inst_id)
        if pp is None:
            continue
        rc = _rci_table(ctx, inst_id)
        tables += [pp] + ([rc] if rc is not None else [])
        per_inst.append((inst_id, pp, rc))
        name = ctx.ds.instruments[inst_id].name[ctx.lang]
        figures.append(
            _inst_figure(
                ctx,
                f"prepost_{inst_id}",
                ctx.t("fig_prepost", inst=name),
                pp,
                pre_post_dumbbell,
                _prepost_rows,
                inst_id,
            )
        )
        if inst_id == "ungestjernen":
            figures.append(
                _inst_figure(
                    ctx, "star_profile", ctx.t("fig_star"), pp, star_profile, _prepost_rows, inst_id
                )
            )
        if rc is not None:
            figures.append(
                _inst_figure(
                    ctx,
                    f"rci_{inst_id}",
                    ctx.t("fig_rci", inst=name),
                    rc,
                    reliable_change_bars,
                    _rci_long,
                    inst_id,
                )
            )
    if not tables:
        return None
    figs = {f.name: f for f in figures}

    def narrate(pub: Published) -> list[Block]:
        L = ctx.lang
        out: list[Block] = [Para(ctx.t("results_intro"))]
        for inst_id, pp, rc in per_inst:
            inst = ctx.ds.instruments[inst_id]
            out.append(Heading(inst.name[L]))
            d = pp.data
            for _, r in d.loc[d["level"] == "total"].iterrows():
                w = {"unit": "total", "rater_code": r["rater_code"]}
                if not pub.shown(pp.name, "n", "mean_diff", "mean_pre", "mean_post", **w):
                    kw = {"inst": inst.name[L], "unit": inst.label("total", L), "rater": r["rater"]}
                    out.append(Para(ctx.t("claim_measure_hidden", **kw)))
                    continue
                out.append(
                    Para(
                        ctx.t(
                            "results_total",
                            inst=inst.name[L],
                            rater=r["rater"],
                            diff=pub.fmt(pp.name, "mean_diff", "num2", **w),
                            ci=_ci(pub, pp.name, L, **w),
                            pre=pub.fmt(pp.name, "mean_pre", "num1", **w),
                            post=pub.fmt(pp.name, "mean_post", "num1", **w),
                            n=pub.fmt(pp.name, "n", "int", **w),
                            dz=pub.fmt(pp.name, "cohens_dz", "num2", **w),
                            p=pub.fmt(pp.name, "wilcoxon_p_value", "ptext", **w),
                        )
                    )
                )
            if f"prepost_{inst_id}" in figs:
                out.append(figs[f"prepost_{inst_id}"])
            if inst_id == "ungestjernen" and "star_profile" in figs:
                out.append(figs["star_profile"])
            out.append(pp)
            if rc is not None:
                out.append(Para(ctx.t("rci_text")))
                if f"rci_{inst_id}" in figs:
                    out.append(figs[f"rci_{inst_id}"])
                out.append(rc)
        return out

    return Section("results", ctx.t("sec_results"), tables=tables, figures=figures, narrate=narrate)


def _inst_figure(
    ctx: Context,
    name: str,
    title: str,
    table: Table,
    fn: Any,
    rows: Any,
    instrument: str,
) -> Figure:
    """A figure of one instrument drawn by ``fn`` from ``rows(gated data of table)``."""
    return Figure(
        name,
        title,
        table.name,
        lambda d: _draw(
            fn, rows(d), instrument=instrument, lang=ctx.lang, instruments=ctx.ds.instruments
        ),
    )


def _draw(fn: Any, data: pd.DataFrame, **kw: Any) -> Any:
    if not len(data):
        return None
    return fn(data, **kw)


def _rci_long(d: pd.DataFrame) -> pd.DataFrame:
    d = d.dropna(subset=["n", "improved", "unchanged", "deteriorated"])
    rows = []
    for _, r in d.iterrows():
        for c in ("improved", "unchanged", "deteriorated"):
            rows.append(
                {
                    "instrument": r["instrument"],
                    "rater": r["rater_code"],
                    "unit": r["unit"],
                    "change_class": c,
                    "n_class": int(r[c]),
                    "n": int(r["n"]),
                    "share": r[c] / r["n"],
                }
            )
    return pd.DataFrame(rows)


def _ci(pub: Published, table: str, L: fmt.Lang, **w: Any) -> str:
    lo, hi = pub.raw(table, "ci_low", **w), pub.raw(table, "ci_high", **w)
    if lo is None or hi is None:
        return ""
    return fmt.ci(lo, hi, L, 2)


# -- the four claims ------------------------------------------------------------------------

FOUR_CLAIMS = ("daily_rhythm", "self_control_social", "responsibility", "future_prospects")


def claims(ctx: Context) -> Section | None:
    tables: list[Table] = []
    rhythm = _rhythm_table(ctx)
    if rhythm is not None:
        tables.append(rhythm)

    def narrate(pub: Published) -> list[Block]:
        L = ctx.lang
        out: list[Block] = [Para(ctx.t("claims_intro"))]
        for claim in FOUR_CLAIMS:
            out.append(Heading(CLAIMS[claim][L]))
            lines, k, m = [], 0, 0
            for inst_id in _measured(ctx):
                inst = ctx.ds.instruments[inst_id]
                name = f"prepost_{inst_id}"
                if name not in pub:
                    continue
                d = pub.tables[name].data
                for dom in inst.domains:
                    if dom.claim != claim:
                        continue
                    for _, r in d.loc[(d["level"] == "domain") & (d["unit"] == dom.id)].iterrows():
                        w = {"unit": dom.id, "rater_code": r["rater_code"]}
                        lo = pub.raw(name, "ci_low", **w)
                        hi = pub.raw(name, "ci_high", **w)
                        kw = {"inst": inst.name[L], "unit": dom.label[L], "rater": r["rater"]}
                        if lo is None or hi is None:
                            lines.append(ctx.t("claim_measure_hidden", **kw))
                            continue
                        m += 1
                        better = lo > 0 if inst.higher_is_better else hi < 0
                        k += int(better)
                        lines.append(
                            ctx.t(
                                "claim_measure",
                                **kw,
                                diff=pub.fmt(name, "mean_diff", "num2", **w),
                                ci=fmt.ci(lo, hi, L, 2),
                                n=pub.fmt(name, "n", "int", **w),
                            )
                        )
            if claim == "daily_rhythm" and "rhythm" in pub:
                r = pub.row("rhythm", measure="on_time_share")
                if r is not None:
                    lines.append(
                        ctx.t(
                            "claim_rhythm_attendance",
                            pre=pub.fmt("rhythm", "mean_pre", "pct", measure="on_time_share"),
                            post=pub.fmt("rhythm", "mean_post", "pct", measure="on_time_share"),
                            n=pub.fmt("rhythm", "n", "int", measure="on_time_share"),
                        )
                    )
            if not lines:
                out.append(Para(ctx.t("claim_none")))
                continue
            out += [Para(x) for x in lines]
            if m:
                out.append(Para("**" + ctx.t("claim_verdict", k=k, m=m) + "**"))
        if rhythm is not None:
            out.append(rhythm)
        return out

    return Section("claims", ctx.t("sec_claims"), tables=tables, narrate=narrate)


def claim_verdicts(ctx: Context, pub: Published) -> list[tuple[str, int, int]]:
    """(claim label, measures with a clear improvement, measures shown) per claim."""
    out = []
    for claim in FOUR_CLAIMS:
        k = m = 0
        for inst_id in _measured(ctx):
            inst = ctx.ds.instruments[inst_id]
            name = f"prepost_{inst_id}"
            if name not in pub:
                continue
            d = pub.tables[name].data
            for dom in inst.domains:
                if dom.claim != claim:
                    continue
                for _, r in d.loc[(d["level"] == "domain") & (d["unit"] == dom.id)].iterrows():
                    w = {"unit": dom.id, "rater_code": r["rater_code"]}
                    lo, hi = pub.raw(name, "ci_low", **w), pub.raw(name, "ci_high", **w)
                    if lo is None or hi is None:
                        continue
                    m += 1
                    k += int(lo > 0 if inst.higher_is_better else hi < 0)
        out.append((CLAIMS[claim][ctx.lang], k, m))
    return out


def _rhythm_table(ctx: Context) -> Table | None:
    from envejind_eval.analysis.attendance import daily_rhythm

    # national report only (one table for the whole run); the report shows the paired
    # first-weeks/last-weeks comparison only, so the weekly mixed-model trend is not fitted
    if not len(ctx.ds.attendance) or ctx.scope != "national":
        return None
    try:
        r = _quiet(daily_rhythm, ctx.ds, n_boot=ctx.n_boot, seed=ctx.seed, mixed_model=False)
    except (InsufficientDataError, ValueError):
        return None
    p = r.paired
    if not len(p):
        return None
    d = pd.DataFrame(
        {
            "measure": p["measure"],
            "measure_label": p["measure"].map(lambda m: code_label(ctx, "m", m)),
            "n": p["n"].astype("int64"),
            "mean_pre": p["mean_pre"],
            "mean_post": p["mean_post"],
            "mean_diff": p["mean_diff"],
            "ci_low": p["ci_low"],
            "ci_high": p["ci_high"],
        }
    ).reset_index(drop=True)
    # a share on the on-time row, a time of day on the arrival row: shown as text columns
    # (the numeric columns stay in the CSV)
    for col, share_kind, time_kind in (
        ("mean_pre", "pct", "clock"),
        ("mean_post", "pct", "clock"),
        ("mean_diff", "pct_points", "minutes"),
        ("ci_low", "pct_points_lim", "minutes_lim"),
        ("ci_high", "pct_points_lim", "minutes_lim"),
    ):
        d[f"{col}_text"] = [
            _rhythm_fmt(v, share_kind if m == "on_time_share" else time_kind, ctx.lang)
            for v, m in zip(d[col], d["measure"], strict=True)
        ]
    text_cols = [f"{c}_text" for c in ("mean_pre", "mean_post", "mean_diff", "ci_low", "ci_high")]
    return Table(
        "rhythm",
        ctx.t("tbl_rhythm"),
        d,
        by=("measure",),
        n_col="n",
        value_cols=("mean_pre", "mean_post", "mean_diff", "ci_low", "ci_high", *text_cols),
        formats={"n": "int", **dict.fromkeys(text_cols, "right")},
        labels={
            "measure_label": ctx.t("col_measure_label"),
            "n": ctx.t("col_n"),
            "mean_pre_text": ctx.t("col_pre"),
            "mean_post_text": ctx.t("col_post"),
            "mean_diff_text": ctx.t("col_mean_diff"),
            "ci_low_text": ctx.t("col_ci_low"),
            "ci_high_text": ctx.t("col_ci_high"),
        },
    )


def _rhythm_fmt(v: float, kind: str, lang: fmt.Lang) -> str:
    if kind == "pct":
        return fmt.pct(v, lang)
    lim = kind.endswith("_lim")  # an interval limit keeps its sign (fmt.limit)
    if kind.startswith("pct_points"):
        return fmt.num(100 * v, lang, 0, keep_sign=lim) + (" %-point" if lang == "da" else " pp")
    if kind == "clock":
        return fmt.clock(v)
    return fmt.minutes(v, lang, keep_sign=lim)


# -- supplementary outcomes -----------------------------------------------------------------


def outcomes(ctx: Context) -> Section | None:
    from envejind_eval.analysis.outcomes import status_outcomes

    if not len(ctx.ds.outcomes):
        return None
    try:
        so = _quiet(status_outcomes, ctx.ds)
    except InsufficientDataError:
        return None
    mc = so.mcnemar
    d = pd.DataFrame(
        {
            "indicator": mc["indicator"],
            "indicator_label": mc["indicator"].map(lambda i: code_label(ctx, "ind", i)),
            "n": mc["n"].astype("int64"),
            "share_pre": mc["share_pre"],
            "share_post": mc["share_post"],
            "difference": mc["difference"],
            "p_value": mc["p_value"],
            "method": mc["method"],
        }
    ).reset_index(drop=True)
    tab = Table(
        "outcomes",
        ctx.t("tbl_outcomes"),
        d,
        by=("indicator",),
        n_col="n",
        share_cols=("share_pre", "share_post"),
        value_cols=("difference", "p_value"),
        formats={"n": "int", "share_pre": "pct", "share_post": "pct", "p_value": "p"},
        labels={
            "indicator_label": ctx.t("col_indicator"),
            "n": ctx.t("col_n_pairs"),
            "share_pre": ctx.t("col_share_pre"),
            "share_post": ctx.t("col_share_post"),
            "p_value": ctx.t("col_p_value"),
        },
    )

    def narrate(pub: Published) -> list[Block]:
        out: list[Block] = [Para(ctx.t("outcomes_intro"))]
        for _, r in d.iterrows():
            w = {"indicator": r["indicator"]}
            if not pub.shown("outcomes", "n", "share_pre", "share_post", "p_value", **w):
                continue
            out.append(
                Para(
                    ctx.t(
                        "outcome_line",
                        ind=r["indicator_label"],
                        pre=pub.fmt("outcomes", "share_pre", "pct", **w),
                        post=pub.fmt("outcomes", "share_post", "pct", **w),
                        n=pub.fmt("outcomes", "n", "int", **w),
                        p=pub.fmt("outcomes", "p_value", "ptext", **w),
                    )
                )
            )
        out.append(tab)
        return out

    return Section("outcomes", ctx.t("sec_outcomes"), tables=[tab], narrate=narrate)


# -- attendance and dose --------------------------------------------------------------------


def attendance(ctx: Context) -> Section | None:
    from envejind_eval.analysis.attendance import attendance_summary

    if not len(ctx.ds.attendance):
        return None
    a = _quiet(attendance_summary, ctx.ds, by="municipality")
    rates = ["attendance_rate", "unexcused_rate", "late_rate"]
    d = a[["municipality", "n_participants", *rates]].copy()
    d["n_participants"] = d["n_participants"].astype("int64")
    # pooled over all participant days
    s = a[["n", "n_attended", "n_unexcused", "n_late", "n_participants"]].sum()
    total = {
        "municipality": ctx.t("total"),
        "n_participants": int(s["n_participants"]),
        "attendance_rate": s["n_attended"] / s["n"] if s["n"] else np.nan,
        "unexcused_rate": s["n_unexcused"] / s["n"] if s["n"] else np.nan,
        "late_rate": s["n_late"] / s["n_attended"] if s["n_attended"] else np.nan,
    }
    d = pd.concat([d, pd.DataFrame([total])], ignore_index=True)
    tab = Table(
        "attendance",
        ctx.t("tbl_attendance"),
        d,
        by=("municipality",),
        n_col="n_participants",
        value_cols=tuple(rates),
        kind="mean",
        total_label=ctx.t("total"),
        formats={"n_participants": "int", **dict.fromkeys(rates, "pct")},
        labels={
            "municipality": ctx.t("col_municipality"),
            "n_participants": ctx.t("col_n_participants"),
            **{r: ctx.t(f"col_{r}") for r in rates},
        },
    )
    tables = [tab]
    dose = _dose_table(ctx)
    if dose is not None:
        tables.append(dose)

    def narrate(pub: Published) -> list[Block]:
        shown = pub.shown("attendance", "attendance_rate", municipality=ctx.t("total"))
        out: list[Block] = (
            [
                Para(
                    ctx.t(
                        "attendance_intro",
                        rate=pub.fmt(
                            "attendance", "attendance_rate", "pct", municipality=ctx.t("total")
                        ),
                    )
                )
            ]
            if shown
            else []
        )
        return [*out, *tables]

    return Section("attendance", ctx.t("sec_attendance"), tables=tables, narrate=narrate)


def _dose_table(ctx: Context) -> Table | None:
    from envejind_eval.analysis.attendance import activity_dose

    if not len(ctx.ds.activities):
        return None
    d = _quiet(activity_dose, ctx.ds, by="municipality")
    d = d.loc[d["measure"].isin(["art_hours", "mi_per_week", "art_sessions", "mi_talks"])]
    d = d[["municipality", "measure", "n", "mean"]].reset_index(drop=True)
    d["n"] = d["n"].astype("int64")
    d.insert(2, "measure_label", d["measure"].map(lambda m: code_label(ctx, "m", m)))
    return Table(
        "dose",
        ctx.t("tbl_dose"),
        d,
        by=("municipality", "measure"),
        n_col="n",
        value_cols=("mean",),
        population="dose",
        formats={"n": "int", "mean": "num1"},
        labels={
            "municipality": ctx.t("col_municipality"),
            "measure_label": ctx.t("col_measure_label"),
            "n": ctx.t("col_n_participants"),
            "mean": ctx.t("col_mean"),
        },
    )


# -- attrition and sensitivity --------------------------------------------------------------


def attrition(ctx: Context) -> Section | None:
    from envejind_eval.analysis.missing import attrition as attr
    from envejind_eval.analysis.missing import pre_post_imputed as imputed

    inst_id = (
        "ungestjernen" if "ungestjernen" in _measured(ctx) else next(iter(_measured(ctx)), None)
    )
    if inst_id is None:
        return None
    inst = ctx.ds.instruments[inst_id]
    try:
        a = _quiet(attr, ctx.ds, inst_id, level="total")
    except InsufficientDataError:
        return None
    a = a.loc[a["variable"] == "score"]
    rows = []
    for _, r in a.iterrows():
        for grp, suf in (("completers", "completers"), ("dropouts", "dropouts")):
            rows.append(
                {
                    "group": grp,
                    "group_label": ctx.t(f"grp_{grp}"),
                    "n": int(r[f"n_{suf}"]),
                    "mean": r[f"value_{suf}"],
                    "sd": r[f"sd_{suf}"],
                }
            )
    tables = []
    if rows:
        tables.append(
            Table(
                "attrition",
                ctx.t("tbl_attrition"),
                pd.DataFrame(rows),
                by=("group",),
                n_col="n",
                value_cols=("mean", "sd"),
                formats={"n": "int", "mean": "num2", "sd": "num2"},
                labels={
                    "group_label": ctx.t("col_group"),
                    "n": ctx.t("col_n"),
                    "mean": ctx.t("col_mean"),
                    "sd": ctx.t("col_sd"),
                },
            )
        )
    sens = None
    try:
        im = _quiet(imputed, ctx.ds, inst_id, level="total", seed=ctx.seed)
    except (InsufficientDataError, ValueError):
        im = None
    if im is not None and len(im):
        r = im.iloc[0]
        sens = Table(
            "sensitivity",
            ctx.t("tbl_sensitivity"),
            pd.DataFrame(
                [
                    {
                        "analysis": "complete_cases",
                        "analysis_label": ctx.t("an_cc"),
                        "n": int(r["n_complete"]),
                        "mean_diff": r["mean_diff_cc"],
                        "ci_low": r["ci_low_cc"],
                        "ci_high": r["ci_high_cc"],
                    },
                    {
                        "analysis": "multiple_imputation",
                        "analysis_label": ctx.t("an_mi"),
                        "n": int(r["n_itt"]),
                        "mean_diff": r["mean_diff_mi"],
                        "ci_low": r["ci_low_mi"],
                        "ci_high": r["ci_high_mi"],
                    },
                ]
            ),
            by=("analysis",),
            n_col="n",
            value_cols=("mean_diff", "ci_low", "ci_high"),
            kind="model",
            formats={"n": "int", "mean_diff": "num2", "ci_low": "lim2", "ci_high": "lim2"},
            labels={
                "analysis_label": ctx.t("col_analysis"),
                "n": ctx.t("col_n"),
                "mean_diff": ctx.t("col_mean_diff"),
                "ci_low": ctx.t("col_ci_low"),
                "ci_high": ctx.t("col_ci_high"),
            },
        )
        tables.append(sens)
    if not tables:
        return None

    def narrate(pub: Published) -> list[Block]:
        L = ctx.lang
        out: list[Block] = [Para(ctx.t("attrition_intro"))]
        if "attrition" in pub:
            out.append(pub.tables["attrition"])
        cc, mi = {"analysis": "complete_cases"}, {"analysis": "multiple_imputation"}
        cols = ("n", "mean_diff", "ci_low", "ci_high")
        if (
            sens is not None
            and pub.shown("sensitivity", *cols, **cc)
            and pub.shown("sensitivity", *cols, **mi)
        ):
            out.append(
                Para(
                    ctx.t(
                        "sensitivity_text",
                        inst=inst.name[L],
                        ncc=pub.fmt("sensitivity", "n", "int", **cc),
                        cc=pub.fmt("sensitivity", "mean_diff", "num2", **cc),
                        cci=_ci(pub, "sensitivity", L, **cc),
                        nitt=pub.fmt("sensitivity", "n", "int", **mi),
                        mi=pub.fmt("sensitivity", "mean_diff", "num2", **mi),
                        mici=_ci(pub, "sensitivity", L, **mi),
                    )
                )
            )
        if sens is not None:
            out.append(sens)
        return out

    return Section("attrition", ctx.t("sec_attrition"), tables=tables, narrate=narrate)
