"""readers._encode: every shortcut gives pyarrow's dictionary encoding (first-seen order)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from envejind_eval.ingest.readers import _encode


def _reference(values):
    enc = pc.dictionary_encode(pa.array(values, pa.string()))
    codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
    return codes.tolist(), enc.dictionary.to_pylist()


@pytest.mark.parametrize(
    "values",
    [
        ["03-10-2016", "01-02-2020", "03-10-2016", "31-12-1999"] * 50,  # equal length
        ["Ærø", "Æbø", "abcde", "Ærø"] * 50,  # equal byte length, multi-byte UTF-8
        ["M", "K", "M", "S"] * 50,  # one byte
        ["a", "bb", None, "a"] * 50,  # ragged and missing
        [f"{i // 10:06d}-1234" for i in range(500)],  # runs
    ],
)
def test_encode_matches_dictionary_encode(values):
    chunked = pa.chunked_array([pa.array(values, pa.string()).slice(1)])  # non-zero offset
    col = _encode(chunked)
    assert (col.codes.tolist(), col.values) == _reference(values[1:])
    assert col.codes.dtype == np.int32
