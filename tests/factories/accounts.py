"""Factories for the admin area: users and seasons as the pages would make them."""

from __future__ import annotations

from sqlalchemy import select

from subsidy.policy import seasons
from subsidy.accounts import users
from subsidy.models import Category, Product, Season, Town, User


def town_user(session, username: str = "clerk1", town_code: str = "caiyuan", password: str = "Temp1234x",
              temporary: bool = True, display_name: str = "街道办事员") -> User:
    town = session.execute(select(Town).where(Town.code == town_code)).scalar_one()
    return users.create_user(session, None, username=username, role="town", password=password, town_id=town.id,
                             display_name=display_name, temporary=temporary)


def policy_form(**overrides) -> dict[str, str]:
    """A complete, valid season policy form as a clerk would type it."""
    form = {"name": "2027—2028采暖季", "code": "27", "starts_on": "2027-11-01", "ends_on": "2028-03-31",
            "notice_days": "7", "cap_coal": "3", "cap_stoves": "1", "stove_once_ever": "1",
            "fund_city": "50", "fund_district": "50"}
    for product in Product:
        for category in Category:
            form[f"rate_{product}_{category}"] = "400" if product == Product.STOVE else "300"
    form.update(overrides)
    return form


def season(session, **overrides) -> Season:
    return seasons.save_policy(session, None, seasons.policy_from_form(policy_form(**overrides)))
