"""The report pages in a real browser at 1366×768: every chart fills its card and draws every label inside its
drawing (measured with the browser's own text boxes, not estimated), and a village's progress page is its own.
Screenshots of the progress pages are written for a reviewer (`shot`: into SUBSIDY_SCREENSHOTS, the folder the README
names; nothing without it)."""

from __future__ import annotations

import pytest

from subsidy.core import clock, db
from tests.browser.conftest import login
from tests.browser.screenshots import shot
from tests.factories.settlement import approved_registrations, make_slip, supplier

pytestmark = pytest.mark.browser

# For every chart of the page: its width against its card's, and each text's box against the drawing's viewBox.
MEASURE = """() => [...document.querySelectorAll("figure.chart")].map(figure => {
  const svg = figure.querySelector("svg"), card = figure.closest(".card"), view = svg.viewBox.baseVal;
  const style = getComputedStyle(card);
  const inner = card.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const outside = [...svg.querySelectorAll("text")].map(t => [t.textContent, t.getBBox()])
    .filter(([_, b]) => b.x < -0.5 || b.x + b.width > view.width + 0.5 || b.y < -0.5 || b.y + b.height > view.height + 0.5)
    .map(([text, b]) => `${text} at ${Math.round(b.x)}..${Math.round(b.x + b.width)} of ${view.width}`);
  return {title: figure.querySelector("figcaption").textContent, width: svg.getBoundingClientRect().width,
          card: inner, alone: card.querySelectorAll("figure.chart").length === 1, outside};
})"""


def _sell(engine) -> None:
    with db.transaction(engine) as session:
        for code, villages in (("coal-a", ("dongguan", "yingxi", "qiaogou")), ("coal-b", ("xiguan",))):
            seller = supplier(session, code)
            for village in villages:
                make_slip(session, supplier=seller, registration=approved_registrations(session, village)[0],
                          issued_on=clock.today().replace(day=1), coal_kg=1000)


def _charts_fit(page) -> None:
    charts = page.evaluate(MEASURE)
    assert charts, page.url
    for chart in charts:
        assert chart["outside"] == [], (page.url, chart["title"])
        share = chart["width"] / chart["card"]
        assert share > (0.97 if chart["alone"] else 0.45), (page.url, chart)


def test_the_report_charts_fill_their_cards_and_clip_no_label(page, engine):
    _sell(engine)
    login(page, "drc")
    for path in ("/reports/progress", "/reports/suppliers", "/reports/monthly"):
        page.goto(path)
        _charts_fit(page)
    page.goto("/reports/progress")
    shot(page, "reports-progress", full_page=True)


def test_a_village_reads_its_own_progress(page, engine):
    _sell(engine)
    login(page, "dongguan")
    page.goto("/reports/progress")
    assert page.locator("h1").inner_text().startswith("东关村进度")
    assert page.locator("table.list thead th").first.inner_text() == "村(社区)"
    assert "不是本村目标" in page.locator(".village-target").inner_text()
    _charts_fit(page)
    shot(page, "reports-progress-village", full_page=True)
