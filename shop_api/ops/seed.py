"""Sample data: a small, realistic shop for development, and synthetic products for load tests.

    result = await seed_demo(conn, settings)          # `shop-api seed`, and `shop-api dev`
    added = await seed_synthetic_products(conn, n)     # `shop-api seed --products N`

Both take one asyncpg connection (not a pool): the demo shop is written in one transaction.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import orjson

from shop_api.db import fetch_all, queries
from shop_api.domain.catalog import category_slug, slugify
from shop_api.security.passwords import hash_password
from shop_api.settings import Settings


class SeedError(RuntimeError):
    """Seeding refused to run; the message says why."""


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    password: str
    full_name: str


@dataclass(frozen=True)
class SeedResult:
    """What `seed_demo` did.

    `created` is False when the catalog already had categories or products: then nothing was
    written at all. `logins` lists the demo accounts present in the database, with the
    password seeding gave them (an account that existed before keeps its own password).
    """

    created: bool
    categories: int
    products: int
    reviews: int
    logins: tuple[DemoLogin, ...]


DEMO_LOGINS = (
    DemoLogin("admin", "admin@example.com", "admin-demo-2026", "Demo Admin"),
    DemoLogin("customer", "customer@example.com", "customer-demo-2026", "Casey Customer"),
)

# (name, description, [(name, sku prefix, description, [(name, price, stock, description)])])
_CATALOG: list[tuple[str, str, list[tuple[str, str, str, list[tuple[str, str, int, str]]]]]] = [
    ("Electronics", "Gadgets and gear for work, travel and play.", [
        ("Audio", "AUD", "Headphones, speakers and everything that makes a sound.", [
            ("Aurora Wireless Noise-Cancelling Headphones", "199.00", 34,
             "Over-ear headphones with adaptive noise cancelling, 30 hours of battery and a "
             "fold-flat design that fits the included hard case."),
            ("Pulse Mini Bluetooth Speaker", "49.99", 120,
             "A palm-sized waterproof speaker (IP67) with surprisingly deep bass and 12 hours "
             "of playback."),
            ("Studio Monitor Earbuds", "89.00", 0,
             "In-ear monitors with dual drivers and detachable braided cables, tuned for a "
             "flat, honest sound."),
            ("Harbor Bookshelf Speakers (Pair)", "279.00", 12,
             "Passive two-way speakers with walnut veneer cabinets and woven fibre woofers."),
            ("Vinyl Turntable with Built-in Preamp", "159.00", 8,
             "Belt-drive turntable with a switchable phono preamp, so it plugs straight into "
             "powered speakers."),
        ]),
        ("Computers & Accessories", "CMP", "Keyboards, monitors and desk upgrades.", [
            ("Mechanical Keyboard, Brown Switches", "119.00", 45,
             "Tenkeyless mechanical keyboard with tactile brown switches, PBT keycaps and a "
             "detachable USB-C cable."),
            ("Ergonomic Wireless Mouse", "59.00", 80,
             "A sculpted vertical mouse that keeps your wrist in a natural handshake position. "
             "Pairs with three devices."),
            ("27-inch 4K IPS Monitor", "349.99", 15,
             "A 27-inch 4K display with factory-calibrated colour, USB-C power delivery and a "
             "height-adjustable stand."),
            ("USB-C Docking Station", "129.00", 0,
             "One cable for power, two displays, Ethernet and five USB ports. Works with Mac "
             "and Windows laptops."),
            ("Aluminium Laptop Stand", "39.95", 150,
             "Raises your laptop screen to eye level; folds flat and weighs under 300 grams."),
        ]),
        ("Phones & Wearables", "PHN", "Watches, trackers, cases and chargers.", [
            ("Trailblazer GPS Sports Watch", "249.00", 22,
             "Multi-sport GPS watch with heart-rate tracking, route navigation and up to 14 "
             "days of battery."),
            ("Slim Leather Phone Case", "29.00", 200,
             "Full-grain leather case that develops a patina over time, with a microfibre "
             "lining."),
            ("15W Wireless Charging Pad", "24.99", 95,
             "Fast wireless charger with a non-slip surface and a status light that dims at "
             "night."),
            ("Fitness Tracker Band", "69.00", 0,
             "Tracks steps, sleep and heart rate; water resistant to 50 metres, with a week of "
             "battery."),
            ("Braided USB-C Cable, 2 m", "14.99", 300,
             "A two-metre USB-C cable with a nylon braid rated for 10,000 bends."),
        ]),
    ]),
    ("Home & Kitchen", "Cookware, coffee and things that make a house a home.", [
        ("Cookware", "CKW", "Pans, pots and knives that last.", [
            ("Cast Iron Skillet, 12-inch", "44.95", 60,
             "Pre-seasoned cast iron skillet for searing, baking and campfire cooking. Gets "
             "better with every use."),
            ("Tri-Ply Stainless Steel Saucepan", "79.00", 25,
             "A 2.5-litre saucepan with an aluminium core for even heating and a tight-fitting "
             "lid."),
            ("Enamelled Dutch Oven, 5.5 qt", "189.00", 9,
             "Heavy enamelled cast iron for slow braises, stews and no-knead bread."),
            ("Non-Stick Frying Pan Set", "59.99", 0,
             "Two PFOA-free non-stick pans (20 and 28 cm) with stay-cool handles."),
            ("Chef's Knife, 8-inch", "95.00", 30,
             "A forged high-carbon steel chef's knife with a full tang and a pakkawood "
             "handle."),
        ]),
        ("Coffee & Tea", "COF", "Brewing gear, beans and leaves.", [
            ("Pour-Over Coffee Dripper", "24.00", 70,
             "Ceramic cone dripper for a clean, bright cup. Fits most mugs and carafes."),
            ("Burr Coffee Grinder", "139.00", 18,
             "Conical steel burrs with 40 grind settings, from espresso fine to French press "
             "coarse."),
            ("Gooseneck Electric Kettle", "79.95", 26,
             "Precise pouring and temperature control to the degree, with a hold-warm mode."),
            ("Single-Origin Ethiopian Coffee Beans, 1 kg", "32.50", 0,
             "Washed Yirgacheffe beans with notes of jasmine, lemon and black tea. Roasted "
             "weekly."),
            ("Loose Leaf Green Tea Sampler", "19.00", 85,
             "Six Japanese and Chinese green teas, 50 grams each, with a brewing guide."),
            ("French Press, 1 Litre", "34.00", 40,
             "Borosilicate glass French press with a stainless steel double-screen filter."),
        ]),
        ("Home Decor", "DEC", "Textiles, lamps and finishing touches.", [
            ("Linen Throw Pillow Cover", "22.00", 110,
             "Stonewashed linen cover with a hidden zip; soft from the first day."),
            ("Handwoven Wool Rug, 160 x 230 cm", "420.00", 4,
             "A flat-woven rug of New Zealand wool in a subtle herringbone pattern."),
            ("Ceramic Table Lamp", "89.00", 14,
             "Hand-glazed ceramic base with a linen shade and a warm dimmable LED bulb."),
            ("Oak Wall Shelf", "49.00", 0,
             "Solid oak floating shelf, 60 cm, with hidden steel brackets."),
            ("Scented Soy Candle, Cedar & Fig", "18.50", 140,
             "Hand-poured soy wax candle with a cotton wick and about 50 hours of burn time."),
        ]),
    ]),
    ("Clothing & Shoes", "Everyday clothes in honest materials.", [
        ("Men's Clothing", "MEN", "Shirts, knitwear, jackets and trousers.", [
            ("Merino Wool Crew Sweater", "98.00", 36,
             "A fine-gauge merino sweater that is warm without bulk and never itchy."),
            ("Organic Cotton Oxford Shirt", "64.00", 52,
             "A classic button-down shirt in soft organic cotton oxford cloth."),
            ("Slim Selvedge Denim Jeans", "129.00", 0,
             "Raw 14 oz selvedge denim that fades to your own wear pattern."),
            ("Waxed Canvas Field Jacket", "215.00", 11,
             "Water-resistant waxed cotton jacket with four pockets and a corduroy collar."),
            ("Everyday Chino Trousers", "69.00", 44,
             "Stretch cotton chinos with a tapered leg, for the office or the weekend."),
            ("Organic Cotton Crew T-Shirt", "25.00", 160,
             "A mid-weight jersey T-shirt in organic cotton that keeps its shape wash after "
             "wash."),
            ("Heavyweight Pullover Hoodie", "75.00", 60,
             "A brushed-back fleece hoodie with a double-layer hood and a kangaroo pocket."),
        ]),
        ("Women's Clothing", "WMN", "Dresses, knitwear, denim and layers.", [
            ("Cashmere Blend Cardigan", "118.00", 20,
             "A soft cashmere and wool cardigan with mother-of-pearl buttons."),
            ("Linen Wrap Dress", "89.00", 28,
             "A breezy midi wrap dress in washed European linen, with pockets."),
            ("High-Rise Straight Jeans", "99.00", 33,
             "Rigid cotton denim with a high rise and a straight, ankle-length leg."),
            ("Quilted Puffer Vest", "79.00", 0,
             "A light quilted vest with recycled insulation that packs into its own pocket."),
            ("Silk Button Blouse", "110.00", 16,
             "A washable silk blouse with a relaxed fit and covered buttons."),
            ("Boxy Cotton T-Shirt", "29.00", 120,
             "A boxy, slightly cropped T-shirt in heavy cotton jersey with a ribbed neck."),
            ("Cropped Zip Hoodie", "69.00", 45,
             "A cropped zip-through hoodie in soft loopback cotton with ribbed cuffs."),
        ]),
        ("Shoes", "SHO", "Boots, sneakers and slippers.", [
            ("Leather Chelsea Boots", "179.00", 19,
             "Goodyear-welted Chelsea boots in oiled leather with elastic side panels."),
            ("Everyday Canvas Sneakers", "55.00", 90,
             "Low-top canvas sneakers with a vulcanised rubber sole and a cushioned insole."),
            ("Trail Running Shoes", "135.00", 27,
             "Grippy lugged outsole, rock plate and a breathable mesh upper for rough trails."),
            ("Wool Slippers", "45.00", 0,
             "Boiled wool slippers with a felt sole, warm and quiet on wooden floors."),
            ("Waterproof Hiking Boots", "165.00", 13,
             "Mid-height hiking boots with a waterproof membrane and a supportive heel."),
        ]),
    ]),
    ("Sports & Outdoors", "Gear for the trail, the gym and the road.", [
        ("Camping & Hiking", "HIK", "Tents, sleeping bags and trail essentials.", [
            ("Two-Person Backpacking Tent", "299.00", 10,
             "A freestanding tent that weighs 1.6 kg, pitches in three minutes and shrugs off "
             "the rain."),
            ("Down Sleeping Bag, -5 °C", "249.00", 7,
             "Responsibly sourced 650-fill down in a mummy cut, comfortable to minus five."),
            ("Insulated Water Bottle, 750 ml", "29.95", 180,
             "Double-walled stainless steel keeps drinks cold for 24 hours or hot for 12."),
            ("Headlamp, 400 Lumens", "34.00", 65,
             "Rechargeable headlamp with a red night mode and a lock to save the battery."),
            ("Ultralight Daypack, 20 L", "59.00", 0,
             "A 20-litre daypack of ripstop nylon that folds into its own pocket."),
        ]),
        ("Fitness", "FIT", "Mats, weights and recovery tools.", [
            ("Cork Yoga Mat", "68.00", 40,
             "Natural cork on a rubber base: grippy when you sweat and easy to clean."),
            ("Adjustable Dumbbells, Pair", "229.00", 6,
             "Dial from 2 to 24 kg per hand; replaces fifteen pairs of dumbbells."),
            ("Resistance Band Set", "25.00", 120,
             "Five latex-free bands from light to extra heavy, with a door anchor and handles."),
            ("Foam Roller", "29.00", 75,
             "A firm textured foam roller for sore legs and tight backs after training."),
            ("Speed Jump Rope", "15.00", 0,
             "Ball-bearing handles and an adjustable steel cable for double-unders."),
        ]),
        ("Cycling", "CYC", "Helmets, lights and locks for the daily ride.", [
            ("City Bike Helmet", "79.00", 30,
             "A commuter helmet with an integrated rear light and a magnetic buckle."),
            ("Rechargeable Bike Light Set", "45.00", 55,
             "Front and rear USB-rechargeable lights, bright enough for unlit roads."),
            ("Folding Bike Lock", "89.00", 21,
             "Hardened steel plates that fold into a compact frame-mounted holster."),
            ("Padded Cycling Shorts", "59.00", 0,
             "Lycra shorts with a breathable chamois for long rides."),
        ]),
    ]),
    ("Books", "Stories and know-how.", [
        ("Fiction", "FIC", "Novels and short stories.", [
            ("The Lighthouse Keeper's Daughter", "16.99", 48,
             "A quiet, sweeping novel of a family and a lighthouse on a northern island."),
            ("Winter in the Salt Marsh", "14.99", 35,
             "A detective story set in a flooded coastal village during the coldest winter "
             "in memory."),
            ("The Cartographer's Last Map", "18.99", 0,
             "An old mapmaker's final commission leads his apprentice across a changing "
             "continent."),
            ("Small Hours: Stories", "13.50", 22,
             "Twelve short stories about the people who are awake while the city sleeps."),
        ]),
        ("Non-fiction", "NON", "Guides, cookbooks and handbooks.", [
            ("A Field Guide to Backyard Birds", "24.99", 40,
             "Illustrated guide to 200 common birds, with songs, nests and feeding tips."),
            ("The Home Barista Handbook", "29.00", 25,
             "Everything about coffee at home: beans, grinding, espresso and pour-over."),
            ("Bread, Slowly: Sourdough at Home", "27.50", 0,
             "Keep a starter alive and bake crusty sourdough loaves in a home oven."),
            ("Running Your First Marathon", "19.99", 30,
             "A sixteen-week plan, with advice on shoes, food and race-day nerves."),
        ]),
    ]),
]


@dataclass(frozen=True)
class _Offer:
    """How a demo product is sold: one variant for every combination of the option values (the
    first option varies slowest), at the product's price plus the surcharge of any value the
    variant has, shown with `images` pictures. Products without an offer have one variant."""

    options: tuple[tuple[str, tuple[str, ...]], ...]
    surcharges: tuple[tuple[str, str], ...] = ()
    images: int = 1


_SIZES = ("S", "M", "L", "XL")
_EU_SIZES = tuple(f"EU {size}" for size in range(38, 46))

# Product name -> how it is sold; the stock figure of _CATALOG is spread over the variants.
_OFFERS: dict[str, _Offer] = {
    "Merino Wool Crew Sweater": _Offer(
        (("Size", _SIZES), ("Colour", ("Charcoal", "Navy", "Oatmeal"))), images=2),
    "Organic Cotton Oxford Shirt": _Offer((("Size", _SIZES), ("Colour", ("White", "Blue")))),
    "Slim Selvedge Denim Jeans": _Offer((("Waist", ("W30", "W32", "W34", "W36")),)),
    "Waxed Canvas Field Jacket": _Offer(
        (("Size", _SIZES), ("Colour", ("Olive", "Tan"))), (("XL", "10.00"),), images=3),
    "Organic Cotton Crew T-Shirt": _Offer(
        (("Size", _SIZES), ("Colour", ("White", "Black", "Heather Grey", "Navy"))),
        (("XL", "2.00"),), images=4),
    "Heavyweight Pullover Hoodie": _Offer(
        (("Size", _SIZES), ("Colour", ("Black", "Forest Green", "Oatmeal"))),
        (("XL", "5.00"),), images=3),
    "Cashmere Blend Cardigan": _Offer(
        (("Size", ("XS", "S", "M", "L")), ("Colour", ("Camel", "Black")))),
    "Linen Wrap Dress": _Offer(
        (("Size", ("XS", *_SIZES)), ("Colour", ("Sage", "Rust"))), images=3),
    "High-Rise Straight Jeans": _Offer((("Waist", ("W24", "W26", "W28", "W30", "W32")),)),
    "Quilted Puffer Vest": _Offer((("Size", ("S", "M", "L")), ("Colour", ("Black", "Olive")))),
    "Boxy Cotton T-Shirt": _Offer(
        (("Size", _SIZES), ("Colour", ("White", "Black", "Sage"))), images=2),
    "Cropped Zip Hoodie": _Offer((("Size", _SIZES), ("Colour", ("Grey Marl", "Dusty Pink")))),
    "Leather Chelsea Boots": _Offer(
        (("Size", _EU_SIZES), ("Colour", ("Black", "Brown"))), images=3),
    "Everyday Canvas Sneakers": _Offer(
        (("Size", _EU_SIZES), ("Colour", ("White", "Black", "Navy"))), images=4),
    "Trail Running Shoes": _Offer((("Size", _EU_SIZES),), images=2),
    "Wool Slippers": _Offer((("Size", ("S", "M", "L")),)),
    "Waterproof Hiking Boots": _Offer((("Size", _EU_SIZES),)),
    "Padded Cycling Shorts": _Offer((("Size", _SIZES),)),
}

# (sku, rating, title, comment): reviews by the demo customer.
_REVIEWS = [
    ("AUD-001", 5, "Silence on the train", "The noise cancelling is superb and they are "
     "comfortable for hours."),
    ("CKW-001", 5, "Will outlive me", "Heavy, even heat, and it really does get better with use."),
    ("COF-002", 4, "Consistent grind", "Great for pour-over; a little loud in the morning."),
    ("CMP-002", 3, "Takes getting used to", "My wrist thanks me, my aim took a week to adjust."),
    ("HIK-003", 4, "Ice cold all day", "Kept water cold in the car on a hot day. Dents easily."),
    ("FIC-001", 5, "Couldn't put it down", "Beautifully written; I read it in two evenings."),
]


async def seed_demo(conn: asyncpg.Connection, settings: Settings) -> SeedResult:
    """Fill an empty catalog with a small, realistic shop and the demo accounts.

    Writes a two-level tree of categories, about seventy products (a few out of stock; the
    clothes and shoes in sizes and colours, see `_OFFERS`), a few reviews, and the accounts of
    `DEMO_LOGINS`, all in one transaction. When the catalog already has categories or products
    it writes nothing, so running it again, or from two processes at once, changes nothing.
    Refuses (`SeedError`) when `settings.is_production`: the demo admin's password is
    published.
    """
    if settings.is_production:
        raise SeedError("demo data has an admin with a published password: not in production")
    # bcrypt takes a while at production cost: hash before taking the seeding lock.
    password_hashes = {
        login.email: await hash_password(login.password, settings.bcrypt_rounds)
        for login in DEMO_LOGINS
    }
    async with conn.transaction():
        await queries.lock_seeding(conn)
        if not await queries.catalog_is_empty(conn):
            return SeedResult(False, 0, 0, 0, await _present_logins(conn))
        for login in DEMO_LOGINS:
            await queries.insert_demo_user(
                conn,
                email=login.email,
                password_hash=password_hashes[login.email],
                full_name=login.full_name,
                role=login.role,
            )
        categories, product_ids = await _write_catalog(conn, settings.default_currency)
        reviews = await _write_reviews(conn, product_ids)
        logins = await _present_logins(conn)
    return SeedResult(True, categories, len(product_ids), reviews, logins)


async def _present_logins(conn: asyncpg.Connection) -> tuple[DemoLogin, ...]:
    rows = await fetch_all(
        queries.find_demo_users(conn, emails=[login.email for login in DEMO_LOGINS])
    )
    present = {row["email"].lower() for row in rows}
    return tuple(login for login in DEMO_LOGINS if login.email in present)


async def _write_catalog(conn: asyncpg.Connection, currency: str) -> tuple[int, dict[str, int]]:
    rng = random.Random(20261124)  # noqa: S311 - the same sample shop on every machine
    now = datetime.now(UTC)
    categories = 0
    product_ids: dict[str, int] = {}
    for name, description, children in _CATALOG:
        parent_id = await queries.insert_seed_category(
            conn, name=name, slug=category_slug(name), parent_id=None, description=description
        )
        categories += 1
        for child_name, code, child_description, products in children:
            child_id = await queries.insert_seed_category(
                conn,
                name=child_name,
                slug=category_slug(child_name),
                parent_id=parent_id,
                description=child_description,
            )
            categories += 1
            for number, (product_name, price, stock, product_description) in enumerate(
                products, start=1
            ):
                sku = f"{code}-{number:03d}"
                slug = slugify(product_name)
                offer = _OFFERS.get(product_name)
                variants = _demo_variants(offer, sku, Decimal(price), stock)
                product_ids[sku] = await queries.insert_seed_product(
                    conn,
                    name=product_name,
                    slug=slug,
                    description=product_description,
                    currency=currency,
                    category_id=child_id,
                    options=json.dumps([
                        {"name": name, "values": list(values)}
                        for name, values in (offer.options if offer else ())
                    ]),
                    image_urls=[
                        _DEMO_IMAGE.format(slug=slug, number=n)
                        for n in range(1, (offer.images if offer else 0) + 1)
                    ],
                    variant_skus=[variant.sku for variant in variants],
                    variant_options=[json.dumps(variant.options) for variant in variants],
                    variant_titles=[variant.title for variant in variants],
                    variant_prices=[variant.price for variant in variants],
                    variant_stocks=[variant.stock for variant in variants],
                    # Spread over half a year, so "newest" mixes the departments.
                    created_at=now - timedelta(minutes=rng.randint(60, 180 * 24 * 60)),
                )
    return categories, product_ids


# Placeholder photos, the same picture for the same slug and number on every machine.
_DEMO_IMAGE = "https://picsum.photos/seed/{slug}-{number}/800/800"


@dataclass(frozen=True)
class _DemoVariant:
    sku: str
    options: dict[str, str]
    title: str
    price: Decimal
    stock: int


def _demo_variants(offer: _Offer | None, sku: str, price: Decimal, stock: int
                   ) -> list[_DemoVariant]:
    """The variants of a demo product: the default one at `price` with `stock`, or one per
    combination of the offer's values, each with a SKU of its own and a share of `stock`
    (about one in five sold out; none in stock when `stock` is 0)."""
    if offer is None:
        return [_DemoVariant(sku, {}, "Default", price, stock)]
    rng = random.Random(sku)  # noqa: S311 - the same sample shop on every machine
    names = [name for name, _ in offer.options]
    surcharges = {value: Decimal(amount) for value, amount in offer.surcharges}
    combinations = list(itertools.product(*(values for _, values in offer.options)))
    share = max(2, 2 * stock // len(combinations))
    variants = [
        _DemoVariant(
            sku="-".join((sku, *("".join(value.split())[:4].upper() for value in values))),
            options=dict(zip(names, values, strict=True)),
            title=" / ".join(values),
            price=price + sum((surcharges.get(value, Decimal(0)) for value in values),
                              Decimal(0)),
            stock=0 if stock == 0 or rng.random() < 0.2 else rng.randint(1, share),
        )
        for values in combinations
    ]
    if stock and not any(variant.stock for variant in variants):
        variants[0] = replace(variants[0], stock=stock)
    return variants


async def _write_reviews(conn: asyncpg.Connection, product_ids: dict[str, int]) -> int:
    customer_email = next(login.email for login in DEMO_LOGINS if login.role == "customer")
    rows = await fetch_all(queries.find_demo_users(conn, emails=[customer_email]))
    if not rows:
        return 0
    now = datetime.now(UTC)
    for days_ago, (sku, rating, title, comment) in enumerate(_REVIEWS, start=1):
        await queries.insert_seed_review(
            conn,
            product_id=product_ids[sku],
            user_id=rows[0]["id"],
            rating=rating,
            title=title,
            comment=comment,
            created_at=now - timedelta(days=days_ago),
        )
    await queries.recount_ratings(conn)
    return len(_REVIEWS)


# -- synthetic products ---------------------------------------------------------------------

_ADJECTIVES = (
    "Classic", "Compact", "Deluxe", "Everyday", "Heritage", "Lightweight", "Modern", "Nordic",
    "Premium", "Rugged", "Slim", "Smart", "Soft", "Sturdy", "Travel", "Urban", "Vintage",
    "Weekend", "Wireless", "Handmade",
)
_MATERIALS = (
    "Bamboo", "Canvas", "Ceramic", "Copper", "Cotton", "Glass", "Leather", "Linen", "Maple",
    "Oak", "Steel", "Walnut", "Wool", "Cork", "Titanium",
)
_NOUNS = (
    "Backpack", "Blanket", "Bottle", "Bowl", "Chair", "Clock", "Desk Lamp", "Headphones",
    "Jacket", "Journal", "Kettle", "Knife", "Lantern", "Mug", "Notebook", "Pan", "Pillow",
    "Planter", "Rug", "Scarf", "Shelf", "Sneakers", "Speaker", "Stool", "Tote Bag", "Tray",
    "Vase", "Wallet", "Watch", "Teapot",
)
_FEATURES = (
    "Built to last for years of daily use.",
    "Designed in a small studio and made in limited runs.",
    "Easy to clean and dishwasher safe.",
    "Packs flat for travel and stores in a drawer.",
    "Finished by hand, so no two are exactly alike.",
    "Backed by a two-year warranty.",
    "Ships in plastic-free recycled packaging.",
    "A thoughtful gift for friends who have everything.",
    "Pairs well with the rest of the collection.",
    "Tested by our team for a full season before release.",
    "Weather resistant for balconies and camping trips.",
    "Available while stocks last.",
)
# What a synthetic product is sold in: about a third of them come in sizes, colours or both.
_SIZES = ("XS", "S", "M", "L", "XL", "XXL")
_COLOURS = ("Black", "White", "Navy", "Red", "Green", "Grey", "Sand", "Blue")
_MULTI_VARIANT_SHARE = 1 / 3
_PRODUCT_COLUMNS = (
    "id", "name", "slug", "description", "category_id", "created_at", "updated_at", "options",
    # What the variants' trigger keeps (see seed_synthetic_products):
    "price", "price_max", "stock_quantity", "variant_count", "sku", "option_values",
)
_VARIANT_COLUMNS = (
    "product_id", "sku", "options", "title", "price", "stock_quantity", "position",
    "created_at", "updated_at",
)
# Products per pair of COPYs: each pair is one refresh of the products' summaries by the
# variants' trigger, and one line of progress.
SYNTHETIC_CHUNK = 20_000


async def seed_synthetic_products(
    conn: asyncpg.Connection,
    count: int,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Add `count` generated products ("Rugged Walnut Lantern") for load tests; returns count.

    Products spread over the leaf categories (none when there are no categories), about one
    in ten is out of stock, and creation dates span two years. About a third are sold in 2 to
    12 variants (Size from XS to XXL, Colour from a palette, or both: about 300,000 variants
    for 100,000 products); the rest in one default variant. Names repeat; slugs and SKUs carry
    a random batch mark, so a second run adds more.

    One transaction of COPYs, SYNTHETIC_CHUNK products at a time, each chunk then its
    variants, calling `progress(done, count)` after each; then the tables are analyzed, so
    plans see the new size at once. The COPYs are in text format, so the connection's json
    codecs do not matter.

    The variants' statement trigger recomputes each product's price range, stock, SKU, variant
    count and option values from its variants, as after any variant change. The products' COPY
    already holds the figures the trigger will find, because the trigger rewrites only rows
    whose figures differ: measured on 20,000 products (60,000 variants), the refresh took
    1.4 s checking rows written right against 4.8 s rewriting rows written with placeholders
    (every rewrite recomputes the search vector and touches every index of the row). Any
    difference would still be corrected by the trigger in the same transaction.
    """
    if count < 0:
        raise ValueError("count must be 0 or more")
    if count == 0:
        return 0
    leaves = [row["id"] for row in await fetch_all(queries.leaf_category_ids(conn))]
    batch = secrets.token_hex(3)
    rng = random.Random(f"{batch}:{count}")  # noqa: S311 - sample data, not secrets
    now = datetime.now(UTC)

    def make_chunk(first: int, ids: list[int]) -> tuple[bytes, bytes]:
        """Products first+1 to first+len(ids), with those ids, and their variants, as COPY
        text."""
        products: list[str] = []
        variants: list[str] = []
        for number, product_id in enumerate(ids, start=first + 1):
            _synthetic_product(
                rng, product_id, number, leaves, products, variants, batch=batch, now=now
            )
        return "".join(products).encode(), "".join(variants).encode()

    async def chunk_made(first: int) -> asyncio.Task[tuple[bytes, bytes]]:
        # Ids a chunk at a time, so memory holds two chunks whatever `count` is (reserving a
        # million at once held 590 MB at its peak).
        n = min(SYNTHETIC_CHUNK, count - first)
        ids = [row["id"] for row in await fetch_all(queries.reserve_product_ids(conn, n=n))]
        return asyncio.create_task(asyncio.to_thread(make_chunk, first, ids))

    async with conn.transaction():
        # The next chunk is made in a thread while the database loads this one.
        next_chunk = await chunk_made(0)
        for first in range(0, count, SYNTHETIC_CHUNK):
            products, variants = await next_chunk
            if first + SYNTHETIC_CHUNK < count:
                next_chunk = await chunk_made(first + SYNTHETIC_CHUNK)
            await conn.copy_to_table(
                "products", source=io.BytesIO(products), columns=_PRODUCT_COLUMNS
            )
            await conn.copy_to_table(
                "product_variants", source=io.BytesIO(variants), columns=_VARIANT_COLUMNS
            )
            if progress is not None:
                progress(min(first + SYNTHETIC_CHUNK, count), count)
    await queries.analyze_catalog(conn)
    return count


def _synthetic_product(
    rng: random.Random,
    product_id: int,
    number: int,
    leaves: list[int],
    products: list[str],
    variants: list[str],
    *,
    batch: str,
    now: datetime,
) -> None:
    """Append one product's line (_PRODUCT_COLUMNS) and its variants' (_VARIANT_COLUMNS), in
    COPY's text format, to `products` and `variants`."""
    adjective, material, noun = rng.choice(_ADJECTIVES), rng.choice(_MATERIALS), rng.choice(_NOUNS)
    name = f"{adjective} {material} {noun}"
    description = (
        f"A {adjective.lower()} {noun.lower()} made of {material.lower()}. "
        f"{rng.choice(_FEATURES)} {rng.choice(_FEATURES)}"
    )
    created = (now - timedelta(seconds=rng.randint(0, 2 * 365 * 24 * 3600))).isoformat()
    base_cents = rng.randint(199, 49999)
    sku = f"SYN-{batch}-{number}".upper()
    options = _synthetic_options(rng) if rng.random() < _MULTI_VARIANT_SHARE else []
    # (sku, options, title, cents, stock) of each variant, in position order.
    sold: list[tuple[str, dict[str, str], str, int, int]] = []
    if not options:
        stock = 0 if rng.random() < 0.1 else rng.randint(1, 500)
        sold.append((sku, {}, "Default", base_cents, stock))
    else:
        sold_out = rng.random() < 0.1  # the whole product, like one in ten single ones
        combinations: list[dict[str, str]] = [{}]
        for option in options:
            combinations = [
                {**chosen, option["name"]: value}
                for chosen in combinations
                for value in option["values"]
            ]
        sizes = options[0]["values"] if options[0]["name"] == "Size" else _SIZES
        smallest = _SIZES.index(sizes[0])
        for position, chosen in enumerate(combinations, start=1):
            # Larger sizes cost 5% more a step, so such a product has a price range.
            step = _SIZES.index(chosen["Size"]) - smallest if "Size" in chosen else 0
            stock = 0 if sold_out or rng.random() < 0.15 else rng.randint(1, 200)
            title = " / ".join(chosen[option["name"]] for option in options)
            sold.append((f"{sku}-{position}", chosen, title, base_cents * (20 + step) // 20, stock))
    for position, (variant_sku, chosen, title, cents, stock) in enumerate(sold):
        variants.append(_copy_line(
            product_id, variant_sku, _json(chosen), title, _money(cents), stock, position,
            created, created,
        ))
    option_values = {option["name"]: sorted(option["values"]) for option in options}
    products.append(_copy_line(
        product_id, name, f"{slugify(name)}-{batch}-{number}", description,
        rng.choice(leaves) if leaves else None, created, created, _json(options),
        _money(min(variant[3] for variant in sold)), _money(max(variant[3] for variant in sold)),
        sum(variant[4] for variant in sold), len(sold), sku if len(sold) == 1 else None,
        _json(option_values),
    ))


def _synthetic_options(rng: random.Random) -> list[dict]:
    """Size, Colour or both, 2 to 12 combinations (sizes contiguous: S to L, never S and XL)."""
    kind = rng.random()
    if kind < 0.6:  # the common case, a garment: 3 or 4 sizes in 2 or 3 colours
        sizes, colours = rng.randint(3, 4), rng.randint(2, 3)
    elif kind < 0.8:
        sizes, colours = rng.randint(2, 6), 0
    else:
        sizes, colours = 0, rng.randint(2, 6)
    options = []
    if sizes:
        first = rng.randint(0, len(_SIZES) - sizes)
        options.append({"name": "Size", "values": list(_SIZES[first:first + sizes])})
    if colours:
        options.append({"name": "Colour", "values": rng.sample(_COLOURS, colours)})
    return options


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


def _copy_line(*values: object) -> str:
    """A row in COPY's text format: tab-separated, \\N for NULL, backslashes and control
    characters escaped (the generated text has none, so the check is all it costs)."""
    fields = []
    for value in values:
        if value is None:
            fields.append("\\N")
        else:
            text = str(value)
            if "\\" in text or not text.isprintable():
                text = text.translate(_COPY_ESCAPES)
            fields.append(text)
    return "\t".join(fields) + "\n"


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
