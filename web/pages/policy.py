"""Seasons and their policy (rates, caps, fund shares), activation, and town targets. The DRC edits; finance,
the auditor and the administrator read."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from subsidy.oversight import cases
from subsidy.policy import regions, seasons
from subsidy.reports import acceptance
from subsidy.models import CASE_CATEGORY_LABELS, CATEGORY_LABELS, PRODUCT_LABELS, Category, Product, Role, Season
from subsidy.core.scope import get_or_404
from web.deps import CurrentUser, DbSession
from web.forms import FORM, REFUSED_OR_DUPLICATE, discard, refused
from web.guards import SEASON_READERS, requires

READERS = requires(*SEASON_READERS)
EDITOR = requires(Role.DRC)
NOTICES = {"saved": "采暖季政策已保存。", "activated": "已设为当前采暖季。", "targets": "各街道/镇任务量已保存。",
           "deadlines": "投诉举报案件办理期限已保存。"}


def _form(data: dict) -> dict:
    return {k: str(v) for k, v in data.items() if k != "_csrf_token"}


def _deadline_form(session, season: Season | None) -> dict:
    """The case deadline fields of the policy page (`deadline_<category>`), the season's days."""
    if season is None:
        return {}
    return {f"deadline_{c}": str(d) for c, d in cases.deadline_days(session, season.id).items()}


def _policy_context(user, season: Season | None) -> dict:
    return {"season": season, "case_categories": list(CASE_CATEGORY_LABELS.items()), "products": [(str(p), PRODUCT_LABELS[p]) for p in Product],
            "categories": [(str(c), CATEGORY_LABELS[c]) for c in Category], "funds": list(seasons.FUND_NAMES.items()),
            "can_edit": user.role == Role.DRC}


class SeasonsController(Controller):
    path = "/seasons"
    include_in_schema = False
    guards = [READERS]

    @get("/", sync_to_thread=True)
    def index(self, session: DbSession, user: CurrentUser, done: FromQuery[str | None] = None) -> Template:
        return Template("seasons/index.html", context={"seasons": seasons.list_seasons(session),
                                                       "can_edit": user.role == Role.DRC,
                                                       "notice": NOTICES.get(done or "")})

    @get("/new", sync_to_thread=True, guards=[EDITOR])
    def new(self, session: DbSession, user: CurrentUser) -> Template:
        return Template("seasons/policy.html", context={"form": seasons.policy_form(session, None), "errors": {},
                                                        **_policy_context(user, None)})

    @post("/new", sync_to_thread=True, guards=[EDITOR])
    def create(self, session: DbSession, user: CurrentUser, data: Annotated[dict, FORM]) -> Template | Redirect:
        form = _form(data)
        try:
            season = seasons.save_policy_form(session, user, form)
        except REFUSED_OR_DUPLICATE as error:
            discard(session)
            return refused("seasons/policy.html", error, form, **_policy_context(user, None))
        return Redirect(f"/seasons/{season.id}?done=saved", status_code=303)

    @get("/{season_id:int}", sync_to_thread=True)
    def show(self, session: DbSession, user: CurrentUser, season_id: FromPath[int], done: FromQuery[str | None] = None) -> Template:
        season = get_or_404(session, Season, season_id)
        return Template("seasons/policy.html", context={
            "form": {**seasons.policy_form(session, season), **_deadline_form(session, season)}, "errors": {},
            "notice": NOTICES.get(done or ""), **_policy_context(user, season)})

    @post("/{season_id:int}", sync_to_thread=True, guards=[EDITOR])
    def update(self, session: DbSession, user: CurrentUser, season_id: FromPath[int],
               data: Annotated[dict, FORM]) -> Template | Redirect:
        season = get_or_404(session, Season, season_id)
        form = _form(data)
        try:
            seasons.save_policy_form(session, user, form, season_id)
        except REFUSED_OR_DUPLICATE as error:
            discard(session)
            return refused("seasons/policy.html", error, {**form, **_deadline_form(session, season)},
                           **_policy_context(user, season))
        return Redirect(f"/seasons/{season_id}?done=saved", status_code=303)

    @post("/{season_id:int}/case-deadlines", sync_to_thread=True, guards=[EDITOR])
    def save_deadlines(self, session: DbSession, user: CurrentUser, season_id: FromPath[int],
                       data: Annotated[dict, FORM]) -> Template | Redirect:
        """The days to handle a case, per category (the policy page's own form beside the policy's)."""
        season = get_or_404(session, Season, season_id)
        form = {k: v for k, v in _form(data).items() if k.startswith("deadline_")}
        try:
            cases.save_deadlines(session, user, season_id, {k.removeprefix("deadline_"): v for k, v in form.items()})
        except REFUSED_OR_DUPLICATE as error:
            discard(session)
            return refused("seasons/policy.html", error, {**seasons.policy_form(session, season), **form},
                           **_policy_context(user, season))
        return Redirect(f"/seasons/{season_id}?done=deadlines#case-deadlines", status_code=303)

    @post("/{season_id:int}/activate", sync_to_thread=True, guards=[EDITOR])
    def activate(self, session: DbSession, user: CurrentUser, season_id: FromPath[int]) -> Redirect:
        seasons.activate_by_id(session, user, season_id)
        return Redirect("/seasons?done=activated", status_code=303)

    def _targets_context(self, session, user, season: Season, **extra) -> dict:
        targets = seasons.targets_of(session, season.id)
        form = {}
        for town_id, target in targets.items():
            form[f"coal_{town_id}"] = seasons._tons_text(target.coal_kg)
            form[f"stoves_{town_id}"] = str(target.stoves)
        context = {"season": season, "towns": regions.towns(session), "form": form, "errors": {},
                   "targets": targets, "can_edit": user.role == Role.DRC}
        context.update(extra)
        return context

    @get("/{season_id:int}/targets", sync_to_thread=True)
    def targets(self, session: DbSession, user: CurrentUser, season_id: FromPath[int], done: FromQuery[str | None] = None) -> Template:
        season = get_or_404(session, Season, season_id)
        return Template("seasons/targets.html", context=self._targets_context(
            session, user, season, notice=NOTICES.get(done or "")))

    @post("/{season_id:int}/targets", sync_to_thread=True, guards=[EDITOR])
    def save_targets(self, session: DbSession, user: CurrentUser, season_id: FromPath[int],
                     data: Annotated[dict, FORM]) -> Template | Redirect:
        season = get_or_404(session, Season, season_id)
        form = _form(data)
        try:
            seasons.set_targets(session, user, season_id, form)
        except REFUSED_OR_DUPLICATE as error:
            discard(session)
            return Template("seasons/targets.html", status_code=422, context=self._targets_context(
                session, user, season, form=form, errors=error.errors, error=error))
        return Redirect(f"/seasons/{season_id}/targets?done=targets", status_code=303)

    @post("/{season_id:int}/close", sync_to_thread=True, guards=[EDITOR])
    def close(self, session: DbSession, user: CurrentUser, season_id: FromPath[int]) -> Redirect:
        acceptance.close_season(session, user, season_id)
        return Redirect(f"/reports/acceptance?season_id={season_id}", status_code=303)


controllers = [SeasonsController]
