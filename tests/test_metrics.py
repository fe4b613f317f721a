"""GET /metrics: the Prometheus text, read as Prometheus reads it (prometheus_client's parser).

Counters are read before and after the requests a test sends, so each moves by exactly what was
sent. Scrapes of /metrics are counted like any other request, under route="/metrics": each
scrape shows the ones before it. The multiprocess test runs real `shop-api serve` and
`dramatiq workers` processes on one PROMETHEUS_MULTIPROC_DIR, which prometheus-client reads
when it is imported: in subprocesses only, never in this one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import dramatiq
import pytest
from factories import assert_problem, create_product, eventually
from faults import free_port
from processes import WebServer
from prometheus_client.parser import text_string_to_metric_families

from shop_api.broker import create_broker
from shop_api.domain import events
from shop_api.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
REQUESTS = "shop_http_requests_total"
DURATION_COUNT = "shop_http_request_duration_seconds_count"

Samples = dict[tuple[str, frozenset], float]


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """A series' value; a labelled series not seen yet is at 0, as Prometheus takes it."""
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(client, **kwargs) -> Samples:
    response = await client.get("/metrics", **kwargs)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parse(await response.text())


@pytest.fixture
async def app_client(aiohttp_client, settings):
    """The app, with one route that fails the way a bug does (a 500), as tests/test_errors.py."""
    app = create_app(settings)

    async def broken(request):
        raise RuntimeError("a bug")

    app.router.add_get("/boom/{n}", broken)
    return await aiohttp_client(app)


async def _times(count: int, request) -> list[int]:
    """`count` requests at once; their statuses."""
    responses = await asyncio.gather(*(request() for _ in range(count)))
    statuses = [response.status for response in responses]
    for response in responses:
        response.release()
    return statuses


async def test_each_request_is_counted_once_under_its_route_template(app_client, db):
    client = app_client
    product = await create_product(db)
    before = await scrape(client)

    assert await _times(5, lambda: client.get("/api/products")) == [200] * 5
    assert await _times(2, lambda: client.get("/api/products/")) == [200] * 2
    assert await _times(4, lambda: client.get(f"/api/products/{product}")) == [200] * 4
    assert await _times(3, lambda: client.get("/api/products/987654")) == [404] * 3
    assert await _times(6, lambda: client.get("/no/such/place-4711")) == [404] * 6
    assert await _times(2, lambda: client.get("/api/products/4711x")) == [404] * 2
    assert await _times(2, lambda: client.post("/api/auth/register", json={})) == [422] * 2
    assert await _times(3, lambda: client.get("/boom/7")) == [500] * 3
    assert await _times(2, lambda: client.request("PROPFIND", "/api/products")) == [405] * 2
    response = await client.get("/boom/8")
    await assert_problem(response, 500, "internal_error")

    after = await scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    products = "/api/products"
    one_product = "/api/products/{product_id}"
    # With and without its trailing slash, a collection is one route.
    assert moved(REQUESTS, route=products, method="GET", status="200") == 7
    assert moved(REQUESTS, route=one_product, method="GET", status="200") == 4
    assert moved(REQUESTS, route=one_product, method="GET", status="404") == 3
    # Paths no route matches: one fixed label, whatever the path.
    assert moved(REQUESTS, route="unmatched", method="GET", status="404") == 8
    assert moved(REQUESTS, route="/api/auth/register", method="POST", status="422") == 2
    assert moved(REQUESTS, route="/boom/{n}", method="GET", status="500") == 4
    # A method no route has (aiohttp takes any token): one label for them all.
    assert moved(REQUESTS, route="unmatched", method="other", status="405") == 2
    # The first scrape, counted when it was answered; the second one is not yet.
    assert moved(REQUESTS, route="/metrics", method="GET", status="200") == 1
    # Nothing else was counted: every request is in exactly one series.
    total = sum(
        moved(name, **dict(labels)) for name, labels in after if name == REQUESTS
    )
    assert total == 7 + 4 + 3 + 8 + 2 + 4 + 2 + 1
    assert not any(
        "4711" in label or "PROPFIND" in label for _, labels in after for _, label in labels
    )

    assert moved(DURATION_COUNT, route=products, method="GET") == 7
    assert moved(DURATION_COUNT, route=one_product, method="GET") == 7
    assert moved(DURATION_COUNT, route="unmatched", method="GET") == 8
    bucket = "shop_http_request_duration_seconds_bucket"
    assert moved(bucket, route=one_product, method="GET", le="+Inf") == 7


async def test_admin_pages_are_counted_by_their_template_too(app_client):
    before = await scrape(app_client)
    response = await app_client.get("/admin/login")
    assert response.status == 200
    after = await scrape(app_client)
    labels = {"route": "/admin/login", "method": "GET", "status": "200"}
    assert value(after, REQUESTS, **labels) - value(before, REQUESTS, **labels) == 1


async def test_a_metrics_token_is_required_when_set(aiohttp_client, settings):
    token = "metrics-token-0123456789"
    client = await aiohttp_client(create_app(dataclasses.replace(settings, metrics_token=token)))
    right = {"Authorization": f"Bearer {token}"}
    before = await scrape(client, headers=right)
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {token}x"},
        {"Authorization": f"Bearer {token[:-1]}"},
        {"Authorization": f"Basic {token}"},
        {"Authorization": "Bearer"},
    ):
        response = await client.get("/metrics", headers=headers)
        await assert_problem(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "shop_http" not in await response.text()
    after = await scrape(client, headers=right)
    for status, count in (("401", 6), ("200", 1)):
        labels = {"route": "/metrics", "method": "GET", "status": status}
        assert value(after, REQUESTS, **labels) - value(before, REQUESTS, **labels) == count


async def test_the_route_is_in_the_openapi_document(client):
    document = await (await client.get("/api/openapi.json")).json()
    operation = document["paths"]["/metrics"]["get"]
    assert set(operation["responses"]) == {"200", "401"}


async def test_the_pool_and_outbox_gauges(client, db, settings):
    samples = await scrape(client)
    size = value(samples, "shop_db_pool_size")
    assert 1 <= size <= settings.db_pool_max
    assert 0 <= value(samples, "shop_db_pool_in_use") <= size
    assert value(samples, "shop_db_pool_max_size") == settings.db_pool_max
    assert value(samples, "shop_outbox_unsent") == 0
    assert value(samples, "shop_outbox_oldest_unsent_age_seconds") == 0

    await db.execute(
        "INSERT INTO outbox (topic, payload, pending_tasks, created_at) VALUES"
        " ('order.placed', '{}', '{send_email}', now() - interval '90 seconds'),"
        " ('order.placed', '{}', '{send_email}', now() - interval '10 seconds'),"
        " ('order.placed', '{}', '{send_email}', now())"
    )
    # Enqueued (handed to the broker) or done: not unsent any more.
    await db.execute(
        "INSERT INTO outbox (topic, payload, pending_tasks, created_at, enqueues) VALUES"
        " ('order.placed', '{}', '{send_email}', now() - interval '1 hour', 1)"
    )
    await db.execute(
        "INSERT INTO outbox (topic, payload, created_at, completed_at) VALUES"
        " ('order.placed', '{}', now() - interval '2 hours', now())"
    )
    samples = await scrape(client)
    assert value(samples, "shop_outbox_unsent") == 3
    assert 89 <= value(samples, "shop_outbox_oldest_unsent_age_seconds") <= 120

    await db.execute("UPDATE outbox SET sent_at = now(), enqueues = 1")
    samples = await scrape(client)
    assert value(samples, "shop_outbox_unsent") == 0
    assert value(samples, "shop_outbox_oldest_unsent_age_seconds") == 0


async def test_metrics_are_served_while_postgresql_is_down(
    aiohttp_client, settings, running_postgres
):
    client = await aiohttp_client(
        create_app(dataclasses.replace(settings, database_url=running_postgres.url))
    )
    assert "shop_outbox_unsent" in {name for name, _ in await scrape(client)}
    labels = {"route": "/api/products", "method": "GET", "status": "503"}
    running_postgres.stop("fast")
    try:
        before = await scrape(client)
        response = await client.get("/api/products")
        await assert_problem(response, 503, "unavailable")
        during = await scrape(client)
    finally:
        running_postgres.start()
    # What this process counted is still there; what only the database knows is left out.
    assert value(during, REQUESTS, **labels) - value(before, REQUESTS, **labels) == 1
    assert "shop_outbox_unsent" not in {name for name, _ in during}
    assert "shop_db_pool_size" in {name for name, _ in during}
    back = await eventually(lambda: _outbox_series(client))
    assert value(back, "shop_outbox_unsent") == 0


async def _outbox_series(client) -> Samples | None:
    samples = await scrape(client)
    return samples if "shop_outbox_unsent" in {name for name, _ in samples} else None


# -- several processes ---------------------------------------------------------------------


def _start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - our own command
        [sys.executable, *argv], cwd=ROOT, env=env,
        stdout=log.open("a"), stderr=subprocess.STDOUT, start_new_session=True,
    )


def _stop(process: subprocess.Popen) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait(10)


async def _get_times(session, url: str, count: int) -> None:
    async def one() -> int:
        async with session.get(url) as response:
            return response.status

    assert await asyncio.gather(*(one() for _ in range(count))) == [200] * count


def _environment(services, settings, pool_max: int, **more: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "ENV": "test",
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis_url,
        "SECRET_KEY": settings.secret_key,
        "RELAY_IN_WEB": "false",
        "DB_POOL_MIN": "1",
        "DB_POOL_MAX": str(pool_max),
        "LOG_LEVEL": "WARNING",
        **more,
    }


async def test_processes_on_one_directory_add_up(services, settings, tmp_path):
    directory = tmp_path / "metrics"
    directory.mkdir()
    pool_max = 3
    env = _environment(services, settings, pool_max, PROMETHEUS_MULTIPROC_DIR=str(directory),
                       BROKER_URL=services.redis_url, WEB_CONCURRENCY="1")
    webs = [WebServer(env, tmp_path / f"web-{n}.log", free_port()).start() for n in range(2)]
    worker = _start(
        ["-m", "dramatiq", "workers", "--processes", "1", "--threads", "2"], env,
        tmp_path / "worker.log",
    )
    broker = create_broker(services.redis_url)
    first, second = (web.base_url for web in webs)
    try:
        async with aiohttp.ClientSession() as session:
            for web in webs:
                await web.wait_until_up()

            async def samples() -> Samples:
                async with session.get(f"{first}/metrics") as response:
                    assert response.status == 200
                    return parse(await response.text())

            labels = {"route": "/api/products", "method": "GET", "status": "200"}
            before = value(await samples(), REQUESTS, **labels)
            await _get_times(session, f"{first}/api/products", 7)
            await _get_times(session, f"{second}/api/products", 5)

            actor = events.UPDATE_RECOMMENDATIONS
            queue = events.QUEUES[actor]
            # No such order: nothing to score, a success. Not an id: the actor raises. No
            # retries, so each message is handled exactly once.
            for args in [(987654,)] * 3 + [("not-an-id",)] * 2:
                broker.enqueue(dramatiq.Message(
                    queue_name=queue, actor_name=actor, args=args, kwargs={},
                    options={"max_retries": 0},
                ))

            async def handled() -> Samples | None:
                now = await samples()
                done = value(now, "shop_worker_messages_total", actor=actor, outcome="succeeded")
                failed = value(now, "shop_worker_messages_total", actor=actor, outcome="failed")
                return now if (done, failed) == (3, 2) else None

            now = await eventually(handled, within=60)
            assert value(now, REQUESTS, **labels) - before == 12
            # Every actor's series is there from the worker's start, at 0 when nothing happened.
            assert value(now, "shop_worker_messages_total", actor=events.SEND_EMAIL,
                         outcome="failed") == 0
            assert ("shop_worker_messages_total",
                    frozenset({"actor": events.SEND_EMAIL, "outcome": "failed"}.items())) in now
            # Both web processes' pools, summed ('livesum').
            assert value(now, "shop_db_pool_max_size") == 2 * pool_max

            assert await asyncio.to_thread(_stop, webs[1].process) == 0
            after = await samples()
            # The stopped process's requests happened: still counted. Its pool is gone.
            assert value(after, REQUESTS, **labels) - before == 12
            assert value(after, "shop_db_pool_max_size") == pool_max
    finally:
        broker.close()
        for process in (*(web.process for web in webs), worker):
            _stop(process)


async def test_the_processes_of_one_server_count_every_request(services, settings, tmp_path):
    """WEB_CONCURRENCY=2 and no PROMETHEUS_MULTIPROC_DIR: the server makes a directory of its
    own, every scrape (whichever process answers it) counts every request, a process killed
    and started again leaves its counts in and its pool out, and the directory goes at exit."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    pool_max = 3
    env = _environment(services, settings, pool_max, TMPDIR=str(temp), WEB_CONCURRENCY="2")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = WebServer(env, tmp_path / "web.log", free_port()).start()
    labels = {"route": "/api/products", "method": "GET", "status": "200"}
    # A connection per request: the kernel spreads them over the two processes.
    connector = aiohttp.TCPConnector(force_close=True)
    try:
        await server.wait_until_up()
        assert [path.name[:17] for path in temp.iterdir()] == ["shop-api-metrics-"]
        async with aiohttp.ClientSession(connector=connector) as session:

            async def scrapes() -> list[Samples]:
                texts = []
                for _ in range(6):
                    async with session.get(f"{server.base_url}/metrics") as response:
                        assert response.status == 200
                        texts.append(parse(await response.text()))
                return texts

            async def both_pools() -> list[Samples] | None:
                texts = await scrapes()
                pools = {value(samples, "shop_db_pool_max_size") for samples in texts}
                return texts if pools == {2 * pool_max} else None

            await eventually(both_pools, within=30)  # both processes are up
            await _get_times(session, f"{server.base_url}/api/products", 20)
            for samples in await scrapes():
                assert value(samples, REQUESTS, **labels) == 20
                assert value(samples, "shop_db_pool_max_size") == 2 * pool_max

            killed = server.children()[0]
            killed.kill()
            killed.wait(10)

            async def replaced() -> bool:
                return len(server.children()) == 2 and killed not in server.children()

            await eventually(replaced, within=60)
            # Its pool in the sums again, and the killed one's out (it would make three).
            await eventually(both_pools, within=30)
            await _get_times(session, f"{server.base_url}/api/products", 5)
            for samples in await scrapes():
                assert value(samples, REQUESTS, **labels) == 25
                assert value(samples, "shop_db_pool_max_size") == 2 * pool_max
        assert await asyncio.to_thread(_stop, server.process) == 0
        assert list(temp.iterdir()) == []
    finally:
        server.kill()


@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_missing_directory_stops_the_server_with_one_line(tmp_path, processes):
    missing = tmp_path / "not-there"
    completed = subprocess.run(  # noqa: S603 - our own command
        [sys.executable, "-m", "shop_api.ops.cli", "serve", "--port", str(free_port()),
         "--processes", processes],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "PROMETHEUS_MULTIPROC_DIR":
                       str(missing)},
        capture_output=True, text=True, timeout=60,
    )
    assert completed.returncode == 1
    assert completed.stderr == (
        f"shop-api: error: PROMETHEUS_MULTIPROC_DIR must name an existing directory, not "
        f"{str(missing)!r}\n"
    )


def test_dev_gives_its_processes_a_fresh_directory(tmp_path, monkeypatch):
    from shop_api.ops import cli, embedded

    monkeypatch.setattr(embedded, "DATA_DIR", tmp_path)
    stale = tmp_path / "metrics" / "counter_12345.db"
    stale.parent.mkdir()
    stale.write_bytes(b"from the last run")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    cli._fresh_metrics_dir()
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path / "metrics")
    assert list((tmp_path / "metrics").iterdir()) == []
    # A directory of the developer's own is theirs: used as it is.
    own = tmp_path / "own"
    own.mkdir()
    (own / "counter_1.db").write_bytes(b"theirs")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(own))
    cli._fresh_metrics_dir()
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(own)
    assert (own / "counter_1.db").exists()
