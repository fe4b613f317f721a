"""The one rule that says which account an email address names."""

from __future__ import annotations


def email_key(address: str) -> str:
    """`address` folded the way the account lookup compares it, and the way rate-limit buckets
    are named, so a bucket is always one account.

    The lookup is `lower(email) = :email_key` (the unique index is on `lower(email)`), so this is
    PostgreSQL's `lower()` under a UTF-8 locale: each character on its own, by its simple
    lowercase mapping. Python's `str.lower()` differs for exactly one character, U+0130 `İ`,
    which it turns into two (`i` and a combining dot) where PostgreSQL gives `i`; the first
    character of its lowering is the simple mapping for every character.
    """
    return "".join(character.lower()[0] for character in address.strip())
