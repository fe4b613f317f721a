"""JWT access and refresh tokens: HS256 only, issuer and audience checked, typed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from shop_api.errors import Unauthorized
from shop_api.settings import Settings

ALGORITHM = "HS256"
ACCESS, REFRESH = "access", "refresh"
_REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "jti", "type", "ver"]


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: uuid.UUID
    expires_at: datetime


def issue(
    settings: Settings,
    *,
    token_type: str,
    user_id: int,
    token_version: int,
    family_id: uuid.UUID | None = None,
) -> IssuedToken:
    now = datetime.now(UTC)
    lifetime = (
        timedelta(minutes=settings.access_token_minutes)
        if token_type == ACCESS
        else timedelta(days=settings.refresh_token_days)
    )
    jti, expires_at = uuid.uuid4(), now + lifetime
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(user_id),
        "iat": now,
        "exp": expires_at,
        "jti": str(jti),
        "type": token_type,
        "ver": token_version,
    }
    if family_id is not None:
        # The login the token belongs to: revoking that login kills its access tokens too.
        claims["fam"] = str(family_id)
    token = jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)
    return IssuedToken(token=token, jti=jti, expires_at=expires_at)


def decode(settings: Settings, token: str, *, token_type: str) -> dict[str, Any]:
    """The claims of a valid token of `token_type`, else 401 (never which check failed)."""
    try:
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": _REQUIRED_CLAIMS},
        )
    except jwt.PyJWTError:
        raise Unauthorized("The token is invalid or expired.") from None
    if claims.get("type") != token_type:
        raise Unauthorized("The token is invalid or expired.")
    try:
        claims["user_id"] = int(claims["sub"])
        claims["jti"] = uuid.UUID(claims["jti"])
        # Optional: access tokens issued before login families were checked carry none.
        claims["family_id"] = uuid.UUID(claims["fam"]) if "fam" in claims else None
    except (AttributeError, TypeError, ValueError):
        raise Unauthorized("The token is invalid or expired.") from None
    if not isinstance(claims["ver"], int):
        raise Unauthorized("The token is invalid or expired.")
    return claims


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    # A token is ASCII; aiohttp hands other header bytes over as surrogates no JWT library
    # can encode, so they are no token at all (401), like any other malformed header.
    if scheme.lower() != "bearer" or not value.strip() or not value.isascii():
        return None
    return value.strip()
