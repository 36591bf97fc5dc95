"""Callback samples (回访抽查) in the JSON API (CONTRACT.md, "Delivery and verification"): draw a summary's sample,
record a callback. The sample's progress shows on `GET /summaries/{id}` (web/api/settlement.py)."""

from __future__ import annotations

from datetime import datetime

from litestar import Controller, post
from litestar.params import FromPath, JSONBody
from pydantic import BaseModel, Field

from subsidy.models import Role, Slip
from subsidy.verification import callbacks
from web.api import API
from web.deps import CurrentUser, DbSession
from web.guards import requires

CALLERS = (Role.TOWN, Role.DRC)


class SampleIn(BaseModel):
    """One of the two: a percentage (1–100, rounded up) or a number of slips."""

    percent: int | None = None
    size: int | None = None


class SampleOut(BaseModel):
    sample_id: int
    seed: int
    size: int
    population: int
    population_digest: str
    slips: list[str]


class CallbackIn(BaseModel):
    slip_number: str = Field(max_length=64)
    reached: bool
    attempts: int
    received_kg: int | None = None
    received_stoves: int | None = None
    paid_fen: int | None = None
    note: str = ""


class CallbackOut(BaseModel):
    id: int
    sample_id: int
    slip_number: str
    reached: bool
    attempts: int
    done: bool  # reached, or not reached after three tries: counts as recorded
    received_kg: int | None
    received_stoves: int | None
    paid_fen: int | None
    note: str
    discrepancy: bool
    reasons: list[str]
    case_id: int | None
    recorded_at: datetime


class SamplesApi(Controller):
    path = API + "/summaries"
    tags = ["verification"]

    @post("/{summary_id:int}/sample", sync_to_thread=True, guards=[requires(*CALLERS)], status_code=201)
    def draw(self, session: DbSession, user: CurrentUser, summary_id: FromPath[int],
             data: JSONBody[SampleIn]) -> SampleOut:
        """201 with the drawn slips' numbers, in the order of the draw, and the seed that repeats it; 409 when the
        summary already has a sample or is not waiting for the town or the bureau."""
        drawn = callbacks.draw_sample(session, user=user, summary_id=summary_id, percent=data.percent,
                                      size=data.size)
        s = drawn.sample
        return SampleOut(sample_id=s.id, seed=s.seed, size=s.size, population=s.population,
                         population_digest=s.population_digest, slips=drawn.numbers)


class CallbacksApi(Controller):
    path = API + "/callbacks"
    tags = ["verification"]

    @post("/", sync_to_thread=True, guards=[requires(*CALLERS)], status_code=201)
    def record(self, session: DbSession, user: CurrentUser, data: JSONBody[CallbackIn]) -> CallbackOut:
        """201; `discrepancy: true` with `case_id` when the household received less, paid more than the slip's
        household share or denies the purchase (the slip is then set aside from its summary). 404 for a slip in
        no sample; 409 when its callback is already done."""
        recorded = callbacks.record_callback(session, user=user, **data.model_dump())
        c = recorded.callback
        number = session.get(Slip, c.slip_id).number
        fields = {k: getattr(c, k) for k in CallbackOut.model_fields if k not in ("slip_number", "reasons")}
        return CallbackOut(**fields, slip_number=number, reasons=recorded.reasons)


controllers = [SamplesApi, CallbacksApi]
