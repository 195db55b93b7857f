"""The reporting run: load -> analyses -> disclosure gate -> figures -> tables -> HTML ->
manifest -> leak scan (over the finished folder, manifest included), written to a temporary
folder next to ``out`` and moved into place only when every step succeeded (see
:mod:`envejind_eval.outpath` for which ``out`` folders are refused).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sys
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import pandas as pd

from envejind_eval.disclosure.scan import redact
from envejind_eval.errors import DisclosureError, EnvejindError, InsufficientDataError
from envejind_eval.outpath import OutputPathError, Stage, owner_kind, staged
from envejind_eval.report import document, fmt, sections, sections_methods, sections_results
from envejind_eval.report.attack import check_editions
from envejind_eval.report.document import DocSection, ReportDoc
from envejind_eval.report.gate import GateResult, gate, n_suppressed
from envejind_eval.report.model import Context, Published, Section, Table
from envejind_eval.report.texts import text
from envejind_eval.report.xlsx_out import write_xlsx

By = Literal["municipality"]
BYS: tuple[str, ...] = ("municipality",)
MIN_CELL_FLOOR = 3
DEFAULT_SEED = 2018
DEFAULT_N_BOOT = 2000

#: Section builders in report order.
SECTIONS: tuple[Callable[[Context], Section | None], ...] = (
    sections.design,
    sections.instruments,
    sections.participants,
    sections_results.results,
    sections_results.claims,
    sections_results.outcomes,
    sections_results.attendance,
    sections_results.attrition,
    sections_methods.methods,
)


@dataclass
class ReportResult:
    """What a run produced: its folder, exit status and warnings."""

    out: Path
    exit_code: int
    warnings: list[str] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Options:
    lang: fmt.Lang = "da"
    by: By | None = None
    min_cell: int = 5
    seed: int = DEFAULT_SEED
    n_boot: int = DEFAULT_N_BOOT
    municipalities: tuple[str, ...] | None = None
    figures: bool = True
    formats: tuple[str, ...] = ("html",)
    jobs: int = 1  # worker processes drawing figures (output does not depend on it)
    previous: tuple[Path, ...] = ()  # earlier editions in other folders, audited jointly

    def check(self) -> Options:
        fmt.check_lang(self.lang)
        document.parse_formats(self.formats)
        if isinstance(self.jobs, bool) or not isinstance(self.jobs, int) or self.jobs < 1:
            raise EnvejindError(f"--jobs must be a whole number of at least 1; got {self.jobs!r}")
        if self.by is not None and self.by not in BYS:
            raise ValueError(f"Expecting one of {', '.join(BYS)}; got '{self.by}'")
        if not isinstance(self.min_cell, int) or self.min_cell < MIN_CELL_FLOOR:
            raise EnvejindError(
                f"--min-cell must be a whole number of at least {MIN_CELL_FLOOR}; "
                f"got {self.min_cell!r}"
            )
        if self.n_boot < 0:
            raise EnvejindError("n_boot must be 0 (no bootstrap) or more")
        return self


def read_config(path: str | Path | None) -> dict[str, Any]:
    """Report options from a TOML file: a ``[report]`` table with ``lang``, ``by``,
    ``min_cell``, ``seed``, ``n_boot``, ``municipalities``, ``figures``, ``format``,
    ``previous`` (a list of earlier report folders, relative to the current folder)."""
    if path is None:
        return {}
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EnvejindError(f"{path}: config file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise EnvejindError(f"{path}: not valid TOML ({exc})") from None
    rep = data.get("report", {})
    allowed = {
        "lang",
        "by",
        "min_cell",
        "seed",
        "n_boot",
        "municipalities",
        "figures",
        "format",
        "previous",
    }
    unknown = set(rep) - allowed
    if unknown:
        raise EnvejindError(
            f"{path} [report]: unknown key(s) {', '.join(sorted(unknown))}; "
            f"expecting {', '.join(sorted(allowed))}"
        )
    if "municipalities" in rep:
        rep["municipalities"] = tuple(rep["municipalities"])
    if "previous" in rep:
        prev = rep["previous"]
        if not isinstance(prev, list) or not all(isinstance(x, str) for x in prev):
            raise EnvejindError(f"{path} [report]: previous must be a list of folder names")
        rep["previous"] = tuple(Path(x) for x in prev)
    return rep


def check_previous(previous: Iterable[str | Path], out: Path) -> tuple[Path, ...]:
    """The earlier editions given with ``--previous``: each must be a report folder of ours
    (its marker says so), so the joint audit reads what was really published. ``out``
    itself is audited anyway and dropped here."""
    seen: list[Path] = []
    for p in map(Path, previous):
        try:
            kind = owner_kind(p) if p.is_dir() else None
        except OutputPathError:
            kind = None
        if kind != "report":
            raise EnvejindError(
                f"--previous {redact(str(p))}: not a report folder written by envejind-eval "
                "(give the --out folder of an earlier report run)"
            )
        if p.resolve() != out.resolve() and p.resolve() not in (q.resolve() for q in seen):
            seen.append(p)
    return tuple(seen)


# -- loading --------------------------------------------------------------------------------


def open_dataset(path: Path) -> Any:
    """A canonical folder opens directly; a delivery folder goes through ingestion."""
    from envejind_eval.dataset import Dataset

    if not path.is_dir():
        raise EnvejindError(f"{redact(str(path))}: input folder not found")
    if (path / "participants.csv").exists() or (path / "participants.parquet").exists():
        return Dataset.from_canonical(path)
    from envejind_eval.ingest import load

    return load(path)


def input_files(path: Path) -> list[dict[str, Any]]:
    """Every regular file of the input folder with its size and sha256 (sorted, relative).

    A CPR-shaped part of a file name is redacted (``status_[cpr].csv``); the sha256 still
    tells the files apart."""
    out = []
    for f in sorted(path.rglob("*")):
        rel = f.relative_to(path)
        if not f.is_file() or any(part.startswith(".") for part in rel.parts):
            continue
        out.append(
            {"path": redact(rel.as_posix()), "bytes": f.stat().st_size, "sha256": sha256_file(f)}
        )
    return out


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_frame(df: pd.DataFrame) -> str:
    return hashlib.sha256(df.to_csv(index=False, lineterminator="\n").encode()).hexdigest()


# -- sections -------------------------------------------------------------------------------


def _subtitle(scope: str, ds: Any, lang: str, chosen: Iterable[str] | None) -> str:
    """The report's subtitle names what it covers: one municipality, the chosen ones, or all
    (a delivery from a single municipality is not a report "for all municipalities")."""
    if scope != "national":
        return text("report_subtitle_municipality", lang, m=scope)
    names = list(ds.municipalities)
    if len(names) == 1:
        return text("report_subtitle_municipality", lang, m=names[0])
    if chosen:
        return text("report_subtitle_selected", lang, m=", ".join(names))
    return text("report_subtitle_national", lang)


def build_sections(ctx: Context) -> tuple[list[Section], list[dict[str, str]]]:
    """Run every section builder; returns sections and a status log."""
    built, status = [], []
    for fn in SECTIONS:
        name = fn.__name__
        try:
            sec = fn(ctx)
        except InsufficientDataError as exc:
            status.append(
                {
                    "scope": ctx.scope,
                    "section": name,
                    "status": "insufficient_data",
                    "reason": str(exc),
                }
            )
            continue
        if sec is None:
            status.append(
                {
                    "scope": ctx.scope,
                    "section": name,
                    "status": "absent",
                    "reason": "no data for this section",
                }
            )
            continue
        built.append(sec)
        status.append(
            {"scope": ctx.scope, "section": name, "status": sec.status, "reason": sec.note}
        )
    return built, status


# -- figures --------------------------------------------------------------------------------


@contextmanager
def _deterministic_mpl() -> Iterator[None]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    with matplotlib.rc_context({"svg.hashsalt": "envejind_eval", "svg.fonttype": "path"}):
        yield


def render_figure(plot: Any, *, dpi: int = 110) -> tuple[bytes, bytes]:
    """PNG and SVG bytes of a plotnine ggplot, without timestamps."""
    import matplotlib.pyplot as plt

    with _deterministic_mpl():
        fig = plot.draw()
        try:
            png, svg = io.BytesIO(), io.BytesIO()
            fig.savefig(png, format="png", dpi=dpi, metadata={"Software": None})
            fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
        finally:
            plt.close(fig)
    return png.getvalue(), svg.getvalue()


#: The task of the current :func:`fork_map`, read by its forked workers (only an index is
#: sent to them).
_FORK_TASK: Callable[[int], Any] | None = None


def _fork_call(i: int) -> Any:
    assert _FORK_TASK is not None
    return _FORK_TASK(i)


def fork_map(fn: Callable[[int], Any], n: int, jobs: int) -> list[Any]:
    """``[fn(0), ..., fn(n - 1)]``, computed in ``jobs`` worker processes when there is
    more than one; results come back in order, so the output does not depend on ``jobs``.

    Workers are forked: the tasks are closures over the run's analyses (figure factories,
    narrators), which cannot be pickled, and a fork shares them without copying. Without
    ``fork`` (Windows) everything runs here."""
    global _FORK_TASK
    import multiprocessing as mp

    if jobs <= 1 or n < 2 or "fork" not in mp.get_all_start_methods():
        return [fn(i) for i in range(n)]
    from concurrent.futures import ProcessPoolExecutor

    _FORK_TASK = fn
    try:
        ctx = mp.get_context("fork")
        with ProcessPoolExecutor(max_workers=min(jobs, n), mp_context=ctx) as ex:
            return list(ex.map(_fork_call, range(n), chunksize=max(1, n // (8 * jobs))))
    finally:
        _FORK_TASK = None


def _figures(
    per_scope: dict[str, list[Section]], gated: GateResult, opts: Options, tmp: Path
) -> tuple[dict[str, dict[str, bytes]], list[dict[str, Any]]]:
    """Gate, draw (in parallel, each distinct figure once) and write every scope's figures.

    A figure is a function of its name and its gated data only (language and instruments
    are the run's), so scopes with identical data share one rendering."""
    L = opts.lang
    pngs: dict[str, dict[str, bytes]] = {s: {} for s in per_scope}
    planned: list[tuple[str, Any, str, int]] = []  # scope, figure, data hash, task index
    tasks: list[tuple[Any, pd.DataFrame]] = []
    task_of: dict[tuple[str, str], int] = {}
    for scope, secs in per_scope.items():
        for sec in secs:
            for f in sec.figures if opts.figures else []:
                gt = gated.tables.get((scope, f.table))
                if gt is None:
                    continue
                data = Published({f.table: gt}, L, opts.min_cell).frame(f.table)
                if gated.gate is not None:  # refuses individual-level or small-n data
                    n_col = gt.n_col if gt.n_col in data.columns else None
                    shown = data.dropna(subset=[n_col]) if n_col else data
                    est = [c for c in gt.value_cols if c in shown.columns]
                    if est:  # a row whose estimates are all hidden plots nothing
                        shown = shown.dropna(subset=est, how="all")
                    gated.gate.release(scope).figure(f.name, data=shown, n=n_col)
                digest = sha256_frame(data)
                k = task_of.setdefault((f.name, digest), len(tasks))
                if k == len(tasks):
                    tasks.append((f, data))
                planned.append((scope, f, digest, k))

    def draw(i: int) -> tuple[bytes, bytes] | None:
        f, data = tasks[i]
        plot = f.make(data)
        return None if plot is None else render_figure(plot)

    drawn = fork_map(draw, len(tasks), opts.jobs)
    fig_log: list[dict[str, Any]] = []
    for scope, f, digest, k in planned:
        if drawn[k] is None:
            continue
        png, svg = drawn[k]  # type: ignore[misc]
        fdir = scope_dir(tmp, scope) / "figures"
        fdir.mkdir(parents=True, exist_ok=True)
        (fdir / f"{f.name}.png").write_bytes(png)
        (fdir / f"{f.name}.svg").write_bytes(svg)
        pngs[scope][f.name] = png
        fig_log.append(
            {
                "scope": scope,
                "name": f.name,
                "table": f.table,
                "data_sha256": digest,
                "files": [
                    (fdir / f"{f.name}.{e}").relative_to(tmp).as_posix() for e in ("png", "svg")
                ],
            }
        )
    return pngs, fig_log


# -- output ---------------------------------------------------------------------------------


def csv_frame(t: Table, min_cell: int) -> pd.DataFrame:
    """A gated table for CSV/Excel: unrounded values, suppressed cells as ``<min_cell``."""
    d = t.data.copy()
    if t.suppressed is None or not t.suppressed.to_numpy().any():
        return d
    for c in d.columns:
        m = t.suppressed[c].astype(bool)
        if m.any():
            mark = t.marks[c] if t.marks is not None else f"<{min_cell}"
            d[c] = d[c].astype(object).where(~m, mark)
    return d


def scope_dir(root: Path, scope: str) -> Path:
    return root if scope == "national" else root / scope_slug(scope)


def scope_slug(scope: str) -> str:
    s = scope.strip()
    if not s or s in {".", ".."} or re.search(r"[/\\\x00]", s):
        raise EnvejindError("a municipality name cannot be used as a folder name")
    return s


# -- leak scan ------------------------------------------------------------------------------


def leak_scan(root: Path, pseudonyms: set[str]) -> list[str]:
    """Files under ``root`` that contain a CPR-shaped string or a pseudonym.

    Uses :func:`envejind_eval.disclosure.scan.scan`. Hits name the file and the rule, never
    the value.
    """
    from envejind_eval.disclosure.scan import scan

    hits = scan([root], pseudonyms=sorted(pseudonyms))
    cols = (hits[c].astype(str) for c in ("file", "location", "kind"))
    return [
        f"{Path(f).relative_to(root) if Path(f).is_absolute() else f} ({location}): {kind}"
        for f, location, kind in zip(*cols, strict=True)
    ]


# -- the run --------------------------------------------------------------------------------


class ReportError(EnvejindError):
    """A reporting run failed; the output folder was left untouched."""


class _Steps:
    def __init__(self, total: int, quiet: bool) -> None:
        from tqdm import tqdm

        disable = quiet or not sys.stderr.isatty()
        self.bar = tqdm(
            total=total, disable=disable, desc="report", unit="step", file=sys.stderr, leave=False
        )
        self.timings: dict[str, float] = {}
        self.current = "start"

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        self.bar.set_postfix_str(name)
        self.current = name
        t0 = time.perf_counter()
        yield
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t0
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def build_report(
    data_dir: str | Path,
    out: str | Path,
    *,
    lang: fmt.Lang = "da",
    by: By | None = None,
    min_cell: int = 5,
    seed: int = DEFAULT_SEED,
    n_boot: int = DEFAULT_N_BOOT,
    municipalities: tuple[str, ...] | None = None,
    figures: bool = True,
    formats: str | tuple[str, ...] = ("html",),
    config: str | Path | None = None,
    quiet: bool = False,
    jobs: int | None = None,
    previous: Iterable[str | Path] = (),
    _log: Callable[[str], None] | None = None,
) -> ReportResult:
    """Write the evaluation report for a delivery (or canonical folder) into ``out``.

    Parameters
    ----------
    data_dir
        A municipal delivery folder (ingested with the pseudonym key) or a canonical folder.
    out
        Output folder; replaced atomically when the run succeeds, untouched when it fails.
    lang
        ``"da"`` or ``"en"``.
    by
        ``"municipality"`` also writes ``out/<municipality>/index.html``.
    min_cell
        Minimum number of persons behind any published number (at least 3).
    seed, n_boot
        Seed and bootstrap resamples for every random procedure.
    municipalities
        Restrict the report to these municipalities.
    figures
        Draw figures (off only to speed up tests).
    formats
        Report documents to write: ``"html"`` (``index.html``), ``"docx"`` (``report.docx``),
        ``"pdf"`` (``report.pdf``); a tuple or a comma list. The tables (CSV, XLSX), figures
        and manifest are always written.
    jobs
        Worker processes drawing the figures (default: the CPU count); the output is the
        same for every value.
    previous
        Earlier editions written to other folders (``--previous``): each is audited jointly
        with this one like the report already in ``out`` (docs/disclosure.md §4); a
        folder that is not a report of ours is refused.
    config
        Recorded in the manifest (the CLI reads options from it).

    Returns
    -------
    ReportResult
        ``exit_code`` 0 (clean) or 1 (written with warnings: quarantined rows, suppressed
        cells, sections without data). Failures raise :class:`EnvejindError` and leave no
        output.
    """
    from envejind_eval import __version__

    formats = document.parse_formats(formats)
    if jobs is None:
        jobs = os.cpu_count() or 1
    data_dir, out = Path(data_dir), Path(out)
    prev = check_previous(previous, out)
    opts = Options(
        lang, by, min_cell, seed, n_boot, municipalities, figures, formats, jobs, prev
    ).check()
    if not data_dir.is_dir():
        raise EnvejindError(f"{redact(str(data_dir))}: input folder not found")
    started = datetime.now(UTC)
    steps = _Steps(total=8 + len(opts.formats), quiet=quiet)
    try:
        with staged(out, kind="report", inputs=[data_dir]) as stage:
            result = _run(data_dir, out, stage, opts, steps, config, __version__, started)
        result.out = out
        return result
    except Exception as exc:
        if isinstance(exc, EnvejindError) or os.environ.get("ENVEJIND_DEBUG"):
            raise
        raise ReportError(
            f"the report failed in step '{steps.current}' ({type(exc).__name__}); "
            f"nothing was written to {redact(str(out))}. Run again with --debug (or "
            "ENVEJIND_DEBUG=1) to see the traceback"
        ) from exc
    finally:
        steps.close()


def previous_key_fingerprint(out: Path) -> str | None:
    """The key fingerprint recorded by the report already in ``out`` (None if none)."""
    try:
        man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    fp = man.get("key_fingerprint") if isinstance(man, dict) else None
    return fp if isinstance(fp, str) else None


def _run(
    data_dir: Path,
    out: Path,
    stage: Stage,
    opts: Options,
    steps: _Steps,
    config: str | Path | None,
    version: str,
    started: datetime,
) -> ReportResult:
    L = opts.lang
    tmp = stage.path
    warnings: list[str] = []
    with steps.step("load"):
        ds = open_dataset(data_dir)
        if opts.municipalities:
            ds = ds.filter(municipality=list(opts.municipalities))
        inputs = input_files(data_dir)
    if not len(ds.participants):
        raise EnvejindError(f"{redact(data_dir.name)}: the delivery has no participants")
    # pseudonyms of two keys cannot be compared or differenced: refuse a mixed series
    key_fp = getattr(getattr(ds, "ingest_report", None), "key_fingerprint", None)
    prev_fp = previous_key_fingerprint(out) if out.is_dir() else None
    if key_fp and prev_fp and key_fp != prev_fp:
        raise EnvejindError(
            f"{redact(str(out))} holds an earlier edition pseudonymised with another key "
            "(key fingerprints differ); use the key of that edition, or write this report "
            "to a new folder"
        )

    scopes = ["national"]
    if opts.by == "municipality":
        scopes += ds.municipalities

    with steps.step("analyses"):
        per_scope: dict[str, list[Section]] = {}
        status: list[dict[str, str]] = []
        for scope in scopes:
            sds = ds if scope == "national" else ds.filter(municipality=scope)
            ctx = Context(sds, L, opts.min_cell, opts.seed, opts.n_boot, scope, national=ds)
            secs, st = build_sections(ctx)
            per_scope[scope] = secs
            status += st
        all_tables = {
            (s, t.name): t for s, secs in per_scope.items() for sec in secs for t in sec.tables
        }

    with steps.step("disclosure"):
        gated: GateResult = gate(
            all_tables,
            min_cell=opts.min_cell,
            ledger_dir=out if out.is_dir() else None,
            edition=started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )

    with steps.step("figures"):
        pngs, fig_log = _figures(per_scope, gated, opts, tmp)

    with steps.step("tables"):
        table_log = []
        for scope in scopes:
            tdir = scope_dir(tmp, scope) / "tables"
            tdir.mkdir(parents=True, exist_ok=True)
            for (s, name), t in sorted(gated.tables.items()):
                if s != scope:
                    continue
                df = csv_frame(t, opts.min_cell)
                path = tdir / f"{name}.csv"
                df.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
                table_log.append(
                    {
                        "scope": scope,
                        "name": name,
                        "file": path.relative_to(tmp).as_posix(),
                        "sha256": sha256_file(path),
                    }
                )

    # an edition must not be subtractable from the one it replaces (docs/disclosure.md §4)
    check_editions(out, tmp, min_cell=opts.min_cell)
    for p in opts.previous:  # and from every earlier edition the user points to
        check_editions(
            p, tmp, min_cell=opts.min_cell, earlier=f"the earlier edition {redact(str(p))}"
        )

    with steps.step("html"):
        labels = {"table": text("table", L), "figure": text("figure", L), "toc": text("toc", L)}
        nav = []
        if len(scopes) > 1:
            nav = [(f"{quote(scope_slug(s))}/index.html", s) for s in scopes[1:]]
        docs: dict[str, ReportDoc] = {}
        for scope in scopes:
            pub = Published(
                {n: t for (s, n), t in gated.tables.items() if s == scope}, L, opts.min_cell
            )
            ordered = list(per_scope[scope])
            blocks_by_sec: dict[str, list[Any]] = {}
            for sec in ordered:
                blocks = sec.narrate(pub) if sec.narrate else []
                # narrators list their own (ungated) Table objects: swap in the gated ones
                blocks = [pub.tables.get(b.name, b) if isinstance(b, Table) else b for b in blocks]
                if sec.note:
                    from envejind_eval.report.model import Para

                    blocks.insert(0, Para(sec.note))
                blocks_by_sec[sec.id] = blocks
            sds = ds if scope == "national" else ds.filter(municipality=scope)
            ctx = Context(sds, L, opts.min_cell, opts.seed, opts.n_boot, scope, national=ds)
            sblocks = sections_methods.summary(ctx, pub, per_scope[scope])
            ordered = [Section("summary", text("sec_summary", L)), *ordered]
            blocks_by_sec["summary"] = sblocks
            subtitle = _subtitle(scope, ds, L, opts.municipalities)
            scope_nav = (
                nav
                if scope == "national"
                else [("../index.html", _subtitle("national", ds, L, opts.municipalities))]
            )
            docs[scope] = ReportDoc(
                lang=L,
                min_cell=opts.min_cell,
                title=text("report_title", L),
                subtitle=subtitle,
                sections=[DocSection(s.id, s.title, blocks_by_sec[s.id]) for s in ordered],
                pngs=pngs[scope],
                footnote=text("suppressed_footnote", L, k=opts.min_cell),
                footer=text(
                    "generated", L, version=version, seed=opts.seed, min_cell=opts.min_cell
                ),
                labels=labels,
                nav=scope_nav,
                created=started,
            )
            if "html" in opts.formats:
                document.write(docs[scope], scope_dir(tmp, scope), ["html"])

    # the workbook numbers its sheets as the report numbers its tables
    with steps.step("xlsx"):
        national = {n: t for (s, n), t in gated.tables.items() if s == "national"}
        write_xlsx(tmp / "tables.xlsx", docs["national"], national)
    documents = [
        (scope_dir(tmp, s) / name).relative_to(tmp).as_posix()
        for s in scopes
        for name in (["index.html"] if "html" in opts.formats else [])
    ]
    for kind in (k for k in opts.formats if k != "html"):
        with steps.step(kind):
            for scope in scopes:
                names = document.write(docs[scope], scope_dir(tmp, scope), [kind])
                documents += [
                    (scope_dir(tmp, scope) / n).relative_to(tmp).as_posix() for n in names
                ]

    quarantined = _quarantine_count(ds)
    n_sup = n_suppressed(gated.tables)
    if quarantined:
        warnings.append(f"ingest: {quarantined} row(s) quarantined")
    if n_sup:
        warnings.append(f"disclosure: {n_sup} cell(s) suppressed")

    with steps.step("manifest"):
        manifest = {
            "package": "envejind_eval",
            "version": version,
            "created_utc": started.isoformat(timespec="seconds"),
            "parameters": {
                "lang": opts.lang,
                "by": opts.by,
                "min_cell": opts.min_cell,
                "seed": opts.seed,
                "n_boot": opts.n_boot,
                "municipalities": list(opts.municipalities) if opts.municipalities else None,
                "figures": opts.figures,
                "formats": list(opts.formats),
                "previous": [redact(p.name) for p in opts.previous],
                "config": redact(Path(config).name) if config else None,
            },
            "seed": opts.seed,
            "key_fingerprint": key_fp,
            "input": {"folder": redact(data_dir.name), "files": inputs},
            "instruments": [
                {
                    "id": i.id,
                    "version": i.version,
                    "source": i.source,
                    "sample_operationalisation": i.sample_operationalisation,
                }
                for i in ds.instruments.values()
            ],
            "scopes": scopes,
            "sections": status,
            "disclosure": {k: v for k, v in gated.manifest.items() if k != "suppression_log"},
            "suppression_log": gated.manifest.get("suppression_log", []),
            "tables": table_log,
            "figures": fig_log,
            "documents": documents,
            "warnings": warnings,
            "timings": {},
        }

    if gated.gate is not None:
        gated.gate.record().save(tmp)
    manifest["timings"] = {k: round(v, 3) for k, v in steps.timings.items()}
    (tmp / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8"
    )
    stage.seal()

    # the scan runs over the finished folder, manifest and marker included
    with steps.step("scan"):
        pseud = set(ds.participants["participant_id"].astype(str))
        hits = leak_scan(tmp, pseud)
        if hits:
            raise DisclosureError(
                "leak scan found identifiers in the output, nothing was written: "
                + "; ".join(hits[:10])
            )
    return ReportResult(out, 1 if warnings else 0, warnings, manifest)


def _quarantine_count(ds: Any) -> int:
    from envejind_eval.report.sections import _quarantined_rows

    return _quarantined_rows(ds) or 0
