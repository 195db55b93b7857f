"""CSV files are read memory-mapped: same table and hash as from bytes, no mapping left."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from envejind_eval.errors import IngestError
from envejind_eval.ingest.mapping import header_score
from envejind_eval.ingest.readers import read_csv

BOM = b"\xef\xbb\xbf"


def _read(p: Path):
    return read_csv(p, file=p.name, header_score=header_score)


def _mapped(p: Path) -> bool:
    return str(p) in Path("/proc/self/maps").read_text()


@pytest.mark.parametrize(
    ("body", "lines"),
    [
        (
            "CPR;Dato;Kode\r\n" + "".join(f"{i:06d}-1234;01-02-2020;M\r\n" for i in range(3000)),
            3000,
        ),
        ('CPR;Dato;Kode\r\na;"01-02-2020";M\r\nb;02-02-2020;"K"\r\n', 2),  # quotes: line count
        ('CPR;Kommune;Kode\r\na;"to\r\nlinjer";M\r\n\r\nb;X;K\r\n', 2),  # slow reader
    ],
)
def test_mapped_read_matches_and_unmaps(tmp_path, body, lines):
    p = tmp_path / "fremmoede.csv"
    data = BOM + body.encode()
    p.write_bytes(data)
    for _ in range(5):  # pyarrow lets go of its input just after returning: must be awaited
        t = _read(p)
        assert t.sha256 == hashlib.sha256(data).hexdigest()
        assert t.encoding == "utf-8-sig" and t.n_rows == lines
        if sys.platform.startswith("linux"):
            assert not _mapped(p)
    p.unlink()  # nothing holds the file


def test_empty_file(tmp_path):
    p = tmp_path / "deltagere.csv"
    p.write_bytes(b"")
    with pytest.raises(IngestError, match="empty"):
        _read(p)
