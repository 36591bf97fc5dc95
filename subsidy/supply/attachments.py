"""Scanned contracts, quality guarantees and test reports, kept in the database.

Only PDF, PNG and JPEG are accepted, and the type is decided by the file's first bytes (its "magic number"), never by
the name or the browser's declared type: a renamed executable is refused. Size is limited by
`settings.attachment_max_bytes`. Downloads follow the same scope as the record the file belongs to.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from subsidy.core import audit
from subsidy.core.errors import NotFound, Refused
from subsidy.models import Attachment, Contract, Role
from subsidy.core.scope import scope_of
from subsidy.core.settings import get_settings

# (leading bytes, content type, extension)
_MAGIC = [
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
]


def sniff(data: bytes) -> str | None:
    """The content type decided by the file's content, or None when it is not PDF, PNG or JPEG."""
    for magic, content_type, _ in _MAGIC:
        if data.startswith(magic):
            return content_type
    return None


def _clean_name(filename: str, content_type: str) -> str:
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    name = "".join(c for c in name if c.isprintable() and c not in '"<>|:*?')[:200]
    if not name:
        ext = next(e for _, t, e in _MAGIC if t == content_type)
        name = f"附件.{ext}"
    return name


def store(session: Session, actor, *, filename: str, data: bytes, supplier_id: int | None,
          field: str = "attachment") -> Attachment:
    """Check and keep an uploaded file; refuses other types and oversized files with a clear reason."""
    limit = get_settings().attachment_max_bytes
    if not data:
        raise Refused("上传的文件为空", field=field)
    if len(data) > limit:
        raise Refused(f"文件过大（{len(data) / 1048576:.1f} MB），不能超过 {limit / 1048576:.1f} MB", field=field)
    content_type = sniff(data)
    if content_type is None:
        raise Refused("只能上传 PDF、PNG 或 JPEG 格式的文件（按文件内容判断，不看扩展名）", field=field)
    attachment = Attachment(filename=_clean_name(filename, content_type), content_type=content_type, size=len(data),
                            sha256=hashlib.sha256(data).hexdigest(), data=data, supplier_id=supplier_id,
                            uploaded_by=getattr(actor, "id", None))
    session.add(attachment)
    session.flush()
    audit.record(session, actor, "attachment.uploaded", attachment)
    return attachment


def for_download(session: Session, attachment_id: int) -> Attachment:
    """The attachment if the caller may see the record it belongs to; NotFound otherwise (scope rule: district
    roles see all; a supplier its own files; a town the files of contracts in its town)."""
    attachment = session.execute(select(Attachment).where(Attachment.id == attachment_id)
                                 .execution_options(unscoped=True)).scalar_one_or_none()
    if attachment is None:
        raise NotFound()
    scope = scope_of(session)
    if scope is None or scope.district_wide:
        return attachment
    if scope.role == Role.SUPPLIER and attachment.supplier_id == scope.supplier_id:
        return attachment
    if scope.role == Role.TOWN:
        # The scoped session only sees this town's contracts.
        linked = session.execute(select(Contract.id).where(or_(
            Contract.contract_attachment_id == attachment_id, Contract.guarantee_attachment_id == attachment_id))
        ).first()
        if linked is not None:
            return attachment
    raise NotFound()
