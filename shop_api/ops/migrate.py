"""Apply the yoyo migrations of `migrations/`: the same ones `yoyo apply --batch` runs."""

from __future__ import annotations

from pathlib import Path

from yoyo import get_backend, read_migrations

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "migrations"


def apply_migrations(database_url: str) -> int:
    """Apply what is not applied yet; returns how many ran (0 when up to date)."""
    backend = get_backend(database_url)
    migrations = read_migrations(str(MIGRATIONS_DIR))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return len(pending)
