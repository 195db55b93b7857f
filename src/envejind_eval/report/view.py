"""``ReportView``: the report's sections inside a notebook (notebook 01 uses it).

It runs the same section builders, disclosure gate and rendering as ``envejind-eval
report``, so what an evaluator sees in the notebook is what the report publishes.

Examples
--------
>>> import envejind_eval as ee                                          # doctest: +SKIP
>>> from envejind_eval.report.view import ReportView                    # doctest: +SKIP
>>> view = ReportView(ee.Dataset.from_canonical(ee.sample_path() / "canonical"))  # doctest: +SKIP
>>> view.show("results")                                                # doctest: +SKIP
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from envejind_eval.report import fmt, sections_methods
from envejind_eval.report.build import build_sections, render_figure
from envejind_eval.report.gate import gate
from envejind_eval.report.model import Context, Para, Published, Section, Table
from envejind_eval.report.render import display_frame, section_html
from envejind_eval.report.texts import text


class _HTML:
    def __init__(self, html: str) -> None:
        self.html = html

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return "<section: open in Jupyter to see it>"


class ReportView:
    """The gated report of one dataset, section by section.

    Parameters
    ----------
    ds
        The dataset.
    lang
        ``"da"`` or ``"en"``.
    min_cell, seed, n_boot
        As for ``envejind-eval report``.
    figures
        Draw figures (PNG, embedded).
    """

    def __init__(
        self,
        ds: Any,
        *,
        lang: fmt.Lang = "da",
        min_cell: int = 5,
        seed: int = 2018,
        n_boot: int = 2000,
        figures: bool = True,
    ) -> None:
        fmt.check_lang(lang)
        self.ds = ds
        self.lang = lang
        self.min_cell = min_cell
        self.ctx = Context(ds, lang, min_cell, seed, n_boot, "national", national=ds)
        self.sections, self.status = build_sections(self.ctx)
        tables = {("national", t.name): t for s in self.sections for t in s.tables}
        self.gated = gate(tables, min_cell=min_cell)
        self.published = Published(
            {n: t for (_, n), t in self.gated.tables.items()}, lang, min_cell
        )
        self._figures = figures
        self._pngs: dict[str, bytes] = {}
        self._counters = {"table": 0, "figure": 0}

    @property
    def section_ids(self) -> list[str]:
        """Ids of the sections this dataset has (``summary`` first)."""
        return ["summary", *[s.id for s in self.sections]]

    def _section(self, section_id: str) -> Section:
        for s in self.sections:
            if s.id == section_id:
                return s
        raise ValueError(f"Expecting one of {', '.join(self.section_ids)}; got '{section_id}'")

    def _draw(self, sec: Section) -> None:
        if not self._figures:
            return
        for f in sec.figures:
            if f.name in self._pngs or f.table not in self.published:
                continue
            plot = f.make(self.published.frame(f.table))
            if plot is not None:
                self._pngs[f.name] = render_figure(plot)[0]

    def blocks(self, section_id: str) -> list[Any]:
        """The section's paragraphs, (gated) tables and figures."""
        if section_id == "summary":
            return sections_methods.summary(self.ctx, self.published, self.sections)
        sec = self._section(section_id)
        self._draw(sec)
        blocks = sec.narrate(self.published) if sec.narrate else []
        blocks = [
            self.published.tables.get(b.name, b) if isinstance(b, Table) else b for b in blocks
        ]
        return ([Para(sec.note)] if sec.note else []) + blocks

    def show(self, section_id: str) -> _HTML:
        """The section as HTML (what the report shows), with its title."""
        title = (
            text("sec_summary", self.lang)
            if section_id == "summary"
            else self._section(section_id).title
        )
        body = section_html(
            self.blocks(section_id),
            pngs=self._pngs,
            counters=self._counters,
            lang=self.lang,
            min_cell=self.min_cell,
            labels={"table": text("table", self.lang), "figure": text("figure", self.lang)},
        )
        # the notebook's markdown cells carry the headings; the title is a tooltip only
        return _HTML(f'<div class="envejind-section" title="{html.escape(title)}">{body}</div>')

    def table(self, name: str) -> pd.DataFrame:
        """A gated table as the report prints it (suppressed cells as ``<5`` / ``..``)."""
        if name not in self.published:
            raise ValueError(
                f"Expecting one of {', '.join(sorted(self.published.tables))}; got '{name}'"
            )
        return display_frame(self.published.tables[name], self.lang, self.min_cell)

    @property
    def table_names(self) -> list[str]:
        return sorted(self.published.tables)


__all__ = ["ReportView"]
