"""core.model's names, imported when first asked for."""

from __future__ import annotations

import core.model
from core.model.profiles import PROFILES


def test_every_profile_and_every_listed_name_can_be_imported_from_core_model() -> None:
    # `from core.model import demo` raised AttributeError although PROFILES lists the demo profile.
    for name, preset in PROFILES.items():
        assert name in core.model.__all__, name
        assert getattr(core.model, name) is preset
    for name in core.model.__all__:
        assert getattr(core.model, name) is not None, name
