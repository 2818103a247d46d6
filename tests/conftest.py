from __future__ import annotations

import os
from pathlib import Path

import pytest

# Qt without a screen (CI, servers); set before any test imports PySide6.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (real Kinect recordings, research-only: read in place, never copied)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real Kinect data not found at {SHARED_DATA} (research-only data is not shipped)")
    return SHARED_DATA
