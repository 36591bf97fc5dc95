"""Pages of callback samples (回访抽查): a summary's draw page with the sample size calculator, and the sample with
a form per household still to call back. Reached from the summary's page (no menu item of its own)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from subsidy.core.errors import Refused
from subsidy.models import UNREACHED_AFTER_TRIES, Role, User
from subsidy.rules import sampling
from subsidy.rules.measures import parse_yuan
from subsidy.settlement import summaries
from subsidy.verification import callbacks
from web.deps import CurrentUser, DbSession
from web.forms import FORM, discard, is_number
from web import lists
from web.guards import REVIEWERS, requires
from web.lists import ListArgs

CALLERS = (Role.TOWN, Role.DRC)
READERS = REVIEWERS + (Role.AUDITOR,)


def _context(session: Session, user: User, summary_id: int, args: ListArgs | None = None, *,
             confidence: str | None = None, margin: str | None = None) -> dict[str, Any]:
    args = args or ListArgs.read(per_page=callbacks.PAGE)
    view = callbacks.sample_page(session, summary_id, page=args.page, per_page=args.per_page, after=args.after,
                                 before=args.before)
    towns, suppliers = summaries.names(session)
    context = {"view": view, "summary": view.summary, "town": towns.get(view.summary.town_id, ""),
               "supplier": suppliers[view.summary.supplier_id], "pg": view.rows,
               "params": lists.params({}, None, args),
               "can_call": user.role in CALLERS, "confidences": sorted(sampling.Z_MILLI),
               "tries": UNREACHED_AFTER_TRIES,
               "calc": {"confidence": confidence or "95", "margin": margin or "5"}, "form": {}}
    if confidence and margin:
        try:
            context["suggested"] = sampling.sample_size(
                view.summary.slip_count, int(confidence) if is_number(confidence) else 0,
                int(margin) if is_number(margin) else 0)
            context["form"] = {"size": context["suggested"]}
        except Refused as error:
            context["calc_error"] = error
    return context


def _back(form: dict) -> ListArgs:
    """The page of the sample a callback form was sent from (its number and size), to show again."""
    try:
        return ListArgs.read(page=form.get("page"), per_page=form.get("per_page") or callbacks.PAGE)
    except Refused:
        return ListArgs.read(per_page=callbacks.PAGE)


def _go(url: str) -> Redirect:
    return Redirect(quote(url, safe="/?=&-#"), status_code=303)


class SamplePages(Controller):
    path = "/summaries"
    include_in_schema = False
    guards = [requires(*READERS)]

    @get("/{summary_id:int}/sample", sync_to_thread=True)
    def show(self, session: DbSession, user: CurrentUser, summary_id: FromPath[int],
             page: FromQuery[str | None] = None, per_page: FromQuery[str | None] = None,
             after: FromQuery[str | None] = None, before: FromQuery[str | None] = None,
             confidence: FromQuery[str | None] = None, margin: FromQuery[str | None] = None,
             notice: FromQuery[str | None] = None) -> Template:
        """The draw page (with the calculator: `confidence`, `margin`) before the draw, the sample after it, a page
        of its slips at a time (100 by default)."""
        args = ListArgs.read(page=page, per_page=per_page or callbacks.PAGE, after=after, before=before)
        return Template("verification/sample.html", context=_context(
            session, user, summary_id, args, confidence=confidence, margin=margin) | {"notice": notice})

    @post("/{summary_id:int}/sample", sync_to_thread=True, guards=[requires(*CALLERS)])
    def draw(self, session: DbSession, user: CurrentUser, summary_id: FromPath[int],
             data: Annotated[dict, FORM]) -> Template | Redirect:
        by = str(data.get("by", "size"))
        try:
            drawn = callbacks.draw_sample(session, user=user, summary_id=summary_id,
                                          percent=data.get("percent") if by == "percent" else None,
                                          size=data.get("size") if by != "percent" else None)
        except Refused as error:
            discard(session)
            return Template("verification/sample.html", status_code=422, context=_context(
                session, user, summary_id) | {"error": error, "errors": error.errors, "form": data})
        return _go(f"/summaries/{summary_id}/sample?notice=已随机抽取{drawn.sample.size}张销售单")

    @post("/{summary_id:int}/callbacks", sync_to_thread=True, guards=[requires(*CALLERS)])
    def record(self, session: DbSession, user: CurrentUser, summary_id: FromPath[int],
               data: Annotated[dict, FORM]) -> Template | Redirect:
        number = str(data.get("slip_number", ""))
        reached = data.get("reached") == "1"
        try:
            paid = str(data.get("paid", "")).strip()
            recorded = callbacks.record_callback(
                session, user=user, slip_number=number, reached=reached, attempts=data.get("attempts"),
                received_kg=data.get("received_kg") if reached else None,
                received_stoves=data.get("received_stoves") if reached else None,
                paid_fen=(parse_yuan(paid, field="paid_fen", label="住户实付金额") if paid else None) if reached else None,
                note=str(data.get("note", "")))
        except Refused as error:
            discard(session)
            return Template("verification/sample.html", status_code=422, context=_context(
                session, user, summary_id, _back(data)) | {"error": error, "errors": error.errors, "form": data,
                                                            "failed": number})
        c = recorded.callback
        notice = (f"销售单{number}回访发现问题，已剔除并登记案件" if c.discrepancy else
                  f"已记录销售单{number}的回访" if c.done else f"已记录销售单{number}的第{c.attempts}次拨打，未联系到")
        back = _back(data)
        where = (f"&page={back.page}" if back.page > 1 else "") + (
            f"&per_page={back.per_page}" if back.per_page != callbacks.PAGE else "")
        return _go(f"/summaries/{summary_id}/sample?notice={notice}{where}")


controllers = [SamplePages]
