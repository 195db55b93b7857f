"""The notebooks run top to bottom (papermill) and are committed without outputs."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

import envejind_eval as ee

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["01_evaluering", "02_kommunesammenligning", "03_datakvalitet"]
TEST_KEY = "0123456789abcdef" * 4
PARAMETERS = {"data_dir", "lang", "municipalities", "min_cell", "seed", "n_boot"}


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVEJIND_PSEUDONYM_KEY", TEST_KEY)


def _run(name: str, tmp_path: Path, **params: object) -> nbformat.NotebookNode:
    papermill = pytest.importorskip("papermill")
    out = tmp_path / f"{name}.out.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"),
        str(out),
        parameters={"n_boot": 0, **params},
        kernel_name="python3",
        progress_bar=False,
        cwd=str(NOTEBOOKS),
    )
    return nbformat.read(out, as_version=4)


def _texts(nb: nbformat.NotebookNode) -> str:
    parts = []
    for c in nb.cells:
        for o in c.get("outputs", []):
            parts.append(o.get("text", ""))
            for v in o.get("data", {}).values():
                parts.append(v if isinstance(v, str) else "")
    return "\n".join(parts)


@pytest.mark.parametrize("name", NAMES)
def test_committed_without_outputs_and_with_parameters(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    for c in nb.cells:
        if c.cell_type == "code":
            assert c.outputs == [] and c.execution_count is None, f"{name}: strip outputs"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    names = set(re.findall(r"^(\w+)\s*=", tagged[0].source, flags=re.M))
    assert names >= PARAMETERS


def test_no_typed_in_numbers_in_narrative() -> None:
    """Markdown cells of notebook 01 carry headings and prose only: every number in the
    narrative is computed (section numbers and the report year of the reference aside)."""
    nb = nbformat.read(NOTEBOOKS / "01_evaluering.ipynb", as_version=4)
    for c in nb.cells:
        if c.cell_type == "markdown":
            text = re.sub(r"^#+ \d+\.", "", c.source, flags=re.M).replace("2018", "")
            text = re.sub(r"`[^`]*`", "", text)  # code and symbols such as `<5`
            assert not re.search(r"\d", text), c.source[:60]


@pytest.mark.slow
def test_01_evaluering_on_sample(tmp_path: Path) -> None:
    nb = _run("01_evaluering", tmp_path, data_dir=str(ee.sample_path() / "canonical"))
    text = _texts(nb)
    assert "Tabel 1." in text and "før/efter-design" in text
    assert "Jacobson og Truax" in text  # the methods appendix ran
    # published-safe: no pseudonym of the sample in the outputs
    import pandas as pd

    ids = pd.read_csv(ee.sample_path() / "canonical" / "participants.csv", dtype=str)
    assert not [i for i in ids["participant_id"] if i in text]


def test_01_evaluering_in_english_on_tiny(tmp_path: Path) -> None:
    from envejind_eval.synth import write_delivery

    tiny = write_delivery(tmp_path / "tiny", seed=3, scale="tiny")
    nb = _run("01_evaluering", tmp_path, data_dir=str(tiny / "canonical"), lang="en")
    text = _texts(nb)
    assert "Table 1." in text and "before/after design" in text


def test_02_kommunesammenligning_on_sample(tmp_path: Path) -> None:
    nb = _run("02_kommunesammenligning", tmp_path, data_dir=str(ee.sample_path() / "canonical"))
    text = _texts(nb)
    assert "I²" in text and "hold" in text


def test_03_datakvalitet_on_sample_delivery(tmp_path: Path) -> None:
    nb = _run("03_datakvalitet", tmp_path, data_dir=str(ee.sample_path()))
    text = _texts(nb)
    assert "rækker læst" in text
    assert not re.search(r"\b\d{6}-\d{4}\b", text), "no CPR number in the outputs"
