"""One theme, one colour-blind-safe palette and A4-friendly sizes for every figure.

The palette is Okabe & Ito (2008), distinguishable under the common colour-vision
deficiencies and in greyscale by lightness. Fonts: DejaVu Sans, which ships with
matplotlib, so figures look the same on every machine and render offline.
"""

from __future__ import annotations

from typing import Literal

import plotnine as p9

FONT = "DejaVu Sans"

#: Okabe–Ito colours by name.
OKABE_ITO: dict[str, str] = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "black": "#000000",
}

#: Qualitative palette in the order categories receive colours (yellow last: weak on white).
PALETTE: tuple[str, ...] = (
    OKABE_ITO["blue"],
    OKABE_ITO["orange"],
    OKABE_ITO["bluish_green"],
    OKABE_ITO["vermillion"],
    OKABE_ITO["sky_blue"],
    OKABE_ITO["reddish_purple"],
    OKABE_ITO["black"],
    OKABE_ITO["yellow"],
)

GREY = "#8C8C8C"
LIGHT_GREY = "#D9D9D9"
TEXT = "#222222"

#: Timepoints and change classes keep the same colour in every figure.
TIMEPOINT_COLOURS: dict[str, str] = {
    "baseline": OKABE_ITO["orange"],
    "midway": OKABE_ITO["sky_blue"],
    "end": OKABE_ITO["blue"],
    "followup": OKABE_ITO["bluish_green"],
}
CHANGE_COLOURS: dict[str, str] = {
    "improved": OKABE_ITO["blue"],
    "unchanged": "#BDBDBD",
    "deteriorated": OKABE_ITO["vermillion"],
}

#: Figure sizes in inches. A4 with 2.5 cm margins leaves a 16 cm (6.3 in) text width.
TEXT_WIDTH = 6.3
SIZES: dict[str, tuple[float, float]] = {
    "full": (TEXT_WIDTH, 4.2),
    "tall": (TEXT_WIDTH, 7.5),
    "wide": (TEXT_WIDTH, 3.2),
    "square": (TEXT_WIDTH, TEXT_WIDTH),
    "half": (TEXT_WIDTH / 2, 2.8),
}
Size = Literal["full", "tall", "wide", "square", "half"]


def palette(n: int) -> list[str]:
    """The first ``n`` palette colours (repeats beyond eight)."""
    return [PALETTE[i % len(PALETTE)] for i in range(n)]


def figure_size(size: Size | tuple[float, float]) -> tuple[float, float]:
    """Inches for a named size (``full``, ``tall``, ``wide``, ``square``, ``half``)."""
    if isinstance(size, tuple):
        return size
    if size not in SIZES:
        raise ValueError(f"Expecting one of {', '.join(SIZES)}; got '{size}'")
    return SIZES[size]


def theme_envejind(*, base_size: float = 9, size: Size | tuple[float, float] = "full") -> p9.theme:
    """The package theme: minimal, light grid, legend at the bottom, DejaVu Sans.

    Add it last-but-one to restyle: ``p + theme_envejind(base_size=11)``; any further
    ``+ theme(...)`` refines it.
    """
    w, h = figure_size(size)
    return p9.theme_minimal(base_size=base_size, base_family=FONT) + p9.theme(
        figure_size=(w, h),
        text=p9.element_text(family=FONT, color=TEXT),
        plot_title=p9.element_text(size=base_size * 1.2, weight="bold", ha="left"),
        plot_subtitle=p9.element_text(size=base_size, color="#444444", ha="left"),
        plot_caption=p9.element_text(size=base_size * 0.8, color="#555555", ha="left"),
        plot_title_position="plot",
        plot_caption_position="plot",
        axis_title=p9.element_text(size=base_size * 0.95),
        axis_text=p9.element_text(size=base_size * 0.85, color="#333333"),
        strip_text=p9.element_text(size=base_size * 0.95, weight="bold", ha="left"),
        legend_position="bottom",
        legend_title=p9.element_text(size=base_size * 0.9),
        legend_text=p9.element_text(size=base_size * 0.85),
        legend_key_size=10,
        panel_grid_minor=p9.element_blank(),
        panel_grid_major=p9.element_line(color="#E5E5E5", size=0.4),
        panel_spacing=0.025,
        plot_background=p9.element_rect(fill="white", color="white"),
        dpi=100,
    )
