"""recordings/argument_types.py: how a benchmark command ends on a file it cannot use."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.model import load_checkpoint
from recordings.argument_types import run_command


def test_a_bad_checkpoint_ends_a_benchmark_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_text("junk\n")
    with pytest.raises(SystemExit) as stop:
        run_command(lambda: load_checkpoint(bad), "python -m benchmarks.engines")
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1
    assert err.startswith(f"python -m benchmarks.engines: error: {bad}: cannot read as a torch checkpoint: ")
    assert "it is no PyTorch checkpoint" in err


def test_a_benchmark_that_runs_exits_with_its_status() -> None:
    for returned, status in ((None, 0), ({"figures": 1}, 0), (3, 3)):
        with pytest.raises(SystemExit) as stop:
            run_command(lambda returned=returned: returned, "prog")
        assert stop.value.code == status


def test_an_output_on_a_read_only_disk_is_refused_when_given_not_after_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A screenshot or a decisions file that cannot be written is said before the app starts (a
    read-only disk; root ignores permission bits, so the disk's answer is stood in for)."""
    import argparse
    import os

    from recordings.argument_types import image_file, output_file

    assert image_file(str(tmp_path / "view.png")) == tmp_path / "view.png"
    real = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != tmp_path and real(path, mode))
    for kind in (image_file, output_file):
        with pytest.raises(argparse.ArgumentTypeError, match=r"view\.png: cannot be written \(no permission"):
            kind(str(tmp_path / "view.png"))
