"""Calibration of ``mixed_model``'s Satterthwaite tests on simulated data with known truth.

Three municipalities with two teams of six each (the programme's scale), team and
participant random intercepts, a true change of 0.5 from baseline to end and no true
municipality difference. Satterthwaite's t tests should hold their level where the normal
reference (``ddf="wald"``) over-rejects: a municipality contrast rests on 6 teams in 3
municipalities, i.e. about 3 degrees of freedom.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from _models_data import dataset_from_scores, simulate_programme
from envejind_eval.analysis import mixed_model

pytestmark = pytest.mark.slow

N_SIM = 200
CHANGE = 0.5


@pytest.fixture(scope="module")
def fits() -> pd.DataFrame:
    out = []
    for seed in range(N_SIM):
        ds = dataset_from_scores(simulate_programme(seed, change=CHANGE))
        r = mixed_model(ds, "ungestjernen", formula="score ~ C(timepoint) + C(municipality)")
        singular = any(w.startswith("singular fit: the cohort_id") for w in r.warnings)
        out.append(r.tidy().assign(sim=seed, singular=singular))
    return pd.concat(out, ignore_index=True)


def test_municipality_tests_hold_their_level(fits):
    m = fits[fits["term"].str.startswith("C(municipality)")]
    # balanced design: the df are the teams minus the municipalities, or the participants
    # minus the municipalities where the team variance is estimated at 0 (as lmerTest)
    np.testing.assert_allclose(m.loc[~m["singular"], "df"], 3, rtol=1e-3)
    np.testing.assert_allclose(m.loc[m["singular"], "df"], 33, rtol=1e-3)
    sat = (m["p_value"] < 0.05).mean()
    wald = (2 * stats.norm.sf(m["t_statistic"].abs()) < 0.05).mean()
    print(f"rejection at 5 %: Satterthwaite {sat:.3f}, normal reference {wald:.3f}")
    assert 0.02 <= sat <= 0.08
    assert wald >= sat + 0.03  # the normal reference over-rejects


def test_change_interval_covers_the_truth(fits):
    tp = fits[fits["term"] == "C(timepoint)[T.end]"]
    covered = ((tp["ci_low"] <= CHANGE) & (tp["ci_high"] >= CHANGE)).mean()
    assert 0.91 <= covered <= 0.99
    np.testing.assert_allclose(tp["df"], 35, rtol=1e-3)  # within participants: 36 - 1
