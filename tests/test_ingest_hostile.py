"""Issue 15, ingest part: malformed deliveries end in a clear problem or a clear exit 2,
never a traceback, and every delivered row is still accounted for."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import envejind_eval as ee
from _ingest_support import KEY, KEY_HEX, make_tables, write_variant
from envejind_eval.cli import main
from envejind_eval.errors import IngestError
from envejind_eval.ingest import read_delivery

_BASE: dict[str, Path] = {}


@pytest.fixture
def delivery(tmp_path_factory, tmp_path) -> Path:
    """A fresh copy of a valid delivery with a long attendance file (all CSV)."""
    if "d" not in _BASE:
        t, cprs = make_tables(3)
        _BASE["d"] = write_variant(t, cprs, tmp_path_factory.mktemp("base") / "d", attendance="csv")
    d = tmp_path / "d"
    shutil.copytree(_BASE["d"], d)
    return d


@pytest.fixture
def keyfile(tmp_path) -> Path:
    k = tmp_path / "key"
    k.write_text(KEY_HEX)
    k.chmod(0o600)
    return k


def _lines(p: Path) -> list[str]:
    return p.read_bytes().decode("utf-8-sig").split("\r\n")[:-1]


def _write(p: Path, lines: list[str]) -> None:
    p.write_bytes(b"\xef\xbb\xbf" + ("\r\n".join(lines) + "\r\n").encode())


def _set_cell(p: Path, line: int, column: str, value: str) -> None:
    rows = [r.split(";") for r in _lines(p)]
    rows[line - 1][rows[0].index(column)] = value
    _write(p, [";".join(r) for r in rows])


def _balanced(rep) -> bool:
    f = rep.files
    return bool((f.rows_read == f.accepted + f.skipped + f.quarantined + f.duplicates).all())


# -- tracebacks: duplicate source, no participant accepted -------------------------------------


def test_same_table_in_two_formats_is_refused(delivery, keyfile, capsys):
    df = pd.read_csv(delivery / "deltagere.csv", sep=";", dtype=str, encoding="utf-8-sig")
    df.to_excel(delivery / "deltagere.xlsx", index=False)
    with pytest.raises(IngestError, match=r"deltagere\.csv and deltagere\.xlsx.*two formats"):
        read_delivery(delivery, key=KEY)
    assert main(["validate", str(delivery), "--key", str(keyfile)]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_header_only_participant_list_is_a_clear_exit_2(delivery, keyfile, capsys):
    p = delivery / "deltagere.csv"
    _write(p, _lines(p)[:1])
    _, rep, _ = read_delivery(delivery, key=KEY)  # the report is still produced
    assert rep.exit_code == 2
    assert "no participants accepted" in rep.fatal and "no data rows" in rep.fatal
    assert _balanced(rep)
    assert main(["validate", str(delivery), "--key", str(keyfile), "--format", "json"]) == 2
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["exit_code"] == 2 and "no participants accepted" in doc["error"]
    assert "no participants accepted" in err
    with pytest.raises(IngestError, match="no participants accepted") as ei:
        ee.load(delivery, key=KEY)
    assert ei.value.report is not None


def test_every_participant_quarantined_is_a_clear_exit_2(delivery, keyfile, tmp_path, capsys):
    p = delivery / "deltagere.csv"
    for line in range(2, len(_lines(p)) + 1):
        _set_cell(p, line, "Status", "Ukendt")
    q = tmp_path / "karantaene"
    code = main(["validate", str(delivery), "--key", str(keyfile), "--quarantine", str(q)])
    out, err = capsys.readouterr()
    assert code == 2
    assert "unusable: no participants accepted" in out  # the report is printed
    assert "were quarantined" in err and str(q) in err
    assert (q / "deltagere.quarantine.csv").exists()
    _, rep, _ = read_delivery(delivery, key=KEY)
    assert _balanced(rep)
    part = rep.files.set_index("file").loc["deltagere.csv"]
    assert part.quarantined == part.rows_read > 0


def test_validate_tables_without_participants_reports_unknown_participants():
    from envejind_eval.instruments import default_registry
    from envejind_eval.schema import coerce_table, empty_table, validate_tables

    t, _ = make_tables(2)
    tables = {"participants": empty_table("participants"), "attendance": t["attendance"]}
    tables = {k: coerce_table(k, v) for k, v in tables.items()}
    probs = validate_tables(tables, default_registry())
    assert set(probs["rule"]) == {"unknown_participant"}
    assert len(probs) == len(t["attendance"])


def test_two_person_columns_in_one_file_are_refused(delivery):
    p = delivery / "aktiviteter.csv"
    lines = _lines(p)
    lines = [lines[0] + ";Personnummer"] + [x + ";" + x.split(";")[0] for x in lines[1:]]
    _write(p, lines)
    with pytest.raises(IngestError, match=r"aktiviteter\.csv: 2 person columns") as ei:
        read_delivery(delivery, key=KEY)
    assert "'CPR' and 'Personnummer'" in str(ei.value)
    # mapped away, the file is usable again
    (delivery / "datakilder.toml").write_text('[columns]\n"Personnummer" = "ignore"\n')
    _, rep, _ = read_delivery(delivery, key=KEY)
    assert rep.exit_code == 0, rep.to_text()
