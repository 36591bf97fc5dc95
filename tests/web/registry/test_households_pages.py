"""The registry's pages: a village registers and publishes, the town approves, uploads are previewed then confirmed."""

from __future__ import annotations

import re

import sqlalchemy as sa

from tests.factories.registry import new_id_number, read_xlsx, row, xlsx


def test_a_village_registers_a_household_and_its_purchase_publishes_and_the_town_approves(client_as):
    village = client_as("dongguan")
    id_number = new_id_number()
    response = village.submit("/households/new", {"head_name": "孙海燕", "id_number": id_number,
                                                  "phone": "13905389999", "address": "东关村5组6号",
                                                  "category": "low_income"}, follow_redirects=False)
    assert response.status_code == 303
    detail = response.headers["location"].split("?")[0]
    page = village.get(detail)
    assert id_number in page.text and "孙海燕" in page.text
    response = village.submit(f"{detail}/registrations", {"coal_tons": "2.5", "stoves": "1"})
    assert response.status_code == 200 and "已登记" in response.text
    response = village.submit("/registrations/notice", {"objection_contact": "东关村委会 0538-8221234"})
    assert response.status_code == 200
    assert "孙海燕" in response.text and id_number not in response.text  # the notice is public: masked
    assert id_number[:6] + "********" + id_number[-4:] in response.text
    assert "东关村委会 0538-8221234" in response.text and "2.500" in response.text
    notice_url = str(response.url)
    assert village.get(notice_url + "/notice.xlsx").status_code == 200

    town = client_as("caiyuan")
    listing = town.get("/registrations?status=noticed")
    ours = re.search(r'孙海燕.*?action="/registrations/(\d+)/approve"', listing.text, re.S)
    assert ours, listing.text[:2000]
    response = town.submit(f"/registrations/{ours.group(1)}/approve")
    assert response.status_code == 200 and "已审核通过" in response.text
    assert "已审核" in village.get(detail).text


def test_a_refused_form_keeps_what_was_typed_and_says_why(client_as):
    village = client_as("dongguan")
    response = village.submit("/households/new", {"head_name": "孙海燕", "id_number": "37090219750231123X",
                                                  "phone": "13905389999", "address": "东关村", "category": "ordinary"})
    assert response.status_code == 422
    assert "身份证号码的出生日期无效" in response.text and "孙海燕" in response.text


def test_a_duplicate_id_number_from_another_town_is_refused_without_saying_where_it_is(client_as):
    held = {"head_name": "孙海燕", "id_number": new_id_number(), "phone": "13905389999", "address": "一组1号",
            "category": "ordinary"}
    assert client_as("dongguan").submit("/households/new", held, follow_redirects=False).status_code == 303
    response = client_as("yingxi").submit("/households/new", {**held, "head_name": "孙海"})
    assert response.status_code == 422 and "已在本区其他村（社区）登记" in response.text
    assert "东关" not in response.text and "财源" not in response.text
    assert re.search(r'href="/households/\d+"', response.text)  # the existing_id, for the clerks to sort it out


def test_the_town_approves_all_due_registrations_at_once(client_as):
    village = client_as("dongguan")
    village.submit("/registrations/notice", {})
    response = client_as("caiyuan").submit("/registrations/approve-all", {})
    assert response.status_code == 200
    # dongguan's 2 just published, and the demo's 4 noticed ones of the town (loaded without a notice row)
    assert "已审核通过6户" in response.text


def test_an_upload_is_previewed_with_refused_rows_and_then_imported(client_as):
    village = client_as("dongguan")
    data = xlsx([row(), row(phone="12")])
    response = village.submit("/households/import", files={"file": ("form.xlsx", data, "application/octet-stream")})
    assert response.status_code == 200, response.text[:500]
    assert '<strong id="imported">1</strong>' in response.text and "联系电话" in response.text
    confirm = re.search(r'action="(/households/import/\d+/confirm)"', response.text).group(1)
    done = village.submit(confirm)
    assert done.status_code == 200 and "导入结果" in done.text
    assert village.submit(confirm).status_code == 409


def test_lists_are_readable_by_the_district_with_masked_numbers_and_exportable(client_as):
    drc = client_as("drc")
    page = drc.get("/households")
    assert page.status_code == 200 and "********" in page.text
    assert drc.get("/registrations?status=approved").status_code == 200
    counts = drc.get("/registrations/counts")
    assert "财源街道" in counts.text and "东关村" in counts.text
    export = drc.get("/registrations/export.xlsx?status=approved")
    rows = read_xlsx(export.content)
    assert rows[0][-2:] == ["状态", "驳回原因"] and all("*" in r[2] for r in rows[1:])


def test_searching_is_a_post_and_stays_in_scope(client_as):
    village = client_as("yingxi")
    response = village.submit("/households/search", {"q": "村"})
    assert response.status_code == 200
    assert "东关村" not in response.text
    assert client_as("coal-a").get("/households").status_code == 403


def test_the_registrations_page_reads_its_page_and_no_per_village_counts(client_as, engine):
    """Issue #19: a page of registrations reads its 50 rows by index; the season's counts per village and town (a
    GROUP BY over every registration in scope, seconds at 700,000) are the counts page's, not every page view's."""
    drc = client_as("drc")
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        page = drc.get("/registrations")
        searched = drc.submit("/registrations/search", {"q": "王", "status": "approved"})
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert page.status_code == 200 and searched.status_code == 200
    assert "按村、按街道统计" in page.text  # the link to the counts
    assert sent and not [s for s in sent if "GROUP BY" in s.upper()], [s for s in sent if "GROUP BY" in s.upper()]
    counts = drc.get("/registrations/counts")
    assert "财源街道" in counts.text and "东关村" in counts.text


def test_a_search_by_name_says_1000_plus_and_the_api_total_capped(client_as, api_as, engine):
    from subsidy.core import db
    from subsidy.models import Village
    from tests.services.registry import test_search_plans as search_tests

    with db.transaction(engine) as s:
        village = s.execute(sa.select(Village).where(Village.name == "东关村")).scalar_one()
        search_tests._many_named(s, village.id, "欧阳小明", 1001)
    page = client_as("drc").submit("/households/search", {"q": "欧阳"})
    assert page.status_code == 200 and "“欧阳”的查询结果：1,000+ 户" in page.text
    assert "共 1,000+ 条" in page.text  # the pager says so too
    body = api_as("drc").post("/api/v1/households/search", json={"q": "欧阳"}).json()
    assert (body["total"], body["total_capped"], len(body["items"])) == (1000, True, 50)
