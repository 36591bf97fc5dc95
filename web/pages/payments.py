"""Finance's bank payments (银行支付): the batch transfer file, the bank's result file with a preview before it is
recorded, the reissue of a failed payment; and the monthly reconciliation (对账) for finance, the bureau and audit
(subsidy/settlement/payments.py, reconciliation.py)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from subsidy.core import clock
from subsidy.core.errors import Refused
from subsidy.rules import months
from subsidy.settlement import payments, reconciliation
from web.api.settlement import xlsx
from web.deps import CurrentUser, DbSession
from web.forms import MULTIPART, discard
from web.guards import PAYERS, RECONCILERS, requires

RESULT_MAX_BYTES = 10 * 1024 * 1024


class PaymentPages(Controller):
    path = "/payments"
    include_in_schema = False
    guards = [requires(*PAYERS)]

    def _index(self, session, *, status_code: int = 200, **extra) -> Template:
        return Template("payments/index.html", status_code=status_code, context={
            "payable": payments.payable(session), "files": payments.recent_files(session),
            "failed": payments.failed_statements(session), **extra})

    @get("/", sync_to_thread=True)
    def index(self, session: DbSession, made: FromQuery[int | None] = None) -> Template:
        return self._index(session, made=made)

    @post("/files", sync_to_thread=True)
    def make_file(self, session: DbSession, user: CurrentUser) -> Template | Redirect:
        try:
            made = payments.make_bank_file(session, officer=user)
        except Refused as refusal:
            discard(session)
            return self._index(session, status_code=422, error=refusal)
        return Redirect(f"/payments/?made={made.file.id}", status_code=303)

    @get("/files/{file_id:int}/bank.xlsx", sync_to_thread=True)
    def bank_file(self, session: DbSession, file_id: FromPath[int]) -> Response:
        payment_file, _ = payments.file_payments(session, file_id)
        return xlsx(f"批量转账-{payment_file.number}.xlsx", payments.bank_file_xlsx(session, file_id))

    @post("/results", sync_to_thread=True, request_max_body_size=RESULT_MAX_BYTES)
    def upload_result(self, session: DbSession, user: CurrentUser,
                      data: Annotated[dict[str, Any], MULTIPART]) -> Template | Redirect:
        file = data.get("file")
        try:
            if not isinstance(file, UploadFile) or not file.filename:
                raise Refused("请选择银行返回的结果文件", field="file")
            upload, _ = payments.store_result(session, officer=user, filename=file.filename, data=file.file.read())
        except Refused as refusal:
            discard(session)
            return self._index(session, status_code=422, error=refusal)
        return Redirect(f"/payments/results/{upload.id}", status_code=303)

    @get("/results/{upload_id:int}", sync_to_thread=True)
    def result(self, session: DbSession, user: CurrentUser, upload_id: FromPath[int]) -> Template:
        upload, preview = payments.stored_result(session, officer=user, upload_id=upload_id)
        if upload.used_at is not None and upload.result:
            import json
            preview = payments.ResultPreview([payments.ResultRow(**r) for r in json.loads(upload.result)])
        return Template("payments/result.html", context={"upload": upload, "preview": preview,
                                                         "done": upload.used_at is not None})

    @post("/results/{upload_id:int}/confirm", sync_to_thread=True)
    def confirm(self, session: DbSession, user: CurrentUser, upload_id: FromPath[int]) -> Redirect:
        payments.confirm_result(session, officer=user, upload_id=upload_id)
        return Redirect(f"/payments/results/{upload_id}", status_code=303)

    @post("/reissue/{settlement_id:int}", sync_to_thread=True)
    def reissue(self, session: DbSession, user: CurrentUser, settlement_id: FromPath[int]) -> Redirect:
        payments.reissue(session, officer=user, settlement_id=settlement_id)
        return Redirect("/payments/", status_code=303)


class ReconciliationPages(Controller):
    path = "/reconciliation"
    include_in_schema = False
    guards = [requires(*RECONCILERS)]

    @get("/", sync_to_thread=True)
    def month(self, session: DbSession, month: FromQuery[str | None] = None) -> Template:
        error = None
        try:
            month = months.parse_month(month) if month else months.month_of(clock.today())
        except Refused as refusal:
            error, month = refusal, months.month_of(clock.today())
        return Template("payments/reconciliation.html", status_code=422 if error else 200, context={
            "report": reconciliation.month_reconciliation(session, month), "error": error,
            "months": reconciliation.months_with_statements(session)})


controllers = [PaymentPages, ReconciliationPages]
