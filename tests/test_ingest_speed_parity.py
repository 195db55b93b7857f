"""The fast paths of ingest give what the plain code gives (issue 9, benchmark B3)."""

from __future__ import annotations

import hmac

import pytest

from envejind_eval.ingest import pseudonymise as P


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
