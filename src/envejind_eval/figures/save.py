"""``save_figure``: PNG (300 dpi), SVG and PDF with fonts that work offline.

SVG text is written as paths (``svg.fonttype = "path"``): the file then shows exactly the
same glyphs on any machine, offline, whether or not DejaVu Sans is installed there (Windows
and most report viewers do not ship it). The cost is that SVG text cannot be selected or
searched and files are somewhat larger; the PNG is the accessible raster copy and the
figure's title/caption live in the report text as well. PDF (vector, for print and for
Word/LaTeX users) embeds DejaVu Sans as TrueType (``pdf.fonttype = 42``), so its text stays
text. ``"none"`` (real text) would fall
back to whatever sans-serif the viewer has, changing widths and breaking the layout that
was checked by eye.
"""

from __future__ import annotations

from pathlib import Path

import plotnine as p9

from envejind_eval.figures.theme import Size, figure_size

DPI = 300
FORMATS: tuple[str, ...] = ("png", "svg", "pdf")
DEFAULT_FORMATS: tuple[str, ...] = ("png", "svg")
#: Metadata that would make the files differ between runs (dates) is left out.
_METADATA = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}


def save_figure(
    p: p9.ggplot,
    path: str | Path,
    *,
    formats: tuple[str, ...] = DEFAULT_FORMATS,
    dpi: int = DPI,
    width: float | Size | None = None,
    height: float | None = None,
) -> list[Path]:
    """Draw ``p`` once and write it as PNG (``dpi``, default 300), SVG and/or PDF.

    Parameters
    ----------
    p : plotnine.ggplot
        A figure from :mod:`envejind_eval.figures` (or any ggplot).
    path : str or Path
        Target path; the suffix is replaced by each format's (``gallery/flow`` →
        ``gallery/flow.png`` and ``gallery/flow.svg``). Parent folders are created.
    formats : tuple of {"png", "svg", "pdf"}
        Default ``("png", "svg")``.
    dpi : int
        Resolution of the PNG.
    width : float or str, optional
        Width in inches, or the name of a size preset (``"full"``, ``"tall"``, ``"wide"``,
        ``"square"``, ``"half"``; see :data:`~envejind_eval.figures.theme.SIZES`), which
        sets width and height. Default: the figure's theme size.
    height : float, optional
        Height in inches (overrides a preset's).

    Returns
    -------
    list of Path
        The files written.

    Notes
    -----
    Output is reproducible: the SVG has no creation date and fixed element ids
    (``svg.hashsalt``), the PNG and the PDF carry no timestamp.
    """
    import copy

    import matplotlib as mpl
    import matplotlib.pyplot as plt

    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(
            f"Expecting formats from {', '.join(FORMATS)}; got {', '.join(bad) or 'none'}"
        )
    if not isinstance(p, p9.ggplot):
        raise TypeError(f"save_figure expects a plotnine ggplot; got {type(p).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(width, str):  # a preset name: both dimensions
        width, preset_h = figure_size(width)
        height = height or preset_h
    if width is not None or height is not None:
        w, h = p.theme.getp("figure_size")
        p = p + p9.theme(figure_size=(float(width or w), float(height or h)))
    out = []
    with mpl.rc_context(
        {"svg.fonttype": "path", "svg.hashsalt": "envejind_eval", "pdf.fonttype": 42}
    ):
        # Drawing has side effects on the ggplot (a second draw of the same object lays out
        # slightly differently); draw a copy so every save is byte-identical.
        fig = copy.deepcopy(p).draw()
        try:
            for fmt in formats:
                target = path.with_suffix(f".{fmt}")
                fig.savefig(target, format=fmt, dpi=dpi, metadata=_METADATA[fmt], facecolor="white")
                out.append(target)
        finally:
            plt.close(fig)
    return out
