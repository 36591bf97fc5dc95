"""A month's summary is submitted after the month has ended, unless its town or the bureau allowed it earlier: an
explicit flag, who and when, set once (subsidy/settlement/summaries.py: awaits_month_end, allow_early)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from subsidy.core import clock
from subsidy.core.errors import Conflict, NotAllowed, Refused
from subsidy.models import Summary, SummaryEvent
from subsidy.rules import months
from subsidy.settlement import summaries
from tests.services.settlement.test_settlement import build, do, sell

# 15:59 UTC on the last day of November is 23:59 in China: still November there.
LAST_MINUTE_OF_NOVEMBER = datetime(2026, 11, 30, 15, 59, tzinfo=timezone.utc)
FIRST_MINUTE_OF_DECEMBER = datetime(2026, 11, 30, 16, 0, tzinfo=timezone.utc)


@pytest.fixture
def november(request, engine, session, frozen):
    """A draft summary of November for 财源街道, built on 20 November (the demo loaded that day)."""
    frozen(datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc))
    request.getfixturevalue("demo")
    sell(session, villages=("dongguan",), when=clock.today())
    (draft,) = build(engine, month="2026-11")
    return draft.id


def submit(engine, summary_id):
    return do(engine, "coal-a", lambda s, me: summaries.submit(s, clerk=me, summary_id=summary_id,
                                                               password="coal-a-demo"))


def test_a_month_has_ended_only_after_its_last_china_day():
    assert not months.month_ended("2026-11", datetime(2026, 11, 30).date())
    assert months.month_ended("2026-11", datetime(2026, 12, 1).date())
    assert not months.month_ended("2027-01", datetime(2026, 12, 1).date())


def test_a_summary_of_a_month_not_yet_ended_cannot_be_submitted(engine, november, frozen):
    frozen(LAST_MINUTE_OF_NOVEMBER)
    with pytest.raises(Refused, match="2026-11 尚未结束，12月1日起方可提交"):
        submit(engine, november)


def test_once_the_month_has_ended_in_china_it_can_be_submitted(engine, november, frozen):
    frozen(FIRST_MINUTE_OF_DECEMBER)
    assert submit(engine, november).status == "submitted"


@pytest.mark.parametrize("reviewer", ["caiyuan", "drc"])
def test_the_town_or_the_bureau_may_allow_an_early_submission(engine, session, november, frozen, reviewer):
    frozen(LAST_MINUTE_OF_NOVEMBER)
    allowed = do(engine, reviewer, lambda s, me: summaries.allow_early(s, reviewer=me, summary_id=november))
    assert allowed.early_allowed_by is not None and allowed.early_allowed_at == LAST_MINUTE_OF_NOVEMBER
    assert submit(engine, november).status == "submitted"
    actions = session.execute(select(SummaryEvent.action).where(SummaryEvent.summary_id == november)
                              .order_by(SummaryEvent.id)).scalars().all()
    assert actions == ["build", "allow_early", "submit"]


@pytest.mark.parametrize("who, error", [("coal-a", NotAllowed), ("finance", NotAllowed), ("auditor", NotAllowed)])
def test_nobody_else_may_allow_it(engine, november, frozen, who, error):
    frozen(LAST_MINUTE_OF_NOVEMBER)
    with pytest.raises(error):
        do(engine, who, lambda s, me: summaries.allow_early(s, reviewer=me, summary_id=november))


def test_another_town_cannot_even_find_the_summary(engine, november, frozen):
    from subsidy.core.errors import NotFound
    frozen(LAST_MINUTE_OF_NOVEMBER)
    with pytest.raises(NotFound):
        do(engine, "daimiao", lambda s, me: summaries.allow_early(s, reviewer=me, summary_id=november))


def test_there_is_nothing_to_allow_once_the_month_has_ended_or_the_summary_is_submitted(engine, session, november,
                                                                                        frozen):
    frozen(FIRST_MINUTE_OF_DECEMBER)
    with pytest.raises(Refused, match="已结束"):
        do(engine, "drc", lambda s, me: summaries.allow_early(s, reviewer=me, summary_id=november))
    submit(engine, november)
    with pytest.raises(Conflict):
        do(engine, "drc", lambda s, me: summaries.allow_early(s, reviewer=me, summary_id=november))
    assert session.get(Summary, november).early_allowed_at is None


def test_allowing_twice_changes_nothing_and_a_returned_summary_keeps_the_allowance(engine, session, november, frozen):
    frozen(LAST_MINUTE_OF_NOVEMBER)
    first = do(engine, "caiyuan", lambda s, me: summaries.allow_early(s, reviewer=me, summary_id=november))
    again = do(engine, "drc", lambda s, me: summaries.allow_early(s, reviewer=me, summary_id=november))
    assert (again.early_allowed_by, again.early_allowed_at) == (first.early_allowed_by, first.early_allowed_at)
    submit(engine, november)
    do(engine, "caiyuan", lambda s, me: summaries.return_summary(s, reviewer=me, summary_id=november, reason="补扫描件"))
    assert submit(engine, november).status == "submitted"
