"""What PostgreSQL or Redis being unreachable looks like from here: a restart, a crash, a failover.

One answer for every caller (the error middlewares answer 503 `unavailable`), so a kind of error
that a restart produces is never a 500 in one place and a 503 in another.
"""

from __future__ import annotations

import asyncpg
import redis.exceptions

# By family rather than by leaf: one restart surfaces as a dozen different leaves.
DEPENDENCY_DOWN: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable
    TimeoutError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    # The connection closed, before or in the middle of an operation.
    asyncpg.InterfaceError,
    # A server that says goodbye to an idle pool connection (FATAL "terminating connection due to
    # administrator command") leaves asyncpg's protocol waiting for a sync message that never
    # comes; until the socket's EOF arrives, the pool still hands that connection out, and its
    # next query fails with "cannot switch to state 12; another operation (2) is in progress"
    # (MagicStack/asyncpg#1069). The pool terminates it on release, so the next one is fresh.
    asyncpg.InternalClientError,
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.CannotConnectNowError,  # starting up, shutting down, in recovery
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
)


def is_dependency_down(exc: BaseException) -> bool:
    """`exc`, or an error it was raised while handling, says a dependency is unreachable.

    The chain counts: a lost connection is often reported by what failed next (a transaction's
    exit, a pool's release), not by the error that lost it.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, DEPENDENCY_DOWN):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
