"""Rates, Wilson intervals and suppression: arithmetic checked without an application."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schoolhealth.reports.statistics import (
    Proportion,
    complete_suppression,
    is_small,
    suppress_column,
    suppress_groups,
    wilson_interval,
)


# Newcombe RG (1998), "Two-sided confidence intervals for the single proportion: comparison
# of seven methods", Stat Med 17:857-872, Table I, method 3 (Wilson score, no continuity
# correction), to four decimals.
@pytest.mark.parametrize(
    ("count", "total", "low", "high"),
    [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_matches_the_published_examples(count, total, low, high):
    interval = wilson_interval(count, total)
    assert interval == pytest.approx((low, high), abs=0.00005)


def test_an_empty_group_has_no_rate_and_no_interval():
    empty = Proportion(0, 0)
    assert empty.rate is None
    assert empty.interval is None


def test_a_count_above_its_total_is_refused():
    with pytest.raises(ValueError):
        wilson_interval(5, 4)


@given(st.integers(0, 5000), st.integers(1, 5000))
def test_the_interval_holds_the_rate_and_stays_within_0_and_1(count, total):
    count = min(count, total)
    low, high = wilson_interval(count, total)
    assert 0.0 <= low <= count / total <= high <= 1.0


@pytest.mark.parametrize(("count", "small"), [(0, False), (1, True), (4, True), (5, False)])
def test_only_counts_of_one_to_four_are_small(count, small):
    assert is_small(count) is small


def test_one_small_cell_gets_a_partner_so_the_total_does_not_give_it_away():
    counts = [30, 3, 12, 0, 25]
    hidden = suppress_column(counts, [100] * 5, [False] * 5)
    assert hidden == [False, True, True, False, False]  # 12 is the smallest non-zero partner


def test_two_small_cells_need_no_partner_and_zeros_stay_visible():
    assert suppress_column([2, 0, 3, 40], [50] * 4, [False] * 4) == [True, False, True, False]


def test_a_hidden_group_hides_its_cells():
    assert suppress_column([10, 20, 30], [10, 40, 40], [True, False, False]) == [
        True,
        True,
        False,
    ]


def test_small_groups_are_hidden_with_a_partner():
    assert suppress_groups([3, 50, 40, 200]) == [True, False, True, False]
    assert suppress_groups([0, 50]) == [False, False]


@given(st.lists(st.integers(0, 60), min_size=1, max_size=12))
def test_a_hidden_cell_is_never_alone_in_its_column(counts):
    hidden = complete_suppression([is_small(c) for c in counts], counts)
    assert sum(hidden) != 1 or len(counts) == 1
    assert all(h for c, h in zip(counts, hidden, strict=True) if is_small(c))
