"""Issue 14 §6: figures of many reports drawn in worker processes, output unchanged."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from envejind_eval.errors import EnvejindError
from envejind_eval.report import build
from envejind_eval.report.build import build_report

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
#: files that record the run itself (time of the run, timings); the workbook's zip entries
#: carry the time it was written, so it is compared sheet by sheet
RUN_RECORDS = {"manifest.json", "disclosure_ledger.json", "tables.xlsx"}


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in RUN_RECORDS
    }


@pytest.mark.slow
def test_jobs_1_and_2_write_identical_reports(tmp_path: Path, monkeypatch) -> None:
    calls: list[int] = []
    real = build.fork_map

    def spy(fn, n: int, jobs: int):
        calls.append(jobs)
        return real(fn, n, jobs)

    monkeypatch.setattr(build, "fork_map", spy)
    one = build_report(SAMPLE, tmp_path / "one", by="municipality", jobs=1, quiet=True)
    two = build_report(SAMPLE, tmp_path / "two", by="municipality", jobs=2, quiet=True)
    assert calls == [1, 2]
    a, b = _files(one.out), _files(two.out)
    assert sum(k.endswith(".png") for k in a) >= 10  # figures of every scope were drawn
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []
    assert one.manifest["figures"] == two.manifest["figures"]
    xa, xb = (pd.read_excel(r.out / "tables.xlsx", sheet_name=None) for r in (one, two))
    assert xa.keys() == xb.keys()
    for k in xa:
        pd.testing.assert_frame_equal(xa[k], xb[k])


def test_identical_figures_are_drawn_once(monkeypatch) -> None:
    """Scopes whose gated data are identical share one rendering."""
    from envejind_eval.report.gate import GateResult
    from envejind_eval.report.model import Figure, Section, Table

    drawn: list[int] = []

    def make(d: pd.DataFrame):
        drawn.append(len(d))
        return None  # nothing to draw: no figure file

    t = Table("t", "t", pd.DataFrame({"x": [1.0, 2.0]}))
    fig = Figure("f", "f", "t", make)
    per_scope = {s: [Section("s", "s", tables=[t], figures=[fig])] for s in ("national", "A")}
    gated = GateResult({(s, "t"): t for s in per_scope}, pd.DataFrame())
    build._figures(per_scope, gated, build.Options(jobs=1), Path("/nonexistent"))
    assert drawn == [2]


def test_jobs_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(EnvejindError, match="--jobs"):
        build_report(SAMPLE, tmp_path / "r", jobs=0, quiet=True)
