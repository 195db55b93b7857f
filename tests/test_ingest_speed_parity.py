"""The fast paths of ingest give what the plain code gives (issue 9, benchmark B3)."""

from __future__ import annotations

import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envejind_eval.ingest import pseudonymise as P
from envejind_eval.ingest import readers as R


@pytest.mark.parametrize("key", [bytes(range(16)), bytes(range(32)), bytes(range(64)), bytes(100)])
def test_pseudonymise_is_hmac_sha256(key):
    cprs = ["010203-4321", "0102034321", "120398-0123", "x", "50203-1234"]
    ps, rules = P.pseudonymise(cprs, key)
    want = [
        None if d is None else hmac.digest(key, d.encode(), "sha256").hex()[:16]
        for d, _ in map(P.normalise_cpr, cprs)
    ]
    assert ps.tolist() == want
    assert ps[0] == P.pseudonym("0102034321", key)
    assert rules.tolist() == [None, None, None, "cpr_invalid_format", "cpr_leading_zero_lost"]


@settings(max_examples=200, deadline=None)
@given(
    vals=st.lists(
        st.one_of(st.none(), st.sampled_from(["M", "K", "ø", "S ", "010203-4321"])), max_size=300
    ),
    runs=st.integers(1, 40),
    chunks=st.integers(1, 3),
)
def test_encode_matches_first_seen_factorisation(vals, runs, chunks):
    import pyarrow as pa

    rows = [v for v in vals for _ in range(runs)]  # runs of equal values, as in a sorted file
    k = max(len(rows) // chunks, 1)
    ch = pa.chunked_array([rows[i : i + k] for i in range(0, len(rows), k)] or [[]], pa.string())
    got = R._encode(ch)
    want = R._factorize(rows)
    assert got.values == want.values
    assert got.codes.tolist() == want.codes.tolist()


@settings(max_examples=300, deadline=None)
@given(pairs=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 6)), max_size=40))
def test_grouped_increasing_implies_unique_keys(pairs):
    import numpy as np

    from envejind_eval.ingest._core import _grouped_increasing, combine, dup_mask

    a = np.array([p for p, _ in pairs], dtype=np.int64)
    b = np.array([d for _, d in pairs], dtype=np.int64)
    if _grouped_increasing(a, b):
        assert not dup_mask(combine([a, b])).any()
    runs = [p for i, p in enumerate(a.tolist()) if i == 0 or a[i - 1] != p]
    if len(set(runs)) == len(runs) and all(
        b[i] > b[i - 1] for i in range(1, len(a)) if a[i] == a[i - 1]
    ):
        assert _grouped_increasing(a, b)
