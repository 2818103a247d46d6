from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from nucla_files import write_nucla

from core.model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from core.model.network import PartAttentionNetwork
from core.skeleton import KINECT_V1, KINECT_V2, SkeletonLayout
from core.window import WindowSpec
from training.__main__ import main
from training.config import AugmentConfig, ConfigError, TrainConfig, config_from_dict, load_config
from training.data import Clip, ClipSource, DatasetError, hold_out_performances, stratified_split
from training.datasets.nucla import (
    NUCLA_CLASS_NAMES,
    SkeletonOnly,
    hip_rise,
    moves_against_label,
    nucla_clip,
    nucla_sources,
    nucla_splits,
    performance,
    read_nucla_sequence,
)
from training.stages import StageError, stages_for, train_stage
from training.windows import Augmentation, WindowDataset, reversed_labels

torch.set_num_threads(1)


# ---------------------------------------------------------------------------------------------- config


def test_yaml_anchors_and_merge_keys_still_load(tmp_path: Path) -> None:
    """The loader that refuses a key given twice takes YAML's merge key, whose keys an explicit one
    overrides."""
    path = tmp_path / "merged.yaml"
    path.write_text("optim:\n  <<: &common {lr: 0.1, batch_size: 2}\n  lr: 0.2\n"
                    "distill:\n  weight: 0.5\n")
    config = load_config(path)
    assert config.optim.lr == pytest.approx(0.2) and config.optim.batch_size == 2


def test_yaml_then_overrides_then_flags(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("optim:\n  lr: 0.01\nwindow:\n  duration_s: 3\ndata:\n  nucla_train_views: [1]\n")
    config = load_config(path, ["optim.lr=2e-3", "augment.mirror=0.5", "model.overrides={lstm_hidden: 8}"])
    assert config.optim.lr == pytest.approx(2e-3)
    assert config.window.duration_s == 3.0 and isinstance(config.window.duration_s, float)
    assert config.data.nucla_train_views == [1]
    assert config.augment.mirror == 0.5
    assert config.model.overrides == {"lstm_hidden": 8}
    assert config.optim.batch_size == TrainConfig().optim.batch_size  # untouched default


def test_a_stage_command_reads_its_config_file_then_the_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python -m training pose --config X` trains with X's settings: a config file the command line
    dropped would train with the defaults without a word."""
    import training.finetune  # noqa: F401 - its own `train_stage`, imported as the CLI builds, stays the real one
    from training import stages

    path = tmp_path / "c.yaml"
    path.write_text("optim:\n  lr: 0.0123\nwindow:\n  duration_s: 3\n")
    seen: list[TrainConfig] = []

    def train_stage(config: TrainConfig, stage: str, restart: bool = False, init=None) -> stages.StageResult:
        seen.append(config)
        raise StageError("captured")

    monkeypatch.setattr(stages, "train_stage", train_stage)
    assert main(["pose", "--config", str(path), "--set", "window.duration_s=4", "--seed", "7",
                 "--out", str(tmp_path / "run")]) == 2
    (config,) = seen
    assert config.optim.lr == pytest.approx(0.0123)  # from the file
    assert config.window.duration_s == 4.0 and config.seed == 7  # --set and flags on top of it


def test_a_set_override_of_one_model_override_keeps_the_files_others(tmp_path: Path) -> None:
    """`--set model.overrides.lstm_hidden=64` adds to the YAML's model.overrides: replacing the mapping
    dropped the file's other network settings."""
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  overrides:\n    lstm_hidden: 8\n    dropout: 0.25\n")
    config = load_config(path, ["model.overrides.lstm_hidden=64"])
    assert config.model.overrides == {"lstm_hidden": 64, "dropout": 0.25}
    config = load_config(path, ["model.overrides={lstm_hidden: 16}"])
    assert config.model.overrides == {"lstm_hidden": 16, "dropout": 0.25}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("optim:\n  lrr: 1\n", "unknown key 'lrr'"),
        ("optim:\n  batch_size: big\n", "expected an integer"),
        ("epochs: 3\n", "expected a mapping"),
        ("augment:\n  time_reverse: 2\n", r"time_reverse is a probability in \[0, 1\], got 2"),
        ("augment:\n  scale: 1.0\n", r"scale must be in \[0, 1\)"),
        ("augment:\n  rotate_deg: -5\n", "rotate_deg must not be negative"),
        ("optim:\n  lr: -1\n", "lr and finetune_lr must not be negative"),
        ("optim:\n  lr: 0\n", r"optim.lr must be positive \(0 trains for hours and learns nothing\), got 0"),
        ("optim:\n  finetune_lr: 0\n", "optim.finetune_lr must be positive"),
        # 0 stopped every stage after its first epoch, whatever it scored
        ("optim:\n  early_stop_patience: 0\n", r"optim.early_stop_patience must be at least 1 \(to never"),
        # frames sampled out of order, not a jittered clock
        ("window:\n  jitter: 50\n", r"window.jitter must be at most 0.5 \(of the sample spacing\), got 50"),
        ("max_steps_per_epoch: -5\n", "max_steps_per_epoch must not be negative"),  # was a whole epoch
        ("decisions:\n  smoothing_s: 60\n", "decisions.smoothing_s must be at most 10 s"),  # as --smoothing
        # an empty file trained the defaults: another network than meant
        ("", "bad.yaml: empty, no settings in it"),
        ("# settings to come\n", "bad.yaml: empty, no settings in it"),
        # numpy refuses a negative seed in the DataLoader's workers, and the run hung with its folder made
        ("seed: -1\n", "seed must not be negative, got -1"),
        ("data:\n  split_seed: -1\n", "split_seed must not be negative"),
        # PyYAML keeps the last: the first section's settings were dropped without a word
        ("optim:\n  lr: 0.1\nseed: 1\noptim:\n  batch_size: 2\n",
         r"'optim' is given twice in one mapping\n  in \".*bad\.yaml\", line 4"),  # the file's name
        ("optim:\n  label_smoothing: 1\n", r"label_smoothing must be in \[0, 1\)"),
        ("data:\n  validation_fraction: 2\n", r"validation_fraction is a fraction in \[0, 1\), got 2"),
        ("window:\n  duration_s: 0\n", "duration_s must be positive"),
        ("epochs:\n  pose: -1\n", "pose must not be negative"),
        ("optim:\n  lr: .inf\n", "bad.yaml: optim.lr: expected a finite number, got inf"),
        ("window:\n  duration_s: .nan\n", "expected a finite number, got nan"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as error:
        load_config(path)
    assert "bad.yaml" in str(error.value)


def test_a_network_override_of_the_wrong_type_names_the_field() -> None:
    """It was said in Python's words: "'<' not supported between instances of 'str' and 'int'"."""
    from core.skeleton import KINECT_V2
    from training.ablations import network_config

    for override, message in (("{lstm_hidden: x}", "overrides: lstm_hidden must be an integer, got 'x'"),
                              ("{width: wide}", "width must be a number, got 'wide'"),
                              ("{lstm_bidirectional: 1}", "lstm_bidirectional must be true or false, got 1")):
        config = load_config(None, [f"model.overrides={override}"])
        with pytest.raises(ConfigError, match=message):
            network_config(config, 5, KINECT_V2)
    config = load_config(None, ["model.overrides={width: 1, lstm_hidden: 64}"])  # an integer is a number
    assert network_config(config, 5, KINECT_V2).lstm_hidden == 64


def test_settings_refused_when_given_are_read_back_from_an_older_runs_record() -> None:
    """A run trained before a setting was refused keeps it in its record, and must still evaluate and
    fine-tune; given again, it is refused with its source named."""
    from training.config import config_to_dict

    recorded = config_to_dict(TrainConfig())
    recorded["optim"]["early_stop_patience"] = 0
    recorded["window"]["jitter"] = 0.8
    older = config_from_dict(recorded)
    assert older.optim.early_stop_patience == 0 and older.window.jitter == 0.8
    assert load_config(None, ["seed=1"], base=older).seed == 1  # what a fine-tune of it does
    with pytest.raises(ConfigError, match="--set window.jitter=0.9: window.jitter must be at most 0.5"):
        load_config(None, ["window.jitter=0.9"], base=older)


def test_a_config_file_that_is_a_folder_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"config file {tmp_path} is a folder"):
        load_config(tmp_path)
    (tmp_path / "moved.yaml").symlink_to(tmp_path / "configs" / "pku.yaml")  # its target moved away
    with pytest.raises(ConfigError, match=r"moved\.yaml is a link to .*pku\.yaml, which does not exist"):
        load_config(tmp_path / "moved.yaml")


def test_a_config_link_through_other_links_names_where_they_end(tmp_path: Path) -> None:
    # Its own target alone was said not to exist, though there, a link itself; a loop read the same.
    (tmp_path / "moved.yaml").symlink_to(tmp_path / "configs" / "pku.yaml")
    (tmp_path / "chain.yaml").symlink_to("moved.yaml")
    end = re.escape(str(tmp_path / "configs" / "pku.yaml"))
    with pytest.raises(ConfigError, match=rf"chain\.yaml is a link to moved\.yaml, a link on to {end}, "):
        load_config(tmp_path / "chain.yaml")
    (tmp_path / "a.yaml").symlink_to("b.yaml")
    (tmp_path / "b.yaml").symlink_to("a.yaml")
    with pytest.raises(ConfigError, match=r"a\.yaml is a link to b\.yaml, and the links lead round in a "):
        load_config(tmp_path / "a.yaml")


def test_a_config_that_is_not_utf8_is_named() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "binary.yaml"
        path.write_bytes(bytes(range(256)))
        with pytest.raises(ConfigError, match=r"binary.yaml: byte 128: not UTF-8 text"):
            load_config(path)


def test_a_device_this_machine_lacks_is_a_config_error() -> None:
    from training.distributed import pick_device

    assert pick_device("cpu").type == "cpu"
    with pytest.raises(ConfigError, match="expected auto, cpu, cuda or cuda:N"):
        pick_device("banana")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="torch sees no CUDA GPU"):
            pick_device("cuda:1")


def test_a_stage_of_no_epochs_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    # It used to "finish" at once, with no best.pt, and then block every rerun as already finished.
    from training.stages import StageError, train_stage

    data = tmp_path / "nucla"
    write_nucla(data)
    with pytest.raises(StageError, match="epochs.pose is 0: the pose stage needs at least one epoch"):
        train_stage(_pose_config(tmp_path, data, **{"epochs.pose": "0"}), "pose")
    assert not (tmp_path / "run").exists()


def test_a_folder_that_is_not_a_cache_says_what_it_is(tmp_path: Path) -> None:
    from training.cache import read_settings

    with pytest.raises(DatasetError, match="missing: no such folder"):
        read_settings(tmp_path / "missing")
    (tmp_path / "S001C001P001R001A121.skeleton").write_text("0\n")
    with pytest.raises(DatasetError, match="no cache.json .* holds recordings: evaluate them with --dataset"):
        read_settings(tmp_path)


def test_a_file_given_as_the_cache_is_said_to_be_a_file(tmp_path: Path) -> None:
    # It was "no such folder", as though the name were a typo, of a file that is there.
    from training.cache import read_settings

    (tmp_path / "data.txt").write_text("x")
    said = r"data\.txt: a file, not a folder \(expected a cache folder written by `python -m training "
    with pytest.raises(DatasetError, match=said + r"prepare`, holding cache\.json\)$"):
        read_settings(tmp_path / "data.txt")
    (tmp_path / "cache.json").write_text("{}")
    said = rf"cache\.json: a file, not a folder .*; give the folder it is in, {re.escape(str(tmp_path))}$"
    with pytest.raises(DatasetError, match=said):
        read_settings(tmp_path / "cache.json")


def test_bad_override_is_named() -> None:
    with pytest.raises(ConfigError, match="--set optim.learning_rate=1"):
        load_config(None, ["optim.learning_rate=1"])


# ------------------------------------------------------------------------------------------------ data


def test_stratified_split_is_per_class_and_reproducible() -> None:
    labels = [0] * 50 + [1] * 30 + [2] * 2
    kept, held = stratified_split(labels, 0.1, seed=3)
    again = stratified_split(labels, 0.1, seed=3)
    assert np.array_equal(held, again[1])
    assert sorted(np.concatenate([kept, held]).tolist()) == list(range(82))
    counts = np.bincount(np.asarray(labels)[held], minlength=3)
    assert counts.tolist() == [5, 3, 1]


def test_performance_hold_out_keeps_every_view_of_a_performance_together() -> None:
    # 3 classes x 10 performances, each filmed by 2 or 3 cameras (some views missing, as in N-UCLA).
    pool = [
        ClipSource(f"a{k}_p{p}_v{v}", k, lambda w: None, {"performance": p, "view": v})
        for k in range(3)
        for p in range(10)
        for v in range(1, 4)
        if not (v == 3 and p % 3 == 0)
    ]
    key = lambda s: (s.label, s.group["performance"])  # noqa: E731
    kept, held = hold_out_performances(pool, 0.2, seed=1, performance=key)
    assert {key(s) for s in kept}.isdisjoint({key(s) for s in held})
    assert len(kept) + len(held) == len(pool)
    assert sorted(len({key(s) for s in held if s.label == k}) for k in range(3)) == [2, 2, 2]
    assert [s.name for s in hold_out_performances(pool, 0.2, seed=1, performance=key)[1]] == [
        s.name for s in held
    ]
    # The clip-level draw it replaces for N-UCLA splits performances across train and validation.
    _, clip_held = stratified_split([s.label for s in pool], 0.2, seed=1)
    assert {key(pool[i]) for i in clip_held} & {key(s) for s in pool if s not in [pool[i] for i in clip_held]}
    mixed = [*pool[:2], ClipSource("odd", 2, lambda w: None, {"performance": 0, "view": 9})]
    with pytest.raises(DatasetError, match="two classes"):
        hold_out_performances(mixed, 0.5, 0, lambda s: s.group["performance"])


def _three_view_nucla(folder: Path) -> Path:
    """Synthetic N-UCLA where every performance (class, subject, episode) was seen by all three cameras,
    as in the dataset: write_nucla's sequences, each copied under views 1, 2 and 3."""
    source = folder.with_name(folder.name + "_one_view")
    write_nucla(source, per_class=5)  # subjects 1-5, one episode each
    folder.mkdir(parents=True)
    for path in sorted(source.glob("*.json")):
        sequence = json.loads(path.read_text())
        for view in (1, 2, 3):
            name = f"{path.stem[:-4]}_v{view:02d}"
            (folder / f"{name}.json").write_text(json.dumps({**sequence, "file_name": name}))
    return folder


def test_nucla_splits_hold_out_whole_performances_and_keep_test_subjects_out_of_training(
    tmp_path: Path,
) -> None:
    """The cameras filmed each performance at once: a validation clip whose other view trained measures
    memory, so validation is drawn by (class, subject, episode), never by view. Subjects held for the
    test (nucla_test_subjects) are in neither training nor validation."""
    from training.datasets.nucla import nucla_splits

    data = _three_view_nucla(tmp_path / "nucla")

    def event(source: ClipSource) -> tuple[int, int, int]:
        return source.label, source.group["subject"], source.group["episode"]

    splits = nucla_splits(_pose_config(tmp_path, data, **{"data.validation_fraction": "0.4"}).data)
    assert {s.group["view"] for s in [*splits.train, *splits.validation]} == {1, 2}
    assert {s.group["view"] for s in splits.test} == {3} and len(splits.test) == 50
    held = {event(s) for s in splits.validation}
    assert held and not held & {event(s) for s in splits.train}
    assert len(splits.validation) == 2 * len(held)  # both training views of every held-out performance

    config = _pose_config(tmp_path, data, **{"data.nucla_test_subjects": "[1]"})
    splits = nucla_splits(config.data)
    assert {s.group["subject"] for s in [*splits.train, *splits.validation]} == {2, 3, 4, 5}
    assert {(s.group["subject"], s.group["view"]) for s in splits.test} == {(1, 3)}
    assert len(splits.train) + len(splits.validation) == 80 and len(splits.test) == 10
    # A subject the folder lacks held nobody out and tested nobody, without a word.
    config = _pose_config(tmp_path, data, **{"data.nucla_test_subjects": "[1, 99]"})
    with pytest.raises(DatasetError, match=r"nucla_test_subjects: no clips of subject\(s\) \[99\] in .*"
                       r"\(its subjects: \[1, 2, 3, 4, 5\]\)"):
        nucla_splits(config.data)


def test_an_older_nucla_checkpoint_held_its_test_subjects_out_of_training(capsys) -> None:
    """A checkpoint without `trained_clips` that held subjects out for its test (nucla_test_subjects)
    never trained on them, in any view: their clips are not counted against it."""
    from training.evaluate import check_not_trained_on, trained_clip_names

    data = {"dataset": "nucla", "root": "/data/nucla", "nucla_train_views": [1, 2],
            "nucla_test_views": [1, 2], "nucla_test_subjects": [1]}
    extra = {"train_config": {"data": data}, "validation_clips": ["a01_s02_e01_v01"]}
    names = [f"a01_s0{subject}_e01_v0{view}" for subject in (1, 2, 3) for view in (1, 2)]
    assert trained_clip_names(extra, names) == {"a01_s02_e01_v02", "a01_s03_e01_v01", "a01_s03_e01_v02"}
    subject_one = [n for n in names if "_s01_" in n]
    check_not_trained_on(Path("nucla_pose.pt"), extra, subject_one, "test", "/copy/of/nucla")  # not refused
    assert capsys.readouterr().out == ""


def test_ntu_splits_leave_out_the_official_samples_with_missing_skeletons(tmp_path: Path) -> None:
    """The official list names samples whose skeletons are missing or broken: they are in no split."""
    from training.datasets.ntu import ntu_splits

    root = tmp_path / "ntu"
    (root / "nturgb+d_skeletons").mkdir(parents=True)
    names = [f"S001C00{camera}P00{performer}R001A00{action}" for camera in (1, 2) for performer in (1, 3)
             for action in (1, 2)]  # performer 1 trains, 3 tests (cross-subject)
    for name in names:
        (root / "nturgb+d_skeletons" / f"{name}.skeleton").write_text("0\n")  # names only are read here
    missing = {"S001C001P001R001A001", "S001C002P003R001A002"}
    (root / "NTU_RGBD_samples_with_missing_skeletons.txt").write_text("\n".join(sorted(missing)) + "\n")
    config = load_config(None, ["data.dataset=ntu60", "data.protocol=xsub", f"data.root={root}",
                                "data.validation_fraction=0"])
    splits = ntu_splits(config.data)
    listed = {s.name for s in [*splits.train, *splits.validation, *splits.test]}
    assert listed == set(names) - missing
    assert {s.name for s in splits.test} == {n for n in names if "P003" in n} - missing


def test_nucla_validation_shares_no_performance_with_training(shared_data: Path) -> None:
    config = load_config(None, [f"data.root={shared_data / 'nucla'}", "data.validation_fraction=0.1"])
    splits = nucla_splits(config.data)
    trained, held = {performance(s) for s in splits.train}, {performance(s) for s in splits.validation}
    assert trained.isdisjoint(held) and len(held) >= 50  # 10% of each class's ~50 performances
    assert {s.group["view"] for s in splits.validation} == {1, 2}  # both views of a held-out performance
    assert len(splits.train) + len(splits.validation) == 1020 and not splits.test and not splits.unused
    # NTU's protocols mean nothing here: refused, not ignored (the views choose what is tested).
    with pytest.raises(DatasetError, match="N-UCLA has protocol 'xview' .* not 'xsetup'"):
        nucla_splits(load_config(None, [f"data.root={shared_data / 'nucla'}", "data.protocol=xsetup"]).data)
    # A test subject the real folder lacks (N-UCLA has 10) held nobody out and tested nobody.
    unknown = [f"data.root={shared_data / 'nucla'}", "data.nucla_test_subjects=[3, 11]"]
    with pytest.raises(DatasetError, match=r"nucla_test_subjects: no clips of subject\(s\) \[11\] in .*nucla "
                       r"\(its subjects: \[1, 2, 3, 4, 5, 6, 7, 8, 9, 10\]\)"):
        nucla_splits(load_config(None, unknown).data)
    # One of its files given for the folder is said to be a file.
    one = next((shared_data / "nucla").rglob("*.json"))
    with pytest.raises(DatasetError, match=f"N-UCLA folder {one} is a file, not a folder"):
        nucla_splits(load_config(None, [f"data.root={one}"]).data)


def test_nucla_cross_view_and_subject_tests_no_event_the_model_trained_on(shared_data: Path) -> None:
    """Train view 1, test view 2: alone that tests view 2's recording of the very performances trained
    on; with `nucla_test_subjects` the tested subjects are out of training and validation too."""
    views = ["data.nucla_train_views=[1]", "data.nucla_test_views=[2]"]
    by_view = nucla_splits(load_config(None, [f"data.root={shared_data / 'nucla'}", *views]).data)
    trained = {performance(s) for s in [*by_view.train, *by_view.validation]}
    # nearly every test event was trained on, from the other camera
    assert len({performance(s) for s in by_view.test} & trained) > 400
    held = "data.nucla_test_subjects=[1,2,3]"
    splits = nucla_splits(load_config(None, [f"data.root={shared_data / 'nucla'}", *views, held]).data)
    fitted = [*splits.train, *splits.validation]
    assert {s.group["subject"] for s in splits.test} == {1, 2, 3}
    assert {s.group["view"] for s in splits.test} == {2} and {s.group["view"] for s in fitted} == {1}
    assert not {s.group["subject"] for s in fitted} & {1, 2, 3}
    assert len(fitted) + len(splits.test) + len(splits.unused) == 1020 and len(splits.test) > 100


def test_hip_rise_is_the_change_between_first_and_last_fifth() -> None:
    joints = np.zeros((10, 1, 20, 3))
    joints[:, 0, 0, 1] = np.linspace(0.0, 0.3, 10)  # the hip centre rising 30 cm
    # Means of frames 8-9 (0.283) and 0-1 (0.017): a fifth of 10 frames is 2.
    assert hip_rise(joints) == pytest.approx(0.2667, abs=1e-3)
    assert hip_rise(joints[::-1]) == pytest.approx(-0.2667, abs=1e-3)


def test_only_sitting_and_standing_against_the_hip_are_contradicted() -> None:
    rising = np.zeros((10, 20, 3), np.float32)  # one body, as an N-UCLA file holds
    rising[:, 0, 1] = np.linspace(0.0, 0.3, 10)

    def source(action: str, joints: np.ndarray) -> ClipSource:
        label = NUCLA_CLASS_NAMES.index(action)
        return ClipSource(action, label, SkeletonOnly(nucla_clip(action, label, joints)), {})

    assert moves_against_label(source("sit down", rising))
    assert not moves_against_label(source("stand up", rising))
    assert moves_against_label(source("stand up", rising[::-1].copy()))
    assert not moves_against_label(source("sit down", rising[::-1].copy()))
    assert not moves_against_label(source("throw", rising))  # physics checks only the two


def test_nucla_contradicted_clips_leave_training_only(shared_data: Path) -> None:
    root = f"data.root={shared_data / 'nucla'}"
    views = [root, "data.nucla_train_views=[2]", "data.nucla_test_views=[1]"]
    kept = nucla_splits(load_config(None, views).data)
    cleaned = nucla_splits(load_config(None, [*views, "data.nucla_drop_contradicted=true"]).data)
    fitted = {s.name for s in [*kept.train, *kept.validation]}
    left_out = fitted - {s.name for s in [*cleaned.train, *cleaned.validation]}
    # subject 4's view-2 sit-down / stand-up clips (benchmarks/nucla_views.py), and nothing else
    assert 8 <= len(left_out) <= 12 and all(n.startswith(("a05_s04", "a06_s04")) for n in left_out)
    assert left_out == {s.name for s in kept.train + kept.validation if moves_against_label(s)}
    assert [s.name for s in cleaned.test] == [s.name for s in kept.test]  # the test keeps them
    assert any(moves_against_label(s) for s in cleaned.test)
    # A view both trained and tested: the same clips on both sides, refused (with subjects held out, the
    # test is theirs alone: allowed).
    both = [root, "data.nucla_train_views=[1, 2]", "data.nucla_test_views=[2]"]
    with pytest.raises(DatasetError, match=r"share view\(s\) \[2\]: its clips would be trained on and"):
        nucla_splits(load_config(None, both).data)
    held = nucla_splits(load_config(None, [*both, "data.nucla_test_subjects=[4]"]).data)
    assert {s.group["subject"] for s in held.test} == {4}


def _assert_off_draws_nothing(
    augmentation: Augmentation, skeleton: np.ndarray, layout: SkeletonLayout
) -> None:
    """`augmentation` has a rotation (one draw) and the option under test at 0: runs without the option
    must see the random numbers they saw before it existed."""
    rng, reference = np.random.default_rng(1), np.random.default_rng(1)
    augmentation.apply(skeleton, rng, np.array(layout.mirror_order), layout)
    reference.uniform()  # the rotation's one draw
    assert rng.uniform() == reference.uniform()


def test_shear_is_a_random_linear_map_and_off_draws_nothing() -> None:
    skeleton = np.random.default_rng(0).normal(size=(6, 2, 20, 3)).astype(np.float32)
    skeleton[:, 1] = 0.0  # an absent second body stays absent
    plain_rng, off_rng = np.random.default_rng(4), np.random.default_rng(4)
    plain = Augmentation(rotate_deg=20).apply(skeleton, plain_rng)
    off = Augmentation(rotate_deg=20, shear=0.0).apply(skeleton, off_rng)
    np.testing.assert_array_equal(plain, off)
    assert plain_rng.uniform() == off_rng.uniform()  # runs without shear draw the same numbers as before
    sheared = Augmentation(shear=0.3).apply(skeleton, np.random.default_rng(4))
    assert np.all(sheared[:, 1] == 0)
    # One matrix for the whole window: a least-squares fit recovers it, off-diagonal entries within 0.3.
    flat, target = skeleton[:, 0].reshape(-1, 3), sheared[:, 0].reshape(-1, 3)
    matrix = np.linalg.lstsq(flat, target, rcond=None)[0].T
    np.testing.assert_allclose(np.diag(matrix), 1.0, atol=1e-5)
    off_diagonal = matrix[~np.eye(3, dtype=bool)]
    assert np.all(np.abs(off_diagonal) <= 0.3) and np.abs(off_diagonal).max() > 0.01


def test_drop_limb_hides_one_arm_or_leg_over_part_of_the_window() -> None:
    """One limb (elbow or knee down, with the thumb and hand tip on Kinect v2) absent for a quarter to
    half of the window; everything else as without the option, and 0 draws nothing."""
    order = np.array(KINECT_V2.mirror_order)
    skeleton = np.random.default_rng(0).normal(size=(16, 1, 25, 3)).astype(np.float32)
    hidden_limbs = set()
    for seed in range(40):
        dropped = Augmentation(drop_limb=1.0).apply(skeleton, np.random.default_rng(seed), order, KINECT_V2)
        hidden = np.abs(dropped[:, 0]).sum(-1) == 0  # (T, J)
        frames, joints = hidden.any(1), hidden.any(0)
        assert 4 <= frames.sum() <= 8 and np.all(np.diff(np.flatnonzero(frames)) == 1)  # one stretch
        np.testing.assert_array_equal(dropped[:, 0][~hidden], skeleton[:, 0][~hidden])
        hidden_limbs.add(tuple(KINECT_V2.joint_names[j] for j in np.flatnonzero(joints)))
    assert ("ElbowRight", "WristRight", "HandRight", "HandTipRight", "ThumbRight") in hidden_limbs
    assert ("KneeLeft", "AnkleLeft", "FootLeft") in hidden_limbs and len(hidden_limbs) == 4
    _assert_off_draws_nothing(Augmentation(rotate_deg=10, drop_limb=0.0), skeleton, KINECT_V2)
    with pytest.raises(ValueError, match="drop_limb needs the skeleton's layout"):
        Augmentation(drop_limb=1.0).apply(skeleton, np.random.default_rng(0))
    with pytest.raises(ValueError, match="drop_limb is a probability"):
        AugmentConfig(drop_limb=1.5)


def test_swap_sides_is_the_sensors_back_view_error() -> None:
    """A person seen from behind, tracked as facing the sensor: sides swapped, turned 180 degrees."""
    order = np.array(KINECT_V1.mirror_order)
    skeleton = np.random.default_rng(0).normal(size=(5, 1, 20, 3)).astype(np.float32)
    swapped = Augmentation(swap_sides=1.0).apply(skeleton, np.random.default_rng(0), order)
    np.testing.assert_allclose(swapped, skeleton[:, :, order] * np.array([-1, 1, -1]), atol=1e-6)
    hand = KINECT_V1.index("HandLeft")
    np.testing.assert_allclose(swapped[:, 0, hand, 1], skeleton[:, 0, KINECT_V1.index("HandRight"), 1])
    # Unlike the mirror, a proper rotation of the side-swapped body: no reflection.
    mirrored = Augmentation(mirror=1.0).apply(skeleton, np.random.default_rng(0), order)
    np.testing.assert_allclose(mirrored[..., 2], -swapped[..., 2], atol=1e-6)
    _assert_off_draws_nothing(Augmentation(rotate_deg=10, swap_sides=0.0), skeleton, KINECT_V1)
    sources = [ClipSource("c0", 0, lambda w: _clip("c0", 0))]
    with pytest.raises(DatasetError, match="augment.swap_sides"):
        WindowDataset(sources, WindowSpec(2.0, 8), KINECT_V1, num_bodies=1, train=True, with_crops=True,
                      augmentation=Augmentation(swap_sides=0.5))


def test_time_reverse_plays_sitting_down_backwards_as_standing_up() -> None:
    """A reversed training window is the same window backwards, labelled as the reverse action; actions
    without a reverse (and donning, whose reverse is not doffing) are never reversed."""
    names = ["sit down", "stand up", "donning", "doffing"]
    assert reversed_labels(names).tolist() == [1, 0, -1, -1]
    sources = [ClipSource(f"c{label}", label, lambda w, label=label: _clip(f"c{label}", label, frames=60))
               for label in range(4)]

    def windows(time_reverse: float) -> WindowDataset:
        return WindowDataset(sources, WindowSpec(2.0, 8), KINECT_V1, num_bodies=1, train=True, jitter=0.3,
                             augmentation=Augmentation(time_reverse=time_reverse), class_names=names)

    forward, backward = windows(0.0), windows(1.0)
    for index, reversed_label in enumerate([1, 0, 2, 3]):
        item, reversed_item = forward[index], backward[index]
        assert int(item["label"]) == index and int(reversed_item["label"]) == reversed_label
        expected = item["skeleton"].flip(0) if reversed_label != index else item["skeleton"]
        torch.testing.assert_close(reversed_item["skeleton"], expected)
        assert not torch.equal(item["skeleton"], item["skeleton"].flip(0))


def test_a_real_sit_down_played_backwards_rises_as_a_stand_up(shared_data: Path, tmp_path: Path) -> None:
    """Real N-UCLA clips (subject 1, view 1): the hip that drops while sitting down rises in the reversed
    training window, which is labelled "stand up"; a dataset whose classes have no reverse refuses the
    option instead of ignoring it."""
    folder = tmp_path / "nucla"
    folder.mkdir()
    for name in ("a05_s01_e00_v01.json", "a06_s01_e00_v01.json"):  # sit down, stand up
        (folder / name).symlink_to((shared_data / "nucla" / "all_sqe" / name).resolve())
    sources = nucla_sources(folder)
    names = list(NUCLA_CLASS_NAMES)

    def windows(time_reverse: float) -> WindowDataset:
        return WindowDataset(sources, WindowSpec(2.0, 20), KINECT_V1, num_bodies=1, train=True,
                             augmentation=Augmentation(time_reverse=time_reverse), class_names=names)

    forward, backward = windows(0.0), windows(1.0)
    for index, source in enumerate(sources):
        rise = hip_rise(forward[index]["skeleton"].numpy())  # in spine lengths, the normalised body's up
        reversed_item = backward[index]
        assert abs(rise) > 0.3 and hip_rise(reversed_item["skeleton"].numpy()) == pytest.approx(-rise)
        expected = "stand up" if NUCLA_CLASS_NAMES[source.label] == "sit down" else "sit down"
        assert NUCLA_CLASS_NAMES[int(reversed_item["label"])] == expected
    with pytest.raises(DatasetError, match="none of the classes"):
        WindowDataset(sources, WindowSpec(2.0, 20), KINECT_V1, num_bodies=1, train=True,
                      augmentation=Augmentation(time_reverse=0.5), class_names=["wave", "kick"] * 5)


@pytest.mark.parametrize("layout", [KINECT_V1, KINECT_V2], ids=lambda layout: layout.name)
def test_bone_turns_keep_bone_lengths_and_grow_along_the_limbs(layout) -> None:
    """Another camera's fit of the same pose: bones turn about their parents, the spine stays, errors
    add up towards the hands and feet, absent joints stay absent."""
    rng = np.random.default_rng(0)
    skeleton = rng.normal(0, 0.5, size=(20, 2, layout.num_joints, 3)).astype(np.float32)
    skeleton[:, 1] = 0.0  # an absent second body
    skeleton[3:6, 0, layout.index("ElbowLeft")] = 0.0  # an elbow lost for three frames
    mirror = np.array(layout.mirror_order)
    turned = [Augmentation(bone_turn_deg=15).apply(skeleton, np.random.default_rng(s), mirror, layout)
              for s in range(200)]
    moved = np.mean([np.linalg.norm(t - skeleton, axis=-1)[:, 0] for t in turned], axis=0)  # (T, J)
    for child, parent in ((c, p) for c, p in enumerate(layout.parents) if p >= 0):
        lengths = [np.linalg.norm(t[:, 0, child] - t[:, 0, parent], axis=-1) for t in turned[:5]]
        original = np.linalg.norm(skeleton[:, 0, child] - skeleton[:, 0, parent], axis=-1)
        kept = np.ones(20, bool)
        kept[3:6] = child not in (layout.index("ElbowLeft"), layout.index("WristLeft"))
        np.testing.assert_allclose(np.array(lengths)[:, kept], np.broadcast_to(original, (5, 20))[:, kept],
                                   rtol=1e-4, atol=1e-5)
    spine = [layout.origin, layout.spine_top, layout.parents[layout.origin]]
    assert np.all(moved[:, spine] < 1e-6)
    chain = [layout.index(n) for n in ("ShoulderRight", "ElbowRight", "WristRight", "HandRight")]
    assert np.all(np.diff(moved[:, chain].mean(0)) > 0) and moved[:, chain[-1]].mean() > 0.05
    assert all(np.all(t[:, 1] == 0) and np.all(t[3:6, 0, layout.index("ElbowLeft")] == 0) for t in turned)
    # Off draws nothing: runs without it see the numbers they saw before.
    _assert_off_draws_nothing(Augmentation(rotate_deg=10, bone_turn_deg=0.0), skeleton, layout)
    with pytest.raises(ValueError, match="layout"):
        Augmentation(bone_turn_deg=15).apply(skeleton, np.random.default_rng(0))


def _clip(name: str, label: int, frames: int = 40, fps: float = 15.0, bodies: int = 1) -> Clip:
    rng = np.random.default_rng(label * 100 + frames)
    base = rng.normal(0, 0.3, (1, bodies, 20, 3)).astype(np.float32) + np.array([0, 0, 3], np.float32)
    motion = np.sin(np.linspace(0, 3, frames))[:, None, None, None].astype(np.float32) * 0.1 * (label + 1)
    return Clip(name, label, np.arange(frames) / fps, base + motion)


def test_window_dataset_train_and_eval_items() -> None:
    sources = [ClipSource(f"c{i}", i % 2, lambda w, i=i: _clip(f"c{i}", i % 2)) for i in range(4)]
    spec = WindowSpec(2.0, 8)
    train = WindowDataset(
        sources,
        spec,
        KINECT_V1,
        num_bodies=2,
        train=True,
        jitter=0.3,
        augmentation=Augmentation(rotate_deg=20, scale=0.1, mirror=0.5),
    )
    item = train[1]
    assert item["skeleton"].shape == (8, 2, 20, 3) and item["label"].item() == 1
    assert torch.all(item["skeleton"][:, 1] == 0)  # the absent second body stays zero
    assert torch.equal(train[1]["skeleton"], item["skeleton"])  # same epoch, same window
    train.set_epoch(1)
    assert not torch.equal(train[1]["skeleton"], item["skeleton"])
    evaluation = WindowDataset(sources, spec, KINECT_V1, num_bodies=2, train=False, eval_windows=5)
    assert evaluation[0]["skeleton"].shape == (5, 8, 2, 20, 3)


def test_mirror_swaps_sides_and_negates_x() -> None:
    order = np.array(KINECT_V2.mirror_order)
    names = KINECT_V2.joint_names
    assert names[order[names.index("HandLeft")]] == "HandRight"
    assert names[order[names.index("ThumbRight")]] == "ThumbLeft"
    assert order[names.index("SpineMid")] == names.index("SpineMid")
    skeleton = np.random.default_rng(0).normal(size=(4, 1, 25, 3)).astype(np.float32)
    mirrored = Augmentation(mirror=1.0).apply(skeleton, np.random.default_rng(0), order)
    np.testing.assert_allclose(
        mirrored[:, :, names.index("HandLeft"), 0], -skeleton[:, :, names.index("HandRight"), 0]
    )


# ---------------------------------------------------------------------------------------------- N-UCLA


def test_nucla_reads_the_shared_sequences(shared_data: Path) -> None:
    name, joints = read_nucla_sequence(shared_data / "nucla" / "all_sqe" / "a01_s01_e00_v01.json")
    assert (name.action, name.subject, name.view, name.label) == (1, 1, 1, 0)
    assert joints.shape[1:] == (20, 3) and joints.dtype == np.float32
    sources = nucla_sources(shared_data / "nucla", views=[2])
    assert len(sources) == 504 and {s.group["view"] for s in sources} == {2}


def test_nucla_bad_input_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "a01_s01_e00_v01.json"
    bad.write_text(json.dumps({"file_name": "a01_s01_e00_v01", "skeletons": [[[0, 0, 1]] * 20], "label": 4}))
    with pytest.raises(DatasetError, match="a01_s01_e00_v01.json: label 4 disagrees"):
        read_nucla_sequence(bad)
    beyond = [[[0.1, 0.2, 2.5]] * 20, [[0.1, 0.2, 2.5]] * 19 + [[0.1, 1e30, 2.5]]]
    bad.write_text(json.dumps({"file_name": "a01_s01_e00_v01", "skeletons": beyond, "label": 1}))
    with pytest.raises(DatasetError, match=r"'skeletons' frame 2, joint 20 \(FootRight\): \(0.1, 1e\+30"):
        read_nucla_sequence(bad)
    bad.write_text("{not json")
    with pytest.raises(DatasetError, match="cannot read N-UCLA JSON"):
        read_nucla_sequence(bad)
    with pytest.raises(DatasetError, match="does not exist"):
        nucla_sources(tmp_path / "absent")
    with pytest.raises(DatasetError, match=f"N-UCLA folder {bad} is a file, not a folder"):
        nucla_sources(bad)  # one of its files given for the folder


def _pose_config(tmp_path: Path, data: Path, **extra: str) -> TrainConfig:
    overrides = [
        "data.dataset=nucla",
        f"data.root={data}",
        "data.max_bodies=1",
        "data.validation_fraction=0.2",
        "model.profile=tiny",
        "model.ablation=pose",
        "window.duration_s=2.0",
        "window.num_frames=8",
        "optim.batch_size=8",
        "epochs.pose=2",
        "workers=0",
        "device=cpu",
        "progress=false",
        f"out={tmp_path / 'run'}",
        *[f"{k}={v}" for k, v in extra.items()],
    ]
    return load_config(None, overrides)


def test_pose_stage_trains_resumes_and_evaluates(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = tmp_path / "nucla"
    write_nucla(data)
    config = _pose_config(tmp_path, data)
    result = train_stage(config, "pose")
    run = tmp_path / "run" / "pose"
    assert result.best_checkpoint == run / "best.pt" and result.epochs_run == 2
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2] and all(0 <= r["val_top1"] <= 1 for r in lines)
    assert "duration_s: 2.0" in (run / "config.yaml").read_text()
    # What is minimised and the validation loss are not one scale (a sum over streams, a mean): said.
    said = capsys.readouterr().out
    assert "epoch 2/2 train objective " in said and "not one scale" in said
    assert "recordings, each in both body orders" not in said  # N-UCLA reads each clip once
    loaded = load_checkpoint(run / "best.pt")
    assert loaded.class_names == list(NUCLA_CLASS_NAMES) and loaded.config.num_joints == 20
    assert loaded.preprocessing.layout == "kinect_v1" and loaded.preprocessing.window.duration_s == 2.0
    assert len(loaded.extra["validation_clips"]) == 10  # 20% of 6 per class
    # What trained it, for whoever reproduces it: this checkout's commit, the libraries, the threads.
    software = loaded.extra["software"]
    assert re.fullmatch(r"[0-9a-f]{40}(\+changes)?", software["commit"] or "0" * 40)
    assert software["torch"] == torch.__version__ and software["threads"] == torch.get_num_threads()

    # Finished: running again does nothing; with more epochs it continues after epoch 2.
    assert train_stage(config, "pose").epochs_run == 2
    longer = _pose_config(tmp_path, data, **{"epochs.pose": "3"})
    assert train_stage(longer, "pose").epochs_run == 3
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 3
    # Stopped after epoch 4's metrics line and before its state.pt: the rerun trains epoch 4 again, and the
    # log has it once (it had 1, 2, 3, 4, 4).
    with open(run / "metrics.jsonl", "a") as log:
        log.write(json.dumps({"stage": "pose", "epoch": 4, "val_top1": 0.5}) + "\n")
    assert train_stage(_pose_config(tmp_path, data, **{"epochs.pose": "4"}), "pose").epochs_run == 4
    epochs = [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3, 4]
    # A clip changed since (relabelled, re-recorded): the finished stage is not the answer any more, and
    # its best.pt is not replaced unasked.
    changed = next(data.glob("*.json"))
    changed.write_text(changed.read_text() + " ")
    os.utime(changed, ns=(time.time_ns(), time.time_ns() + 10**9))
    best = (run / "best.pt").read_bytes()
    with pytest.raises(StageError, match=r"holds a pose run for other data, labels, settings or starting "
                                         r"weights \(the files in data.root\): --restart"):
        train_stage(longer, "pose")
    lower = _pose_config(tmp_path, data, **{"epochs.pose": "3", "optim.lr": "0.0003"})
    with pytest.raises(StageError, match=r"\(optim.lr 0.0005 -> 0.0003; the files in data.root\)"):
        train_stage(lower, "pose")
    assert (run / "best.pt").read_bytes() == best
    assert "lr: 0.0005" in (run / "config.yaml").read_text()  # refused settings are not the run's record
    state = (run / "state.pt").read_bytes()
    (run / "state.pt").write_bytes(state[: len(state) // 2])  # a copy cut short
    with pytest.raises(StageError, match=r"state\.pt: the run's saved state cannot be read .*--restart"):
        train_stage(longer, "pose")
    (run / "state.pt").unlink()  # deleted to save space: best.pt was replaced after the first epoch
    with pytest.raises(StageError, match=r"a pose model \(best\.pt\) but not the state\.pt .*--restart"):
        train_stage(longer, "pose")
    assert (run / "best.pt").read_bytes() == best
    (run / "state.pt").write_bytes(state)
    # A --restart stopped in its first epoch: the earlier run stays whole. It emptied metrics.jsonl and put
    # its own settings in config.yaml over the earlier run's checkpoints.
    record = {name: (run / name).read_bytes() for name in ("config.yaml", "metrics.jsonl", "best.pt",
                                                            "state.pt")}

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    from training import stages

    with pytest.MonkeyPatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(stages, "_train_epoch", stopped)
        train_stage(lower, "pose", restart=True)
    assert {name: (run / name).read_bytes() for name in record} == record
    assert train_stage(longer, "pose", restart=True).epochs_run == 3  # trained again, from epoch 1
    # The log is the new run's, as config.yaml and the checkpoints are (it had 1-4 of the old run, then 1-3).
    epochs = [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3]

    code = main(
        [
            "evaluate",
            "--checkpoint",
            str(run / "best.pt"),
            "--data",
            str(data),
            "--subset",
            "validation",
            "--out",
            str(tmp_path / "eval"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "top-1" in out and "pick up with one hand" in out
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert results["clips"] == 10 and len(results["per_class"]) == 10
    assert (tmp_path / "eval" / "confusion.png").stat().st_size > 1000
    assert np.asarray(results["confusion"]).sum() == 10
    # --subset all scores the clips it trained on too, and says so.
    assert len(loaded.extra["trained_clips"]) > 10
    assert main(["evaluate", "--checkpoint", str(run / "best.pt"), "--data", str(data), "--subset", "all",
                 "--out", str(tmp_path / "eval_all")]) == 0
    assert f"{len(loaded.extra['trained_clips'])} of the" in capsys.readouterr().out
    # results.json says it too, and which file was scored: a longer run replaces best.pt at the same path.
    everything = json.loads((tmp_path / "eval_all" / "results.json").read_text())
    assert everything["trained_on"] == len(loaded.extra["trained_clips"])
    assert everything["checkpoint_sha256"] == load_checkpoint(run / "best.pt").sha256
    assert results["trained_on"] == 0
    # The same folder taken by another evaluation: the line that writes it says what it replaces.
    assert main(["evaluate", "--checkpoint", str(run / "best.pt"), "--data", str(data), "--subset",
                 "validation", "--out", str(tmp_path / "eval_all")]) == 0
    said = capsys.readouterr().out
    assert f"(replacing a clip evaluation (`evaluate`) of best.pt on {data} written there before)" in said

    # No view 3 here: the protocol's test subset is empty, and the error says what to do.
    code = main(["evaluate", "--checkpoint", str(run / "best.pt"), "--data", str(data)])
    assert code == 2 and "--subset validation" in capsys.readouterr().err


def test_a_stage_stops_early_keeps_its_best_epoch_and_stays_stopped_when_run_with_more_epochs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """best.pt is the epoch with the best validation top-1 (a tie goes to the lower loss; a tie that is no
    better is an epoch without improvement), and `optim.early_stop_patience` epochs without one end the
    stage for good: more epochs asked for later do not train it on (it stopped because it had stopped
    learning, not because it ran out of epochs)."""
    from training import stages

    data = tmp_path / "nucla"
    write_nucla(data)
    # Each epoch's validation figures, in order, instead of the tiny network's noise on these clips.
    scores = iter([(0.5, 1.0),  # 1: the best so far
                   (0.5, 1.0),  # 2: the same top-1 and loss: no better (1 epoch without improvement)
                   (0.5, 0.8),  # 3: the same top-1 at a lower loss: the best
                   (0.4, 0.5),  # 4: lower top-1 (1)
                   (0.5, 0.9),  # 5: the same top-1 at a higher loss (2): the stage stops here
                   *[(0.9, 0.1)] * 5])  # better than any before: only a stage that failed to stop gets these

    def validation_metrics(predictions, stage: str) -> dict[str, float]:
        top1, loss = next(scores)
        return {"loss": loss, "top1": top1, "top5": 1.0}

    monkeypatch.setattr(stages, "_validation_metrics", validation_metrics)
    settings = {"epochs.pose": "6", "optim.early_stop_patience": "2", "max_steps_per_epoch": "1"}
    result = train_stage(_pose_config(tmp_path, data, **settings), "pose")
    run = tmp_path / "run" / "pose"
    assert result.epochs_run == 5 and result.best_validation_top1 == 0.5
    said = capsys.readouterr().out
    assert "early stop: no validation improvement for 2 epochs" in said
    # Each epoch's line says how long the epochs left (of 6) would take at its pace: a log has no bar.
    lines = [line for line in said.splitlines() if "] epoch " in line]
    assert len(lines) == 5 and all(re.search(r"~\d+ s left$", line) for line in lines)
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    # At the epoch's time as metrics.jsonl keeps it: the line's own is rounded to 0.1 s, too coarse to
    # recompute the estimate from (0.14 s a line shows as 0.1 s makes ~1 s left, not 0).
    assert lines[0].endswith(f"~{5 * metrics[0]['seconds']:.0f} s left")
    assert [(r["epoch"], r["val_top1"], r["val_loss"]) for r in metrics] == [
        (1, 0.5, 1.0), (2, 0.5, 1.0), (3, 0.5, 0.8), (4, 0.4, 0.5), (5, 0.5, 0.9)]
    best = load_checkpoint(run / "best.pt").extra
    assert best["epoch"] == 3 and best["validation"]["loss"] == 0.8
    assert load_checkpoint(run / "last.pt").extra["epoch"] == 5

    longer = _pose_config(tmp_path, data, **{**settings, "epochs.pose": "8"})
    again = train_stage(longer, "pose")
    assert again.epochs_run == 5 and "already finished" in capsys.readouterr().out
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 5  # not one epoch more
    assert load_checkpoint(run / "best.pt").extra["epoch"] == 3


def test_a_resumed_stage_starts_from_its_saved_weights_and_keeps_its_best_score(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """Resuming restores the weights of the last finished epoch (not a fresh network trained on as if
    it were them) and the best validation top-1 so far: a worse epoch after the resume must not replace
    best.pt."""
    from training import stages

    data = tmp_path / "nucla"
    write_nucla(data, per_class=2)
    scores = iter([0.6, 0.3, 0.4])  # epoch 1 the best; 3 (after the resume) better than 2 only
    entering: list[dict[str, torch.Tensor]] = []

    def validation_metrics(predictions, stage: str) -> dict[str, float]:
        return {"loss": 1.0, "top1": next(scores), "top5": 1.0}

    def train_epoch(objective, network, loader, optimisation, config, stage, epoch, process, teacher=None):
        entering.append({k: v.detach().clone() for k, v in network.state_dict().items()})
        with torch.no_grad():  # an epoch's change of weights, without the time one takes
            for parameter in network.parameters():
                parameter.add_(0.01 * (epoch + 1))
        return 1.0, 0.5

    monkeypatch.setattr(stages, "_validation_metrics", validation_metrics)
    monkeypatch.setattr(stages, "_train_epoch", train_epoch)
    settings = {"epochs.pose": "2", "optim.early_stop_patience": "5"}
    assert train_stage(_pose_config(tmp_path, data, **settings), "pose").epochs_run == 2
    run = tmp_path / "run" / "pose"
    saved = load_checkpoint(run / "last.pt").model.state_dict()
    best = (run / "best.pt").read_bytes()
    capsys.readouterr()
    result = train_stage(_pose_config(tmp_path, data, **{**settings, "epochs.pose": "3"}), "pose")
    assert "resuming after epoch 2 (best validation top-1 0.6000)" in capsys.readouterr().out
    assert result.epochs_run == 3 and result.best_validation_top1 == pytest.approx(0.6)
    assert len(entering) == 3 and entering[2].keys() == saved.keys()
    assert all(torch.equal(entering[2][k], saved[k]) for k in saved)  # epoch 3 began where epoch 2 ended
    assert (run / "best.pt").read_bytes() == best and load_checkpoint(run / "best.pt").extra["epoch"] == 1


def _one_pose_epoch_trained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """N-UCLA-layout clips in tmp_path/nucla (returned) and a pose stage of one epoch trained on them into
    tmp_path/run, its epochs stood in for (each: loss 1.0, top-1 0.5), as every later one of the test."""
    from training import stages

    data = tmp_path / "nucla"
    write_nucla(data, per_class=2)

    def train_epoch(objective, network, loader, optimisation, config, stage, epoch, process, teacher=None):
        return 1.0, 0.5

    monkeypatch.setattr(stages, "_train_epoch", train_epoch)
    train_stage(_pose_config(tmp_path, data, **{"epochs.pose": "1"}), "pose")
    return data


def test_a_finished_stage_given_more_epochs_under_other_processes_says_its_batch_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """A stage trained by 2 processes (torchrun) and finished, given more epochs by 1: the total batch
    halves, which the note says. It was said only for an unfinished stage (and once by every rank)."""
    data = _one_pose_epoch_trained(tmp_path, monkeypatch)
    state_path = tmp_path / "run" / "pose" / "state.pt"
    state = torch.load(state_path, weights_only=False)
    assert state["finished"] and state["processes"] == 1
    torch.save({**state, "processes": 2}, state_path)
    capsys.readouterr()
    assert train_stage(_pose_config(tmp_path, data, **{"epochs.pose": "2"}), "pose").epochs_run == 2
    said = capsys.readouterr().out
    assert "[pose] resuming after epoch 1" in said
    assert f"note: {state_path} was trained by 2 process(es) and resumes with 1: the total batch" in said
    assert torch.load(state_path, weights_only=False)["processes"] == 1  # its next resume says nothing
    assert train_stage(_pose_config(tmp_path, data, **{"epochs.pose": "3"}), "pose").epochs_run == 3
    assert "note:" not in capsys.readouterr().out


def test_a_run_resumes_on_a_copy_of_its_data_elsewhere_and_from_a_state_saved_before_that(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """A cluster job copies the data to its scratch disk: other paths, other modification times, the same
    files. Resuming was refused as "a run for other data" for good (the files were known by absolute path
    and time), and --restart lost the epochs trained. A file added is other data, and says where."""
    import shutil

    from training import stages
    from training.datasets import build_splits

    data = _one_pose_epoch_trained(tmp_path, monkeypatch)
    scratch = tmp_path / "scratch" / "nucla"
    shutil.copytree(data, scratch, copy_function=shutil.copy)  # new times, as cp without -p gives
    shutil.rmtree(data)
    capsys.readouterr()
    assert train_stage(_pose_config(tmp_path, scratch, **{"epochs.pose": "2"}), "pose").epochs_run == 2
    said = capsys.readouterr().out
    assert "[pose] resuming after epoch 1" in said
    assert ("note: the files in data.root: the same files and sizes as when this run began, other "
            "modification times (a copy?); resumed as the same data") in said
    (scratch / "notes.txt").write_text("a file the run never had")
    with pytest.raises(StageError, match=r"for other data, .* \(the files in data\.root\): --restart"):
        train_stage(_pose_config(tmp_path, scratch, **{"epochs.pose": "3"}), "pose")
    (scratch / "notes.txt").unlink()

    # A state saved before: fingerprinted by every file's absolute path, size and time.
    config = _pose_config(tmp_path, scratch, **{"epochs.pose": "3"})
    inputs = stages.stage_inputs(config, build_splits(config.data), None)
    state_path = tmp_path / "run" / "pose" / "state.pt"
    state = torch.load(state_path, weights_only=False)
    state["inputs"] = stages.legacy_inputs_fingerprint(inputs)
    state["inputs_summary"] = {**state["inputs_summary"], "files": state["inputs_summary"]["legacy_files"]}
    del state["inputs_summary"]["times"]
    torch.save(state, state_path)
    assert train_stage(config, "pose").epochs_run == 3
    assert "[pose] resuming after epoch 2" in capsys.readouterr().out
    # Refused, it says what changed alone: the summary such a state holds, as the code before wrote it.
    state = torch.load(state_path, weights_only=False)
    state["inputs"] = "another run's"
    state["inputs_summary"] = {"settings": inputs["legacy"]["settings"],
                               **{part: stages.inputs_fingerprint({part: inputs[part]})
                                  for part in ("classes", "split")},
                               "files": stages.inputs_fingerprint({"files": inputs["legacy"]["files"]})}
    torch.save(state, state_path)
    with pytest.raises(StageError, match=r"\(optim\.lr 0\.0005 -> 0\.0003\): --restart"):
        train_stage(_pose_config(tmp_path, scratch, **{"epochs.pose": "4", "optim.lr": "0.0003"}), "pose")


def test_a_run_s_inputs_are_told_by_their_bytes_and_names_not_by_where_they_lie(tmp_path: Path) -> None:
    """A stage's inputs as a resume compares them: a simulated source's root is a setting (another is
    other data), a folder's is not (its files are compared); --init, the label map and the teacher by their
    bytes (a retrained checkpoint is the same size), each named when refused."""
    from types import SimpleNamespace

    from training import stages

    splits = SimpleNamespace(class_names=["a", "b"], train=[], validation=[])

    def summary(root: str, **settings: str) -> dict:
        config = _pose_config(tmp_path, Path(root), **settings)
        return stages.inputs_summary(stages.stage_inputs(config, splits, tmp_path / "init.pt"))

    (tmp_path / "init.pt").write_bytes(b"weights A")
    (tmp_path / "teacher.pt").write_bytes(b"teacher A")
    data = tmp_path / "data"
    data.mkdir()
    (data / "clip.skeleton").write_text("a clip")
    assert summary("sim:rooms-a")["settings"]["data"]["root"] == "sim:rooms-a"
    assert stages.what_changed(summary("sim:rooms-a"), summary("sim:rooms-b")) == (
        "data.root 'sim:rooms-a' -> 'sim:rooms-b'")
    assert "root" not in summary(str(data))["settings"]["data"]
    teacher = {"distill.teacher": str(tmp_path / "teacher.pt")}
    before = summary(str(data), **teacher)
    (tmp_path / "init.pt").write_bytes(b"weights B")  # the same size, other weights
    (tmp_path / "teacher.pt").write_bytes(b"teacher B")
    assert stages.what_changed(before, summary(str(data), **teacher)) == (
        "the --init checkpoint; the distill.teacher checkpoint")


@pytest.mark.parametrize("gone", ["weights", "statistics"])
def test_weights_gone_nan_stop_the_run_before_they_are_saved(tmp_path: Path, monkeypatch, gone: str) -> None:
    """A loss gone NaN at epoch 3 ran every epoch left on NaN weights, ended as a normal run and left
    last.pt and state.pt NaN. It stops at that epoch, naming what is kept; a resume starts from epoch 2.
    Batch norm's running statistics (the graph stream's) go NaN without an optimiser step."""
    from training import stages

    data = tmp_path / "nucla"
    write_nucla(data, per_class=2)
    scores = iter([0.6, 0.7, 0.8, 0.9])

    def validation_metrics(predictions, stage: str) -> dict[str, float]:
        return {"loss": 1.0, "top1": next(scores), "top5": 1.0}

    def train_epoch(objective, network, loader, optimisation, config, stage, epoch, process, teacher=None):
        with torch.no_grad():  # one tensor gone NaN is enough
            changed = [next(network.parameters())] if gone == "weights" else [network.get_buffer(statistics)]
            for values in changed:
                values.add_(float("nan") if epoch == 2 else 0.01)
        return (float("nan") if epoch == 2 else 1.0), 0.5

    monkeypatch.setattr(stages, "_validation_metrics", validation_metrics)
    monkeypatch.setattr(stages, "_train_epoch", train_epoch)
    run = tmp_path / "run" / "pose"
    statistics, graph = "pose.streams.0.input_norm.running_mean", "{pose_stream: gcn}"
    with pytest.raises(stages.Diverged) as stopped:
        train_stage(_pose_config(tmp_path, data, **{"epochs.pose": "4", "model.overrides": graph}), "pose")
    assert str(stopped.value) == (
        "[pose] epoch 3: the weights are no longer finite (train objective nan): stopped before saving them; "
        f"best.pt (validation top-1 0.700) and the state after epoch 2 are kept in {run}. A lower learning "
        "rate (optim.lr) or gradient clipping (optim.grad_clip) with --restart trains it again")
    for name in ("best.pt", "last.pt"):
        checkpoint = load_checkpoint(run / name)
        assert checkpoint.extra["epoch"] == 2
        assert all(torch.isfinite(v).all() for v in checkpoint.model.state_dict().values())
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2
    assert torch.load(run / "state.pt", weights_only=False)["epoch"] == 2


def test_a_test_split_drawn_again_over_clips_it_trained_on_is_refused(capsys: pytest.CaptureFixture) -> None:
    """PKU-MMD's test performances are drawn from the folder: another folder (a full release, one with a
    performance missing) draws others, some of which the checkpoint trained on."""
    from training.evaluate import check_not_trained_on

    extra = {"trained_clips": ["0002-L", "0003-M"], "train_config": {"data": {"root": "/data/pkummd"}}}
    with pytest.raises(DatasetError, match="1 of the 2 test clips drawn from this folder are in m.pt's"):
        check_not_trained_on(Path("m.pt"), extra, ["0003-M", "0009-R"], "test", "/other/pkummd")
    check_not_trained_on(Path("m.pt"), extra, ["0003-M", "0009-R"], "all", "/other/pkummd")
    assert "1 of the 2 clips scored is in m.pt's training set" in capsys.readouterr().out
    check_not_trained_on(Path("m.pt"), {"train_config": extra["train_config"]}, ["0009-R"], "test", "/other")
    assert "does not record the clips it trained on" in capsys.readouterr().out
    # Nor can it tell for every clip of a folder: said too, the folder may be the one it trained on.
    check_not_trained_on(Path("m.pt"), {"train_config": extra["train_config"]}, ["0009-R"], "all", "/data")
    assert "m.pt does not record the clips it trained on: any of them in /data" in capsys.readouterr().out


def test_a_fine_tunes_rehearsal_clips_count_under_their_own_names() -> None:
    """A fine-tune records its --rehearse clips under a prefix naming their folder (their cache entries).
    Scored in the run's own folders they keep it; scored from their folder under their own names they are
    still clips it trained on; PKU-MMD sequences are wherever they were converted (the dataset's own
    names), another site's clip of the same name is not."""
    from training.datasets.clips import rehearsal_prefix
    from training.evaluate import trained_clip_names

    prefix = rehearsal_prefix("/site/rehearse", 1)
    extra = {"trained_clips": [prefix + "0006-L", prefix + "S001C001P001R001A122", "S001C001P001R001A121"]}
    assert trained_clip_names(extra, [prefix + "0006-L", prefix + "S001C001P001R001A122"]) == {
        prefix + "0006-L", prefix + "S001C001P001R001A122"}
    scored = ["0006-L", "0006-R", "S001C001P001R001A122"]
    assert trained_clip_names(extra, scored, "/site/rehearse") == {"0006-L", "S001C001P001R001A122"}
    assert trained_clip_names(extra, scored, "/another/site") == {"0006-L"}


def test_folders_named_in_another_encoding_are_named_by_their_bytes(tmp_path: Path) -> None:
    """A Latin-1 folder name from an old share ('clips_\\xe9', reached through a link or '.') is surrogates in
    Python: `evaluate --data .` and `finetune --rehearse` stopped with a UnicodeEncodeError traceback.
    UTF-8 names keep the names they had (their caches and result folders are found again)."""
    import hashlib

    from recordings.recorder import sample_name_from
    from training.datasets.clips import folder_digest
    from training.evaluation import default_results_dir

    latin1 = tmp_path / os.fsdecode(b"clips_\xe9")
    assert default_results_dir(Path("m.pt"), "all", data=latin1).name.startswith("eval_m_all_clips_\udce9-")
    assert len(folder_digest(latin1)) == 8
    assert sample_name_from(os.fsdecode(b"\xe9\xe8")).startswith("clip_")
    assert folder_digest("/site/rehearse") == hashlib.sha1(b"/site/rehearse").hexdigest()[:8]
    assert default_results_dir(Path("m.pt"), data="/data/Zimmer ü").name == (
        "eval_m_Zimmer ü-" + hashlib.sha1("/data/Zimmer ü".encode()).hexdigest()[:6])


def test_the_committed_pku_models_name_the_sequences_they_trained_on() -> None:
    """Added to the committed checkpoints from their own split (checkpoints README): scoring the whole
    PKU-MMD folder says how many sequences flatter them, and their test performances are none of them."""
    from training.evaluate import trained_clip_names

    checkpoints = Path(__file__).resolve().parents[1] / "training" / "checkpoints"
    for name in ("pku_interactions.pt", "pku_interactions_x3.pt"):
        extra = load_checkpoint(checkpoints / name).extra
        assert len(extra["trained_clips"]) == 142
        assert not set(extra["trained_clips"]) & set(extra["validation_clips"])
        assert trained_clip_names(extra, ["0005-L", "0005-M", "0016-L"]) == {"0005-L", "0005-M"}


def test_an_older_nucla_checkpoint_still_says_how_many_scored_clips_it_trained_on(capsys) -> None:
    """Committed N-UCLA checkpoints predate `trained_clips`: they trained on their training views but the
    validation clips they name, and N-UCLA's names are the same in every copy of the dataset."""
    from training.evaluate import check_not_trained_on

    data = {"dataset": "nucla", "root": "/data/nucla", "nucla_train_views": [1, 2]}
    extra = {"train_config": {"data": data},
             "validation_clips": ["a01_s01_e01_v01", "a01_s01_e01_v02"]}
    names = [f"a01_s01_e0{episode}_v0{view}" for episode in (1, 2) for view in (1, 2, 3)]
    check_not_trained_on(Path("nucla_pose.pt"), extra, names, "all", "/copy/of/nucla")
    assert "2 of the 6 clips scored are in nucla_pose.pt's training set" in capsys.readouterr().out
    check_not_trained_on(Path("nucla_pose.pt"), extra, [n for n in names if n.endswith("v03")], "test", "/v3")
    assert capsys.readouterr().out == ""  # view 3: none trained on, and it can tell
    # A folder of another dataset or of a site's clips: none of them N-UCLA, none trained on.
    check_not_trained_on(Path("nucla_pose.pt"), extra, ["0005-L", "S001C001P001R001A121"], "all", "/pku")
    assert capsys.readouterr().out == ""


def test_a_model_evaluated_on_another_dataset_is_told_what_does_not_fit(shared_data: Path, capsys) -> None:
    """The PKU-MMD model on N-UCLA: the skeletons differ, and that is what is said (not that N-UCLA has no
    cross-subject protocol, the PKU-MMD checkpoint's own)."""
    checkpoint = Path(__file__).resolve().parents[1] / "training" / "checkpoints" / "pku_interactions.pt"
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--data", str(shared_data / "nucla"),
                 "--dataset", "nucla", "--subset", "all"]) == 2
    assert "pku_interactions.pt takes kinect_v2 skeletons, dataset 'nucla' gives kinect_v1" in (
        capsys.readouterr().err)


def test_the_committed_nucla_model_names_its_training_clips_among_the_real_ones(shared_data: Path) -> None:
    """The real N-UCLA views 1-2: the committed model trained on all of them but the 96 validation clips it
    names (checkpoints README), so scoring the whole folder flatters it, and view 3 would not."""
    from training.evaluate import trained_clip_names

    checkpoints = Path(__file__).resolve().parents[1] / "training" / "checkpoints"
    extra = load_checkpoint(checkpoints / "nucla_pose.pt").extra
    names = sorted(p.stem for p in (shared_data / "nucla").rglob("a*_s*_e*_v*.json"))
    assert len(names) == 1020
    assert len(trained_clip_names(extra, names)) == 924
    view3 = [n.replace("_v01", "_v03") for n in names if n.endswith("_v01")]
    assert trained_clip_names(extra, view3) == set()


def test_graph_pose_stream_trains_each_stream_and_reports_them(tmp_path: Path) -> None:
    data = tmp_path / "nucla"
    write_nucla(data, per_class=4)
    config = _pose_config(
        tmp_path,
        data,
        **{"model.overrides": "{pose_stream: gcn, gcn_channels: [8, 8]}", "augment.shear": "0.2",
           "decisions.smoothing_s": "0.3"},
    )
    train_stage(config, "pose")
    record = json.loads((tmp_path / "run" / "pose" / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"val_stream0_top1", "val_stream1_top1", "val_stream2_top1"} <= set(record)
    loaded = load_checkpoint(tmp_path / "run" / "pose" / "best.pt")
    assert loaded.config.pose_stream.value == "gcn" and loaded.config.gcn_channels == (8, 8)
    assert loaded.extra["train_config"]["augment"]["shear"] == 0.2
    # The config's decision settings go into every checkpoint the run writes (the app reads them there).
    assert loaded.decisions.smoothing_s == 0.3 and loaded.decisions.threshold is None


def test_each_graph_pose_stream_trains_on_its_own_cross_entropy() -> None:
    """The GCN's streams (joints, bones, motion) share no weights: the pose stage sums their own losses,
    so each learns as if trained alone and their averaged logits are an ensemble."""
    import torch.nn.functional as F

    from core.model.network import Stage
    from core.model.profiles import PoseStream, pose_only, tiny
    from training.stages import StageObjective, stage_loss

    config = dataclasses.replace(pose_only(tiny(num_classes=4)), pose_stream=PoseStream.GCN,
                                 gcn_channels=(8, 8))
    network = PartAttentionNetwork(config)
    network.set_stage(Stage.POSE)
    torch.manual_seed(0)
    logits, attention = StageObjective(network, "pose")(None, torch.randn(3, config.num_frames, 2, 25, 3))
    assert logits.shape == (3, 3, 4)
    labels = torch.tensor([0, 1, 3])
    want = sum(F.cross_entropy(logits[:, stream], labels) for stream in range(3))
    penalty = sum(classify.weight.pow(2).sum() for classify in network.pose.classifier)
    want = want + TrainConfig().optim.weight_decay * penalty
    torch.testing.assert_close(stage_loss(network, "pose", logits, attention, labels, TrainConfig()), want)


def test_a_stage_without_validation_clips_says_its_figure_is_on_training_clips(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    data = tmp_path / "nucla"
    write_nucla(data)
    config = _pose_config(tmp_path, data, **{"data.validation_fraction": "0", "epochs.pose": "1"})
    result = train_stage(config, "pose")
    assert result.scored_on == "training" and "no validation clips" in capsys.readouterr().out


@pytest.mark.skipif(sys.platform == "win32", reason="the other command holds its lock with fcntl here")
def test_a_run_folder_another_command_is_training_is_refused(tmp_path: Path) -> None:
    import subprocess

    data = tmp_path / "nucla"
    write_nucla(data)
    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time; f = open(sys.argv[1], 'a+'); fcntl.flock(f, fcntl.LOCK_EX); "
        "f.write('pid 4242'); f.flush(); print('held', flush=True); time.sleep(60)"), str(run / "run.lock")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StageError, match=r"run is being trained by another command \(pid 4242\)"):
            train_stage(_pose_config(tmp_path, data), "pose")
        assert not (run / "pose").exists()
    finally:
        holder.kill()
        holder.wait()


def test_a_run_folder_locked_the_windows_way_is_refused_by_name_not_with_a_traceback(tmp_path, monkeypatch):
    """Windows locks are mandatory: the byte the other command holds cannot be read either, and that read's
    PermissionError (raised while the refusal was being said) was a traceback."""
    from training import stages

    def held_elsewhere(handle) -> None:
        raise OSError(13, "Permission denied")

    class LockedByte:
        def __init__(self, *args, **kwargs) -> None:
            pass

        def seek(self, offset: int) -> None:
            pass

        def read(self) -> str:
            raise PermissionError(13, "Permission denied")

        def close(self) -> None:
            pass

    monkeypatch.setattr(stages, "lock_exclusive", held_elsewhere)
    monkeypatch.setattr(stages, "open", LockedByte, raising=False)
    with pytest.raises(StageError, match=r"run is being trained by another command \(a process\)"):
        stages.claim_run(tmp_path / "run")


def test_what_interrupted_writes_left_in_a_run_is_removed_when_it_is_claimed(tmp_path: Path, capsys) -> None:
    # A stage's checkpoint is megabytes to gigabytes: a kill -9 or a power cut mid-save left its temporary
    # file (and before core.atomic, best.pt.partial and state.tmp) for good.
    run = tmp_path / "run"
    (run / "pose").mkdir(parents=True)
    (run / "eval_test").mkdir()
    left = [run / "pose" / ".best.pt.4242-0123abcd.partial", run / ".model.pt.17-89abcdef.partial",
            run / "pose" / "best.pt.partial", run / "pose" / "state.tmp", run / ".model.pt.0123abcd.tmp"]
    kept = [run / "pose" / "best.pt", run / "pose" / ".notes.partial",
            run / "eval_test" / ".r.json.5-0123abcd.partial",  # an evaluation may be writing it
            run / "pose" / ".best.onnx.99-0123abcd.partial"]  # and an export (neither holds the run's lock)
    for path in left + kept:
        path.write_bytes(b"x" * 1000)
    from training import stages

    stages.claim_run(run)
    assert [path.exists() for path in left + kept] == [False] * 5 + [True] * 4
    said = capsys.readouterr().out
    assert f"removed 5 unfinished file(s) (0.0 MB) an interrupted run left in {run.resolve()}" in said


def test_an_init_that_is_missing_or_no_checkpoint_leaves_no_run_folder(tmp_path: Path) -> None:
    # The run folder and its run.lock used to be made before --init was read.
    data = tmp_path / "nucla"
    write_nucla(data)
    (tmp_path / "bad.pt").write_text("not a checkpoint")
    for init, message in ((tmp_path / "missing.pt", "--init .*missing.pt: no such checkpoint file"),
                          (tmp_path / "bad.pt", "bad.pt: cannot read as a torch checkpoint")):
        with pytest.raises((StageError, CheckpointError), match=message):
            train_stage(_pose_config(tmp_path, data), "pose", init=init)
        assert not (tmp_path / "run").exists()
    with pytest.raises(StageError, match=f"--init {tmp_path}: a folder, not a checkpoint file"):
        train_stage(_pose_config(tmp_path, data), "pose", init=tmp_path)


def test_a_teacher_that_is_missing_or_does_not_fit_leaves_the_run_as_it_was(tmp_path: Path) -> None:
    # The teacher was read after the run was claimed and its record rewritten: with --restart, a typo in
    # distill.teacher emptied metrics.jsonl and replaced config.yaml, and then stopped.
    data = tmp_path / "nucla"
    write_nucla(data)
    missing = {"distill.teacher": str(tmp_path / "missing.pt")}
    demo = Path(__file__).resolve().parents[1] / "training" / "checkpoints" / "demo.pt"
    unfit = {"distill.teacher": str(demo)}  # an attention network
    with pytest.raises(FileNotFoundError, match="missing.pt: no such checkpoint file"):
        train_stage(_pose_config(tmp_path, data, **missing), "pose")
    assert not (tmp_path / "run").exists()  # no folder or lock left behind
    run = tmp_path / "run" / "pose"
    train_stage(_pose_config(tmp_path, data, **{"epochs.pose": "1"}), "pose")
    record = {name: (run / name).read_bytes() for name in ("metrics.jsonl", "config.yaml", "state.pt")}
    assert record["metrics.jsonl"].count(b"\n") == 1
    for teacher, refusal in ((missing, (FileNotFoundError, "missing.pt: no such checkpoint file")),
                             (unfit, (StageError, "demo.pt: the teacher must be a pose-only network"))):
        with pytest.raises(refusal[0], match=refusal[1]):
            train_stage(_pose_config(tmp_path, data, **teacher, **{"optim.lr": "1e-3"}), "pose", restart=True)
        assert {name: (run / name).read_bytes() for name in record} == record


def test_a_teacher_named_as_the_readme_does_is_the_bundled_checkpoint_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--set distill.teacher=training/checkpoints/pku_interactions_x3.pt` (README) from an installed copy
    or another folder: "no such checkpoint file", where --init, --config and --checkpoint find it."""
    data = tmp_path / "nucla"
    write_nucla(data)
    monkeypatch.chdir(tmp_path)
    bundled_name = {"distill.teacher": "training/checkpoints/demo.pt"}  # found: refused for what it is
    with pytest.raises(StageError, match="demo.pt: the teacher must be a pose-only network"):
        train_stage(_pose_config(tmp_path, data, **bundled_name), "pose")
    assert not (tmp_path / "run").exists()


def test_a_taught_run_resumed_learns_what_it_would_have_uninterrupted_whatever_its_workers(
    tmp_path: Path,
) -> None:
    """Loading the teacher after the resume's random state, and a loader's workers seeded from the global
    stream (once with kept workers, every epoch with none), shifted every dropout mask after them: a
    retrain stopped half-way, or run with other --workers, learnt other weights."""
    data = tmp_path / "nucla"
    write_nucla(data)
    teacher = train_stage(_pose_config(tmp_path, data, out=str(tmp_path / "teacher")), "pose").best_checkpoint
    taught = {"distill.teacher": str(teacher), "distill.weight": "1.0"}

    def weights(run: str, epochs: int, workers: int) -> dict[str, torch.Tensor]:
        config = _pose_config(tmp_path, data, out=str(tmp_path / run), workers=str(workers),
                              **{"epochs.pose": str(epochs), **taught})
        train_stage(config, "pose")
        return load_checkpoint(tmp_path / run / "pose" / "last.pt").model.state_dict()

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # bitwise repeatable on one thread
    try:
        whole = weights("whole", 3, workers=1)
        weights("resumed", 1, workers=0)
        resumed = weights("resumed", 3, workers=1)
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)


def test_a_teacher_teaches_the_pose_stage_and_must_share_its_split(tmp_path: Path) -> None:
    data = tmp_path / "nucla"
    write_nucla(data, per_class=4)
    teacher = train_stage(_pose_config(tmp_path, data, out=str(tmp_path / "teacher")), "pose").best_checkpoint

    def student(name: str, **extra: str) -> dict[str, torch.Tensor]:
        config = _pose_config(tmp_path, data, out=str(tmp_path / name), **{"epochs.pose": "1", **extra})
        path = train_stage(config, "pose").best_checkpoint
        loaded = load_checkpoint(path)
        assert loaded.extra["train_config"]["distill"]["teacher"] == extra.get("distill.teacher", "")
        return loaded.model.state_dict()

    taught = student("taught", **{"distill.teacher": str(teacher), "distill.weight": "1.0"})
    alone = student("alone")
    # The teacher changed what was learnt; the student's file holds the student only.
    assert taught.keys() == alone.keys()
    assert any(not torch.equal(taught[k], alone[k]) for k in taught)
    # A teacher trained on another split has seen this run's validation clips: refused, naming it.
    other_split = {"data.split_seed": "1", "epochs.pose": "1"}
    other = train_stage(_pose_config(tmp_path, data, out=str(tmp_path / "other"), **other_split), "pose")
    other = other.best_checkpoint
    with pytest.raises(StageError, match=f"{other}: the teacher's validation clips differ from this run's: "
                       r"\d+ only the teacher's \['a"):  # what differs, each name once
        student("refused", **{"distill.teacher": str(other)})
    # Without a validation hold-out both lists are empty: the split settings tell a teacher that trained
    # on the subject this run tests from one that did not.
    nothing_held = {"data.validation_fraction": "0", "epochs.pose": "1"}
    everyone = train_stage(_pose_config(tmp_path, data, out=str(tmp_path / "everyone"), **nothing_held),
                           "pose")
    with pytest.raises(StageError, match="the teacher's split settings differ.*nucla_test_subjects"):
        student("refused_too", **{"distill.teacher": str(everyone.best_checkpoint), **nothing_held,
                                  "data.nucla_test_subjects": "[1]"})


def test_distillation_term_is_zero_when_the_student_matches_its_teacher() -> None:
    from core.model.loss import distillation_loss
    from core.model.network import PartAttentionNetwork, Stage
    from core.model.profiles import pose_only, tiny
    from training.stages import StageObjective, stage_loss

    network = PartAttentionNetwork(pose_only(tiny(num_classes=4)))
    network.set_stage(Stage.POSE)
    skeleton = torch.randn(3, network.config.num_frames, 2, 25, 3)
    logits, attention = StageObjective(network, "pose")(None, skeleton)
    labels = torch.tensor([0, 1, 2])
    plain = stage_loss(network, "pose", logits, attention, labels, TrainConfig())
    taught = load_config(None, ["distill.weight=0.25"])
    same = stage_loss(network, "pose", logits, attention, labels, taught, logits[:, 0].detach())
    weight_penalty = plain - torch.nn.functional.cross_entropy(logits[:, 0], labels)
    torch.testing.assert_close(same, 0.75 * (plain - weight_penalty) + weight_penalty)
    student, teacher = torch.randn(5, 4), torch.randn(5, 4)
    p, q = teacher.div(2).log_softmax(-1), student.div(2).log_softmax(-1)
    kl = (p.exp() * (p - q)).sum(-1)
    torch.testing.assert_close(distillation_loss(student, teacher, 2.0), 4 * kl.mean())
    # A weight or temperature that makes no sense is refused with the config, naming the key.
    with pytest.raises(ConfigError, match=r"distill.weight must be in \[0, 1\], got 1.5"):
        load_config(None, ["distill.weight=1.5"])
    with pytest.raises(ConfigError, match="distill.temperature must be positive"):
        load_config(None, ["distill.temperature=0"])


def test_each_pose_stream_learns_its_own_clips_teacher_distribution_at_the_configured_temperature() -> None:
    """With S pose streams the logits are (B, S, C) flattened clip by clip: each of a clip's S rows must be
    matched with that clip's teacher row (not another clip's), softened by distill.temperature."""
    from core.model.network import PartAttentionNetwork, Stage
    from core.model.profiles import pose_only, tiny
    from training.stages import stage_loss

    network = PartAttentionNetwork(pose_only(tiny(num_classes=4)))
    network.set_stage(Stage.POSE)
    generator = torch.Generator().manual_seed(3)
    streams = 2
    logits = torch.randn(3, streams, 4, generator=generator)  # a student of 2 streams, 3 clips
    teacher = torch.randn(3, 4, generator=generator) * 3
    labels = torch.tensor([0, 1, 2])
    attention = logits.new_zeros(3, 0)
    config = load_config(None, ["distill.weight=1.0", "distill.temperature=3.0"])
    plain = stage_loss(network, "pose", logits, attention, labels, config)
    taught = stage_loss(network, "pose", logits, attention, labels, config, teacher)
    cross_entropy = torch.nn.functional.cross_entropy(logits.flatten(0, 1), labels.repeat_interleave(streams))
    kl = []
    for clip in range(3):
        p = (teacher[clip] / 3.0).log_softmax(-1)
        for stream in range(streams):
            q = (logits[clip, stream] / 3.0).log_softmax(-1)
            kl.append((p.exp() * (p - q)).sum())
    soft = 9.0 * torch.stack(kl).mean()  # T^2 * KL, averaged over every clip's every stream
    torch.testing.assert_close(taught - plain, streams * (soft - cross_entropy))


def _views_folder(source: Path, target: Path, views: set[int], limit: int | None = None) -> Path:
    """A folder of links to the N-UCLA files of `source` whose view is in `views` (the first `limit`)."""
    target.mkdir(parents=True)
    files = [p for p in sorted(source.glob("*.json")) if int(p.stem[-2:]) in views][:limit]
    for path in files:
        (target / path.name).symlink_to(path.resolve())
    return target


def test_evaluate_takes_a_folder_without_the_training_views(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The standard test as the README runs it: a folder holding only the test view's files (no view 3
    here: the checkpoint trains on view 1 and tests on view 2, and the folder holds view 2 alone)."""
    data = tmp_path / "nucla"
    write_nucla(data)
    config = _pose_config(tmp_path, data, **{"data.nucla_train_views": "[1]", "data.nucla_test_views": "[2]"})
    checkpoint = train_stage(config, "pose").best_checkpoint
    only_test_view = _views_folder(data, tmp_path / "v2" / "all_sqe", {2}).parent
    code = main(
        [
            "evaluate",
            "--checkpoint",
            str(checkpoint),
            "--data",
            str(only_test_view),
            "--out",
            str(tmp_path / "e"),
        ]
    )
    assert code == 0 and "top-1" in capsys.readouterr().out
    assert json.loads((tmp_path / "e" / "results.json").read_text())["clips"] == 30

    # A folder of the training view alone: --subset all reads it; the test subset is empty, and says so.
    only_train_view = _views_folder(data, tmp_path / "v1", {1})
    code = main(
        ["evaluate", "--checkpoint", str(checkpoint), "--data", str(only_train_view), "--subset", "all",
         "--out", str(tmp_path / "a")]
    )  # fmt: skip
    assert code == 0 and json.loads((tmp_path / "a" / "results.json").read_text())["clips"] == 30
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--data", str(only_train_view)]) == 2
    assert "holds view(s) [1]" in capsys.readouterr().err

    # Training refuses a folder without its training views, naming them.
    with pytest.raises(DatasetError, match=r"no nucla training clips from training views \[1\]"):
        train_stage(_pose_config(tmp_path, tmp_path / "v2", **{"data.nucla_train_views": "[1]"}), "pose")


def test_committed_checkpoint_evaluates_any_folder_of_real_sequences(
    shared_data: Path, tmp_path: Path
) -> None:
    """Some real view-2 files in `all_sqe/` (views the checkpoint's test set, view 3, does not include):
    `--subset all` evaluates every one of them."""
    from training.evaluate import evaluate

    folder = _views_folder(shared_data / "nucla" / "all_sqe", tmp_path / "nucla" / "all_sqe", {2}, limit=20)
    checkpoint = Path(__file__).resolve().parents[1] / "training" / "checkpoints" / "nucla_pose.pt"
    report = evaluate(checkpoint, data=folder.parent, subset="all", out=tmp_path / "e", progress=False)
    assert sum(clips for _, clips, _ in report.per_class) == 20
    with pytest.raises(DatasetError, match=r"test set is view\(s\) \[3\]; this folder holds view\(s\) \[2\]"):
        evaluate(checkpoint, data=folder.parent, subset="test", out=tmp_path / "t", progress=False)


def test_evaluations_of_checkpoints_in_one_folder_keep_their_own_results(
    shared_data: Path, tmp_path: Path
) -> None:
    """Without --out, results go beside the checkpoint, named after its file, the subset and the data: the
    bundled models share training/checkpoints/ (as best.pt and last.pt share a run), a model is evaluated
    on more than one folder, and no evaluation may overwrite another's."""
    import shutil

    from training.evaluate import evaluate

    folder = _views_folder(shared_data / "nucla" / "all_sqe", tmp_path / "nucla" / "all_sqe", {2}, limit=10)
    committed = Path(__file__).resolve().parents[1] / "training" / "checkpoints" / "nucla_pose.pt"
    models = tmp_path / "models"
    models.mkdir()
    for name in ("best.pt", "last.pt"):
        shutil.copy(committed, models / name)
        evaluate(models / name, data=folder.parent, subset="all", progress=False)
    # Another folder of the same clips' names, evaluated by the same checkpoint: results of its own.
    other = _views_folder(shared_data / "nucla" / "all_sqe", tmp_path / "other" / "all_sqe", {2}, limit=4)
    evaluate(models / "last.pt", data=other.parent, subset="all", progress=False)
    written = sorted(p.parent.name for p in models.glob("*/results.json"))
    assert [name.rsplit("-", 1)[0] for name in written] == [
        "eval_best_nucla_all_nucla", "eval_last_nucla_all_nucla", "eval_last_nucla_all_other"
    ]
    clips = {name.rsplit("-", 1)[0]: json.loads((models / name / "results.json").read_text())["clips"]
             for name in written}
    assert clips["eval_last_nucla_all_nucla"] == 10 and clips["eval_last_nucla_all_other"] == 4


def test_stage_errors_are_clear(tmp_path: Path) -> None:
    data = tmp_path / "nucla"
    write_nucla(data, per_class=2)
    config = _pose_config(tmp_path, data)
    with pytest.raises(StageError, match="no 'attention' stage"):
        train_stage(config, "attention")
    full = _pose_config(tmp_path, data, **{"model.ablation": "none"})
    assert stages_for(__import__("training.ablations").ablations.network_config(full, 10, KINECT_V1)) == [
        "parts",
        "pose",
        "attention",
        "finetune",
    ]
    with pytest.raises(DatasetError, match="needs part crops"):
        train_stage(full, "parts")
    # A checkpoint of another profile cannot seed this run.
    train_stage(config, "pose")
    other = _pose_config(tmp_path, data, **{"model.profile": "paper_nucla", "out": str(tmp_path / "other")})
    with pytest.raises(StageError, match="different network.*lstm_hidden"):
        train_stage(other, "pose", init=tmp_path / "run" / "pose" / "best.pt")


def test_weights_that_learnt_this_runs_validation_clips_neither_seed_nor_teach_it(tmp_path: Path) -> None:
    """--init weights of another split (15 of PKU-MMD's 18 validation sequences at another split_seed) and
    a teacher that learnt validation clips (from its own --init's): validation, early stopping and best.pt
    judged the network on clips it knew, and the student did not record what its teacher had learnt."""
    data = tmp_path / "nucla"
    write_nucla(data, per_class=2)
    train_stage(_pose_config(tmp_path, data, **{"epochs.pose": "1"}), "pose")
    best = tmp_path / "run" / "pose" / "best.pt"
    first = load_checkpoint(best)
    other_split = _pose_config(tmp_path, data, **{"epochs.pose": "1", "data.split_seed": "1",
                                                  "out": str(tmp_path / "other")})
    with pytest.raises(StageError, match=r"best\.pt: it trained on \d+ of this run's \d+ validation clips"):
        train_stage(other_split, "pose", init=best)

    def teacher(name: str, trained: list[str]) -> Path:
        save_checkpoint(tmp_path / name, first.model, class_names=first.class_names,
                        preprocessing=first.preprocessing, extra={**first.extra, "trained_clips": trained},
                        decisions=first.decisions)
        return tmp_path / name

    taught = {"epochs.pose": "1", "distill.teacher": "", "out": str(tmp_path / "taught")}
    knows = teacher("knows.pt", [*first.extra["trained_clips"], first.extra["validation_clips"][0]])
    with pytest.raises(StageError, match=r"knows\.pt: the teacher learnt 1 of this run's validation clips"):
        train_stage(_pose_config(tmp_path, data, **{**taught, "distill.teacher": str(knows)}), "pose")
    elsewhere = teacher("elsewhere.pt", [*first.extra["trained_clips"], "a clip of another folder"])
    student = train_stage(_pose_config(tmp_path, data, **{**taught, "distill.teacher": str(elsewhere)}),
                          "pose")
    assert "a clip of another folder" in load_checkpoint(student.best_checkpoint).extra["trained_clips"]


def test_validation_clips_the_starting_weights_learnt_train_with_their_session(tmp_path: Path) -> None:
    """A fine-tune rehearsing on PKU-MMD sequences its base trained on held some out: 27 of 39
    validation sequences were the base's training ones, and chose the fine-tune's epoch. They train
    instead with their session; a site's own clip moves only for weights of the same folder, and alone
    in a folder of one session; names inherited from another folder stay that folder's; another
    dataset's run is refused."""
    from training.config import DataConfig
    from training.data import Splits
    from training.stages import validation_not_learnt

    def source(name: str, session: int, folder: int = 1) -> ClipSource:
        return ClipSource(name, -1, lambda with_crops: None, {"session": session, "folder": folder})

    prefix = "rehearse1-0123abcd_"
    held = [source(prefix + "0005-M", 5), source(prefix + "0005-L", 5), source(prefix + "0007-M", 7),
            source("S002C001P001R001A121", 5, folder=0), source("S002C001P001R002A121", 5, folder=0),
            *(source(f"rehearse2-4567cdef_synth_{k}", 1, folder=2) for k in "ab")]
    trained = [source(prefix + "0003-M", 3), source("S001C001P001R001A121", 4, folder=0)]
    splits = Splits(trained, held, [], ["a", "no_action"], KINECT_V2, has_rgb=False)
    site = DataConfig(dataset="clips", root=str(tmp_path / "site"))
    said: list[str] = []

    def moved(learnt: list[str], root: Path) -> tuple[list[str], list[str]]:
        seed = {"trained_clips": learnt, "train_config": {"data": {"dataset": "clips", "root": str(root)}}}
        kept = validation_not_learnt(site, splits, seed, Path("base.pt"), said.append)
        return [s.name for s in kept.train], [s.name for s in kept.validation]

    train, validation = moved(["0005-M", "0003-M"], tmp_path / "pku")
    assert train[2:] == [prefix + "0005-M", prefix + "0005-L"]
    assert validation == [prefix + "0007-M", *(s.name for s in held[3:])]
    assert said == ["2 validation clip(s) of 1 session(s) train instead: base.pt learnt 1 of them "
                    f"({prefix}0005-M), and what it learnt does not measure it"]
    # A site's clip names are every site's: another site's S002C001P001R001A121 is another clip.
    assert moved(["S002C001P001R001A121"], tmp_path / "other_site")[1] == [s.name for s in held]
    assert moved(["S002C001P001R001A121"], tmp_path / "site")[0][2:] == ["S002C001P001R001A121",
                                                                        "S002C001P001R002A121"]
    # A folder of one session was split by clip: the clip learnt moves alone, not the folder's validation;
    # a rehearsal folder is known by its digest, whatever its place among --rehearse (rehearse1- then).
    assert moved(["rehearse1-4567cdef_synth_a"], tmp_path / "site")[1][-1] == "rehearse2-4567cdef_synth_b"
    # Another site's names, inherited by a stage's best.pt (recorded under this run's root), stay theirs.
    from training.datasets.clips import folder_digest, names_learnt, run_folder

    other = {"trained_clips": ["S002C001P001R001A121", "0005-M"],
             "train_config": {"data": {"dataset": "clips", "root": str(tmp_path / "other_site")}}}
    inherited = names_learnt(other, run_folder(site))
    assert inherited == {f"rehearse0-{folder_digest(tmp_path / 'other_site')}_S002C001P001R001A121", "0005-M"}
    same = {**other, "train_config": {"data": {"dataset": "clips", "root": site.root}}}
    assert names_learnt(same, run_folder(site)) == {"S002C001P001R001A121", "0005-M"}  # this folder's own
    assert moved(sorted(inherited), tmp_path / "site")[1] == [s.name for s in held if "0005" not in s.name]
    with pytest.raises(StageError, match=r"base\.pt: it trained on 1 of this run's 7 validation clips"):
        validation_not_learnt(DataConfig(dataset="pkummd"), splits, {"trained_clips": ["0007-M"]},
                              Path("base.pt"), said.append)


def test_a_sites_clips_are_known_by_their_folder_a_datasets_by_their_names(tmp_path: Path) -> None:
    """S001C001P001R001A121 is every site's first clip: weights that learnt site 1's are not taken to
    know site 2's, down a chain of fine-tunes (names inherited under their folder's prefix); a run's
    folder is recorded as resolved where it trained (a relative data.root resolved elsewhere named
    another folder); where a checkpoint does not say its folder, any may be it; a dataset's names (an NTU
    sample in a rehearsal folder) are its own everywhere."""
    from training.datasets.clips import folder_digest, learnt_from, names_learnt, rehearsal_prefix
    from training.evaluate import trained_clip_names

    clip = "S001C001P001R001A121"
    site1, site2, site3 = (folder_digest(tmp_path / f"site{k}") for k in (1, 2, 3))
    base = {"trained_clips": [clip], "data_folder": site1,
            "train_config": {"data": {"dataset": "clips", "root": "site1"}}}  # relative, from elsewhere
    assert learnt_from(base, site1)(clip) and not learnt_from(base, site2)(clip)
    tuned = {"trained_clips": sorted({"S009C001P001R001A122", *names_learnt(base, site2)}),
             "data_folder": site2}
    assert tuned["trained_clips"] == ["S009C001P001R001A122", f"rehearse0-{site1}_{clip}"]
    assert not learnt_from(tuned, site2)(clip) and learnt_from(tuned, site1)(f"{clip}@1.00-2.00")
    assert trained_clip_names(tuned, [clip], tmp_path / "site1") == {clip}  # evaluate on site 1: it knows it
    assert trained_clip_names(tuned, [clip], tmp_path / "site3") == set()
    unsaid = {"trained_clips": [clip]}  # no folder recorded: any may be it, down the chain too
    assert learnt_from(unsaid, site3)(clip)
    assert learnt_from({"trained_clips": sorted(names_learnt(unsaid, site2))}, site3)(clip)
    ntu = {"trained_clips": ["S001C001P001R001A001"], "dataset": "ntu60"}
    rehearsed = rehearsal_prefix(tmp_path / "ntu_subset", 1) + "S001C001P001R001A001"
    assert learnt_from(ntu, site2)(rehearsed) and names_learnt(ntu, site2) == {"S001C001P001R001A001"}
    assert learnt_from({"trained_clips": [rehearsed], "data_folder": site1}, None)("S001C001P001R001A001")
    # A record from before `dataset` was written is the default dataset's (N-UCLA), not a site's.
    nucla = {"trained_clips": ["a01_s01_e00_v01"], "train_config": {"data": {"root": "../nucla"}}}
    assert trained_clip_names(nucla, ["a01_s01_e00_v01"], tmp_path / "copy_of_nucla") == {"a01_s01_e00_v01"}


def test_pretrained_weights_may_learn_slower_than_a_fresh_classifier(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """optim.init_lr_scale: with --init, the loaded weights learn at lr x scale, the classifier rows of
    new classes (here all: the first run knew other classes) at lr; the plateau schedule keeps the ratio."""
    data = tmp_path / "nucla"
    write_nucla(data, per_class=2)
    train_stage(_pose_config(tmp_path, data, **{"epochs.pose": "1"}), "pose")
    pretrained = tmp_path / "run" / "pose" / "best.pt"
    # The same network for 9 other classes (as the PKU-MMD pretraining): its classifier starts fresh.
    first = load_checkpoint(pretrained)
    other = PartAttentionNetwork(dataclasses.replace(first.config, num_classes=9))
    body = {k: v for k, v in first.model.state_dict().items() if "classifier" not in k}
    other.load_state_dict(body, strict=False)
    save_checkpoint(tmp_path / "other_classes.pt", other, class_names=[f"other {i}" for i in range(9)],
                    preprocessing=first.preprocessing)

    def groups(out: str, scale: str) -> list[dict]:
        config = {"epochs.pose": "1", "optim.lr": "0.01", "optim.init_lr_scale": scale,
                  "model.init_new_classes": "true", "out": str(tmp_path / out)}
        train_stage(_pose_config(tmp_path, data, **config), "pose", init=tmp_path / "other_classes.pt")
        state = torch.load(tmp_path / out / "pose" / "state.pt", weights_only=True)
        return state["optimizer"]["param_groups"]

    capsys.readouterr()
    slow = groups("slow", "0.1")
    assert "its weights learn at 0.1 x the learning rate" in capsys.readouterr().out
    names = [name for name, _ in other.named_parameters()]
    fresh = [name for name in names if "classifier" in name]
    assert [g["lr"] for g in slow] == pytest.approx([0.001, 0.01])
    assert [len(g["params"]) for g in slow] == [len(names) - len(fresh), len(fresh)] and fresh
    # Scale 1: one group at the full rate, as before.
    assert [g["lr"] for g in groups("full", "1.0")] == [0.01]
    assert "learn at" not in capsys.readouterr().out


def test_init_rows_follow_class_names_when_only_the_order_differs(tmp_path: Path) -> None:
    """A checkpoint of the same classes in another order (same shapes): with model.init_new_classes each
    class keeps its own classifier row, as when the class count differs."""
    data = tmp_path / "nucla"
    write_nucla(data, per_class=2)
    train_stage(_pose_config(tmp_path, data, **{"epochs.pose": "1"}), "pose")
    first = load_checkpoint(tmp_path / "run" / "pose" / "best.pt")
    flipped = {k: v.flip(0) if "classifier" in k else v for k, v in first.model.state_dict().items()}
    reordered = PartAttentionNetwork(first.config)
    reordered.load_state_dict(flipped)
    save_checkpoint(tmp_path / "reordered.pt", reordered, class_names=first.class_names[::-1],
                    preprocessing=first.preprocessing)
    # An Adam step is about lr at most: the run's weights stay where --init put them (lr 0 is refused)
    config = {"epochs.pose": "1", "optim.lr": "1e-12", "optim.weight_decay": "0.0",
              "model.init_new_classes": "true", "out": str(tmp_path / "again")}
    train_stage(_pose_config(tmp_path, data, **config), "pose", init=tmp_path / "reordered.pt")
    again = load_checkpoint(tmp_path / "again" / "pose" / "best.pt").model.state_dict()
    classifier = [k for k in again if "classifier" in k]
    assert classifier
    for name in classifier:
        torch.testing.assert_close(again[name], first.model.state_dict()[name])


def test_cli_reports_bad_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(
        [
            "pose",
            "--set",
            "data.dataset=nucla",
            "--data",
            str(tmp_path / "nowhere"),
            "--out",
            str(tmp_path / "r"),
            "--no-progress",
        ]
    )
    assert code == 2 and "does not exist" in capsys.readouterr().err


def test_committed_nucla_checkpoint_reproduces_its_figure(shared_data: Path, tmp_path: Path) -> None:
    """The committed skeleton-only N-UCLA checkpoint: small, self-describing, and its recorded
    validation accuracy comes out again when evaluated on the clips it held out."""
    from training.evaluate import evaluate

    path = Path(__file__).resolve().parents[1] / "training" / "checkpoints" / "nucla_pose.pt"
    if not path.is_file():
        pytest.skip("training/checkpoints/nucla_pose.pt not present")
    assert path.stat().st_size < 5 * 2**20
    loaded = load_checkpoint(path)
    assert loaded.config.aggregation.value == "pose" and loaded.preprocessing.layout == "kinect_v1"
    assert loaded.config.pose_stream.value == "gcn"  # chosen over the LSTM by cross-view runs
    # Started from the network pretrained on PKU-MMD (better across views; checkpoints README, session 19).
    assert loaded.extra["init"] == "runs/nucla_pretrain_pku/pose/best.pt"
    # Taught by three seeds of the same recipe averaged (session 21), committed beside it: the teacher
    # held out the same performances, so no validation clip taught it through the teacher.
    teacher_path = loaded.extra["train_config"]["distill"]["teacher"]
    assert teacher_path == "training/checkpoints/nucla_pose_x3.pt"
    teacher = load_checkpoint(path.parent / Path(teacher_path).name)
    assert teacher.config.pose_members == 3
    assert teacher.extra["validation_clips"] == loaded.extra["validation_clips"]
    assert all(m["init"] == loaded.extra["init"] for m in teacher.extra["ensemble_members"])
    # Validation held out by performance: every view (1, 2) of a held-out performance, no view of another.
    held = set(loaded.extra["validation_clips"])
    performances = {name.rsplit("_", 1)[0] for name in held}
    views_1_2 = {p.stem for p in (shared_data / "nucla" / "all_sqe").glob("a*_v0[12].json")}
    assert held == {name for name in views_1_2 if name.rsplit("_", 1)[0] in performances}
    assert 80 <= len(held) <= 120
    report = evaluate(path, data=shared_data / "nucla", subset="validation", out=tmp_path, progress=False)
    assert report.top1 == pytest.approx(loaded.extra["validation"]["top1"], abs=1e-6)
    assert report.top1 > 0.8


def test_pretraining_config_builds_the_network_nucla_pose_starts_from() -> None:
    """The documented recipe of nucla_pose.pt: nucla_pretrain_pku.yaml (PKU-MMD in the Kinect v1 layout)
    must build the committed network but for its classifier, or `--init` of the second step fails."""
    from training.ablations import network_config
    from training.stages import check_compatible

    configs = Path(__file__).resolve().parents[1] / "training" / "configs"
    pretrain = load_config(configs / "nucla_pretrain_pku.yaml")
    assert pretrain.data.dataset == "pkummd" and pretrain.data.layout == "kinect_v1"
    committed = load_checkpoint(Path(__file__).resolve().parents[1] / "training/checkpoints/nucla_pose.pt")
    pretrained_net = network_config(pretrain, 9, KINECT_V1)  # 8 interactions + no_action
    pretrain_file = configs / "nucla_pretrain_pku.yaml"
    check_compatible(pretrained_net, committed.config, pretrain_file, ignore_classes=True)
    with pytest.raises(StageError, match="different network"):  # the classes only count with --init's flag
        check_compatible(pretrained_net, committed.config, pretrain_file)
    assert pretrain.window.duration_s == committed.preprocessing.window.duration_s


# ------------------------------------------------------------------------------------------ NTU, cache


def _ntu_folder(tmp_path: Path, shared_data: Path) -> Path:
    """An NTU-layout folder of links to the shared samples, plus one unreadable skeleton file."""
    root = tmp_path / "ntu"
    (root / "nturgb+d_skeletons").mkdir(parents=True)
    (root / "nturgb+d_rgb").mkdir()
    for path in sorted((shared_data / "ntu" / "skeletons").glob("S*.skeleton")):
        (root / "nturgb+d_skeletons" / path.name).symlink_to(path)
    video = shared_data / "ntu" / "rgb" / "S001C001P001R001A001_rgb.avi"
    (root / "nturgb+d_rgb" / video.name).symlink_to(video)
    (root / "nturgb+d_skeletons" / "S001C002P001R001A001.skeleton").write_text("3\n1\nnot a body line\n")
    missing = shared_data / "ntu" / "NTU_RGBD_samples_with_missing_skeletons.txt"
    (root / missing.name).symlink_to(missing)
    return root


def test_ntu_protocols_from_skeleton_files(tmp_path: Path, shared_data: Path) -> None:
    from training.datasets.ntu import ntu_splits

    root = _ntu_folder(tmp_path, shared_data)
    config = load_config(
        None, [f"data.root={root}", "data.dataset=ntu60", "data.protocol=xview", "data.validation_fraction=0"]
    )
    splits = ntu_splits(config.data)
    # Cross-view: camera 1 tests, cameras 2-3 train.
    assert {s.name for s in splits.test} >= {"S001C001P001R001A001", "S002C001P003R001A003"}
    assert {s.name for s in splits.train} == {
        "S001C003P008R002A058",
        "S001C002P001R001A001",
        "S017C003P020R002A054",
        "S017C003P020R002A055",
        "S017C003P020R002A057",
        "S017C003P020R002A058",
    }
    clip = splits.test[0].load(False)
    assert clip.joints.shape[1:] == (2, 25, 3) and clip.timestamps[1] == pytest.approx(1 / 30)
    xsub = ntu_splits(
        load_config(None, [f"data.root={root}", "data.dataset=ntu120", "data.protocol=xset"]).data
    )
    assert len(xsub.class_names) == 120 and len(xsub.subset("all")) == 11
    with pytest.raises(DatasetError, match="protocols"):
        ntu_splits(load_config(None, [f"data.root={root}", "data.dataset=ntu60", "data.protocol=xset"]).data)


def test_ntu_validation_holds_out_performances_with_all_their_cameras(tmp_path: Path) -> None:
    """NTU's three cameras film each performance at once: a clip-level draw would validate on another
    camera's view of a performance it trains on."""
    from training.datasets.ntu import ntu_splits

    folder = tmp_path / "ntu" / "nturgb+d_skeletons"
    folder.mkdir(parents=True)
    for performer in (1, 2, 4, 5):  # cross-subject training subjects
        for action in range(1, 6):
            for camera in (1, 2, 3):
                (folder / f"S001C{camera:03d}P{performer:03d}R001A{action:03d}.skeleton").write_text("")
    config = load_config(None, [f"data.root={tmp_path / 'ntu'}", "data.dataset=ntu60", "data.protocol=xsub",
                                "data.validation_fraction=0.4"])
    splits = ntu_splits(config.data)

    def performance(name: str) -> str:
        return name[:4] + name[8:]  # the name without its camera

    train, validation = ({performance(s.name) for s in split} for split in (splits.train, splits.validation))
    assert validation and not train & validation
    assert len(splits.validation) == 3 * len(validation)  # each held-out performance with its three cameras


def test_prepare_crops_skips_bad_clips_and_resumes(
    tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture
) -> None:
    root = _ntu_folder(tmp_path, shared_data)
    cache = tmp_path / "cache"
    args = [
        "prepare",
        "--dataset",
        "ntu60",
        "--root",
        str(root),
        "--out",
        str(cache),
        "--workers",
        "1",
        "--crop-size",
        "32",
        "--crop-fps",
        "10",
        "--no-progress",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    # Only one sample has its video: every other one is reported, none stops the run.
    assert "prepared 1 clips" in out and "failed" in out
    failed = dict(line.split("\t", 1) for line in (cache / "failed.txt").read_text().splitlines())
    assert "line 3" in failed["S001C002P001R001A001"]  # the unreadable skeleton names its line
    assert "no RGB video" in failed["S002C001P003R001A003"]
    from training.cache import load_clip, read_index

    (entry,) = read_index(cache)
    assert entry["name"] == "S001C001P001R001A001" and entry["frames"] == 103 and entry["crop_frames"] == 35
    clip = load_clip(cache, entry["name"], with_crops=True)
    assert isinstance(clip.crops, np.memmap) and clip.crops.shape == (3, 35, 32, 32, 3)
    assert clip.crops[2].mean() > 10  # the full-body crop shows the person, not black padding
    # Resumed: the prepared clip is not decoded again, and the cache's files are left as they were (a
    # training run resumed on this cache must see the same inputs); settings must match.
    written = {name: (cache / name).stat().st_mtime_ns for name in ("index.json", "failed.txt")}
    assert main(args) == 0
    assert "1 already there" in capsys.readouterr().out
    assert written == {name: (cache / name).stat().st_mtime_ns for name in ("index.json", "failed.txt")}
    # Another recording of the same name (a new folder starts again at S001...): prepared again.
    skeleton = root / "nturgb+d_skeletons" / "S001C001P001R001A001.skeleton"
    source = skeleton.resolve()
    skeleton.unlink()
    skeleton.write_bytes(source.read_bytes())
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "1 clip(s) in" in out and "preparing them again" in out and "prepared 1 clips" in out
    # A clip a power cut left empty or cut short (its files are not fsync'd): prepared again, where
    # np.load's EOFError and BadZipFile went through every except clause of prepare and training.
    npz = cache / "clips" / "S001C001P001R001A001.npz"
    whole = npz.read_bytes()
    for cut in (b"", whole[:100]):
        npz.write_bytes(cut)
        with pytest.raises(DatasetError, match="cannot read prepared clip"):
            load_clip(cache, entry["name"], with_crops=False)
        assert main(args) == 0
        assert "prepared 1 clips" in capsys.readouterr().out
    crops = cache / "clips" / "S001C001P001R001A001.crops.npy"  # its crops cut short, the .npz whole
    whole = crops.read_bytes()
    for cut in (b"", whole[: len(whole) // 2]):
        crops.write_bytes(cut)
        with pytest.raises(DatasetError, match="crops.npy: cannot read prepared crops"):
            load_clip(cache, entry["name"], with_crops=True)
        assert main(args) == 0
        assert "prepared 1 clips" in capsys.readouterr().out
    assert load_clip(cache, entry["name"], with_crops=True).crops.shape == (3, 35, 32, 32, 3)
    assert main([*args[:-3], "--crop-size", "48", "--no-progress"]) == 2
    assert "other settings" in capsys.readouterr().err


@pytest.mark.skipif(os.name != "posix", reason="the umask is POSIX's; Windows folders' ACLs decide")
def test_crops_of_a_site_s_clips_readable_by_others_are_said(tmp_path: Path, capsys) -> None:
    """`recordings convert` and live say it of a room's video written under a umask that lets every account
    read it; the crops `prepare` and `finetune` cut from a site's clips are its people too."""
    import types

    from training.cache import CacheSettings
    from training.prepare import prepare_cache

    def prepared(task, settings, cache) -> dict:
        return {"name": task.name}

    clip = types.SimpleNamespace(name="S001C001P001R001A121")
    previous = os.umask(0o022)
    try:
        prepare_cache([clip], CacheSettings(dataset="clips"), tmp_path / "site", progress=False,
                      prepare_one=prepared)
        said = capsys.readouterr().err
        prepare_cache([clip], CacheSettings(dataset="ntu60"), tmp_path / "ntu", progress=False,
                      prepare_one=prepared)
        prepare_cache([clip], CacheSettings(dataset="clips", skeleton_only=True), tmp_path / "bones",
                      progress=False, prepare_one=prepared)
        os.umask(0o077)
        prepare_cache([clip], CacheSettings(dataset="clips"), tmp_path / "private", progress=False,
                      prepare_one=prepared)
    finally:
        os.umask(previous)
    assert f"the crops prepared in {tmp_path / 'site'}" in said and "umask 0022" in said
    assert "warning" not in capsys.readouterr().err  # research data, skeletons, or 077: nothing to say


def test_a_trial_prepare_into_a_full_cache_keeps_its_index(tmp_path: Path, shared_data: Path, capsys) -> None:
    # --limit 1 wrote an index of one clip over the cache's own: a run on it trained on one clip.
    from training.cache import read_index

    cache, root = tmp_path / "cache", _ntu_folder(tmp_path, shared_data)
    args = ["prepare", "--dataset", "ntu60", "--root", str(root), "--out", str(cache), "--workers", "1",
            "--skeleton-only", "--no-progress"]
    assert main(args) == 0
    everything = read_index(cache)
    assert len(everything) > 1
    assert main([*args, "--limit", "1"]) == 0
    assert f"{len(everything)} already there" in capsys.readouterr().out
    assert read_index(cache) == everything
    # A clip past the limit whose recording changed is not the trial's to prepare again (a cache of old
    # stamps would be prepared whole): it leaves the index until a run without --limit prepares it.
    skeleton = root / "nturgb+d_skeletons" / f"{everything[-1]['name']}.skeleton"
    source = skeleton.resolve()
    skeleton.unlink()
    skeleton.write_bytes(source.read_bytes())
    assert main([*args, "--limit", "1"]) == 0
    assert "prepared 0 clips" in capsys.readouterr().out
    assert read_index(cache) == everything[:-1]


@pytest.mark.parametrize(("argv", "message"), [
    (["--crop-size", "0"], "argument --crop-size: must be from 1 to 1080, got 0"),
    (["--crop-fps", "-1"], "argument --crop-fps: must be positive, got -1.0"),
    (["--max-bodies", "0"], "argument --max-bodies: must be from 1 to 6, got 0"),
    (["--hand-size", "nan"], "argument --hand-size: expected a finite number, got 'nan'"),
    (["--limit", "-1"], "argument --limit: must be at least 0, got -1"),
    (["--workers", "0"], "argument --workers: must be at least 1, got 0"),
    (["--full-image", "--skeleton-only"], "argument --skeleton-only: not allowed with argument --full-image"),
])
def test_prepare_refuses_a_bad_option_before_writing_the_cache(
    argv: list[str], message: str, tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture
) -> None:
    # They were a traceback (--crop-size 0), every clip failing with a partial cache left (--crop-fps,
    # --max-bodies), or accepted: a NaN hand box, all clips but the last, no worker, contradicting flags.
    cache = tmp_path / "cache"
    with pytest.raises(SystemExit) as stop:
        main(["prepare", "--dataset", "ntu60", "--root", str(shared_data / "ntu"), "--out", str(cache),
              "--limit", "1", "--no-progress", *argv])
    assert stop.value.code == 2 and message in capsys.readouterr().err
    assert not cache.exists()


def test_own_clips_use_the_label_map(tmp_path: Path, shared_data: Path) -> None:
    from training.datasets.clips import clip_splits

    root = tmp_path / "site"
    root.mkdir()
    for name in ("S001C001P001R001A001", "S001C001P001R001A011", "S002C001P003R001A003"):
        (root / f"{name}.skeleton").symlink_to(shared_data / "ntu" / "skeletons" / f"{name}.skeleton")
    (root / "labels.txt").write_text("A001\tdrink water\nA003\tbrushing teeth\nA011\treading\n")
    config = load_config(None, ["data.dataset=clips", f"data.root={root}", "data.protocol=all"])
    splits = clip_splits(config.data)
    assert splits.class_names == ["drink water", "brushing teeth", "reading"]
    labels = {s.name: s.label for s in splits.subset("all")}
    assert labels == {"S001C001P001R001A001": 0, "S002C001P003R001A003": 1, "S001C001P001R001A011": 2}
    (root / "labels.txt").write_text("A001\tdrink water\nA003\tbrushing teeth\n")
    with pytest.raises(
        DatasetError, match=r"S001C001P001R001A011.skeleton: action A011 is not in the label map .*: add the "
                            r"class to it, label the clip with python -m recordings label .* --class NAME"
    ):
        clip_splits(config.data)


def test_new_classes_keep_everything_but_the_classifier() -> None:
    from core.model.network import PartAttentionNetwork
    from core.model.profiles import pose_only, tiny
    from training.stages import load_matching

    ntu = PartAttentionNetwork(pose_only(tiny(60)))
    site = PartAttentionNetwork(pose_only(tiny(3)))
    before = {k: v.clone() for k, v in site.state_dict().items()}
    fresh = load_matching(site, ntu.state_dict())
    assert sorted(fresh) == ["pose.classifier.bias", "pose.classifier.weight"]
    assert torch.equal(
        site.state_dict()["pose.lstm.weight_ih_l0"], ntu.state_dict()["pose.lstm.weight_ih_l0"]
    )
    assert torch.equal(site.state_dict()["pose.classifier.weight"], before["pose.classifier.weight"])


def test_mirroring_is_refused_when_crops_are_trained() -> None:
    sources = [ClipSource("c0", 0, lambda w: _clip("c0", 0))]
    with pytest.raises(DatasetError, match="augment.mirror"):
        WindowDataset(sources, WindowSpec(2.0, 8), KINECT_V1, num_bodies=1, train=True, with_crops=True,
                      augmentation=Augmentation(mirror=0.5))


def test_part_crops_are_zoomed_and_lit_per_window_without_changing_the_skeleton_draws() -> None:
    """I3D's own augmentation, which the paper follows for the parts: a random square of each part's crops,
    one for the whole window, and a brightness; the skeleton's draws come first, so they are unchanged."""
    base = _clip("c0", 0)
    # Every frame the same picture (a horizontal ramp), so one square for the window gives equal frames.
    ramp = np.broadcast_to(np.linspace(0, 200, 32, dtype=np.uint8)[None, :, None], (32, 32, 3))
    crops = np.broadcast_to(ramp, (3, len(base.timestamps), 32, 32, 3)).copy()
    clip = dataclasses.replace(base, crops=crops, crop_timestamps=base.timestamps)
    sources = [ClipSource("c0", 0, lambda w: clip)]

    def window(augmentation: Augmentation, train: bool = True) -> dict:
        return WindowDataset(sources, WindowSpec(2.0, 8), KINECT_V1, num_bodies=1, train=train,
                             with_crops=True, augmentation=augmentation)[0]

    skeleton_only = Augmentation(rotate_deg=20, scale=0.1)
    plain = window(skeleton_only)
    zoomed = window(dataclasses.replace(skeleton_only, crop_zoom=0.5, brightness=0.3))
    assert torch.equal(zoomed["skeleton"], plain["skeleton"])
    assert torch.equal(plain["crops"], torch.from_numpy(crops[:, :8]))
    assert zoomed["crops"].shape == plain["crops"].shape and zoomed["crops"].dtype == torch.uint8
    for part in zoomed["crops"]:
        assert not torch.equal(part[0], plain["crops"][0, 0])
        assert all(torch.equal(frame, part[0]) for frame in part)  # one square and gain for the window
    # A zoom stretches the ramp: its step from column to column grows (not only a brightness change).
    steps = [np.diff(part[0, 0, :, 0].numpy().astype(int)) for part in zoomed["crops"]]
    assert any(step[step > 0].mean() > 7.0 for step in steps)  # the whole ramp's step is 200 / 31 ~ 6.5
    # Never at evaluation.
    evaluated = window(Augmentation(crop_zoom=0.5, brightness=0.3), train=False)
    assert torch.equal(evaluated["crops"][0], torch.from_numpy(crops[:, :8]))


@pytest.mark.parametrize(("argv", "message"), [
    (["--checkpoint", "m.pt", "--engine", "tensorrt", "--threshold", "0.9"],
     "--engine, --threshold: not used when evaluating clips"),
    (["--stream", "--checkpoint", "m.pt", "--device", "cuda:7", "--windows", "9"],
     "--device, --windows: not used when evaluating --stream"),
    (["--rescore", "run", "--hop", "1"], "--hop: not used when evaluating --rescore"),
    (["--stream", "--checkpoint", "m.pt", "--threshold", "1.5"], "--threshold: must be above 0"),
    # Every decision lags by about the smoothing: 1e9 held the first scores for good.
    (["--stream", "--checkpoint", "m.pt", "--smoothing", "1e9"], "--smoothing: must be from 0 (none) to 10"),
])
def test_evaluate_refuses_options_of_another_mode_instead_of_ignoring_them(argv, message, capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["evaluate", *argv])
    assert stop.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "message"), [
    (["pose", "--threads", "0"], "argument --threads: must be from 1 to"),
    (["pose", "--workers", "-1"], "argument --workers: must be at least 0, got -1"),
    (["evaluate", "--checkpoint", "m.pt", "--threads", "-1"], "argument --threads: must be from 1 to"),
    (["evaluate", "--checkpoint", "m.pt", "--threads", "100000"], "argument --threads: must be from 1 to"),
    (["evaluate", "--stream", "--checkpoint", "m.pt", "--engine", "banana"],
     "argument --engine: invalid choice: 'banana'"),
    (["demo", "--threads", "0"], "argument --threads: must be from 1 to"),
    (["export", "m.pt", "--threads", "0"], "argument --threads: must be from 1 to"),
])
def test_a_bad_thread_worker_or_engine_option_is_a_usage_error_before_anything_is_written(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    # They were a traceback (torch.set_num_threads, the DataLoader once the run folder was made, Backend)
    # or, for --threads 0, training with torch's default.
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--out", str(tmp_path / "run")] if argv[0] in ("pose", "demo") else argv)
    assert stop.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv", [
    ["pose", "--set", "data.dataset=nucla"],
    ["finetune", "--from", "training/checkpoints/demo.pt", "--clips", "clips"],
    ["prepare", "--dataset", "ntu60", "--root", "ntu"],
])
def test_an_out_folder_under_a_file_is_a_usage_error_that_names_the_file(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    # It was "[Errno 20] Not a directory" with exit status 1, once the data had been read.
    (tmp_path / "afile").write_text("")
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--out", str(tmp_path / "afile" / "run")])
    said = f"argument --out: {tmp_path / 'afile' / 'run'}: {tmp_path / 'afile'} is a file, not a folder"
    assert stop.value.code == 2 and said in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "message"), [
    # --set out=$RUN with RUN unset trained into '.'
    (["--set", "out="], "error: --set out=: out: empty: name the folder"),
    # was "[Errno 17] File exists", exit status 1
    (["--set", "out=afile"], "error: --set out=afile: out: afile: a file, not a folder"),
    (["--config", "out.yaml"], "error: out.yaml: out: afile: a file, not a folder"),
])
def test_an_out_folder_set_in_a_config_is_checked_as_out_is(
    argv: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("")
    (tmp_path / "out.yaml").write_text("out: afile\n")
    assert main(["pose", "--set", "data.dataset=nucla", *argv]) == 2
    assert message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "out.yaml"]  # nothing written here


def test_an_out_folder_set_in_a_config_may_start_at_the_home_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import training.stages

    given: list[TrainConfig] = []

    def record(config: TrainConfig, *_: object, **__: object) -> None:
        given.append(config)
        raise StageError("recorded")

    monkeypatch.setattr(training.stages, "train_stage", record)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["pose", "--set", "out=~/runs/a"]) == 2
    assert given[0].out == str(tmp_path / "runs" / "a")  # not a folder named '~' where it runs


def test_negative_workers_in_a_config_are_refused_before_the_run_starts(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="workers must not be negative, got -1"):
        load_config(None, ["workers=-1", f"out={tmp_path / 'run'}"])


def test_a_checkpoint_of_another_dataset_scores_a_folder_of_clips(
    tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture
) -> None:
    """`--dataset clips` on a PKU-MMD checkpoint: NTU clips of the same interactions, named in labels.txt
    (its xsub protocol used to be kept and refused: "dataset 'clips' has protocol 'all'")."""
    clip = tmp_path / "clips" / "S017C003P020R002A055.skeleton"
    clip.parent.mkdir()
    clip.symlink_to(shared_data / "ntu" / "skeletons" / clip.name)
    (clip.parent / "labels.txt").write_text("A055\thugging other person\n")
    checkpoint = Path(__file__).resolve().parents[1] / "training" / "checkpoints" / "pku_interactions.pt"
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--data", str(clip.parent), "--dataset",
                 "clips", "--subset", "all", "--out", str(tmp_path / "eval"), "--no-progress"]) == 0
    assert json.loads((tmp_path / "eval" / "results.json").read_text())["clips"] == 1


STOPPED_WITH_WORKERS = """
import signal, sys, time
import torch
from torch.utils.data import DataLoader, Dataset
from recordings.stop_signals import stop_once
from training.data import ignore_sigterm

class Slow(Dataset):
    def __len__(self):
        return 10**6

    def __getitem__(self, i):
        time.sleep(0.01)
        return torch.zeros(4)

signal.signal(signal.SIGTERM, stop_once)
try:
    for batch in DataLoader(Slow(), batch_size=4, num_workers=2, worker_init_fn=ignore_sigterm):
        print("batch", flush=True)
except KeyboardInterrupt:
    print("interrupted", file=sys.stderr)
    sys.exit(130)
"""


def test_sigterm_to_the_whole_process_group_stops_data_loading_as_ctrl_c_does() -> None:
    """systemd, Slurm's scancel, kill -TERM -PGID signal the DataLoader's workers too: a worker killed by
    it made the main process fail ("DataLoader worker is killed by signal") instead of stopping cleanly."""
    import signal
    import subprocess

    repository = Path(__file__).resolve().parents[1]
    run = subprocess.Popen([sys.executable, "-c", STOPPED_WITH_WORKERS], cwd=repository,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    # Batches come from the workers in turn: after four, both have started (and set their handlers).
    assert [run.stdout.readline() for _ in range(4)] == ["batch\n"] * 4
    os.killpg(run.pid, signal.SIGTERM)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130 and err.strip().endswith("interrupted"), err
    assert "killed by signal" not in err, err


class _RunsCode:
    """A pickled object that runs code as it is read back: a state.pt planted in a shared run folder."""

    def __reduce__(self):
        return (Path.touch, (Path(os.environ["RAN_CODE_AT"]),))


def test_a_planted_state_that_would_run_code_is_refused_not_run(tmp_path: Path, monkeypatch) -> None:
    from training.stages import StageError, _read_state

    monkeypatch.setenv("RAN_CODE_AT", str(tmp_path / "ran"))
    torch.save({"epoch": 3, "network": _RunsCode()}, tmp_path / "state.pt")
    with pytest.raises(StageError, match=r"state.pt: the run's saved state cannot be read"):
        _read_state(tmp_path / "state.pt")
    assert not (tmp_path / "ran").exists()


def test_a_bad_set_override_is_named_once_with_what_is_wrong() -> None:
    """`--set x` read "--set x: --set 'x': expected ...": the override named twice."""
    for override, message in (("x", "--set x: expected section.key=value"),
                              ("optim.lr=[1, 2", "--set optim.lr=[1, 2: the value is not valid YAML"),
                              ("optim.lr=fast", "--set optim.lr=fast: optim.lr: expected a finite number")):
        with pytest.raises(ConfigError) as error:
            load_config(None, [override])
        assert str(error.value).startswith(message), str(error.value)


def test_an_ntu_video_shared_at_half_size_is_cropped_where_its_people_are(tmp_path: Path,
                                                                          shared_data: Path) -> None:
    """A .skeleton places its joints in the Kinect's 1920x1080 frames: cut from a 960x540 copy of the real
    video, the hand crops were black and the body crop a corner of floor, trained on without a word."""
    from video_files import resized_copy

    from training.cache import load_clip
    from training.data import ClipTask
    from training.prepare import CacheSettings, prepare_clip

    skeleton = shared_data / "ntu" / "skeletons" / "S001C001P001R001A001.skeleton"
    full = shared_data / "ntu" / "rgb" / "S001C001P001R001A001_rgb.avi"
    half = resized_copy(full, tmp_path / "S001C001P001R001A001_rgb.avi", 960, 540)
    crops = {}
    for name, video in (("full", full), ("half", half)):
        task = ClipTask("S001C001P001R001A001", 0, skeleton, video, None, {})
        prepare_clip(task, CacheSettings(dataset="ntu60"), tmp_path / name)
        crops[name] = np.asarray(load_clip(tmp_path / name, task.name, with_crops=True).crops, np.float32)
    assert crops["half"].shape == crops["full"].shape
    # Each part's crops, half against full: the same picture, a little softer (was: black, 60-90 apart).
    for part in range(crops["full"].shape[0]):
        assert np.abs(crops["half"][part] - crops["full"][part]).mean() < 12
        assert crops["half"][part].mean() > 40
    # Cut to another shape, no scale puts the joints on her: refused, naming the video (it was black crops).
    cut = resized_copy(full, tmp_path / "cut" / "S001C001P001R001A001_rgb.avi", 640, 480)
    task = ClipTask("S001C001P001R001A001", 0, skeleton, cut, None, {})
    with pytest.raises(DatasetError, match=f"{cut}: 640x480 frames, but S001C001P001R001A001.skeleton places "
                                           "its joints in 1920x1080 ones"):
        prepare_clip(task, CacheSettings(dataset="ntu60"), tmp_path / "cut_cache")


def test_results_json_is_plain_json_with_null_where_a_class_has_no_clips(tmp_path):
    """NaN, Python's default for a class without clips, is not JSON: a browser's JSON.parse and jq refused
    the results.json of a fine-tune whose validation held no clip of a rehearsed class."""
    from training.evaluation import Predictions, make_report, save_results

    logits = np.array([[2.0, 0.0, 0.0, 0.0], [0.0, 0.0, 3.0, 0.0]], np.float32)  # no clip of b or d
    predictions = Predictions(logits, np.array([0, 2]), np.ones((2, 3), np.float32) / 3, np.arange(2))
    report = make_report(predictions, ["a", "b", "c", "d"], ["left_hand", "right_hand", "body"])
    save_results(report, tmp_path / "results.json", {"clips": 2})

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in results.json")

    results = json.loads((tmp_path / "results.json").read_text(), parse_constant=refuse)
    assert [row["top1"] for row in results["per_class"]] == [1.0, None, 1.0, None]
    assert results["top1"] == 1.0 and results["attention_per_class"][1] == [None, None, None]
