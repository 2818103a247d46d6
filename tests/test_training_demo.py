"""The demo command end to end at toy size: simulated clips -> cache -> four stages -> evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from training.__main__ import main

torch.set_num_threads(1)


@pytest.mark.slow
def test_demo_runs_every_stage_and_reports_attention(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = [
        "demo",
        "--out",
        str(tmp_path),
        "--clips-per-class",
        "2",
        "--test-clips-per-class",
        "1",
        "--epochs-scale",
        "0.05",
        "--workers",
        "1",
        "--no-progress",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    for stage in ("parts", "pose", "attention", "finetune"):
        assert (tmp_path / "run" / stage / "best.pt").is_file()
    assert "left_hand" in out and "right_hand" in out and "full_body" in out  # the attention table
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert results["clips"] == 10 and len(results["attention_per_class"]) == 10
    assert (tmp_path / "eval" / "attention.png").is_file() and (tmp_path / "eval" / "confusion.png").is_file()
    # The held-out clips come from another seed: other people, other motions.
    import numpy as np

    with np.load(tmp_path / "train_cache" / "clips" / "train_drink_left_0000.npz") as a:
        with np.load(tmp_path / "test_cache" / "clips" / "test_drink_left_0000.npz") as b:
            assert a["joints"].shape != b["joints"].shape or not np.allclose(a["joints"], b["joints"])
