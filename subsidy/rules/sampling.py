"""Drawing a callback sample (回访抽查) and sizing it: pure functions, no database.

The draw is `random.Random(seed).sample` over the population's ids in ascending order: the same seed and the same
ids give the same slips in the same order, on any machine and Python 3 version (the Mersenne Twister and `sample`'s
algorithm are specified for int seeds), which is what lets an auditor repeat a draw.

The size is the usual one for estimating a proportion from a finite population, at the worst case p = 0.5:
n0 = z² p (1 − p) / e², n = n0 / (1 + (n0 − 1) / N), rounded up. With z in thousandths (Z_MILLI) and the margin e in
whole percent, n0 = Z² / (400 m²), and n = Z² N / (Z² + 400 m² (N − 1)): integers throughout, one ceiling division.
"""

from __future__ import annotations

import hashlib
import random

from subsidy.core.errors import Refused

# Two-sided z values, in thousandths, per confidence level in percent.
Z_MILLI = {90: 1645, 95: 1960, 99: 2576}
MARGINS = range(1, 21)  # margin of error in whole percent


def draw(seed: int, population_ids: list[int], size: int) -> list[int]:
    """The ids a sample of `size` with `seed` draws from `population_ids` (any order: they are sorted first)."""
    return random.Random(seed).sample(sorted(population_ids), size)


def digest(population_ids: list[int]) -> str:
    """SHA-256 of the ids in ascending order, comma-separated: which population a draw was made from."""
    return hashlib.sha256(",".join(str(i) for i in sorted(population_ids)).encode()).hexdigest()


def sample_size(population: int, confidence: int, margin: int) -> int:
    """Slips to call back out of `population` for a `confidence` level (90, 95 or 99 %) and a margin of error of
    `margin` whole percent; at least 1 (of a non-empty population), at most the population."""
    if confidence not in Z_MILLI:
        raise Refused("置信水平应为 90%、95% 或 99%", field="confidence")
    if margin not in MARGINS:
        raise Refused("误差范围应为 1% 至 20% 之间的整数", field="margin")
    if population <= 0:
        return 0
    z2 = Z_MILLI[confidence] ** 2
    size = -(-z2 * population // (z2 + 400 * margin * margin * (population - 1)))
    return max(1, min(population, size))


def size_of_percent(population: int, percent: int) -> int:
    """`percent` of the population, rounded up: at least one slip."""
    return max(1, min(population, -(-population * percent // 100)))
