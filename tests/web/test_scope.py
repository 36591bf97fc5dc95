"""Each role sees only its scope, in pages and in the API."""

from __future__ import annotations


def test_a_village_user_sees_only_its_own_village_and_town(api_as):
    client = api_as("dongguan")
    villages = client.get("/api/v1/villages").json()
    assert [v["code"] for v in villages] == ["dongguan"]
    assert [t["code"] for t in client.get("/api/v1/towns").json()] == ["caiyuan"]


def test_a_town_user_sees_only_its_villages(api_as):
    client = api_as("taiqian")
    assert {v["code"] for v in client.get("/api/v1/villages").json()} == {"qiaogou", "dongmen", "huanshan"}
    assert [t["code"] for t in client.get("/api/v1/towns").json()] == ["taiqian"]


def test_a_supplier_sees_only_the_towns_it_has_contracts_with(api_as):
    towns = {t["code"] for t in api_as("coal-a").get("/api/v1/towns").json()}
    assert towns == {"caiyuan", "daimiao", "taiqian"}


def test_district_roles_see_every_town(api_as):
    for username in ("drc", "finance", "auditor"):
        assert len(api_as(username).get("/api/v1/towns").json()) == 7


def test_a_village_outside_the_scope_is_not_even_listed_by_town_filter(api_as):
    client = api_as("caiyuan")
    daimiao = [t for t in api_as("drc").get("/api/v1/towns").json() if t["code"] == "daimiao"][0]
    assert client.get(f"/api/v1/villages?town_id={daimiao['id']}").json() == []


def test_admin_pages_are_refused_to_other_roles(client_as):
    response = client_as("coal-a").get("/admin/users")
    assert response.status_code in (403, 404)


def test_an_id_too_large_for_the_database_is_refused_not_a_server_error(api_as):
    response = api_as("drc").get(f"/api/v1/villages?town_id={2**70}")
    assert response.status_code == 422
