"""Rates, confidence intervals and small-cell suppression: plain arithmetic, no Flask.

Kept apart from the queries so the figures officials read can be checked by hand and
tested without an application.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Z_95 = 1.959963984540054  # the two-sided 95% quantile of the standard normal

# Counts of 1–4 pupils (numerators) and groups of fewer than 5 pupils (denominators) are
# not shown to officials: a count that small can identify a child in a class or grade.
SMALL_CELL = 5


@dataclass(frozen=True)
class Proportion:
    """``count`` of ``total`` with its rate and Wilson 95% interval (None when total is 0)."""

    count: int
    total: int

    @property
    def rate(self) -> float | None:
        return self.count / self.total if self.total else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.count, self.total)


def wilson_interval(count: int, total: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval for a binomial proportion (Wilson 1927; Newcombe 1998).

    Unlike the normal ("Wald") interval it stays inside [0, 1] and behaves at rates near
    0 or 1, which is where school prevalences of severe findings live.
    """
    if total <= 0:
        return None
    if not 0 <= count <= total:
        raise ValueError(f"count {count} outside 0..{total}")
    p = count / total
    z2 = z * z
    centre = (p + z2 / (2 * total)) / (1 + z2 / total)
    half = z * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total)) / (1 + z2 / total)
    # At 0 and at 1 the bound is exactly the rate; say so rather than leave rounding error.
    low = 0.0 if count == 0 else max(0.0, centre - half)
    high = 1.0 if count == total else min(1.0, centre + half)
    return low, high


def is_small(count: int) -> bool:
    """A count that would be shown as "<5": 1 to 4. A zero is not hidden."""
    return 0 < count < SMALL_CELL


def complete_suppression(hidden: Sequence[bool], counts: Sequence[int]) -> list[bool]:
    """Add the cells that keep hidden ones from being recovered by subtraction.

    The column's grand total is shown, so a column with exactly one hidden cell gives it
    away (total minus the shown cells). Then the smallest other cell is hidden too,
    preferring a non-zero one: a zero partner would leave the subtraction unambiguous
    whenever the zero is guessed.
    """
    result = list(hidden)
    if sum(result) == 1:
        candidates = [i for i, h in enumerate(result) if not h]
        if candidates:
            nonzero = [i for i in candidates if counts[i] > 0] or candidates
            result[min(nonzero, key=lambda i: (counts[i], i))] = True
    return result


def suppress_groups(totals: Sequence[int]) -> list[bool]:
    """Groups whose denominators (pupils screened) must not be shown: small, or partners."""
    return complete_suppression([is_small(t) for t in totals], totals)


def suppress_column(
    counts: Sequence[int], totals: Sequence[int], hidden_groups: Sequence[bool]
) -> list[bool]:
    """Cells of one category column to hide: small counts, hidden groups, and partners.

    A group whose denominator is hidden shows none of its cells (its rate would give the
    denominator back).
    """
    primary = [is_small(c) or h for c, h in zip(counts, hidden_groups, strict=True)]
    return complete_suppression(primary, counts)


def percent(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value * 100:.{digits}f}%"


def total(values: Iterable[int]) -> int:
    return sum(values)
