"""The page-number pager (templates/_macros.html `number_pager`) of the one list still paged by number: its page-jump
form keeps the list's own parameters as hidden fields, through the `query_pairs` filter. Without that filter a list
of more than one page answered 500."""

from __future__ import annotations

from web.templating import PROJECT_ROOT, Engine, configure


def _render(source: str) -> str:
    engine = Engine(directory=PROJECT_ROOT / "templates")
    configure(engine)
    return engine.engine.from_string(source).render()


def test_the_jump_form_of_a_page_number_pager_keeps_the_lists_parameters():
    html = _render('{% from "_macros.html" import number_pager %}'
                   '{{ number_pager(2, 120, 50, "/quality/7?town=3&amp=x&") }}')
    assert "共 120 条，第 2/3 页" in html
    assert '<form method="get" action="/quality/7"' in html
    assert '<input type="hidden" name="town" value="3">' in html
    assert '<input type="hidden" name="amp" value="x">' in html
    assert 'page=3">最后一页' in html


def test_a_single_page_has_no_jump_form():
    html = _render('{% from "_macros.html" import number_pager %}{{ number_pager(1, 10, 50, "/quality/7?") }}')
    assert "共 10 条，第 1/1 页" in html and "跳至" not in html
