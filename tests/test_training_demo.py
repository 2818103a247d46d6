"""The demo end to end at toy size: simulated rooms -> sequences -> four stages -> cut-clip evaluation."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
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
        "--scenes",
        "3",
        "--scene-minutes",
        "0.3",
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
    assert "[parts] the I3Ds start from random weights: Algorithm 1 starts them from ImageNet" in out
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    # Eleven classes (no_action last); the cut clips are one per action class.
    assert results["clips"] == 10 and len(results["attention_per_class"]) == 11
    assert (tmp_path / "eval" / "attention.png").is_file() and (tmp_path / "eval" / "confusion.png").is_file()
    # At this scale the one attention epoch is one with the part I3Ds held as the parts stage left them
    # (epochs.attention_frozen_parts), while the attention head learns.
    from core.model.checkpoint import load_checkpoint, save_checkpoint

    parts = load_checkpoint(tmp_path / "run" / "parts" / "best.pt").model.state_dict()
    joint = load_checkpoint(tmp_path / "run" / "attention" / "best.pt").model.state_dict()
    assert all(torch.equal(joint[k], parts[k]) for k in parts if k.startswith("parts."))
    assert parts["attention.score.weight"].abs().sum() == 0  # uniform attention before step 5 ...
    assert joint["attention.score.weight"].abs().sum() > 0  # ... which trained it
    # The stage after pose starts from pose's best.pt: pose trained again, attention is not "finished".
    import os

    from training.config import load_config
    from training.stages import StageError, train_stage

    attention = load_config(tmp_path / "run" / "attention" / "config.yaml")
    assert train_stage(attention, "attention").best_checkpoint == tmp_path / "run" / "attention" / "best.pt"
    pose_best = tmp_path / "run" / "pose" / "best.pt"
    # Touched (a copy, a restore from backup): the same weights, resumed as they are, and said.
    os.utime(pose_best, ns=(pose_best.stat().st_atime_ns, pose_best.stat().st_mtime_ns + 10**9))
    capsys.readouterr()
    assert train_stage(attention, "attention").best_checkpoint == tmp_path / "run" / "attention" / "best.pt"
    assert ("note: the --init checkpoint: the same files and sizes as when this run began, other "
            "modification times (a copy?)") in capsys.readouterr().out
    retrained = load_checkpoint(pose_best)  # pose trained again: other weights
    with torch.no_grad():
        next(retrained.model.parameters()).add_(0.01)
    save_checkpoint(pose_best, retrained.model, class_names=retrained.class_names,
                    preprocessing=retrained.preprocessing, extra=retrained.extra,
                    decisions=retrained.decisions)
    with pytest.raises(StageError, match=r"holds a attention run .*weights \(the --init checkpoint\)"):
        train_stage(attention, "attention")
    finetune = json.loads((tmp_path / "run" / "finetune" / "metrics.jsonl").read_text().splitlines()[0])
    assert finetune["lr"] == pytest.approx(2.5e-4)  # optim.finetune_lr, not the joint stage's 1e-3
    # Training data: per-person sequences of simulated rooms, each with its timeline; validation holds
    # out whole rooms; the cut clips come from another seed.
    from training.cache import load_clip
    from training.config import DataConfig
    from training.datasets.simulated import cache_splits

    splits = cache_splits(DataConfig(dataset="simulated", root=str(tmp_path / "train_cache"),
                                     validation_fraction=0.1))
    assert splits.continuous and splits.class_names[-1] == "no_action" and splits.validation
    sequence = load_clip(tmp_path / "train_cache", splits.train[0].name, with_crops=True)
    assert sequence.timeline is not None and sequence.crops is not None
    assert (tmp_path / "test_cache" / "clips" / "test_drink_left_0000.npz").is_file()


def test_demo_trains_the_demo_profile_with_its_own_attention_penalty(tmp_path: Path) -> None:
    from core.model.profiles import PROFILES, demo
    from core.skeleton import KINECT_V2
    from simulation.actions import CLASS_NAMES
    from training.ablations import network_config
    from training.config import load_config
    from training.demo import DEMO_ATTENTION_WEIGHT, DEMO_POSE_FUSION, demo_overrides, demo_settings

    assert PROFILES["demo"] is demo
    config = load_config(None, demo_overrides(tmp_path, tmp_path / "train_cache"))
    network = network_config(config, len(CLASS_NAMES) + 1, KINECT_V2)
    # the preset, with the skeleton's own classification mixed into the output
    assert network == dataclasses.replace(demo(len(CLASS_NAMES) + 1), pose_fusion=DEMO_POSE_FUSION)
    assert demo_settings().glimpse.crop_size == network.crop_size
    assert demo_settings().class_names == (*CLASS_NAMES, "no_action")
    assert config.window.stride_s > 0 and config.window.background_ratio > 0
    assert config.optim.attention_weight == DEMO_ATTENTION_WEIGHT > 1e-4  # above N-UCLA's lambda1


@pytest.mark.parametrize(("argv", "message"), [
    (["--scenes", "-1"], "argument --scenes: must be at least 1, got -1"),
    (["--scenes", "0"], "argument --scenes: must be at least 1, got 0"),
    (["--scene-minutes", "nan"], "argument --scene-minutes: expected a finite number, got 'nan'"),
    (["--scene-minutes", "inf"], "argument --scene-minutes: expected a finite number, got 'inf'"),
    (["--epochs-scale", "-1"], "argument --epochs-scale: must be positive, got -1.0"),
    (["--test-clips-per-class", "-1"], "argument --test-clips-per-class: must be at least 1, got -1"),
    (["--workers", "0"], "argument --workers: must be at least 1, got 0"),
    (["--seed", "-1"], "argument --seed: must be at least 0, got -1"),
    (["--people", "7"], "argument --people: must be from 1 to 6, got 7"),
])
def test_demo_refuses_a_bad_option_before_simulating(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    # They were tracebacks (from worker processes for nan), or simulated for seconds to minutes first.
    with pytest.raises(SystemExit) as stop:
        main(["demo", "--out", str(tmp_path / "demo"), *argv])
    assert stop.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()


def test_demo_refuses_an_out_folder_under_a_file_before_simulating(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "afile").write_text("")
    with pytest.raises(SystemExit) as stop:
        main(["demo", "--out", str(tmp_path / "afile" / "demo")])
    said = f"{tmp_path / 'afile' / 'demo'}: {tmp_path / 'afile'} is a file, not a folder"
    assert stop.value.code == 2 and said in capsys.readouterr().err


def test_demo_refuses_an_unknown_set_key_before_simulating(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    # As the stage commands do; the demo used to simulate every room first (22 s at the smallest size).
    assert main(["demo", "--out", str(tmp_path / "demo"), "--set", "nosuch=1", "--no-progress"]) == 2
    assert "--set nosuch=1: unknown key 'nosuch'" in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()


COMMITTED = Path(__file__).resolve().parents[1] / "training" / "checkpoints" / "demo.pt"


@pytest.mark.skipif(not COMMITTED.is_file(), reason=f"{COMMITTED} is not there")
def test_committed_demo_checkpoint_is_small_and_matches_the_simulated_classes() -> None:
    from core.model.checkpoint import load_checkpoint
    from core.model.profiles import demo
    from simulation.actions import CLASS_NAMES
    from training.demo import DEMO_END_THRESHOLD, DEMO_POSE_FUSION, DEMO_SMOOTHING_S, DEMO_THRESHOLD

    assert COMMITTED.stat().st_size < 5 * 2**20
    loaded = load_checkpoint(COMMITTED)
    assert loaded.config == dataclasses.replace(demo(len(CLASS_NAMES) + 1), pose_fusion=DEMO_POSE_FUSION)
    chosen = {"smoothing_s": DEMO_SMOOTHING_S, "threshold": DEMO_THRESHOLD,
              "end_threshold": DEMO_END_THRESHOLD}
    assert dataclasses.asdict(loaded.decisions) == chosen
    # and fine-tuning a site's model from it inherits them (training/finetune.py)
    assert loaded.extra["train_config"]["decisions"] == chosen
    assert list(loaded.class_names) == [*CLASS_NAMES, "no_action"]  # the background class last
    assert loaded.preprocessing.glimpse.crop_size == loaded.config.crop_size
    from training.demo import demo_settings

    assert loaded.preprocessing.glimpse == demo_settings().glimpse  # live cuts the boxes training cut
    crops = torch.zeros(1, 3, loaded.config.num_frames, 32, 32, 3)
    skeleton = torch.zeros(1, loaded.config.num_frames, loaded.config.num_bodies, 25, 3)
    with torch.no_grad():
        logits, attention = loaded.model(crops, skeleton)
    assert logits.shape == (1, len(CLASS_NAMES) + 1) and attention.shape == (1, 3)


def test_the_demo_counts_classes_whose_attention_leads_with_another_part() -> None:
    import numpy as np

    from core.glimpse import PARTS
    from simulation.actions import CLASSES
    from training.demo import DEMO_CLASSES, misplaced_attention
    from training.evaluation import Report

    right = np.eye(len(PARTS))[[PARTS.index(a.focus) for a in CLASSES]] * 0.6 + 0.1
    right = np.vstack([right, np.full((1, len(PARTS)), np.nan)])  # no_action: no informative part
    wrong = right.copy()
    wrong[[0, -2]] = wrong[[0, -2]][:, ::-1]  # swap the first and last part's weight of two classes
    per_class = [(name, 1, 1.0) for name in DEMO_CLASSES]
    report = Report(1.0, 1.0, per_class, np.zeros((11, 11)), right, list(PARTS))
    assert misplaced_attention(report) == []
    report.attention_per_class = wrong
    assert misplaced_attention(report) == [CLASSES[0].name, CLASSES[-1].name]



def _demo_until_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> tuple[int, dict]:
    """The demo at toy size, interrupted where it starts training: (its exit status, {"inputs": the
    stages' inputs as training fingerprints them, "restart": what train_all was given})."""
    from training import stages
    from training.datasets import build_splits

    seen: dict = {}

    def interrupted(config, *, restart=False, **_):  # noqa: ANN001, ANN202 - stands in for train_all
        seen.update(inputs=stages.stage_inputs(config, build_splits(config.data), None), restart=restart)
        raise KeyboardInterrupt

    monkeypatch.setattr(stages, "train_all", interrupted)
    small = ["--scenes", "2", "--scene-minutes", "0.1", "--test-clips-per-class", "1", "--workers", "1"]
    return main(["demo", "--out", str(tmp_path), *small, "--no-progress", *argv]), seen


def test_an_interrupted_demo_resumes_on_the_same_data_and_restarts_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    # It could never resume: the rooms' index.json was written again on every run, and as a stage's inputs
    # include its files' times, the stages refused the rerun as a run for other data and pointed to a
    # --restart that the demo did not take.
    status, first = _demo_until_training(tmp_path, monkeypatch, [])
    assert status == 130 and first["restart"] is False
    said = capsys.readouterr().err
    assert "interrupted: demo stopped; the same command again resumes from the rooms it simulated" in said
    status, again = _demo_until_training(tmp_path, monkeypatch, [])
    assert status == 130 and again["inputs"] == first["inputs"]
    status, restarted = _demo_until_training(tmp_path, monkeypatch, ["--restart"])
    assert status == 130 and restarted["restart"] is True and restarted["inputs"] == first["inputs"]
    assert "interrupted: demo stopped; without --restart the same command resumes" in capsys.readouterr().err


def test_a_demo_rerun_with_another_seed_simulates_its_rooms_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    # It reused the first run's rooms whatever --seed, --scene-minutes or --people said.
    from training.datasets.simulated_streams import stream_tasks

    _, first = _demo_until_training(tmp_path, monkeypatch, [])
    capsys.readouterr()
    _, other = _demo_until_training(tmp_path, monkeypatch, ["--seed", "3"])
    said = capsys.readouterr().out
    assert f"2 room(s) in {tmp_path / 'train_cache' / 'streams'} were simulated with other settings" in said
    room = json.loads((tmp_path / "train_cache" / "streams" / "room_000.json").read_text())["room"]
    assert room["seed"] == stream_tasks(2, 0.1, 2, 3, "room")[0].seed
    # The run's data changed, so its stages refuse to resume it (with --restart to train it again).
    assert other["inputs"]["files"] != first["inputs"]["files"]


def test_a_generated_clip_of_another_seed_is_generated_again_not_reused(tmp_path: Path, capsys) -> None:
    # The demo's test clips are named by class and number (test_drink_0000): a rerun with another --seed
    # scored the new model on the old seed's clips.
    from training.cache import load_clip
    from training.datasets.simulated import prepare_simulated_clip, simulated_tasks
    from training.demo import demo_settings
    from training.prepare import prepare_cache

    def prepare(seed: int) -> np.ndarray:
        tasks = simulated_tasks(1, seed, "test")[:1]
        prepare_cache(tasks, demo_settings(), tmp_path, progress=False, prepare_one=prepare_simulated_clip)
        return load_clip(tmp_path, tasks[0].name, with_crops=False).joints

    first = prepare(1)
    capsys.readouterr()
    assert np.array_equal(prepare(1), first) and "1 already there" in capsys.readouterr().out
    again = prepare(2)
    assert "preparing them again" in capsys.readouterr().out
    assert not np.array_equal(again, first)
