"""ISO 3166-1 alpha-2 country codes, from pycountry's copy of the standard (never a list of our
own, which would go stale)."""

from __future__ import annotations

from functools import cache

import pycountry

# What a shipping zone lists to mean every country no other zone lists.
REST_OF_WORLD = "*"

CODES = frozenset(country.alpha_2 for country in pycountry.countries)


@cache
def subdivision_codes() -> frozenset[str]:
    """Every ISO 3166-2 subdivision code ("US-CA", "DE-BY"), read on first use."""
    return frozenset(subdivision.code for subdivision in pycountry.subdivisions)


def is_country(code: str) -> bool:
    """Whether `code` is an assigned alpha-2 code, as written (upper case: "DE", not "de")."""
    return code in CODES


def country_name(code: str) -> str:
    """ "Germany" for "DE"; "Rest of the world" for "*"; the code itself when unknown."""
    if code == REST_OF_WORLD:
        return "Rest of the world"
    country = pycountry.countries.get(alpha_2=code)
    return country.name if country is not None else code
