"""Government spot checks in the JSON API (CONTRACT.md, "Quality"): POST /batches/{id}/inspections records one,
GET lists a batch's. A failed one freezes the batch (POST /slips from it is refused) and opens a case."""

from __future__ import annotations

from datetime import date

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody
from pydantic import Field

from subsidy.models import Role, SpotCheck
from subsidy.quality import inspections
from subsidy.supply import batches
from web.api import API, IsoDate
from web.api.supply import ReportIn, ReportOut, report_out
from web.deps import CurrentUser, DbSession
from web.guards import SPOT_CHECK_READERS, requires


class SpotCheckIn(ReportIn):
    sampled_on: IsoDate = Field(description="the day the sample was taken: not in the future, not before the "
                                            "batch's arrival")
    lab: str = Field(max_length=100)
    report_no: str = Field(max_length=64)
    place: str = Field(default="", max_length=100, description="where the sample was taken (depot, yard)")
    sampler: str = Field(default="", max_length=64, description="who took it")


class SpotCheckOut(ReportOut):
    id: int
    batch_id: int
    supplier_id: int
    season_id: int
    sampled_on: date
    place: str
    sampler: str
    lab: str
    report_no: str
    standard: str = Field(description="the standard it was judged by")
    case_id: int | None = Field(description="the case a failure opened")


def spot_check_out(c: SpotCheck) -> SpotCheckOut:
    return SpotCheckOut(id=c.id, batch_id=c.batch_id, supplier_id=c.supplier_id, season_id=c.season_id,
                        sampled_on=c.sampled_on, place=c.place, sampler=c.sampler, lab=c.lab, report_no=c.report_no,
                        standard=c.standard_source, case_id=c.case_id, **report_out(c))


class SpotChecksApi(Controller):
    path = API
    tags = ["quality"]

    @post("/batches/{batch_id:int}/inspections", sync_to_thread=True, status_code=201, guards=[requires(Role.DRC)])
    def record(self, session: DbSession, user: CurrentUser, batch_id: FromPath[int],
               data: JSONBody[SpotCheckIn]) -> SpotCheckOut:
        """Record a spot check of the batch, judged by its season's standard (`passed`, `failed_reasons` naming
        every failing value with its limit). A failure stops all further sales from the batch and opens a case
        (`case_id`). 404 for a batch outside the caller's scope, 409 when the same lab report is already recorded,
        422 with the field's reason otherwise."""
        form = inspections.SpotCheckInput(sampled_on=data.sampled_on, place=data.place, sampler=data.sampler,
                                          lab=data.lab, report_no=data.report_no, values=data.report_values())
        return spot_check_out(inspections.record(session, user, batch_id, form))

    @get("/batches/{batch_id:int}/inspections", sync_to_thread=True, guards=[requires(*SPOT_CHECK_READERS)])
    def of_batch(self, session: DbSession, batch_id: FromPath[int]) -> list[SpotCheckOut]:
        """The batch's spot checks, newest sample first."""
        batches.get(session, batch_id)  # 404 outside the caller's scope
        return [spot_check_out(c) for c in inspections.of_batch(session, batch_id)]


controllers = [SpotChecksApi]
