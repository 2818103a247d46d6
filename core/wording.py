"""Wording shared by messages: a long list shown by its first few; why a user has no home folder; an amount
of disk space."""

from __future__ import annotations

import os
from collections.abc import Sequence


def first_few(items: Sequence[str], limit: int = 5) -> str:
    """'a, b, c (and 4 more)': the first `limit` of `items`, and how many are left out, for a message
    that must name what is wrong without filling a screen."""
    shown = ", ".join(items[:limit])
    return shown + (f" (and {len(items) - limit} more)" if len(items) > limit else "")


def no_home_folder() -> str:
    """Why '~' names no folder for this user, in this system's terms (a service's or a container's user)."""
    if os.name == "nt":
        return "USERPROFILE and HOMEPATH are not set"
    return "HOME is not set and the password database has no entry for this user"


def disk_amount(size_bytes: float) -> str:
    """'1.4 GB', '35 MB': a disk's free space as a user reads it (GB of 1e9 bytes, as --min-free-gb takes
    it); under a gigabyte in megabytes, where a nearly full disk said '0.0 GB'."""
    if size_bytes >= 1e9:
        return f"{size_bytes / 1e9:.1f} GB"
    return f"{size_bytes / 1e6:.0f} MB"
