"""/api/products/categories: the tree, and how the admin grows it."""

from __future__ import annotations

import asyncio

from factories import PROBLEM, create_product


async def create(client, admin, **body):
    return await client.post("/api/products/categories", headers=admin.headers, json=body)


async def created(client, admin, **body):
    response = await create(client, admin, **body)
    assert response.status == 201, await response.text()
    return await response.json()


async def test_an_empty_list_with_or_without_the_slash(client):
    for path in ("/api/products/categories", "/api/products/categories/"):
        response = await client.get(path, allow_redirects=False)
        assert response.status == 200
        assert await response.json() == {"items": []}


async def test_create_a_tree_and_list_it_parents_first(client, admin, db):
    home = await created(client, admin, name="Home & Garden", description="For the house.")
    assert home == {"id": home["id"], "name": "Home & Garden", "slug": "home-garden",
                    "parent_id": None, "description": "For the house."}
    kitchen = await created(client, admin, name="Kitchen", parent_id=home["id"])
    assert kitchen["parent_id"] == home["id"] and kitchen["description"] == ""
    toys = await created(client, admin, name="Toys")
    items = (await (await client.get("/api/products/categories")).json())["items"]
    assert [item["name"] for item in items] == ["Home & Garden", "Toys", "Kitchen"]
    assert items[2] == kitchen and items[1] == toys
    stored = await db.fetchval("SELECT parent_id FROM categories WHERE id = $1", kitchen["id"])
    assert stored == home["id"]


async def test_the_trailing_slash_works_for_create_too(client, admin):
    response = await client.post("/api/products/categories/", headers=admin.headers,
                                 json={"name": "Books"})
    assert response.status == 201
    assert (await response.json())["slug"] == "books"


async def test_a_name_twice_among_siblings_is_a_409(client, admin, db):
    men = await created(client, admin, name="Men")
    await created(client, admin, name="Shoes", parent_id=men["id"])
    for name in ("Shoes", "shoes", "SHOES"):
        response = await create(client, admin, name=name, parent_id=men["id"])
        assert response.status == 409, name
        assert response.content_type == PROBLEM
        body = await response.json()
        assert body["code"] == "category_exists" and "name" in body["errors"]
    top = await create(client, admin, name="men")
    assert (await top.json())["code"] == "category_exists"
    assert await db.fetchval("SELECT count(*) FROM categories") == 2


async def test_the_same_name_under_another_parent_gets_the_parents_slug(client, admin):
    men = await created(client, admin, name="Men")
    women = await created(client, admin, name="Women")
    assert (await created(client, admin, name="Shoes", parent_id=men["id"]))["slug"] == "shoes"
    assert (await created(client, admin, name="Shoes", parent_id=women["id"]))["slug"] == (
        "women-shoes"
    )
    kids = await created(client, admin, name="Kids")
    assert (await created(client, admin, name="Shoes", parent_id=kids["id"]))["slug"] == (
        "kids-shoes"
    )
    # A top-level "Shoes" has no parent to borrow from: the next free number.
    assert (await created(client, admin, name="Shoes"))["slug"] == "shoes-2"


async def test_filtering_by_a_generated_slug_works(client, admin, db):
    women = await created(client, admin, name="Women")
    shoes = await created(client, admin, name="Shoes", parent_id=women["id"])
    await create_product(db, name="Boot", slug="boot", price="5", stock=0, category_id=shoes["id"])
    for category in ("women", shoes["slug"], str(women["id"])):
        body = await (await client.get("/api/products", params={"category": category})).json()
        assert [item["name"] for item in body["items"]] == ["Boot"], category


async def test_a_slug_is_never_only_digits(client, admin):
    # `?category=2024` means the id 2024, so the category named "2024" needs another slug.
    assert (await created(client, admin, name="2024"))["slug"] == "category-2024"
    assert (await created(client, admin, name="¡¿"))["slug"] == "category"
    assert (await created(client, admin, name="Ünïcödé Gifts"))["slug"] == "unicode-gifts"


async def test_an_unknown_parent_is_a_422(client, admin, db):
    response = await create(client, admin, name="Orphan", parent_id=4242)
    assert response.status == 422
    body = await response.json()
    assert body["errors"] == {"parent_id": ["No such category."]}
    assert await db.fetchval("SELECT count(*) FROM categories") == 0


async def test_category_bodies_are_validated(client, admin, db):
    for body, field in [({}, "name"), ({"name": ""}, "name"), ({"name": "  "}, "name"),
                        ({"name": "x" * 121}, "name"), ({"name": "A", "parent_id": "1"},
                                                        "parent_id"),
                        ({"name": "A", "parent_id": 0}, "parent_id"),
                        ({"name": "A", "slug": "mine"}, "slug"),
                        ({"name": "A", "description": None}, "description"),
                        ({"name": "A", "description": "x" * 2001}, "description")]:
        response = await create(client, admin, **body)
        assert response.status == 422, body
        assert field in (await response.json())["errors"], body
    assert await db.fetchval("SELECT count(*) FROM categories") == 0


async def test_concurrent_creates_of_one_name_make_one_category(client, admin, db):
    responses = await asyncio.gather(*(
        create(client, admin, name="Garden") for _ in range(5)
    ))
    assert sorted(r.status for r in responses) == [201, 409, 409, 409, 409]
    assert await db.fetchval("SELECT count(*) FROM categories") == 1
