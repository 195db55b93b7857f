"""Section builders that need only the core (Dataset, instruments, scoring).

Each builder takes a :class:`~envejind_eval.report.model.Context` and returns a
:class:`~envejind_eval.report.model.Section` whose tables are tidy and unrounded; the prose
is written by the section's narrator from the *gated* tables.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from envejind_eval.report import fmt
from envejind_eval.report.model import Block, Context, Para, Published, Section, Table
from envejind_eval.report.texts import add, text
from envejind_eval.schema import STATUSES, TIMEPOINTS

add(
    {
        "design_p1": {
            "da": "Evalueringen er et før/efter-design med én gruppe og uden kontrolgruppe, som i "
            "den officielle evaluering (Oxford Research 2018). De unge og deres mentorer udfylder "
            "måleredskaberne ved forløbets start og slutning og, hvor det er sket, midtvejs og ved "
            "opfølgning. Ændringer kan derfor ikke uden videre tilskrives programmet.",
            "en": "The evaluation is a one-group before/after design without a control group, as "
            "in the official evaluation (Oxford Research 2018). The young people and their mentors "
            "fill in the instruments at the start and end of the course and, where it happened, "
            "midway and at follow-up. Changes can therefore not simply be attributed to the "
            "programme.",
        },
        "design_flow": {
            "da": "Data omfatter {n} unge på {teams} hold i {k} {kommuner}. Af dem har "
            "{completed} gennemført forløbet, {dropped} er faldet fra, {excluded} er udelukket, "
            "og {ongoing} er stadig i gang.",
            "en": "The data cover {n} young people in {teams} {team_s} in {k} {municipalities}. "
            "Of these, {completed} completed the course, {dropped} dropped out, {excluded} were "
            "excluded and {ongoing} are still ongoing.",
        },
        "design_response": {
            "da": "Ved start foreligger {inst} for {base} af deltagerne og ved slut for {end}.",
            "en": "At baseline {inst} is available for {base} of the participants, at the end "
            "for {end}.",
        },
        "design_quarantine": {
            "da": "Indlæsningen satte {q} række(r) i karantæne (se notebook 03 om datakvalitet); "
            "de indgår ikke i analyserne.",
            "en": "Ingestion quarantined {q} row(s) (see notebook 03 on data quality); they are "
            "not part of the analyses.",
        },
        "tbl_flow_municipality": {
            "da": "Deltagerflow per kommune",
            "en": "Participant flow per municipality",
        },
        "tbl_flow_team": {"da": "Deltagerflow per hold", "en": "Participant flow per team"},
        "design_no_team_table": {
            "da": "Med {teams} hold er tabellen per hold udeladt af den nationale rapport; den "
            "findes i rapporterne per kommune (envejind-eval report --by municipality).",
            "en": "With {teams} teams, the table per team is left out of the national report; "
            "it is in the reports per municipality (envejind-eval report --by municipality).",
        },
        "tbl_response": {
            "da": "Udfyldte skemaer og svarprocent per måletidspunkt",
            "en": "Completed forms and response rate per timepoint",
        },
        "instruments_p1": {
            "da": "Rapporten bruger {k} måleredskaber. Alle er skåret, så en højere score er "
            "bedre (omvendte spørgsmål er spejlet), og en domænescore er gennemsnittet af de "
            "besvarede spørgsmål, når mindst halvdelen er besvaret.",
            "en": "The report uses {k} instruments. All are scored so that a higher score is "
            "better (reverse-keyed items are mirrored), and a domain score is the mean of the "
            "answered items when at least half are answered.",
        },
        "response_not_delivered": {
            "da": "–: måleredskabet er slet ikke leveret her (ingen skemaer); det er ikke "
            "manglende svar, og der er ingen svarprocent.",
            "en": "–: the instrument was not delivered here at all (no forms); this is not "
            "non-response, and there is no response rate.",
        },
        "tbl_instruments": {"da": "Måleredskaberne", "en": "The instruments"},
        "rel_estimate": {"da": "Cronbachs alfa ved start", "en": "Cronbach's alpha at baseline"},
        "participants_p1": {
            "da": "Ved start var deltagerne i gennemsnit {age} år (beregnet for {n} unge med "
            "kendt fødselsår). {male} er mænd.",
            "en": "At the start the participants were on average {age} years old (computed for "
            "{n} young people with a known birth year). {male} are male.",
        },
        "participants_profile": {
            "da": "Stjerneprofilen ved start viser, hvor de unge selv vurderer sig lavest og "
            "højest. Lavest: {low} ({low_v}); højest: {high} ({high_v}) på skalaen {lo}–{hi}.",
            "en": "The baseline star profile shows where the young people rate themselves lowest "
            "and highest. Lowest: {low} ({low_v}); highest: {high} ({high_v}) on the {lo}–{hi} "
            "scale.",
        },
        "tbl_start_sex": {"da": "Køn", "en": "Sex"},
        "tbl_start_age": {"da": "Alder ved start", "en": "Age at start"},
        "tbl_start_referral": {"da": "Henvist af", "en": "Referred by"},
        "tbl_baseline_profile": {
            "da": "Ungestjernen ved start (den unges egen vurdering)",
            "en": "Youth Star at baseline (young person's own rating)",
        },
        "age_unknown": {"da": "Ukendt", "en": "Unknown"},
        "age_group": {"da": "{a}–{b} år", "en": "{a}–{b} years"},
        "age_group_top": {"da": "{a} år og derover", "en": "{a} years and older"},
        "age_group_bottom": {"da": "Under {a} år", "en": "Under {a} years"},
    }
)


# -- helpers ------------------------------------------------------------------------------


def code_label(ctx: Context, prefix: str, code: object) -> str:
    key = f"{prefix}_{code}"
    try:
        return ctx.t(key)
    except KeyError:
        return str(code)


def with_total(df: pd.DataFrame, by: str, cols: list[str], label: str) -> pd.DataFrame:
    total = pd.DataFrame([{by: label, **{c: df[c].sum() for c in cols}}])
    return pd.concat([df, total], ignore_index=True)


# -- design and data ------------------------------------------------------------------------


def flow_counts(participants: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Participants per group and status (columns ``started`` + one per status)."""
    p = participants.assign(status=pd.Categorical(participants["status"], categories=STATUSES))
    wide = p.groupby([*by, "status"], observed=False).size().unstack("status", fill_value=0)
    wide = wide.reindex(columns=list(STATUSES), fill_value=0).astype("int64")
    wide.columns = list(STATUSES)
    wide.insert(0, "started", wide.sum(axis=1))
    return wide.reset_index()


#: The national report lists teams only up to this many (a longer table is unreadable, and
#: with every team linked to its municipality and the national totals the disclosure audit
#: grows faster than the number of teams); the per-municipality reports always list them.
MAX_NATIONAL_TEAM_ROWS = 60


def design(ctx: Context) -> Section:
    ds = ctx.ds
    p = ds.participants
    # a status nobody in the run has (e.g. ``ongoing`` once every course has ended) is left
    # out: an all-zero column says nothing and drags secondary suppression of the others.
    # Decided on the whole run, so every report of the run has the same columns.
    run = (ctx.national if ctx.national is not None else ds).participants
    statuses = [s for s in STATUSES if (run["status"] == s).any()]
    # ... unless the run is a small group: an omitted column tells a reader that nobody of
    # the run has that status (rule 3), and a lone status column equals `started`, so no
    # suppression could hide that a whole team has it
    if len(statuses) < 2 or len(run) < 2 * ctx.min_cell:
        statuses = list(STATUSES)
    status_cols = ["started", *statuses]
    labels = {c: ctx.t(f"col_{c}") for c in ["municipality", "cohort_id", "n_teams", *status_cols]}
    by_mun = flow_counts(p, ["municipality"])[["municipality", *status_cols]]
    teams = p.groupby("municipality")["cohort_id"].nunique().rename("n_teams").reset_index()
    by_mun = by_mun.merge(teams, on="municipality")
    by_mun = with_total(by_mun, "municipality", ["n_teams", *status_cols], ctx.t("total"))
    by_mun = by_mun[["municipality", "n_teams", *status_cols]]
    tot = ctx.t("total")
    national = ctx.scope == "national"
    if national:
        flow_name = "flow_municipality"
        tables = [
            Table(
                "flow_municipality",
                ctx.t("tbl_flow_municipality"),
                by_mun,
                by=("municipality",),
                count_cols=tuple(status_cols),
                total="started",
                total_label=tot,
                population="participants",
                known_cols=("started",),
                public_cols=("n_teams",),
                formats=dict.fromkeys(["n_teams", *status_cols], "int"),
                labels=labels,
            ),
        ]
        if p["cohort_id"].nunique() <= MAX_NATIONAL_TEAM_ROWS:
            tables.append(
                Table(
                    "flow_team",
                    ctx.t("tbl_flow_team"),
                    flow_counts(p, ["municipality", "cohort_id"])[
                        ["municipality", "cohort_id", *status_cols]
                    ],
                    by=("municipality", "cohort_id"),
                    count_cols=tuple(status_cols),
                    total="started",
                    total_label=tot,
                    population="participants",
                    known_cols=("started",),
                    formats=dict.fromkeys(status_cols, "int"),
                    labels=labels,
                )
            )
    else:  # one municipality: its teams and their total
        flow_name = "flow_team"
        team_flow = flow_counts(p, ["cohort_id"])[["cohort_id", *status_cols]]
        teams_t = with_total(team_flow, "cohort_id", status_cols, tot)
        teams_t.insert(1, "n_teams", [1] * (len(teams_t) - 1) + [p["cohort_id"].nunique()])
        tables = [
            Table(
                "flow_team",
                ctx.t("tbl_flow_team"),
                teams_t,
                by=("cohort_id",),
                count_cols=tuple(status_cols),
                public_cols=("n_teams",),
                total="started",
                total_label=tot,
                population="participants",
                known_cols=("started",),
                formats=dict.fromkeys(status_cols, "int"),
                labels={k: v for k, v in labels.items() if k not in ("municipality", "n_teams")},
            )
        ]
    resp = response_rates(ds, ctx)
    if len(resp):
        tables.append(
            Table(
                "response",
                ctx.t("tbl_response"),
                resp,
                by=("instrument_id", "rater_code", "timepoint_code"),
                count_cols=("n_expected", "n_forms"),
                total="n_expected",
                population="response",
                # the forms received and the persons expected to fill them in are
                # headcounts of data collection, not attributes (disclosure.md rule 9)
                known_cols=("n_expected", "n_forms"),
                share_cols=("response_rate",),
                n_col="n_expected",
                formats={"n_expected": "int", "n_forms": "int", "response_rate": "pct"},
                caption=ctx.t("response_not_delivered")
                if (resp["response_rate"].isna() & (resp["n_expected"] > 0)).any()
                else "",
                labels={
                    c: ctx.t(f"col_{c}")
                    for c in [
                        "instrument",
                        "rater",
                        "timepoint",
                        "n_expected",
                        "n_forms",
                        "response_rate",
                    ]
                },
            )
        )
    quarantined = _quarantined_rows(ds)

    def narrate(pub: Published) -> list[Block]:
        L = ctx.lang
        flow_key = "municipality" if national else "cohort_id"

        def n_status(status: str) -> str:
            if status not in statuses:  # left out of the table: nobody in the run has it
                return fmt.integer(0, L)
            return pub.fmt(flow_name, status, "int", **{flow_key: tot})

        out: list[Block] = [Para(ctx.t("design_p1"))]
        out.append(
            Para(
                ctx.t(
                    "design_flow",
                    n=pub.fmt(flow_name, "started", "int", **{flow_key: tot}),
                    teams=pub.fmt(flow_name, "n_teams", "int", **{flow_key: tot}),
                    k=fmt.integer(len(ds.municipalities), L),
                    kommuner="kommune" if len(ds.municipalities) == 1 else "kommuner",
                    municipalities="municipality"
                    if len(ds.municipalities) == 1
                    else "municipalities",
                    team_s="team" if ds.participants["cohort_id"].nunique() == 1 else "teams",
                    completed=n_status("completed"),
                    dropped=n_status("dropped_out"),
                    excluded=n_status("excluded"),
                    ongoing=n_status("ongoing"),
                )
            )
        )
        d = pub.tables["response"].data if "response" in pub else None
        inst = d["instrument_id"].iloc[0] if d is not None else None
        rater = d.loc[d["instrument_id"] == inst, "rater_code"].iloc[0] if d is not None else None
        kw = {"instrument_id": inst, "rater_code": rater}
        if d is not None and all(
            pub.shown("response", "response_rate", timepoint_code=tp, **kw)
            and pd.notna(pub.raw("response", "response_rate", timepoint_code=tp, **kw))
            for tp in ("baseline", "end")
        ):
            out.append(
                Para(
                    ctx.t(
                        "design_response",
                        inst=ds.instruments[inst].name[L],
                        base=pub.fmt(
                            "response", "response_rate", "pct", timepoint_code="baseline", **kw
                        ),
                        end=pub.fmt("response", "response_rate", "pct", timepoint_code="end", **kw),
                    )
                )
            )
        if quarantined is not None and quarantined > 0:
            out.append(Para(ctx.t("design_quarantine", q=fmt.integer(quarantined, L))))
        if national and not any(t.name == "flow_team" for t in tables):
            n_teams = ds.participants["cohort_id"].nunique()
            out.append(Para(ctx.t("design_no_team_table", teams=fmt.integer(n_teams, L))))
        return out + list(tables)

    return Section("design", ctx.t("sec_design"), tables=tables, narrate=narrate)


def _quarantined_rows(ds: Any) -> int | None:
    """Rows the ingest quarantined; ``None`` for data loaded from canonical CSV."""
    rep = ds.ingest_report
    return None if rep is None else rep.n_quarantined


def response_rates(ds: Any, ctx: Context) -> pd.DataFrame:
    """Forms per instrument × rater × timepoint against the participants expected.

    Expected at baseline: everyone; at midway/end: everyone except the ongoing (the course
    has not reached that point) -- dropouts count as expected, so attrition shows. Midway and
    follow-up appear only when any form exists for them (not every delivery uses them).
    """
    p = ds.participants
    m = ds.measurements
    if not len(m):
        return pd.DataFrame()
    forms = m.loc[m["value"].notna(), ["participant_id", "instrument", "rater", "timepoint"]]
    forms = forms.drop_duplicates()
    # which timepoints the design used is decided on the whole run, so every report of the
    # run has the same rows (a row missing in one municipality would read as "nobody")
    run = ctx.national if ctx.national is not None else ds
    rm = run.measurements
    used = set(
        map(tuple, rm.loc[rm["value"].notna(), ["instrument", "rater", "timepoint"]].to_numpy())
    )
    # an instrument of the run with no form at all in this scope was not delivered here:
    # its rows stay (same rows in every scope) but show no response rate, not 0 %
    delivered = set(forms["instrument"])
    rows = []
    for inst_id, inst in ds.instruments.items():
        for rater in inst.raters:
            f = forms.loc[(forms["instrument"] == inst_id) & (forms["rater"] == rater)]
            if not any((inst_id, rater, tp) in used for tp in TIMEPOINTS):
                continue
            for tp in TIMEPOINTS:
                got = f.loc[f["timepoint"] == tp, "participant_id"].nunique()
                if tp == "baseline":
                    expected = len(p)
                elif (inst_id, rater, tp) not in used:  # the design did not use this timepoint
                    continue
                else:
                    expected = int((p["status"] != "ongoing").sum())
                rows.append(
                    {
                        "instrument_id": inst_id,
                        "rater_code": rater,
                        "timepoint_code": tp,
                        "instrument": inst.name[ctx.lang],
                        "rater": code_label(ctx, "rater", rater),
                        "timepoint": code_label(ctx, "tp", tp),
                        "n_expected": expected,
                        "n_forms": got,
                        "response_rate": got / expected
                        if expected and inst_id in delivered
                        else np.nan,
                    }
                )
    return pd.DataFrame(rows)


# -- instruments --------------------------------------------------------------------------


def instruments(ctx: Context) -> Section:
    L = ctx.lang
    rows = []
    for inst in ctx.ds.instruments.values():
        rel = inst.reliability
        rows.append(
            {
                "instrument": inst.name[L],
                "version": inst.version,
                "scale": f"{inst.scale_min:g}–{inst.scale_max:g}",
                "raters": ", ".join(code_label(ctx, "rater", r) for r in inst.raters),
                "n_domains": len(inst.domains),
                "n_items": len(inst.items),
                "reliability": ctx.t("rel_estimate") if rel == "estimate" else fmt.num(rel, L, 2),
            }
        )
    df = pd.DataFrame(rows)
    tab = Table(
        "instruments",
        ctx.t("tbl_instruments"),
        df,
        by=("instrument",),
        formats={"n_domains": "int", "n_items": "int"},
        labels={c: ctx.t(f"col_{c}") for c in df.columns},
        public=True,  # the instrument definitions: no information about persons
    )

    def narrate(pub: Published) -> list[Block]:
        out: list[Block] = [Para(ctx.t("instruments_p1", k=fmt.integer(len(rows), L))), tab]
        for inst in ctx.ds.instruments.values():
            doms = ", ".join(d.label[L] for d in inst.domains)
            out.append(Para(f"**{inst.name[L]}.** {inst.description[L]} ({doms})."))
        if any(i.sample_operationalisation for i in ctx.ds.instruments.values()):
            out.append(Para(ctx.t("synthetic_note")))
        return out

    return Section("instruments", ctx.t("sec_instruments"), tables=[tab], narrate=narrate)


# -- participants at start ------------------------------------------------------------------

AGE_BREAKS = (18, 20, 22)


def _age_group(age: float, ctx: Context) -> str:
    if pd.isna(age):
        return ctx.t("age_unknown")
    lo = AGE_BREAKS[0]
    if age < lo:
        return ctx.t("age_group_bottom", a=lo)
    for a, b in zip(AGE_BREAKS[:-1], AGE_BREAKS[1:], strict=True):
        if a <= age < b:
            return ctx.t("age_group", a=a, b=b - 1)
    return ctx.t("age_group_top", a=AGE_BREAKS[-1])


def distribution(values: pd.Series, order: list[str], name: str) -> pd.DataFrame:
    # every category of ``order`` is a row, also when nobody has it: a table that leaves out
    # empty categories tells a reader that everyone is in the ones shown (all five
    # participants of a team are men), and the category list differs between scopes
    counts = values.value_counts().reindex(order, fill_value=0)
    df = pd.DataFrame({name: counts.index, "n": counts.to_numpy(dtype="int64")})
    df["share"] = df["n"] / df["n"].sum() if df["n"].sum() else np.nan
    df["n_total"] = int(df["n"].sum())
    return df


def participants(ctx: Context) -> Section:
    ds = ctx.ds
    L = ctx.lang
    p = ds.participants
    age = p["start_date"].dt.year - p["birth_year"].astype("float64")
    groups = [ctx.t("age_group_bottom", a=AGE_BREAKS[0])]
    groups += [
        ctx.t("age_group", a=a, b=b - 1)
        for a, b in zip(AGE_BREAKS[:-1], AGE_BREAKS[1:], strict=True)
    ]
    groups += [ctx.t("age_group_top", a=AGE_BREAKS[-1]), ctx.t("age_unknown")]
    sex_order = ["male", "female", "other", "unknown"]
    sex = p["sex"].fillna("unknown")
    ref = p["referred_by"].fillna("unknown")
    # the same rows in every report of the run: the categories of the whole run + unknown
    run_ref = (ctx.national if ctx.national is not None else ds).participants["referred_by"]
    ref_order = [*dict.fromkeys([*run_ref.dropna().value_counts().index.tolist(), "unknown"])]
    # no referral in the whole run: the column was not delivered (issue 17); say so
    # instead of a table counting every person as "unknown"
    ref_delivered = bool(run_ref.notna().any())
    ref_order = sorted(ref_order, key=lambda c: (c == "unknown", c == "other"))
    labels = {
        "group": ctx.t("col_group"),
        "n": ctx.t("col_n"),
        "share": ctx.t("col_share"),
        "mean": ctx.t("col_mean"),
        "sd": ctx.t("col_sd"),
        "domain": ctx.t("col_domain"),
    }
    common = dict(
        by=("group",),
        count_cols=("n",),
        n_col="n_total",
        n_is_total=True,
        known_cols=("n_total",),  # the participants of the scope
        share_cols=("share",),
        formats={"n": "int", "share": "pct"},
        labels=labels,
    )
    sex_t = distribution(
        sex.map(lambda c: code_label(ctx, "sex", c)),
        [code_label(ctx, "sex", c) for c in sex_order],
        "group",
    )
    sex_t.insert(0, "code", sex_t["group"].map({code_label(ctx, "sex", c): c for c in sex_order}))
    tables = [
        Table("start_sex", ctx.t("tbl_start_sex"), sex_t, **common),  # type: ignore[arg-type]
        Table(
            "start_age",
            ctx.t("tbl_start_age"),
            distribution(age.map(lambda a: _age_group(a, ctx)), groups, "group"),
            **common,  # type: ignore[arg-type]
        ),
        Table(
            "start_age_mean",
            ctx.t("tbl_start_age"),
            pd.DataFrame(
                {
                    "n": [int(age.notna().sum())],
                    "mean": [age.mean()],
                    "sd": [age.std()],
                }
            ),
            n_col="n",
            value_cols=("mean", "sd"),
            formats={"n": "int", "mean": "num1", "sd": "num1"},
            labels=labels,
        ),
    ]
    if ref_delivered:  # third, as always (the disclosure gate reads tables in order)
        tables.insert(
            2,
            Table(
                "start_referral",
                ctx.t("tbl_start_referral"),
                distribution(
                    ref.map(lambda c: code_label(ctx, "ref", c)),
                    [code_label(ctx, "ref", c) for c in ref_order],
                    "group",
                ),
                **common,  # type: ignore[arg-type]
            ),
        )
    profile = baseline_profile(ctx)
    if profile is not None:
        tables.append(profile)

    def narrate(pub: Published) -> list[Block]:
        out: list[Block] = [
            Para(
                ctx.t(
                    "participants_p1",
                    age=pub.fmt("start_age_mean", "mean", "num1"),
                    n=pub.fmt("start_age_mean", "n", "int"),
                    male=(
                        pub.fmt("start_sex", "share", "pct", code="male")
                        if pub.row("start_sex", code="male") is not None
                        else "0 %"
                    ),
                )
            ),
            tables[0],
            tables[1],
            tables[2] if ref_delivered else Para(ctx.t("referral_not_delivered")),
        ]
        if "baseline_profile" in pub:
            d = pub.frame("baseline_profile").dropna(subset=["mean"])
            inst = ctx.ds.instruments["ungestjernen"]
            if len(d) >= 2:
                srt = d.sort_values(["mean", "unit"], kind="stable")
                lo, hi = srt.iloc[0], srt.iloc[-1]
                out.append(
                    Para(
                        ctx.t(
                            "participants_profile",
                            low=lo["domain"],
                            low_v=fmt.num(lo["mean"], L, 1),
                            high=hi["domain"],
                            high_v=fmt.num(hi["mean"], L, 1),
                            lo=f"{inst.scale_min:g}",
                            hi=f"{inst.scale_max:g}",
                        )
                    )
                )
            out.append(pub.tables["baseline_profile"])
        return out

    return Section("participants", ctx.t("sec_participants"), tables=tables, narrate=narrate)


def baseline_profile(ctx: Context, instrument: str = "ungestjernen") -> Table | None:
    from envejind_eval.instruments.scoring import scores

    if instrument not in ctx.ds.instruments or not len(ctx.ds.measurements):
        return None
    inst = ctx.ds.instruments[instrument]
    s = scores(ctx.ds, instrument, level="domain")
    s = s.loc[(s["timepoint"] == "baseline") & (s["rater"] == "self")]
    if not len(s):
        return None
    g = s.groupby("unit", sort=False)["score"]
    df = pd.DataFrame(
        {
            "unit": inst.domain_ids,
            "domain": [inst.label(u, ctx.lang) for u in inst.domain_ids],
        }
    )
    df["n"] = df["unit"].map(g.count()).fillna(0).astype("int64")
    df["mean"] = df["unit"].map(g.mean())
    df["sd"] = df["unit"].map(g.std())
    return Table(
        "baseline_profile",
        ctx.t("tbl_baseline_profile"),
        df,
        by=("unit",),
        count_cols=("n",),
        n_col="n",
        value_cols=("mean", "sd"),
        formats={"n": "int", "mean": "num1", "sd": "num1"},
        labels={
            "domain": ctx.t("col_domain"),
            "n": ctx.t("col_n"),
            "mean": ctx.t("col_mean"),
            "sd": ctx.t("col_sd"),
        },
    )


__all__ = ["design", "instruments", "participants", "text"]
