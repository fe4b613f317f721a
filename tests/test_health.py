async def test_health_reports_database_and_broker(client):
    response = await client.get("/api/health")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["broker"] == "ok"
    assert body["version"]
    assert response.headers["X-Request-ID"]
