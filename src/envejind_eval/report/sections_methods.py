"""The summary (written last, from every gated table of the report) and the methods
appendix (tests, formulas, references; the only numbers are the run's parameters)."""

from __future__ import annotations

from collections.abc import Sequence

from envejind_eval.report import fmt
from envejind_eval.report.model import Block, Context, Heading, Para, Published, Section
from envejind_eval.report.sections_results import claim_verdicts
from envejind_eval.report.texts import add

add(
    {
        "summary_flow": {
            "da": "Rapporten bygger på {n} unge, der er startet i En vej ind. Af dem har "
            "{completed} gennemført forløbet ({share}).",
            "en": "The report is based on {n} young people who started En vej ind. Of these, "
            "{completed} completed the course ({share}).",
        },
        "summary_results_head": {
            "da": "De fire resultater, programmet sigter mod:",
            "en": "The four results the programme aims for:",
        },
        "summary_design_caveat": {
            "da": "Designet har ingen kontrolgruppe, og holdene er små. Resultaterne viser "
            "udviklingen hos deltagerne, ikke programmets effekt.",
            "en": "The design has no control group and the teams are small. The results show how "
            "the participants developed, not the programme's effect.",
        },
        "summary_suppressed": {
            "da": "Tal, der bygger på færre end {k} personer, vises som <{k}; tal, der ellers "
            "ville afsløre små grupper (fx ved at trække tal fra hinanden), vises som '..'.",
            "en": "Numbers resting on fewer than {k} persons show as <{k}; numbers that would "
            "otherwise reveal small groups (e.g. by subtracting numbers) show as '..'.",
        },
        "claim_verdict_short": {
            "da": "{k} af {m} mål viser en sikker forbedring.",
            "en": "{k} of {m} measures show a clear improvement.",
        },
        "summary_flow_short": {
            "da": "Rapporten bygger på {n} unge, der er startet i En vej ind.",
            "en": "The report is based on {n} young people who started En vej ind.",
        },
        "summary_star": {
            "da": "På Ungestjernen steg de unges samlede score fra {pre} ved start til {post} ved "
            "slut{ci} (n = {n} med begge målinger).",
            "en": "On the Youth Star the young people's total score went from {pre} at baseline "
            "to {post} at the end{ci} (n = {n} with both measurements).",
        },
        # the interval is the change's (t-interval of mean(end - start)), not of a level
        "summary_star_ci": {
            "da": "; 95 %-konfidensintervallet for ændringen er {ci}",
            "en": "; the 95 % confidence interval of the change is {ci}",
        },
        # methods appendix
        "m_head_design": {"da": "Design og population", "en": "Design and population"},
        "m_design": {
            "da": "Alle unge, der er startet på et hold, indgår. Før/efter-analyserne bruger de "
            "unge, der har en måling både ved start og slut (parvise data); hvor mange der "
            "mangler og hvorfor, står ved hvert estimat og i afsnittet om frafald.",
            "en": "Every young person who started on a team is included. The before/after "
            "analyses use those with a measurement at both baseline and end (paired data); how "
            "many are missing and why is given next to each estimate and in the attrition "
            "section.",
        },
        "m_head_scoring": {"da": "Scoring", "en": "Scoring"},
        "m_scoring": {
            "da": "Manglende-koder bliver til manglende værdier; omvendte spørgsmål spejles "
            "(min + max − værdi). En domæne- eller totalscore er gennemsnittet af de besvarede "
            "spørgsmål, når mindst den i måleredskabet angivne andel er besvaret.",
            "en": "Missing codes become missing values; reverse-keyed items are mirrored "
            "(min + max − value). A domain or total score is the mean of the answered items "
            "when at least the share set in the instrument definition is answered.",
        },
        "m_head_tests": {
            "da": "Før/efter-test og effektstørrelser",
            "en": "Before/after tests and effect sizes",
        },
        "m_tests": {
            "da": "Ændringen er forskellen d = slut − start per person. Middelværdien testes med "
            "en parret t-test (R: t.test(paired = TRUE)), og fordi holdene er små, også med "
            "Wilcoxons fortegnsrangtest med eksakt fordeling, når det er muligt "
            "(R: wilcox.test(paired = TRUE, exact = TRUE)). Effektstørrelsen er Cohens d_z = "
            "middel(d) / sd(d) uden korrektion for små stikprøver (ikke Hedges' g); "
            "konfidensintervaller er 95 %. Tabellerne viser p-værdien fra Wilcoxons test og "
            "t-testens interval for den gennemsnitlige ændring.",
            "en": "The change is the difference d = end − baseline per person. Its mean is tested "
            "with a paired t-test (R: t.test(paired = TRUE)) and, because teams are small, also "
            "with Wilcoxon's signed-rank test with the exact distribution where possible "
            "(R: wilcox.test(paired = TRUE, exact = TRUE)). The effect size is Cohen's d_z = "
            "mean(d) / sd(d) without a small-sample correction (not Hedges' g); confidence "
            "intervals are 95 %. The tables show the p-value of Wilcoxon's test and the "
            "t-test's interval of the mean change.",
        },
        "m_head_rci": {"da": "Pålidelig ændring", "en": "Reliable change"},
        "m_rci": {
            "da": "Jacobson og Truax' reliable change index: RCI = (x_slut − x_start) / "
            "(SD_start · √2 · √(1 − r)), hvor r er måleredskabets reliabilitet (Cronbachs alfa "
            "ved start, hvor definitionen siger det). |RCI| > 1,96 regnes som pålidelig "
            "forbedring eller forværring.",
            "en": "Jacobson and Truax's reliable change index: RCI = (x_end − x_baseline) / "
            "(SD_baseline · √2 · √(1 − r)), where r is the instrument's reliability (Cronbach's "
            "alpha at baseline where the definition says so). |RCI| > 1.96 counts as reliable "
            "improvement or deterioration.",
        },
        "m_head_models": {
            "da": "Modeller og kommunesammenligning",
            "en": "Models and comparison of municipalities",
        },
        "m_models": {
            "da": "Lineære mixed-modeller med tilfældigt intercept for person (og hold) bruger "
            "alle målinger, også fra dem der faldt fra (R: lme4::lmer, lmerTest). Kommunerne "
            "sammenlignes med en random-effects-metaanalyse af ændringerne (R: metafor::rma, "
            "REML) med heterogenitet som I² og τ². Med få hold per kommune er disse "
            "sammenligninger usikre; se notebook 02.",
            "en": "Linear mixed models with a random intercept for the person (and team) use all "
            "measurements, including those of dropouts (R: lme4::lmer, lmerTest). "
            "Municipalities are compared with a random-effects meta-analysis of the changes "
            "(R: metafor::rma, REML) with heterogeneity as I² and τ². With few teams per "
            "municipality these comparisons are uncertain; see notebook 02.",
        },
        "m_head_missing": {"da": "Frafald og manglende data", "en": "Attrition and missing data"},
        "m_missing": {
            "da": "Frafald beskrives ved at sammenligne startmålingerne for dem, der gennemførte, "
            "med dem, der faldt fra. Som følsomhedsanalyse gentages før/efter-analysen med "
            "multipel imputation af manglende slutmålinger.",
            "en": "Attrition is described by comparing the baseline scores of those who "
            "completed with those who dropped out. As a sensitivity analysis the before/after "
            "analysis is repeated with multiple imputation of missing end scores.",
        },
        "m_head_random": {
            "da": "Tilfældighed og reproducerbarhed",
            "en": "Randomness and reproducibility",
        },
        "m_random": {
            "da": "Alle tilfældige procedurer (bootstrap, imputation) bruger seed {seed} og "
            "{n_boot} gentagelser; samme data og seed giver de samme tal. Manifestet "
            "(manifest.json) lister inputfiler med sha256, måleredskabernes versioner og "
            "parametrene.",
            "en": "Every random procedure (bootstrap, imputation) uses seed {seed} and {n_boot} "
            "resamples; the same data and seed give the same numbers. The manifest "
            "(manifest.json) lists the input files with sha256, the instrument versions and "
            "the parameters.",
        },
        "m_head_disclosure": {"da": "Diskretionskontrol", "en": "Disclosure control"},
        "m_disclosure": {
            "da": "Ingen offentliggjort optælling, andel, gennemsnit eller modelestimat bygger på "
            "færre end {k} personer; sådanne celler undertrykkes (primær undertrykkelse), og "
            "yderligere celler undertrykkes, så de ikke kan regnes tilbage fra totaler eller "
            "andre tabeller (sekundær undertrykkelse). En andel på 0 eller 100 % i en gruppe "
            "under {k2} personer regnes som følsom. Figurer, der viser enkeltpersoner, "
            "offentliggøres ikke.",
            "en": "No published count, share, mean or model estimate rests on fewer than {k} "
            "persons; such cells are suppressed (primary suppression), and further cells are "
            "suppressed so they cannot be recovered from totals or other tables (secondary "
            "suppression). A share of 0 or 100 % in a group of fewer than {k2} persons counts "
            "as sensitive. Figures showing individuals are not published.",
        },
        "m_head_refs": {"da": "Referencer", "en": "References"},
        "m_methods_used": {
            "da": "Test brugt i denne rapport: {methods}.",
            "en": "Tests used in this report: {methods}.",
        },
    }
)

REFERENCES = (
    "Oxford Research (2018). Evaluering af En vej ind. Slutrapport. Socialstyrelsen.",
    "DEFACTUM (2018). En vej ind – programbeskrivelse. Socialstyrelsen.",
    "Jacobson, N. S. & Truax, P. (1991). Clinical significance: a statistical approach to "
    "defining meaningful change in psychotherapy research. J. Consult. Clin. Psychol. 59(1), "
    "12–19.",
    "Lakens, D. (2013). Calculating and reporting effect sizes to facilitate cumulative "
    "science. Front. Psychol. 4, 863.",
    "Bates, D., Mächler, M., Bolker, B. & Walker, S. (2015). Fitting linear mixed-effects "
    "models using lme4. J. Stat. Softw. 67(1).",
    "Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package. "
    "J. Stat. Softw. 36(3).",
    "Hundepool, A. et al. (2012). Statistical Disclosure Control. Wiley (Eurostat SDC handbook).",
)


def methods(ctx: Context) -> Section:
    def narrate(pub: Published) -> list[Block]:
        t = ctx.t
        out: list[Block] = []
        for key in ("design", "scoring", "tests", "rci", "models", "missing"):
            out += [Heading(t(f"m_head_{key}")), Para(t(f"m_{key}"))]
        out += [
            Heading(t("m_head_random")),
            Para(t("m_random", seed=ctx.seed, n_boot=fmt.integer(ctx.n_boot, ctx.lang))),
            Heading(t("m_head_disclosure")),
            Para(t("m_disclosure", k=ctx.min_cell, k2=2 * ctx.min_cell)),
            Heading(t("m_head_refs")),
            *[Para(r) for r in REFERENCES],
        ]
        return out

    return Section("methods", ctx.t("sec_methods"), narrate=narrate)


def methods_used(pub: Published) -> list[str]:
    """Distinct values of every ``method`` column in the report's tables."""
    found: list[str] = []
    for t in pub.tables.values():
        if "method" in t.data.columns:
            for m in t.data["method"].dropna().astype(str):
                if m not in found:
                    found.append(m)
    return found


def summary(ctx: Context, pub: Published, sections: Sequence[Section]) -> list[Block]:
    """The summary: the report's key numbers, read from its gated tables."""
    L = ctx.lang
    out: list[Block] = []
    tot = ctx.t("total")
    flow, key = (
        ("flow_municipality", "municipality")
        if "flow_municipality" in pub
        else ("flow_team", "cohort_id")
    )
    if flow in pub:
        w = {key: tot}
        n = pub.raw(flow, "started", **w)
        c = pub.raw(flow, "completed", **w)
        if n and c is not None:
            out.append(
                Para(
                    ctx.t(
                        "summary_flow",
                        n=pub.fmt(flow, "started", "int", **w),
                        completed=pub.fmt(flow, "completed", "int", **w),
                        share=fmt.pct(c / n, L),
                    )
                )
            )
        else:
            out.append(Para(ctx.t("summary_flow_short", n=pub.fmt(flow, "started", "int", **w))))
    if "prepost_ungestjernen" in pub:
        d = pub.tables["prepost_ungestjernen"].data
        for _, r in d.loc[d["unit"] == "total"].iterrows():
            w = {"unit": "total", "rater_code": r["rater_code"]}
            name = "prepost_ungestjernen"
            lo, hi = pub.raw(name, "ci_low", **w), pub.raw(name, "ci_high", **w)
            if not pub.shown(name, "n", "mean_pre", "mean_post", **w):
                continue
            out.append(
                Para(
                    ctx.t(
                        "summary_star",
                        pre=pub.fmt(name, "mean_pre", "num1", **w),
                        post=pub.fmt(name, "mean_post", "num1", **w),
                        ci=""
                        if lo is None or hi is None
                        else ctx.t("summary_star_ci", ci=fmt.ci(lo, hi, L, 2)),
                        n=pub.fmt(name, "n", "int", **w),
                    )
                )
            )
    claim_lines = _claim_summaries(ctx, pub)
    if claim_lines:
        out.append(Para(ctx.t("summary_results_head")))
        out += claim_lines
    out.append(Para(ctx.t("summary_design_caveat")))
    if any(t.suppressed is not None and t.suppressed.to_numpy().any() for t in pub.tables.values()):
        out.append(Para(ctx.t("summary_suppressed", k=ctx.min_cell)))
    return out


def _claim_summaries(ctx: Context, pub: Published) -> list[Block]:
    """One line per claim: how many of its measures show a clear improvement."""
    out: list[Block] = []
    for label, k, m in claim_verdicts(ctx, pub):
        if m:
            out.append(Para(f"**{label}:** " + ctx.t("claim_verdict_short", k=k, m=m)))
    return out


__all__ = ["methods", "methods_used", "summary"]
