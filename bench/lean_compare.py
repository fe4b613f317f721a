"""The project beside the lean reference (bench/lean.py), route by route, and its memory.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/shop_bench \\
    REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/lean_compare.py

On the database bench/catalog.py prepares (100,000 products; `--reuse` keeps one it left),
start ONE project web process (`shop-api serve`, with its production logging: LOG_LEVEL=INFO,
the access log as ACCESS_LOG says, written to a file) and the lean reference, both with the
same pool size, on the same machine. Check that both answer each route with the same keys.
Then, route by route, run wrk (catalog.py's scenarios and helpers) on the project and right
after on the lean server (the other way round every second round), --rounds times, and
print requests/s, p50/p99 (of the median round) and the ratio project/lean (the median of the
rounds' ratios: the machine may be shared, and only back-to-back runs see the same load).
Beside it, the server's own CPU time per request served (user + system, psutil), which
another load on the machine changes far less than it changes requests/s: lean/project of it
is the throughput ratio a CPU-bound server would reach on an idle machine.

Memory: the RSS of the web process after the whole load, and of a Dramatiq worker
(`dramatiq workers --processes 1 --threads 8` on the same database and Redis) after it has
imported everything and handled a few hundred messages.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import psutil
from _support import (
    ROOT,
    Shop,
    ensure_port_free,
    record,
    start_services,
    stop_all,
    wait_for_server,
)
from catalog import Outcome, prepare, run_wrk, scenarios, wrk_command

# The hot routes, by their catalog.py scenario names.
ROUTES = {
    "detail": "GET /api/products/<id>",
    "plain list": "GET /api/products/ (plain, newest)",
    "category": "GET /api/products/?category=<slug>",
    "search": "GET /api/products/?search=<text>",
    "option filter": "GET /api/products/?option=<Name:value>",
    "facets": "GET /api/products/facets (broad)",
    "facets category": "GET /api/products/facets?category=<slug>",
    "facets search": "GET /api/products/facets?search=<text>",
}
MB = 1024 * 1024


def shape(value: object) -> object:
    """The keys of a JSON answer, all the way down (a list by its first item)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return None


async def compare_shapes(bases: dict[str, str], paths: dict[str, list[str]]) -> list[str]:
    differences = []
    async with aiohttp.ClientSession() as session:
        for route, route_paths in paths.items():
            answers = {}
            for label, base in bases.items():
                async with session.get(base + route_paths[0]) as response:
                    answers[label] = (response.status, shape(await response.json()))
            if len(set(map(repr, answers.values()))) > 1:
                differences.append(f"{route}: {answers}")
    return differences


def start_project(shop: Shop, env: dict[str, str], log) -> subprocess.Popen:
    """`shop-api serve` as it runs in production: INFO logging (the access log as ACCESS_LOG
    says), written to `log`."""
    server = subprocess.Popen(  # noqa: S603 - fixed arguments
        [sys.executable, "-m", "shop_api.ops.cli", "serve", "--port", str(shop.port)],
        cwd=shop.code, env={**shop.environment(env), "LOG_LEVEL": "INFO"}, stderr=log,
    )
    asyncio.run(wait_for_server(f"http://127.0.0.1:{shop.port}", server))
    return server


def start_lean(env: dict[str, str], port: int) -> subprocess.Popen:
    server = subprocess.Popen(  # noqa: S603 - fixed arguments
        [sys.executable, str(ROOT / "bench" / "lean.py"), "--port", str(port)],
        cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)},
    )
    asyncio.run(wait_for_server(f"http://127.0.0.1:{port}", server))
    return server


def rss_of(pid: int) -> list[tuple[str, float]]:
    """The RSS in MB of a process and of each of its descendants."""
    parent = psutil.Process(pid)
    return [(f"{process.pid} {' '.join(process.cmdline()[1:4])}", process.memory_info().rss / MB)
            for process in [parent, *parent.children(recursive=True)]]


def worker_rss(shop: Shop, env: dict[str, str], messages: int) -> list[tuple[str, float]]:
    """Start a one-process worker of `shop`, give it `messages` messages, read its processes'
    RSS."""
    env = shop.environment(env)
    dramatiq_command = os.path.join(os.path.dirname(sys.executable), "dramatiq")
    worker = subprocess.Popen(  # noqa: S603 - fixed arguments
        [dramatiq_command, "workers", "--processes", "1", "--threads", "8"],
        cwd=shop.code, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        sender = (
            "import workers.recommendations as r\n"
            f"for order_id in range(1, {messages + 1}):\n"
            "    r.update_recommendations.send(order_id)\n"
        )
        subprocess.run([sys.executable, "-c", sender], cwd=shop.code, env=env, check=True)  # noqa: S603
        time.sleep(10)  # boot, import, drain
        return rss_of(worker.pid)
    finally:
        stop_all([worker])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds per run of a route")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--port", type=int, default=8097)
    parser.add_argument("--only", help="run only the routes whose name contains one of these "
                        "(comma-separated)")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the database a previous run left, without seeding")
    parser.add_argument("--worker-messages", type=int, default=300)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--code", type=Path, default=ROOT,
                        help="the checkout whose web process is measured (default: this one)")
    args = parser.parse_args()
    wrk_command()
    env, started = start_services("shop_bench")
    shop = Shop("project", args.code.resolve(), env["DATABASE_URL"], args.port)
    lean_port = args.port + 2
    for port in (shop.port, lean_port):
        ensure_port_free(port)
    processes: list[subprocess.Popen] = []
    log = tempfile.NamedTemporaryFile("w", prefix="shop-api-access-", suffix=".log", delete=False)
    try:
        ids = asyncio.run(prepare(shop, env, args.products, reuse=args.reuse))
        shop.server = start_project(shop, env, log)
        processes.append(shop.server)
        processes.append(start_lean(env, lean_port))
        bases = {"project": f"http://127.0.0.1:{shop.port}", "lean": f"http://127.0.0.1:{lean_port}"}
        paths = {route: scenarios(ids)[name][0] for route, name in ROUTES.items()}
        for difference in asyncio.run(compare_shapes(bases, paths)):
            print(f"  KEYS DIFFER: {difference}")
        print(
            f"1 web process of {shop.code} (ACCESS_LOG={env.get('ACCESS_LOG', 'default')}, "
            f"log to {log.name}) and the lean reference, pool {env.get('DB_POOL_MAX', '10')} each, "
            f"{os.cpu_count()} CPUs; wrk -t1 -c{args.connections} -d{args.duration}s, "
            f"{args.rounds} round(s) a route, project and lean back to back"
        )
        results: dict[str, dict[str, list[Outcome]]] = {}
        cpu: dict[str, dict[str, list[float]]] = {}
        pids = {"project": shop.server.pid, "lean": processes[-1].pid}
        for route, route_paths in paths.items():
            if args.only and not any(part in route for part in args.only.split(",")):
                continue
            for round_number in range(args.rounds):
                order = [("project", shop.port), ("lean", lean_port)]
                for label, port in order[::-1] if round_number % 2 else order:
                    base = f"http://127.0.0.1:{port}"
                    run_wrk(base, route, route_paths, args.connections, 2)  # warm-up
                    used = cpu_seconds(pids[label])
                    outcome = run_wrk(base, route, route_paths, args.connections, args.duration)
                    served = outcome.requests_per_second * args.duration
                    per_request = (cpu_seconds(pids[label]) - used) / served * 1e6
                    results.setdefault(route, {}).setdefault(label, []).append(outcome)
                    cpu.setdefault(route, {}).setdefault(label, []).append(per_request)
                    print(f"  {route:<16} {label:<8} {outcome.requests_per_second:>7.0f} req/s "
                          f"p50 {outcome.p50:>8} p99 {outcome.p99:>8} "
                          f"CPU {per_request:>6.0f} us/request errors: {outcome.errors}",
                          flush=True)
        print("\n| route | project req/s | p50 | p99 | lean req/s | p50 | p99 | project/lean "
              "| server CPU a request, project / lean | lean/project |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for route, by_label in results.items():
            project, lean = (median(by_label[label]) for label in ("project", "lean"))
            # Each round's two runs were back to back: the ratio is the median of theirs.
            ratio = statistics.median(
                mine.requests_per_second / theirs.requests_per_second
                for mine, theirs in zip(by_label["project"], by_label["lean"], strict=True)
            )
            mine, theirs = (statistics.median(cpu[route][label]) for label in ("project", "lean"))
            print(f"| {route} | {project.requests_per_second:.0f} | {project.p50} | "
                  f"{project.p99} | {lean.requests_per_second:.0f} | {lean.p50} | {lean.p99} | "
                  f"{ratio:.2f} | {mine:.0f} / {theirs:.0f} us | {theirs / mine:.2f} |")
            record(args.json, f"lean {route}", {
                "project": {"per_second": project.requests_per_second, "p50": project.p50,
                            "p99": project.p99, "cpu_us": mine},
                "lean": {"per_second": lean.requests_per_second, "p50": lean.p50,
                         "p99": lean.p99, "cpu_us": theirs},
                "ratio": ratio,
            })
        print("\nRSS after the load:")
        web = rss_of(shop.server.pid)
        for name, megabytes in web:
            print(f"  web    {name}: {megabytes:.0f} MB")
        stop_all(processes)
        processes.clear()
        worker = worker_rss(shop, env, args.worker_messages)
        for name, megabytes in worker:
            print(f"  worker {name}: {megabytes:.0f} MB")
        record(args.json, "rss", {"web_mb": max(mb for _, mb in web),
                                  "worker_mb": max(mb for _, mb in worker)})
    finally:
        stop_all(processes, started)
        log.close()


def cpu_seconds(pid: int) -> float:
    """The user and system CPU time a server has used so far (its children's too)."""
    process = psutil.Process(pid)
    return sum(sum(each.cpu_times()[:2]) for each in [process, *process.children(recursive=True)])


def median(outcomes: list[Outcome]) -> Outcome:
    """The round of median requests/s (its own latencies with it)."""
    ordered = sorted(outcomes, key=lambda outcome: outcome.requests_per_second)
    return ordered[(len(ordered) - 1) // 2]


if __name__ == "__main__":
    main()
