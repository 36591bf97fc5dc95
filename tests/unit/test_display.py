"""What the pages show: stored percents and calorific values as people read them, ratios, column totals, and ID
numbers and phones whole or masked by the one rule of who may see them (DESIGN.md invariant 5)."""

from __future__ import annotations

from types import SimpleNamespace

import jinja2
import pytest

from subsidy.core.scope import WHOLE_FOR, Record, show_id, show_phone, shows_whole
from subsidy.models import Role
from subsidy.rules.money import column_totals, hundredths, mj_per_kg, share_of
from web import templating

ID_NUMBER = "370902199001011234"
MASKED_ID = "370902********1234"
MOBILE, MASKED_MOBILE = "13812345678", "138****5678"
LANDLINE, MASKED_LANDLINE = "0538-8221234", "0538-****1234"


def as_role(role: Role) -> SimpleNamespace:
    return SimpleNamespace(role=str(role))


@pytest.fixture(scope="module")
def render():
    engine = SimpleNamespace(engine=jinja2.Environment(autoescape=True))
    templating.configure(engine)
    return lambda source, **context: engine.engine.from_string(source).render(**context)


# --- percentages stored in hundredths of a percent -----------------------------------------------------------------

@pytest.mark.parametrize("stored, shown", [
    (0, "0.00"), (1, "0.01"), (45, "0.45"), (100, "1.00"), (3000, "30.00"), (10000, "100.00"),
])
def test_a_stored_percentage_is_shown_with_two_decimals(stored, shown):
    assert hundredths(stored) == shown


@pytest.mark.parametrize("stored, shown", [(4000, "40"), (1250, "12.5"), (3333, "33.33"), (10000, "100"), (5, "0.05")])
def test_a_fund_share_is_shown_without_trailing_zeros(stored, shown):
    assert hundredths(stored, trim=True) == shown


def test_the_pct_filter_formats_limits_and_shares_and_leaves_none_empty(render):
    assert render("{{ v|pct }}%", v=30) == "0.30%"
    assert render("{{ v|pct(trim=true) }}%", v=4000) == "40%"
    assert render("[{{ v|pct }}]", v=None) == "[]"


# --- calorific value stored in kJ/kg -------------------------------------------------------------------------------

@pytest.mark.parametrize("stored, shown", [
    (0, "0.00"), (1, "0.001"), (10, "0.01"), (24500, "24.50"), (24560, "24.56"), (24567, "24.567"), (40000, "40.00"),
])
def test_a_calorific_value_in_kj_is_shown_in_mj_without_losing_a_typed_digit(stored, shown):
    assert mj_per_kg(stored) == shown


def test_the_mj_filter_shows_mj_per_kg_and_leaves_none_empty(render):
    assert render("{{ v|mj }} MJ/kg", v=23000) == "23.00 MJ/kg"
    assert render("[{{ v|mj }}]", v=None) == "[]"


# --- ratios and totals ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("part, whole, shown", [
    (0, 5, "0.0"), (1, 3, "33.3"), (2, 3, "66.7"), (1, 16, "6.3"), (5, 5, "100.0"), (7, 5, "140.0"),
])
def test_a_ratio_is_rounded_half_up_to_one_decimal_with_integers(part, whole, shown):
    assert share_of(part, whole) == shown


def test_a_ratio_without_a_whole_has_no_percentage(render):
    assert share_of(3, 0) is None
    assert render("{{ 3|percent(0) }}") == "—"
    assert render("{{ 1|percent(3) }}") == "33.3%"


def test_column_totals_add_each_field_and_are_zero_for_no_rows():
    rows = [SimpleNamespace(coal_kg=1500, stoves=1), SimpleNamespace(coal_kg=2000, stoves=None)]
    assert column_totals(rows, "coal_kg", "stoves") == {"coal_kg": 3500, "stoves": 1}
    assert column_totals([], "coal_kg", "stoves") == {"coal_kg": 0, "stoves": 0}


def test_the_ledger_filters_group_kilograms_and_give_whole_days(render):
    assert render("{{ v|kg }}", v=1234567) == "1,234,567"
    assert render("{{ v|days }}", v=12) == "12"
    assert render("{{ v|days }}", v=12.9) == "12"
    assert render("[{{ v|days }}]", v=None) == "[]"


# --- whole or masked -----------------------------------------------------------------------------------------------

# Decided once per role (DESIGN.md invariant 5): the registry's keepers see the numbers whole on every kind of record
# they can open, everybody else nowhere; the public notice is masked for all.
KEEPERS = {Role.VILLAGE, Role.TOWN}
SEES_WHOLE = {Record.HOUSEHOLD: KEEPERS, Record.SLIP: KEEPERS, Record.LISTING: KEEPERS, Record.NOTICE: set(),
              Record.LOG: set(), Record.CALLBACK: {Role.TOWN, Role.DRC, None}}


@pytest.mark.parametrize("record", list(Record))
@pytest.mark.parametrize("role", list(Role))
def test_each_role_sees_id_numbers_and_phones_the_same_on_every_record_but_the_public_notice(role, record):
    whole = role in SEES_WHOLE[record]
    viewer = as_role(role)
    assert shows_whole(viewer, record) is whole
    assert show_id(viewer, record, ID_NUMBER) == (ID_NUMBER if whole else MASKED_ID)
    assert show_phone(viewer, record, MOBILE) == (MOBILE if whole else MASKED_MOBILE)
    assert show_phone(viewer, record, LANDLINE) == (LANDLINE if whole else MASKED_LANDLINE)


@pytest.mark.parametrize("role", list(Role))
def test_a_bank_account_is_whole_for_finance_and_the_supplier_only(role):
    from subsidy.core.scope import show_account
    whole = role in {Role.FINANCE, Role.SUPPLIER}
    assert show_account(as_role(role), "6222020200112233445") == ("6222020200112233445" if whole else
                                                                  "***************3445")


def test_every_kind_of_record_has_its_line_in_the_table():
    assert set(WHOLE_FOR) == set(Record)


def test_the_command_line_sees_the_numbers_whole_and_the_public_notice_masked():
    assert show_id(None, Record.HOUSEHOLD, ID_NUMBER) == ID_NUMBER
    assert show_id(None, Record.NOTICE, ID_NUMBER) == MASKED_ID
    assert show_id(None, Record.LISTING, ID_NUMBER) == ID_NUMBER


@pytest.mark.parametrize("value", [None, ""])
def test_a_missing_number_is_shown_as_nothing_whoever_looks(value):
    for viewer in (None, as_role(Role.TOWN), as_role(Role.AUDITOR)):
        assert show_id(viewer, Record.HOUSEHOLD, value) == ""
        assert show_phone(viewer, Record.SLIP, value) == ""


def test_a_short_number_is_starred_entirely_for_those_who_may_not_see_it():
    assert show_id(as_role(Role.AUDITOR), Record.HOUSEHOLD, "1234567890") == "**********"
    assert show_id(as_role(Role.VILLAGE), Record.HOUSEHOLD, "1234567890") == "1234567890"


def test_an_unknown_kind_of_record_is_refused_rather_than_shown():
    with pytest.raises(ValueError):
        show_id(as_role(Role.TOWN), "households", ID_NUMBER)


def test_the_filters_apply_the_same_rule_for_the_viewer_in_the_template(render):
    source = '{{ n|id_for(me, "slip") }} {{ p|phone_for(me, "slip") }}'
    assert render(source, n=ID_NUMBER, p=MOBILE, me=as_role(Role.TOWN)) == f"{ID_NUMBER} {MOBILE}"
    assert render(source, n=ID_NUMBER, p=MOBILE, me=as_role(Role.SUPPLIER)) == f"{MASKED_ID} {MASKED_MOBILE}"
    assert render(source, n=ID_NUMBER, p=MOBILE, me=as_role(Role.AUDITOR)) == f"{MASKED_ID} {MASKED_MOBILE}"
    assert render('{{ n|id_for(me, "notice") }}', n=ID_NUMBER, me=as_role(Role.VILLAGE)) == MASKED_ID


def test_a_chart_measures_a_chinese_character_as_one_em_and_a_digit_as_less(render):
    assert render("{{ v|text_px(12) }}", v="东关村") == "36"
    assert render("{{ v|text_px(10) }}", v="10%") == "18.0"
