"""Display rules that cannot be misread (issue 16 §4) and the fail-closed report gate (§1)."""

from __future__ import annotations

import re

import pandas as pd
import pytest

import envejind_eval as ee
from envejind_eval.errors import DisclosureError
from envejind_eval.report import build, fmt
from envejind_eval.report.gate import gate
from envejind_eval.report.model import Table
from envejind_eval.report.render import display_frame, format_value
from envejind_eval.report.xlsx_out import cell_value

TEST_KEY = "0123456789abcdef" * 4


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory):
    """The sample report with every municipality report; the gated tables it published."""
    mp = pytest.MonkeyPatch()
    mp.setenv("ENVEJIND_PSEUDONYM_KEY", TEST_KEY)
    seen = []

    def capture(*a, **kw):
        res = gate(*a, **kw)
        seen.append(res)
        return res

    mp.setattr(build, "gate", capture)
    out = tmp_path_factory.mktemp("disp") / "sample"
    try:
        build.build_report(
            ee.sample_path() / "canonical",
            out,
            quiet=True,
            by="municipality",
            figures=False,
            n_boot=0,
        )
    finally:
        mp.undo()
    assert seen
    return out, seen[-1].tables


def _not_counts(t: Table) -> set[str]:
    """Displayed columns holding estimates or shares (anything but a count of persons)."""
    counts = {*t.count_cols, *t.known_cols, *t.public_cols, *([t.n_col] if t.n_col else [])}
    return {
        c
        for c in t.data.columns
        if c in t.labels
        and c not in counts
        and (c in (*t.value_cols, *t.share_cols) or t.formats.get(c) != "int")
    }


def test_estimates_and_shares_on_few_persons_never_show_lt5(sample) -> None:
    _, tables = sample
    neutral = 0
    for (scope, name), t in tables.items():
        if t.suppressed is None:
            continue
        frame = display_frame(t, "da", 5)
        for c in _not_counts(t):
            shown = frame[t.labels[c]].astype(str)
            bad = shown[shown.str.contains("<5")]
            assert bad.empty, (scope, name, c, bad.tolist())
            neutral += int((shown == "..").sum())
    # the sample's municipality reports do hide estimates on few persons
    assert neutral > 0


def test_xlsx_notes_use_lt5_only_for_counts(sample) -> None:
    from openpyxl import load_workbook

    out, tables = sample
    count_labels = {
        str(t.labels[c])
        for t in tables.values()
        for c in (*t.count_cols, *t.known_cols, *([t.n_col] if t.n_col else []))
        if c in t.labels
    }
    small_in_estimates = 0
    checked = 0
    for book in [out / "tables.xlsx", *out.glob("*/tables.xlsx")]:
        wb = load_workbook(book)
        for ws in wb.worksheets:
            for row in ws.iter_rows(values_only=True):
                if len(row) < 3 or row[0] not in wb.sheetnames or row[2] not in ("<5", ".."):
                    continue
                if not re.fullmatch(r"[A-Z]+\d+", str(row[1])):
                    continue
                col = re.match(r"[A-Z]+", str(row[1])).group(0)  # type: ignore[union-attr]
                header = wb[row[0]][f"{col}2"].value
                checked += 1
                if row[2] == "<5" and str(header) not in count_labels:
                    small_in_estimates += 1
    assert checked > 0
    assert small_in_estimates == 0


def test_html_shows_lt5_only_under_count_headers(sample) -> None:
    """A share or mean cell of "<5" reads as "<5 %" / a value of under 5."""
    import html

    out, tables = sample
    count_labels = {
        str(t.labels[c])
        for t in tables.values()
        for c in (*t.count_cols, *t.known_cols, *([t.n_col] if t.n_col else []))
        if c in t.labels
    }
    small = 0
    for page in [out / "index.html", *out.glob("*/index.html")]:
        text = page.read_text(encoding="utf-8")
        for tab in re.findall(r"<table>(.*?)</table>", text, flags=re.S):
            heads = [html.unescape(h) for h in re.findall(r"<th>(.*?)</th>", tab)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", tab.split("<tbody>", 1)[-1]):
                cells = [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
                for h, v in zip(heads, cells, strict=False):
                    if v.startswith("<5"):
                        small += 1
                        assert h in count_labels, (page.parent.name, h, v)
    assert small > 0  # counts of fewer than 5 persons do keep "<5"


def test_footnote_explains_the_neutral_symbol() -> None:
    from envejind_eval.report.texts import text

    assert "estimat eller en andel" in text("suppressed_footnote", "da", k=5)
    assert "estimate or share" in text("suppressed_footnote", "en", k=5)


@pytest.mark.parametrize(("lang", "want"), [("da", "[−0,00; 0,62]"), ("en", "[−0.00, 0.62]")])
def test_interval_crossing_zero_keeps_its_sign(lang: fmt.Lang, want: str) -> None:
    assert fmt.ci(-0.004, 0.62, lang, 2) == want
    assert format_value(-0.004, "lim2", lang) == want[1:6]
    assert fmt.num(-0.004, lang, 2) == want[2:6]  # a point estimate: no negative zero
    assert cell_value(-0.004, "lim2") < 0  # Excel shows "-0.00"
    assert cell_value(-0.0151, "lim2") == -0.02


def test_report_interval_columns_use_the_limit_format(sample) -> None:
    _, tables = sample
    limits = [
        (n, c) for (_, n), t in tables.items() for c in ("ci_low", "ci_high") if c in t.labels
    ]
    assert limits
    for (_, n), t in tables.items():
        for c in ("ci_low", "ci_high"):
            if c in t.labels:
                assert format_value(-0.004, t.formats[c], "da").startswith("−"), (n, c)


def test_gate_refuses_a_table_without_counted_columns() -> None:
    df = pd.DataFrame({"team": ["A", "B"], "label": ["x", "y"]})
    with pytest.raises(DisclosureError, match="'teams'"):
        gate({("national", "teams"): Table("teams", "Teams", df, by=("team",))}, min_cell=5)
    # an estimate without the persons it rests on is refused too
    est = df.assign(mean=[3.0, 4.0])
    with pytest.raises(DisclosureError, match="'means'"):
        gate(
            {("national", "means"): Table("means", "M", est, by=("team",), value_cols=("mean",))},
            min_cell=5,
        )


def test_gate_publishes_a_table_marked_public() -> None:
    df = pd.DataFrame({"team": ["A", "B"], "label": ["x", "y"]})
    res = gate(
        {("national", "teams"): Table("teams", "Teams", df, by=("team",), public=True)},
        min_cell=5,
    )
    t = res.tables[("national", "teams")]
    assert t.suppressed is not None and not t.suppressed.to_numpy().any()
    pd.testing.assert_frame_equal(t.data, df)


def test_sample_report_tables_all_pass_the_gate(sample) -> None:
    _, tables = sample
    assert ("national", "instruments") in tables
    assert tables[("national", "instruments")].public
    assert all(t.public for t in tables.values() if not (t.count_cols or t.n_col))


def test_xlsx_table_note_explains_symbols_in_the_report_language(sample) -> None:
    from openpyxl import load_workbook

    from envejind_eval.report.texts import text

    out, _ = sample
    wb = load_workbook(out / "tables.xlsx")
    want = text("suppressed_footnote", "da", k=5)
    with_note = [
        ws.title
        for ws in wb.worksheets[1:]
        if any(c == want for row in ws.iter_rows(values_only=True) for c in row)
    ]
    assert with_note  # tables with hidden cells carry the Danish note under them
    english = [
        ws.title
        for ws in wb.worksheets[1:]
        for row in ws.iter_rows(values_only=True)
        for c in row
        if isinstance(c, str) and "not shown, to protect small groups" in c
    ]
    assert not english


def test_rhythm_interval_limits_keep_their_sign() -> None:
    from envejind_eval.report.sections_results import _rhythm_fmt

    assert _rhythm_fmt(-0.004, "pct_points_lim", "da") == "−0 %-point"
    assert _rhythm_fmt(-0.004, "pct_points", "da") == "0 %-point"  # a point estimate
    assert _rhythm_fmt(-0.04, "minutes_lim", "en") == "−0.0 min"
