"""Synthetic data: realism, determinism, ground truth, delivery files, national scale."""

from __future__ import annotations

import datetime
import io
import re
import resource
import time
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

import envejind_eval as ee
from envejind_eval.cli import main
from envejind_eval.outpath import MARKER
from envejind_eval.synth import GroundTruth, synthesize, write_delivery

LARGE = {"seed": 11, "scale": "sample", "n_participants": 4000}


@pytest.fixture(scope="module")
def large() -> tuple[ee.Dataset, GroundTruth]:
    return synthesize(**LARGE)


def _weeks(ds: ee.Dataset, table: str) -> pd.Series:
    """Course week (1-based) of each row of a dated table."""
    t = ds.table(table)
    start = t["participant_id"].map(ds.participants.set_index("participant_id")["start_date"])
    return (t["date"] - start).dt.days // 7 + 1


# -- options ----------------------------------------------------------------------------------


def test_options_are_checked(tmp_path):
    with pytest.raises(ValueError, match="Expecting one of sample, tiny, national"):
        synthesize(scale="city")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Expecting overrides from"):
        synthesize(scale="tiny", n_teams=3)
    with pytest.raises(ValueError, match="Expecting one of"):
        write_delivery(tmp_path, scale="city")  # type: ignore[arg-type]


def test_tiny_one_team_of_five_with_one_dropout(tiny_ds):
    p = tiny_ds.participants
    assert len(p) == 5
    assert p["cohort_id"].nunique() == 1
    assert p["municipality"].nunique() == 1
    assert (p["status"] == "dropped_out").sum() == 1
    assert (p["status"] == "completed").sum() == 4


def test_sample_shape(sample_ds):
    p = sample_ds.participants
    assert sorted(p["municipality"].unique()) == ["Aalborg", "Halsnæs", "Ishøj", "Odense"]
    teams = p.groupby("municipality")["cohort_id"].nunique()
    assert teams.between(2, 3).all()
    assert p.groupby("cohort_id").size().between(5, 8).all()
    c = sample_ds.cohorts
    assert c["start_date"].min() >= pd.Timestamp("2016-10-01")
    assert c["start_date"].max() <= pd.Timestamp("2017-09-30")


# -- realism ----------------------------------------------------------------------------------


def test_team_sizes(large):
    ds, _ = large
    assert ds.participants.groupby("cohort_id").size().between(5, 8).all()


def test_dropout_share_and_early_concentration(large):
    ds, truth = large
    p = ds.participants
    share = (p["status"] == "dropped_out").mean()
    assert 0.20 <= share <= 0.35
    left = p.loc[p["status"].isin(["dropped_out", "excluded"])]
    week = (left["exit_date"] - left["start_date"]).dt.days // 7 + 1
    assert week.between(1, 17).all()
    assert (week <= 6).mean() > 0.6
    # empirical weekly hazard in the early weeks is near the truth
    at_risk = len(p)
    for w in range(1, 4):
        n_left = int((week == w).sum())
        h = truth.dropout_hazard.set_index("week").loc[w, "hazard"]
        assert n_left / at_risk == pytest.approx(h, abs=4 * np.sqrt(h / at_risk))
        at_risk -= n_left
    assert truth.dropout_hazard["survival"].is_monotonic_decreasing


def test_dates_are_weekdays(large):
    ds, _ = large
    for name in ("attendance", "activities", "measurements"):
        assert (ds.table(name)["date"].dt.day_of_week < 5).all(), name
    assert (ds.participants["start_date"].dt.day_of_week == 0).all()


def test_course_lasts_about_17_weeks(large):
    ds, _ = large
    p = ds.participants
    days = (p["planned_end_date"] - p["start_date"]).dt.days
    assert days.between(7 * 16, 7 * 17).all()
    per_week = ds.attendance.assign(w=_weeks(ds, "attendance")).groupby(["participant_id", "w"])
    n = per_week.size()
    assert n.max() <= 5
    assert _weeks(ds, "attendance").max() == 17
    # completers are registered 4-5 days a week
    done = p.loc[p["status"] == "completed", "participant_id"]
    full = n.loc[n.index.get_level_values(0).isin(done)]
    assert full.groupby(level=0).median().between(4, 5).all()


def test_attendance_and_punctuality_improve(large):
    ds, truth = large
    a = ds.attendance.assign(week=_weeks(ds, "attendance"))
    came = a["status"].isin(["present", "late"])
    by = a.assign(came=came, on_time=a["status"] == "present").groupby("week")
    rate = by["came"].mean()
    on_time = by["on_time"].sum() / by["came"].sum()
    assert rate.loc[15:17].mean() > rate.loc[1:3].mean() + 0.1
    assert on_time.loc[15:17].mean() > on_time.loc[1:3].mean() + 0.3
    tp = truth.punctuality.set_index("week")
    assert on_time.to_numpy() == pytest.approx(tp["p_on_time"].to_numpy(), abs=0.03)
    # arrival times get earlier by about the true minutes per week
    t = a.loc[a["arrival_time"].notna()]
    hh = t["arrival_time"].str.slice(0, 2).astype(int)
    mm = t["arrival_time"].str.slice(3, 5).astype(int)
    minutes = hh * 60 + mm
    slope = np.polyfit(t["week"], minutes, 1)[0]
    assert slope == pytest.approx(truth.punctuality_trend["arrival_minutes_per_week"][0], abs=0.15)
    assert truth.punctuality_trend["on_time_change_per_week"][0] > 0
    # arrival times are only recorded for days the young person came
    assert a.loc[~came, "arrival_time"].isna().all()
    assert a["arrival_time"].dropna().str.fullmatch(r"\d\d:\d\d").all()


def test_art_and_mi_sessions(large):
    ds, _ = large
    act = ds.activities.assign(week=_weeks(ds, "activities"))
    p = ds.participants
    done = set(p.loc[p["status"] == "completed", "participant_id"])
    art = act.loc[(act["activity"] == "art") & act["participant_id"].isin(done)]
    sessions = art.groupby("participant_id").size()
    assert (sessions == 16).all()  # 2 a week in weeks 2-9
    assert art.groupby(["participant_id", "week"]).size().eq(2).all()
    hours = art.groupby("participant_id")["minutes"].apply(lambda s: s.fillna(0).sum()) / 60
    offered = 16 * art["minutes"].mean() / 60
    assert 27 <= offered <= 33  # ~30 h course of ~2 h sessions
    assert (hours <= 33).all()
    mi = act.loc[(act["activity"] == "mi") & act["participant_id"].isin(done)]
    per_week = mi.groupby("participant_id").size() / 17
    assert 2.0 <= per_week.mean() <= 3.0
    # minutes only when attended
    assert act.loc[~act["attended"], "minutes"].isna().all()
    assert act.loc[act["attended"], "minutes"].gt(0).all()
    assert set(act["activity"]) <= {"art", "mi", "teaching", "sport", "other"}


def test_measurements_on_scale_with_missing(large):
    ds, _ = large
    m = ds.measurements
    for iid, inst in ds.instruments.items():
        v = m.loc[m["instrument"] == iid, "value"].dropna()
        coded = v.isin(inst.missing_codes)
        assert coded.any(), iid
        ok = v[~coded]
        assert ok.between(inst.scale_min, inst.scale_max).all()
        assert (ok == ok.round()).all()
        assert set(m.loc[m["instrument"] == iid, "rater"]) == set(inst.raters)
    assert m["value"].isna().any()
    assert set(m["timepoint"]) == {"baseline", "midway", "end", "followup"}
    # dropouts mostly miss the end forms
    p = ds.participants.set_index("participant_id")["status"]
    forms = m.loc[m["instrument"] == "ungestjernen"].drop_duplicates(
        ["participant_id", "timepoint"]
    )
    has_end = set(forms.loc[forms["timepoint"] == "end", "participant_id"])
    by_status = p.index.to_series().isin(has_end).groupby(p).mean()
    assert by_status["completed"] > 0.8
    assert by_status["dropped_out"] < 0.35


def test_reverse_keyed_items_are_written_raw(large):
    ds, _ = large
    s = ee.scores(ds, "lfl", level="item")
    m = ds.measurements
    raw = m.loc[(m["instrument"] == "lfl") & (m["item"] == "lfl03") & m["value"].le(5)]
    scored = s.loc[s["unit"] == "lfl03", "score"].dropna()
    # raw reverse-keyed item is the mirror of the scored one
    assert raw["value"].mean() == pytest.approx(6 - scored.mean(), abs=1e-9)


def test_within_person_correlation_is_realistic(large):
    ds, _ = large
    s = ee.scores(ds, "ungestjernen")
    w = s.pivot_table(index=["participant_id", "unit"], columns="timepoint", values="score").dropna(
        subset=["baseline", "end"]
    )
    r = w.groupby(level="unit").apply(lambda g: g["baseline"].corr(g["end"]))
    assert r.between(0.35, 0.65).all(), r


def test_outcomes_binary_and_improving(large):
    ds, truth = large
    o = ds.outcomes
    assert set(o["timepoint"]) == {"baseline", "end", "followup"}
    assert o["value"].dropna().isin([0.0, 1.0]).all()
    done = ds.participants.loc[ds.participants["status"] == "completed", "participant_id"]
    share = (
        o.loc[o["participant_id"].isin(done)].groupby(["indicator", "timepoint"])["value"].mean()
    )
    assert share["in_education", "end"] > share["in_education", "baseline"]
    assert share["in_employment", "followup"] > share["in_employment", "baseline"]
    assert share["police_charge", "end"] < share["police_charge", "baseline"]
    t = truth.outcomes.set_index(["indicator", "timepoint", "group"])["probability"]
    for (ind, tp), v in share.items():
        assert v == pytest.approx(t[ind, tp, "completed"], abs=0.04)


@pytest.mark.slow
def test_estimated_mean_change_matches_ground_truth(large):
    ds, truth = large
    s = ee.scores(ds)
    w = s.loc[s["timepoint"].isin(["baseline", "end"])].pivot_table(
        index=["instrument", "rater", "unit", "participant_id"],
        columns="timepoint",
        values="score",
    )
    d = (w["end"] - w["baseline"]).dropna().groupby(level=[0, 1, 2]).agg(["mean", "std", "count"])
    d = d.reset_index().rename(columns={"unit": "domain"})
    m = d.merge(truth.change, on=["instrument", "rater", "domain"], validate="one_to_one")
    assert len(m) == len(truth.change) == 21
    se = m["std"] / np.sqrt(m["count"])
    z = (m["mean"] - m["true_change"]) / se
    assert (z.abs() < 4).all(), m.assign(z=z)
    assert (m["true_change"] > 0).all()


def test_municipality_deviations(large):
    ds, truth = large
    md = truth.municipality_deviations
    assert set(md["municipality"]) == set(ds.municipalities)
    assert {"municipality", "instrument", "rater", "domain", "true_change", "deviation"} <= set(
        md.columns
    )
    w = ds.participants["municipality"].value_counts(normalize=True)
    x = md.assign(w=md["municipality"].map(w))
    wmean = (x["w"] * x["deviation"]).groupby([x["instrument"], x["rater"], x["domain"]]).sum()
    assert wmean.abs().max() < 0.01  # deviations average out over the municipality mix


# -- determinism ------------------------------------------------------------------------------


def _assert_same(a: tuple[ee.Dataset, GroundTruth], b: tuple[ee.Dataset, GroundTruth]) -> None:
    for name in a[0].tables:
        pd.testing.assert_frame_equal(a[0].table(name), b[0].table(name))
    for f in ("change", "means", "municipality_deviations", "dropout_hazard", "punctuality",
              "outcomes", "persons"):  # fmt: skip
        pd.testing.assert_frame_equal(getattr(a[1], f), getattr(b[1], f))


def test_same_seed_same_output():
    _assert_same(synthesize(seed=5, scale="tiny"), synthesize(seed=5, scale="tiny"))
    other = synthesize(seed=6, scale="tiny")[0]
    assert not other.participants["participant_id"].equals(
        synthesize(seed=5, scale="tiny")[0].participants["participant_id"]
    )


def _files(folder: Path) -> dict[str, bytes]:
    return {  # the output marker is not part of the delivery (ingestion skips hidden files)
        str(f.relative_to(folder)): f.read_bytes()
        for f in sorted(folder.rglob("*"))
        if f.is_file() and f.name != MARKER
    }


def test_delivery_is_byte_identical(tmp_path):
    a = write_delivery(tmp_path / "a", seed=3, scale="tiny")
    b = write_delivery(tmp_path / "b", seed=3, scale="tiny")
    fa, fb = _files(a), _files(b)
    assert fa.keys() == fb.keys()
    assert "fremmoede_Ishoej.xlsx" in fa
    for k in fa:
        assert fa[k] == fb[k], k


def _xlsx_content(data: bytes) -> list:
    """Sheets, cell values and number formats of a workbook: its content, not its XML
    serialisation (openpyxl writes the same workbook differently with and without lxml)."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    return [
        (ws.title, [[(c.value, c.number_format) for c in row] for row in ws.iter_rows()])
        for ws in wb.worksheets
    ]


def test_committed_sample_is_current(tmp_path):
    """data/sample is exactly what `envejind-eval synth --seed 2018` writes today (text files
    byte for byte, workbooks cell for cell)."""
    assert main(["synth", "--out", str(tmp_path), "--seed", "2018"]) == 0
    committed = _files(ee.sample_path())
    fresh = _files(tmp_path)
    total = sum(len(v) for v in committed.values())
    assert total < 3_000_000
    for files in (committed, fresh):
        for k in [k for k in files if k.endswith(".xlsx")]:
            files[k] = _xlsx_content(files[k])
    assert committed.keys() == fresh.keys()
    stale = [k for k in fresh if committed[k] != fresh[k]]
    assert not stale, f"regenerate data/sample: {stale}"


# -- delivery format --------------------------------------------------------------------------

HEADERS = {
    "deltagere.csv": "CPR;Kommune;Hold;Mentor;Køn;Fødselsår;Henvist af;Startdato;"
    "Planlagt slutdato;Status;Slutdato;Ophørsårsag",
    "hold.csv": "Hold;Kommune;Startdato;Slutdato",
    "ankomsttider.csv": "CPR;Dato;Mødetid",
    "aktiviteter.csv": "CPR;Dato;Aktivitet;Deltog;Minutter",
    "status.csv": "CPR;Måletidspunkt;I uddannelse;I beskæftigelse;Sigtet af politiet;Stabil bolig",
}
CPR_RE = re.compile(r"(\d\d)(\d\d)(\d\d)-(\d)(\d\d\d)")


def _century(yy: int, d7: int) -> int:
    if d7 <= 3:
        return 1900
    if d7 in (4, 9):
        return 2000 if yy <= 36 else 1900
    return 2000 if yy <= 57 else 1800


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep=";", dtype=str, keep_default_na=False, encoding="utf-8-sig")


def test_delivery_csv_format():
    root = ee.sample_path()
    for name, header in HEADERS.items():
        raw = (root / name).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), name
        text = raw[3:].decode("utf-8")
        assert text.split("\r\n")[0] == header, name
        assert "\n" not in text.replace("\r\n", ""), name
    m = (root / "maalinger_lfl.csv").read_bytes()[3:].decode().split("\r\n")[0]
    lfl = ee.get_instrument("lfl")
    assert m == "CPR;Måletidspunkt;Bedømmer;Dato;" + ";".join(lfl.item_ids)
    d = _read(root / "deltagere.csv")
    assert d["Startdato"].str.fullmatch(r"\d\d-\d\d-\d{4}").all()
    assert set(d["Status"]) <= {"Gennemført", "Frafaldet", "Udelukket", "I gang"}
    assert set(d["Køn"]) <= {"K", "M", "A", ""}
    a = _read(root / "aktiviteter.csv")
    assert set(a["Aktivitet"]) <= {"ART", "MI-samtale", "Undervisning", "Idræt", "Andet"}
    assert set(a["Deltog"]) == {"Ja", "Nej"}
    s = _read(root / "status.csv")
    assert set(s["Måletidspunkt"]) == {"Start", "Slut", "Opfølgning"}
    assert set(s.iloc[:, 2:].stack()) <= {"Ja", "Nej", ""}
    assert "synthetic" in (root / "README.md").read_text(encoding="utf-8")


def test_cpr_numbers_are_valid_shaped_and_consistent(sample_ds):
    root = ee.sample_path()
    d = _read(root / "deltagere.csv")
    assert d["CPR"].is_unique
    for cpr, year, sex in zip(d["CPR"], d["Fødselsår"].astype(int), d["Køn"], strict=True):
        m = CPR_RE.fullmatch(cpr)
        assert m, "CPR column is not DDMMYY-SSSS"
        dd, mo, yy, d7 = int(m[1]), int(m[2]), int(m[3]), int(m[4])
        full = _century(yy, d7) + yy
        assert full == year
        pd.Timestamp(year=full, month=mo, day=dd)  # a real date
        if sex in ("M", "K"):
            assert int(cpr[-1]) % 2 == (1 if sex == "M" else 0)
    people = set(d["CPR"])
    for f in ("ankomsttider.csv", "aktiviteter.csv", "status.csv", "maalinger_lfl.csv"):
        assert set(_read(root / f)["CPR"]) <= people, f
    wb = openpyxl.load_workbook(root / "fremmoede_Odense.xlsx")
    in_xlsx = {r[0] for ws in wb for r in ws.iter_rows(min_row=4, values_only=True)}
    assert in_xlsx - {"I alt"} <= people
    # the canonical form carries no CPR numbers
    for f in (root / "canonical").glob("*.csv"):
        assert not CPR_RE.search(f.read_text(encoding="utf-8")), f.name


def test_attendance_workbook_layout(sample_ds):
    root = ee.sample_path()
    odense = sample_ds.filter(municipality="Odense")
    wb = openpyxl.load_workbook(root / "fremmoede_Odense.xlsx")
    assert sorted(wb.sheetnames) == sorted(odense.cohorts["cohort_id"])
    team = wb.sheetnames[0]
    ws = wb[team]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == f"Fremmøderegistrering – {team}"
    assert all(v is None for v in rows[1])
    assert rows[2][0] == "CPR"
    dates = [pd.Timestamp(v) for v in rows[2][1:]]
    assert all(isinstance(v, datetime.datetime) for v in rows[2][1:])
    assert all(d.day_of_week < 5 for d in dates)
    body = rows[3:-1]
    assert rows[-1][0] == "I alt"
    members = odense.participants.loc[odense.participants["cohort_id"] == team]
    assert len(body) == len(members)
    codes = {v for r in body for v in r[1:]}
    assert codes <= {"M", "K", "S", "A", "F", None}
    counts = [sum(r[k] in ("M", "K") for r in body) for k in range(1, len(rows[2]))]
    assert list(rows[-1][1:]) == counts
    # the register agrees with canonical attendance
    att = odense.attendance.loc[odense.attendance["participant_id"].isin(members["participant_id"])]
    came = att["status"].isin(["present", "late"]).groupby(att["date"]).sum()
    assert came.reindex(dates).tolist() == counts
    assert wb.properties.modified == wb.properties.created


# -- CLI --------------------------------------------------------------------------------------


def test_info_on_sample_canonical(capsys):
    assert main(["info", str(ee.sample_path() / "canonical")]) == 0
    out = capsys.readouterr().out
    assert "4 municipalities" in out
    assert "n_participants" in out and "Odense" in out


# -- national scale ---------------------------------------------------------------------------


@pytest.mark.slow
def test_national_scale_row_counts_and_speed():
    t0 = time.process_time()
    ds, truth = synthesize(seed=2018, scale="national")
    cpu = time.process_time() - t0  # CPU seconds: robust to other jobs on a shared runner
    p = ds.participants
    assert len(ds.municipalities) == 98
    assert 19_000 <= len(p) <= 21_000
    assert p.groupby("cohort_id").size().between(5, 8).all()
    assert len(ds.attendance) > 1_200_000
    assert len(ds.activities) > 1_000_000
    assert 0.20 <= (p["status"] == "dropped_out").mean() <= 0.35
    assert len(truth.municipality_deviations["municipality"].unique()) == 98
    # budget: under a minute and 4 GB (generation ~3 s CPU, validation ~10 s CPU)
    assert cpu < 60, cpu
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert peak_kib < 4 * 1024**2, peak_kib
