"""What every list page reads from its URL (or its POSTed search form) beside its own filters: the page size, the
sort, the page (a cursor or a bounded number) and whether to count exactly; passed on to the list's service, which
reads through subsidy.core.paging.fetch, and back to the template's filter bar, sort headings and pager as `params`.
"""

from __future__ import annotations

from dataclasses import dataclass

from subsidy.core import paging


@dataclass(frozen=True)
class ListArgs:
    per_page: int
    page: int
    after: str | None
    before: str | None
    count: bool | str

    @classmethod
    def read(cls, *, page=None, per_page=None, after=None, before=None, count=None) -> "ListArgs":
        """From the query (or form) values; a page number above paging.MAX_PAGE is refused (the field `page`)."""
        return cls(paging.page_size(per_page), paging.page_number(page), str(after or "") or None,
                   str(before or "") or None, "exact" if count == "exact" else True)

    @classmethod
    def api(cls, *, page=None, per_page=None, after=None, before=None, count=None) -> "ListArgs":
        """The same for an API list: a `per_page` other than paging.PAGE_SIZES is refused (422, field `per_page`)
        rather than replaced by the default, as is a `page` above paging.MAX_PAGE."""
        return cls.read(page=page, per_page=paging.api_page_size(per_page), after=after, before=before, count=count)

    @classmethod
    def of_form(cls, form: dict) -> "ListArgs":
        return cls.read(page=form.get("page"), per_page=form.get("per_page"), after=form.get("after"),
                        before=form.get("before"), count=form.get("count"))

    @property
    def fetch(self) -> dict:
        """The keyword arguments of paging.fetch (and of every list service that passes them on)."""
        return {"per_page": self.per_page, "page": self.page, "after": self.after, "before": self.before,
                "count": self.count}


def params(filters: dict, order: paging.Order | str | None, args: ListArgs) -> dict:
    """The list's parameters as its templates keep them (filter bar, sort headings, pager): the filters, the sort
    key and the page size."""
    key = order.key if isinstance(order, paging.Order) else order
    return {**filters, "sort": key, "per_page": args.per_page}
