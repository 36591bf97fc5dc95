"""What every list page reads from its URL (or its POSTed search form) beside its own filters: the page size, the
sort, the page (a cursor or a bounded number) and whether to count exactly; passed on to the list's service, which
reads through subsidy.core.paging.fetch, and back to the template's filter bar, sort headings and pager as `params`.
"""

from __future__ import annotations

from dataclasses import dataclass

from subsidy.core import paging
from subsidy.core.errors import Refused


@dataclass(frozen=True)
class ListArgs:
    per_page: int
    page: int
    after: str | None
    before: str | None
    count: bool | str
    # Why the page asked for is not the one shown (a page number above paging.MAX_PAGE: the first page instead).
    note: str | None = None

    @classmethod
    def read(cls, *, page=None, per_page=None, after=None, before=None, count=None) -> "ListArgs":
        """From a list page's query (or form) values. A page number above paging.MAX_PAGE shows the first page with
        the reason as `note` (the pager shows it), not an error page: a person who typed 5000 in 跳至 gets their list
        back and what to do instead."""
        note = None
        try:
            number = paging.page_number(page)
        except Refused as error:
            number, note = 1, f"没有显示第 {str(page)[:20]} 页：{error.message}。下面是第一页。"
        return cls(paging.page_size(per_page), number, str(after or "") or None,
                   str(before or "") or None, "exact" if count == "exact" else True, note)

    @classmethod
    def api(cls, *, page=None, per_page=None, after=None, before=None, count=None) -> "ListArgs":
        """The same for an API list, strictly: a `per_page` other than paging.PAGE_SIZES and a `page` above
        paging.MAX_PAGE are refused (422, by their fields) rather than replaced."""
        return cls(paging.api_page_size(per_page), paging.page_number(page), str(after or "") or None,
                   str(before or "") or None, "exact" if count == "exact" else True)

    @classmethod
    def of_form(cls, form: dict) -> "ListArgs":
        return cls.read(page=form.get("page"), per_page=form.get("per_page"), after=form.get("after"),
                        before=form.get("before"), count=form.get("count"))

    @property
    def fetch(self) -> dict:
        """The keyword arguments of paging.fetch (and of every list service that passes them on)."""
        return {"per_page": self.per_page, "page": self.page, "after": self.after, "before": self.before,
                "count": self.count}


class Params(dict):
    """A list's parameters (what its links and forms carry), and `note`, what the pager says about the page asked
    for (ListArgs.note); an attribute, so that it is never carried as a parameter."""
    note: str | None = None


def params(filters: dict, order: paging.Order | str | None, args: ListArgs) -> Params:
    """The list's parameters as its templates keep them (filter bar, sort headings, pager): the filters, the sort
    key and the page size."""
    key = order.key if isinstance(order, paging.Order) else order
    kept = Params({**filters, "sort": key, "per_page": args.per_page})
    kept.note = args.note
    return kept
