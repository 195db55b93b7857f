"""``envejind-eval gallery``: renders in parallel, writes PNG + SVG and a manifest."""

from __future__ import annotations

import pandas as pd
import pytest

import envejind_eval as ee
from envejind_eval.cli import main


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    ds, _ = ee.synthesize(seed=1, scale="tiny")
    return ds.to_canonical(tmp_path_factory.mktemp("tiny") / "canonical")


def test_gallery_parallel_writes_every_figure(tiny_dir, tmp_path, capsys):
    out = tmp_path / "gallery"
    rc = main(
        [
            "gallery", str(tiny_dir), "--out", str(out), "--jobs", "2", "--lang", "en",
            "--instrument", "ungestjernen", "--dpi", "40",
        ]
    )  # fmt: skip
    assert rc == 0
    m = pd.read_csv(out / "manifest.csv", keep_default_na=False)
    assert list(m.columns) == ["name", "figure", "status", "files", "seconds", "reason"]
    assert (m["status"] == "ok").all(), m.loc[m["status"] != "ok", ["name", "reason"]]
    for name in m["name"]:
        assert (out / f"{name}.png").stat().st_size > 0
        assert (out / f"{name}.svg").stat().st_size > 0
    assert not (out / "internal").exists()  # individuals only with --internal
    assert {"participant_flow", "star_profile", "retention_curves"} <= set(m["figure"])
    assert "figures written" in capsys.readouterr().out


def test_gallery_user_errors_exit_2(tiny_dir, tmp_path, capsys):
    rc = main(["gallery", str(tiny_dir), "--out", str(tmp_path), "--instrument", "nope"])
    assert rc == 2
    assert "unknown instrument" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["gallery", str(tiny_dir), "--out", str(tmp_path), "--jobs", "0"])
    assert exc.value.code == 2
