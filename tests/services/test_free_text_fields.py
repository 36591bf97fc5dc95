"""Every free-text field a service takes refuses control characters and non-characters, naming the field, before
anything is written: a NUL in an address once made PostgreSQL fail the insert, a \\x01 broke the village's export
and every summary sheet with a slip to that household."""

from __future__ import annotations


from sqlalchemy import select

from subsidy.accounts import users
from subsidy.core import clock, db
from subsidy.core.errors import SubsidyError
from subsidy.models import Village
from subsidy.policy import quality, regions, seasons
from subsidy.registry import households, spreadsheet
from subsidy.sales import issuing, voiding
from subsidy.settlement import statements, summaries
from subsidy.supply import batches, suppliers
from tests.factories import accounts
from tests.factories import registry as r
from tests.factories import sales as f
from tests.factories.settlement import make_slip
from tests.factories.supply import batch_input

BAD = ["东关\x00村", "东关\x01村", "东关\t村", "东关\u0085村", "东关\ufdd0村", "东关\ufffe村"]


def supplier_input(**overrides) -> suppliers.SupplierInput:
    values = dict(code="coal-z", name="泰山型煤有限公司", credit_code="91370900MA3C4XYZ1P", slip_prefix="Z",
                  legal_rep="张三", contact_name="李四", contact_phone="13905381234", address="泰安市岱岳区",
                  bank_name="工商银行泰安分行", bank_account="1234567890123", tender_notice_no="TA-2026-01",
                  products=["briquette"])
    values.update(overrides)
    return suppliers.SupplierInput(**values)


def cases(ids: dict) -> list[tuple[str, str, object]]:
    """(what, the field named in the refusal, a call putting `bad` in that field)."""
    def user(session, name):
        return f.user(session, name)

    def household(**field):
        return lambda s, bad: households.register_household(
            s, user(s, "dongguan"), ids["village"], r.household_input(**{field["name"]: bad}))

    def batch(name):
        return lambda s, bad: batches.record(s, None, ids["coal_a"], batch_input(**{name: bad}))

    def supplier(name):
        return lambda s, bad: suppliers.create(s, None, supplier_input(**{name: bad}))

    def standard(s, bad):
        return quality.save_standard(s, None, ids["season"], "briquette", volatile_pct="10", sulfur_pct="0.5",
                                     ash_pct="20", calorific_mj_kg="23", source=bad)

    return [
        ("household name", "head_name", household(name="head_name")),
        ("household address", "address", household(name="address")),
        ("notice's objection contact", "objection_contact",
         lambda s, bad: households.publish_notice(s, user(s, "dongguan"), ids["village"], objection_contact=bad)),
        ("reject reason", "reason", lambda s, bad: households.reject(s, user(s, "caiyuan"), ids["registration"], bad)),
        ("void reason", "reason",
         lambda s, bad: voiding.void_slip(s, user=user(s, "coal-a"), number=ids["slip"], reason=bad)),
        ("stove serial", "lines[0].serial", lambda s, bad: issuing.issue_slip(
            s, clerk=user(s, "stove-a"), registration_id=ids["stove_registration"],
            id_number=f.card(s, ids["stove_registration"]), lines=[issuing.LineIn("stove", 1, serial=bad)])),
        ("approval comment", "comment",
         lambda s, bad: summaries.approve(s, reviewer=user(s, "caiyuan"), summary_id=0, comment=bad)),
        ("return reason", "reason",
         lambda s, bad: summaries.return_summary(s, reviewer=user(s, "caiyuan"), summary_id=0, reason=bad)),
        ("set-aside reason", "reason",
         lambda s, bad: summaries.set_aside(s, reviewer=user(s, "caiyuan"), summary_id=0, slip_id=0, reason=bad)),
        ("payment reference", "reference", lambda s, bad: statements.pay(
            s, officer=user(s, "finance"), settlement_id=0, reference=bad, paid_on=clock.today())),
        *[(f"batch {name}", name, batch(name)) for name in ("report_no", "lab", "producer", "origin", "vehicle")],
        *[(f"supplier {name}", name, supplier(name))
          for name in ("name", "legal_rep", "contact_name", "address", "bank_name", "tender_notice_no")],
        ("supplier's own contact", "contact_name", lambda s, bad: suppliers.update_contact(
            s, None, ids["coal_a"], contact_name=bad, contact_phone="", address="")),
        ("suspension reason", "reason",
         lambda s, bad: suppliers.set_status(s, None, ids["coal_a"], "suspended", reason=bad)),
        ("town name", "name", lambda s, bad: regions.create_town(s, None, code="newtown", name=bad)),
        ("village name", "name", lambda s, bad: regions.create_village(
            s, None, town_id=ids["town"], code="newvillage", name=bad, zone="normal")),
        ("quality standard source", "source", standard),
        ("season name", "name", lambda s, bad: seasons.policy_from_form(accounts.policy_form(name=bad))),
        ("user display name", "display_name", lambda s, bad: users.create_user(
            s, None, username="newclerk", role="drc", password="Temp1234x", display_name=bad)),
    ]


def test_every_free_text_field_refuses_control_characters_naming_the_field(engine, session, demo):
    with db.transaction(engine) as s:
        village = s.execute(select(Village).where(Village.code == "dongguan")).scalar_one()
        _, noticed = f.household(s, "dongguan", status="noticed")
        _, stove_buyer = f.household(s, "dongguan", coal_kg=0, stoves=1)
        approved = f.household(s, "dongguan")[1]
        slip = make_slip(s, supplier=f.supplier(s, "coal-a"), registration=approved, issued_on=clock.today(),
                         coal_kg=500)
        ids = {"village": village.id, "town": village.town_id, "registration": noticed.id, "slip": slip.number,
               "stove_registration": stove_buyer.id, "coal_a": f.supplier(s, "coal-a").id,
               "season": seasons.active_season(s).id}
    wrong = {}
    for what, field, call in cases(ids):
        for bad in BAD:
            try:
                call(session, bad)
            except SubsidyError as refusal:
                reason = refusal.errors.get(field, "")
                if f"U+{ord(bad[2]):04X}" not in reason:
                    wrong[(what, repr(bad))] = refusal.errors
            else:
                wrong[(what, repr(bad))] = "accepted"
            finally:
                session.rollback()
    assert wrong == {}


def test_an_imported_row_with_a_control_character_is_refused_and_the_others_are_imported(session, demo):
    village_clerk = f.user(session, "dongguan")
    result = spreadsheet.import_rows(session, village_clerk, iter([
        spreadsheet.HEADER, tuple(r.row(address="东关村\x013组")), tuple(r.row(name="王\x00建国")), tuple(r.row())]))
    assert result.imported == 1
    assert [(e.row, e.field) for e in result.refused] == [(2, "住址"), (3, "户主姓名")]
    assert all("U+00" in e.reason for e in result.refused)


def test_a_search_with_a_control_character_finds_as_without_it(session, demo):
    name = households.list_households(session, q="").items[0].head_name
    assert households.list_households(session, q=f"{name}\x00").total == households.list_households(session, q=name).total


def test_an_audit_filter_with_a_control_character_finds_as_without_it(session, demo):
    from subsidy.core import audit

    total = audit.entries_page(session, username="system").total
    assert audit.entries_page(session, username="system\x00").total == total
    assert audit.entries_page(session, action="\x00").total == audit.entries_page(session).total
