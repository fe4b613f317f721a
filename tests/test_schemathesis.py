"""Property-based fuzzing of every documented route: no 5xx, no answer outside its schema.

Schemathesis reads /api/openapi.json from a real server backed by the test database and sends
positive and negative data (fixed seed, bounded examples) with an admin's token, so routes
added later are covered without touching this file.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

from factories import create_account

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
    ]
)


def _schemathesis() -> list[str]:
    beside_python = Path(sys.executable).with_name("schemathesis")
    found = str(beside_python) if beside_python.exists() else shutil.which("schemathesis")
    assert found, "schemathesis is a dev dependency: pip install -e '.[dev]'"
    return [found]


async def test_fuzz_every_documented_route(aiohttp_server, settings, db, tmp_path):
    from shop_api.web.app import create_app

    server = await aiohttp_server(create_app(settings))
    base = f"http://{server.host}:{server.port}"
    # Any client of the fuzzed app; only its login route is used, to get a token.
    from aiohttp import ClientSession

    class _Client:
        def __init__(self, session):
            self.session = session

        async def post(self, path, **kwargs):
            return await self.session.post(base + path, **kwargs)

    async with ClientSession() as session:
        admin = await create_account(
            db, "fuzz-admin@example.com", role="admin", client=_Client(session)
        )

    process = await asyncio.create_subprocess_exec(
        *_schemathesis(),
        "run",
        f"{base}/api/openapi.json",
        "--checks", CHECKS,
        "--mode", "all",
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", "25",
        "--seed", "20261124",
        "--header", f"Authorization: Bearer {admin.access_token}",
        "--generation-database", "none",
        "--workers", "1",
        "--no-color",
        "--report", "junit",
        "--report-dir", str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=600)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-12000:]
