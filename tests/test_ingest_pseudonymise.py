"""CPR parsing/validation, keyed pseudonyms, key loading and keygen."""

from __future__ import annotations

import os
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envejind_eval.errors import IngestError
from envejind_eval.ingest import pseudonymise as P

KEY = bytes(range(32))


@pytest.mark.parametrize(
    "text",
    ["010203-4321", "0102034321", "010203 4321", " 01 02 03 4321 ", "010203-4321\n"],
)
def test_cpr_forms_give_one_pseudonym(text):
    digits, rule = P.normalise_cpr(text)
    assert rule is None and digits == "0102034321"
    assert P.pseudonym(digits, KEY) == P.pseudonym("0102034321", KEY)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("102034321", "cpr_leading_zero_lost"),
        ("10203-4321", "cpr_leading_zero_lost"),
        ("12345", "cpr_invalid_format"),
        ("abcdef-ghij", "cpr_invalid_format"),
        ("320103-4321", "cpr_invalid_date"),  # day 32
        ("011303-4321", "cpr_invalid_date"),  # month 13
        ("290201-4321", "cpr_invalid_date"),  # 2001 not a leap year (digit 4, yy<=36)
        ("010150-5000", "cpr_invalid_date"),  # digit 5, yy<=57 -> 2050: in the future
    ],
)
def test_invalid_cpr(text, rule):
    assert P.normalise_cpr(text) == (None, rule)


def test_century_1900_not_leap():
    assert P.normalise_cpr("290200-3999") == (None, "cpr_invalid_date")
    assert P.normalise_cpr("290200-4999")[1] is None


def test_modulus_11_not_required():
    # 010203-4321 fails the modulus-11 check but is accepted
    w = [4, 3, 2, 7, 6, 5, 4, 3, 2, 1]
    assert sum(int(c) * k for c, k in zip("0102034321", w, strict=True)) % 11 != 0
    assert P.normalise_cpr("010203-4321")[1] is None


def test_pseudonym_is_keyed_and_16_hex():
    a = P.pseudonym("0102034321", KEY)
    b = P.pseudonym("0102034321", bytes(32))
    assert a != b and len(a) == 16 and int(a, 16) >= 0


def test_pseudonymise_unique_values():
    ps, rules = P.pseudonymise(["010203-4321", "12"], KEY)
    assert ps[1] is None and rules[1] == "cpr_invalid_format" and rules[0] is None


def test_redact_cpr():
    text, n = P.redact_cpr("Flyttet, se 010203-4321 og 0102034321; tlf 12345678")
    assert n == 2 and "4321" not in text and "12345678" in text


def test_no_key_message(monkeypatch, tmp_path):
    monkeypatch.delenv(P.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    with pytest.raises(IngestError, match="envejind-eval keygen"):
        P.load_key(None)


def test_key_from_env_and_argument(monkeypatch):
    monkeypatch.setenv(P.ENV_VAR, KEY.hex())
    assert P.load_key(None) == KEY
    assert P.load_key(KEY.hex()) == KEY
    assert P.load_key(KEY) == KEY
    monkeypatch.setenv(P.ENV_VAR, "nothex")
    with pytest.raises(IngestError, match="keygen"):
        P.load_key(None)


def test_keygen_writes_0600_and_refuses_overwrite(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.delenv(P.ENV_VAR, raising=False)
    path = P.keygen()
    assert path == tmp_path / "cfg" / "envejind_eval" / "pseudonym.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    key = P.load_key(None)
    assert len(key) == 32
    with pytest.raises(IngestError, match="already exists"):
        P.keygen()
    P.keygen(force=True)
    assert P.load_key(None) != key


def test_keygen_refuses_repo_and_data_folder(tmp_path):
    with pytest.raises(IngestError, match="repository"):
        P.keygen(P._repo_root() / "pseudonym.key")
    data = tmp_path / "levering"
    data.mkdir()
    (data / "deltagere.csv").write_text("CPR\n")
    with pytest.raises(IngestError, match="data folder"):
        P.keygen(data / "sub" / "pseudonym.key")
    g = tmp_path / "gitrepo"
    (g / ".git").mkdir(parents=True)
    with pytest.raises(IngestError, match="git"):
        P.keygen(g / "k.key")


def test_key_file_inside_data_folder_refused(tmp_path):
    data = tmp_path / "d"
    data.mkdir()
    kf = data / "k.key"
    kf.write_text(KEY.hex())
    with pytest.raises(IngestError, match="inside the data folder"):
        P.load_key(kf, data_dir=data)
    out = tmp_path / "k2.key"
    out.write_text(KEY.hex())
    os.chmod(out, 0o600)
    assert P.load_key(out, data_dir=data) == KEY


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet="0123456789- \u00a0\t", max_size=13),
            st.from_regex(r"\A[0-3]\d[01]\d\d\d-?\d{4}\Z"),
            st.text(max_size=12),
        ),
        max_size=30,
    )
)
def test_vectorised_normalise_matches_scalar(values):
    digits, rules = P.normalise_many(values)
    assert list(zip(digits, rules, strict=True)) == [P.normalise_cpr(v) for v in values]
