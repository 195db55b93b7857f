"""Issue 17 §1, §2: nothing lost in silence; mapping by what staff write.

Each test builds a small delivery (``_ingest_support.write_variant``), edits one file the
way staff would, and checks the load.
"""

from __future__ import annotations

import pandas as pd
import pytest

from _ingest_support import KEY, make_tables, pid_of, write_variant
from envejind_eval.errors import IngestError
from envejind_eval.ingest import read_delivery


@pytest.fixture
def delivery(tmp_path):
    tables, cprs = make_tables(3, n=4)
    folder = write_variant(tables, cprs, tmp_path / "lev", attendance="csv")
    return folder, tables


def _csv(path) -> pd.DataFrame:
    return pd.read_csv(path, sep=";", dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _write(df: pd.DataFrame, path) -> None:
    df.to_csv(path, sep=";", index=False, encoding="utf-8-sig")


def _problems(rep, rule):
    return rep.problems[rep.problems["rule"] == rule]


# -- §1 nothing lost in silence --------------------------------------------------------------


def test_status_columns_with_own_names_mapped_in_config_load(delivery):
    """'Har job' = 'in_employment' loaded 0 outcomes with exit 0 before."""
    folder, tables = delivery
    st = _csv(folder / "status.csv")
    own = {
        "I uddannelse": "Går i skole",
        "I beskæftigelse": "Har job",
        "Sigtet af politiet": "Sigtet",
        "Stabil bolig": "Har bolig",
    }
    _write(st.rename(columns=own), folder / "status.csv")
    (folder / "datakilder.toml").write_text(
        '[files."status.csv".columns]\n"Går i skole" = "in_education"\n'
        '"Har job" = "in_employment"\n"Har bolig" = "I bolig"\n'.replace(
            '"I bolig"', '"stable_housing"'
        ),
        encoding="utf-8",
    )
    got, rep, _ = read_delivery(folder, key=KEY)
    want = tables["outcomes"]
    assert len(got["outcomes"]) == len(want) > 0
    assert set(got["outcomes"]["indicator"]) == set(want["indicator"])
    assert rep.exit_code == 0
    acc = rep.columns[rep.columns["file"] == "status.csv"].set_index("column")
    assert acc.loc["Har job", "target"] == "in_employment"
    assert acc.loc["Har job", "values_loaded"] == acc.loc["Har job", "values_read"] > 0


def test_mapped_column_whose_values_reach_no_table_is_a_problem(delivery):
    folder, _ = delivery
    p = _csv(folder / "deltagere.csv")
    p["Har job"] = "Ja"
    _write(p, folder / "deltagere.csv")
    (folder / "datakilder.toml").write_text(
        '[columns]\n"Har job" = "in_employment"\n', encoding="utf-8"
    )
    _, rep, _ = read_delivery(folder, key=KEY)
    lost = _problems(rep, "values_not_loaded")
    assert list(lost["column"]) == ["Har job"]
    assert (lost["severity"] == "error").all()
    assert "4 of 4 values" in lost["message"].iloc[0]
    assert rep.exit_code == 1  # not "no problems", exit 0


def test_unreadable_format_is_listed_as_not_read(delivery):
    """A file of a format that is not read was skipped with no word before."""
    folder, _ = delivery
    (folder / "fremmoede_hold2.pdf").write_bytes(b"%PDF-1.4")
    (folder / "noter.docx").write_bytes(b"PK\x03\x04")
    (folder / "~$deltagere.xlsx").write_bytes(b"x")
    _, rep, _ = read_delivery(folder, key=KEY)
    nr = _problems(rep, "file_not_read").set_index("file")
    assert set(nr.index) == {"fremmoede_hold2.pdf", "noter.docx", "~$deltagere.xlsx"}
    assert nr.loc["fremmoede_hold2.pdf", "message"].startswith("format .pdf: not read")
    assert "lock file" in nr.loc["~$deltagere.xlsx", "message"]
    assert (nr["severity"] == "info").all()  # no table: a note, not a problem to fix
    text = rep.to_text()
    assert "3 note(s):" in text and "file_not_read" in text


def test_unrecognised_table_is_listed_as_not_read(delivery):
    folder, _ = delivery
    (folder / "oversigt.csv").write_text("Uge;Antal\n1;5\n", encoding="utf-8")
    _, rep, _ = read_delivery(folder, key=KEY)
    nr = _problems(rep, "file_not_read")
    assert list(nr["file"]) == ["oversigt.csv"]
    assert list(nr["severity"]) == ["warning"]  # a table: its rows may be data
    assert "datakilder.toml" in nr["message"].iloc[0]


def test_unknown_target_names_valid_targets_and_the_closest(delivery):
    folder, _ = delivery
    (folder / "datakilder.toml").write_text(
        '[columns]\n"Har job" = "in_employmnet"\n', encoding="utf-8"
    )
    with pytest.raises(IngestError) as e:
        read_delivery(folder, key=KEY)
    msg = str(e.value)
    assert "closest: 'in_employment'" in msg
    assert "municipality" in msg and "star_daily_rhythm" in msg


# -- §2 map by what staff write ------------------------------------------------------------------


def _star_form(folder, tables, header_of):
    """maalinger_ungestjernen.csv with its item columns renamed by ``header_of``."""
    from envejind_eval.instruments import get_instrument

    inst = get_instrument("ungestjernen")
    p = tables["participants"]
    cpr = _csv(folder / "deltagere.csv")["CPR"]
    rows = {"CPR": list(cpr), "Måletidspunkt": ["Start"] * len(p), "Bedømmer": ["Selv"] * len(p)}
    rows["Dato"] = [""] * len(p)
    for k, it in enumerate(inst.items):
        rows[header_of(inst, it)] = [str(1 + (k + j) % 10) for j in range(len(p))]
    _write(pd.DataFrame(rows), folder / "maalinger_ungestjernen.csv")
    return inst


def test_ungestjernen_arms_by_danish_domain_name(delivery):
    folder, tables = delivery
    inst = _star_form(folder, tables, lambda inst, it: inst.domain(it.domain).label["da"])
    got, rep, _ = read_delivery(folder, key=KEY)
    m = got["measurements"]
    star = m[m["instrument"] == "ungestjernen"]
    assert set(star["item"]) == set(inst.item_ids)
    assert len(star) == len(inst.items) * len(tables["participants"])
    assert _problems(rep, "ignored_column").empty


def test_item_mapped_by_id_or_english_label_in_config(delivery):
    folder, tables = delivery
    inst = _star_form(folder, tables, lambda inst, it: f"Arm {it.id[-4:]}")
    cfg = ['[files."maalinger_ungestjernen.csv".columns]']
    for k, it in enumerate(inst.items):  # alternately by id and by English label
        cfg.append(f'"Arm {it.id[-4:]}" = "{it.id if k % 2 else it.label["en"]}"')
    (folder / "datakilder.toml").write_text("\n".join(cfg) + "\n", encoding="utf-8")
    got, rep, _ = read_delivery(folder, key=KEY)
    star = got["measurements"][got["measurements"]["instrument"] == "ungestjernen"]
    assert set(star["item"]) == set(inst.item_ids)
    assert rep.exit_code == 0


def test_instrument_aliases_are_matched(tmp_path):
    from envejind_eval.ingest.mapping import item_names
    from envejind_eval.instruments import parse_instrument

    inst = parse_instrument(
        {
            "id": "mini",
            "version": "1",
            "name": {"da": "Mini", "en": "Mini"},
            "description": {"da": "x", "en": "x"},
            "scale": {"min": 1, "max": 5},
            "direction": "higher_is_better",
            "raters": ["self"],
            "reliability": 0.7,
            "domains": [{"id": "d", "label": {"da": "D", "en": "D"}, "aliases": ["Dom"]}],
            "items": [
                {"id": "a", "domain": "d", "label": {"da": "A", "en": "A"}, "aliases": ["Sp. 1"]},
                {"id": "b", "domain": "d", "label": {"da": "B", "en": "B"}},
            ],
        }
    )
    names = item_names(inst)
    assert names["sp 1"] == "a" and names["b"] == "b"
    assert "dom" not in names  # two items share the domain: its name tells neither


def test_fixed_values_for_a_per_team_file(delivery):
    """A participant list per team, without Kommune and Hold columns."""
    folder, tables = delivery
    p = _csv(folder / "deltagere.csv")
    (folder / "deltagere.csv").unlink()
    teams = sorted(p["Hold"].unique())
    cfg = []
    for k, team in enumerate(teams):
        part = p[p["Hold"] == team].drop(columns=["Kommune", "Hold"])
        _write(part, folder / f"deltagere_team{k}.csv")
        kommune = p.loc[p["Hold"] == team, "Kommune"].iloc[0]
        cfg += [
            f'[files."deltagere_team{k}.csv".values]',
            f'municipality = "{kommune}"',
            f'cohort_id = "{team}"',
        ]
    (folder / "datakilder.toml").write_text("\n".join(cfg) + "\n", encoding="utf-8")
    got, rep, _ = read_delivery(folder, key=KEY)
    want = tables["participants"].set_index("participant_id")
    g = got["participants"].set_index("participant_id").loc[want.index]
    assert (g["municipality"] == want["municipality"]).all()
    assert (g["cohort_id"] == want["cohort_id"]).all()
    assert rep.exit_code == 0


def test_fixed_value_and_column_together_is_refused(delivery):
    folder, _ = delivery
    (folder / "datakilder.toml").write_text(
        '[files."deltagere.csv".values]\nmunicipality = "Holbæk"\n', encoding="utf-8"
    )
    with pytest.raises(IngestError, match="both a column .* and a fixed value"):
        read_delivery(folder, key=KEY)


@pytest.mark.parametrize("label", ["Total fremmødte", "Gns.", "Sum:", "I alt", "Antal mødt"])
def test_total_rows_by_pattern_are_skipped_not_invalid_cprs(delivery, label):
    folder, tables = delivery
    a = _csv(folder / "fremmoede.csv")
    total = pd.DataFrame([{"CPR": label, "Dato": a["Dato"].iloc[0], "Kode": "12"}])
    note = pd.DataFrame([{"CPR": "", "Dato": "M = mødt, F = fravær", "Kode": ""}])
    _write(pd.concat([a, total, note]), folder / "fremmoede.csv")
    got, rep, _ = read_delivery(folder, key=KEY)
    f = rep.files.set_index("file").loc["fremmoede.csv"]
    assert f["skipped_total"] == 2 and f["quarantined"] == 0
    assert not rep.problems["rule"].str.startswith("cpr_").any()
    assert len(got["attendance"]) == len(tables["attendance"])


def test_blank_cpr_inside_the_data_is_still_an_error(delivery):
    folder, _ = delivery
    a = _csv(folder / "fremmoede.csv")
    a.loc[0, "CPR"] = ""
    _write(a, folder / "fremmoede.csv")
    _, rep, _ = read_delivery(folder, key=KEY)
    assert len(_problems(rep, "not_null")) == 1


# -- §4 minimal deliveries ----------------------------------------------------------------------


def _minimal_participants(folder) -> None:
    """The list as many municipalities keep it: CPR, Kommune, Hold, Startdato, Status,
    Mentor, with title rows above the header."""
    p = _csv(folder / "deltagere.csv")[["CPR", "Kommune", "Hold", "Startdato", "Status", "Mentor"]]
    body = p.to_csv(sep=";", index=False, lineterminator="\n")
    text = "Deltagerliste – Ungeindsatsen\nUdtræk pr. 01-06-2024;;;;;\n;;;;;\n" + body
    (folder / "deltagere.csv").write_text(text, encoding="utf-8-sig")


def test_minimal_participant_list_loads_with_year_and_sex_from_the_cpr(delivery):
    folder, tables = delivery
    cprs = _csv(folder / "deltagere.csv")["CPR"]
    _minimal_participants(folder)
    got, rep, _ = read_delivery(folder, key=KEY)
    g = got["participants"].set_index("participant_id")
    assert len(g) == len(tables["participants"])
    for c in cprs:  # the test CPRs: 7th digit 0-3 with yy > 50 (1900s), else 4 (2000s)
        yy, d7 = int(c[4:6]), int(c[7])
        year = 1900 + yy if d7 <= 3 else 2000 + yy
        sex = "male" if int(c[-1]) % 2 else "female"
        assert (g.loc[pid_of(c), "birth_year"], g.loc[pid_of(c), "sex"]) == (year, sex)
    for c in ("referred_by", "planned_end_date", "exit_date", "exit_reason"):
        assert g[c].isna().all(), c
    acc = rep.columns[rep.columns["file"] == "deltagere.csv"].set_index("target")
    assert acc.loc["sex", "origin"] == "derived from CPR"
    assert acc.loc["sex", "values_loaded"] == len(g)
    assert acc.loc["referred_by", "origin"] == "not delivered"
    assert {"derived_from_cpr", "not_delivered"} <= set(rep.problems["rule"])
    assert rep.exit_code == 0
    f = rep.files.set_index("file").loc["deltagere.csv"]
    assert f["skipped_title"] >= 2 and f["accepted"] == len(g)


@pytest.mark.parametrize(
    ("cpr", "year", "sex"),
    [
        ("010203-4321", 2003, "male"),  # 7th digit 4, yy <= 36: 2000s
        ("010298-1234", 1998, "female"),  # 0-3: 1900s
        ("150507-4002", 2007, "female"),
        ("150560-5001", 1860, "male"),  # 5-8, yy > 57: 1800s
        ("150540-9003", 1940, "male"),  # 9, yy > 36: 1900s
    ],
)
def test_birth_year_and_sex_follow_the_cpr_office_rules(cpr, year, sex):
    from envejind_eval.ingest.pseudonymise import birth_year_and_sex, normalise_cpr

    digits, _ = normalise_cpr(cpr)
    assert birth_year_and_sex(digits) == (year, sex)


def test_arrival_times_keep_their_seconds(delivery):
    """'07:46:59' loaded as 07:46 without a word before."""
    folder, _ = delivery
    arr = _csv(folder / "ankomsttider.csv")
    assert len(arr) >= 2
    arr.loc[0, "Mødetid"] = "07:46:59"
    arr.loc[1, "Mødetid"] = "08:05:00"
    _write(arr, folder / "ankomsttider.csv")
    got, rep, _ = read_delivery(folder, key=KEY)
    times = set(got["attendance"]["arrival_time"].dropna())
    assert "07:46:59" in times
    assert "08:05" in times
    assert _problems(rep, "invalid_time").empty


def test_a_mapping_for_a_header_the_file_lacks_is_a_warning(delivery):
    folder, _ = delivery
    (folder / "datakilder.toml").write_text(
        '[files."status.csv".columns]\n"Har jobb" = "in_employment"\n', encoding="utf-8"
    )
    _, rep, _ = read_delivery(folder, key=KEY)
    un = _problems(rep, "mapping_unused")
    assert list(zip(un["file"], un["column"], strict=True)) == [("status.csv", "har jobb")]


def test_a_new_municipalitys_own_layout_validates_with_one_config(tmp_path):
    """The Holbæk round of issue 17 in one delivery: a minimal participant list per team
    (no Kommune column, title rows), a register with a 'Total fremmødte' row and a note,
    Ungestjernen arms by Danish name, status columns with own names, times with seconds;
    one datakilder.toml and validate is clean."""
    from envejind_eval.cli import main
    from envejind_eval.instruments import get_instrument

    tables, cprs = make_tables(11, n=7)
    folder = write_variant(tables, cprs, tmp_path / "holbaek", attendance="csv")
    _star_form(folder, tables, lambda inst, it: inst.domain(it.domain).label["da"])
    p = _csv(folder / "deltagere.csv")
    (folder / "deltagere.csv").unlink()
    cfg = []
    for k, (team, g) in enumerate(p.groupby("Hold")):
        body = g[["CPR", "Hold", "Startdato", "Status", "Mentor"]].to_csv(sep=";", index=False)
        (folder / f"Deltagerliste hold {k}.csv").write_text(
            f"Deltagerliste {team}\n;;;;\n" + body, encoding="utf-8-sig"
        )
        cfg += [
            f'[files."Deltagerliste hold {k}.csv"]',
            'table = "participants"',
            f'[files."Deltagerliste hold {k}.csv".values]',
            f'municipality = "{g["Kommune"].iloc[0]}"',
        ]
    a = _csv(folder / "fremmoede.csv").rename(columns={"CPR": "Personnr", "Kode": "Reg"})
    extra = pd.DataFrame(
        [
            {"Personnr": "Total fremmødte", "Dato": a["Dato"].iloc[0], "Reg": "5"},
            {"Personnr": "", "Dato": "M = mødt", "Reg": ""},
        ]
    )
    _write(pd.concat([a, extra]), folder / "fremmoede.csv")
    arr = _csv(folder / "ankomsttider.csv")
    arr["Mødetid"] = arr["Mødetid"] + ":59"
    _write(arr, folder / "ankomsttider.csv")
    st = _csv(folder / "status.csv").rename(
        columns={"I beskæftigelse": "Har job", "I uddannelse": "Går i skole"}
    )
    _write(st, folder / "status.csv")
    cfg += [
        "[columns]",
        '"Personnr" = "cpr"',
        '"Reg" = "attendance_code"',
        '"Har job" = "in_employment"',
        '"Går i skole" = "in_education"',
    ]
    (folder / "datakilder.toml").write_text("\n".join(cfg) + "\n", encoding="utf-8")

    got, rep, _ = read_delivery(folder, key=KEY)
    assert rep.exit_code == 0, rep.to_text()
    assert len(got["participants"]) == 7
    assert len(got["outcomes"]) == len(tables["outcomes"])
    assert len(got["attendance"]) == len(tables["attendance"])
    assert got["attendance"]["arrival_time"].dropna().str.endswith(":59").all()
    star = got["measurements"][got["measurements"]["instrument"] == "ungestjernen"]
    assert len(star) == 7 * len(get_instrument("ungestjernen").items)
    acc = rep.columns[rep.columns["origin"] != "not delivered"]
    assert (acc["values_read"] == acc["values_loaded"]).all()
    assert not rep.problems["severity"].isin(["error", "warning"]).any()
    assert "no problems" in rep.to_text()
    assert main(["validate", str(folder), "--key", str(_keyfile(tmp_path))]) == 0


def _keyfile(tmp_path):
    k = tmp_path / "keys" / "g.key"
    k.parent.mkdir()
    k.write_text(KEY.hex(), encoding="utf-8")
    k.chmod(0o600)
    return k
