"""The pricing function (shop_api/domain/pricing.py): hand-worked real tax cases to the cent,
the choice of the best discount and of the shipping method, and hypothesis properties that
hold for any cart.

Pure: no database, no Redis, no HTTP; the route tests check that quote and checkout use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shop_api.domain.pricing import (
    AppliedDiscount,
    Line,
    OfferedMethod,
    Promotion,
    ShippingMethod,
    ShippingUnavailable,
    from_cents,
    is_applicable,
    largest_remainder,
    price_cart,
    tax_of,
    to_cents,
)


@pytest.fixture(scope="module", autouse=True)
def clean_state():
    """Replaces conftest's table and Redis reset: nothing here touches either, and a module
    scope keeps hypothesis from refusing a function-scoped fixture around its examples."""
    yield


def line(
    unit: int,
    quantity: int = 1,
    rate: str = "0",
    *,
    product: int = 1,
    variant=None,
    categories=(),
    grams: int = 0,
) -> Line:
    return Line(
        variant_id=variant if variant is not None else product,
        product_id=product,
        quantity=quantity,
        unit_price=unit,
        tax_rate=Decimal(rate),
        category_ids=frozenset(categories),
        weight_grams=grams,
    )


def method(
    id: int = 1, price: int = 490, *, free_over=None, max_grams=None, active=True, name=None
) -> ShippingMethod:
    return ShippingMethod(id, name or f"Method {id}", price, free_over, max_grams, 1, 3, active)


def promo(
    id: int,
    kind: str,
    value,
    target: str,
    *,
    code=None,
    products=(),
    categories=(),
    min_subtotal=None,
) -> Promotion:
    return Promotion(
        id,
        f"Promotion {id}",
        code,
        kind,
        Decimal(value),
        target,
        frozenset(products),
        frozenset(categories),
        min_subtotal,
    )


def half_up(x: Fraction) -> int:
    """The test's own half-up on exact fractions, independent of the module's Decimal one."""
    return (2 * x.numerator + x.denominator) // (2 * x.denominator)


# ---------------------------------------------------------------------------------------------
# Real tax cases, each worked by hand to the cent (amounts in the comments are in the currency,
# the test's numbers in cents). Inclusive: tax = gross × r / (1 + r); exclusive: net × r; both
# rounded half-up per line, shipping taxed at the destination's standard rate unless noted.


@dataclass(frozen=True)
class Case:
    name: str
    included: bool
    lines: tuple[Line, ...]
    shipping: ShippingMethod
    shipping_rate: str
    line_taxes: tuple[int, ...]
    shipping_total: int
    shipping_tax: int
    tax_total: int
    total: int
    promotions: tuple[Promotion, ...] = ()
    line_discounts: tuple[int, ...] | None = None


# fmt: off
CASES = [
    # Germany, 19 % VAT, prices include it. 2 × 19.99 = 39.98; 39.98 × 19/119 = 6.3833… → 6.38.
    # DHL parcel 4.90 × 19/119 = 0.78235… → 0.78. Tax 7.16; total 39.98 + 4.90 = 44.88.
    Case("DE 19 % inclusive", True, (line(1999, 2, "0.19"),), method(price=490), "0.19",
         (638,), 490, 78, 716, 4488),
    # Germany, a book at the reduced 7 % and a pen at 19 %. 24.00 × 7/107 = 1.57009… → 1.57;
    # 3.50 × 19/119 = 0.55882… → 0.56; shipping 3.95 × 19/119 = 0.63067… → 0.63.
    # Tax 1.57 + 0.56 + 0.63 = 2.76; total 24.00 + 3.50 + 3.95 = 31.45.
    Case("DE 7 % and 19 % inclusive", True,
         (line(2400, 1, "0.07", product=1), line(350, 1, "0.19", product=2)),
         method(price=395), "0.19", (157, 56), 395, 63, 276, 3145),
    # United Kingdom, 20 % VAT included: the VAT fraction is 1/6. 3 × 9.99 = 29.97; 29.97 / 6 =
    # 4.995 exactly → half-up 5.00. Royal Mail 3.99 / 6 = 0.665 exactly → 0.67.
    # Tax 5.67; total 29.97 + 3.99 = 33.96.
    Case("UK 20 % inclusive, two exact half cents", True, (line(999, 3, "0.20"),),
         method(price=399), "0.20", (500,), 399, 67, 567, 3396),
    # France: food at 5.5 %, a 20 % item, prices TTC. 5 × 3.80 = 19.00; 19.00 × 5.5/105.5 =
    # 0.99052… → 0.99. 15.00 / 6 = 2.50 exactly. Colissimo 5.90 / 6 = 0.98333… → 0.98.
    # Tax 0.99 + 2.50 + 0.98 = 4.47; total 19.00 + 15.00 + 5.90 = 39.90.
    Case("FR 5.5 % and 20 % inclusive", True,
         (line(380, 5, "0.055", product=1), line(1500, 1, "0.20", product=2)),
         method(price=590), "0.20", (99, 250), 590, 98, 447, 3990),
    # Hungary, 27 % ÁFA included, in forints and fillér. 4 990 × 27/127 = 1 060.8661… →
    # 1 060.87 Ft; delivery 1 490 × 27/127 = 316.7716… → 316.77 Ft.
    # Tax 1 377.64 Ft; total 4 990 + 1 490 = 6 480.00 Ft.
    Case("HU 27 % inclusive", True, (line(499000, 1, "0.27"),), method(price=149000), "0.27",
         (106087,), 149000, 31677, 137764, 648000),
    # New York City, 8.875 % added (4 % state + 4.5 % city + 0.375 % MCTD); New York taxes
    # delivery charges. 2 × 49.99 = 99.98 × 0.08875 = 8.873225 → 8.87; shipping 7.95 × 0.08875
    # = 0.7055625 → 0.71. Tax 9.58; total 99.98 + 7.95 + 9.58 = 117.51.
    Case("NYC 8.875 % exclusive", False, (line(4999, 2, "0.08875"),), method(price=795),
         "0.08875", (887,), 795, 71, 958, 11751),
    # San Francisco, 8.625 % added (7.25 % California base + 1.375 % district taxes); a
    # separately stated common-carrier delivery is exempt in California, so shipping is untaxed.
    # 129.00 × 0.08625 = 11.12625 → 11.13; 3 × 19.99 = 59.97 × 0.08625 = 5.1724125 → 5.17.
    # Tax 16.30; total 129.00 + 59.97 + 12.00 + 16.30 = 217.27.
    Case("San Francisco 7.25 % + district exclusive", False,
         (line(12900, 1, "0.08625", product=1), line(1999, 3, "0.08625", product=2)),
         method(price=1200), "0", (1113, 517), 1200, 0, 1630, 21727),
    # Chicago, 10.25 % added (6.25 % state + 1.75 % Cook County + 1.25 % city + 1 % RTA),
    # shipping taxed too. 4 × 24.99 = 99.96 × 0.1025 = 10.2459 → 10.25; 9.00 × 0.1025 =
    # 0.9225 → 0.92. Tax 11.17; total 99.96 + 9.00 + 11.17 = 120.13.
    Case("Chicago 10.25 % exclusive", False, (line(2499, 4, "0.1025"),), method(price=900),
         "0.1025", (1025,), 900, 92, 1117, 12013),
    # Oregon: no sales tax. 199.99 + 15.00 shipping = 214.99.
    Case("Oregon 0 %", False, (line(19999, 1, "0"),), method(price=1500), "0",
         (0,), 1500, 0, 0, 21499),
    # British Columbia, GST 5 % + PST 7 %, the caller passing their sum 12 % (taxing them apart
    # gives the same here: 119.98 × 0.05 = 5.999 → 6.00, × 0.07 = 8.3986 → 8.40). 2 × 59.99 =
    # 119.98 × 0.12 = 14.3976 → 14.40; shipping 12.00 × 0.12 = 1.44.
    # Tax 15.84; total 119.98 + 12.00 + 15.84 = 147.82.
    Case("BC GST + PST exclusive", False, (line(5999, 2, "0.12"),), method(price=1200), "0.12",
         (1440,), 1200, 144, 1584, 14782),
    # Japan, consumption tax included: food at the reduced 8 %, other goods 10 %. 3 × ¥162 = ¥486
    # × 8/108 = ¥36 exactly; ¥1 650 × 10/110 = ¥150 exactly; delivery ¥770 / 11 = ¥70 exactly.
    # Tax ¥256; total ¥486 + ¥1 650 + ¥770 = ¥2 906 (in sen, as the function counts).
    Case("JP 8 % and 10 % inclusive", True,
         (line(16200, 3, "0.08", product=1), line(165000, 1, "0.10", product=2)),
         method(price=77000), "0.10", (3600, 15000), 77000, 7000, 25600, 290600),
    # Germany again with a 10 % coupon on the order. Subtotal 29.99 + 2 × 9.99 = 49.97; 10 % =
    # 4.997 → 5.00, spread: 500 × 2999/4997 = 300.08 → 300 (remainder 400/4997), 500 × 1998/4997 =
    # 199.92 → 199 (remainder 4597/4997); the one cent left goes to the larger remainder: 300, 200.
    # Grosses 26.99 × 19/119 = 4.3093… → 4.31 and 17.98 × 19/119 = 2.8707… → 2.87; 44.97 is
    # under free_over 50.00, so shipping 4.90 with 0.78. Tax 7.96; total 26.99 + 17.98 + 4.90 =
    # 49.87.
    Case("DE 19 % inclusive with a 10 % order coupon", True,
         (line(2999, 1, "0.19", product=1), line(999, 2, "0.19", product=2)),
         method(price=490, free_over=5000), "0.19", (431, 287), 490, 78, 796, 4987,
         promotions=(promo(1, "percentage", "10", "order", code="TEN"),),
         line_discounts=(300, 200)),
    # Austin, Texas, 8.25 % added (6.25 % state + 1 % city + 1 % transit). 2 × 25.00 = 50.00
    # reaches free_over 50.00 exactly: shipping free. 50.00 × 0.0825 = 4.125 → half-up 4.13.
    # Total 54.13.
    Case("Austin 8.25 %, free shipping reached exactly", False, (line(2500, 2, "0.0825"),),
         method(price=695, free_over=5000), "0.0825", (413,), 0, 0, 413, 5413),
]
# fmt: on


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_real_tax_case_to_the_cent(case: Case):
    quote = price_cart(
        case.lines,
        prices_include_tax=case.included,
        shipping_methods=[case.shipping],
        shipping_tax_rate=Decimal(case.shipping_rate),
        promotions=case.promotions,
    )
    assert tuple(q.tax for q in quote.lines) == case.line_taxes
    assert (quote.shipping_total, quote.shipping_tax) == (case.shipping_total, case.shipping_tax)
    assert (quote.tax_total, quote.total) == (case.tax_total, case.total)
    assert tuple(q.discount for q in quote.lines) == (case.line_discounts or (0,) * len(case.lines))
    assert quote.tax_included is case.included


# ---------------------------------------------------------------------------------------------
# Best discount per target, and how targets combine.

TWO_LINES = (line(3000, 1, product=1, categories={10, 1}), line(1000, 2, product=2))


def quote_with(*promotions, lines=TWO_LINES, methods=None, included=False):
    return price_cart(
        lines, prices_include_tax=included, shipping_methods=methods, promotions=promotions
    )


def test_the_code_wins_over_an_automatic_promotion_only_when_it_gives_more():
    automatic = promo(1, "percentage", "10", "order")
    coupon = promo(2, "fixed", 500, "order", code="FIVE")
    # Subtotal 50.00: 10 % is 5.00, a tie with the coupon's 5.00 → the lower id, the automatic.
    assert quote_with(automatic, coupon).discounts == (
        AppliedDiscount(1, "Promotion 1", None, "order", 500),
    )
    smaller = (line(4000, 1),)  # 10 % of 40.00 is 4.00 < 5.00: the coupon wins
    assert [d.promotion_id for d in quote_with(automatic, coupon, lines=smaller).discounts] == [2]
    larger = (line(8000, 1),)  # 8.00 > 5.00: the automatic one wins, the coupon gives nothing
    quote = quote_with(automatic, coupon, lines=larger)
    assert [(d.promotion_id, d.amount) for d in quote.discounts] == [(1, 800)]
    assert quote.discount_total == 800


def test_each_line_takes_its_own_best_items_discount():
    by_category = promo(1, "percentage", "20", "items", categories={1})  # line 1 via an ancestor
    by_product = promo(2, "fixed", 150, "items", products={1, 2})  # 1.50 off each unit
    quote = quote_with(by_category, by_product)
    # Line 1: 20 % of 30.00 = 6.00 beats 1.50. Line 2: only the fixed one, 2 × 1.50 = 3.00.
    assert [q.discount for q in quote.lines] == [600, 300]
    assert [(d.promotion_id, d.amount) for d in quote.discounts] == [(1, 600), (2, 300)]


def test_a_fixed_items_discount_is_per_unit_and_stops_at_the_line():
    quote = quote_with(promo(1, "fixed", 1500, "items", products={2}))
    assert [q.discount for q in quote.lines] == [0, 2000]  # 2 × 15.00 capped at 20.00
    assert quote.lines[1].total == 0


def test_an_items_promotion_matching_no_line_does_nothing():
    quote = quote_with(promo(1, "percentage", "50", "items", products={99}, categories={99}))
    assert quote.discount_total == 0 and quote.discounts == ()
    assert not is_applicable(promo(1, "percentage", "50", "items", products={99}), TWO_LINES)
    assert is_applicable(promo(1, "percentage", "50", "items", categories={10}), TWO_LINES)


def test_min_subtotal_is_compared_before_any_discount():
    # Subtotal 50.00: an items discount of 25.00 does not stop a 50.00 minimum being met.
    items = promo(1, "percentage", "50", "items", products={1, 2})
    order = promo(2, "fixed", 1000, "order", min_subtotal=5000)
    quote = quote_with(items, order)
    assert quote.discount_total == 2500 + 1000
    assert quote_with(promo(2, "fixed", 1000, "order", min_subtotal=5001)).discounts == ()
    assert not is_applicable(promo(2, "fixed", 1, "order", min_subtotal=5001), TWO_LINES)


def test_targets_combine_and_the_order_discount_takes_what_the_items_left():
    items = promo(1, "percentage", "50", "items", products={1})  # 15.00 off line 1
    order = promo(2, "percentage", "10", "order")  # 10 % of the 35.00 left = 3.50
    shipping = promo(3, "free_shipping", 0, "shipping")
    quote = quote_with(items, order, shipping, methods=[method(price=490)])
    # 3.50 spread over 15.00 and 20.00: 150 and 200, exact.
    assert [q.discount for q in quote.lines] == [1500 + 150, 200]
    assert quote.discount_total == 1850
    assert quote.shipping_method.price == 490 and quote.shipping_total == 0
    assert [(d.promotion_id, d.target, d.amount) for d in quote.discounts] == [
        (1, "items", 1500),
        (2, "order", 350),
        (3, "shipping", 490),
    ]
    assert quote.total == 5000 - 1850


def test_a_fixed_order_discount_never_takes_the_order_below_zero():
    quote = quote_with(promo(1, "fixed", 999999, "order"))
    assert quote.discount_total == 5000 and quote.total == 0
    assert [q.discount for q in quote.lines] == [3000, 2000]


def test_shipping_discounts_pick_the_best_and_stop_at_the_price():
    methods = [method(price=800)]
    half = promo(1, "percentage", "50", "shipping")
    three = promo(2, "fixed", 300, "shipping")
    assert quote_with(half, three, methods=methods).shipping_total == 400  # 4.00 off > 3.00 off
    assert quote_with(promo(2, "fixed", 5000, "shipping"), methods=methods).shipping_total == 0
    # A shipping discount leaves the line discounts, and so discount_total, alone.
    assert quote_with(half, methods=methods).discount_total == 0


def test_no_shipping_discount_is_listed_when_shipping_is_already_free():
    quote = quote_with(
        promo(1, "free_shipping", 0, "shipping"), methods=[method(price=490, free_over=5000)]
    )
    assert quote.shipping_total == 0 and quote.discounts == ()
    assert quote_with(promo(1, "free_shipping", 0, "shipping")).discounts == ()  # no zones


def test_shipping_is_taxed_on_what_remains_after_its_discount():
    quote = price_cart(
        [line(1000)],
        prices_include_tax=False,
        shipping_methods=[method(price=1000)],
        shipping_tax_rate=Decimal("0.20"),
        promotions=[promo(1, "percentage", "25", "shipping")],
    )
    assert (quote.shipping_total, quote.shipping_tax, quote.total) == (750, 150, 1000 + 750 + 150)


# ---------------------------------------------------------------------------------------------
# Shipping methods.


def test_without_zones_shipping_is_free_and_nothing_is_offered():
    quote = price_cart([line(1000)], prices_include_tax=False, shipping_methods=None)
    assert (quote.shipping_total, quote.shipping_method, quote.shipping_methods) == (0, None, ())


def test_the_cheapest_method_for_this_cart_is_taken_by_default():
    methods = [method(1, 990, free_over=2000), method(2, 490), method(3, 490, name="Other")]
    quote = price_cart([line(2000)], prices_include_tax=False, shipping_methods=methods)
    # Method 1 is free for a 20.00 cart; 2 and 3 tie on price, so the lower id comes first.
    assert [(m.id, m.price) for m in quote.shipping_methods] == [(1, 0), (2, 490), (3, 490)]
    assert quote.shipping_method == OfferedMethod(1, "Method 1", 0, 1, 3)
    chosen = price_cart(
        [line(2000)], prices_include_tax=False, shipping_methods=methods, shipping_method_id=3
    )
    assert chosen.shipping_method.id == 3 and chosen.shipping_total == 490


def test_free_over_counts_the_subtotal_after_discounts():
    methods = [method(price=490, free_over=5000)]
    coupon = promo(1, "fixed", 1, "order")
    assert quote_with(methods=methods).shipping_total == 0  # 50.00 reaches 50.00
    assert quote_with(coupon, methods=methods).shipping_total == 490  # 49.99 does not


def test_shipping_unavailable_when_nothing_can_go():
    heavy = [line(1000, 2, grams=600)]
    cases = [
        ([], None, "No shipping method delivers to this address."),
        ([method(1, max_grams=1199), method(2, active=False)], None, "(1200 g)"),
        ([method(1), method(2, active=False)], 2, "Shipping method 2 is not available"),
        ([method(1)], 7, "available: 1."),
    ]
    for methods, wanted, detail in cases:
        with pytest.raises(ShippingUnavailable) as raised:
            price_cart(
                heavy, prices_include_tax=False, shipping_methods=methods, shipping_method_id=wanted
            )
        assert detail in raised.value.detail
        problem = raised.value.to_problem()
        assert (problem["status"], problem["code"]) == (422, "shipping_unavailable")


# ---------------------------------------------------------------------------------------------
# Conversions and programming errors.


def test_cents_convert_exactly():
    assert to_cents(Decimal("19.99")) == 1999
    assert to_cents(Decimal("19.990")) == 1999
    assert to_cents(Decimal("7")) == 700
    assert from_cents(1999) == Decimal("19.99") and str(from_cents(0)) == "0.00"
    assert str(from_cents(5)) == "0.05"
    for bad in (Decimal("19.995"), Decimal("NaN"), Decimal("Infinity"), 19.99):
        with pytest.raises(ValueError):
            to_cents(bad)


@pytest.mark.parametrize(
    "lines, promotions, rate",
    [
        ([line(100, 0)], [], "0"),
        ([line(-1)], [], "0"),
        ([line(100, rate="-0.1")], [], "0"),
        ([line(100)], [], "-0.2"),
        ([line(100)], [promo(1, "percentage", "100.01", "order")], "0"),
        ([line(100)], [promo(1, "fixed", "2.5", "order")], "0"),
        ([line(100)], [promo(1, "fixed", -1, "items")], "0"),
        ([line(100)], [promo(1, "free_shipping", 0, "order")], "0"),
    ],
)
def test_bad_input_is_a_programming_error(lines, promotions, rate):
    with pytest.raises(ValueError):
        price_cart(
            lines,
            prices_include_tax=False,
            shipping_methods=None,
            shipping_tax_rate=Decimal(rate),
            promotions=promotions,
        )


# ---------------------------------------------------------------------------------------------
# Properties.

RATES = st.sampled_from(
    [
        "0",
        "0.05",
        "0.055",
        "0.07",
        "0.08",
        "0.0825",
        "0.08875",
        "0.1",
        "0.12",
        "0.19",
        "0.2",
        "0.21",
        "0.25",
        "0.27",
    ]
).map(Decimal)
ANY_RATE = st.decimals(min_value=0, max_value=1, places=5)
CENTS = st.integers(min_value=0, max_value=500_000)


@st.composite
def carts(draw):
    count = draw(st.integers(min_value=0, max_value=6))
    return [
        Line(
            variant_id=i + 1,
            product_id=draw(st.integers(1, 5)),
            quantity=draw(st.integers(1, 20)),
            unit_price=draw(CENTS),
            tax_rate=draw(RATES | ANY_RATE),
            category_ids=draw(st.frozensets(st.integers(1, 5), max_size=3)),
            weight_grams=draw(st.integers(0, 5000)),
        )
        for i in range(count)
    ]


@st.composite
def promotion_sets(draw):
    found = []
    for i in range(draw(st.integers(min_value=0, max_value=5))):
        kind = draw(st.sampled_from(["percentage", "fixed", "free_shipping"]))
        target = (
            "shipping"
            if kind == "free_shipping"
            else draw(st.sampled_from(["order", "items", "shipping"]))
        )
        value = (
            draw(st.decimals(0, 100, places=2))
            if kind == "percentage"
            else Decimal(draw(st.integers(0, 200_000)))
        )
        found.append(
            Promotion(
                id=i + 1,
                name=f"P{i + 1}",
                code=draw(st.none() | st.just(f"C{i + 1}")),
                kind=kind,
                value=value,
                target=target,
                product_ids=draw(st.frozensets(st.integers(1, 5), max_size=3)),
                category_ids=draw(st.frozensets(st.integers(1, 5), max_size=3)),
                min_subtotal=draw(st.none() | CENTS),
            )
        )
    return draw(st.permutations(found))


# An unlimited active method is always among them, so a quote is always possible.
METHOD_SETS = st.none() | st.lists(
    st.builds(
        ShippingMethod,
        id=st.integers(2, 50),
        name=st.just("M"),
        price=CENTS,
        free_over=st.none() | CENTS,
        max_weight_grams=st.none() | st.integers(0, 100_000),
        min_delivery_days=st.just(1),
        max_delivery_days=st.just(5),
        is_active=st.booleans(),
    ),
    max_size=4,
).map(lambda methods: [ShippingMethod(1, "Always", 700, None, None, 2, 4), *methods])


@given(carts(), st.booleans(), METHOD_SETS, RATES, promotion_sets())
def test_the_lines_always_add_up_and_nothing_is_negative(lines, included, methods, rate, promos):
    quote = price_cart(
        lines,
        prices_include_tax=included,
        shipping_methods=methods,
        shipping_tax_rate=rate,
        promotions=promos,
    )
    assert quote.subtotal == sum(q.subtotal for q in quote.lines)
    assert quote.discount_total == sum(q.discount for q in quote.lines)
    assert quote.tax_total == sum(q.tax for q in quote.lines) + quote.shipping_tax
    assert quote.total == (
        sum(q.total for q in quote.lines)
        + quote.shipping_total
        + (0 if included else quote.shipping_tax)
    )
    assert quote.total == (
        quote.subtotal
        - quote.discount_total
        + quote.shipping_total
        + (0 if included else quote.tax_total)
    )
    for given_line, q in zip(lines, quote.lines, strict=True):
        assert q.subtotal == given_line.unit_price * given_line.quantity
        assert 0 <= q.discount <= q.subtotal
        assert 0 <= q.tax and 0 <= q.total
        rate_ = Fraction(given_line.tax_rate)
        after = q.subtotal - q.discount
        # The tax to the cent, by exact fractions rather than the module's Decimal arithmetic.
        assert q.tax == half_up(after * rate_ / (1 + rate_) if included else after * rate_)
        assert q.total == (after if included else after + q.tax)
    shipping_rate, shipped = Fraction(rate), quote.shipping_total
    assert quote.shipping_tax == half_up(
        shipped * shipping_rate / (1 + shipping_rate) if included else shipped * shipping_rate
    )
    for amount in (
        quote.subtotal,
        quote.discount_total,
        quote.shipping_total,
        quote.shipping_tax,
        quote.tax_total,
        quote.total,
    ):
        assert amount >= 0
    assert quote.shipping_total <= (quote.shipping_method.price if quote.shipping_method else 0)
    shipping_discount = quote.shipping_method.price - quote.shipping_total if methods else 0
    assert sum(d.amount for d in quote.discounts) == quote.discount_total + shipping_discount
    ids = [d.promotion_id for d in quote.discounts]
    assert ids == sorted(set(ids)) and all(d.amount > 0 for d in quote.discounts)


def offer(promotion: Promotion, base: int, units: int = 1) -> int:
    """What a promotion would take off `base`, worked out again here from the rules."""
    if promotion.kind == "free_shipping":
        return base
    if promotion.kind == "percentage":
        return half_up(base * Fraction(promotion.value) / 100)
    return min(int(promotion.value) * units, base)


@given(carts(), promotion_sets(), CENTS)
def test_each_target_gets_the_best_discount_there_is(lines, promos, shipping_price):
    subtotal = sum(given_line.unit_price * given_line.quantity for given_line in lines)
    live = [p for p in promos if p.min_subtotal is None or subtotal >= p.min_subtotal]
    items = [p for p in live if p.target == "items"]
    # Without the order promotions a line's discount is its item discount alone.
    items_only = price_cart(
        lines, prices_include_tax=False, shipping_methods=None, promotions=items
    )
    for given_line, q in zip(lines, items_only.lines, strict=True):
        matching = (
            p
            for p in items
            if given_line.product_id in p.product_ids or p.category_ids & given_line.category_ids
        )
        assert q.discount == max((offer(p, q.subtotal, q.quantity) for p in matching), default=0)
    quote = price_cart(
        lines,
        prices_include_tax=False,
        shipping_methods=[method(1, shipping_price)],
        promotions=promos,
    )
    left = subtotal - items_only.discount_total
    best_order = max((offer(p, left) for p in live if p.target == "order"), default=0)
    assert quote.discount_total == items_only.discount_total + best_order
    best_shipping = max(
        (offer(p, shipping_price) for p in live if p.target == "shipping"), default=0
    )
    assert quote.shipping_total == shipping_price - best_shipping
    assert {d.promotion_id for d in quote.discounts} <= {p.id for p in live}


@given(st.integers(0, 10**9), st.lists(st.integers(0, 10**7), min_size=1, max_size=12))
def test_largest_remainder_sums_exactly_and_never_exceeds_a_weight(amount, weights):
    amount = amount % (sum(weights) + 1)
    shares = largest_remainder(amount, weights)
    assert sum(shares) == amount
    whole = sum(weights) or 1
    exact = [Fraction(amount * w, whole) for w in weights]
    for share, weight, part in zip(shares, weights, exact, strict=True):
        assert 0 <= share <= weight
        assert share in (part.__floor__(), part.__floor__() + 1)
    # Every part that got the extra cent had at least as large a fraction as any that did not.
    raised = [
        part - part.__floor__() for share, part in zip(shares, exact, strict=True) if share > part
    ]
    kept = [
        part - part.__floor__() for share, part in zip(shares, exact, strict=True) if share <= part
    ]
    assert not raised or not kept or min(raised) >= max(kept)


def test_largest_remainder_gives_a_tied_cent_to_the_earlier_line():
    assert largest_remainder(1, [5, 5]) == [1, 0]
    assert largest_remainder(2, [1, 1, 1]) == [1, 1, 0]
    assert largest_remainder(0, [0, 0]) == [0, 0]
    with pytest.raises(ValueError):
        largest_remainder(3, [1, 1])


@given(st.lists(st.tuples(CENTS, RATES | ANY_RATE), min_size=1, max_size=6))
def test_an_exclusive_tax_comes_back_exactly_when_extracted_from_its_gross(nets_and_rates):
    """Tax-inclusive and exclusive agree one way exactly: with g = n + half-up(n·r), extracting
    half-up(g·r/(1+r)) gives t = half-up(n·r) back: g·r/(1+r) = t + e/(1+r) where e in [−½, ½)
    is the first rounding's error, so for r > 0 it is strictly within half a cent of t (and
    r = 0 taxes nothing either way)."""
    lines = [line(net, 1, str(rate), variant=i) for i, (net, rate) in enumerate(nets_and_rates)]
    exclusive = price_cart(lines, prices_include_tax=False, shipping_methods=None)
    grosses = [
        line(q.total, 1, str(given.tax_rate), variant=i)
        for i, (q, given) in enumerate(zip(exclusive.lines, lines, strict=True))
    ]
    inclusive = price_cart(grosses, prices_include_tax=True, shipping_methods=None)
    assert [q.tax for q in inclusive.lines] == [q.tax for q in exclusive.lines]
    assert inclusive.total == exclusive.total and inclusive.tax_total == exclusive.tax_total


@given(CENTS, ANY_RATE)
def test_an_extracted_tax_is_within_a_cent_of_the_tax_on_its_net(gross, rate):
    """The other way is within one cent per line (for rates up to 100 %): with t extracted from
    g and n = g − t, n·r − t = (x − t)(1 + r) where x is the exact extracted tax, so
    |n·r − t| ≤ (1 + r)/2 ≤ 1. And t is p − half-up(p/(1+r)) but one cent more when p/(1+r) is
    exactly half a cent, where the two round in opposite directions."""
    extracted = tax_of(gross, rate, included=True)
    assert abs(tax_of(gross - extracted, rate, included=False) - extracted) <= 1
    net_exact = Fraction(gross) / (1 + Fraction(rate))
    on_a_half = net_exact.denominator == 2
    assert extracted == gross - half_up(net_exact) + (1 if on_a_half else 0)


@given(carts().filter(bool), promotion_sets(), CENTS)
def test_free_over_reached_exactly_is_free_and_a_cent_short_is_not(lines, promos, price):
    base = price_cart(lines, prices_include_tax=False, shipping_methods=None, promotions=promos)
    reached = base.subtotal - base.discount_total
    for free_over, expected in ((reached, 0), (reached + 1, price)):
        quote = price_cart(
            lines,
            prices_include_tax=False,
            promotions=promos,
            shipping_methods=[method(3, price, free_over=free_over)],
        )
        assert quote.shipping_method.price == expected


@given(carts().filter(lambda lines: any(line.weight_grams for line in lines)))
def test_a_weight_limit_exactly_reached_is_offered_and_a_gram_over_is_not(lines):
    weight = sum(line.weight_grams * line.quantity for line in lines)
    methods = [method(1, 100, max_grams=weight), method(2, 900, max_grams=weight - 1)]
    quote = price_cart(lines, prices_include_tax=False, shipping_methods=methods)
    assert [m.id for m in quote.shipping_methods] == [1]
    with pytest.raises(ShippingUnavailable):
        price_cart(lines, prices_include_tax=False, shipping_methods=methods[1:])
