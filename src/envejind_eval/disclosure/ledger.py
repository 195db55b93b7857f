"""Release ledger: the published numbers of earlier editions, kept in the output folder.

A team that grows from 6 to 7 between two editions exposes the newcomer when a reader
subtracts the old report from the new. The ledger records every number an edition
published (and which cells it showed as "<5"), so the verifier of the next edition adds
them to its linear system and checks "new minus old" for every aggregate
(``edition_difference`` targets; see :mod:`.verify`).

File: ``<output folder>/disclosure_ledger.json`` (:data:`LEDGER_FILE`)::

    {"format": "envejind_eval.disclosure.ledger", "version": 1,
     "editions": [{"edition": "2026-11", "min_cell": 5,
                   "tables": [{"population", "release", "table", "dims", "fixed",
                               "interior"}],
                   "cells": [{"population", "release", "table", "key", "value",
                              "state"}]}]}

Only numbers that were published are stored (``value`` is null for suppressed cells);
category labels are team, municipality and code names. Nothing in it is personal data or
key material. Re-running an edition with the same name replaces that edition, and an earlier
edition that published exactly the same numbers is dropped (a re-run adds nothing).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envejind_eval.disclosure.verify import Cell, TableMeta
from envejind_eval.errors import DisclosureError

LEDGER_FILE = "disclosure_ledger.json"
FORMAT = "envejind_eval.disclosure.ledger"
VERSION = 1


@dataclass(frozen=True)
class Ledger:
    """Earlier editions' published numbers (immutable; :meth:`with_edition` returns a new one).

    Examples
    --------
    >>> Ledger().editions
    ()
    """

    data: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @property
    def editions(self) -> tuple[str, ...]:
        return tuple(e["edition"] for e in self.data)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Ledger:
        """Read ``path`` (a ledger file or the output folder holding one); a missing file
        gives an empty ledger."""
        p = Path(path)
        if p.is_dir():
            p = p / LEDGER_FILE
        if not p.exists():
            return cls()
        try:
            raw = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DisclosureError(
                f"release ledger {p.name} is unreadable ({type(exc).__name__})"
            ) from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise DisclosureError(f"{p.name} is not a disclosure ledger (format field)")
        if raw.get("version") != VERSION:
            raise DisclosureError(f"{p.name}: unsupported ledger version")
        return cls(tuple(raw.get("editions", [])))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically to ``path`` (folder -> ``folder/disclosure_ledger.json``)."""
        p = Path(path)
        if p.is_dir() or not p.suffix:
            p.mkdir(parents=True, exist_ok=True)
            p = p / LEDGER_FILE
        text = json.dumps(
            {"format": FORMAT, "version": VERSION, "editions": list(self.data)},
            indent=1,
            ensure_ascii=False,
        )
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".ledger-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, p)
        return p

    def with_edition(
        self,
        edition: str | None,
        tables: Sequence[TableMeta],
        cells: Sequence[Cell],
        *,
        min_cell: int,
    ) -> Ledger:
        """A new ledger with ``edition`` (replacing one of the same name) appended."""
        name = edition or f"edition-{len(self.data) + 1}"
        entry = {
            "edition": name,
            "min_cell": int(min_cell),
            "tables": [
                {
                    "population": t.population,
                    "release": t.release,
                    "table": t.table,
                    "dims": list(t.dims),
                    "fixed": [list(kv) for kv in t.fixed],
                    "interior": sorted(list(x) for x in t.interior),
                }
                for t in tables
            ],
            "cells": [
                {
                    "population": c.population,
                    "release": c.release,
                    "table": c.table,
                    "key": [list(kv) for kv in c.key],
                    "value": (
                        int(c.value) if c.state == "published" and not math.isnan(c.value) else None
                    ),
                    "state": c.state,
                    **({"public": True} if c.public else {}),
                }
                for c in cells
            ],
        }
        # an earlier edition that published exactly the same numbers adds nothing for a
        # reader (a re-run of the same delivery): keep only the newest copy
        same = json.dumps([entry["tables"], entry["cells"]], sort_keys=True)
        kept = tuple(
            e
            for e in self.data
            if e["edition"] != name
            and json.dumps([e.get("tables"), e.get("cells")], sort_keys=True) != same
        )
        return Ledger((*kept, entry))

    def system_parts(
        self, *, exclude_edition: str | None = None
    ) -> tuple[list[TableMeta], list[Cell]]:
        """Tables and (locked) cells of every recorded edition except ``exclude_edition``."""
        tables: list[TableMeta] = []
        cells: list[Cell] = []
        for e in self.data:
            ed = str(e["edition"])
            if ed == exclude_edition:
                continue
            tag = f"ledger:{ed}"
            for t in e.get("tables", []):
                tables.append(
                    TableMeta(
                        population=t["population"],
                        release=t["release"],
                        table=t["table"],
                        dims=tuple(t["dims"]),
                        fixed=tuple((a, b) for a, b in t["fixed"]),
                        interior=frozenset(tuple(x) for x in t["interior"]),
                        edition=tag,
                    )
                )
            for c in e.get("cells", []):
                state = c.get("state", "published")
                value = c.get("value")
                if state == "published" and value is None:
                    state = "suppressed"
                cells.append(
                    Cell(
                        population=c["population"],
                        release=c["release"],
                        table=c["table"],
                        key=tuple((a, b) for a, b in c["key"]),
                        value=float(value) if value is not None else math.nan,
                        state=state,
                        locked=True,
                        edition=tag,
                        public=bool(c.get("public", False)),
                    )
                )
        return tables, cells
