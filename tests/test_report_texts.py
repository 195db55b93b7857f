"""Report texts say what was computed and read as sentences (issue 16 §5, §6)."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

import envejind_eval as ee
from envejind_eval.analysis.progression import pre_post
from envejind_eval.dataset import Dataset
from envejind_eval.report import build
from envejind_eval.report.model import prose_mark
from envejind_eval.report.texts import TEXTS, text

TEST_KEY = "0123456789abcdef" * 4


def _paras(page: str) -> list[str]:
    return [
        html.unescape(re.sub(r"<[^>]+>", "", p)) for p in re.findall(r"<p>(.*?)</p>", page, re.S)
    ]


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The national sample report in both languages and a one-municipality report."""
    mp = pytest.MonkeyPatch()
    mp.setenv("ENVEJIND_PSEUDONYM_KEY", TEST_KEY)
    root = tmp_path_factory.mktemp("texts")
    out: dict[str, str] = {}
    try:
        for key, kw in {
            "da": {"lang": "da"},
            "en": {"lang": "en"},
            "one_da": {"lang": "da", "municipalities": ("Odense",)},
            "one_en": {"lang": "en", "municipalities": ("Odense",)},
        }.items():
            build.build_report(
                ee.sample_path() / "canonical",
                root / key,
                quiet=True,
                figures=False,
                n_boot=0,
                **kw,
            )
            out[key] = (root / key / "index.html").read_text(encoding="utf-8")
    finally:
        mp.undo()
    return out


def test_dz_is_the_uncorrected_dz_and_the_text_says_so(reports: dict[str, str]) -> None:
    ds = Dataset.from_canonical(ee.sample_path() / "canonical")
    r = pre_post(ds, "ungestjernen", level="total", n_boot=0)
    ok = r["sd_diff"] > 0
    # the report's d_z is mean(d) / sd(d): no Hedges factor J(n - 1) < 1
    np.testing.assert_allclose(
        r.loc[ok, "cohens_dz"], r.loc[ok, "mean_diff"] / r.loc[ok, "sd_diff"]
    )
    da, en = reports["da"], reports["en"]
    assert "uden korrektion for små stikprøver" in html.unescape(da)
    assert "without a small-sample correction" in html.unescape(en)
    assert "med Hedges' korrektion" not in html.unescape(da)
    assert "with Hedges' small-sample correction" not in html.unescape(en)


def test_methods_only_names_columns_the_tables_have(reports: dict[str, str]) -> None:
    for lang in ("da", "en"):
        page = html.unescape(reports[lang])
        headers = {html.unescape(h).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", page, re.S)}
        methods = page[page.index(text("sec_methods", lang)) :]
        for col in re.findall(r"(?:[Kk]olonnen|column) '([^']+)'|'([^']+)' column", methods):
            name = next(c for c in col if c)
            assert name in headers, f"{lang}: methods name column {name!r} the tables lack"
        assert "'metode'" not in methods and "'method' column" not in methods


def test_summary_says_the_interval_is_the_change(reports: dict[str, str]) -> None:
    for lang, words in (
        ("da", "konfidensintervallet for ændringen"),
        ("en", "interval of the change"),
    ):
        star = [
            p
            for p in _paras(reports[lang])
            if re.search(r"\[-?\d", p) and ("ved slut" in p or "at the end" in p)
        ]
        assert star, lang
        for p in star:
            assert words in p and "95 %" in p, p


@pytest.mark.parametrize("lang", ["da", "en"])
def test_subtitle_follows_the_scope(reports: dict[str, str], lang: str) -> None:
    one = _paras(reports[f"one_{lang}"])
    assert text("report_subtitle_municipality", lang, m="Odense") in one
    assert text("report_subtitle_national", lang) not in one
    assert text("report_subtitle_national", lang) in _paras(reports[lang])


@pytest.mark.parametrize("lang", ["da", "en"])
def test_suppressed_phrase_opening_a_sentence_is_capitalised(lang: str) -> None:
    phrase = prose_mark("..", lang, 5)
    assert phrase[0].islower()
    s = text("participants_p1", lang, age="16,2", n="30", male=phrase)
    assert phrase[0].upper() + phrase[1:] in s
    assert not re.search(r"[.!?]\s+[a-zæøå]", s), s
    # mid-sentence the phrase keeps its lower case
    assert f"for {phrase}" in text("summary_flow_short", lang, n=f"for {phrase}")


def test_no_report_sentence_starts_in_lower_case(reports: dict[str, str]) -> None:
    for key, page in reports.items():
        for p in _paras(page):
            # abbreviations ("A. et al.", "e.g. by") do not end a sentence
            for bad in re.finditer(
                r"(?:^|(?<![.\s][a-z])[.!?]\s+)([a-zæøå]\w*)", p.replace(". et al", " et al")
            ):
                assert bad.group(1) in {"d_z", "p"}, f"{key}: {p!r}"


def test_fill_keeps_format_specs() -> None:
    TEXTS["_t_fill"] = {"da": "{a:>3}. {b}", "en": "{a!r}"}
    try:
        assert text("_t_fill", "da", a="x", b="y") == "  x. Y"
        assert text("_t_fill", "en", a="x") == "'x'"
    finally:
        del TEXTS["_t_fill"]


def test_instrument_not_delivered_is_not_non_response(tmp_path, monkeypatch) -> None:
    """Odense delivers no ART forms: its response rows stay (same rows in every scope,
    docs/disclosure.md rule 5) but show no rate and say "not delivered"."""
    import pandas as pd

    monkeypatch.setenv("ENVEJIND_PSEUDONYM_KEY", TEST_KEY)
    src = ee.sample_path() / "canonical"
    data = tmp_path / "canonical"
    data.mkdir()
    for f in src.iterdir():
        (data / f.name).write_bytes(f.read_bytes())
    p = pd.read_csv(data / "participants.csv", dtype=str)
    m = pd.read_csv(data / "measurements.csv", dtype=str, keep_default_na=False)
    odense = set(p.loc[p["municipality"] == "Odense", "participant_id"])
    m = m[~((m["instrument"] == "art_skills") & m["participant_id"].isin(odense))]
    m.to_csv(data / "measurements.csv", index=False)
    out = tmp_path / "out"
    build.build_report(data, out, quiet=True, figures=False, n_boot=0, by="municipality")

    def response(scope: str) -> pd.DataFrame:
        return pd.read_csv(out / scope / "tables" / "response.csv")

    od, aa, nat = response("Odense"), response("Aalborg"), response(".")
    key = ["instrument_id", "rater_code", "timepoint_code"]
    assert od[key].equals(aa[key])  # an omitted row would read as "nobody"
    art = od["instrument_id"] == "art_skills"
    assert art.any() and (od.loc[art, "n_forms"] == 0).all()
    assert od.loc[art, "response_rate"].isna().all()
    assert od.loc[~art, "response_rate"].notna().all()
    assert nat["response_rate"].notna().all() and aa["response_rate"].notna().all()
    note = text("response_not_delivered", "da")
    assert note in html.unescape((out / "Odense" / "index.html").read_text(encoding="utf-8"))
    for scope in (".", "Aalborg"):
        assert note not in html.unescape((out / scope / "index.html").read_text(encoding="utf-8"))
