def test_smoke(api_as):
    c = api_as("dongguan")
    vs = c.get("/api/v1/villages").json()
    r = c.post("/api/v1/households", json={"village_id": vs[0]["id"], "head_name": "张三", "id_number": "11010519491231002X", "phone": "13800138000", "address": "东关村1组", "category": "ordinary"})
    print(r.status_code, r.text)
    hid = r.json()["id"]
    r = c.post(f"/api/v1/households/{hid}/registrations", json={"coal_kg": 1000, "stoves": 1})
    print(r.status_code, r.text)
    r = c.post(f"/api/v1/villages/{vs[0]['id']}/notice")
    print(r.status_code, r.text)
    r = c.post("/api/v1/households/search", json={"q": "张三"})
    print(r.status_code, r.text)
    t = api_as("caiyuan")
    rid = c.get(f"/api/v1/households/{hid}").json()["registrations"][0]["id"]
    print(t.post(f"/api/v1/registrations/{rid}/approve").text)
    x = c.get(f"/api/v1/villages/{vs[0]['id']}/registrations.xlsx")
    print(x.status_code, len(x.content))
    assert 0
