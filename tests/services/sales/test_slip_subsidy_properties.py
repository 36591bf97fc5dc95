"""Property test of the planner itself (`issuing.plan` on a real database): whatever the season's tiers, the contract
price, what the household bought before and how the coal is split into lines, each line's subsidy is the tiered
subsidy of its kilograms on the household's cumulative purchases (rounded once, half up), never more than the line's
amount, and the household pays the amount less the subsidy."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

from subsidy.models import Contract, Household, Registration, Season, SubsidyRate, Village
from subsidy.sales import issuing
from tests.factories import sales as f

# Tiers as the policy page stores them: the first from 0 kg, strictly increasing, rates in fen per ton.
tiers_st = st.sets(st.integers(1, 5000), max_size=3).map(lambda starts: sorted({0, *starts})).flatmap(
    lambda starts: st.lists(st.integers(0, 60_000), min_size=len(starts), max_size=len(starts))
    .map(lambda rates: list(zip(starts, rates))))


def _exact_milli_fen(tiers: list[tuple[int, int]], start_kg: int, end_kg: int) -> int:
    """The exact subsidy of the kilograms [start_kg, end_kg) in thousandths of a fen: each band's kg times its rate."""
    total = 0
    for i, (band_from, rate) in enumerate(tiers):
        band_to = tiers[i + 1][0] if i + 1 < len(tiers) else end_kg
        total += max(0, min(end_kg, band_to) - max(start_kg, band_from)) * rate
    return total


def _half_up(milli: int) -> int:
    return (2 * milli + 1000) // 2000


def test_the_planned_subsidy_is_tiered_per_line_and_never_more_than_the_amount(session, demo):
    household, registration = f.household(session, "dongguan")
    f.batch(session, quantity_kg=1_000_000)  # stock for every generated line
    session.commit()
    clerk = f.user(session, "coal-a")
    season_id, town_id = registration.season_id, session.get(Village, household.village_id).town_id
    category, card = session.get(Household, household.id).category, household.id_number

    @settings(max_examples=40, deadline=None, database=None)
    @given(tiers=tiers_st, price=st.integers(1, 300_000), sold_before=st.integers(0, 6000),
           quantities=st.lists(st.integers(1, 1500), min_size=1, max_size=4))
    def plan_is_priced_by_the_rules(tiers, price, sold_before, quantities):
        savepoint = session.begin_nested()  # each example's terms are undone after it
        try:
            session.execute(delete(SubsidyRate).where(SubsidyRate.season_id == season_id,
                                                      SubsidyRate.product == "briquette",
                                                      SubsidyRate.category == category))
            session.add_all(SubsidyRate(season_id=season_id, product="briquette", category=category, from_kg=start,
                                        rate_fen=rate) for start, rate in tiers)
            session.execute(update(Contract).where(
                Contract.supplier_id == clerk.supplier_id, Contract.town_id == town_id,
                Contract.season_id == season_id, Contract.product == "briquette").values(price_fen=price))
            session.execute(update(Season).where(Season.id == season_id).values(cap_coal_kg=100_000))
            session.execute(update(Registration).where(Registration.id == registration.id)
                            .values(coal_kg=100_000, sold_coal_kg=sold_before))
            session.flush()
            plan = issuing.plan(session, clerk=clerk, registration_id=registration.id, id_number=card,
                                lines=[issuing.LineIn("briquette", kg) for kg in quantities])
        finally:
            savepoint.rollback()

        before, uncapped_total = sold_before, 0
        for line, kg in zip(plan.lines, quantities, strict=True):
            assert abs(line.amount_fen * 1000 - kg * price) <= 500  # the amount, rounded once
            tiered = _half_up(_exact_milli_fen(tiers, before, before + kg))
            assert line.subsidy_fen == min(line.amount_fen, tiered)
            assert 0 <= line.subsidy_fen <= line.amount_fen
            uncapped_total += tiered
            before += kg
        # Rounding each line once loses or gains at most half a fen per line against the whole purchase's exact sum.
        assert abs(uncapped_total * 1000 - _exact_milli_fen(tiers, sold_before, before)) <= 500 * len(quantities)
        assert plan.amount_fen == sum(line.amount_fen for line in plan.lines)
        assert plan.subsidy_fen == sum(line.subsidy_fen for line in plan.lines) <= plan.amount_fen
        assert plan.household_pays_fen == plan.amount_fen - plan.subsidy_fen >= 0

    plan_is_priced_by_the_rules()
    # The examples left nothing behind: the registration is as the factory made it.
    assert session.execute(select(Registration.sold_coal_kg).where(Registration.id == registration.id)
                           ).scalar_one() == 0
