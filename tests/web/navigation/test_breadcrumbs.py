"""Breadcrumbs on every detail page (issue 14, item 10): a page of one thing (a household, a slip, a case, an anomaly
flag, a notice, a season, ...) says where it sits, from its list down, above its title.

Two walks: every page route of the app with a path parameter that renders a template (a detail page, or a form or
step of one) must render one whose source calls the `breadcrumbs` macro (templates/_macros.html), paper forms
(`/print`) aside; and the detail pages the issue named open for real, each with a breadcrumb trail whose first link
is its list."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from subsidy.core import clock, db
from subsidy.models import (
    AnomalyFlag, Batch, Contract, Notice, Season, User, Village,
)
from subsidy.oversight import anomalies, cases
from tests.factories import oversight as o
from tests.factories.settlement import approved_registrations, make_slip, supplier

TEMPLATES = Path(__file__).resolve().parents[3] / "templates"
TEMPLATE_CALL = re.compile(r'(?:Template|refused)\(\s*"([^"]+\.html)"')
SELF_CALL = re.compile(r"self\.(_\w+)\(")
CALL = re.compile(r"\b([a-z_]\w*)\(")
TRAIL = re.compile(r'<nav class="breadcrumbs[^"]*" aria-label="当前位置">(.*?)</nav>', re.S)


def _page_handlers(app):
    """(path, handler function, its controller class or None) for every GET page route with a path parameter that
    answers a Template."""
    from litestar.response import Template

    for route in app.routes:
        if "{" not in route.path or route.path.startswith(("/api/", "/static/")):
            continue
        for handler in getattr(route, "route_handlers", []):
            if "GET" not in (handler.http_methods or ()):
                continue
            fn = getattr(handler.fn, "func", handler.fn)
            fn = getattr(fn, "__func__", fn)
            if not getattr(fn, "__module__", "").startswith("web.pages"):
                continue
            answer = handler.parsed_fn_signature.return_type.annotation
            if answer is Template or "Template" in str(answer):
                owner = getattr(getattr(handler.fn, "func", None), "__self__", None)
                yield route.path, fn, type(owner) if owner is not None else None


def _templates_of(fn, owner) -> set[str]:
    """The templates a handler renders: named in its source, or in the helper it hands over to (a method of its
    controller, or a function of its module), one step down."""
    source = inspect.getsource(fn)
    names = set(TEMPLATE_CALL.findall(source))
    if names:
        return names
    module = inspect.getmodule(fn)
    helpers = [getattr(owner, name) for name in SELF_CALL.findall(source) if owner and hasattr(owner, name)]
    helpers += [getattr(module, name) for name in CALL.findall(source)
                if inspect.isfunction(getattr(module, name, None)) and getattr(module, name).__module__ == module.__name__]
    for helper in helpers:
        names |= set(TEMPLATE_CALL.findall(inspect.getsource(helper)))
    return names


def test_every_detail_page_template_has_breadcrumbs(app):
    walked, missing, unknown = [], [], []
    for path, fn, owner in _page_handlers(app):
        if "/print" in path:
            continue  # a paper form: no navigation on paper
        names = {n for n in _templates_of(fn, owner) if not n.startswith("print/")}
        if not names:
            unknown.append(path)
        for name in sorted(names):
            walked.append((path, name))
            if "breadcrumbs(" not in (TEMPLATES / name).read_text(encoding="utf-8"):
                missing.append(f"{path} -> {name}")
    assert unknown == [], f"no template found for these pages: teach _templates_of to find it: {unknown}"
    assert missing == [], "detail pages without breadcrumbs: " + ", ".join(missing)
    # The walk found the pages (a walk of nothing proves nothing): the ones the issue named among them.
    paths = {path for path, _ in walked}
    for path in ("/cases/{case_id:int}", "/anomalies/{flag_id:int}", "/registrations/notices/{notice_id:int}",
                 "/seasons/{season_id:int}", "/seasons/{season_id:int}/targets", "/households/{household_id:int}",
                 "/slips/{number:str}", "/summaries/{summary_id:int}", "/settlements/{settlement_id:int}"):
        assert path in paths, (path, sorted(paths))
    assert len(walked) >= 20


@pytest.fixture
def things(engine, demo):
    """One of each thing the issue named, in the demo district: ids by kind."""
    with db.transaction(engine) as s:
        bureau = s.execute(select(User).where(User.username == "drc")).scalar_one()
        seller = supplier(s, "coal-a")
        registration = approved_registrations(s, "dongguan")[0]
        slip = make_slip(s, supplier=seller, registration=registration, issued_on=clock.today(), coal_kg=1000)
        case = cases.open_case(s, bureau, channel="hotline", category="quality", description="煤质差，烧不着",
                               slip_number=slip.number)
        o.households(s, 3, phone="13912345678")
        anomalies.run(s, rules=["shared_phone"])
        flag_id = s.execute(select(AnomalyFlag.id).where(AnomalyFlag.rule == "shared_phone")).scalars().first()
        dongguan = s.execute(select(Village.id).where(Village.code == "dongguan")).scalar_one()
        return {
            "slip": slip.number, "case": case.id, "flag": flag_id,
            "household": registration.household_id,
            "notice": s.execute(select(Notice.id).where(Notice.village_id == dongguan)
                                ).scalars().first(),
            "season": s.execute(select(Season.id).where(Season.is_active.is_(True))).scalar_one(),
            "supplier": seller.id,
            "contract": s.execute(select(Contract.id).where(Contract.supplier_id == seller.id)).scalars().first(),
            "batch": s.execute(select(Batch.id).where(Batch.supplier_id == seller.id)).scalars().first(),
        }


# (who, the page, the first link of its trail: its list)
PAGES = [
    ("drc", "/cases/{case}", "/cases"),
    ("drc", "/anomalies/{flag}", "/anomalies"),
    ("dongguan", "/registrations/notices/{notice}", "/registrations"),
    ("drc", "/seasons/{season}", "/seasons"),
    ("drc", "/seasons/{season}/targets", "/seasons"),
    ("dongguan", "/households/{household}", "/households"),
    ("dongguan", "/households/{household}/edit", "/households"),
    ("coal-a", "/slips/{slip}", "/slips"),
    ("coal-a", "/slips/{slip}/void", "/slips"),
    ("drc", "/suppliers/{supplier}", "/suppliers"),
    ("drc", "/suppliers/{supplier}/edit", "/suppliers"),
    ("coal-a", "/suppliers/{supplier}/contact", "/suppliers"),
    ("drc", "/contracts/{contract}", "/contracts"),
    ("coal-a", "/batches/{batch}", "/batches"),
]


def test_the_detail_pages_open_with_a_trail_from_their_list(client_as, things):
    for who, template, first in PAGES:
        path = template.format(**things)
        answer = client_as(who).get(path)
        assert answer.status_code == 200, (who, path, answer.status_code)
        trails = TRAIL.findall(answer.text)
        assert len(trails) == 1, (path, len(trails))
        links = re.findall(r'<a href="([^"]+)">', trails[0])
        assert links and links[0].split("?")[0] == first, (path, links)
        assert '<span aria-current="page">' in trails[0], path
