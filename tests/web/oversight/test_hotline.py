"""The season's hotline: set in the policy, printed on the household's copy of a slip (copy 2 only) and on the
village's public notice."""

from __future__ import annotations

import pytest

from subsidy.core import db
from subsidy.core.errors import Refused
from subsidy.policy import seasons
from tests.web.registry.test_registry_wording import publish
from tests.web.sales.test_slips import approved, issue


def _set_hotline(engine, hotline):
    with db.transaction(engine) as s:
        season = seasons.active_season(s)
        form = seasons.policy_form(s, season) | {"hotline": hotline}
        seasons.save_policy(s, None, seasons.policy_from_form(form), season)


def test_the_hotline_is_on_the_households_copy_only_and_on_the_notice(engine, client_as, api_as):
    _set_hotline(engine, "0538-96677")
    number = issue(api_as("coal-a"), approved(engine)).json()["number"]
    printed = client_as("coal-a").get(f"/slips/{number}/print").text
    assert printed.count("0538-96677") == 1
    copy2 = printed.split('data-copy="2"')[1].split('data-copy="3"')[0]
    assert "举报电话：0538-96677" in copy2
    notice = publish(engine, "dongguan")["dongguan"]
    assert "0538-96677" in client_as("dongguan").get(f"/registrations/notices/{notice}").text


def test_a_hotline_that_is_not_a_phone_number_is_refused_by_its_field(engine, demo):
    with db.transaction(engine) as s:
        form = seasons.policy_form(s, seasons.active_season(s)) | {"hotline": "call us"}
        with pytest.raises(Refused) as refused:
            seasons.policy_from_form(form)
        assert "hotline" in refused.value.errors
        assert seasons.policy_form(s, seasons.active_season(s))["hotline"] == "0538-12345"  # the demo's, unchanged
