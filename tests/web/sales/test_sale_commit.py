"""Where a sale commits (web/deps.py, `end_write`): in its handler's worker thread, not on the event loop, so that its
supplier's counter and batch locks are released without waiting for the loop; and a sale still commits exactly once,
and a refused one commits nothing."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from subsidy.core import db
from subsidy.models import Slip
from tests.web.sales.test_slips import approved


def _on_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture
def commits(engine):
    """For each COMMIT the app's engine sends: whether it ran on an event loop."""
    seen: list[bool] = []

    def commit(conn):
        seen.append(_on_loop())

    sa.event.listen(engine, "commit", commit)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "commit", commit)


@pytest.mark.parametrize("door", [False, True], ids=["sale", "sale at the door"])
def test_a_sale_commits_once_in_its_worker_thread(api_as, engine, commits, door):
    rid, id_number = approved(engine)
    api = api_as("coal-a")
    sale = {"registration_id": rid, "id_number": id_number, "lines": [{"product": "briquette", "quantity": 1000}],
            **({"delivery": {"receiver": "王小红"}} if door else {})}
    commits.clear()  # the token's lookup and anything before it
    answer = api.post("/api/v1/slips", json=sale, headers={"Idempotency-Key": f"commit-{door}"})
    assert answer.status_code == 201, answer.text
    # The caller's lookup is an autocommit read (no COMMIT on PostgreSQL, one on SQLite, in its own thread); the
    # sale's own COMMIT is the one that matters: off the loop, and the only one the loop sends.
    assert commits and not any(commits), commits
    with db.new_session(engine) as s:
        assert s.execute(select(func.count()).select_from(Slip).where(Slip.registration_id == rid)).scalar() == 1
    # A retry replays the answer: nothing more is written, and its end is still off the loop.
    commits.clear()
    again = api.post("/api/v1/slips", json=sale, headers={"Idempotency-Key": f"commit-{door}"})
    assert again.status_code == 201 and again.json()["number"] == answer.json()["number"]
    assert not any(commits), commits


def test_a_refused_sale_writes_nothing_and_other_writes_still_commit_on_the_loop(api_as, engine, commits):
    rid, id_number = approved(engine)
    api = api_as("coal-a")
    commits.clear()
    refused = api.post("/api/v1/slips", json={"registration_id": rid, "id_number": id_number,
                                              "lines": [{"product": "briquette", "quantity": 999_000}]})
    assert refused.status_code == 422
    with db.new_session(engine) as s:
        assert s.execute(select(func.count()).select_from(Slip).where(Slip.registration_id == rid)).scalar() == 0
    # The control: a write whose handler leaves its end to provide_session commits there, on the loop (so the
    # first test would see it if the sale stopped ending its own transaction).
    commits.clear()
    assert api.post("/api/v1/auth/logout").status_code == 204
    assert commits and commits[-1] is True, commits
