"""Issue 16's table from one run: the project beside the lean reference, checkout beside
pgbench, the hot product, 100,000 beside 1,000,000 products, and the processes' memory.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/shop_bench_s1m \\
    REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/report.py --reuse

Runs, one after the other on the same machine, each bench with --json and prints their own
output as they go, then one Markdown table of every figure beside its target (the table in
bench/README.md):

1. bench/lean_compare.py on the 100,000-product database: the hot routes, project/lean, and
   the RSS of the web process after that load and of a worker after some messages;
2. bench/checkout_pgbench.py: checkouts/s with a key, a coupon and shipping, over pgbench's
   transactions/s running the same statements;
3. bench/checkout.py's hot scenario: --hot-buyers clients at once on one variant, served by
   WEB_CONCURRENCY processes (default 2, as on this 2-CPU machine by default);
4. bench/scale.py: each list, search and facet scenario at 100,000 and at 1,000,000 products.

The databases sit on DATABASE_URL's server, named shop_bench_s100k, shop_bench_s1m and
shop_bench_checkout (created when missing; their schemas are rebuilt unless --reuse finds them
seeded: a million products take about five minutes). Without DATABASE_URL / REDIS_URL it
starts the embedded servers, as every bench does.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _support import ROOT, database_named, start_services, stop_all

BENCH = ROOT / "bench"
# Issue 16's targets of project/lean, by lean_compare.py's route names.
LEAN_TARGETS = {"detail": 0.85, "plain list": 0.9, "category": 0.9, "search": 0.9,
                "option filter": 0.9}


def run(script: str, arguments: list[str], env: dict[str, str]) -> None:
    print(f"\n=== bench/{script} {' '.join(arguments)}", flush=True)
    subprocess.run(  # noqa: S603 - our own scripts
        [sys.executable, str(BENCH / script), *arguments], env=env, check=True
    )


def table(figures: dict) -> str:
    rows: list[tuple[str, str, str, str, str, str]] = []

    def add(what: str, mine: str, theirs: str, ratio: str, target: str, met: bool | None):
        rows.append((what, mine, theirs, ratio, target, "-" if met is None else
                     ("yes" if met else "**no**")))

    for key, found in figures.items():
        if not key.startswith("lean "):
            continue
        route = key.removeprefix("lean ")
        project, lean = found["project"], found["lean"]
        target = LEAN_TARGETS.get(route)
        add(f"{route}: req/s (p50 / p99), project vs lean",
            f"{project['per_second']:.0f} ({project['p50']} / {project['p99']})",
            f"{lean['per_second']:.0f} ({lean['p50']} / {lean['p99']})",
            f"{found['ratio']:.2f}", f"≥ {target}" if target else "", None if target is None
            else found["ratio"] >= target)
    if checkout := figures.get("checkout against pgbench"):
        add(f"checkout, key + coupon + shipping, {checkout['clients']} clients: checkouts/s vs "
            f"pgbench tps ({checkout['statements']} statements)",
            f"{checkout['checkouts_per_second']:.0f}", f"{checkout['pgbench_tps']:.0f}",
            f"{checkout['ratio']:.2f}", "≥ 0.5", checkout["ratio"] >= 0.5)
    for key, hot in figures.items():
        if key.startswith("checkout hot"):
            add(f"hot product, {hot['clients']} buyers on one variant, {hot['processes']} web "
                f"processes: p99 (p50, checkouts/s, 5xx, oversold)",
                f"{hot['p99_ms']:.0f} ms ({hot['p50_ms']:.0f} ms, {hot['per_second']:.0f}/s, "
                f"{hot['server_errors']}, {hot['oversold']})", "", "",
                "< 1 s, no 5xx, 0 oversold",
                hot["p99_ms"] < 1000 and hot["server_errors"] == 0 and hot["oversold"] == 0)
    for key, scale in figures.items():
        if not key.startswith("scale "):
            continue
        name, small, large = key.removeprefix("scale "), scale["at_small"], scale["at_large"]
        if scale["connections"] == 1:
            add(f"{name} at {scale['large']:,}: p99", f"{large['p99_ms']:.0f} ms",
                f"{small['p99_ms']:.0f} ms at {scale['small']:,}", "", "< 250 ms",
                large["p99_ms"] < 250)
            continue
        add(f"{name}, -c{scale['connections']}: p95 (req/s) at {scale['large']:,} vs "
            f"{scale['small']:,}",
            f"{large['p95_ms']:.0f} ms ({large['requests_per_second']:.0f}/s)",
            f"{small['p95_ms']:.0f} ms ({small['requests_per_second']:.0f}/s)",
            f"{scale['p95_ratio']:.2f}", "≤ 2", scale["p95_ratio"] <= 2)
    if rss := figures.get("rss"):
        add("RSS of the web process after the catalog load", f"{rss['web_mb']:.0f} MB", "", "",
            "< 150 MB", rss["web_mb"] < 150)
        add("RSS of a worker process after its messages", f"{rss['worker_mb']:.0f} MB", "", "",
            "< 200 MB", rss["worker_mb"] < 200)
    lines = ["| what | this project | reference | ratio | target | met |",
             "| --- | --- | --- | --- | --- | --- |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", action="store_true",
                        help="measure the catalog databases a previous run seeded")
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="lean_compare's rounds a route")
    parser.add_argument("--hot-buyers", type=int, default=200)
    parser.add_argument("--json", type=Path, help="keep the figures in this file")
    args = parser.parse_args()
    env, started = start_services("shop_bench_s1m")
    large = env["DATABASE_URL"]
    small = database_named(large, "shop_bench_s100k")
    figures_file = args.json or Path(tempfile.mkstemp(prefix="shop-bench-", suffix=".json")[1])
    figures_file.write_text("")
    out = ["--json", str(figures_file)]
    reuse = ["--reuse"] if args.reuse else []
    duration = ["--duration", str(args.duration)]
    try:
        run("lean_compare.py", [*reuse, *duration, "--rounds", str(args.rounds), *out],
            {**env, "DATABASE_URL": small})
        checkout_env = {**env, "DATABASE_URL": database_named(large, "shop_bench_checkout")}
        run("checkout_pgbench.py", out, checkout_env)
        run("checkout.py", ["--scenarios", "hot", "--concurrency", str(args.hot_buyers),
                            "--buyers", str(args.hot_buyers * 20), *out],
            {**checkout_env, "WEB_CONCURRENCY": os.environ.get("WEB_CONCURRENCY", "2")})
        run("scale.py", [*reuse, *duration, *out], {**env, "SMALL_DATABASE_URL": small})
    finally:
        stop_all([], started)
    print(f"\n{os.cpu_count()} CPUs; figures in {figures_file}\n")
    print(table(json.loads(figures_file.read_text())))


if __name__ == "__main__":
    main()
