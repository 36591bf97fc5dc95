"""Depots (保供点, seed 002) on a real database (SQLite and PostgreSQL): a supplier's supply points, the batch that
names the one it was taken in at, spot-check coverage per depot, and the slip that was sold from a batch a spot
check later failed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from subsidy.core import clock
from subsidy.core.errors import Conflict, NotAllowed, Refused
from subsidy.models import Town
from subsidy.policy import seasons
from subsidy.quality import coverage, inspections
from subsidy.sales import slips
from subsidy.supply import depots
from tests.factories import sales as f
from tests.factories.supply import add_batch, supplier
from tests.services.quality.test_spot_checks import BAD, check_input, sell


@pytest.fixture
def drc(session, demo):
    return f.user(session, "drc")


def _town(session, code="caiyuan") -> int:
    return session.execute(select(Town.id).where(Town.code == code)).scalar_one()


def depot(session, who="coal-a", name="东关保供点", **over):
    clerk = f.user(session, who)
    data = depots.DepotInput(**{"name": name, "address": "东关村1组1号", "town_id": _town(session), **over})
    return depots.create(session, clerk, clerk.supplier_id, data)


def test_a_supplier_adds_its_own_depot_and_the_bureau_any_suppliers_but_nobody_else(session, drc):
    own = depot(session)
    assert own.supplier_id == f.user(session, "coal-a").supplier_id
    other = supplier(session, "coal-b")
    assert depots.create(session, drc, other.id, depots.DepotInput("西关保供点", "西关社区2号", _town(session))).id
    with pytest.raises(NotAllowed):
        depots.create(session, f.user(session, "coal-a"), other.id,
                      depots.DepotInput("越权保供点", "某地", _town(session)))
    with pytest.raises(NotAllowed):
        depots.create(session, f.user(session, "caiyuan"), other.id, depots.DepotInput("镇保供点", "某地", _town(session)))
    assert [r.depot.name for r in depots.of_supplier(session, own.supplier_id)] == ["东关保供点"]


def test_a_depot_without_a_name_address_or_town_is_refused_by_field_and_a_second_of_one_name_is_a_conflict(
        session, drc):
    with pytest.raises(Refused) as refused:
        depot(session, name=" ", address="", town_id=None)
    assert set(refused.value.errors) == {"name", "address", "town_id"}
    depot(session)
    with pytest.raises(Conflict):
        depot(session)


def test_a_batch_names_one_of_its_suppliers_depots_and_another_suppliers_is_refused(session, drc):
    mine = depot(session)
    theirs = depot(session, "coal-b", name="西关保供点")
    assert add_batch(session, report_no="JC-DEPOT-1", depot_id=mine.id).depot_id == mine.id
    for wrong in (theirs.id, 10**9):
        with pytest.raises(Refused) as refused:
            add_batch(session, report_no="JC-DEPOT-2", depot_id=wrong)
        assert "depot_id" in refused.value.errors


def test_coverage_by_depot_counts_batches_checked_and_failed_and_keeps_batches_without_a_depot_apart(session, drc):
    season = seasons.active_season(session)
    east, west = depot(session), depot(session, name="西关保供点", town_id=_town(session, "daimiao"))
    long_ago = clock.today() - timedelta(days=20)
    checked = add_batch(session, report_no="JC-DC-1", depot_id=east.id, arrival_date=long_ago)
    add_batch(session, report_no="JC-DC-2", depot_id=east.id, arrival_date=long_ago)
    failed = add_batch(session, report_no="JC-DC-3", depot_id=west.id, arrival_date=long_ago)
    inspections.record(session, drc, checked.id, check_input(days_ago=5, report_no="CJ-DC-1"))
    inspections.record(session, drc, failed.id, check_input(BAD, days_ago=5, report_no="CJ-DC-2"))
    rows = {(r.supplier_name, r.depot_name): r for r in coverage.by_depot(session, season.id)}
    name = supplier(session, "coal-a").name
    e, w = rows[(name, "东关保供点")], rows[(name, "西关保供点")]
    assert (e.batches, e.checked, e.failed, e.coverage_bp, e.town) == (2, 1, 0, 5000, "财源街道")
    assert (w.batches, w.checked, w.failed, w.coverage_bp) == (1, 1, 1, 10000)
    rest = rows[(name, "未指定保供点")]
    assert rest.depot_id is None and rest.batches >= 1  # the demo's batches name no depot
    # The depot rows add up to the supplier's row.
    total = next(r for r in coverage.coverage(session, season.id) if r.supplier_name == name)
    mine = [r for r in rows.values() if r.supplier_name == name]
    assert sum(r.batches for r in mine) == total.batches and sum(r.checked for r in mine) == total.checked
    # Up to a day before the spot checks, nothing was sampled.
    early = coverage.by_depot(session, season.id, until=clock.today() - timedelta(days=10))
    assert all(r.checked == 0 for r in early if r.supplier_name == name)


def test_a_slip_sold_from_a_batch_that_later_fails_a_spot_check_names_the_batch_and_stays_valid(session, drc):
    clerk = f.user(session, "coal-a")
    batch = add_batch(session, report_no="JC-SLIP-FAIL", arrival_date=clock.today() - timedelta(days=3))
    slip = sell(session, clerk, batch_id=batch.id)
    assert slips.view(session, slip).failed_batches == []
    inspections.record(session, drc, batch.id, check_input(BAD, days_ago=1, report_no="CJ-SLIP-1"))
    shown = slips.view(session, slip)
    assert [b.id for b in shown.failed_batches] == [batch.id] and shown.slip.status == "issued"


def test_a_supplier_edits_its_depot_and_the_batches_taken_in_there_keep_naming_it(session, drc):
    mine = depot(session)
    batch = add_batch(session, report_no="JC-DEPOT-EDIT", depot_id=mine.id)
    edited = depots.update(session, f.user(session, "coal-a"), mine.id, depots.DepotInput(
        " 东关中心保供点 ", "东关村2组", _town(session, "daimiao")))
    assert (edited.name, edited.address, edited.town_id) == ("东关中心保供点", "东关村2组", _town(session, "daimiao"))
    session.refresh(batch)
    assert batch.depot_id == mine.id
    rows = {r.depot_name: r for r in coverage.by_depot(session, seasons.active_season(session).id)}
    assert rows["东关中心保供点"].town == "岱庙街道" and "东关保供点" not in rows


def test_a_depot_edit_is_refused_by_field_for_a_taken_name_and_for_anyone_but_its_supplier_or_the_bureau(
        session, drc):
    east, west = depot(session), depot(session, name="西关保供点")
    with pytest.raises(Refused) as refused:
        depots.update(session, drc, east.id, depots.DepotInput("", "", None))
    assert set(refused.value.errors) == {"name", "address", "town_id"}
    with pytest.raises(Conflict):
        depots.update(session, drc, east.id, depots.DepotInput("西关保供点", "某地", _town(session)))
    assert depots.update(session, drc, east.id, depots.DepotInput("东关保供点", "新地址", _town(session))).address \
        == "新地址"  # keeping its own name is no conflict
    for who in ("coal-b", "caiyuan", "finance"):
        with pytest.raises(NotAllowed):
            depots.update(session, f.user(session, who), west.id, depots.DepotInput("改名", "某地", _town(session)))
        with pytest.raises(NotAllowed):
            depots.set_active(session, f.user(session, who), west.id, False)
    session.refresh(west)
    assert (west.name, west.active) == ("西关保供点", True)


def test_a_deactivated_depot_is_offered_for_no_new_batch_stays_on_old_ones_and_can_be_reactivated(session, drc):
    clerk = f.user(session, "coal-a")
    mine = depot(session)
    old = add_batch(session, report_no="JC-DEPOT-OLD", depot_id=mine.id,
                    arrival_date=clock.today() - timedelta(days=5))
    assert depots.set_active(session, clerk, mine.id, False).active is False
    with pytest.raises(Refused) as refused:
        depots.set_active(session, clerk, mine.id, False)
    assert "停用" in str(refused.value)
    assert depots.of_supplier(session, clerk.supplier_id, active_only=True) == []
    assert [r.depot.name for r in depots.of_supplier(session, clerk.supplier_id)] == ["东关保供点"]
    with pytest.raises(Refused) as refused:
        add_batch(session, report_no="JC-DEPOT-NEW", depot_id=mine.id)
    assert "已停用" in refused.value.errors["depot_id"]
    session.refresh(old)
    assert old.depot_id == mine.id
    inspections.record(session, drc, old.id, check_input(days_ago=1, report_no="CJ-DEPOT-OLD"))
    row = next(r for r in coverage.by_depot(session, seasons.active_season(session).id)
               if r.depot_id == mine.id)
    assert (row.batches, row.checked) == (1, 1)  # coverage still counts the closed depot's batch and its check
    assert depots.set_active(session, drc, mine.id, True).active is True
    assert add_batch(session, report_no="JC-DEPOT-NEW", depot_id=mine.id).depot_id == mine.id
