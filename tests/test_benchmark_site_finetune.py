"""benchmarks/site_finetune.py with a skeleton-only base: which PKU-MMD sequences it rehearses on and
which it checks the old classes on."""

from __future__ import annotations

from pathlib import Path

from benchmark_modules import load_benchmark
from model_files import random_checkpoint

from core.model.profiles import pose_only, tiny
from core.timeline import NO_ACTION

bench = load_benchmark("site_finetune")


def test_rehearsal_is_sequences_the_base_trained_on(tmp_path: Path) -> None:
    """Not its validation or test sequences (PKU-MMD's own training side holds some of our test split):
    learnt by the fine-tune, their figures would flatter it. One it trained on but this copy lacks is left
    out."""
    import pytest

    root = tmp_path / "pkummd"
    (root / "skeletons").mkdir(parents=True)
    for name in ("0002-L", "0002-M", "0003-L", "0003-M", "0005-R", "0006-L", "0009-L"):
        (root / "skeletons" / f"{name}.txt.xz").write_bytes(b"")
    trained = ["0002-L", "0002-M", "0004-M", "0005-R", "0006-L"]  # 0006-L is a test one here: not trained
    base = random_checkpoint(tmp_path / "base.pt", pose_only(tiny(3)), ["a", "b", NO_ACTION],
                             extra={"validation_clips": ["0003-L", "0003-L", "0003-M"],
                                    "trained_clips": trained[:4]})  # fmt: skip
    assert bench.skeleton_only(base)
    rehearsal, check = bench.pkummd_sequences(root, base, 3)
    assert [p.name for p in rehearsal] == ["0002-L.txt.xz", "0002-M.txt.xz", "0005-R.txt.xz"]
    assert [p.name for p in check] == ["0003-M.txt.xz"]  # the M view of each held-out performance
    unknown = random_checkpoint(tmp_path / "old.pt", pose_only(tiny(3)), ["a", "b", NO_ACTION],
                                extra={"validation_clips": ["0003-L"]})
    with pytest.raises(SystemExit, match="records no training sequences"):
        bench.pkummd_sequences(root, unknown, 3)
