"""Registration, login, token rotation and password changes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from shop_api.db import Queryable, queries
from shop_api.domain import outbox, topics
from shop_api.errors import ApiError, Unauthorized, ValidationFailed
from shop_api.security import tokens
from shop_api.security.email_key import email_key
from shop_api.security.passwords import hash_password, verify_password
from shop_api.settings import Settings


class InvalidCredentials(ApiError):
    status, code = 401, "invalid_credentials"

    def __init__(self) -> None:
        super().__init__("The email or password is wrong.")


class AccountDisabled(ApiError):
    status, code = 403, "account_disabled"

    def __init__(self) -> None:
        super().__init__("This account has been deactivated.")


def check_token_still_valid(user: asyncpg.Record | None, claims: dict) -> asyncpg.Record:
    """A token dies with its user, a deactivation, or a password change (version bump).

    The API's bearer check, the refresh rotation and the admin pages' session check all ask it.
    """
    if user is None or user["token_version"] != claims["ver"] or not user["is_active"]:
        raise Unauthorized("The token is no longer valid.")
    return user


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int

    def as_dict(self) -> dict:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }


async def register(
    pool: asyncpg.Pool, settings: Settings, *, email: str, password: str, full_name: str
) -> asyncpg.Record:
    # Hashed before a connection is taken: bcrypt's quarter second holds no pool slot.
    password_hash = await hash_password(password, settings.bcrypt_rounds)
    async with pool.acquire() as conn, conn.transaction():
        user = await queries.create_user(
            conn,
            email=email.strip(),
            password_hash=password_hash,
            full_name=full_name,
            role="customer",
        )
        await outbox.publish(conn, topics.USER_REGISTERED, {"user_id": user["id"]})
    return user


async def check_credentials(
    pool: asyncpg.Pool, settings: Settings, *, email: str, password: str
) -> asyncpg.Record:
    """The active user with this email and password, else InvalidCredentials / AccountDisabled.

    Shared by the API login, which then issues tokens, and the admin pages' form login, which
    starts a session instead and has no use for a token pair.
    """
    row = await queries.get_login_by_email(pool, email_key=email_key(email))
    matches = await verify_password(
        password, row["password_hash"] if row else None, settings.bcrypt_rounds
    )
    if row is None or not matches:
        raise InvalidCredentials()
    if not row["is_active"]:
        raise AccountDisabled()
    return row


async def login(
    pool: asyncpg.Pool, settings: Settings, *, email: str, password: str
) -> tuple[asyncpg.Record, TokenPair]:
    row = await check_credentials(pool, settings, email=email, password=password)
    async with pool.acquire() as conn:
        pair = await issue_pair(conn, settings, row, family_id=uuid.uuid4())
    return row, pair


async def issue_pair(
    conn: asyncpg.Connection, settings: Settings, user: asyncpg.Record, *, family_id: uuid.UUID
) -> TokenPair:
    access = tokens.issue(
        settings,
        token_type=tokens.ACCESS,
        user_id=user["id"],
        token_version=user["token_version"],
        family_id=family_id,
    )
    refresh = tokens.issue(
        settings, token_type=tokens.REFRESH, user_id=user["id"], token_version=user["token_version"]
    )
    await queries.insert_refresh_token(
        conn,
        jti=refresh.jti,
        user_id=user["id"],
        family_id=family_id,
        expires_at=refresh.expires_at,
    )
    return TokenPair(access.token, refresh.token, settings.access_token_minutes * 60)


async def refresh(conn: asyncpg.Connection, settings: Settings, *, token: str) -> TokenPair:
    """Use up a refresh token and issue the next one of its family.

    A token that was already used means it leaked (or a client raced itself): the whole family
    is revoked, in a committed transaction, before the 401 goes out. So a transaction of its
    own, not `atomic`: a caller's transaction would roll the revocation back with the 401.
    """
    claims = tokens.decode(settings, token, token_type=tokens.REFRESH)
    async with conn.transaction():
        stored = await queries.lock_refresh_token(conn, jti=claims["jti"])
        if stored is None or stored["user_id"] != claims["user_id"]:
            raise Unauthorized("The refresh token is not valid.")
        reused = stored["used_at"] is not None or stored["revoked_at"] is not None
        if reused:
            await queries.revoke_refresh_family(conn, family_id=stored["family_id"])
        else:
            user = await queries.get_user_by_id(conn, id=claims["user_id"])
            check_token_still_valid(user, claims)
            await queries.mark_refresh_token_used(conn, jti=stored["jti"])
            pair = await issue_pair(conn, settings, user, family_id=stored["family_id"])
    if reused:
        raise Unauthorized("The refresh token was already used; this login is revoked.")
    return pair


async def change_password(
    pool: asyncpg.Pool,
    settings: Settings,
    *,
    user: asyncpg.Record,
    current_password: str,
    new_password: str,
) -> TokenPair:
    await check_current_password(pool, settings, user_id=user["id"], password=current_password)
    new_hash = await hash_password(new_password, settings.bcrypt_rounds)
    async with pool.acquire() as conn:
        async with conn.transaction():
            updated = await queries.set_password(conn, id=user["id"], password_hash=new_hash)
            await queries.revoke_user_refresh_tokens(conn, user_id=user["id"])
            await outbox.publish(conn, topics.PASSWORD_CHANGED, {"user_id": user["id"]})
            return await issue_pair(conn, settings, updated, family_id=uuid.uuid4())


async def create_admin(
    conn: Queryable, settings: Settings, *, email: str, password: str, full_name: str = ""
) -> asyncpg.Record:
    """One statement after bcrypt: given the pool, no connection is held while it hashes (the
    CLI passes its one connection of its own)."""
    password_hash = await hash_password(password, settings.bcrypt_rounds)
    return await queries.promote_or_create_admin(
        conn, email=email.strip(), password_hash=password_hash, full_name=full_name or "Admin"
    )


async def check_current_password(
    pool: asyncpg.Pool, settings: Settings, *, user_id: int, password: str
) -> None:
    """The signed-in user's own password, asked again before a change that takes the account
    over (a new password, a new email): a stolen access token alone is not enough."""
    current_hash = await queries.get_password_hash(pool, id=user_id)
    if not await verify_password(password, current_hash, settings.bcrypt_rounds):
        raise ValidationFailed({"current_password": ["The current password is wrong."]})


async def update_profile(
    pool: asyncpg.Pool,
    settings: Settings,
    *,
    user_id: int,
    full_name: str | None,
    email: str | None,
    current_password: str | None,
) -> asyncpg.Record:
    """Change the name and/or the email. A new email needs the current password, and the
    address it replaces is told (through the outbox, in the same transaction)."""
    if email is not None:
        await check_current_password(
            pool, settings, user_id=user_id, password=current_password or ""
        )
    async with pool.acquire() as conn, conn.transaction():
        updated = await queries.update_profile(
            conn, id=user_id, full_name=full_name, email=email
        )
        if updated["email"] != updated["previous_email"]:
            await outbox.publish(
                conn,
                topics.EMAIL_CHANGED,
                {"user_id": user_id, "old_email": updated["previous_email"]},
            )
    return updated
