"""The home page: what waits for this user."""

from __future__ import annotations

from litestar.params import FromQuery
from web.deps import CurrentUser, DbSession
from litestar import Controller, get
from litestar.response import Template

from subsidy.reports import dashboard
from subsidy.accounts import users
from subsidy.policy.seasons import active_season_or_none


class HomeController(Controller):
    path = "/"
    include_in_schema = False

    @get("/", sync_to_thread=True)
    def home(self, session: DbSession, user: CurrentUser, changed: FromQuery[int | None] = None) -> Template:
        return Template("home/index.html", context={
            "me": user, "scope_label": users.scope_label(session, user), "season": active_season_or_none(session),
            "waiting": dashboard.waiting_for(session, user), "changed": bool(changed),
        })


controllers = [HomeController]
