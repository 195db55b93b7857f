"""Issue 17 §1, the "nothing lost" invariant as a property: over generated mappings (own
headers mapped in datakilder.toml, per file or for every file; extra columns mapped to
targets their table does not use) and layouts (separators, date forms, register or long
attendance), with corrupted cells, per file and mapped column

    values read = values loaded + values quarantined + values duplicate (+ values lost,
    and then a ``values_not_loaded`` error names the column and the count).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from _ingest_support import KEY, assert_same_tables, make_tables, write_variant
from envejind_eval.ingest import mapping as M
from envejind_eval.ingest import read_delivery

SETTINGS = settings(
    max_examples=6,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
KIND = {
    "deltagere.csv": "participants",
    "hold.csv": "cohorts",
    "fremmoede.csv": "attendance",
    "ankomsttider.csv": "arrival",
    "aktiviteter.csv": "activities",
    "status.csv": "outcomes",
    "maalinger_lfl.csv": "measurements",
}
# targets no table of these files reads: their values must be reported lost
UNUSED = {
    "hold.csv": ["in_employment", "star_wellbeing", "exit_reason"],
    "aktiviteter.csv": ["in_employment", "star_wellbeing", "exit_reason", "rater"],
    "ankomsttider.csv": ["in_employment", "exit_reason", "minutes"],
    "deltagere.csv": ["in_employment", "minutes"],
}
WORDS = ["Felt", "Oplysning", "Notat", "Værdi fra skema", "Kol", "Registreret"]


def _target(header: str, kind: str) -> str:
    """What a standard header maps to: a field, an outcome indicator or an item id."""
    f = M.header_field(header, kind, M.Mapping_(), None)
    return f if f is not None else (M.indicator_of(header) or header)


def _read(path: Path, sep: str) -> pd.DataFrame:
    return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig")


@st.composite
def plans(draw):
    sep = draw(st.sampled_from([";", ","]))
    layout = {
        "sep": sep,
        "decimal": "point" if sep == "," else "comma",
        "date_format": draw(st.sampled_from(["dmy-", "dmy.", "iso"])),
        "attendance": draw(st.sampled_from(["xlsx", "csv"])),
        "encoding": "utf-8-sig",
    }
    renames = draw(
        st.lists(
            st.tuples(st.sampled_from(sorted(KIND)), st.integers(0, 50), st.booleans()),
            max_size=6,
        )
    )
    extras = draw(
        st.lists(st.tuples(st.sampled_from(sorted(UNUSED)), st.integers(0, 10)), max_size=3)
    )
    bad_dates = draw(st.integers(0, 3))
    return layout, renames, extras, bad_dates


@SETTINGS
@given(seed=st.integers(0, 10_000), plan=plans())
def test_values_read_are_loaded_quarantined_or_reported(seed, plan):
    layout, renames, extras, bad_dates = plan
    t, cprs = make_tables(seed)
    with tempfile.TemporaryDirectory() as tmp:
        d = write_variant(t, cprs, Path(tmp) / "d", **layout)
        sep = layout["sep"]
        frames = {f: _read(d / f, sep) for f in KIND if (d / f).exists()}
        per_file: dict[str, dict[str, str]] = {}
        everywhere: dict[str, str] = {}
        renamed: set[str] = set()
        n = 0
        for f, k, glob in renames:  # own headers, mapped back in datakilder.toml
            if f not in frames:
                continue
            df = frames[f]
            old = df.columns[k % len(df.columns)]
            if old in renamed:
                continue  # renamed already
            new = f"{WORDS[n % len(WORDS)]} {n}"
            renamed.add(new)
            n += 1
            frames[f] = df.rename(columns={old: new})
            (everywhere if glob else per_file.setdefault(f, {}))[new] = _target(old, KIND[f])
        lost: set[tuple[str, str]] = set()
        for f, k in extras:  # extra columns mapped to targets the table does not read
            df = frames[f]
            new = f"Ekstra {n}"
            n += 1
            df[new] = "x"
            per_file.setdefault(f, {})[new] = UNUSED[f][k % len(UNUSED[f])]
            if len(df):
                lost.add((f, new))
        a = frames["aktiviteter.csv"]
        own = per_file.get("aktiviteter.csv", {}) | everywhere
        date_col = next(c for c in a.columns if own.get(c, c) in ("date", "Dato"))
        for i in range(min(bad_dates, len(a))):
            a.loc[i, date_col] = "31-02-2017"  # an impossible date: the row is quarantined
        for f, df in frames.items():
            df.to_csv(d / f, sep=sep, index=False, encoding="utf-8-sig")
        cfg = []
        if everywhere:
            cfg += ["[columns]", *(f'"{h}" = "{v}"' for h, v in everywhere.items())]
        for f, cols in per_file.items():
            cfg += [f'[files."{f}".columns]', *(f'"{h}" = "{v}"' for h, v in cols.items())]
        (d / "datakilder.toml").write_text("\n".join(cfg) + "\n", encoding="utf-8")

        tables, rep, _ = read_delivery(d, key=KEY)

        acc = rep.columns[rep.columns["origin"] != "not delivered"]
        p = rep.problems[rep.problems["rule"] == "values_not_loaded"]
        reported = {
            (r.file, r.column): int(re.match(r"(\d+) of", r.message).group(1))
            for r in p.itertuples()
        }
        for r in acc.itertuples():
            assert r.values_read == (
                r.values_loaded
                + r.values_quarantined
                + r.values_duplicate
                + reported.get((r.file, r.column), 0)
            ), r
        assert set(reported) == lost
        # every renamed column is accounted for under its own header
        for f, cols in per_file.items():
            have = set(acc.loc[acc["file"] == f, "column"])
            assert set(cols) <= have
        if not bad_dates:
            assert_same_tables(tables, t)  # the own headers lost nothing
