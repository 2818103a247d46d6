"""`python -m core.model [--classes N]`: parameters and GMACs per window of each profile."""

from __future__ import annotations

from core.model.cost import main

main()
