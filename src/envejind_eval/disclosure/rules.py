"""Disclosure rules: thresholds and the primary checks every published number passes.

All defaults are documented in ``docs/disclosure.md`` together with their sources
(Statistics Denmark's rules for tables from microdata; the ESSnet Handbook on Statistical
Disclosure Control, Hundepool et al.). :func:`rules_table` returns the same list as a tidy
DataFrame for the report's manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

#: Smallest ``min_cell`` the package accepts (Statistics Denmark's absolute floor).
MIN_CELL_FLOOR = 3

EstimateKind = Literal["mean", "share", "model", "median", "quantile", "min", "max"]
ESTIMATE_KINDS: tuple[str, ...] = ("mean", "share", "model", "median", "quantile", "min", "max")
#: Order statistics: published only when enough persons *share* the value.
ORDER_STATISTICS: tuple[str, ...] = ("median", "quantile", "min", "max")


@dataclass(frozen=True)
class DisclosureRules:
    """Thresholds of the disclosure gate.

    Parameters
    ----------
    min_cell
        Minimum number of persons behind any published count, mean, share or model
        estimate (default 5). Values below 3 raise ``ValueError``.
    dominance_factor
        A 0 % or 100 % share is sensitive in a group smaller than
        ``dominance_factor * min_cell`` persons (default 2, i.e. groups under 10).
    small_label
        Display text of a cell suppressed because it counts 1 .. ``min_cell - 1`` persons
        (or an estimate resting on that few); ``{min_cell}`` is filled in (default ``"<5"``).
    suppressed_label
        Display text of every other suppressed cell: sensitive shares and complementary
        (secondary) suppressions (default ``".."``, a neutral "not shown" symbol). One
        symbol for both, so a reader cannot tell which is which.
    max_unknowns
        Largest cross-classification (possible joint cells) of one population the verifier
        builds (default 1,000,000). Every aggregate of every population is audited; a
        population over this size makes the run fail (:class:`DisclosureError`) instead of
        being audited in part.

    Notes
    -----
    Rules (``r`` = ``min_cell``, ``k`` = ``dominance_factor``):

    1. threshold: a count ``c`` with ``1 <= c < r`` is primary-suppressed ("<r");
    2. estimates (mean, share, model estimate) resting on ``n < r`` persons are suppressed;
    3. dominance / group disclosure: a cell holding 0 % or 100 % of its group (the same
       cell with one attribute dimension summed out) is sensitive when the group has
       ``0 < g < k r`` persons; the same for a published share of 0 or 1 with ``n < k r``;
    4. order statistics (median, quantiles, min, max) only when at least ``r`` persons
       share the published value;
    5. differencing: no suppressed cell, and no aggregate a reader can derive, may be pinned
       to an exact small value by any combination of published numbers (tables, margins,
       other tables of the run, earlier editions in the ledger) -- see ``verify``.

    Examples
    --------
    >>> DisclosureRules().label_small
    '<5'
    >>> DisclosureRules(min_cell=2)
    Traceback (most recent call last):
    ...
    ValueError: min_cell must be at least 3; got 2
    """

    min_cell: int = 5
    dominance_factor: int = 2
    small_label: str = "<{min_cell}"
    suppressed_label: str = ".."
    max_unknowns: int = 1_000_000

    def __post_init__(self) -> None:
        if isinstance(self.min_cell, bool) or not isinstance(self.min_cell, (int, np.integer)):
            raise TypeError(f"min_cell must be an integer; got {type(self.min_cell).__name__}")
        if self.min_cell < MIN_CELL_FLOOR:
            raise ValueError(f"min_cell must be at least {MIN_CELL_FLOOR}; got {self.min_cell}")
        if self.dominance_factor < 1:
            raise ValueError(f"dominance_factor must be at least 1; got {self.dominance_factor}")
        if self.max_unknowns < 1:
            raise ValueError(f"max_unknowns must be positive; got {self.max_unknowns}")

    # -- labels -------------------------------------------------------------------------

    @property
    def label_small(self) -> str:
        return self.small_label.format(min_cell=self.min_cell)

    @property
    def dominance_limit(self) -> int:
        """Groups with fewer persons than this are checked for 0 % / 100 % shares."""
        return self.dominance_factor * self.min_cell

    # -- primary checks (vectorised; NaN = nothing published) ---------------------------

    def small_count(self, counts: object) -> np.ndarray:
        """True where a count is 1 .. ``min_cell - 1`` (threshold rule)."""
        c = np.asarray(counts, dtype=float)
        return (c >= 1) & (c < self.min_cell)

    def extreme_share(self, counts: object, group: object) -> np.ndarray:
        """True where a count is 0 % or 100 % of a group of 1 .. ``k * min_cell - 1``."""
        c = np.asarray(counts, dtype=float)
        g = np.asarray(group, dtype=float)
        small_group = (g > 0) & (g < self.dominance_limit)
        return small_group & ((c == 0) | (c == g))

    def estimate_unsafe(
        self,
        n: object,
        *,
        kind: EstimateKind = "mean",
        value: object = None,
        n_sharing: object = None,
    ) -> np.ndarray:
        """True where an estimate of ``kind`` must not be published.

        ``n`` is the number of persons the estimate rests on; ``value`` is needed for
        shares (0 or 1 in a small group is sensitive); ``n_sharing`` (persons holding the
        published value) is needed for order statistics.
        """
        if kind not in ESTIMATE_KINDS:
            raise ValueError(f"Expecting one of {ESTIMATE_KINDS} for kind; got {kind!r}")
        nn = np.asarray(n, dtype=float)
        bad = ~(nn >= self.min_cell)  # NaN n counts as unsafe
        if kind == "share":
            if value is None:
                raise ValueError("kind='share' needs the share values (value=...)")
            v = np.asarray(value, dtype=float)
            bad |= ((v <= 0) | (v >= 1)) & (nn < self.dominance_limit)
        if kind in ORDER_STATISTICS:
            if n_sharing is None:
                raise ValueError(
                    f"kind={kind!r} needs the number of persons sharing the value (n_sharing=...)"
                )
            bad |= ~(np.asarray(n_sharing, dtype=float) >= self.min_cell)
        return bad


_HB = "Hundepool et al., Handbook on Statistical Disclosure Control, 2nd ed. 2024 (ESSnet/Eurostat)"
_DST = "Statistics Denmark, rules on transfer of analysis results / diskretionering"

RULES: tuple[dict[str, str], ...] = (
    {
        "rule": "threshold",
        "default": "min_cell = 5 (never below 3)",
        "what": "a count of 1 .. min_cell-1 persons is suppressed and shown as '<5'",
        "source": f"{_DST} (at least 3 units per cell; < 5 masked for person data); "
        f"{_HB}, ch. 5 (threshold rule)",
    },
    {
        "rule": "estimate_n",
        "default": "n >= min_cell",
        "what": "means, shares and model estimates need at least min_cell persons",
        "source": f"{_DST}; {_HB}; Eurostat ACRO output checking (threshold on every statistic)",
    },
    {
        "rule": "group_disclosure",
        "default": "0 % / 100 % shares sensitive in groups < 2 * min_cell",
        "what": "a cell holding none or all of a small group reveals the group's attribute",
        "source": f"{_HB}, ch. 5.2 (attribute / group disclosure in frequency tables)",
    },
    {
        "rule": "order_statistics",
        "default": "at least min_cell persons share the published value",
        "what": "median, percentiles, min and max are values of individual persons",
        "source": f"{_DST} (no individual values leave); {_HB}, ch. 4",
    },
    {
        "rule": "secondary_suppression",
        "default": "LP-verified complementary suppression",
        "what": "no suppressed cell is recoverable from margins, linked tables, or "
        "per-municipality reports of the same run",
        "source": f"{_HB}, ch. 4 (secondary cell suppression, linked and hierarchical "
        "tables, audit by linear programming as in tau-ARGUS)",
    },
    {
        "rule": "differencing",
        "default": "editions recorded in the release ledger",
        "what": "subtracting an earlier edition must not pin a small group (a newcomer)",
        "source": f"{_HB} (disclosure by differencing)",
    },
    {
        "rule": "no_individual_figures",
        "default": "publication=True",
        "what": "tables and figures showing individuals (trajectories, a point per person) "
        "are internal only",
        "source": f"{_DST} (no microdata or pseudonymised keys in output)",
    },
    {
        "rule": "leak_guard",
        "default": "scan every output",
        "what": "no CPR-shaped string or pseudonym in any output file",
        "source": "design section 6 (GDPR Art. 10); " + _DST,
    },
)


def rules_table(rules: DisclosureRules | None = None) -> pd.DataFrame:
    """The rules, their defaults and sources as a tidy table (``rule, default, what,
    source, value``) for manifests and documentation."""
    r = rules or DisclosureRules()
    df = pd.DataFrame(list(RULES))
    values = {
        "threshold": str(r.min_cell),
        "estimate_n": str(r.min_cell),
        "group_disclosure": str(r.dominance_limit),
        "order_statistics": str(r.min_cell),
        "secondary_suppression": "on",
        "differencing": "on",
        "no_individual_figures": "on",
        "leak_guard": "on",
    }
    df["value"] = df["rule"].map(values)
    return df
