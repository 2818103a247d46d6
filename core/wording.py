"""Wording shared by messages: a long list shown by its first few."""

from __future__ import annotations

from collections.abc import Sequence


def first_few(items: Sequence[str], limit: int = 5) -> str:
    """'a, b, c (and 4 more)': the first `limit` of `items`, and how many are left out, for a message
    that must name what is wrong without filling a screen."""
    shown = ", ".join(items[:limit])
    return shown + (f" (and {len(items) - limit} more)" if len(items) > limit else "")
