"""`Idempotency-Key` on the API (CONTRACT.md, "Retries"): the domain remembers the first answer to a key
(subsidy/core/idempotency.py); what a request and an answer are in HTTP (the route, the status code, the header that
says an answer is replayed) is decided here."""

from __future__ import annotations

from collections.abc import Callable

from litestar import MediaType, Request, Response
from sqlalchemy.orm import Session

from subsidy.core import idempotency
from subsidy.models import User


def idempotent(request: Request, session: Session, user: User, route: str, payload,
               work: Callable[[], tuple[int, dict]]) -> Response:
    """Answer `work()`'s (status code, JSON body) once per key; a retry gets the same answer, marked replayed."""
    answer = idempotency.once(session, user_id=user.id, key=request.headers.get("idempotency-key"), request=route,
                              payload=payload, work=work)
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    # The JSON text as stored for a replay: encoded once, not again by the framework.
    return Response(answer.body.encode(), status_code=answer.outcome, headers=headers, media_type=MediaType.JSON)
