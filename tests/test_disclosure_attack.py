"""The reader's attack (issue 14): integer programmes over every published CSV of a run
recover no suppressed small count."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

import envejind_eval as ee
from envejind_eval.cli import main
from envejind_eval.errors import DisclosureError
from envejind_eval.report.attack import attack, check_editions, disclosed
from envejind_eval.report.build import build_report

TEST_KEY = "0123456789abcdef" * 4
FAST = {"n_boot": 0, "figures": False, "quiet": True}


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVEJIND_PSEUDONYM_KEY", TEST_KEY)


@pytest.fixture(scope="module")
def by_municipality(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("attack") / "r"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ENVEJIND_PSEUDONYM_KEY", TEST_KEY)
        build_report(ee.sample_path() / "canonical", out, by="municipality", **FAST)
    return out


def _write(root: Path, scope: str | None, name: str, rows: list[dict]) -> None:
    d = (root if scope is None else root / scope) / "tables"
    d.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(d / f"{name}.csv", index=False)


def _flow(root: Path, teams: dict[str, dict[str, int]]) -> None:
    rows = [{"municipality": m, "n_teams": 1, "started": n} for m, n in teams.items()]
    rows.append({"municipality": "I alt", "n_teams": len(teams), "started": sum(teams.values())})
    _write(root, None, "flow_municipality", rows)


def test_attack_sums_over_municipalities(tmp_path: Path) -> None:
    # the first finding, in miniature: 42 men nationally, 12 + 11 + 9 elsewhere,
    # so Halsnæs has 10 men of 11 participants and its women ("<5") are exactly 1
    _flow(tmp_path, {"A": 16, "H": 11, "I": 11, "O": 12})
    sex = [("male", 42, "50"), ("female", "..", "50")]
    _write(tmp_path, None, "start_sex", [{"code": c, "n": n, "n_total": t} for c, n, t in sex])
    for m, men, women in (("A", 12, "<5"), ("I", 11, None), ("O", 9, "<5")):
        rows = [{"code": "male", "n": men, "n_total": ""}]
        if women:
            rows.append({"code": "female", "n": women, "n_total": ""})
        _write(tmp_path, m, "start_sex", rows)
    _write(
        tmp_path,
        "H",
        "start_sex",
        [{"code": "male", "n": "..", "n_total": 11}, {"code": "female", "n": "<5", "n_total": 11}],
    )
    res = attack(tmp_path)
    hal = res.loc[(res["scope"] == "H") & (res["column"] == "n") & (res["shown"] == "<5")]
    assert hal[["low", "high"]].values.tolist() == [[1, 1]]
    assert hal["disclosed"].all()
    # without the national 42 Halsnæs is safe (Aalborg's and Odense's women are their
    # participants minus their men either way)
    (tmp_path / "tables" / "start_sex.csv").unlink()
    got = disclosed(tmp_path)
    assert got[["scope", "low"]].values.tolist() == [["A", 4], ["O", 3]]


def test_attack_pre_post_excluded_from_participants(tmp_path: Path) -> None:
    # n + n_excluded of a pre/post row is the number of participants of its scope
    _flow(tmp_path, {"A": 11, "B": 20})
    row = {"level": "total", "unit": "total", "rater_code": "self", "n": 9, "n_excluded": "<5"}
    _write(tmp_path, "A", "prepost_x", [row])
    res = attack(tmp_path)
    assert res[["low", "high", "disclosed"]].values.tolist() == [[2, 2, True]]
    _write(tmp_path, "A", "prepost_x", [{**row, "n": ".."}])
    res = attack(tmp_path)
    assert not res["disclosed"].any()


def test_attack_dotdot_range_inside_small(tmp_path: Path) -> None:
    # ".." is disclosed when the reader narrows it to 1 .. min_cell - 1
    _flow(tmp_path, {"A": 10, "B": 20})
    rows = [
        {"rater_code": "self", "unit": "u", "n": 10, "improved": 5, "unchanged": "..",
         "deteriorated": ".."}
    ]  # fmt: skip
    _write(tmp_path, "A", "rci_x", rows)
    assert disclosed(tmp_path).empty  # unchanged + deteriorated = 5: each can be 0
    rows[0]["deteriorated"] = "<5"
    _write(tmp_path, "A", "rci_x", rows)
    got = attack(tmp_path)
    # deteriorated is 1..4, so unchanged = 5 - deteriorated is 1..4 too
    assert got["disclosed"].tolist() == [True, False]


def test_sample_by_municipality_run_recovers_nothing(by_municipality: Path) -> None:
    res = attack(by_municipality)
    assert len(res) > 50  # the attack sees the suppressed cells of every report
    leaked = res.loc[res["disclosed"], ["scope", "table", "row", "column"]]
    assert leaked.empty, leaked.to_string()


def test_national_tables_do_not_depend_on_by(by_municipality: Path, tmp_path: Path) -> None:
    # the national report is protected on its own first (top down), so writing the
    # municipality reports too does not change a byte of it (issue 14 §1, issue 16 §2)
    alone = tmp_path / "national"
    build_report(ee.sample_path() / "canonical", alone, **FAST)
    files = sorted(p.name for p in (alone / "tables").glob("*.csv"))
    assert files == sorted(p.name for p in (by_municipality / "tables").glob("*.csv"))
    for f in files:
        assert (alone / "tables" / f).read_bytes() == (
            by_municipality / "tables" / f
        ).read_bytes(), f


def test_sample_start_response_and_national_completers_are_shown(by_municipality: Path) -> None:
    # headcounts of whole scopes and forms received are not attributes (rule 9)
    for scope in (
        by_municipality,
        *[p for p in by_municipality.iterdir() if (p / "tables").is_dir()],
    ):
        resp = pd.read_csv(scope / "tables" / "response.csv", dtype=str)
        assert not resp[["n_expected", "n_forms"]].isin(["..", "<5"]).any().any(), scope
        flow = pd.read_csv(scope / "tables" / "flow_team.csv", dtype=str)
        assert not flow["started"].isin(["..", "<5"]).any(), scope
    flow = pd.read_csv(by_municipality / "tables" / "flow_municipality.csv", dtype=str)
    assert flow["completed"].iloc[-1] not in ("..", "<5")


@pytest.mark.slow
@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],  # a report per example: no shrinking
)
@given(
    seed=st.integers(0, 10_000),
    n_mun=st.integers(2, 3),
    size=st.sampled_from([(3, 6), (5, 8)]),
)
# national "nobody deteriorated" and a municipality's 4 known pairs pin its "unchanged":
# shown, not hidden (System.earlier_facts); the gate used to fail with "cannot protect"
@example(seed=0, n_mun=2, size=(3, 6))
# 9 persons who all completed: a lone "completed" column equals "started" (found by this test)
@example(seed=246, n_mun=2, size=(3, 6))
def test_random_small_deliveries_recover_nothing(
    tmp_path_factory: pytest.TempPathFactory, seed: int, n_mun: int, size: tuple[int, int]
) -> None:
    from envejind_eval.synth import SAMPLE_MUNICIPALITIES, synthesize

    ds, _ = synthesize(
        seed=seed,
        municipalities=SAMPLE_MUNICIPALITIES[:n_mun],
        teams_per_municipality=(1, 2),
        team_size=size,
    )
    root = tmp_path_factory.mktemp("prop")
    data = ds.to_canonical(root / "canonical")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ENVEJIND_PSEUDONYM_KEY", TEST_KEY)
        build_report(data, root / "r", by="municipality", **FAST)
    leaked = disclosed(root / "r")
    assert leaked.empty, leaked.to_string()


def _plus_one(tmp_path: Path) -> Path:
    """The sample delivery with one more person in Halsnæs's team HAL-1 (a copy of one)."""
    src = ee.sample_path() / "canonical"
    dst = tmp_path / "plus1"
    shutil.copytree(src, dst)
    p = pd.read_csv(dst / "participants.csv", dtype=str, keep_default_na=False)
    who = p.loc[p["cohort_id"] == "HAL-1", "participant_id"].iloc[0]
    for f in ("participants", "attendance", "measurements", "outcomes", "activities"):
        df = pd.read_csv(dst / f"{f}.csv", dtype=str, keep_default_na=False)
        new = df.loc[df["participant_id"] == who].assign(participant_id="ffffffff01")
        pd.concat([df, new]).to_csv(dst / f"{f}.csv", index=False)
    return dst


def _second_edition(first: Path, out: Path, data: Path, **kw) -> bool:
    """Write a second edition over a copy of ``first``; True when it was published (then
    the two editions together must recover nothing), False when it was refused (then the
    folder must still hold the first edition)."""
    shutil.copytree(first, out)
    before = {p: p.read_bytes() for p in out.rglob("*.csv")}
    try:
        build_report(data, out, **{**FAST, **kw})
    except DisclosureError as e:
        assert "protected count" in str(e)
        assert {p: p.read_bytes() for p in out.rglob("*.csv")} == before  # not published
        return False
    leaked = disclosed([first, out], editions=True)
    assert leaked.empty, leaked.to_string()
    return True


@pytest.mark.slow
def test_edition_with_one_more_person_is_not_subtractable(
    by_municipality: Path, tmp_path: Path
) -> None:
    data = _plus_one(tmp_path)
    # the reader's attack on the two editions without the guard pins cells (this is what
    # the guard must catch); with the guard the run is refused or safe
    _second_edition(by_municipality, tmp_path / "out", data, by="municipality")


@pytest.mark.slow
def test_subset_edition_is_not_subtractable(by_municipality: Path, tmp_path: Path) -> None:
    # all municipalities but Halsnæs: Halsnæs = first national - second national
    _second_edition(
        by_municipality,
        tmp_path / "out",
        ee.sample_path() / "canonical",
        by="municipality",
        municipalities=["Aalborg", "Ishøj", "Odense"],
    )


@pytest.mark.slow
def test_national_only_then_by_municipality(tmp_path: Path) -> None:
    first = tmp_path / "first"
    build_report(ee.sample_path() / "canonical", first, **FAST)
    published = _second_edition(
        first, tmp_path / "out", ee.sample_path() / "canonical", by="municipality"
    )
    assert published  # the national tables are the same, so nothing new is subtractable


def _linked_editions(tmp_path: Path) -> None:
    """Two hand-written editions e0, e1: e1 adds one man to B; A (10 participants) is
    unchanged, its men shown 7 in the first edition and hidden in the second."""
    for ed, (b, imp_a) in enumerate([(20, "<5"), (21, "..")]):
        root = tmp_path / f"e{ed}"
        _flow(root, {"A": 10, "B": b})
        _write(
            root,
            None,
            "start_sex",
            [
                {"code": "male", "n": 25 + ed, "n_total": 30 + ed},
                {"code": "female", "n": "..", "n_total": 30 + ed},
            ],
        )
        _write(
            root,
            "A",
            "start_sex",
            [
                {"code": "male", "n": 7 if ed == 0 else "..", "n_total": 10},
                {"code": "female", "n": imp_a, "n_total": 10},
            ],
        )


def test_attack_links_editions(tmp_path: Path) -> None:
    _linked_editions(tmp_path)
    res = attack([tmp_path / "e0", tmp_path / "e1"], editions=True)
    # A is unchanged between the editions: the first edition's male 7 pins the second's
    # female to 3; the newcomer in B is male (26 - 25) - a small difference
    got = res.loc[res["disclosed"], ["folder", "scope", "column", "shown", "low"]]
    assert ["A", "n", "..", 3] in got[["scope", "column", "shown", "low"]].values.tolist()
    assert ["national", "n", "difference", 1] in got[
        ["scope", "column", "shown", "low"]
    ].values.tolist()
    assert not attack([tmp_path / "e1"])["disclosed"].any()


# -- earlier editions in other folders (--previous, issue 14 §2) ------------------------------


def test_check_editions_names_the_earlier_edition(tmp_path: Path) -> None:
    _linked_editions(tmp_path)
    with pytest.raises(DisclosureError) as e:
        check_editions(tmp_path / "e0", tmp_path / "e1", earlier="the earlier edition e0")
    n = int(attack([tmp_path / "e0", tmp_path / "e1"], editions=True)["disclosed"].sum())
    msg = str(e.value)
    assert f"the earlier edition e0, lets a reader work out {n} protected count(s)" in msg
    # how many cells, never their values: no other number in the message
    rest = msg.replace(f"{n} protected", "").replace("e0", "")
    assert not any(ch.isdigit() for ch in rest), msg


def _fast_config(tmp_path: Path, extra: str = "") -> Path:
    cfg = tmp_path / "fast.toml"
    cfg.write_text(f"[report]\nn_boot = 0\nfigures = false\n{extra}", encoding="utf-8")
    return cfg


def test_previous_must_be_a_report_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_ours = tmp_path / "notes"
    not_ours.mkdir()
    (not_ours / "a.txt").write_text("x", encoding="utf-8")
    data = str(ee.sample_path() / "canonical")
    for prev in (not_ours, tmp_path / "missing", ee.sample_path() / "canonical"):
        out = tmp_path / "out"
        rc = main(["report", data, "--out", str(out), "--previous", str(prev), "--quiet"])
        err = capsys.readouterr().err
        assert rc == 2 and "--previous" in err and "not a report folder" in err, err
        assert "Traceback" not in err and not out.exists()
    # the [report] previous key of a config file is checked the same way
    cfg = _fast_config(tmp_path, f"previous = [{str(not_ours)!r}]\n")
    rc = main(["report", data, "--out", str(tmp_path / "out"), "--config", str(cfg), "--quiet"])
    assert rc == 2 and "not a report folder" in capsys.readouterr().err


@pytest.mark.slow
def test_edition_in_another_folder_is_audited_with_previous(
    by_municipality: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # one more person in HAL-1, second edition written to a NEW folder: without --previous
    # nothing links the two (documented limit) and a reader holding both pins cells ...
    data = _plus_one(tmp_path)
    unchecked = tmp_path / "unchecked"
    build_report(data, unchecked, by="municipality", **FAST)
    assert not disclosed([by_municipality, unchecked], editions=True).empty
    # ... with --previous it is refused like the same-folder edition, and nothing is written
    cfg = _fast_config(tmp_path)
    out = tmp_path / "b"
    args = ["report", str(data), "--out", str(out), "--by", "municipality", "--quiet"]
    rc = main([*args, "--config", str(cfg), "--previous", str(by_municipality)])
    err = capsys.readouterr().err
    assert rc == 2 and "the earlier edition" in err and by_municipality.name in err, err
    assert "protected count(s)" in err and not out.exists()


@pytest.mark.slow
def test_national_only_then_by_municipality_elsewhere_with_previous(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    build_report(ee.sample_path() / "canonical", a, **FAST)
    try:
        build_report(ee.sample_path() / "canonical", b, by="municipality", previous=[a], **FAST)
    except DisclosureError as e:  # refused: then nothing is written
        assert "the earlier edition" in str(e) and not b.exists()
    else:  # published: then the attack over both editions finds nothing
        leaked = disclosed([a, b], editions=True)
        assert leaked.empty, leaked.to_string()
