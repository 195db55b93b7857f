"""A crafted team whose attendance answers are known by hand (shared by the attendance,
retention and outcomes tests).

Team T1 (municipality A) starts Monday 2024-01-01 and meets Monday-Thursday for 8 weeks
(32 scheduled days). Mentors M1, M2.

* P1 present every day at 08:00.
* P2 present at 08:00 until Tuesday of week 3 and drops out on Wednesday 2024-01-17
  (day 16; that day is scheduled but unregistered).
* P3 late every day of weeks 1-4 (arrives 09:30) and present weeks 5-8 (08:15): improves.
* P4 unexcused every Monday, otherwise present at 08:00.
* P5 excused Tuesday of week 1, no registration on Thursday 2024-02-01, otherwise present.

ART is held Monday and Wednesday (120 minutes); an ART row exists for each participant on
each ART day they are registered, attended when present or late. MI talks: P1 on Tuesdays
and Thursdays, everyone else on Tuesdays when registered and present.

Outcomes (in_education): baseline 0,0,0,1,0 and end 1,1,1,1,0 for P1..P5 -> 3 pairs move
0 -> 1, none 1 -> 0 (exact McNemar p = 0.25).
"""

from __future__ import annotations

import pandas as pd

START = pd.Timestamp("2024-01-01")
DAYS = [START + pd.Timedelta(days=7 * w + d) for w in range(8) for d in range(4)]
STAR_ITEMS = [
    "star_daily_rhythm", "star_self_control", "star_social", "star_responsibility",
    "star_education_work", "star_wellbeing", "star_future", "star_crime",
]  # fmt: skip


def week_of(day: pd.Timestamp) -> int:
    return (day - START).days // 7 + 1


def crafted_tables(*, mentors: bool = True, baseline_end: dict | None = None) -> dict:
    ids = ["P1", "P2", "P3", "P4", "P5"]
    exit_p2 = pd.Timestamp("2024-01-17")
    end = pd.Timestamp("2024-02-22")
    participants = pd.DataFrame(
        {
            "participant_id": ids,
            "municipality": "A",
            "cohort_id": "T1",
            "mentor_id": ["M1", "M1", "M2", "M2", "M1"] if mentors else [None] * 5,
            "sex": "male",
            "birth_year": 2005,
            "referred_by": "police",
            "start_date": START,
            "planned_end_date": end,
            "status": ["completed", "dropped_out", "completed", "completed", "completed"],
            "exit_date": [end, exit_p2, end, end, end],
            "exit_reason": [None, "moved", None, None, None],
        }
    )
    att = []
    for d in DAYS:
        wk = week_of(d)
        att.append(("P1", d, "present", "08:00"))
        if d < exit_p2:
            att.append(("P2", d, "present", "08:00"))
        if wk <= 4:
            att.append(("P3", d, "late", "09:30"))
        else:
            att.append(("P3", d, "present", "08:15"))
        if d.day_of_week == 0:
            att.append(("P4", d, "unexcused", None))
        else:
            att.append(("P4", d, "present", "08:00"))
        if d == pd.Timestamp("2024-01-02"):
            att.append(("P5", d, "excused", None))
        elif d != pd.Timestamp("2024-02-01"):
            att.append(("P5", d, "present", "08:00"))
    attendance = pd.DataFrame(att, columns=["participant_id", "date", "status", "arrival_time"])
    acts = []
    for r in attendance.itertuples(index=False):
        attended = r.status in ("present", "late")
        if r.date.day_of_week in (0, 2):
            acts.append((r.participant_id, r.date, "art", attended, 120.0))
        mi_days = (1, 3) if r.participant_id == "P1" else (1,)
        if r.date.day_of_week in mi_days and attended:
            acts.append((r.participant_id, r.date, "mi", True, 45.0))
    activities = pd.DataFrame(
        acts, columns=["participant_id", "date", "activity", "attended", "minutes"]
    )
    outcomes = pd.DataFrame(
        [
            (pid, tp, "in_education", v)
            for tp, vals in (("baseline", [0, 0, 0, 1, 0]), ("end", [1, 1, 1, 1, 0]))
            for pid, v in zip(ids, vals, strict=True)
        ],
        columns=["participant_id", "timepoint", "indicator", "value"],
    )
    tables = {
        "participants": participants,
        "attendance": attendance,
        "activities": activities,
        "outcomes": outcomes,
    }
    if baseline_end is not None:
        rows = [
            (pid, "ungestjernen", tp, "self", item, pd.NaT, float(v))
            for pid, (b, e) in baseline_end.items()
            for tp, v in (("baseline", b), ("end", e))
            for item in STAR_ITEMS
        ]
        tables["measurements"] = pd.DataFrame(
            rows,
            columns=["participant_id", "instrument", "timepoint", "rater", "item", "date",
                     "value"],
        )  # fmt: skip
    return tables


def crafted_dataset(**kw):
    from envejind_eval.dataset import Dataset

    return Dataset.from_tables(crafted_tables(**kw))
