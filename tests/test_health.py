async def test_health_reports_database_and_broker(client):
    response = await client.get("/api/health")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["broker"] == "ok"
    assert body["version"]
    assert response.headers["X-Request-ID"]


async def test_health_shows_the_outbox_lag(client, db):
    await db.execute(
        "INSERT INTO outbox (topic, payload, created_at) "
        "VALUES ('order.placed', '{}', now() - interval '90 seconds')"
    )
    body = await (await client.get("/api/health")).json()
    assert 89 <= body["outbox_lag_seconds"] <= 120
    await db.execute("UPDATE outbox SET sent_at = now(), enqueues = 1")  # handed to the broker
    body = await (await client.get("/api/health")).json()
    assert body["outbox_lag_seconds"] == 0
