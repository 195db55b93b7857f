"""Crafted datasets for the models / meta / missing tests (owned with tests/test_models.py)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd

import envejind_eval as ee
from envejind_eval.instruments import get_instrument

REF = Path(__file__).parent / "reference"
STAR_ITEMS = get_instrument("ungestjernen").item_ids
REFERRERS = ["social_services", "police", "school", "jobcentre"]


def dataset_from_scores(
    long: pd.DataFrame,
    *,
    instrument: str = "ungestjernen",
    participants: pd.DataFrame | None = None,
    items: dict[str, pd.Series] | None = None,
) -> ee.Dataset:
    """A Dataset whose ``instrument`` total (and every domain) equals ``long["score"]``.

    ``long`` has ``participant_id, cohort_id, municipality, timepoint, score``; every item of
    the form gets the score, so item, domain and total scores all equal it. ``participants``
    may add/override columns (status, sex, birth_year, referred_by) by participant_id.
    """
    inst = get_instrument(instrument)
    ids = long.drop_duplicates("participant_id")[["participant_id", "cohort_id", "municipality"]]
    n = len(ids)
    rng = np.random.default_rng(1)
    p = ids.assign(
        mentor_id="M1",
        sex=np.where(rng.random(n) < 0.8, "male", "female"),
        birth_year=rng.integers(1995, 2001, n),
        referred_by=rng.choice(REFERRERS, n),
        start_date="2017-01-09",
        planned_end_date="2017-05-09",
        status="completed",
        exit_date=pd.NA,
        exit_reason=pd.NA,
    )
    if participants is not None:
        p = p.drop(columns=[c for c in participants.columns if c != "participant_id"]).merge(
            participants, on="participant_id", how="left"
        )
    m = long.loc[long["score"].notna()].merge(pd.DataFrame({"item": inst.item_ids}), how="cross")
    meas = pd.DataFrame(
        {
            "participant_id": m["participant_id"],
            "instrument": instrument,
            "timepoint": m["timepoint"],
            "rater": inst.raters[0],
            "item": m["item"],
            "date": pd.NA,
            "value": m["score"].astype(float),
        }
    )
    return ee.Dataset.from_tables({"participants": p, "measurements": meas})


def models_input() -> pd.DataFrame:
    return pd.read_csv(REF / "models_input.csv", keep_default_na=False, na_values=[""])


@functools.cache
def models_dataset() -> ee.Dataset:
    """Dataset of models_input.csv (built once per session); no end score = dropped out."""
    long = models_input()
    # participants without an end score count as dropouts
    has_end = set(long.loc[long["timepoint"] == "end", "participant_id"])
    ids = long["participant_id"].unique()
    status = pd.DataFrame(
        {
            "participant_id": ids,
            "status": ["completed" if i in has_end else "dropped_out" for i in ids],
        }
    )
    return dataset_from_scores(long, participants=status)


@functools.cache
def sample_dataset() -> ee.Dataset:
    """The bundled sample (loaded once per test session; a Dataset is immutable)."""
    return ee.Dataset.from_canonical(ee.sample_path() / "canonical")


def simulate_programme(seed: int, *, teams: int = 2, size: int = 6, change: float = 0.5):
    """Long scores of 3 municipalities x ``teams`` teams x ``size`` young people at baseline
    and end: team and participant random intercepts (variances 0.3 and 0.5, residual 0.5),
    a true change of ``change`` and no municipality difference (1-10 scale, clipped)."""
    rng = np.random.default_rng(seed)
    rows = []
    for m in range(3):
        for t in range(teams):
            u = rng.normal(0, np.sqrt(0.3))  # team
            for i in range(size):
                v = rng.normal(0, np.sqrt(0.5))  # participant
                for tp, eff in (("baseline", 0.0), ("end", change)):
                    y = 5.5 + eff + u + v + rng.normal(0, np.sqrt(0.5))
                    rows.append((f"m{m}t{t}p{i}", f"m{m}t{t}", f"K{m}", tp, np.clip(y, 1, 10)))
    return pd.DataFrame(
        rows, columns=["participant_id", "cohort_id", "municipality", "timepoint", "score"]
    )
