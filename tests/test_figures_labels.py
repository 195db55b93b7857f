"""Labels, number formatting, theme and save_figure (fast: no full figure grid)."""

from __future__ import annotations

import math

import pandas as pd
import plotnine as p9
import pytest

from envejind_eval.figures import labels as L
from envejind_eval.figures.save import save_figure
from envejind_eval.figures.theme import (
    OKABE_ITO,
    PALETTE,
    SIZES,
    figure_size,
    palette,
    theme_envejind,
)


@pytest.mark.parametrize(
    ("x", "lang", "digits", "expected"),
    [
        (1234.5, "da", 1, "1.234,5"),
        (1234.5, "en", 1, "1,234.5"),
        (1234567.891, "da", 2, "1.234.567,89"),
        (0.5, "da", 2, "0,50"),
        (-2.25, "da", 1, "\u22122,2"),  # round-half-even of 2.25 -> 2.2
        (-0.01, "da", 1, "0,0"),  # no "minus zero"
        (12, "da", 0, "12"),
    ],
)
def test_fmt_number(x, lang, digits, expected):
    assert L.fmt_number(x, lang, digits=digits) == expected


def test_fmt_helpers():
    assert L.fmt_number(1.2, "da", sign=True) == "+1,2"
    assert L.fmt_number(math.nan, "da") == "–"
    assert L.fmt_percent(0.456, "da") == "46 %"
    assert L.fmt_percent(0.456, "en", digits=1) == "45.6%"
    assert L.fmt_ci(0.4, 2.0, "da") == "[0,4; 2,0]"
    assert L.fmt_ci(0.4, 2.0, "en") == "[0.4, 2.0]"
    assert L.fmt_time(8 * 60 + 5, "da") == "08.05"
    assert L.fmt_time(8 * 60 + 5, "en") == "08:05"
    assert L.fmt_int(12345, "da") == "12.345"
    assert L.fmt_n_range([5, 7, 6], "da") == "n = 5–7"
    assert L.fmt_n_range([5, 5], "en") == "n = 5"


def test_axis_label_functions():
    assert L.number_labels("da")([0, 0.5, 1]) == ["0,0", "0,5", "1,0"]
    assert L.number_labels("da")([1000, 2000]) == ["1.000", "2.000"]
    assert L.percent_labels("da")([0, 0.25]) == ["0 %", "25 %"]
    assert L.percent_labels("en", absolute=True)([-0.5, 0.5]) == ["50%", "50%"]
    assert L.time_labels("da")([540]) == ["09.00"]


def test_lang_checked():
    with pytest.raises(ValueError, match="Expecting one of da, en; got 'sv'"):
        L.fmt_number(1.0, "sv")
    with pytest.raises(ValueError, match="Expecting one of da, en"):
        L.t("end", "fr")


def test_unit_labels_from_registry():
    assert L.unit_label("ungestjernen", "daily_rhythm", "da") == "Døgnrytme"
    assert L.unit_label("ungestjernen", "daily_rhythm", "en") == "Daily rhythm"
    assert L.unit_label("ungestjernen", "total", "da") == "Samlet score"
    assert L.unit_label("own_instrument", "x1", "da") == "x1"  # unknown: raw code
    assert L.unit_order("ungestjernen", ["total", "crime_risk", "daily_rhythm"]) == [
        "daily_rhythm",
        "crime_risk",
        "total",
    ]
    assert all(set(v) == {"da", "en"} for v in L.TEXT.values())


def test_theme_and_palette():
    assert PALETTE[0] == OKABE_ITO["blue"] and len(set(PALETTE)) == 8
    assert palette(10)[8] == PALETTE[0]
    assert figure_size("full") == (6.3, 4.2)
    with pytest.raises(ValueError, match="Expecting one of"):
        figure_size("a3")
    th = theme_envejind(size="wide")
    assert th.getp("figure_size") == (6.3, 3.2)


@pytest.fixture(scope="module")
def small_plot():
    d = pd.DataFrame({"x": [1.5, 2.5], "y": [1000.0, 2500.0]})
    return (
        p9.ggplot(d, p9.aes("x", "y"))
        + p9.geom_point()
        + p9.scale_y_continuous(labels=L.number_labels("da"))
        + p9.labs(title="Døgnrytme")
        + theme_envejind(size=(2.0, 1.5))
    )


def test_save_figure_png_300dpi_and_svg_paths(tmp_path, small_plot):
    from PIL import Image

    files = save_figure(small_plot, tmp_path / "sub" / "fig.png")
    assert [f.suffix for f in files] == [".png", ".svg"]
    with Image.open(files[0]) as im:
        assert im.size == (600, 450)
        assert round(im.info["dpi"][0]) == 300
    svg = files[1].read_text(encoding="utf-8")
    assert "<text" not in svg  # text as paths: no font needed to view it
    assert "<dc:date>" not in svg
    again = save_figure(small_plot, tmp_path / "again.png")
    assert again[1].read_text(encoding="utf-8") == svg  # reproducible
    assert again[0].read_bytes() == files[0].read_bytes()


def test_save_figure_writes_pdf(tmp_path, small_plot):
    from pypdf import PdfReader

    files = save_figure(small_plot, tmp_path / "fig", formats=("png", "svg", "pdf"))
    assert [f.suffix for f in files] == [".png", ".svg", ".pdf"]
    reader = PdfReader(files[2])
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx((2.0 * 72, 1.5 * 72))
    assert "Døgnrytme" in reader.pages[0].extract_text()  # TrueType text, not outlines
    again = save_figure(small_plot, tmp_path / "again", formats=("png", "svg", "pdf"))
    assert again[2].read_bytes() == files[2].read_bytes()  # no creation date


@pytest.mark.parametrize("preset", sorted(SIZES))
def test_save_figure_takes_every_size_preset(tmp_path, small_plot, preset):
    from PIL import Image

    (png,) = save_figure(small_plot, tmp_path / preset, formats=("png",), dpi=20, width=preset)
    w, h = SIZES[preset]
    with Image.open(png) as im:
        assert im.size == (round(w * 20), round(h * 20))
    (png,) = save_figure(
        small_plot, tmp_path / "h", formats=("png",), dpi=20, width=preset, height=2
    )
    with Image.open(png) as im:
        assert im.size == (round(w * 20), 40)


def test_save_figure_checks_arguments(tmp_path, small_plot):
    with pytest.raises(ValueError, match="Expecting formats from png, svg, pdf; got jpg"):
        save_figure(small_plot, tmp_path / "x", formats=("jpg",))
    with pytest.raises(ValueError, match="Expecting one of full"):
        save_figure(small_plot, tmp_path / "x", width="huge")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="ggplot"):
        save_figure("not a plot", tmp_path / "x")  # type: ignore[arg-type]
