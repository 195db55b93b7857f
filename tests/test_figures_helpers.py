"""Hand-made tidy frames and a crafted Dataset for the figure tests (no tests here)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from envejind_eval.instruments import get_instrument

SMALL = (3.0, 2.4)  # inches; figures are drawn small and at low dpi in tests


def draw_strict(p, size=SMALL, dpi=40):
    """Draw ``p`` small with every warning turned into an error; return the figure."""
    import matplotlib.pyplot as plt
    import plotnine as p9

    q = p + p9.theme(figure_size=size, dpi=dpi)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = q.draw()
    texts = [t.get_text() for t in fig.findobj(match=lambda o: hasattr(o, "get_text"))]
    plt.close(fig)
    return texts


def pre_post_frame(municipalities=("Aalborg", "Odense"), instrument="ungestjernen", seed=1):
    rng = np.random.default_rng(seed)
    inst = get_instrument(instrument)
    rows = []
    for m in municipalities:
        for u in [*inst.domain_ids, "total"]:
            pre = rng.uniform(3, 6)
            diff = rng.normal(1.2, 0.6)
            rows.append(
                {
                    "instrument": instrument,
                    "level": "total" if u == "total" else "domain",
                    "unit": u,
                    "municipality": m,
                    "rater": "self",
                    "n": int(rng.integers(5, 14)),
                    "mean_pre": pre,
                    "mean_post": pre + diff,
                    "mean_diff": diff,
                    "ci_low": diff - 0.8,
                    "ci_high": diff + 0.8,
                    "cohens_dz": diff / 1.1,
                    "share_improved": 0.5,
                    "share_unchanged": 0.4,
                    "share_worsened": 0.1,
                    "extra_column": "ignored",
                }
            )
    return pd.DataFrame(rows)


def reliable_change_frame(instrument="ungestjernen", n=12, seed=2):
    rng = np.random.default_rng(seed)
    inst = get_instrument(instrument)
    rows = []
    for u in inst.domain_ids[:5]:
        for i in range(n):
            pre = float(rng.integers(2, 8))
            post = float(np.clip(pre + rng.normal(1, 2), 1, 10))
            rci = (post - pre) / 1.5
            cls = "improved" if rci > 1.96 else "deteriorated" if rci < -1.96 else "unchanged"
            rows.append(
                {
                    "participant_id": f"P{i:03d}",
                    "municipality": "Aalborg" if i % 2 else "Odense",
                    "instrument": instrument,
                    "unit": u,
                    "pre": pre,
                    "post": post,
                    "rci": rci,
                    "change_class": cls,
                }
            )
    return pd.DataFrame(rows)


def trajectories_frame(instrument="ungestjernen", seed=3):
    rng = np.random.default_rng(seed)
    inst = get_instrument(instrument)
    rows = []
    for u in inst.domain_ids[:4]:
        base = rng.uniform(3, 6)
        for k, tp in enumerate(("baseline", "midway", "end", "followup")):
            m = base + 0.6 * k + rng.normal(0, 0.2)
            rows.append(
                {
                    "instrument": instrument,
                    "unit": u,
                    "timepoint": tp,
                    "n": 20 - 2 * k,
                    "mean": m,
                    "ci_low": m - 0.9,
                    "ci_high": m + 0.9,
                }
            )
    return pd.DataFrame(rows)


def meta_frame():
    return pd.DataFrame(
        {
            "municipality": ["Aalborg", "Halsnæs", "Odense", "pooled"],
            "estimate": [0.62, 0.35, 0.81, 0.6],
            "ci_low": [0.1, -0.3, 0.25, 0.3],
            "ci_high": [1.14, 1.0, 1.37, 0.9],
            "n": [12, 7, 14, 33],
            "i2": [np.nan, np.nan, np.nan, 12.0],
            "tau2": [np.nan, np.nan, np.nan, 0.01],
        }
    )


def attendance_frame():
    rows = []
    for c, m in (("AAL-1", "Aalborg"), ("AAL-2", "Aalborg"), ("ODE-1", "Odense")):
        for w in range(1, 17):
            rows.append(
                {"cohort_id": c, "municipality": m, "week": w, "n": 6, "rate": 0.9 - 0.02 * w}
            )
    return pd.DataFrame(rows)


def rhythm_frame():
    return pd.DataFrame(
        {
            "week": list(range(1, 17)),
            "n": [30] * 16,
            "on_time_share": np.linspace(0.45, 0.8, 16),
            "median_arrival": np.linspace(9 * 60 + 20, 8 * 60 + 40, 16),
        }
    )


def retention_frame():
    rows = []
    for m, rate in (("Aalborg", 0.002), ("Odense", 0.004)):
        for d in range(0, 121, 10):
            s = float(np.exp(-rate * d))
            rows.append(
                {
                    "municipality": m,
                    "time": d,
                    "survival": s,
                    "ci_low": max(s - 0.15, 0),
                    "ci_high": min(s + 0.1, 1),
                    "n_at_risk": int(12 * s),
                }
            )
    return pd.DataFrame(rows)


def outcomes_frame():
    rows = []
    for ind in ("in_education", "in_employment", "police_charge", "stable_housing"):
        for k, tp in enumerate(("baseline", "end", "followup")):
            rows.append(
                {"indicator": ind, "timepoint": tp, "n": 30 - 3 * k, "share": 0.2 + 0.15 * k}
            )
    return pd.DataFrame(rows)
