"""The N-UCLA benchmarks: the cross-view protocol (benchmarks/nucla_crossview.py) and the view analysis
(benchmarks/nucla_views.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from benchmark_modules import BENCHMARKS, load_benchmark
from nucla_files import write_nucla

from core.model.checkpoint import load_checkpoint

pytestmark = pytest.mark.usefixtures("one_torch_thread")

crossview = load_benchmark("nucla_crossview")
views = load_benchmark("nucla_views")


def test_crossview_runs_both_directions_and_reuses_finished_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "nucla"
    write_nucla(data, per_class=4)
    config = tmp_path / "tiny.yaml"
    config.write_text(
        "data: {dataset: nucla, max_bodies: 1, validation_fraction: 0.25}\n"
        "window: {num_frames: 8}\nmodel: {profile: tiny, ablation: pose}\n"
        "optim: {batch_size: 8}\nepochs: {pose: 1}\nworkers: 0\ndevice: cpu\n"
    )
    argv = ["--configs", str(config), "--seeds", "0", "1", "--out", str(tmp_path / "cv"), "--data", str(data)]
    runs = crossview.main(argv)
    assert [(r.train_view, r.test_view, r.seed) for r in runs] == [(1, 2, 0), (1, 2, 1), (2, 1, 0), (2, 1, 1)]
    assert all(0 <= r.top1 <= 1 and r.epochs == 1 for r in runs)
    *_, table, _, command = capsys.readouterr().out.splitlines()
    assert table.startswith("| tiny |") and "±" in table
    assert command == "command: python -m benchmarks.nucla_crossview " + " ".join(argv)
    log = tmp_path / "cv" / "tiny" / "v1_to_v2" / "seed0" / "log.txt"
    assert "[pose] epoch 1/1" in log.read_text()
    # Finished runs are read back, not trained again.
    log.unlink()
    assert crossview.main(argv) == runs and not log.exists()
    # --ensemble: the finished seeds joined into one checkpoint per direction and scored on that view.
    averaged = [r for r in crossview.main([*argv, "--ensemble"]) if r not in runs]
    assert [(r.tag, r.train_view, r.test_view) for r in averaged] == [
        ("tiny, seeds 0+1 averaged", 1, 2), ("tiny, seeds 0+1 averaged", 2, 1)
    ]
    assert all(0 <= r.top1 <= 1 for r in averaged)
    ensemble = tmp_path / "cv" / "tiny" / "v1_to_v2" / "ensemble_seeds0-1" / "ensemble.pt"
    assert load_checkpoint(ensemble).config.pose_members == 2
    assert "| tiny, seeds 0+1 averaged |" in capsys.readouterr().out


def test_the_table_gives_both_directions_only_when_both_ran() -> None:
    def run(train_view: int, seed: int, top1: float):
        return crossview.Run("gcn", train_view, 3 - train_view, seed, top1, 0.9, 10, 1.0)

    one_way = crossview.format_table([run(1, 0, 0.80), run(1, 1, 0.82)]).splitlines()[-1]
    assert one_way == "| gcn | 80.0 / 82.0 | 81.0 ± 1.4 (80.0-82.0) | - | - | - |"
    both = crossview.format_table([run(1, 0, 0.80), run(2, 0, 0.84)]).splitlines()[-1]
    assert both.endswith("| 82.0 ± 2.8 (80.0-84.0) |")


def test_crossview_subject_folds_test_every_folds_subjects_unseen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "nucla"
    write_nucla(data, per_class=6)  # subjects 1-5, views 1 and 2 in turn
    config = tmp_path / "tiny.yaml"
    config.write_text(
        "data: {dataset: nucla, max_bodies: 1, validation_fraction: 0.25}\n"
        "window: {num_frames: 8}\nmodel: {profile: tiny, ablation: pose}\n"
        "optim: {batch_size: 8}\nepochs: {pose: 1}\nworkers: 0\ndevice: cpu\n"
    )
    argv = ["--configs", str(config), "--seeds", "0", "--directions", "1to2", "--out", str(tmp_path / "cv"),
            "--data", str(data), "--subject-folds", "1,2", "3,4,5"]
    [run] = crossview.main(argv)
    correct = clips = 0
    for fold, subjects in (("subjects1-2", {1, 2}), ("subjects3-4-5", {3, 4, 5})):
        folder = tmp_path / "cv" / "tiny" / fold / "v1_to_v2" / "seed0"
        results = json.loads((folder / "eval" / "results.json").read_text())
        tested = sum(1 for p in data.glob("*_v02.json") if int(p.stem.split("_")[1][1:]) in subjects)
        confusion = np.array(results["confusion"])
        assert confusion.sum() == tested > 0  # the fold's subjects, all of their view-2 clips
        held = load_checkpoint(folder / "pose" / "best.pt").extra["validation_clips"]
        assert not any(int(name.split("_")[1][1:]) in subjects for name in held)
        correct, clips = correct + np.trace(confusion), clips + confusion.sum()
    assert clips == len(list(data.glob("*_v02.json")))  # together: every clip of the test view
    assert run.top1 == pytest.approx(correct / clips) and run.epochs == 1
    assert "| tiny |" in capsys.readouterr().out
    for wrong in (["1,2", "2,3"], ["1,x"]):
        with pytest.raises(SystemExit):
            crossview.main([*argv[:-3], "--subject-folds", *wrong])
    with pytest.raises(SystemExit):
        crossview.main([*argv, "--ensemble"])
    assert "must not share subjects" in capsys.readouterr().err


def test_crossview_runs_start_from_a_pretrained_network(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text(
        "data: {dataset: nucla, max_bodies: 1, validation_fraction: 0.25}\n"
        "window: {num_frames: 8}\nmodel: {profile: tiny, ablation: pose}\n"
        "optim: {batch_size: 8}\nepochs: {pose: 1}\nworkers: 0\ndevice: cpu\n"
    )
    # "Pretrained" here: a first run of the same network (the real one knows PKU-MMD's 9 classes).
    write_nucla(tmp_path / "nucla", per_class=4)
    data = ["--data", str(tmp_path / "nucla"), "--seeds", "0", "--directions", "1to2"]
    crossview.main(["--configs", str(config), "--out", str(tmp_path / "pre"), *data])
    pretrained = tmp_path / "pre" / "tiny" / "v1_to_v2" / "seed0" / "pose" / "best.pt"
    argv = ["--configs", str(config), "--out", str(tmp_path / "cv"), *data, "--init", str(pretrained),
            "--tag", "tiny_pretrained"]
    (run,) = crossview.main(argv)
    assert run.tag == "tiny_pretrained" and 0 <= run.top1 <= 1
    log = (tmp_path / "cv" / "tiny_pretrained" / "v1_to_v2" / "seed0" / "log.txt").read_text()
    assert f"[pose] starts from {pretrained}" in log
    best = tmp_path / "cv" / "tiny_pretrained" / "v1_to_v2" / "seed0" / "pose" / "best.pt"
    assert load_checkpoint(best).extra["init"] == str(pretrained)
    capsys.readouterr()
    with pytest.raises(SystemExit):
        crossview.main([*argv, "--init", str(tmp_path / "missing.pt")])
    assert "missing.pt: no such file or folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # without a tag, its runs would be read back as the config's own
        crossview.main(argv[:-2])
    assert "--init needs a --tag" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # trained on view 1, it would be tested on view 1 from view 2
        crossview.main([*argv, "--directions", "2to1"])
    assert "trained on N-UCLA views [1], and view(s) [1] are tested here" in capsys.readouterr().err


def test_overrides_may_name_each_runs_views() -> None:
    """One distillation teacher per direction: the value names the run's own views."""
    given = ["distill.teacher=cv/gcn/v{train_view}_to_v{test_view}/ensemble.pt", "epochs.pose=40"]
    filled = ["distill.teacher=cv/gcn/v2_to_v1/ensemble.pt", "epochs.pose=40"]
    assert crossview.for_views(given, 2, 1) == filled


def test_summary_is_mean_sample_sd_and_range() -> None:
    assert crossview.summary([0.70, 0.80, 0.90]) == "80.0 ± 10.0 (70.0-90.0)"
    assert crossview.summary([0.75]) == "75.0"


def test_views_analysis_finds_the_back_view_error(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = views.main(["--data", str(shared_data / "nucla")])
    assert result["performances"] > 400 and 0.15 < result["swapped_share"] < 0.35
    out = capsys.readouterr().out
    assert "side-swapped fit better" in out and "against the label" in out
    # Subject 4's view-2 "sit down" clips rise and its "stand up" clips sink (the shared data as it is).
    subject4_view2 = [
        n for n in result["against_label"] if n.startswith(("a05_s04", "a06_s04")) and n.endswith("v02")
    ]
    assert len(subject4_view2) >= 8 and len(result["against_label"]) < 20


def test_the_view_analysis_without_its_data_is_one_line_naming_the_folder(tmp_path: Path) -> None:
    # Run as a command: a wrong --data ends with the folder and what is missing, exit 2, no traceback.
    import subprocess

    done = subprocess.run([sys.executable, "-m", "benchmarks.nucla_views", "--data", str(tmp_path)],
                          cwd=BENCHMARKS.parent, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (f"python -m benchmarks.nucla_views: error: {tmp_path}: no N-UCLA "
                                   "sequences (aAA_sSS_eEE_vVV.json) found")
