"""load(): round trips through delivery variants, readers, quarantine, CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import envejind_eval as ee
from _ingest_support import KEY, KEY_HEX, assert_same_tables, make_tables, pid_of, write_variant
from envejind_eval.cli import main
from envejind_eval.errors import IngestError
from envejind_eval.ingest import read_delivery

VARIANTS = [
    ("utf-8-sig", ";", "comma", "dmy-", "xlsx"),
    ("cp1252", ",", "point", "dmy.", "csv"),
    ("utf-8", ";", "point", "dmy/", "csv"),
    ("utf-8", ";", "comma", "iso", "xlsx"),
    ("cp1252", ";", "comma", "serial", "csv"),
]


@pytest.mark.parametrize(("enc", "sep", "dec", "datef", "att"), VARIANTS)
def test_round_trip_variants(tmp_path, enc, sep, dec, datef, att):
    t, cprs = make_tables(7)
    write_variant(
        t,
        cprs,
        tmp_path / "d",
        encoding=enc,
        sep=sep,
        decimal=dec,
        date_format=datef,
        attendance=att,
        dash=sep == ";",
    )
    ds = ee.load(tmp_path / "d", key=KEY)
    rep = ds.ingest_report
    assert rep.exit_code == 0, rep.to_text()
    assert_same_tables(ds, t)
    f = rep.files
    assert (f.rows_read == f.accepted + f.skipped + f.quarantined + f.duplicates).all()
    csv = f[f.format == "csv"]
    # pure-ASCII files are (correctly) recorded as utf-8; deltagere.csv holds æøå
    assert set(csv.encoding) <= {enc, "utf-8"}
    assert csv.set_index("file").loc["deltagere.csv", "encoding"] == enc
    assert set(csv.separator) == {sep}
    if att == "xlsx":
        x = f[f.format == "xlsx"].iloc[0]
        assert (x.skipped_title, x.skipped_blank, x.skipped_total) == (1, 1, 1)


def test_danish_letters_survive(tmp_path):
    t, cprs = make_tables(3)
    write_variant(t, cprs, tmp_path / "d", encoding="cp1252", attendance="csv")
    ds = ee.load(tmp_path / "d", key=KEY)
    assert ds.participants["municipality"].iloc[0] == t["participants"]["municipality"].iloc[0]
    for c in ("municipality", "cohort_id", "mentor_id", "exit_reason"):
        assert set(ds.participants[c].dropna()) == set(t["participants"][c].dropna())
    assert any(ch in "".join(ds.participants["municipality"]) for ch in "æøåÆØÅ")


def test_same_pseudonym_across_files_and_key_env(tmp_path, monkeypatch):
    t, cprs = make_tables(4)
    write_variant(t, cprs, tmp_path / "d", dash=False)
    monkeypatch.setenv("ENVEJIND_PSEUDONYM_KEY", KEY_HEX)
    ds = ee.load(tmp_path / "d")
    assert set(ds.participants["participant_id"]) == {pid_of(c) for c in cprs}
    assert set(ds.attendance["participant_id"]) <= set(ds.participants["participant_id"])


def test_no_key_is_refused_with_keygen_hint(tmp_path, monkeypatch):
    t, cprs = make_tables(4)
    write_variant(t, cprs, tmp_path / "d")
    monkeypatch.delenv("ENVEJIND_PSEUDONYM_KEY", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "nocfg"))
    with pytest.raises(IngestError, match="envejind-eval keygen") as ei:
        ee.load(tmp_path / "d")
    for c in cprs:
        assert c not in str(ei.value) and c.replace("-", "") not in str(ei.value)
    assert main(["validate", str(tmp_path / "d")]) == 2


def test_missing_participants_is_unusable(tmp_path):
    t, cprs = make_tables(4)
    write_variant(t, cprs, tmp_path / "d")
    (tmp_path / "d" / "deltagere.csv").unlink()
    with pytest.raises(IngestError, match="no participant list"):
        ee.load(tmp_path / "d", key=KEY)


def test_name_column_dropped_with_a_reason(tmp_path):
    # issue 15: a name column is dropped with a listed reason (the delivery stays usable)
    t, cprs = make_tables(4)
    d = write_variant(t, cprs, tmp_path / "d")
    p = d / "deltagere.csv"
    lines = p.read_text(encoding="utf-8-sig").splitlines()
    lines = [lines[0] + ";Navn"] + [x + ";Jens" for x in lines[1:]]
    p.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    rep = ee.load(d, key=KEY).ingest_report
    w = rep.problems[rep.problems["rule"] == "name_column"]
    assert w[["file", "column", "severity"]].values.tolist() == [
        ["deltagere.csv", "Navn", "warning"]
    ]
    assert "Jens" not in rep.to_json()


def test_canonical_folder_csv_and_parquet(tmp_path):
    t, cprs = make_tables(5)
    ds = ee.load(write_variant(t, cprs, tmp_path / "d"), key=KEY)
    for fmt in ("csv", "parquet"):
        out = ds.to_canonical(tmp_path / fmt, format=fmt)
        back = ee.load(out)  # no CPR -> no key needed
        assert back.ingest_report.exit_code == 0, back.ingest_report.to_text()
        assert_same_tables(back, t)


def test_cli_validate_json_and_quarantine(tmp_path, capsys):
    t, cprs = make_tables(6)
    d = write_variant(t, cprs, tmp_path / "d")
    p = d / "aktiviteter.csv"
    lines = p.read_text(encoding="utf-8-sig").splitlines()
    parts = lines[1].split(";")
    parts[2] = "Fodbold"
    lines[1] = ";".join(parts)
    p.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8-sig")
    (tmp_path / "key").write_text(KEY_HEX)
    (tmp_path / "key").chmod(0o600)
    code = main(
        [
            "validate",
            str(d),
            "--format",
            "json",
            "--key",
            str(tmp_path / "key"),
            "--quarantine",
            str(tmp_path / "q"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    rep = json.loads(out)
    probs = [x for x in rep["problems"] if x["severity"] == "error"]
    assert probs == [
        {
            "file": "aktiviteter.csv",
            "sheet": None,
            "row": 2,
            "cell": None,
            "column": "Aktivitet",
            "rule": "unknown_code",
            "severity": "error",
            "message": probs[0]["message"],
        }
    ]
    q = pd.read_csv(tmp_path / "q" / "aktiviteter.quarantine.csv", dtype=str)
    assert q["row"].tolist() == ["2"] and q["CPR"].tolist() == ["XXXXXX-XXXX"]
    text = (tmp_path / "q" / "aktiviteter.quarantine.csv").read_text()
    for c in cprs:
        assert c not in text and c not in out and pid_of(c) not in out and pid_of(c) not in text


def test_keygen_cli(tmp_path, capsys):
    assert main(["keygen", "--out", str(tmp_path / "k" / "pseudonym.key")]) == 0
    assert (tmp_path / "k" / "pseudonym.key").exists()
    assert main(["keygen", "--out", str(tmp_path / "k" / "pseudonym.key")]) == 2


def test_inputs_not_mutated_and_report_frames(tmp_path):
    t, cprs = make_tables(8)
    d = write_variant(t, cprs, tmp_path / "d")
    before = {p.name: p.read_bytes() for p in d.iterdir()}
    tables, rep, _ = read_delivery(d, key=KEY)
    assert before == {p.name: p.read_bytes() for p in d.iterdir()}
    assert list(rep.problems.columns) == [
        "file",
        "sheet",
        "row",
        "cell",
        "column",
        "rule",
        "severity",
        "message",
    ]
    assert rep.files["sha256"].str.len().eq(64).all()
    assert np.issubdtype(rep.files["rows_read"].dtype, np.integer)
