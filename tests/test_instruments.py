"""Instrument registry (strict TOML validation) and scoring."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import numpy as np
import pandas as pd
import pytest

from envejind_eval.errors import InstrumentError
from envejind_eval.instruments import (
    CLAIMS,
    SHIPPED,
    default_registry,
    get_instrument,
    load_instrument,
    parse_instrument,
    shipped_path,
)
from envejind_eval.instruments.scoring import SCORE_COLUMNS, score_instrument, scores

# -- shipped instruments ------------------------------------------------------------------


def test_three_shipped_instruments_load():
    reg = default_registry()
    assert list(reg) == ["ungestjernen", "lfl", "art_skills"] == list(SHIPPED)
    star, lfl, art = reg["ungestjernen"], reg["lfl"], reg["art_skills"]
    assert (star.scale_min, star.scale_max, star.raters) == (1, 10, ("self",))
    assert (art.scale_min, art.scale_max, art.raters) == (1, 5, ("mentor",))
    assert set(lfl.raters) == {"self", "mentor"}
    for inst in reg.values():
        assert inst.sample_operationalisation
        assert inst.higher_is_better
        assert len(inst.items) >= len(inst.domains)
        for d in inst.domains:
            assert d.label["da"] and d.label["en"]
        assert any(i.reverse for i in inst.items) or inst.id == "ungestjernen"


def test_domains_cover_every_claim():
    covered = {d.claim for inst in default_registry().values() for d in inst.domains}
    assert set(CLAIMS) <= covered
    # every shipped domain answers a claim
    assert None not in covered


def test_get_instrument_rejects_unknown():
    with pytest.raises(ValueError, match="Expecting one of"):
        get_instrument("bdi")


def test_labels_and_html(tmp_path):
    lfl = get_instrument("lfl")
    assert lfl.label("total", "en") == "Total score"
    assert lfl.label("daily_rhythm", "en").startswith("Daily rhythm")
    assert lfl.label("lfl", "da") == "Livsførelseslisten"
    assert "<table>" in lfl._repr_html_()
    assert lfl.reliability_for("daily_rhythm") == "estimate"
    assert get_instrument("art_skills").reliability_for(None) == 0.85


def test_users_own_file_loads_the_same_way(tmp_path):
    f = tmp_path / "mine.toml"
    f.write_text(shipped_path("art_skills").read_text(encoding="utf-8"), encoding="utf-8")
    assert load_instrument(f) == parse_instrument(
        tomllib.loads(f.read_text(encoding="utf-8")), source="mine.toml"
    )


# -- strict validation: one test per error class ---------------------------------------------


def _base() -> dict[str, Any]:
    return tomllib.loads(shipped_path("lfl").read_text(encoding="utf-8"))


def _mut(f):  # type: ignore[no-untyped-def]
    def g() -> dict[str, Any]:
        d = copy.deepcopy(_base())
        f(d)
        return d

    return g


def _set(d: dict[str, Any], **kw: Any) -> None:
    d.update(kw)


MALFORMED = [
    ("unknown_key", _mut(lambda d: _set(d, colour="red")), "unknown key"),
    ("missing_key", _mut(lambda d: d.pop("raters")), "missing required key 'raters'"),
    ("wrong_type", _mut(lambda d: _set(d, id=5)), "wrong type"),
    ("bad_id", _mut(lambda d: _set(d, id="my form")), "simple identifier"),
    ("scale_order", _mut(lambda d: d["scale"].update(min=5, max=1)), "min must be below max"),
    ("missing_codes_type", _mut(lambda d: d["scale"].update(missing_codes="9")),
     "missing_codes must be a list"),
    ("missing_code_in_scale", _mut(lambda d: d["scale"].update(missing_codes=[3])),
     "inside the scale"),
    ("direction", _mut(lambda d: _set(d, direction="up")), "direction must be"),
    ("raters", _mut(lambda d: _set(d, raters=["teacher"])), "raters must be"),
    ("raters_empty", _mut(lambda d: _set(d, raters=[])), "raters must be"),
    ("answered_share", _mut(lambda d: _set(d, min_answered_share=1.5)), "min_answered_share"),
    ("cutoff", _mut(lambda d: _set(d, clinical_cutoff=12)), "clinical_cutoff"),
    ("reliability", _mut(lambda d: _set(d, reliability=1.2)), "reliability must be"),
    ("label_language", _mut(lambda d: d["name"].pop("en")), "non-empty 'en' label"),
    ("domain_not_table", _mut(lambda d: d["domains"].append("x")), "must be a table"),
    ("claim", _mut(lambda d: d["domains"][0].update(claim="happiness")), "claim must be one of"),
    ("domain_reliability", _mut(lambda d: d["domains"][0].update(reliability=0)),
     "reliability must be"),
    ("duplicate_domain", _mut(lambda d: d["domains"].append(copy.deepcopy(d["domains"][0]))),
     "unique ids"),
    ("item_not_table", _mut(lambda d: d["items"].append(3)), "must be a table"),
    ("item_domain", _mut(lambda d: d["items"][0].update(domain="sleep")), "is not declared"),
    ("reverse_type", _mut(lambda d: d["items"][0].update(reverse="yes")), "reverse must be"),
    ("duplicate_item", _mut(lambda d: d["items"].append(copy.deepcopy(d["items"][0]))),
     "item ids must be unique"),
    ("empty_domain", _mut(lambda d: d["domains"].append(
        {"id": "extra", "label": {"da": "Ekstra", "en": "Extra"}})), "without items"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("make", "match"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_definition_raises(make, match):
    with pytest.raises(InstrumentError, match=match):
        parse_instrument(make(), source="bad.toml")


def test_malformed_file_names_the_file(tmp_path):
    f = tmp_path / "broken.toml"
    f.write_text('id = "x"\nscale = {min = 1, max = \n', encoding="utf-8")
    with pytest.raises(InstrumentError, match="broken.toml: not valid TOML"):
        load_instrument(f)
    with pytest.raises(InstrumentError, match="not found"):
        load_instrument(tmp_path / "absent.toml")


def test_base_definition_is_valid():
    assert parse_instrument(_base()).id == "lfl"


# -- scoring ----------------------------------------------------------------------------------


def _form(values: dict[str, float], *, instrument="lfl", pid="p1", tp="baseline", rater="self"):
    return pd.DataFrame(
        {
            "participant_id": pid,
            "instrument": instrument,
            "timepoint": tp,
            "rater": rater,
            "item": list(values),
            "date": pd.Timestamp("2017-01-02"),
            "value": list(values.values()),
        }
    )


def _score(m: pd.DataFrame, **kw: Any) -> pd.Series:
    s = score_instrument(m, get_instrument("lfl"), **kw)
    return s.set_index("unit")["score"]


def test_reverse_keys_are_mirrored():
    # lfl03 is reverse-keyed: 1 -> 5
    item = _score(_form({"lfl01": 4, "lfl02": 2, "lfl03": 1}), level="item")
    assert item["lfl03"] == 5
    assert item["lfl01"] == 4
    dom = _score(_form({"lfl01": 4, "lfl02": 2, "lfl03": 1}))
    assert dom["daily_rhythm"] == pytest.approx((4 + 2 + 5) / 3)


def test_missing_codes_are_missing_not_values():
    s = score_instrument(_form({"lfl01": 4, "lfl02": 9, "lfl03": 2}), get_instrument("lfl"))
    row = s.set_index("unit").loc["daily_rhythm"]
    assert row["n_answered"] == 2 and row["n_items"] == 3
    assert row["score"] == pytest.approx((4 + 4) / 2)  # lfl03 = 2 reversed to 4


def test_half_answered_rule_and_override():
    m = _form({"lfl01": 4, "lfl02": np.nan, "lfl03": 9})  # one of three answered
    assert np.isnan(_score(m)["daily_rhythm"])
    assert _score(m, min_answered_share=0.3)["daily_rhythm"] == 4
    m2 = _form({"lfl01": 4, "lfl02": 2, "lfl03": np.nan})  # two of three: enough
    assert _score(m2)["daily_rhythm"] == 3
    assert np.isnan(_score(m2, min_answered_share=1.0)["daily_rhythm"])


def test_every_domain_of_a_form_gets_a_row():
    s = score_instrument(_form({"lfl01": 4}), get_instrument("lfl"))
    assert s["unit"].tolist() == get_instrument("lfl").domain_ids
    assert s.loc[s["unit"] != "daily_rhythm", "score"].isna().all()


def test_total_is_mean_of_all_answered_items():
    lfl = get_instrument("lfl")
    vals = {i: 3.0 for i in lfl.item_ids}
    vals["lfl01"] = 5.0
    vals["lfl03"] = 9.0  # missing code
    s = score_instrument(_form(vals), lfl, level="total")
    assert s["unit"].tolist() == ["total"]
    assert s["n_answered"].iloc[0] == len(lfl.item_ids) - 1
    assert s["score"].iloc[0] == pytest.approx((5 + 3 * (len(lfl.item_ids) - 2)) / 14)


def test_out_of_scale_values_are_not_scored():
    item = _score(_form({"lfl01": 7, "lfl02": 2, "lfl03": 2}), level="item")
    assert np.isnan(item["lfl01"])


def test_scoring_options_are_checked():
    m = _form({"lfl01": 4})
    with pytest.raises(ValueError, match="Expecting one of"):
        score_instrument(m, get_instrument("lfl"), level="domains")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_answered_share"):
        score_instrument(m, get_instrument("lfl"), min_answered_share=0)


def test_scoring_does_not_mutate_input():
    m = _form({"lfl01": 4, "lfl02": 9, "lfl03": 1})
    before = m.copy()
    score_instrument(m, get_instrument("lfl"))
    pd.testing.assert_frame_equal(m, before)


def test_scores_on_dataset(sample_ds):
    s = scores(sample_ds)
    assert list(s.columns) == SCORE_COLUMNS
    assert set(s["instrument"]) == {"ungestjernen", "lfl", "art_skills"}
    assert s["municipality"].notna().all()
    ok = s["score"].dropna()
    assert ((ok >= 1) & (ok <= 10)).all()
    with pytest.raises(ValueError, match="Expecting one of"):
        scores(sample_ds, "bdi")
    star = scores(sample_ds, "ungestjernen", level="total")
    assert set(star["unit"]) == {"total"}
