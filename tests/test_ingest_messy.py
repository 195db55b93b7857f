"""The messy delivery fixture (tests/fixtures/messy_delivery) gives exactly the expected report.

Regenerate the fixture with ``_make.py`` there, then the expectation with
``ENVEJIND_WRITE_EXPECTED=1 pytest tests/test_ingest_messy.py`` -- and read the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from envejind_eval.cli import main
from envejind_eval.ingest import read_delivery

HERE = Path(__file__).parent / "fixtures" / "messy_delivery"
EXPECTED = HERE / "_expected_report.json"
KEY = bytes(range(32))
CPRS = [
    "010203-4321",
    "0102034321",
    "0502031234",
    "050203-1234",
    "50203-1234",
    "50203",
    "120398-0123",
    "1203980123",
    "150398-1111",
    "1503981111",
    "200398-2222",
    "2003982222",
]


@pytest.fixture(scope="module")
def result():
    return read_delivery(HERE, key=KEY)


def test_exact_report(result):
    _, rep, _ = result
    got = rep.to_dict()
    got.pop("folder")
    if os.environ.get("ENVEJIND_WRITE_EXPECTED"):
        EXPECTED.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    want = json.loads(EXPECTED.read_text(encoding="utf-8"))
    assert got["files"] == want["files"]
    assert got["problems"] == want["problems"]
    assert got["exit_code"] == want["exit_code"] == 1


def test_messy_story(result):
    tables, rep, _ = result
    f = rep.files.set_index("file")
    d = f.loc["deltagere.csv"]
    assert (
        d.encoding,
        d.rows_read,
        d.accepted,
        d.skipped,
        d.quarantined,
        d.duplicates,
        d.redacted,
    ) == ("cp1252", 9, 3, 1, 4, 1, 1)
    x = f.loc["fremmoede_Messy.xlsx"]
    assert (x.skipped_title, x.skipped_blank, x.skipped_total, x.quarantined) == (1, 2, 1, 3)
    assert (f.rows_read == f.accepted + f.skipped + f.quarantined + f.duplicates).all()
    rules = set(rep.problems["rule"])
    assert {
        "cpr_leading_zero_lost",
        "conflict",
        "unknown_code",
        "cpr_in_free_text",
        "value_in_scale",
        "unknown_participant",
    } <= rules
    p = rep.problems
    typo = p[(p.rule == "unknown_code") & (p.sheet == "Hold 1")].iloc[0]
    assert (typo.row, typo.cell, typo.column) == (5, "C5", "04-10-2016")
    # dates as real dates, text and an Excel serial all read
    assert sorted(tables["attendance"]["date"].dt.day.unique()) == [3, 4, 5, 6]
    assert tables["participants"]["exit_reason"].dropna().tolist() == ["Flyttet, se [CPR fjernet]"]


def test_nothing_sensitive_leaks(result, tmp_path, capsys):
    tables, rep, _ = result
    pids = set(tables["participants"]["participant_id"])
    q = tmp_path / "q"  # a folder of its own: --quarantine refuses one holding the key
    code = main(
        ["validate", str(HERE), "--format", "json", "--quarantine", str(q)]
        + ["--key", str(_keyfile(tmp_path))]
    )
    out = capsys.readouterr()
    assert code == 1
    texts = [rep.to_text(), rep.to_json(), out.out, out.err]
    texts += [p.read_text(encoding="utf-8") for p in q.glob("*.csv")]
    assert len(list(q.glob("*.quarantine.csv"))) == 3
    for t in texts:
        for c in CPRS:
            assert c not in t
        for pid in pids:
            assert pid not in t


def _keyfile(tmp: Path) -> Path:
    k = tmp / "k" / "key"
    k.parent.mkdir()
    k.write_text(KEY.hex())
    k.chmod(0o600)
    return k


def test_logs_hold_no_personal_values(caplog):
    import logging

    with caplog.at_level(logging.DEBUG):
        tables, _, _ = read_delivery(HERE, key=KEY)
    pids = set(tables["participants"]["participant_id"])
    assert caplog.records  # the summary line is logged
    for c in CPRS:
        assert c not in caplog.text
    for pid in pids:
        assert pid not in caplog.text
