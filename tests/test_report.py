"""The reporting run: outputs, determinism, atomicity, exit codes, privacy."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pandas as pd
import pytest

import envejind_eval as ee
from envejind_eval.cli import main
from envejind_eval.errors import EnvejindError
from envejind_eval.report.build import build_report, read_config

TEST_KEY = "0123456789abcdef" * 4  # a fixed test key (hex, 64 digits)
FAST = {"n_boot": 0}


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVEJIND_PSEUDONYM_KEY", TEST_KEY)


@pytest.fixture(scope="module")
def canonical() -> Path:
    return ee.sample_path() / "canonical"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from envejind_eval.synth import write_delivery

    return write_delivery(tmp_path_factory.mktemp("tiny") / "delivery", seed=7, scale="tiny")


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory: pytest.TempPathFactory, canonical: Path):
    out = tmp_path_factory.mktemp("rep") / "sample"
    res = build_report(canonical, out, quiet=True, by="municipality", figures=False, **FAST)
    return out, res


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def test_sample_report_writes_every_output(sample_report) -> None:
    out, res = sample_report
    assert res.exit_code in (0, 1)
    assert (out / "index.html").is_file()
    assert (out / "tables.xlsx").is_file()
    assert (out / "manifest.json").is_file()
    csvs = sorted(p.name for p in (out / "tables").glob("*.csv"))
    assert "flow_municipality.csv" in csvs
    for m in ee.Dataset.from_canonical(ee.sample_path() / "canonical").municipalities:
        assert (out / m / "index.html").is_file(), m
    # nothing half-written next to the output
    assert not [p for p in out.parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def test_manifest_contents(sample_report, canonical: Path) -> None:
    out, _ = sample_report
    man = _manifest(out)
    assert man["version"] == ee.__version__
    assert man["seed"] == man["parameters"]["seed"] == 2018
    assert man["parameters"]["min_cell"] == 5
    files = {f["path"]: f for f in man["input"]["files"]}
    assert "participants.csv" in files
    assert re.fullmatch(r"[0-9a-f]{64}", files["participants.csv"]["sha256"])
    assert {i["id"] for i in man["instruments"]} == {"ungestjernen", "lfl", "art_skills"}
    assert all(i["version"] for i in man["instruments"])
    assert isinstance(man["suppression_log"], list)
    assert set(man["timings"]) >= {"load", "analyses", "disclosure", "html"}
    assert TEST_KEY not in (out / "manifest.json").read_text(encoding="utf-8")


def test_html_is_self_contained_with_toc(sample_report) -> None:
    out, _ = sample_report
    html = (out / "index.html").read_text(encoding="utf-8")
    assert '<nav class="toc"' in html
    assert not re.search(r"""(src|href)=["']https?://""", html)
    assert "<script" not in html
    # code is never shown
    assert "import envejind_eval" not in html


def test_no_pseudonyms_in_outputs(sample_report, canonical: Path) -> None:
    out, _ = sample_report
    ids = set(pd.read_csv(canonical / "participants.csv", dtype=str)["participant_id"])
    for f in out.rglob("*"):
        if f.suffix in {".csv", ".html", ".json", ".svg"}:
            text = f.read_text(encoding="utf-8")
            leaked = [i for i in ids if i in text]
            assert not leaked, f"{f.name} contains a participant id"


def test_small_cells_are_suppressed(sample_report) -> None:
    out, _ = sample_report
    for f in (out / "tables").glob("*.csv"):
        df = pd.read_csv(f, dtype=str)
        for c in ("started", "completed", "dropped_out", "excluded", "ongoing", "n"):
            if c in df.columns:
                vals = pd.to_numeric(df[c], errors="coerce").dropna()
                assert not ((vals > 0) & (vals < 5)).any(), f"{f.name}:{c}"


def test_flow_tables_leave_out_statuses_nobody_has(sample_report, canonical: Path) -> None:
    out, _ = sample_report
    statuses = set(pd.read_csv(canonical / "participants.csv", dtype=str)["status"])
    assert "ongoing" not in statuses  # the sample's courses have all ended
    tables = [out / "tables" / "flow_municipality.csv", out / "tables" / "flow_team.csv"]
    tables += sorted(out.glob("*/tables/flow_team.csv"))  # the municipality reports
    assert len(tables) > 2
    for f in tables:
        cols = set(pd.read_csv(f, dtype=str).columns)
        assert "ongoing" not in cols, f
        assert statuses <= cols, f


def test_same_seed_same_outputs(tmp_path: Path, tiny: Path) -> None:
    outs = [tmp_path / "a", tmp_path / "b"]
    for o in outs:
        build_report(tiny / "canonical", o, quiet=True, seed=11, **FAST)
    m1, m2 = (_manifest(o) for o in outs)
    for m in (m1, m2):  # timestamps only
        m.pop("created_utc")
        m.pop("timings")
        m["disclosure"].pop("edition", None)
    assert m1 == m2
    assert m1["figures"] == m2["figures"]
    for f in (outs[0] / "tables").glob("*.csv"):
        assert f.read_bytes() == (outs[1] / "tables" / f.name).read_bytes(), f.name


def test_tiny_delivery(tmp_path: Path, tiny: Path) -> None:
    if not hasattr(importlib.import_module("envejind_eval.ingest"), "load"):
        pytest.skip("ingestion (envejind_eval.load) has not landed yet")
    out = tmp_path / "tiny"
    res = build_report(tiny, out, quiet=True, **FAST)
    assert res.exit_code == 1  # one dropout in a team of five: cells are suppressed
    flow = pd.read_csv(out / "tables" / "flow_team.csv", dtype=str)
    assert flow.loc[0, "dropped_out"] in ("<5", "..")
    assert flow.loc[0, "completed"] in ("<5", "..")


def test_tiny_canonical(tmp_path: Path, tiny: Path) -> None:
    out = tmp_path / "tiny"
    res = build_report(tiny / "canonical", out, quiet=True, lang="en", **FAST)
    assert res.exit_code == 1
    html = (out / "index.html").read_text(encoding="utf-8")
    assert 'lang="en"' in html and "Participant flow" in html


def test_failed_run_leaves_previous_output(tmp_path: Path) -> None:
    out = tmp_path / "rep"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    with pytest.raises(EnvejindError, match="not found"):
        build_report(tmp_path / "missing", out, quiet=True)
    assert (out / "keep.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]


def test_failure_inside_a_step_is_reported_and_cleaned(
    tmp_path: Path, tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    canonical = tiny / "canonical"
    import envejind_eval.report.build as b

    def boom(*a, **k):
        raise KeyError("x")

    monkeypatch.setattr(b, "write_xlsx", boom)
    monkeypatch.delenv("ENVEJIND_DEBUG", raising=False)
    with pytest.raises(b.ReportError, match="step 'xlsx'"):
        build_report(canonical, tmp_path / "rep", quiet=True, figures=False, **FAST)
    assert list(tmp_path.iterdir()) == []


def test_cli_exit_codes(tmp_path: Path, tiny: Path, capsys: pytest.CaptureFixture) -> None:
    canonical = tiny / "canonical"
    rc = main(["report", str(canonical), "--out", str(tmp_path / "r"), "--quiet", "--seed", "3"])
    assert rc == 1  # a team of five with one dropout: cells are suppressed
    assert _manifest(tmp_path / "r")["seed"] == 3
    rc = main(["report", str(tmp_path / "nope"), "--out", str(tmp_path / "x"), "--quiet"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err
    assert main(["report", str(canonical), "--out", str(tmp_path / "y"), "--min-cell", "2"]) == 2


def test_config_file(tmp_path: Path, tiny: Path) -> None:
    canonical = tiny / "canonical"
    cfg = tmp_path / "report.toml"
    cfg.write_text('[report]\nlang = "en"\nmin_cell = 6\nn_boot = 0\nfigures = false\n')
    assert read_config(cfg)["min_cell"] == 6
    rc = main(
        [
            "report",
            str(canonical),
            "--out",
            str(tmp_path / "r"),
            "--quiet",
            "--config",
            str(cfg),
            "--min-cell",
            "7",
        ]
    )
    assert rc in (0, 1)
    man = _manifest(tmp_path / "r")
    assert man["parameters"]["lang"] == "en"
    assert man["parameters"]["min_cell"] == 7  # the command line wins
    bad = tmp_path / "bad.toml"
    bad.write_text("[report]\ncolour = 1\n")
    with pytest.raises(EnvejindError, match="unknown key"):
        read_config(bad)


def test_option_sets_are_checked(tmp_path: Path, canonical: Path) -> None:
    with pytest.raises(ValueError, match="Expecting one of da, en; got 'de'"):
        build_report(canonical, tmp_path / "r", lang="de")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Expecting one of municipality"):
        build_report(canonical, tmp_path / "r", by="team")  # type: ignore[arg-type]


def test_leak_scan_blocks_a_cpr_shaped_label(tmp_path: Path, tiny: Path) -> None:
    import shutil

    from envejind_eval.errors import DisclosureError

    src = tmp_path / "canonical"
    shutil.copytree(tiny / "canonical", src)
    for name in ("participants.csv", "cohorts.csv"):
        f = src / name
        df = pd.read_csv(f, dtype=str, keep_default_na=False)
        df["cohort_id"] = "Hold 010190-1234"  # a CPR-shaped string in a label
        df.to_csv(f, index=False)
    out = tmp_path / "rep"
    with pytest.raises(DisclosureError, match="CPR|leak scan") as err:
        build_report(src, out, quiet=True, figures=False, **FAST)
    assert "010190" not in str(err.value)
    assert not out.exists()


def test_national_report_leaves_long_team_table_to_municipality_reports(
    tmp_path: Path, canonical: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MAX_NATIONAL_TEAM_ROWS teams the national report says where the team table is
    instead of listing every team (the municipality reports keep it)."""
    from envejind_eval.report import sections

    n_teams = ee.Dataset.from_canonical(canonical).participants["cohort_id"].nunique()
    monkeypatch.setattr(sections, "MAX_NATIONAL_TEAM_ROWS", n_teams - 1)
    out = tmp_path / "r"
    build_report(canonical, out, quiet=True, by="municipality", figures=False, lang="en", **FAST)
    assert not (out / "tables" / "flow_team.csv").exists()
    assert (out / "tables" / "flow_municipality.csv").is_file()
    assert sorted(out.glob("*/tables/flow_team.csv"))  # still in every municipality report
    html = (out / "index.html").read_text(encoding="utf-8")
    assert f"With {n_teams} teams, the table per team is left out" in html


def test_minimal_participant_list_reports_not_delivered(tmp_path: Path, tiny: Path) -> None:
    """Issue 17 §4: CPR, Kommune, Hold, Startdato, Status, Mentor only: the report runs,
    and referral says 'not delivered' instead of a table of 100 % unknown."""
    import shutil

    d = tmp_path / "minimal"
    shutil.copytree(tiny, d)
    p = pd.read_csv(
        d / "deltagere.csv", sep=";", dtype=str, keep_default_na=False, encoding="utf-8-sig"
    )
    p = p[["CPR", "Kommune", "Hold", "Startdato", "Status", "Mentor"]]
    p.to_csv(d / "deltagere.csv", sep=";", index=False, encoding="utf-8-sig")
    out = tmp_path / "out"
    build_report(d, out, quiet=True, lang="en", figures=False, **FAST)
    assert not (out / "tables" / "start_referral.csv").exists()  # no table of "unknown"
    assert "Referred by: not delivered" in (out / "index.html").read_text(encoding="utf-8")
    assert (out / "tables" / "start_sex.csv").exists()  # sex: derived from the CPR number
