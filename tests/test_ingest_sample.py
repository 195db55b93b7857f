"""The bundled sample delivery loads with zero quarantined rows and the canonical content."""

from __future__ import annotations

import pytest

import envejind_eval as ee
from _ingest_support import KEY, assert_same_tables


@pytest.fixture(scope="module")
def loaded():
    if not (ee.sample_path() / "deltagere.csv").exists():
        pytest.skip("sample delivery not generated")
    return ee.load(ee.sample_path(), key=KEY)


def test_sample_zero_quarantined(loaded):
    rep = loaded.ingest_report
    assert rep.n_quarantined == 0, rep.to_text()
    assert rep.exit_code == 0
    assert (rep.problems["severity"] == "error").sum() == 0
    f = rep.files
    assert (f.rows_read == f.accepted + f.skipped + f.quarantined + f.duplicates).all()
    xl = f[f.format == "xlsx"]
    assert len(xl) >= 8 and (xl.skipped_total == 1).all() and (xl.skipped_title >= 1).all()


def test_sample_matches_canonical_apart_from_ids(loaded):
    canon = ee.Dataset.from_canonical(ee.sample_path() / "canonical")
    # deltagere.csv and canonical/participants.csv list the same people in the same order
    ids = dict(
        zip(
            loaded.participants["participant_id"], canon.participants["participant_id"], strict=True
        )
    )
    got = {}
    for name in ("participants", "cohorts", "attendance", "activities", "measurements", "outcomes"):
        df = loaded.table(name)
        if "participant_id" in df.columns:
            df = df.assign(participant_id=df["participant_id"].map(ids))
        got[name] = df
    assert_same_tables(got, {n: canon.table(n) for n in got})


def test_sample_ids_are_pseudonyms_not_cpr(loaded):
    pids = loaded.participants["participant_id"]
    assert pids.str.fullmatch(r"[0-9a-f]{16}").all()
    text = (ee.sample_path() / "deltagere.csv").read_text(encoding="utf-8-sig")
    assert not any(p in text for p in pids)
