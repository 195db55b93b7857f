"""Write the committed inputs of the models / meta / missing-data R references.

Run once: ``.venv/bin/python tests/reference/make_models_input.py``. The CSV is committed; the
R script (make_reference_models.R) and the tests read them. Long form: one row per participant
x timepoint with a ``score`` (1-10 scale, 2 decimals; missing rows are simply absent).
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
#: simulated programmes (tests/test_models_calibration.py) where statsmodels' optimiser
#: stops short of lme4's optimum near the boundary: seed 17 ends at a small team variance
#: where lme4 finds 0; seed 197 at both variances 0 where lme4 finds a small participant one
BOUNDARY_SEEDS = {"boundary_team": 17, "boundary_participant": 197}


def make_boundary() -> pd.DataFrame:
    sys.path.insert(0, str(HERE.parent))
    from _models_data import simulate_programme

    return pd.concat(
        [simulate_programme(seed).assign(case=case) for case, seed in BOUNDARY_SEEDS.items()]
    )


def make(seed: int = 20161001) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    munis = {"Aalborg": 0.0, "Halsnæs": -0.4, "Odense": 0.5}
    tps = {"baseline": 0.0, "midway": 0.6, "end": 1.1}
    rows = []
    pid = 0
    for mi, (muni, m_eff) in enumerate(munis.items()):
        for t in range(2):
            cohort = f"{muni[:3].upper()}-{t + 1}"
            u = rng.normal(0, 0.5)
            for _ in range(int(rng.integers(5, 9))):
                pid += 1
                v = rng.normal(0, 1.0)
                drop = rng.random() < 0.15
                for tp, tp_eff in tps.items():
                    if drop and tp != "baseline":
                        continue
                    if tp != "baseline" and rng.random() < 0.08:
                        continue
                    y = 5 + m_eff + tp_eff * (1 + 0.3 * mi) + u + v + rng.normal(0, 0.8)
                    rows.append(
                        {
                            "participant_id": f"P{pid:03d}",
                            "cohort_id": cohort,
                            "municipality": muni,
                            "timepoint": tp,
                            "score": round(float(np.clip(y, 1, 10)), 2),
                        }
                    )
    return pd.DataFrame(rows)


def make_rhythm() -> pd.DataFrame:
    """Weekly on-time shares and median arrival times of the sample (the input of
    ``daily_rhythm``'s group trend), one row per participant x course week x measure."""
    import envejind_eval as ee
    from envejind_eval.analysis import attendance as A

    ds = ee.Dataset.from_canonical(ee.sample_path() / "canonical")
    wk = A._weekly_values(A._attended_days(A._scheduled_days(ds), None))
    parts = [
        wk[["participant_id", "course_week", m]]
        .dropna()
        .rename(columns={m: "y", "course_week": "week"})
        .assign(measure=m)
        for m in A.MEASURES
    ]
    return pd.concat(parts, ignore_index=True)


def make_meta(seed: int = 7) -> pd.DataFrame:
    """Effect sizes and variances for the metafor::rma reference (several heterogeneity cases)."""
    rng = np.random.default_rng(seed)
    rows = []
    cases = {"hetero_k6": (6, 0.6), "homog_k4": (4, 0.0), "k3": (3, 0.3), "k2": (2, 0.2)}
    for case, (k, tau) in cases.items():
        for i in range(k):
            vi = float(rng.uniform(0.02, 0.3))
            yi = 0.5 + rng.normal(0, tau) + rng.normal(0, np.sqrt(vi) * (0.3 if tau == 0 else 1))
            rows.append(
                {"case": case, "study": f"s{i + 1}", "yi": round(yi, 4), "vi": round(vi, 4)}
            )
    return pd.DataFrame(rows)


def make_mh(seed: int = 11) -> pd.DataFrame:
    """Paired ordinal answers (pre, post) for the coin::mh_test reference."""
    rng = np.random.default_rng(seed)
    rows = []
    # 5 categories, n = 40, upward shift
    pre = rng.integers(1, 6, 40)
    post = np.clip(pre + rng.choice([-1, 0, 0, 1, 1, 2], 40), 1, 5)
    rows += [{"case": "cat5_n40", "pre": a, "post": b} for a, b in zip(pre, post, strict=True)]
    # 4 categories, n = 8 (team-sized); nobody leaves category 4
    pre = np.array([1, 1, 2, 2, 3, 3, 4, 4])
    post = np.array([2, 3, 2, 3, 4, 3, 4, 4])
    rows += [{"case": "cat4_n8", "pre": a, "post": b} for a, b in zip(pre, post, strict=True)]
    # 3 categories, one category used only at post
    pre = np.array([1, 1, 1, 2, 2, 2, 2, 1, 2, 1, 2, 2])
    post = np.array([1, 2, 3, 2, 3, 3, 2, 2, 1, 3, 3, 2])
    rows += [{"case": "cat3_n12", "pre": a, "post": b} for a, b in zip(pre, post, strict=True)]
    return pd.DataFrame(rows)


def make_rubin(seed: int = 3) -> pd.DataFrame:
    """Completed-data estimates and variances of m imputations for mice::pool.scalar."""
    rng = np.random.default_rng(seed)
    rows = []
    for case, m, n, spread in (
        ("m5_n30", 5, 30, 0.15),
        ("m20_n12", 20, 12, 0.3),
        ("m3_n60", 3, 60, 0.02),
    ):
        for j in range(m):
            rows.append(
                {
                    "case": case,
                    "imputation": j + 1,
                    "n": n,
                    "q": round(float(0.8 + rng.normal(0, spread)), 5),
                    "u": round(float(0.04 * rng.uniform(0.8, 1.2)), 6),
                }
            )
    return pd.DataFrame(rows)


if __name__ == "__main__":
    kw = {"index": False, "lineterminator": "\n"}
    make().to_csv(HERE / "models_input.csv", **kw)
    make_meta().to_csv(HERE / "meta_input.csv", **kw)
    make_mh().to_csv(HERE / "models_mh_input.csv", **kw)
    make_rubin().to_csv(HERE / "models_rubin_input.csv", **kw)
    make_boundary().to_csv(HERE / "models_boundary_input.csv", **kw)
    make_rhythm().to_csv(HERE / "rhythm_input.csv", **kw)
