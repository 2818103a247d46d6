"""Windows along continuous sequences, labelled by their timelines (training/windows.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core.skeleton import KINECT_V2
from core.timeline import NO_ACTION, Interval, Timeline
from core.window import WindowSpec
from training.cache import load_clip, timeline_array, write_clip
from training.config import ConfigError, WindowConfig, load_config
from training.data import Clip, ClipSource, DatasetError, Splits
from training.windows import Augmentation, StreamWindowDataset, WindowDataset, at_speed, window_datasets

CLASSES = ("wave", "kick", NO_ACTION)
FPS = 30.0


def sequence(name: str, seconds: float = 30.0, seed: int = 0) -> Clip:
    """A person standing still except while waving (4-8 s, 20-23 s) and kicking (12-15 s)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * FPS)) / FPS
    joints = np.zeros((len(t), 1, 25, 3), np.float32)
    joints[:, 0] = rng.normal(0, 0.2, (25, 3)) + np.array([0, 0, 2.5])
    joints[:, 0, 20] = joints[:, 0, 1] + np.array([0, 0.3, 0])  # a spine for the view transform
    timeline = Timeline.checked([Interval(4.0, 8.0, "wave"), Interval(12.0, 15.0, "kick"),
                                 Interval(20.0, 23.0, "wave")], classes=CLASSES, duration=30.0)
    for interval in timeline.intervals:
        inside = (t >= interval.start) & (t < interval.end)
        joint = 11 if interval.label == "wave" else 19
        joints[inside, 0, joint, 1] += 0.3 * np.sin(8 * t[inside])
    return Clip(name, -1, t, joints, timeline=timeline)


def sources(count: int = 2) -> list[ClipSource]:
    return [ClipSource(f"s{k}", -1, lambda _crops, k=k: sequence(f"s{k}", seed=k)) for k in range(count)]


SPEC = WindowSpec(2.0, 10)


def test_every_window_takes_the_label_of_its_centre() -> None:
    dataset = StreamWindowDataset(sources(1), SPEC, KINECT_V2, 1, CLASSES, train=False, stride_s=0.2)
    clip = sequence("s0")
    # From the first instant live decides (0.8 of a window of history) to the end, one per stride.
    assert dataset.window_ends[0] == pytest.approx(1.6) and len(dataset) == len(np.arange(1.6, 29.97, 0.2))
    boundaries = np.array([t for i in clip.timeline.intervals for t in (i.start, i.end)])
    for end, label in zip(dataset.window_ends, dataset.window_labels, strict=True):
        centre = end - 1.0
        if np.abs(boundaries - centre).min() > 0.01:  # off the exact half-way instants
            assert CLASSES[label] == clip.timeline.label_at(centre)
    item = dataset[10]
    assert item["skeleton"].shape == (1, 10, 1, 25, 3) and item["clip"] == 0
    assert item["label"].item() == dataset.window_labels[10]


def test_a_smaller_action_fraction_names_an_action_sooner_and_lets_it_go_later() -> None:
    """window.action_fraction 0.3: a 2 s window is the kick (12-15 s) once 0.6 s of it is in view, from
    12.6 s, not 13.0 s, and until 15.0 + 1.4 s, not 16.0 s (window ends on the 0.2 s grid)."""
    dataset = StreamWindowDataset(sources(1), SPEC, KINECT_V2, 1, CLASSES, train=False, stride_s=0.2,
                                  action_fraction=0.3)
    kick = dataset.window_ends[dataset.window_labels == CLASSES.index("kick")]
    assert kick.min() == pytest.approx(12.6) and kick.max() == pytest.approx(16.4)
    with pytest.raises(ValueError, match="action_fraction"):
        WindowConfig(action_fraction=0.0)


def test_training_draws_balance_the_classes_and_change_each_epoch() -> None:
    dataset = StreamWindowDataset(sources(2), SPEC, KINECT_V2, 1, CLASSES, train=True, stride_s=0.2,
                                  background_ratio=1.5)
    counts = np.bincount(dataset.labels, minlength=3)
    per_class = dataset.per_class
    assert counts[0] == counts[1] == per_class and counts[2] == round(1.5 * per_class)
    # Background is most of the stream, yet not most of an epoch.
    assert (dataset.window_labels == 2).mean() > 0.5 and counts[2] / counts.sum() < 0.5
    first = dataset.labels.copy()
    size = len(dataset)
    dataset.set_epoch(1)
    assert len(dataset) == size and not np.array_equal(dataset.labels, first)
    # A training item's label follows its (jittered) window exactly.
    for index in range(0, size, 17):
        item = dataset[index]
        assert item["skeleton"].shape == (10, 1, 25, 3) and 0 <= item["label"].item() < 3


def test_an_epoch_draws_each_action_class_the_mean_action_count_rounded_up() -> None:
    dataset = StreamWindowDataset(sources(1), SPEC, KINECT_V2, 1, CLASSES, train=True, stride_s=0.2)
    counts = np.bincount(dataset.window_labels, minlength=3)
    assert counts[:2].tolist() == [37, 16]  # waving lasts longer than kicking
    assert dataset.per_class == 27  # their mean, 26.5, rounded up
    assert np.bincount(dataset.labels, minlength=3).tolist() == [dataset.per_class] * 3


def test_a_jittered_training_window_takes_the_label_of_where_it_ends_up() -> None:
    # A stride of 1 s moves each training window by up to half a second: near an action's start or end
    # that changes its centre's label, and the item must carry the new one.
    dataset = StreamWindowDataset(sources(1), SPEC, KINECT_V2, 1, CLASSES, train=True, stride_s=1.0)
    timeline = sequence("s0").timeline
    changed = 0
    for epoch in range(4):
        dataset.set_epoch(epoch)
        for index in range(len(dataset)):
            end = float(dataset.window_ends[dataset.plan()[index]])  # on the grid, before the jitter
            label = dataset[index]["label"].item()
            reachable = np.linspace(end - 0.5, end + 0.5, 41)
            assert label in {CLASSES.index(timeline.window_label(e - 2.0, e)) for e in reachable}
            changed += label != dataset.labels[index]
    assert changed > 0


def clock_sequence(name: str = "clock", seconds: float = 30.0) -> Clip:
    """`sequence`'s timeline on a still body whose left hand rises 0.1 spine lengths a second, and one part
    crop every third frame holding its own index: what a window shows says when it was taken."""
    base = sequence(name, seconds)
    t = base.timestamps
    joints = np.zeros((len(t), 1, 25, 3), np.float32)
    joints[:, 0] = [0.0, 0.5, 2.5]
    joints[:, 0, 1] = [0.0, 0.0, 2.5]  # the origin; a spine of 1 m up to SpineShoulder, shoulders along x
    joints[:, 0, 20] = [0.0, 1.0, 2.5]
    joints[:, 0, 4], joints[:, 0, 8] = [0.2, 1.0, 2.5], [-0.2, 1.0, 2.5]
    joints[:, 0, 7, 1] = 0.1 * t  # HandLeft
    index = np.arange(len(t[::3]))
    crops = np.zeros((1, len(index), 2, 2, 3), np.uint8)
    crops[0, :, :, :, 0] = (index % 256)[:, None, None]
    crops[0, :, :, :, 1] = (index // 256)[:, None, None]
    return Clip(name, -1, t, joints, crops=crops, crop_timestamps=t[::3], timeline=base.timeline)


def shown_times(skeleton: torch.Tensor) -> np.ndarray:
    """The recording's seconds each sample of a `clock_sequence` window was taken at (its hand's height)."""
    return skeleton[:, 0, 7, 1].numpy().astype(np.float64) / 0.1


def labels_near(timeline: Timeline, end: float) -> set[int]:
    """The labels of windows ending within a frame of `end` (a sample lands on the nearest frame)."""
    ends = np.linspace(end - 1 / FPS, end + 1 / FPS, 9)
    return {CLASSES.index(timeline.window_label(e - 2.0, e)) for e in ends}


def windows_shown(dataset: StreamWindowDataset, clip: Clip, epochs: int):
    """Each training item of `epochs` epochs with the seconds its skeleton shows, checked to end within half
    a stride of its grid end and to carry the label of where it ends."""
    for epoch in range(epochs):
        dataset.set_epoch(epoch)
        for index in range(len(dataset)):
            grid_end = float(dataset.window_ends[dataset.plan()[index]])
            item = dataset[index]
            times = shown_times(item["skeleton"])
            assert abs(times[-1] - grid_end) <= 0.5 + 1 / FPS
            assert item["label"].item() in labels_near(clip.timeline, times[-1])
            yield grid_end, item, times


def test_a_jittered_training_window_shows_the_moment_its_label_is_for() -> None:
    # The label follows the jittered end: the skeleton and crops must be taken there too, not at the grid end.
    clock = clock_sequence()
    dataset = StreamWindowDataset([ClipSource("clock", -1, lambda _c: clock)], SPEC, KINECT_V2, 1, CLASSES,
                                  train=True, stride_s=1.0, with_crops=True)
    moved = 0
    for grid_end, item, times in windows_shown(dataset, clock, epochs=4):
        crops = item["crops"][0, :, 0, 0].numpy().astype(np.int64)
        crop_times = clock.crop_timestamps[crops[:, 0] + 256 * crops[:, 1]]
        # Each crop is the one nearest its sample time (10 a second), each skeleton frame too (30).
        assert np.abs(crop_times - times).max() <= 0.05 + 1 / (2 * FPS) + 1e-9
        moved += abs(times[-1] - grid_end) > 0.1
    assert moved > len(dataset)


def test_a_speed_factor_stretches_a_window_over_the_recording_but_keeps_where_it_ends() -> None:
    # Augmentation.speed plays the clip faster or slower (`at_speed`): the window still ends at the moment
    # its label is for, and spans 2 s / factor of the recording (faster: more of the action).
    clip = clock_sequence()
    doubled = at_speed(clip, 2.0)
    np.testing.assert_allclose(doubled.timestamps, 2 * clip.timestamps)
    np.testing.assert_allclose(doubled.crop_timestamps, 2 * clip.crop_timestamps)
    assert at_speed(clip, 1.0) is clip and doubled.joints is clip.joints
    dataset = StreamWindowDataset([ClipSource("clock", -1, lambda _c: clip)], SPEC, KINECT_V2, 1, CLASSES,
                                  train=True, stride_s=1.0, augmentation=Augmentation(speed=0.5))
    spans = [times[-1] - times[0] for _, _, times in windows_shown(dataset, clip, epochs=2)
             if times[0] > clip.timestamps[0]]  # not padded with the recording's first frame
    # The first sample is 1.8 s of the sped-up clock before the last: 1.8 / factor, factor in [0.5, 1.5].
    spans = np.array(spans)
    assert spans.min() >= 1.8 / 1.5 - 2 / FPS and spans.max() <= 1.8 / 0.5 + 2 / FPS
    assert spans.min() < 1.5 and spans.max() > 2.5


def test_streams_need_timelines_and_no_action() -> None:
    with pytest.raises(DatasetError, match="no_action"):
        StreamWindowDataset(sources(1), SPEC, KINECT_V2, 1, ("wave", "kick"), train=False)
    trimmed = [ClipSource("t", 0, lambda _c: Clip("t", 0, np.arange(60) / FPS, np.zeros((60, 1, 25, 3))))]
    with pytest.raises(DatasetError, match="no timeline"):
        StreamWindowDataset(trimmed, SPEC, KINECT_V2, 1, CLASSES, train=False)
    with pytest.raises(DatasetError, match="background class"):
        Splits(sources(1), [], [], ["wave", "kick"], KINECT_V2, has_rgb=False, continuous=True)
    splits = Splits(sources(1), [], [], list(CLASSES), KINECT_V2, has_rgb=False, continuous=True)
    with pytest.raises(DatasetError, match="augment.time_reverse works on trimmed clips"):
        window_datasets(splits, SPEC, 1, window=WindowConfig(), augmentation=Augmentation(time_reverse=0.5),
                        with_crops=False, part_index=None, seed=0)


def test_classes_that_say_which_side_are_never_mirrored() -> None:
    """A mirrored drink_left window is a right-hand drink: trained (augment.mirror) or scored
    (pose_mirror_average) under its label, the two sides looked alike; both were taken without a word."""
    from training.ablations import network_config

    sided = ["drink_left", "drink_right", "Wave right hand", "phoneLeft", "kick", NO_ACTION]
    splits = Splits(sources(1), [], [], sided, KINECT_V2, has_rgb=False, continuous=True)
    said = r"augment.mirror: the classes drink_left, drink_right, Wave right hand, phoneLeft say which side"
    with pytest.raises(DatasetError, match=said + r".*\(--set augment.mirror=0\)"):
        window_datasets(splits, SPEC, 1, window=WindowConfig(), augmentation=Augmentation(mirror=0.5),
                        with_crops=False, part_index=None, seed=0)
    mirror_averaged = load_config(None, ["model.ablation=pose",
                                         "model.overrides={pose_mirror_average: true}"])
    with pytest.raises(ConfigError, match="pose_mirror_average: the classes drink_left, drink_right, Wave"):
        network_config(mirror_averaged, len(sided), KINECT_V2, sided)
    # Classes without a side (PKU-MMD's interactions; "upright" is no side) mirror as before.
    unsided = ["wave", "kick", "sit upright", NO_ACTION]
    assert network_config(mirror_averaged, len(unsided), KINECT_V2, unsided).pose_mirror_average
    splits = Splits(sources(1), [], [], unsided, KINECT_V2, has_rgb=False, continuous=True)
    window_datasets(splits, SPEC, 1, window=WindowConfig(), augmentation=Augmentation(mirror=0.5),
                    with_crops=False, part_index=None, seed=0)


def test_the_cache_keeps_a_sequences_timeline(tmp_path: Path) -> None:
    clip = sequence("s0", seconds=10.0)  # intervals past 10 s are simply never reached
    write_clip(tmp_path, "s0", {
        "timestamps": clip.timestamps, "joints": clip.joints, "states": np.full((300, 1, 25), 2, np.int8),
        "color": np.zeros((300, 1, 25, 2), np.float32), "crop_timestamps": clip.timestamps[::3],
        "label": np.int64(-1), "body_ids": np.zeros(1, np.uint64), "timeline": timeline_array(clip.timeline),
    }, None)
    loaded = load_clip(tmp_path, "s0", with_crops=False)
    assert loaded.timeline.intervals == clip.timeline.intervals and loaded.label == -1


def test_two_prepares_writing_one_clip_at_once_both_finish(tmp_path: Path, monkeypatch) -> None:
    """Two fine-tunes into one --out prepare into one cache: both wrote `s0.npz.partial`, the first renamed
    it, and the second's rename found it gone: a good clip "could not be prepared"."""
    import threading

    import training.cache

    clip = sequence("s0", seconds=2.0)
    arrays = {"timestamps": clip.timestamps, "joints": clip.joints, "label": np.int64(3),
              "states": np.full((len(clip.timestamps), 1, 25), 2, np.int8)}
    written, go_on = threading.Event(), threading.Event()
    savez = np.savez

    def slow_savez(f, **kwargs):  # the first writer stops with its file written, not yet renamed
        savez(f, **kwargs)
        if threading.current_thread() is not threading.main_thread():
            written.set()
            go_on.wait(5)

    monkeypatch.setattr(training.cache.np, "savez", slow_savez)
    errors = []
    first = threading.Thread(target=lambda: errors.extend(_raised(write_clip, tmp_path, "s0", arrays)))
    first.start()
    assert written.wait(5)
    write_clip(tmp_path, "s0", arrays, None)  # the second, meanwhile
    go_on.set()
    first.join(5)
    assert errors == [] and load_clip(tmp_path, "s0", with_crops=False).label == 3
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["s0.npz"]  # no temporary file left


def _raised(function, *args) -> list[BaseException]:
    try:
        function(*args, None)
    except BaseException as error:  # noqa: BLE001 - handed to the test's thread
        return [error]
    return []


def test_a_pose_stage_trains_on_continuous_splits(tmp_path: Path) -> None:
    from training.stages import train_stage

    torch.set_num_threads(1)
    splits = Splits(sources(3), sources(1), [], list(CLASSES), KINECT_V2, has_rgb=False, continuous=True)
    config = load_config(None, [
        "data.dataset=simulated", "model.profile=tiny", "model.ablation=pose", f"out={tmp_path}",
        "window.duration_s=2.0", "epochs.pose=1", "optim.batch_size=16", "device=cpu", "workers=0",
        "progress=false", "data.max_bodies=1", "model.overrides={num_bodies: 1}",
    ])
    result = train_stage(config, "pose", splits=splits)
    from core.model.checkpoint import load_checkpoint

    loaded = load_checkpoint(result.best_checkpoint)
    assert loaded.class_names == list(CLASSES) and 0 <= result.best_validation_top1 <= 1


def test_trimmed_clips_keep_the_clip_level_windows() -> None:
    from dataclasses import replace

    trimmed = [ClipSource("t", 1, lambda _c: replace(sequence("t"), label=1, timeline=None))]
    dataset = WindowDataset(trimmed, SPEC, KINECT_V2, 1, train=False, eval_windows=5)
    assert dataset[0]["skeleton"].shape == (5, 10, 1, 25, 3) and dataset[0]["label"].item() == 1


def test_a_split_of_sequences_all_shorter_than_a_window_names_them_and_their_lengths() -> None:
    """Four short clips recorded on site, the long one drawn into the other split: 'no windows' named no
    sequence and no split, and nobody could tell which clips were too short."""
    short = [ClipSource(f"clip{k}", -1, lambda _crops, k=k: sequence(f"clip{k}", seconds=1.0 + 0.2 * k))
             for k in range(3)]
    with pytest.raises(DatasetError) as error:
        StreamWindowDataset(short, SPEC, KINECT_V2, 1, CLASSES, train=True)
    message = str(error.value)
    assert message.startswith("no training windows: each of the 3 sequences of this split is shorter than "
                              "the 1.6 s of history a 2 s window needs")
    assert "clip0 1.0 s, clip1 1.2 s, clip2 1.4 s" in message


def test_loader_workers_draw_each_epochs_windows() -> None:
    """Persistent loader workers kept the dataset as they got it: with --workers 2 every epoch trained on
    epoch 0's windows and augmentation, and the run differed from --workers 0 from epoch 2 on. Sequences'
    windows and trimmed clips' alike."""
    from core.model.profiles import pose_only, tiny
    from training.distributed import Process
    from training.stages import _stage_data

    process = Process(0, 1, 0, torch.device("cpu"))
    trimmed = [ClipSource(f"t{k}", k % 2, lambda _c, k=k: Clip(f"t{k}", k % 2, np.arange(90) / FPS,
                                                               sequence(f"s{k}", seed=k).joints[:90]))
               for k in range(8)]
    for splits in (Splits(sources(2), [], [], list(CLASSES), KINECT_V2, has_rgb=False, continuous=True),
                   Splits(trimmed, [], [], ["wave", "kick"], KINECT_V2, has_rgb=False)):
        batches = {}
        for workers in (0, 2):
            config = load_config(None, [f"workers={workers}", "augment.noise=0.05", "optim.batch_size=4"])
            train_set, _, sampler, loader = _stage_data(config, "pose", splits, pose_only(tiny(3)), process)
            for epoch in (0, 1):
                train_set.set_epoch(epoch)
                sampler.set_epoch(epoch)
                batches[workers, epoch] = torch.cat([batch["skeleton"] for batch in loader])
            del loader  # its workers stop
        assert not torch.equal(batches[0, 0], batches[0, 1])
        for epoch in (0, 1):
            assert torch.equal(batches[2, epoch], batches[0, epoch])
