"""The callback sample's pure rules: the finite-population sample size and the seeded draw."""

from __future__ import annotations

import math

import pytest

from subsidy.core.errors import Refused
from subsidy.rules import sampling


@pytest.mark.parametrize("population, confidence, margin, expected", [
    (1_000_000, 95, 5, 385),  # the textbook 384.16, rounded up
    (100, 95, 5, 80),
    (1000, 95, 3, 517),
    (500, 99, 3, 394),
    (200, 90, 10, 51),
    (1, 95, 5, 1),
])
def test_the_sample_size_is_the_finite_population_formula_rounded_up(population, confidence, margin, expected):
    assert sampling.sample_size(population, confidence, margin) == expected


@pytest.mark.parametrize("population", [1, 2, 7, 50, 333, 10_000, 2_000_000])
@pytest.mark.parametrize("confidence", [90, 95, 99])
@pytest.mark.parametrize("margin", [1, 2, 5, 10, 20])
def test_the_integer_formula_agrees_with_the_real_one(population, confidence, margin):
    z = sampling.Z_MILLI[confidence] / 1000
    n0 = z * z * 0.25 / (margin / 100) ** 2
    real = n0 / (1 + (n0 - 1) / population)
    size = sampling.sample_size(population, confidence, margin)
    assert 1 <= size <= population
    assert size == min(population, max(1, math.ceil(real - 1e-9)))


def test_an_unknown_confidence_or_margin_is_refused_by_its_field():
    with pytest.raises(Refused) as refused:
        sampling.sample_size(100, 97, 5)
    assert "confidence" in refused.value.errors
    with pytest.raises(Refused) as refused:
        sampling.sample_size(100, 95, 0)
    assert "margin" in refused.value.errors


def test_a_percentage_is_rounded_up_and_never_zero():
    assert sampling.size_of_percent(7, 10) == 1
    assert sampling.size_of_percent(1000, 5) == 50
    assert sampling.size_of_percent(1001, 5) == 51
    assert sampling.size_of_percent(3, 100) == 3


def test_the_same_seed_draws_the_same_slips_whatever_the_order_they_are_read_in():
    ids = list(range(1000, 1500, 3))
    first = sampling.draw(123456789, ids, 20)
    assert sampling.draw(123456789, list(reversed(ids)), 20) == first
    assert len(set(first)) == 20 and set(first) <= set(ids)
    assert sampling.draw(123456790, ids, 20) != first
    assert sampling.digest(ids) == sampling.digest(list(reversed(ids))) != sampling.digest(ids[1:])


def test_a_known_seed_draws_known_slips():
    """Pinned: a Python upgrade that changed `random.sample` for int seeds would break repeating old draws."""
    assert sampling.draw(42, list(range(1, 101)), 5) == [82, 15, 4, 95, 36]
