"""Test helpers for ingestion: random canonical tables and a delivery writer with variants.

Not a test module (no ``test_`` prefix); imported by ``tests/test_ingest_*.py``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from envejind_eval.ingest.pseudonymise import normalise_cpr, pseudonym
from envejind_eval.ingest.vocabulary import DELIVERY
from envejind_eval.instruments import get_instrument
from envejind_eval.schema import coerce_table

KEY = bytes(range(32))
KEY_HEX = KEY.hex()

ATT_CODE = DELIVERY["attendance"]
SEX = DELIVERY["sex"]
REF = DELIVERY["referred_by"]
STATUS = DELIVERY["status"]
TP = DELIVERY["timepoint"]
RATER = DELIVERY["rater"]
ACT = DELIVERY["activity"]
IND = DELIVERY["indicator"]
DATE_FORMATS = {
    "dmy-": "%d-%m-%Y",
    "dmy.": "%d.%m.%Y",
    "dmy/": "%d/%m/%Y",
    "iso": "%Y-%m-%d",
    "serial": "serial",
}


def random_cpr(rng: np.random.Generator) -> str:
    while True:
        dd, mm = int(rng.integers(1, 29)), int(rng.integers(1, 13))
        yy = int(rng.choice([96, 98, 0, 3]))
        d7 = int(rng.integers(0, 4)) if yy > 50 else 4
        s = f"{dd:02d}{mm:02d}{yy:02d}-{d7}{int(rng.integers(0, 1000)):03d}"
        if normalise_cpr(s)[0]:
            return s


def pid_of(cpr: str, key: bytes = KEY) -> str:
    return pseudonym(normalise_cpr(cpr)[0], key)


def make_tables(seed: int, *, n: int | None = None) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Random valid canonical tables (participant_id = pseudonym of the returned CPRs)."""
    rng = np.random.default_rng(seed)
    n = n or int(rng.integers(2, 6))
    cprs: list[str] = []
    while len(cprs) < n:
        c = random_cpr(rng)
        if c not in cprs:
            cprs.append(c)
    muni = ["Ærø", "Halsnæs", "Ishøj"][int(rng.integers(0, 3))]
    ncoh = int(rng.integers(1, 3))
    cstart = [
        dt.date(2016, 10, 3) + dt.timedelta(days=7 * int(rng.integers(0, 10)) + 28 * k)
        for k in range(ncoh)
    ]
    cstart = [d - dt.timedelta(days=d.weekday()) for d in cstart]
    P = []
    for i, c in enumerate(cprs):
        k = i % ncoh
        start = cstart[k]
        status = str(rng.choice(["completed", "dropped_out", "ongoing"]))
        exit_date = (
            start + dt.timedelta(days=int(rng.integers(5, 15))) if status == "dropped_out" else None
        )
        P.append(
            {
                "participant_id": pid_of(c),
                "municipality": muni,
                "cohort_id": f"{muni}-Hold {k + 1}",
                "mentor_id": [None, "Mentor Å", "M2"][int(rng.integers(0, 3))],
                "sex": str(rng.choice(list(SEX))),
                "birth_year": int(rng.integers(1996, 2004)),
                "referred_by": [None, *REF][int(rng.integers(0, len(REF) + 1))],
                "start_date": start,
                "planned_end_date": start + dt.timedelta(days=119),
                "status": status,
                "exit_date": exit_date,
                "exit_reason": "Flyttet til Århus" if status == "dropped_out" else None,
            }
        )
    part = pd.DataFrame(P)
    coh = pd.DataFrame(
        {
            "cohort_id": [f"{muni}-Hold {k + 1}" for k in range(ncoh)],
            "municipality": muni,
            "start_date": cstart,
            "end_date": [d + dt.timedelta(days=119) for d in cstart],
        }
    )
    A, ACTV, MEAS, OUT = [], [], [], []
    inst = get_instrument("lfl")
    for r in P:
        end = r["exit_date"] or r["start_date"] + dt.timedelta(days=20)
        d = r["start_date"]
        while d <= min(end, r["start_date"] + dt.timedelta(days=16)):
            if d.weekday() < 5:
                st = str(rng.choice(list(ATT_CODE)))
                at = (
                    f"{8 + int(rng.integers(0, 2)):02d}:{int(rng.integers(0, 60)):02d}"
                    if st in ("present", "late")
                    else None
                )
                A.append(
                    {
                        "participant_id": r["participant_id"],
                        "date": d,
                        "status": st,
                        "arrival_time": at,
                    }
                )
            d += dt.timedelta(days=1)
        for j, act in enumerate(rng.choice(list(ACT), size=2, replace=False)):
            ACTV.append(
                {
                    "participant_id": r["participant_id"],
                    "date": r["start_date"] + dt.timedelta(days=j),
                    "activity": str(act),
                    "attended": bool(rng.integers(0, 2)),
                    "minutes": [45.0, 62.5, None][int(rng.integers(0, 3))],
                }
            )
        for tp, day in (
            ("baseline", r["start_date"]),
            ("end", r["start_date"] + dt.timedelta(days=3)),
        ):
            for item in inst.item_ids:
                v = [1.0, 2.0, 3.0, 4.0, 5.0, 9.0, np.nan][int(rng.integers(0, 7))]
                MEAS.append(
                    {
                        "participant_id": r["participant_id"],
                        "instrument": "lfl",
                        "timepoint": tp,
                        "rater": "self",
                        "item": item,
                        "date": day,
                        "value": v,
                    }
                )
            for ind in IND:
                OUT.append(
                    {
                        "participant_id": r["participant_id"],
                        "timepoint": tp,
                        "indicator": ind,
                        "value": [0.0, 1.0, np.nan][int(rng.integers(0, 3))],
                    }
                )
    tables = {
        "participants": part,
        "cohorts": coh,
        "attendance": pd.DataFrame(A),
        "activities": pd.DataFrame(ACTV),
        "measurements": pd.DataFrame(MEAS),
        "outcomes": pd.DataFrame(OUT),
    }
    return {k: coerce_table(k, v) for k, v in tables.items()}, cprs


def _fmt_date(d, fmt: str) -> str:
    if d is None or pd.isna(d):
        return ""
    d = pd.Timestamp(d).date()
    if fmt == "serial":
        return str((d - dt.date(1899, 12, 30)).days)
    return d.strftime(fmt)


def _fmt_num(v, decimal: str) -> str:
    if v is None or pd.isna(v):
        return ""
    s = f"{v:g}"
    return s.replace(".", ",") if decimal == "comma" else s


def _write_csv(
    path: Path,
    header: list[str],
    rows: list[list[str]],
    *,
    sep: str,
    encoding: str,
    crlf: bool = True,
) -> None:
    nl = "\r\n" if crlf else "\n"
    text = nl.join(sep.join(r) for r in [header, *rows]) + nl
    path.write_bytes(text.encode(encoding))


def write_variant(
    tables: dict[str, pd.DataFrame],
    cprs: list[str],
    folder: Path,
    *,
    encoding: str = "utf-8-sig",
    sep: str = ";",
    decimal: str = "comma",
    date_format: str = "dmy-",
    attendance: str = "xlsx",
    dash: bool = True,
) -> Path:
    """Write canonical tables as a municipal delivery (docs/delivery_format.md) with variants."""
    folder.mkdir(parents=True, exist_ok=True)
    fmt = DATE_FORMATS[date_format]
    cpr_of = {pid_of(c): (c if dash else c.replace("-", "")) for c in cprs}
    kw = {"sep": sep, "encoding": encoding}
    D = lambda d: _fmt_date(d, fmt)  # noqa: E731
    N = lambda v: _fmt_num(v, decimal)  # noqa: E731
    S = lambda v: "" if v is None or pd.isna(v) else str(v)  # noqa: E731
    p = tables["participants"]
    _write_csv(
        folder / "deltagere.csv",
        [
            "CPR",
            "Kommune",
            "Hold",
            "Mentor",
            "Køn",
            "Fødselsår",
            "Henvist af",
            "Startdato",
            "Planlagt slutdato",
            "Status",
            "Slutdato",
            "Ophørsårsag",
        ],
        [
            [
                cpr_of[r.participant_id],
                r.municipality,
                r.cohort_id,
                S(r.mentor_id),
                SEX[r.sex],
                S(r.birth_year),
                REF.get(r.referred_by, "") if isinstance(r.referred_by, str) else "",
                D(r.start_date),
                D(r.planned_end_date),
                STATUS[r.status],
                D(r.exit_date),
                S(r.exit_reason),
            ]
            for r in p.itertuples()
        ],
        **kw,
    )
    c = tables["cohorts"]
    _write_csv(
        folder / "hold.csv",
        ["Hold", "Kommune", "Startdato", "Slutdato"],
        [[r.cohort_id, r.municipality, D(r.start_date), D(r.end_date)] for r in c.itertuples()],
        **kw,
    )
    a = tables["attendance"]
    if attendance == "xlsx":
        _write_register(a, p, cpr_of, folder / f"fremmoede_{p.municipality.iloc[0]}.xlsx")
    else:
        _write_csv(
            folder / "fremmoede.csv",
            ["CPR", "Dato", "Kode"],
            [[cpr_of[r.participant_id], D(r.date), ATT_CODE[r.status]] for r in a.itertuples()],
            **kw,
        )
    arr = a[a["arrival_time"].notna()]
    _write_csv(
        folder / "ankomsttider.csv",
        ["CPR", "Dato", "Mødetid"],
        [[cpr_of[r.participant_id], D(r.date), r.arrival_time] for r in arr.itertuples()],
        **kw,
    )
    act = tables["activities"]
    _write_csv(
        folder / "aktiviteter.csv",
        ["CPR", "Dato", "Aktivitet", "Deltog", "Minutter"],
        [
            [
                cpr_of[r.participant_id],
                D(r.date),
                ACT[r.activity],
                "Ja" if r.attended else "Nej",
                N(r.minutes),
            ]
            for r in act.itertuples()
        ],
        **kw,
    )
    m = tables["measurements"]
    for inst, g in m.groupby("instrument", sort=True):
        items = list(dict.fromkeys(g["item"]))
        w = g.set_index(["participant_id", "timepoint", "rater", "date", "item"])["value"].unstack(
            "item", sort=False
        )
        rows = []
        for (pid, tp, rater, d), vals in w.iterrows():
            rows.append([cpr_of[pid], TP[tp], RATER[rater], D(d), *[N(vals[i]) for i in items]])
        _write_csv(
            folder / f"maalinger_{inst}.csv",
            ["CPR", "Måletidspunkt", "Bedømmer", "Dato", *items],
            rows,
            **kw,
        )
    o = tables["outcomes"]
    w = o.set_index(["participant_id", "timepoint", "indicator"])["value"].unstack(
        "indicator", sort=False
    )
    yn = lambda v: "" if pd.isna(v) else ("Ja" if v == 1 else "Nej")  # noqa: E731
    _write_csv(
        folder / "status.csv",
        ["CPR", "Måletidspunkt", *IND.values()],
        [[cpr_of[pid], TP[tp], *[yn(vals[i]) for i in IND]] for (pid, tp), vals in w.iterrows()],
        **kw,
    )
    return folder


def _write_register(a: pd.DataFrame, p: pd.DataFrame, cpr_of: dict, path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    coh = p.set_index("participant_id")["cohort_id"]
    a = a.assign(cohort=a["participant_id"].map(coh))
    for cohort, g in a.groupby("cohort", sort=True):
        ws = wb.create_sheet(str(cohort)[:31])
        ws.append([f"Fremmøderegistrering – {cohort}"])
        ws.append([])
        dates = sorted(g["date"].unique())
        ws.append(["CPR", *[pd.Timestamp(d).to_pydatetime() for d in dates]])
        for j in range(len(dates)):
            ws.cell(3, j + 2).number_format = "DD-MM-YYYY"
        for pid, gg in g.groupby("participant_id", sort=False):
            codes = dict(zip(gg["date"], gg["status"].map(ATT_CODE), strict=True))
            ws.append([cpr_of[pid], *[codes.get(d) for d in dates]])
        ws.append(
            [
                "I alt",
                *[
                    int(((g["date"] == d) & g["status"].isin(["present", "late"])).sum())
                    for d in dates
                ],
            ]
        )
    wb.save(path)


def canon_sorted(name: str, df: pd.DataFrame) -> pd.DataFrame:
    from envejind_eval.schema import TABLES

    spec = TABLES[name]
    out = coerce_table(name, df.reset_index(drop=True))
    return out.sort_values(list(spec.key), kind="stable").reset_index(drop=True)


def assert_same_tables(got, want: dict[str, pd.DataFrame]) -> None:
    for name, w in want.items():
        g = got[name] if isinstance(got, dict) else got.table(name)
        pd.testing.assert_frame_equal(
            canon_sorted(name, g), canon_sorted(name, w), check_dtype=True, obj=name
        )
