"""Synthetic data: realism, determinism, ground truth."""

from __future__ import annotations

import pandas as pd

from envejind_eval.synth import synthesize


def test_tiny_one_team_of_five_with_one_dropout(tiny_ds):
    p = tiny_ds.participants
    assert len(p) == 5
    assert p["cohort_id"].nunique() == 1
    assert (p["status"] == "dropped_out").sum() == 1


def test_sample_matches_committed_canonical(sample_ds):
    ds, _ = synthesize(seed=2018, scale="sample")
    for name in ("participants", "attendance", "measurements"):
        a = ds.table(name).reset_index(drop=True)
        b = sample_ds.table(name).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_dtype=False, check_categorical=False)
