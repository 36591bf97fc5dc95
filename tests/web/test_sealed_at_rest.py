"""ID numbers and phones are sealed at rest (subsidy/core/vault.py): a household registered, searched, looked up at
the counter, sold to (with an idempotency key) and exported through the app leaves its ID number and phone nowhere
in the database in clear, while every one of those reads still finds and shows them."""

from __future__ import annotations

import io
from datetime import date

import sqlalchemy as sa
from openpyxl import load_workbook

from subsidy.core import db
from subsidy.models import Registration, Village
from subsidy.policy import seasons
from subsidy.rules.idnumbers import make_id_number
from subsidy.rules.idnumbers import mask_id_number

CANARY_ID = make_id_number("370902", date(1957, 3, 29), "618")
CANARY_PHONE = "13962718453"
# The parts a masked display hides (370902********1234, 139****8453): none may be stored in clear either.
HIDDEN = (CANARY_ID, CANARY_ID[6:14], CANARY_PHONE, CANARY_PHONE[3:])


def clear_text_hits(engine, needles=HIDDEN) -> list[str]:
    """`table.column` for every column of every table whose stored value (as text) contains one of `needles`."""
    inspector = sa.inspect(engine)
    hits = []
    with engine.connect() as connection:
        for table in inspector.get_table_names():
            for column in inspector.get_columns(table):
                name = connection.dialect.identifier_preparer.quote(column["name"])
                where = " OR ".join(f"CAST({name} AS TEXT) LIKE :n{i}" for i in range(len(needles)))
                found = connection.execute(sa.text(f'SELECT count(*) FROM "{table}" WHERE {where}'),
                                           {f"n{i}": f"%{n}%" for i, n in enumerate(needles)}).scalar_one()
                if found:
                    hits.append(f"{table}.{column['name']}")
    return hits


def test_an_id_number_and_phone_used_everywhere_are_stored_nowhere_in_clear(api_as, client_as, engine):
    village = api_as("dongguan")
    with db.new_session(engine) as s:
        dongguan = s.execute(sa.select(Village).where(Village.code == "dongguan")).scalar_one()
    made = village.post("/api/v1/households", json={
        "village_id": dongguan.id, "head_name": "金丝雀", "id_number": CANARY_ID, "phone": CANARY_PHONE,
        "address": "东关村9组9号"})
    assert made.status_code == 201, made.text
    household_id = made.json()["id"]
    assert village.get(f"/api/v1/households/{household_id}").json()["id_number"] == CANARY_ID
    # Found by the whole number (its lookup hash) and by its last four characters (its tail), as the API searched.
    for q in (CANARY_ID, CANARY_ID[-4:], CANARY_PHONE, CANARY_PHONE[-4:]):
        found = village.post("/api/v1/households/search", json={"q": q}).json()
        assert household_id in [h["id"] for h in found["items"]], q
    # The district registers an ID number once, whoever asks.
    again = village.post("/api/v1/households", json={
        "village_id": dongguan.id, "head_name": "冒名", "id_number": CANARY_ID, "phone": "0538-8221234", "address": "别处"})
    assert again.status_code == 409 and again.json()["existing_id"] == household_id
    with db.transaction(engine) as s:
        s.add(Registration(household_id=household_id, season_id=seasons.active_season(s).id,
                           village_id=dongguan.id, coal_kg=2000, stoves=0, status="approved"))
    # The counter finds the buyer by the ID number read from the card, and the slip keeps it sealed too.
    coal = api_as("coal-a")
    lookup = coal.post("/api/v1/registrations/lookup", json={"id_number": CANARY_ID})
    assert lookup.status_code == 200, lookup.text
    rid = lookup.json()["registration_id"]
    sold = coal.post("/api/v1/slips", json={"registration_id": rid, "id_number": CANARY_ID,
                                            "lines": [{"product": "briquette", "quantity": 1000}]},
                     headers={"Idempotency-Key": "sealed-1"})
    assert sold.status_code == 201, sold.text
    number = sold.json()["number"]
    # Opened again to be shown: whole where WHOLE_FOR allows (the town's slip page, the village's registry export),
    # masked elsewhere (the supplier's print).
    assert CANARY_ID in client_as("caiyuan").get(f"/slips/{number}").text
    assert mask_id_number(CANARY_ID) in client_as("coal-a").get(f"/slips/{number}/print").text
    sheet = load_workbook(io.BytesIO(client_as("dongguan").get("/households/export.xlsx").content)).active
    assert CANARY_ID in [cell for row in sheet.iter_rows(values_only=True) for cell in row]
    assert clear_text_hits(engine) == []
    # The scan can fail: a plaintext column is found.
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE village SET name = :n WHERE id = :i"), {"n": CANARY_ID, "i": dongguan.id})
    assert clear_text_hits(engine) == ["village.name"]
