from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

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


@pytest.fixture(scope="module")
def one_torch_thread():
    """One PyTorch thread for a test module (restored afterwards): on a busy machine a thread pool is
    far slower than one thread for the small networks the tests run."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
