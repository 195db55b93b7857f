"""Issue 17 "Done when": a delivery in a layout the package has never seen goes from
``init`` to a clean ``validate`` with one manual edit of the proposed config.

Built on the Holbæk delivery of ``test_ingest_init`` (own Danish headers, title rows, an
``.xls`` and an ``.ods`` register per team, arrival times with seconds, a document that is
no table), changed to what §1, §2 and §4 add: a participant list with only CPR, team,
start date, status and mentor (no municipality column), Ungestjernen arms headed by their
Danish names, status columns with own names and a "Total fremmødte" row.
"""

from __future__ import annotations

import openpyxl

from _ingest_support import KEY, KEY_HEX, pid_of
from envejind_eval.cli import main
from envejind_eval.ingest import read_delivery
from envejind_eval.instruments import get_instrument
from test_ingest_init import CPRS, START1, START2, holbaek


def _issue17_delivery(folder):
    d = holbaek(folder)
    path = d / "Deltagerliste Holbæk.xlsx"
    rows = list(openpyxl.load_workbook(path).active.iter_rows(values_only=True))
    keep = ["Personnr.", "Hold", "Startdato", "Status", "Kontaktperson"]
    idx = [list(rows[2]).index(k) for k in keep]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Deltagere"
    ws.append([rows[0][0]])
    ws.append([])
    ws.append(keep)
    for r in rows[3:]:
        ws.append([r[i] for i in idx])
    wb.save(path)
    inst = get_instrument("ungestjernen")
    arms = [inst.domain(i.domain).label["da"] for i in inst.items]
    lines = ["Personnr.;Måletidspunkt;Bedømmer;Dato;" + ";".join(arms)]
    for k, c in enumerate(CPRS):
        day = (START1 if k < 4 else START2).strftime("%d-%m-%Y")
        lines.append(
            f"{c};Start;Selv;{day};" + ";".join(str(1 + (k + j) % 10) for j in range(len(arms)))
        )
    (d / "Ungestjernen start.csv").write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    lines = ["Personnr.;Måletidspunkt;Har job;I uddannelse"]
    lines += [f"{c};Start;Nej;Ja" for c in CPRS]
    lines.append("Total fremmødte;;0;7")
    (d / "Status start.csv").write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    return d


def test_unseen_layout_init_one_edit_clean_validate(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ENVEJIND_PSEUDONYM_KEY", KEY_HEX)
    d = _issue17_delivery(tmp_path / "Holbæk")
    assert main(["init", str(d), "--lang", "en"]) == 0
    cfg = d / "datakilder.toml"
    text = cfg.read_text(encoding="utf-8")
    assert '"Har job" = "in_employment"' in text
    # the one manual edit: the participant list has no municipality column
    cfg.write_text(
        text + '\n[files."Deltagerliste Holbæk.xlsx".values]\nmunicipality = "Holbæk"\n',
        encoding="utf-8",
    )
    capsys.readouterr()
    assert main(["validate", str(d)]) == 0
    out = capsys.readouterr().out
    assert "no problems" in out and "problem(s)" not in out, out
    assert out.strip().splitlines()[-1].startswith("next: the delivery is ready")

    tables, rep, _ = read_delivery(d, key=KEY)
    p = tables["participants"].set_index("participant_id")
    assert len(p) == 7 and (p["municipality"] == "Holbæk").all()
    assert p["birth_year"].notna().all() and p["sex"].notna().all()  # from the CPR
    assert p["referred_by"].isna().all()  # not delivered
    o = tables["outcomes"]
    assert len(o) == 14 and set(o["indicator"]) == {"in_employment", "in_education"}
    star = tables["measurements"]
    assert len(star) == 7 * len(get_instrument("ungestjernen").items)
    assert tables["attendance"].set_index("participant_id").loc[pid_of(CPRS[4])][
        "arrival_time"
    ].dropna().tolist() == ["07:46:59"]
    f = rep.files.set_index("file")
    assert f.loc["Status start.csv", "skipped_total"] == 1
    assert f.loc["Hold 1 fremmøde.xls", "accepted"] == 4  # the .xls is read
    notes = rep.problems[rep.problems["rule"] == "file_not_read"]
    assert list(notes["file"]) == ["Noter til evaluator.docx"]
    acc = rep.columns[rep.columns["origin"].isin(["delivered", "fixed value"])]
    assert (acc["values_read"] == acc["values_loaded"]).all()
