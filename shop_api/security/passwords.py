"""bcrypt, always in a worker thread: a hash at 12 rounds takes ~250 ms of CPU."""

from __future__ import annotations

import asyncio
import functools

import bcrypt

# bcrypt reads at most 72 bytes; longer passwords are refused at registration.
MAX_PASSWORD_BYTES = 72

# What a deleted account's password_hash becomes. No bcrypt hash starts with "!", and a hash
# that does matches no password (bcrypt itself would raise on it).
UNUSABLE_PASSWORD_HASH = "!"


async def hash_password(password: str, rounds: int) -> str:
    hashed = await asyncio.to_thread(bcrypt.hashpw, password.encode(), bcrypt.gensalt(rounds))
    return hashed.decode()


async def verify_password(password: str, password_hash: str | None, rounds: int) -> bool:
    """Check a password; with no usable hash (unknown email, deleted account) spend the same
    time and say no."""
    candidate = password.encode()
    unusable = password_hash is None or password_hash.startswith(UNUSABLE_PASSWORD_HASH)
    if unusable or len(candidate) > MAX_PASSWORD_BYTES:
        # Same cost as a real check, so response time does not reveal which emails exist.
        await asyncio.to_thread(_check_against_dummy, candidate[:MAX_PASSWORD_BYTES], rounds)
        return False
    return await asyncio.to_thread(bcrypt.checkpw, candidate, password_hash.encode())


def _check_against_dummy(candidate: bytes, rounds: int) -> None:
    # Runs in the worker thread: the first call per `rounds` also hashes the dummy, and that
    # quarter second must not block the event loop.
    bcrypt.checkpw(candidate, _dummy_hash(rounds))


@functools.lru_cache(maxsize=4)
def _dummy_hash(rounds: int) -> bytes:
    return bcrypt.hashpw(b"not-a-real-password", bcrypt.gensalt(rounds))
