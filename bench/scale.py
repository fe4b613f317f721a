"""The catalog at 100,000 and at 1,000,000 products: each list, search and facet scenario on
both, back to back, and a broad search one client at a time.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/shop_bench_s1m \\
    SMALL_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/shop_bench_s100k \\
    REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/scale.py --reuse

Steps: unless --reuse, empty both databases (their names must contain "bench"), migrate and
seed them with `shop-api seed` and `shop-api seed --products` up to --small and --large
products (a million takes about five minutes here); start ONE web process on each (`shop-api
serve`); then for each scenario run wrk on the small one and right after on the large one, so
both see the same machine, and print req/s, p50, p95, p99 of each and the large/small ratio of
p95 (API.md "Scale", issue 16: at most 2). Last, the broad search ("walnut", in about 6.7 % of
the products) from one client (wrk -c1) on each. The output ends with a Markdown table for
bench/README.md. Stop everything it started.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from urllib.parse import urlencode

from _support import ROOT, Shop, ensure_port_free, record, start, start_services, stop_all
from catalog import CATEGORIES, OPTION_FILTERS, SEARCHES, lua_script, prepare, wrk_command

BROAD_SEARCH = "walnut"
# wrk --latency prints p50/75/90/99; p95 comes from the script's done().
P95_SCRIPT = (
    "done = function(summary, latency, requests)\n"
    "  io.write(string.format('P95 %d\\n', latency:percentile(95)))\n"
    "end\n"
)
TOP_LEVEL = ["electronics", "home-kitchen", "clothing-shoes", "sports-outdoors", "books"]
LEAVES = [slug for slug in CATEGORIES if slug not in TOP_LEVEL]


def scenarios() -> dict[str, list[str]]:
    def path(route: str, *pairs: tuple[str, str]) -> str:
        return f"/api/products{route}?{urlencode(pairs)}" if pairs else f"/api/products{route}"

    return {
        "list, plain (newest)": [path("/")],
        "list, top-level category": [path("/", ("category", slug)) for slug in TOP_LEVEL],
        "list, leaf category": [path("/", ("category", slug)) for slug in LEAVES],
        "list, price filter + sort=price": [
            path("/", ("min_price", low), ("max_price", high), ("sort", "price"))
            for low, high in (("10", "50"), ("50", "150"), ("100", "400"), ("20", "30"))],
        "list, option filter": [path("/", *[("option", o) for o in options])
                                for options in OPTION_FILTERS],
        "list, page 500 (the deepest)": [path("/", ("page", "500"))],
        "search (mixed words)": [path("/", ("search", text)) for text in SEARCHES],
        f"search, broad ({BROAD_SEARCH})": [path("/", ("search", BROAD_SEARCH))],
        "facets, broad": [path("/facets")],
        "facets, category": [path("/facets", ("category", slug)) for slug in CATEGORIES],
        "facets, search": [path("/facets", ("search", text)) for text in SEARCHES],
    }


@dataclass
class Figures:
    requests_per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: str

    def cells(self) -> list[str]:
        return [f"{self.requests_per_second:.0f}", f"{self.p50_ms:.1f}", f"{self.p95_ms:.1f}",
                f"{self.p99_ms:.1f}"]


def milliseconds(text: str) -> float:
    """A wrk duration ("1.23ms", "845.00us", "1.02s") in milliseconds."""
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000}[unit]


def run_wrk(base: str, paths: list[str], connections: int, duration: int) -> Figures:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua_script(paths) + P95_SCRIPT)
    try:
        output = subprocess.run(  # noqa: S603 - fixed arguments
            # A 30 s timeout: a slow request is measured, not dropped from the percentiles.
            [wrk_command(), "-t1", f"-c{connections}", f"-d{duration}s", "--latency",
             "--timeout", "30s", "-s", script.name, base],
            capture_output=True, text=True, check=True,
        ).stdout
    finally:
        os.unlink(script.name)

    def find(pattern: str) -> str:
        match = re.search(pattern, output, re.MULTILINE)
        if match is None:
            raise SystemExit(f"wrk printed no {pattern!r}:\n{output}")
        return match.group(1)

    errors = [match.group(1) for pattern in (r"Non-2xx or 3xx responses: (\d+)",
                                             r"Socket errors: (.*)$")
              if (match := re.search(pattern, output, re.MULTILINE))]
    return Figures(
        requests_per_second=float(find(r"Requests/sec:\s+([\d.]+)")),
        p50_ms=milliseconds(find(r"^\s+50%\s+(\S+)")),
        p95_ms=int(find(r"^P95 (\d+)")) / 1000,  # wrk's latency is in microseconds
        p99_ms=milliseconds(find(r"^\s+99%\s+(\S+)")),
        errors=", ".join(errors) or "none",
    )


def measure(shop: Shop, paths: list[str], connections: int, duration: int) -> Figures:
    base = f"http://127.0.0.1:{shop.port}"
    run_wrk(base, paths, connections, 2)  # warm-up: the server's caches and PostgreSQL's
    return run_wrk(base, paths, connections, duration)


def table(rows: list[tuple[str, int, Figures, Figures]], small: int, large: int) -> str:
    def size(n: int) -> str:
        return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"

    s, b = size(small), size(large)
    header = ["scenario", "-c", f"{s} req/s", f"{s} p50 ms", f"{s} p95 ms", f"{s} p99 ms",
              f"{b} req/s", f"{b} p50 ms", f"{b} p95 ms", f"{b} p99 ms", f"p95 {b}/{s}"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, connections, at_small, at_large in rows:
        ratio = at_large.p95_ms / at_small.p95_ms if at_small.p95_ms else float("nan")
        cells = [name, str(connections), *at_small.cells(), *at_large.cells(), f"{ratio:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=8, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--facet-connections", type=int, default=2)
    parser.add_argument("--port", type=int, default=8121)
    parser.add_argument("--only", help="run only the scenarios whose name contains this")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the databases a previous run seeded, without seeding")
    parser.add_argument("--json", help="also write each scenario's figures to this file")
    args = parser.parse_args()
    wrk_command()
    env, started = start_services("shop_bench_s1m")
    small_url = env.get("SMALL_DATABASE_URL")
    if small_url is None:
        raise SystemExit("SMALL_DATABASE_URL names the database of --small products")
    shops = [Shop(f"{args.small:,}", ROOT, small_url, args.port),
             Shop(f"{args.large:,}", ROOT, env["DATABASE_URL"], args.port + 1)]
    for shop in shops:
        ensure_port_free(shop.port)
    processes: list[subprocess.Popen] = []
    rows: list[tuple[str, int, Figures, Figures]] = []
    try:
        for shop, products in zip(shops, (args.small, args.large), strict=True):
            asyncio.run(prepare(shop, env, products, reuse=args.reuse))
        for shop in shops:
            shop.server = start(shop, env)
            processes.append(shop.server)
        print(f"\n1 web process per database (shop-api serve), PostgreSQL on the same machine, "
              f"{os.cpu_count()} CPUs; wrk -t1 -d{args.duration}s, -c{args.connections} for "
              f"lists and searches, -c{args.facet_connections} for facets")
        plan = [(name, paths, args.facet_connections if name.startswith("facets")
                 else args.connections) for name, paths in scenarios().items()]
        plan.append((f"search, broad ({BROAD_SEARCH}), one client",
                     scenarios()[f"search, broad ({BROAD_SEARCH})"], 1))
        for name, paths, connections in plan:
            if args.only and args.only not in name:
                continue
            at_small, at_large = (measure(shop, paths, connections, args.duration)
                                  for shop in shops)
            rows.append((name, connections, at_small, at_large))
            print(f"  {name} (-c{connections}):", flush=True)
            for shop, figures in zip(shops, (at_small, at_large), strict=True):
                print(f"    {shop.label:>9} products: {figures.requests_per_second:7.0f} req/s"
                      f"   p50 {figures.p50_ms:7.1f} ms   p95 {figures.p95_ms:7.1f} ms"
                      f"   p99 {figures.p99_ms:7.1f} ms   errors: {figures.errors}", flush=True)
            print(f"    p95 ratio: {at_large.p95_ms / at_small.p95_ms:.2f}", flush=True)
            record(args.json, f"scale {name}", {
                "connections": connections, "small": args.small, "large": args.large,
                "at_small": dataclasses.asdict(at_small), "at_large": dataclasses.asdict(at_large),
                "p95_ratio": at_large.p95_ms / at_small.p95_ms,
            })
        print("\n" + table(rows, args.small, args.large))
    finally:
        stop_all(processes, started)


if __name__ == "__main__":
    main()
