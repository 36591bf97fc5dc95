"""Property tests for the sums of a household's slips: however a season's coal is split into slips and lines, the
per-line tiered subsidies (each rounded once, half up) add up to the exact tiered subsidy within half a fen per line.
(The planner's own pricing, capped at each line's amount, is tested on a real database in
tests/services/sales/test_slip_subsidy_properties.py.)"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from subsidy.rules.money import tiered_coal_subsidy_fen

tiers_st = st.lists(st.tuples(st.integers(1, 5000), st.integers(0, 100_000)), min_size=0, max_size=3).map(
    lambda extra: sorted({0: None, **{k: None for k, _ in extra}}.keys())).flatmap(
    lambda starts: st.tuples(st.just(starts), st.lists(st.integers(0, 60_000), min_size=len(starts),
                                                       max_size=len(starts)))).map(lambda p: list(zip(*p)))


@settings(max_examples=300, deadline=None)
@given(tiers=tiers_st, parts=st.lists(st.integers(1, 1500), min_size=1, max_size=8))
def test_line_subsidies_add_up_to_the_whole_within_half_a_fen_per_line(tiers, parts):
    already, total_lines = 0, 0
    for kg in parts:
        total_lines += tiered_coal_subsidy_fen(already, kg, tiers)
        already += kg
    exact_milli = sum(  # the exact subsidy in thousandths of a fen
        max(0, min(already, (tiers[i + 1][0] if i + 1 < len(tiers) else already)) - start) * rate
        for i, (start, rate) in enumerate(tiers))
    assert abs(total_lines * 1000 - exact_milli) <= 500 * len(parts)
