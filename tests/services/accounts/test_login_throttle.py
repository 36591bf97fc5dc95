"""Failed logins as a service: counted per client address and per user at one address, exactly, across sessions
as several processes would run them; every refusal alike; and the lock that only many addresses can cause."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from sqlalchemy import select

from subsidy.accounts import auth, throttle, users
from subsidy.core import clock, db
from subsidy.models import AccountFailures, AddressFailures, AuditEntry, User

STRANGER, OFFICE = "198.51.100.7", "203.0.113.10"


def _login(engine, username: str, password: str, address: str) -> auth.LoginResult:
    """One login as a request makes it: its own write transaction, committed whatever the outcome."""
    session = db.new_session(engine, write=True)
    try:
        result = db.run_in_transaction(session, lambda: auth.authenticate(session, username, password,
                                                                          address=address))
        return result
    finally:
        session.close()


def _user(engine, username: str) -> User:
    with db.new_session(engine) as s:
        return s.execute(select(User).where(User.username == username)).scalar_one()


def _failures(engine, model, **key) -> int:
    with db.new_session(engine) as s:
        query = select(model.failures)
        for name, value in key.items():
            query = query.where(getattr(model, name) == value)
        return s.execute(query).scalar_one()


def _audited(engine, action: str) -> list[AuditEntry]:
    with db.new_session(engine) as s:
        return list(s.execute(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
                    .scalars())


def test_an_ipv6_client_is_counted_by_its_slash_64_and_a_mapped_ipv4_one_as_ipv4():
    assert throttle.address_key("2001:db8:1:2:aaaa::1") == throttle.address_key("2001:db8:1:2:bbbb::9") \
        == "2001:db8:1:2::/64"
    assert throttle.address_key("2001:db8:1:3::1") != throttle.address_key("2001:db8:1:2::1")
    assert throttle.address_key("::ffff:198.51.100.7") == "198.51.100.7"
    assert throttle.address_key(" 198.51.100.7 ") == "198.51.100.7"
    assert throttle.address_key("testclient") == "testclient"


def test_every_refusal_takes_one_password_check_and_says_the_same(engine, demo, monkeypatch):
    with db.transaction(engine) as s:
        s.execute(User.__table__.update().where(User.username == "coal-b").values(is_active=False))
    for _ in range(5):
        _login(engine, "caiyuan", "wrong-password1", OFFICE)
    checks: list[str] = []
    real_verify = auth.verify_password
    monkeypatch.setattr(auth, "verify_password", lambda digest, password: checks.append(digest) or
                        real_verify(digest, password))
    for username, password in [("nobody-here", "x"), ("dongguan", "wrong-password1"), ("caiyuan", "caiyuan-demo"),
                               ("coal-b", "coal-b-demo")]:
        checks.clear()
        result = _login(engine, username, password, OFFICE)
        assert (result.user, result.refusal, len(checks)) == (None, auth.LOGIN_REFUSED, 1), username


def test_the_fifth_wrong_password_locks_that_address_out_of_the_user_and_no_other(engine, demo, frozen):
    frozen(datetime(2026, 12, 31, 8, 0))
    for _ in range(5):
        assert _login(engine, "finance", "guess-2026", STRANGER).user is None
    assert _login(engine, "finance", "finance-demo", STRANGER).user is None
    assert _login(engine, "finance", "finance-demo", OFFICE).user is not None
    finance = _user(engine, "finance")
    assert finance.locked_until is None
    [locked] = _audited(engine, "user.locked")
    assert (locked.user_id, STRANGER in locked.after) == (finance.id, True)
    clock.advance(timedelta(minutes=16))
    assert _login(engine, "finance", "finance-demo", STRANGER).user is not None


def test_refusals_while_locked_do_not_lengthen_the_lock_but_count_against_the_address(engine, demo, frozen):
    frozen(datetime(2026, 12, 31, 8, 0))
    for _ in range(5):
        _login(engine, "finance", "guess-2026", STRANGER)
    for minute in range(1, 14):
        clock.freeze(datetime(2026, 12, 31, 8, minute))
        assert _login(engine, "finance", "guess-2026", STRANGER).user is None
    finance = _user(engine, "finance")
    assert _failures(engine, AccountFailures, user_id=finance.id, address=STRANGER) == 5
    assert _failures(engine, AddressFailures, address=STRANGER) == 18
    clock.freeze(datetime(2026, 12, 31, 8, 16))
    assert _login(engine, "finance", "finance-demo", STRANGER).user is not None


def test_an_address_over_its_limit_is_refused_for_every_user_and_the_block_is_audited(engine, demo, frozen):
    frozen(datetime(2026, 12, 31, 8, 0))
    for attempt in range(20):
        _login(engine, f"guess{attempt}", "guess-2026", STRANGER)
    assert [_login(engine, name, f"{name}-demo", STRANGER).user for name in ("drc", "finance", "dongguan")] == \
        [None, None, None]
    assert _login(engine, "drc", "drc-demo", OFFICE).user is not None
    [blocked] = _audited(engine, "login.address_blocked")
    assert blocked.entity_id == STRANGER and "guess" not in blocked.after  # the names tried are never kept
    assert _failures(engine, AddressFailures, address=STRANGER) == 20  # refused while blocked: not counted again
    clock.advance(timedelta(minutes=16))
    assert _login(engine, "drc", "drc-demo", STRANGER).user is not None


def test_failures_spread_over_windows_never_block_an_address(engine, demo, frozen):
    frozen(datetime(2026, 12, 31, 8, 0))
    for attempt in range(40):  # one every minute: never 20 in a quarter of an hour
        clock.freeze(datetime(2026, 12, 31, 8, 0) + timedelta(minutes=attempt))
        _login(engine, f"guess{attempt}", "guess-2026", STRANGER)
    assert _login(engine, "drc", "drc-demo", STRANGER).user is not None
    assert _audited(engine, "login.address_blocked") == []


def test_only_wrong_passwords_from_many_addresses_at_once_lock_a_user_for_everyone(engine, demo, frozen):
    frozen(datetime(2026, 12, 31, 8, 0))
    for host in range(1, 10):  # nine addresses, five guesses each: 45, under the limit of 50
        for _ in range(5):
            _login(engine, "finance", "guess-2026", f"198.51.100.{host}")
    assert _login(engine, "finance", "finance-demo", OFFICE).user is not None
    for _ in range(5):
        _login(engine, "finance", "guess-2026", "198.51.100.10")
    assert _user(engine, "finance").locked_until == datetime(2026, 12, 31, 8, 15, tzinfo=timezone.utc)
    assert _login(engine, "finance", "finance-demo", OFFICE).user is None
    assert len(_audited(engine, "user.locked")) == 10 + 1  # each address, then the user everywhere


def test_the_administrator_unlocking_a_user_lifts_the_locks_at_every_address(engine, demo):
    for _ in range(5):
        _login(engine, "drc", "guess-2026", STRANGER)
    drc = _user(engine, "drc")
    with db.new_session(engine) as s:
        assert drc.id in users.locks(s, [drc]) and not users.is_locked(drc)
    with db.transaction(engine) as s:
        users.unlock(s, None, drc.id)
    assert _login(engine, "drc", "drc-demo", STRANGER).user is not None


def test_parallel_wrong_logins_from_one_address_count_exactly(engine, demo):
    """Twelve requests at once from one address: seven wrong passwords for one user (serialised on the user's row:
    the lock starts at exactly the fifth, the two after it are refused uncounted) and five for other, unknown,
    names (not serialised on any user). Every one of them counts against the address. The race is PostgreSQL's;
    SQLite runs write transactions one at a time."""
    attempts = [("finance", "guess-2026")] * 7 + [(f"guess{n}", "guess-2026") for n in range(5)]
    barrier = threading.Barrier(len(attempts))
    outcomes: list[object] = []

    def attempt(username: str, password: str) -> None:
        session = db.new_session(engine, write=True)
        try:
            barrier.wait(timeout=20)
            outcomes.append(db.run_in_transaction(session, lambda: auth.authenticate(
                session, username, password, address=STRANGER)).user)
        except Exception as error:  # a lost update or a deadlock would show here
            outcomes.append(error)
        finally:
            session.close()

    threads = [threading.Thread(target=attempt, args=pair) for pair in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert outcomes == [None] * len(attempts)
    finance = _user(engine, "finance")
    assert _failures(engine, AddressFailures, address=STRANGER) == len(attempts)
    assert _failures(engine, AccountFailures, user_id=finance.id, address=STRANGER) == 5
    assert len(_audited(engine, "user.locked")) == 1
