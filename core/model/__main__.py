"""`python -m core.model [--classes N]`: parameters and GMACs per window of each profile."""

from __future__ import annotations

from core.model.profiles import main

main()
