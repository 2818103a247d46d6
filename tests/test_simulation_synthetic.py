from __future__ import annotations

import json

import numpy as np
import pytest

from recordings.clip import open_recording, read_sidecar
from recordings.labels import read_label_map
from recordings.ntu import read_skeleton
from recordings.ntu_samples import SampleName
from recordings.ntu_video import RgbVideo
from recordings.synthetic import sample_name, simulated_label_map, write_synthetic_dataset
from simulation import CLASSES, SimulationConfig, generate_clip


def test_generated_clips_read_back_through_recordings_like_recorded_ones(tmp_path) -> None:
    paths = write_synthetic_dataset(tmp_path, 1, seed=3, classes=[0, 9], progress=None)
    assert [p.name for p in paths] == ["S004C001P001R001A121.skeleton", "S004C001P001R001A130.skeleton"]
    labels = read_label_map(tmp_path / "labels.txt", site=False)
    assert (
        labels == simulated_label_map() and labels.name(121) == "drink_left" and len(labels) == len(CLASSES)
    )

    clip = generate_clip(9, np.random.default_rng([3, 9, 0]))  # what the writer made for clip 0 of class 9
    skeleton = read_skeleton(paths[1])
    arrays = skeleton.arrays(max_bodies=2)
    present = clip.present[:, 0]
    assert skeleton.num_frames == clip.num_frames
    np.testing.assert_allclose(arrays.xyz[present, 0], clip.joints[present, 0], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(arrays.states[present, 0], clip.states[present, 0])
    np.testing.assert_allclose(arrays.color[present, 0], clip.joints_color[present, 0], atol=1e-3)
    assert (arrays.xyz[:, 1] == 0).all()  # one person: the second slot stays empty
    assert int(arrays.body_ids[0]) == int(clip.body_ids[0])

    sidecar = read_sidecar(paths[1].with_suffix(".json"))
    np.testing.assert_allclose(sidecar.timestamps, clip.timestamps, atol=1e-6)
    assert sidecar.camera == clip.camera and sidecar.label == "kick" and sidecar.action_id == 130
    # Where the kick happens, so that the idle time around it can train as no_action.
    assert sidecar.timeline is not None and list(sidecar.timeline.intervals) == [clip.action_interval]
    assert 0 < clip.action_interval.start < clip.action_interval.end < clip.timestamps[-1]
    with RgbVideo(tmp_path / f"{sample_name(9, 0, 3)}_rgb.avi") as video:
        assert (len(video), video.width, video.height) == (clip.num_frames, 640, 360)
        first = next(iter(video))
    assert np.abs(first.astype(int) - clip.frames[0].astype(int)).mean() < 4  # JPEG at quality 90

    with open_recording(paths[0]) as recording:
        frames = list(recording.frames())
    assert recording.info.label == "drink_left" and recording.info.color_size == (640, 360)
    assert len(frames) == read_skeleton(paths[0]).num_frames and frames[0].color.shape == (360, 640, 3)

    manifest = json.loads((tmp_path / "simulation.json").read_text())
    assert manifest["seed"] == 3 and [c["name"] for c in manifest["clips"]] == [p.stem for p in paths]
    assert {row["name"]: row["focus"] for row in manifest["class_table"]}["drink_left"] == "left_hand"
    assert SampleName.parse(paths[0].name).action == 121


def test_a_second_run_keeps_finished_clips_and_refuses_another_seed(tmp_path) -> None:
    write_synthetic_dataset(tmp_path, 1, seed=5, classes=[4], progress=None)
    skeleton = tmp_path / "S006C001P001R001A125.skeleton"
    stamp = skeleton.stat().st_mtime_ns
    messages: list[str] = []
    paths = write_synthetic_dataset(tmp_path, 2, seed=5, classes=[4], progress=messages.append)
    assert [p.name for p in paths] == ["S006C001P001R001A125.skeleton", "S006C001P002R001A125.skeleton"]
    assert skeleton.stat().st_mtime_ns == stamp and "1 of 2 clips already there" in messages[0]
    with pytest.raises(ValueError, match="another seed or generator config"):
        write_synthetic_dataset(tmp_path, 1, seed=6, classes=[4], progress=None)
    with pytest.raises(ValueError, match="another seed or generator config"):
        write_synthetic_dataset(
            tmp_path, 1, seed=5, config=SimulationConfig(fps=15.0), classes=[4], progress=None
        )
    with pytest.raises(ValueError, match="clips_per_class"):
        write_synthetic_dataset(tmp_path, 0, seed=5)


def test_a_clip_an_interrupted_run_left_unlisted_is_made_again(tmp_path) -> None:
    # Ctrl-C finalises the clip being made (short) before the manifest lists it, a kill leaves its
    # .partial folder: the next run with the same arguments must make it again, not stop on it.
    from recordings.recorder import PARTIAL_SUFFIX

    write_synthetic_dataset(tmp_path, 1, seed=5, classes=[4], progress=None)
    name = sample_name(4, 1, 5)
    (tmp_path / f"{name}.skeleton").write_text("3\n")  # a short clip, finalised by the interruption
    (tmp_path / f"{name}.json").write_text("{}")
    (tmp_path / f"{name}{PARTIAL_SUFFIX}").mkdir()
    paths = write_synthetic_dataset(tmp_path, 2, seed=5, classes=[4], progress=None)
    assert [p.name for p in paths] == ["S006C001P001R001A125.skeleton", f"{name}.skeleton"]
    assert not (tmp_path / f"{name}{PARTIAL_SUFFIX}").exists()
    assert read_skeleton(tmp_path / f"{name}.skeleton").num_frames > 3


def test_synth_with_no_clips_is_one_clear_line(tmp_path, capsys) -> None:
    from recordings.synthetic import main

    with pytest.raises(SystemExit) as stop:  # refused as the option is read, before anything is made
        main(["--out", str(tmp_path / "sim"), "--clips-per-class", "0"])
    assert stop.value.code == 2 and "--clips-per-class: must be at least 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "sim").exists()
