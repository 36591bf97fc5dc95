"""Approving a chosen set: registrations (the town's 登记审核) and summaries (the district's review queue). Both are
all or none: one item that can no longer be approved refuses the whole set, names it, and changes nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from subsidy.core import db
from subsidy.models import Registration
from tests.factories import sales as sf


@pytest.fixture
def noticed(engine, demo):
    """Four noticed registrations in 东关村 (财源街道; no notice row: nothing to wait for) and one in 营西村 (岱庙街道)."""
    with db.transaction(engine) as s:
        ids = [sf.household(s, "dongguan", status="noticed", head_name=f"勾选{i}")[1].id for i in range(4)]
        other = sf.household(s, "yingxi", status="noticed", head_name="别镇户")[1].id
    return ids, other


def statuses(engine, ids) -> list[str]:
    with db.transaction(engine) as s:
        rows = dict(s.execute(select(Registration.id, Registration.status).where(Registration.id.in_(ids))).all())
    return [rows[i] for i in ids]


def test_the_town_sees_a_box_for_each_noticed_registration(client_as, noticed):
    text = client_as("caiyuan").get("/registrations", params={"status": "noticed"}).text
    boxes = re.findall(r'<input type="checkbox" name="ids" value="(\d+)" form="approve-chosen"', text)
    assert set(noticed[0]) <= {int(b) for b in boxes}
    assert 'id="approve-chosen"' in text
    assert 'form="approve-chosen"' not in client_as("dongguan").get("/registrations").text  # the village cannot


def test_the_chosen_registrations_are_approved_and_the_others_untouched(client_as, engine, noticed):
    ids, _ = noticed
    response = client_as("caiyuan").submit("/registrations/approve-chosen", {"ids": [str(ids[0]), str(ids[2])]})
    assert response.status_code == 200 and "已审核通过2户" in response.text
    assert statuses(engine, ids) == ["approved", "noticed", "approved", "noticed"]


def test_one_stale_registration_refuses_the_whole_set_and_names_it(client_as, engine, noticed):
    ids, _ = noticed
    town = client_as("caiyuan")
    town.submit(f"/registrations/{ids[1]}/reject", {"reason": "重复登记"})  # decided meanwhile (another tab)
    response = town.submit("/registrations/approve-chosen", {"ids": [str(ids[0]), str(ids[1]), str(ids[2])]})
    assert response.status_code == 409
    assert "勾选1" in response.text and "已被驳回" in response.text and "均未审核通过" in response.text
    assert statuses(engine, ids) == ["noticed", "rejected", "noticed", "noticed"]  # nothing approved


def test_a_registration_of_another_town_in_the_set_refuses_it(client_as, engine, noticed):
    ids, other = noticed
    response = client_as("caiyuan").submit("/registrations/approve-chosen", {"ids": [str(ids[0]), str(other)]})
    assert response.status_code == 409 and "不在您的管辖范围内" in response.text
    assert statuses(engine, [ids[0], other]) == ["noticed", "noticed"]


def test_nothing_ticked_is_refused(client_as, noticed):
    response = client_as("caiyuan").submit("/registrations/approve-chosen", {})
    assert response.status_code == 422 and "请勾选" in response.text


def submitted_pair(client_as, engine) -> list[int]:
    """Two summaries of coal-a of this month (财源街道, 岱庙街道), allowed early and submitted: their ids."""
    from tests.factories.settlement import allow_early
    from tests.web.settlement.test_settlement_pages import month, sell, summary_ids

    sell(engine, villages=("dongguan", "yingxi"))
    coal_a = client_as("coal-a")
    built = summary_ids(coal_a.submit("/summaries/build", {"month": month()}).text)
    assert len(built) == 2
    allow_early(engine, *built)
    for summary_id in built:
        coal_a.submit(f"/summaries/{summary_id}/submit", {"password": "coal-a-demo"})
    return built


def test_a_stale_summary_in_a_chosen_set_refuses_the_set(client_as, engine):
    from subsidy.models import Summary
    from tests.web.settlement.test_settlement_pages import seen, seen_in_queue, summary_ids

    built = submitted_pair(client_as, engine)
    for town_name in ("caiyuan", "daimiao"):
        town = client_as(town_name)
        for summary_id in summary_ids(town.get("/summaries").text):
            town.submit(f"/summaries/{summary_id}/approve", {"comment": "同意", "seen": seen(town, summary_id),
                                                                  "confirmed": "1"})
    drc = client_as("drc")
    first, second = built
    shown = {i: seen_in_queue(drc, i) for i in built}
    count, _, rest = shown[second].partition(":")
    stale = {**shown, second: f"{int(count) + 1}:{rest}"}  # the list showed other figures for one (a slip since)
    response = drc.submit("/summaries/approve-many", {"ids": [str(first), str(second)],
                                                      **{f"seen-{i}": v for i, v in stale.items()}, "confirmed": "1"})
    assert response.status_code == 409
    with db.transaction(engine) as s:
        assert {s.get(Summary, i).status for i in built} == {"town_approved"}  # neither moved on
    response = drc.submit("/summaries/approve-many", {"ids": [str(first)], f"seen-{first}": shown[first],
                                                      "confirmed": "1"})
    assert "已审核通过1张" in response.text
    with db.transaction(engine) as s:
        assert [s.get(Summary, i).status for i in built] == ["drc_approved", "town_approved"]


@pytest.fixture
def one_ready_one_not(client_as, engine):
    """Two summaries of coal-a submitted: 财源街道's approved by its town (the bureau's turn), 岱庙街道's not yet
    (still the town's turn). Their ids (ready, not ready)."""
    from tests.web.settlement.test_settlement_pages import seen, summary_ids

    built = submitted_pair(client_as, engine)
    town = client_as("caiyuan")
    (ready,) = [i for i in summary_ids(town.get("/summaries").text) if i in built]
    town.submit(f"/summaries/{ready}/approve", {"comment": "同意", "seen": seen(town, ready), "confirmed": "1"})
    (not_ready,) = [i for i in built if i != ready]
    return ready, not_ready


def figures_of(engine, *ids) -> dict[str, str]:
    """The `seen-ID` fields the queue's form would carry for these summaries (their figures as they stand)."""
    from subsidy.models import Summary
    from subsidy.settlement.summaries import Figures

    with db.transaction(engine) as s:
        return {f"seen-{i}": ":".join(str(v) for v in Figures.of(s.get(Summary, i)).as_dict().values()) for i in ids}


def summary_statuses(engine, ids) -> list[str]:
    from subsidy.models import Summary

    with db.transaction(engine) as s:
        return [s.get(Summary, i).status for i in ids]


def test_a_chosen_set_with_one_summary_not_at_the_bureaus_step_approves_none_and_names_it(client_as, engine,
                                                                                       one_ready_one_not):
    ready, not_ready = one_ready_one_not
    drc = client_as("drc")
    response = drc.submit("/summaries/approve-many", {"ids": [str(ready), str(not_ready)], "confirmed": "1",
                                                      **figures_of(engine, ready, not_ready)})
    assert response.status_code == 409
    refused = re.search(r"<div[^>]*data-set-refused[^>]*>(.*?)</div>", response.text, re.S).group(1)
    assert f"HZ-{not_ready:06d}" in refused and "不是您审核的环节" in refused
    assert f"HZ-{ready:06d}" not in refused
    assert summary_statuses(engine, [ready, not_ready]) == ["town_approved", "submitted"]  # none moved
    response = drc.submit("/summaries/approve-many", {"ids": [str(ready)], "confirmed": "1",
                                                      **figures_of(engine, ready)})
    assert "已审核通过1张" in response.text
    assert summary_statuses(engine, [ready, not_ready]) == ["drc_approved", "submitted"]


def test_the_confirmation_of_such_a_set_names_the_one_left_out_and_offers_the_others(client_as, one_ready_one_not):
    ready, not_ready = one_ready_one_not
    text = client_as("drc").submit("/summaries/approve-many", {"ids": [str(ready), str(not_ready)]}).text
    left_out = re.search(r"<div[^>]*data-refused[^>]*>(.*?)</div>", text, re.S).group(1)
    assert f"HZ-{not_ready:06d}" in left_out
    assert re.findall(r'<input type="hidden" name="ids" value="(\d+)"', text) == [str(ready)]


def test_the_api_approves_a_chosen_set_all_or_none_and_its_409_names_each_refused_summary(api_as, engine,
                                                                                         one_ready_one_not):
    ready, not_ready = one_ready_one_not
    drc = api_as("drc")
    response = drc.post("/api/v1/summaries/approve", json={"ids": [ready, not_ready, 999999]})
    assert response.status_code == 409, response.text
    body = response.json()
    assert [r["id"] for r in body["refused"]] == [not_ready, 999999]
    assert all(r["reason"] and r["number"] == f"HZ-{r['id']:06d}" for r in body["refused"])
    assert "ids" in body["errors"]
    assert summary_statuses(engine, [ready, not_ready]) == ["town_approved", "submitted"]
    response = drc.post("/api/v1/summaries/approve", json={"ids": [ready], "comment": "同意"})
    assert response.status_code == 200, response.text
    assert [s["id"] for s in response.json()] == [ready]
    assert summary_statuses(engine, [ready, not_ready]) == ["drc_approved", "submitted"]
    assert api_as("coal-a").post("/api/v1/summaries/approve", json={"ids": [not_ready]}).status_code == 403
    assert drc.post("/api/v1/summaries/approve", json={"ids": []}).status_code == 422
