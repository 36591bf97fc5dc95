"""The anomaly rule `callback_discrepancy` over callbacks recorded through the verification service (both backends):
a callback with a discrepancy is flagged with its slip and the case it opened, a matching callback is not, and
confirming the flag confirms that case instead of opening a second one, and both the flag's raising and its
confirmation are noted in that case's history."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from subsidy.core import audit_text, db
from subsidy.core.errors import Conflict
from subsidy.models import AnomalyFlag, AuditEntry, Case, CaseEvent, User
from subsidy.oversight import anomalies
from tests.services.settlement.test_settlement import do, fresh
from tests.services.verification.test_callbacks import (  # noqa: F401 - the same fixtures and helpers
    as_sold, draw, session, submitted,
)


def _run(engine):
    return do(engine, "drc", lambda s, me: anomalies.run(s, me))


def _flags(session) -> list[AnomalyFlag]:
    return list(fresh(session).execute(select(AnomalyFlag).where(AnomalyFlag.rule == "callback_discrepancy")
                                       .order_by(AnomalyFlag.id)).scalars())


def test_a_callback_with_a_discrepancy_is_flagged_with_its_case_and_a_matching_one_is_not(engine, session,
                                                                                          submitted):
    short, matching = draw(engine, submitted.id, size=2).numbers
    recorded = as_sold(engine, short, received_kg=100)
    as_sold(engine, matching)
    _run(engine)
    [flag] = _flags(session)
    slip_id = recorded.callback.slip_id
    assert anomalies.member_ids(flag) == [slip_id] and flag.member_kind == "slip" and flag.status == "open"
    assert flag.case_id == recorded.callback.case_id is not None
    assert flag.subject_key == f"callback:{recorded.callback.id}" and short in flag.subject
    assert anomalies.figures_of(flag) == "住户称实收100公斤（销售单400公斤）"
    _run(engine)
    assert [x.id for x in _flags(session)] == [flag.id]  # found again, not raised twice


def test_confirming_the_flag_confirms_the_callbacks_case_and_opens_no_other(engine, session, submitted):
    [number] = draw(engine, submitted.id, size=1).numbers
    recorded = as_sold(engine, number, received_kg=0, received_stoves=0)  # denies the purchase
    _run(engine)
    [flag] = _flags(session)
    cases_before = fresh(session).execute(select(func.count()).select_from(Case)).scalar_one()
    confirmed = do(engine, "drc", lambda s, me: anomalies.confirm(s, me, flag.id, comment="回访属实"))
    assert (confirmed.status, confirmed.case_id, confirmed.reason) == ("confirmed", recorded.callback.case_id,
                                                                      "回访属实")
    assert fresh(session).execute(select(func.count()).select_from(Case)).scalar_one() == cases_before
    with pytest.raises(Conflict):
        do(engine, "drc", lambda s, me: anomalies.confirm(s, me, flag.id))
    _run(engine)
    [again] = _flags(session)
    assert (again.status, again.case_id) == ("confirmed", recorded.callback.case_id)
    with db.new_session(engine) as s:
        drc = s.execute(select(User).where(User.username == "drc")).scalar_one()
        assert anomalies.view(s, drc, flag.id).case.id == recorded.callback.case_id


def _notes(session, case_id):
    return list(fresh(session).execute(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                              CaseEvent.action == "note")
                                       .order_by(CaseEvent.id)).scalars())


def test_the_callbacks_case_is_noted_when_its_flag_is_raised_and_again_when_the_flag_is_confirmed(engine, session,
                                                                                                  submitted):
    [number] = draw(engine, submitted.id, size=1).numbers
    recorded = as_sold(engine, number, received_kg=100)
    case_id = recorded.callback.case_id
    status = fresh(session).get(Case, case_id).status
    _run(engine)
    [flag] = _flags(session)
    [raised] = _notes(session, case_id)
    assert raised.username == "system" and (raised.from_status, raised.to_status) == (status, status)
    assert f"异常预警 #{flag.id}" in raised.comment and "关联本案件" in raised.comment
    _run(engine)
    assert len(_notes(session, case_id)) == 1  # found again: no second note
    do(engine, "drc", lambda s, me: anomalies.confirm(s, me, flag.id, comment="回访属实"))
    raised_note, confirmed = _notes(session, case_id)
    assert raised_note.id == raised.id and confirmed.username == "drc"
    assert f"异常预警 #{flag.id}" in confirmed.comment and "回访属实" in confirmed.comment
    assert fresh(session).get(Case, case_id).status == status  # a note moves nothing
    with db.new_session(engine) as s:
        entries = s.execute(select(AuditEntry).where(AuditEntry.action == "case.noted", AuditEntry.entity_id ==
                                                     str(case_id)).order_by(AuditEntry.id)).scalars().all()
        assert [e.username for e in entries] == ["system", "drc"]
        sentence = audit_text.describe(s, entries[-1:])[0].sentence
        assert "在投诉举报案件" in sentence and "回访属实" in sentence
