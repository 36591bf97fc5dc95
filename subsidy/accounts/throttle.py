"""Failed logins, counted in the database: every process serving one PostgreSQL sees the same counts, and nothing is
kept in a process's memory.

The rule. A login is refused (always with the one message of `auth.LOGIN_REFUSED`) while

1. its client address is blocked: `address_max_failed_logins` failures from one address within
   `failure_window_minutes`, whatever user names they tried (known or not), block that address for every user for
   `address_block_minutes`. This does the heavy lifting against guessing from one place;
2. the user is locked out *at that address*: `max_failed_logins` wrong passwords for one user from one address
   within the window lock that address out of that user for `lockout_minutes`. A stranger guessing the finance
   officer's password at month end locks out the stranger; the officer still logs in from the office;
3. the user is locked for every address: `account_max_failed_logins` wrong passwords for one user within the window,
   summed over all addresses. One address adds at most `max_failed_logins` to that sum before rule 2 stops it, so
   this takes many addresses at once (ten with the defaults): a distributed guess, which it stops, at the price that
   such an attack can lock the user out for `lockout_minutes` (the administrator can lift it earlier).

A window starts at its counter's first failure and a new one at the first failure after it ends. A refusal is not
counted again by the rule that refused it (a lock does not grow while it holds), but every refusal except an address
block counts against the address: unknown and disabled users, locked users and wrong passwords alike. A successful
login clears that user's counter at that address, never the address's own counter (else an attacker could log in
to an account of their own between guesses).

Exactness. Every failure is counted by one INSERT ... ON CONFLICT DO UPDATE ... RETURNING, atomic on both databases,
so N concurrent failures count N. A user's counters are moreover serialised by the row lock `auth.authenticate`
holds on the user, so a lock starts at exactly the limit. An address's counter is read before the password check and
counted after it, so that its row lock lasts from the count to the commit, not across the password checks of every
user behind one office's address: a block starts at exactly the limit, but requests already past the check when it
starts still have their password checked (and counted).

Addresses. An IPv6 client is counted by its /64 network, one subscriber's allocation (else one machine would have
2^64 addresses to rotate through); an IPv4-mapped IPv6 address as its IPv4 address. The user names tried are never
stored (a clerk may type an ID number into the field): failures for unknown names count against the address only.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, literal, or_, select, update
from sqlalchemy.orm import Session

from subsidy.core import audit
from subsidy.core.settings import get_settings
from subsidy.models import AccountFailures, AddressFailures, User

_address_t, _account_t = AddressFailures.__table__, AccountFailures.__table__
MAX_ADDRESS_LENGTH = 45  # the longest IPv6 text form; other peer names (a Unix socket, a test client) are cut


def address_key(host: str | None) -> str:
    """The key a client address is counted under."""
    host = (host or "").strip()
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host[:MAX_ADDRESS_LENGTH]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def address_blocked(session: Session, address: str, now: datetime) -> bool:
    until = session.execute(select(AddressFailures.blocked_until).where(AddressFailures.address == address)
                            ).scalar_one_or_none()
    return until is not None and until > now


def user_locked_out(session: Session, user: User, address: str, now: datetime) -> bool:
    """Locked for every address, or at this one."""
    if user.locked_until is not None and user.locked_until > now:
        return True
    until = session.execute(select(AccountFailures.blocked_until).where(
        AccountFailures.user_id == user.id, AccountFailures.address == address)).scalar_one_or_none()
    return until is not None and until > now


def count_address_failure(session: Session, address: str, now: datetime) -> None:
    settings = get_settings()
    failures = _count(session, _address_t, {"address": address}, now)
    if failures >= settings.address_max_failed_logins:
        until = now + timedelta(minutes=settings.address_block_minutes)
        session.execute(update(_address_t).where(_address_t.c.address == address).values(blocked_until=until))
        audit.record(session, None, "login.address_blocked", "address_failures", entity_id=address,
                     after={"address": address, "blocked_until": until})


def count_wrong_password(session: Session, user: User, address: str, now: datetime) -> None:
    """A wrong password for `user` (whose row the caller holds locked) from `address`."""
    settings = get_settings()
    failures = _count(session, _account_t, {"user_id": user.id, "address": address}, now)
    if failures >= settings.max_failed_logins:
        until = now + timedelta(minutes=settings.lockout_minutes)
        session.execute(update(_account_t).where(_account_t.c.user_id == user.id, _account_t.c.address == address)
                        .values(blocked_until=until))
        audit.record(session, user, "user.locked", user, after={"locked_until": until, "address": address})
    everywhere = session.execute(select(func.coalesce(func.sum(_account_t.c.failures), 0)).where(
        _account_t.c.user_id == user.id, _account_t.c.window_start > _window_cutoff(now))).scalar_one()
    if everywhere >= settings.account_max_failed_logins:
        user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
        audit.record(session, user, "user.locked", user, after={"locked_until": user.locked_until})


def forget_at(session: Session, user: User, address: str) -> None:
    """A successful login clears the user's failures from that address."""
    session.execute(delete(_account_t).where(_account_t.c.user_id == user.id, _account_t.c.address == address))


def forget_user(session: Session, user_id: int) -> None:
    """Lift every lock of a user (the administrator unlocks or resets the password)."""
    session.execute(delete(_account_t).where(_account_t.c.user_id == user_id))


def locked_somewhere(now: datetime):
    """SQL: the user is locked for every address or at some address."""
    return or_(User.locked_until > now, select(_account_t.c.user_id).where(
        _account_t.c.user_id == User.id, _account_t.c.blocked_until > now).exists())


def locks(session: Session, users: list[User], now: datetime) -> dict[int, datetime]:
    """When each locked user of `users` may log in again from everywhere (the latest of their locks)."""
    found = {u.id: u.locked_until for u in users if u.locked_until is not None and u.locked_until > now}
    ids = [u.id for u in users]
    if ids:
        for user_id, until in session.execute(
                select(_account_t.c.user_id, func.max(_account_t.c.blocked_until))
                .where(_account_t.c.user_id.in_(ids), _account_t.c.blocked_until > now)
                .group_by(_account_t.c.user_id)):
            found[user_id] = max(until, found.get(user_id, until))
    return found


def _window_cutoff(now: datetime) -> datetime:
    return now - timedelta(minutes=get_settings().failure_window_minutes)


def _count(session: Session, table, key: dict, now: datetime) -> int:
    """One more failure on the counter at `key`, in a new window if its last one has ended; the new count."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    ended = table.c.window_start <= _window_cutoff(now)
    statement = insert(table).values(**key, failures=1, window_start=now).on_conflict_do_update(
        index_elements=list(key),
        # Both expressions read the row as it was before this update (SQL's rule for SET on both databases).
        set_={"failures": case((ended, 1), else_=table.c.failures + 1),
              "window_start": case((ended, literal(now, table.c.window_start.type)), else_=table.c.window_start)},
    ).returning(table.c.failures)
    return connection.execute(statement).scalar_one()
