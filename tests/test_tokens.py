"""JWT attacks: each forged, stale or misused token is a 401."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
from factories import assert_problem


def _claims(settings, user_id, **overrides):
    now = datetime.now(UTC)
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(user_id),
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "jti": "00000000-0000-0000-0000-000000000001",
        "type": "access",
        "ver": 0,
    }
    claims.update(overrides)
    return claims


async def _me(client, token):
    return await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})


async def test_a_well_formed_token_is_accepted(client, settings, customer):
    token = jwt.encode(_claims(settings, customer.id), settings.secret_key, algorithm="HS256")
    assert (await _me(client, token)).status == 200


async def test_alg_none_is_refused(client, settings, customer):
    def b64(part: dict) -> str:
        raw = json.dumps(part, default=lambda v: int(v.timestamp())).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(_claims(settings, customer.id))}."
    response = await _me(client, token)
    await assert_problem(response, 401, "unauthorized")


async def test_another_key_is_refused(client, settings, customer):
    token = jwt.encode(_claims(settings, customer.id), "some-other-secret-key-0123456789abc")
    assert (await _me(client, token)).status == 401


async def test_another_algorithm_is_refused(client, settings, customer):
    token = jwt.encode(_claims(settings, customer.id), settings.secret_key, algorithm="HS512")
    assert (await _me(client, token)).status == 401


async def test_expired_token_is_refused(client, settings, customer):
    past = datetime.now(UTC) - timedelta(hours=1)
    claims = _claims(settings, customer.id, iat=past, exp=past + timedelta(minutes=15))
    token = jwt.encode(claims, settings.secret_key, algorithm="HS256")
    assert (await _me(client, token)).status == 401


async def test_wrong_audience_or_issuer_is_refused(client, settings, customer):
    for override in ({"aud": "another-app"}, {"iss": "someone-else"}):
        claims = _claims(settings, customer.id, **override)
        token = jwt.encode(claims, settings.secret_key, algorithm="HS256")
        assert (await _me(client, token)).status == 401, override


async def test_missing_claims_are_refused(client, settings, customer):
    for claim in ("exp", "type", "ver", "jti"):
        claims = _claims(settings, customer.id)
        del claims[claim]
        token = jwt.encode(claims, settings.secret_key, algorithm="HS256")
        assert (await _me(client, token)).status == 401, claim


async def test_refresh_token_cannot_be_used_as_access_token(client, customer):
    assert (await _me(client, customer.refresh_token)).status == 401


async def test_access_token_cannot_be_used_as_refresh_token(client, customer):
    response = await client.post(
        "/api/auth/refresh", json={"refresh_token": customer.access_token}
    )
    assert response.status == 401


async def test_token_of_an_older_version_is_refused(client, settings, db, customer):
    await db.execute("UPDATE users SET token_version = 3 WHERE id = $1", customer.id)
    assert (await client.get("/api/auth/me", headers=customer.headers)).status == 401
    token = jwt.encode(_claims(settings, customer.id, ver=3), settings.secret_key)
    assert (await _me(client, token)).status == 200


async def test_token_of_a_deleted_user_is_refused(client, db, customer):
    await db.execute("DELETE FROM users WHERE id = $1", customer.id)
    assert (await client.get("/api/auth/me", headers=customer.headers)).status == 401


async def test_garbage_tokens_are_refused(client):
    for token in ["abc", "a.b.c", "ey" * 400, "é"]:
        assert (await _me(client, token)).status == 401
