"""/api/products/<id>/reviews: one review per user and product, and the rating it feeds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from factories import assert_problem, create_account, create_product


async def add_product(db, name="Kettle", active=True):
    return await create_product(
        db, name=name, slug=name.lower(), price="20", stock=3, is_active=active, deleted=False
    )


async def review(client, account, product_id, **body):
    return await client.post(f"/api/products/{product_id}/reviews",
                             headers=account.headers, json=body)


async def summary(db, product_id):
    row = await db.fetchrow(
        "SELECT rating_count, rating_sum FROM products WHERE id = $1", product_id
    )
    return row["rating_count"], row["rating_sum"]


async def test_a_review_is_created_with_the_documented_shape(client, db):
    product = await add_product(db)
    ada = await create_account(db, "ada@example.com", full_name="Ada L.", client=client)
    response = await review(client, ada, product, rating=4, title="Good", comment="Boils fast.")
    assert response.status == 201
    body = await response.json()
    assert body == {
        "id": body["id"], "product_id": product, "user": {"id": ada.id, "full_name": "Ada L."},
        "rating": 4, "title": "Good", "comment": "Boils fast.", "verified_purchase": False,
        "created_at": body["created_at"],
    }
    assert body["created_at"].endswith("+00:00")
    assert await summary(db, product) == (1, 4)
    listed = await (await client.get(f"/api/products/{product}/reviews")).json()
    assert listed["items"] == [body]
    detail = await (await client.get(f"/api/products/{product}")).json()
    assert detail["recent_reviews"] == [body]
    assert detail["rating"] == {"average": "4.00", "count": 1}


async def test_title_and_comment_are_optional_and_the_slash_works(client, db, customer):
    product = await add_product(db)
    response = await client.post(f"/api/products/{product}/reviews/", headers=customer.headers,
                                 json={"rating": 5})
    assert response.status == 201
    body = await response.json()
    assert (body["title"], body["comment"]) == ("", "")


async def test_one_review_per_user_and_product(client, db, customer):
    product = await add_product(db)
    other = await add_product(db, "Toaster")
    assert (await review(client, customer, product, rating=5)).status == 201
    again = await review(client, customer, product, rating=1, title="Changed my mind")
    await assert_problem(again, 409, "already_reviewed")
    assert await summary(db, product) == (1, 5), "the refused review left the rating alone"
    assert await db.fetchval("SELECT count(*) FROM reviews") == 1
    assert (await review(client, customer, other, rating=2)).status == 201


async def test_admins_may_review_too(client, db, admin):
    product = await add_product(db)
    assert (await review(client, admin, product, rating=3)).status == 201


async def test_the_average_has_two_places(client, db):
    product = await add_product(db)
    for n, rating in enumerate([5, 4, 4]):
        account = await create_account(db, f"u{n}@example.com", client=client)
        assert (await review(client, account, product, rating=rating)).status == 201
    body = await (await client.get(f"/api/products/{product}")).json()
    assert body["rating"] == {"average": "4.33", "count": 3}
    listed = await (await client.get("/api/products")).json()
    assert listed["items"][0]["rating"] == {"average": "4.33", "count": 3}


async def test_concurrent_reviews_by_many_users_keep_the_summary_exact(client, db):
    product = await add_product(db)
    accounts = [await create_account(db, f"fan{n}@example.com", client=client) for n in range(12)]
    ratings = [1 + n % 5 for n in range(12)]
    responses = await asyncio.gather(*(
        review(client, account, product, rating=rating)
        for account, rating in zip(accounts, ratings, strict=True)
    ))
    assert [r.status for r in responses] == [201] * 12
    assert await summary(db, product) == (12, sum(ratings))
    stored = await db.fetchrow(
        "SELECT count(*) AS n, sum(rating) AS total FROM reviews WHERE product_id = $1", product
    )
    assert (stored["n"], stored["total"]) == (12, sum(ratings))
    body = await (await client.get(f"/api/products/{product}")).json()
    assert body["rating"] == {"average": f"{sum(ratings) / 12:.2f}", "count": 12}


async def test_concurrent_reviews_by_one_user_make_one_review(client, db, customer):
    product = await add_product(db)
    responses = await asyncio.gather(*(
        review(client, customer, product, rating=5) for _ in range(6)
    ))
    assert sorted(r.status for r in responses) == [201, 409, 409, 409, 409, 409]
    assert await summary(db, product) == (1, 5)


async def test_reviews_of_missing_or_deleted_products_are_a_404(client, db, customer):
    deleted = await add_product(db, "Old", active=False)
    for product in (deleted, 987654):
        response = await review(client, customer, product, rating=5)
        await assert_problem(response, 404, "not_found")
        assert (await client.get(f"/api/products/{product}/reviews")).status == 404
    assert await db.fetchval("SELECT count(*) FROM reviews") == 0
    assert await summary(db, deleted) == (0, 0)


async def test_signing_in_is_required(client, db):
    product = await add_product(db)
    response = await client.post(f"/api/products/{product}/reviews", json={"rating": 5})
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_review_bodies_are_validated(client, db, customer):
    product = await add_product(db)
    for body, field in [({}, "rating"), ({"rating": 0}, "rating"), ({"rating": 6}, "rating"),
                        ({"rating": "5"}, "rating"), ({"rating": 4.5}, "rating"),
                        ({"rating": None}, "rating"), ({"rating": 5, "title": "x" * 201}, "title"),
                        ({"rating": 5, "comment": "x" * 5001}, "comment"),
                        ({"rating": 5, "title": None}, "title"),
                        ({"rating": 5, "verified_purchase": True}, "verified_purchase"),
                        ({"rating": 5, "user_id": 1}, "user_id")]:
        response = await review(client, customer, product, **body)
        assert response.status == 422, body
        assert field in (await response.json())["errors"], body
    assert await db.fetchval("SELECT count(*) FROM reviews") == 0


async def test_the_review_list_is_paged_newest_first(client, db):
    product = await add_product(db)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    for n in range(23):
        user = await db.fetchval(
            "INSERT INTO users (email, password_hash, full_name) VALUES ($1, 'x', $2) RETURNING id",
            f"r{n}@example.com", f"Reader {n}",
        )
        await db.execute(
            "INSERT INTO reviews (product_id, user_id, rating, title, created_at)"
            " VALUES ($1, $2, 5, $3, $4)",
            product, user, f"#{n}", start + timedelta(hours=n),
        )
    first = await (await client.get(f"/api/products/{product}/reviews")).json()
    assert (first["page"], first["per_page"], first["total"], first["pages"]) == (1, 20, 23, 2)
    assert [item["title"] for item in first["items"]] == [f"#{n}" for n in range(22, 2, -1)]
    second = await (await client.get(f"/api/products/{product}/reviews",
                                     params={"page": 2})).json()
    assert [item["title"] for item in second["items"]] == ["#2", "#1", "#0"]
    beyond = await (await client.get(f"/api/products/{product}/reviews",
                                     params={"page": 9, "per_page": 5})).json()
    assert beyond["items"] == [] and beyond["total"] == 23 and beyond["pages"] == 5
    for params in ({"per_page": 101}, {"page": 0}, {"per_page": "x"}):
        response = await client.get(f"/api/products/{product}/reviews", params=params)
        assert response.status == 422, params


async def test_an_empty_review_list(client, db):
    product = await add_product(db)
    body = await (await client.get(f"/api/products/{product}/reviews")).json()
    assert body == {"items": [], "page": 1, "per_page": 20, "total": 0, "total_exact": True,
                    "pages": 0}
