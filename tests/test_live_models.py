"""Which model live runs where (live/app.py): the demo on the simulated room, the real-data model on real
sources, --checkpoint over both; the startup line; colour models refused on sources without colour;
PKU-MMD replays through live with ground truth; a Kinect v1 model on Kinect v2 sources."""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from model_files import random_checkpoint

from core.model.checkpoint import DecisionSettings
from live.app import (
    DEFAULT_CHECKPOINT,
    REAL_DATA_CHECKPOINT,
    SourceChoice,
    build_parser,
    checkpoint_for,
    config_from_args,
    default_checkpoint,
    describe_decisions,
    describe_model,
    main,
    open_model,
    with_decisions,
)
from live.worker import TWO_PERSON_ACTIONS, action_key

REPO = Path(__file__).resolve().parents[1]
NUCLA = REPO / "training" / "checkpoints" / "nucla_pose.pt"
PUNCHING = "punching/slapping other person"
POINTING = "point finger at the other person"


@pytest.fixture()
def short_pku_sequence(shared_data: Path, tmp_path: Path) -> Path:
    """The first 6 s of the real PKU-MMD sequence 0005-L in the release's layout, with one labelled
    punch (frames 60-149) and its label file under ../labels/."""
    source = shared_data / "pkummd" / "skeletons" / "0005-L.txt.xz"
    if not source.is_file():
        pytest.skip(f"{source} not found")
    with lzma.open(source, "rt") as f:
        lines = [next(f) for _ in range(180)]
    (tmp_path / "skeletons").mkdir()
    (tmp_path / "labels").mkdir()
    sequence = tmp_path / "skeletons" / "0005-L.txt"
    sequence.write_text("".join(lines))
    (tmp_path / "labels" / "0005-L.txt").write_text("26,60,149,2\n")
    return sequence


def test_the_simulator_gets_the_demo_and_real_sources_the_real_data_model() -> None:
    assert default_checkpoint(SourceChoice.parse("sim")) == DEFAULT_CHECKPOINT
    assert DEFAULT_CHECKPOINT.name == "demo.pt"
    for source in ("kinect", "ward3.xef", "clips/S001C001P001R001A001.skeleton", "0005-L.txt.xz"):
        assert default_checkpoint(SourceChoice.parse(source)) == REAL_DATA_CHECKPOINT
        assert checkpoint_for(config_from_args(build_parser().parse_args(["--source", source]))) == (
            REAL_DATA_CHECKPOINT)
    assert REAL_DATA_CHECKPOINT.is_file() and REAL_DATA_CHECKPOINT.name == "pku_interactions.pt"
    chosen = config_from_args(build_parser().parse_args(["--source", "sim", "--checkpoint", str(NUCLA)]))
    assert checkpoint_for(chosen) == NUCLA  # --checkpoint overrides


def test_a_colour_model_is_refused_on_a_skeleton_only_source(
    shared_data: Path, tmp_path: Path, short_pku_sequence: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.model.profiles import tiny

    rgb_model = random_checkpoint(tmp_path / "rgb.pt", tiny(3), ("a", "b", "c"), duration_s=1.0)
    name = "S001C001P001R001A001"  # an NTU .skeleton without its video
    (tmp_path / f"{name}.skeleton").symlink_to(shared_data / "ntu" / "skeletons" / f"{name}.skeleton")
    for source in (tmp_path / f"{name}.skeleton", short_pku_sequence):
        assert main(["--source", str(source), "--checkpoint", str(rgb_model), "--headless", "--fast"]) == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err.startswith("python -m live: rgb.pt needs colour (it crops left_hand, right_hand")
        assert "has none (skeleton only)" in err and "pku_interactions.pt" in err


def test_pku_replay_through_live_carries_truth_and_names_the_model(short_pku_sequence: Path) -> None:
    """`python -m live --source 0005-L.txt` with the real-data default: skeleton-only, two people, and
    every decision says what was really happening at its window's centre."""
    result = subprocess.run(
        [sys.executable, "-m", "live", "--source", str(short_pku_sequence), "--headless", "--fast",
         "--engine", "torch", "--threads", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    startup = next(line for line in result.stderr.splitlines() if "model pku_interactions.pt" in line)
    assert "9 classes (giving something to other person, handshaking" in startup and "no_action)" in startup
    assert "skeleton only (no RGB)" in startup and "Kinect v2 skeletons, 2 bodies" in startup
    # The smoothing and thresholds chosen for this model on its validation streams, not the demo's.
    assert ("decisions: smoothing 0.25 s (the model's), threshold 0.55 (the model's), "
            "events last down to 0.3 (the model's)") in result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert {line["person"] for line in lines} == {1, 2}  # both people, by their body slots
    assert all(line["truth"] in (PUNCHING, "no_action") for line in lines)
    # Window centres inside frames 60-149 (2-5 s) are the punch, the others background.
    for line in lines:
        centre = 0.5 * (line["window_start"] + line["stream_time"])
        if 2.05 < centre < 4.95:
            assert line["truth"] == PUNCHING
        elif centre < 1.95 or centre > 5.05:
            assert line["truth"] == "no_action"
    assert "[live] capture: 180 frames" in result.stderr


def test_a_real_replay_started_again_runs_without_pytorch_and_decides_alike(shared_data: Path,
                                                                            tmp_path: Path) -> None:
    """The real-data model on the whole of PKU-MMD 0005-L, started twice on one engine cache: the first
    start exports and measures (PyTorch and onnx imported), the second reads the model's record from the
    export and imports neither, and its 482 decisions are the first's (times, latencies and run aside)."""
    source = shared_data / "pkummd" / "skeletons" / "0005-L.txt.xz"
    if not source.is_file():
        pytest.skip(f"{source} not found")
    runs = []
    for start in ("first", "again"):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "live", "--source", str(source), "--headless",
             "--fast", "--output", str(tmp_path / f"{start}.jsonl")],
            cwd=REPO, capture_output=True, text=True, timeout=300,
            env={**os.environ, "WHERE_TO_FOCUS_CACHE": str(tmp_path / "cache")},
        )
        assert result.returncode == 0, result.stderr
        imported = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines()
                    if line.startswith("import time:")}
        lines = (tmp_path / f"{start}.jsonl").read_text().splitlines()
        runs.append(({"torch", "onnx"} & imported,
                     [{k: v for k, v in json.loads(line).items() if k not in ("time", "latency_ms", "run")}
                      for line in lines]))
    (first_imported, first), (again_imported, again) = runs
    assert first_imported == {"torch", "onnx"} and again_imported == set()
    assert len(again) == len(first) > 400 and again == first


def test_a_person_alone_is_never_given_a_two_person_action(shared_data: Path) -> None:
    """The real-data default knows only interactions. The real NTU clip of one person drinking water was
    "hugging other person" at 91% before the worker was told that nobody else is there; now every
    decision is no_action and the startup line says why."""
    clip = shared_data / "ntu" / "skeletons" / "S001C001P001R001A001.skeleton"
    result = subprocess.run(
        [sys.executable, "-m", "live", "--source", str(clip), "--headless", "--fast", "--engine", "torch",
         "--threads", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert ("8 two-person actions, never decided for a person with nobody within 2 m for 5 s (a person "
            "alone is no_action: this model knows nothing one person does)") in result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 10 and all(line["topk"][0] == {"class": "no_action", "p": 1.0} for line in lines)


def test_the_startup_line_says_what_a_person_alone_gets() -> None:
    _, inputs = open_model(REAL_DATA_CHECKPOINT, "pytorch-cpu")
    assert inputs.needs_partner == (True,) * 8 + (False,)  # the 8 interactions, not no_action
    pairs_only = replace(inputs, class_names=inputs.class_names[:-1], needs_partner=inputs.needs_partner[:-1])
    assert "(nothing is decided for a person alone" in describe_model(Path("pairs.pt"), pairs_only)
    site = replace(inputs, class_names=(*inputs.class_names, "patient fell"),
                   needs_partner=(*inputs.needs_partner, False))
    line = describe_model(Path("site.pt"), site)
    assert "8 two-person actions, never decided for a person with nobody within 2 m for 5 s" in line
    assert "a person alone is" not in line and "nothing is decided" not in line
    # A site's labels.txt may capitalise a class or type NTU's curly apostrophe straight.
    assert action_key("Grab other person's stuff") in TWO_PERSON_ACTIONS
    assert action_key("grab other person\u2019s stuff") in TWO_PERSON_ACTIONS
    assert action_key("drink water") not in TWO_PERSON_ACTIONS


def test_the_bundled_ensemble_runs_on_a_real_replay_with_its_own_settings(short_pku_sequence: Path) -> None:
    """pku_interactions_x3.pt (opt-in): three networks in one file, averaged, run by live as any model
    (its accuracy is the streaming evaluation's business, training/checkpoints/README.md)."""
    result = subprocess.run(
        [sys.executable, "-m", "live", "--source", str(short_pku_sequence), "--checkpoint",
         str(REPO / "training" / "checkpoints" / "pku_interactions_x3.pt"), "--headless", "--fast",
         "--engine", "torch", "--threads", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "model pku_interactions_x3.pt: 9 classes" in result.stderr
    assert "no no_action class" not in result.stderr
    assert "threshold 0.5 (the model's), events last down to 0.3 (the model's)" in result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert {line["person"] for line in lines} == {1, 2} and len(lines) == 44  # every hop, both people
    assert all(abs(sum(k["p"] for k in line["topk"]) - 1) < 0.05 for line in lines)  # top 3 of 9 classes


def test_a_kinect_v1_model_runs_on_a_kinect_v2_recording(short_pku_sequence: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "live", "--source", str(short_pku_sequence), "--checkpoint", str(NUCLA),
         "--headless", "--fast", "--engine", "torch", "--threads", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "model nucla_pose.pt: 10 classes (pick up with one hand" in result.stderr
    assert "Kinect v1 (Kinect v2 bodies mapped to it, core/joint_maps.py) skeletons, 1 body" in result.stderr
    # Which file it is, by its bytes and how it was made: two models of one class list are told apart.
    sha256 = hashlib.sha256(NUCLA.read_bytes()).hexdigest()
    assert (f"model nucla_pose.pt: sha256 {sha256[:12]}, trained on dataset nucla (pose stage, epoch 33, "
            "validation top-1 0.865)") in result.stderr
    assert "learnt from the simulated room alone" not in result.stderr
    # N-UCLA's clips are all actions: people idle between PKU-MMD's get one of them, and are told so.
    assert "WARNING live: model nucla_pose.pt has no no_action class" in result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert {line["person"] for line in lines} == {1, 2}  # a one-body model: one window per person


def test_a_model_of_the_simulated_room_on_a_real_replay_is_warned_of(short_pku_sequence: Path, tmp_path):
    """A room given the demo's kind of model by mistake (its fall_down is the default alert) paged from a
    simulation-trained model without a word."""
    from core.model.profiles import pose_only, tiny

    classes = ("wave", "fall_down", "no_action")
    model = random_checkpoint(tmp_path / "sim.pt", pose_only(tiny(len(classes))), classes,
                              extra={"dataset": "simulated"})
    result = subprocess.run(
        [sys.executable, "-m", "live", "--source", str(short_pku_sequence), "--checkpoint", str(model),
         "--headless", "--fast", "--engine", "torch", "--threads", "1", "--output", os.devnull],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert ("WARNING live: model sim.pt learnt from the simulated room alone: on replay "
            f"{short_pku_sequence.name} its decisions, and the alerts they raise, say little of what people "
            "do (pku_interactions.pt is the bundled model for real sources)") in result.stderr


def test_an_end_threshold_joins_a_real_pointing_into_one_event(shared_data: Path, tmp_path: Path) -> None:
    """The first 12 s of the real PKU-MMD sequence 0165-R: the real-data model's smoothed score for the
    second person's pointing dips below 0.6 for a moment; ending events there splits it in two, the
    model's own end threshold (0.3) keeps it one event."""
    source = shared_data / "pkummd" / "skeletons" / "0165-R.txt.xz"
    if not source.is_file():
        pytest.skip(f"{source} not found")
    with lzma.open(source, "rt") as f:
        lines = [next(f) for _ in range(360)]
    sequence = tmp_path / "0165-R.txt"
    sequence.write_text("".join(lines))

    def pointing_events(*end: str) -> list[tuple[int, str]]:
        events = tmp_path / f"events{len(end)}.jsonl"
        result = subprocess.run(
            [sys.executable, "-m", "live", "--source", str(sequence), "--headless", "--fast", "--engine",
             "torch", "--threads", "1", "--events", str(events), *end],
            cwd=REPO, capture_output=True, text=True, timeout=300,
        )
        assert result.returncode == 0, result.stderr
        records = [json.loads(line) for line in events.read_text().splitlines()]
        return [(r["person"], r["event"]) for r in records if r["action"] == POINTING]

    assert pointing_events("--end-threshold", "0.6").count((2, "started")) == 2  # ends where it starts
    assert pointing_events().count((2, "started")) == 1  # the model's own 0.3


def test_smoothing_and_threshold_come_from_the_command_line_else_the_model_else_the_defaults() -> None:
    own = DecisionSettings(smoothing_s=0.25, threshold=0.7, end_threshold=0.3)

    def chosen(argv: list[str], model: DecisionSettings) -> tuple[float, float, float | None]:
        config = with_decisions(config_from_args(build_parser().parse_args(argv)), model)
        return (config.pipeline.recognition.smoothing_s, config.headless_config.alerts.threshold,
                config.headless_config.event_end_threshold)

    assert chosen([], DecisionSettings()) == (0.5, 0.6, None)  # events end where they start
    assert chosen([], own) == (0.25, 0.7, 0.3)
    given = ["--smoothing", "0", "--threshold", "0.9", "--end-threshold", "0.5"]
    assert chosen(given, own) == (0.0, 0.9, 0.5)
    assert chosen(["--threshold", "0.9"], own) == (0.25, 0.9, 0.3)
    # An end threshold at or above the threshold in use (the model's under a lower --threshold, or one
    # given above the model's threshold): events end where they start, and nothing reports 0.8.
    assert chosen(["--threshold", "0.25"], own) == (0.25, 0.25, None)
    assert chosen(["--end-threshold", "0.8"], own) == (0.25, 0.7, None)
    assert describe_decisions(DecisionSettings(threshold=0.9), own).startswith(
        "decisions: smoothing 0.25 s (the model's), threshold 0.9 (given), events last down to 0.3 (the "
        "model's);")
    assert describe_decisions(DecisionSettings(), DecisionSettings()).startswith(
        "decisions: smoothing 0.5 s (default), threshold 0.6 (default);")
    assert ("the given --end-threshold 0.8 is not below the threshold, so events end where they start"
            in describe_decisions(DecisionSettings(end_threshold=0.8), own))
    # A --threshold at or below the model's end threshold drops that end: said, not left to be noticed.
    assert ("the model's end threshold 0.3 is not below it, so events end where they start"
            in describe_decisions(DecisionSettings(threshold=0.25), own))
