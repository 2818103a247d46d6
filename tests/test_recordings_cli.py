"""python -m recordings: info, convert, list, view, recover."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_recorder import abandon, make_frame
from xef_writer import sample_recording

from recordings.__main__ import _view_window, main
from recordings.clip import open_recording
from recordings.ntu import read_skeleton
from recordings.recorder import Recorder, RecorderConfig

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def xef_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "ward3_fall.xef"
    sample_recording(path, frames=4)
    return path


def test_info_on_an_xef_file(xef_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(xef_file)]) == 0
    out = capsys.readouterr().out
    assert "Kinect Studio recording (plain)" in out
    assert "color" in out and "'Nui Body Frame'" in out
    assert "4 frames (colour stream, 30.0 fps)" in out and "up to 2 at once, 2 tracking ids" in out


def test_info_on_a_damaged_xef_file(
    xef_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damaged = tmp_path / "cut.xef"
    damaged.write_bytes(xef_file.read_bytes()[:-5000])
    assert main(["info", str(damaged)]) == 0
    out = capsys.readouterr().out
    assert "DAMAGED:" in out and "at byte offset" in out


def test_convert_with_a_new_class_starts_the_sites_label_map(
    xef_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # README's `convert clip.xef clips/ --label "patient fell"` into a new folder, as `live --record` does.
    out_dir = tmp_path / "clips"
    argv = ["convert", str(xef_file), str(out_dir), "--label", "patient fell", "--min-free-gb", "0"]
    assert main(argv) == 0
    assert (out_dir / "labels.txt").read_text() == "A121\tpatient fell\n"
    assert (out_dir / "S001C001P001R001A121.skeleton").is_file()
    assert "new class A121 'patient fell'" in capsys.readouterr().out


def test_convert_then_list_and_info(
    xef_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "clips"
    out_dir.mkdir()
    (out_dir / "labels.txt").write_text("A121\tpatient fell\nA122\tpatient leaves bed\n")
    assert (
        main(["convert", str(xef_file), str(out_dir), "--label", "patient fell", "--min-free-gb", "0"]) == 0
    )
    assert (
        main(["convert", str(xef_file), str(out_dir), "--label", "A121", "--no-video", "--min-free-gb", "0"])
        == 0
    )
    assert main(["convert", str(xef_file), str(out_dir), "--min-free-gb", "0"]) == 0  # named after the file
    out = capsys.readouterr().out
    assert "wrote " + str(out_dir / "S001C001P001R001A121.skeleton") in out and "4 frames" in out
    skeleton = read_skeleton(out_dir / "S001C001P001R002A121.skeleton")
    assert skeleton.num_frames == 4 and [b.body_id for b in skeleton.frames[1]] == [72057594037931101, 5]
    assert not (out_dir / "S001C001P001R002A121_rgb.avi").exists()
    with open_recording(out_dir / "S001C001P001R001A121.json") as clip:
        frames = list(clip.frames())
    np.testing.assert_allclose(frames[0].color[540, 100], (0, 0, 255), atol=6)  # red half through MJPG

    assert main(["list", str(out_dir)]) == 0
    out = capsys.readouterr().out
    # 4 frames 33 ms apart last 0.13 s (each its period), as training counts a clip's length: not 0.10
    # When it was recorded (the conversion's time, local) and its room (a conversion names none).
    assert re.search(r"S001C001P001R001A121       4     0\.13  yes    \d{4}-\d\d-\d\d \d\d:\d\d  -     A121 "
                     r"patient fell", out), out
    assert "3 clips" in out and "   2  A121 patient fell" in out and "   1  (unlabelled)" in out

    assert main(["info", str(out_dir / "ward3_fall.json")]) == 0
    out = capsys.readouterr().out
    assert "clip ward3_fall" in out and "4 frames" in out and "recorded from 'xef:ward3_fall.xef'" in out
    assert "CUT SHORT" not in out
    # A copy of the video cut short still counts every frame in its header: info says it is cut.
    video = out_dir / "ward3_fall_rgb.avi"
    video.write_bytes(video.read_bytes()[:-5000])
    assert main(["info", str(out_dir / "ward3_fall.json")]) == 0
    assert "CUT SHORT: 5,000 bytes missing at its end" in capsys.readouterr().out


def test_convert_numbers_generated_names_keeps_numbers_of_other_names_and_refuses_those_it_would_ignore(
    xef_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "clips"
    argv = ["convert", str(xef_file), str(out_dir), "--min-free-gb", "0"]
    assert main([*argv, "--label", "patient fell", "--setup", "2", "--performer", "12"]) == 0
    assert (out_dir / "S002C001P012R001A121.skeleton").is_file()
    # A clip named after its file (or --name) keeps them in its sidecar, for training's hold-out by session
    # and the names recordings export gives its samples; they were refused, as if they would be ignored.
    assert main([*argv, "--name", "room", "--setup", "3", "--camera", "2", "--performer", "7"]) == 0
    sidecar = json.loads((out_dir / "room.json").read_text(encoding="utf-8"))
    assert (sidecar["session"], sidecar["camera"], sidecar["performer"]) == (3, 2, 7)
    assert main([*argv, "--name", "S004C001P001R001A001", "--camera", "3"]) == 2  # the name says C itself
    assert "says its S, C and P itself" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # four digits would make a name nothing reads back
        main([*argv, "--label", "patient fell", "--setup", "1000"])
    assert "must be from 1 to 999, got 1000" in capsys.readouterr().err
    assert sorted(path.name for path in out_dir.glob("*.skeleton")) == ["S002C001P012R001A121.skeleton",
                                                                       "room.skeleton"]


def test_convert_names_a_clip_after_any_file_name_and_refuses_a_windows_device_name(
    xef_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Kinect Studio's files are named as people name things: "Zimmer 4 Sturz.xef" was refused ("must be
    letters, digits, ...", which its letters are), leaving an empty output folder. CON.skeleton would open
    the console on Windows."""
    import shutil

    source = tmp_path / "Übung Zimmer 4.xef"
    shutil.copy(xef_file, source)
    assert main(["convert", str(source), str(tmp_path / "clips"), "--min-free-gb", "0"]) == 0
    assert (tmp_path / "clips" / "Ubung_Zimmer_4.skeleton").is_file()
    assert main(["convert", str(xef_file), str(tmp_path / "more"), "--name", "con", "--min-free-gb", "0"]
                ) == 2
    assert "sample name 'con' is a device on Windows" in capsys.readouterr().err
    assert not (tmp_path / "more").exists()  # refused before anything was made
    shutil.copy(xef_file, tmp_path / "aux.xef")
    assert main(["convert", str(tmp_path / "aux.xef"), str(tmp_path / "clips"), "--min-free-gb", "0"]) == 0
    assert (tmp_path / "clips" / "clip_aux.skeleton").is_file()
    for name in ("転倒.xef", "跌倒.xef"):  # no Latin letter left: two files are still two clips
        shutil.copy(xef_file, tmp_path / name)
        assert main(["convert", str(tmp_path / name), str(tmp_path / "clips"), "--min-free-gb", "0"]) == 0
    assert len(list((tmp_path / "clips").glob("clip_????????.skeleton"))) == 2


def test_list_names_a_damaged_clip_and_lists_the_others(tmp_path: Path, capsys) -> None:
    for name in ("first", "damaged", "third"):
        with Recorder(tmp_path, sample_name=name, config=RecorderConfig(min_free_bytes=1)) as rec:
            rec.write(make_frame(0, 0.0))
    sidecar = tmp_path / "damaged.json"
    sidecar.write_text(sidecar.read_text()[:-40])  # cut short
    assert main(["list", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert "first " in out and "third " in out and "damaged" not in out and "2 clips" in out
    assert "1 damaged clip(s), not listed or counted:" in err and f"{sidecar}: line " in err
    assert "not valid JSON" in err and "(cut short, or edited by hand?)" in err


def test_list_json_is_a_line_per_clip_for_a_script(tmp_path: Path, capsys) -> None:
    """A site's IT lists a shared folder into its dashboard: standard output holds JSON lines alone."""
    (tmp_path / "labels.txt").write_text("A121\tpatient fell\n")
    with Recorder(tmp_path, sample_name="S001C001P001R001A121", config=RecorderConfig(min_free_bytes=1),
                  room="ward-3") as rec:
        for i in range(3):
            rec.write(make_frame(i, i / 30))
        rec.add_interval(1 / 30, 2 / 30, "patient fell")
    with Recorder(tmp_path, sample_name="damaged", config=RecorderConfig(min_free_bytes=1)) as rec:
        rec.write(make_frame(0, 0.0))
    (tmp_path / "damaged.json").write_text("{")
    with Recorder(tmp_path / "older", sample_name="roomless", config=RecorderConfig(min_free_bytes=1)) as rec:
        rec.write(make_frame(0, 0.0))  # recorded before clips said their room: null, not "-"
    assert main(["list", str(tmp_path), "--json"]) == 1  # as without --json: a clip is damaged
    out, err = capsys.readouterr()
    line, roomless = [json.loads(text) for text in out.splitlines()]
    assert roomless["clip"] == "older/roomless" and roomless["room"] is None
    assert line["clip"] == "S001C001P001R001A121" and line["class"] == "(intervals only)"
    assert (line["frames"], line["video"], line["room"]) == (3, True, "ward-3")
    assert line["intervals"] == ["patient fell"]
    assert line["seconds"] == pytest.approx(0.1) and line["started"][:4].isdigit() and not line["background"]
    assert "damaged" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["list", str(empty), "--json"]) == 0
    out, err = capsys.readouterr()
    assert out == "" and "no clips" in err


def test_info_and_list_on_ntu_data(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    skeletons = shared_data / "ntu" / "skeletons"
    assert main(["info", str(skeletons / "S001C001P001R001A050.skeleton")]) == 0
    out = capsys.readouterr().out
    assert "A050 'punching/slapping other person'" in out and "no sidecar: 30 fps assumed" in out
    assert "no video beside it (--video gives a S001C001P001R001A050_rgb.avi kept elsewhere)" in out
    assert main(["list", str(skeletons)]) == 0
    out = capsys.readouterr().out
    assert "10 clips" in out and "   2  A058 handshaking" in out


def test_recover_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rec = Recorder(tmp_path, sample_name="cut", config=RecorderConfig(min_free_bytes=1, sync_interval_s=0.0))
    for i in range(3):
        rec.write(make_frame(i, i / 30))
    abandon(rec)  # without close(), as after a crash
    assert main(["recover", str(tmp_path)]) == 0
    assert "recovered cut.skeleton: 3 frames, video cut_rgb.avi" in capsys.readouterr().out
    assert main(["recover", str(tmp_path)]) == 0
    assert "no interrupted recordings" in capsys.readouterr().out
    # A mistyped folder is not "nothing to recover".
    assert main(["recover", str(tmp_path / "recordigns")]) == 2
    assert "recordigns: not a directory" in capsys.readouterr().err


def test_recover_removes_what_writes_killed_midway_left(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    """A recover killed while writing a clip's skeleton left `.<clip>.skeleton.<pid>-<hex>.partial` (650
    KB, hidden); the next recover finished the clip and left the file for good. One untouched for
    KILLED_WRITE_AFTER_S goes (a write going on now, on this computer or another, is younger)."""
    import os
    import time

    from recordings.atomic import KILLED_WRITE_AFTER_S

    room = tmp_path / "0"
    room.mkdir()
    killed = room / ".live_20261207_235858.skeleton.4500-1feab8fc.partial"
    killed.write_bytes(b"\0" * 650_000)
    writing = room / ".labels.txt.4501-2feab8fc.partial"  # a write going on now
    writing.write_bytes(b"A121")
    not_a_write = room / ".notes.partial"
    not_a_write.write_bytes(b"somebody's")
    a_folder = room / ".live_20261207_235900.skeleton.4500-1feab8fc.partial"  # a folder: no write's file
    a_folder.mkdir()
    old = time.time() - KILLED_WRITE_AFTER_S - 60
    for path in (killed, not_a_write, a_folder):
        os.utime(path, (old, old))
    assert main(["recover", str(tmp_path)]) == 0
    assert ("removed 1 file(s), 0.7 MB, that writes killed midway had left "
            "(.live_20261207_235858.skeleton.4500-1feab8fc.partial)") in capsys.readouterr().out
    assert not killed.exists() and writing.is_file() and not_a_write.is_file() and a_folder.is_dir()


def test_recover_of_another_users_recordings_says_what_it_needs(tmp_path: Path, monkeypatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    # The service's recordings, recovered by a nurse's account: the error alone, "[Errno 13] Permission
    # denied: '.../rgb.avi'". Root opens anything: the recovery's refusal stands in.
    from recordings import __main__ as cli

    rec = Recorder(tmp_path, sample_name="cut", config=RecorderConfig(min_free_bytes=1, sync_interval_s=0.0))
    rec.write(make_frame(0, 0.0))
    abandon(rec)

    def refused(directory):
        raise PermissionError(13, "Permission denied", str(tmp_path / "cut.partial" / "rgb.avi"))

    monkeypatch.setattr(cli, "recover_partial_recordings", refused)
    assert main(["recover", str(tmp_path)]) == 2
    assert (f"error: {tmp_path / 'cut.partial' / 'rgb.avi'}: Permission denied; recover writes each clip "
            "beside its .partial folder and removes the folder; run it as the user that recorded them"
            ) in capsys.readouterr().err


def test_recover_on_a_full_disk_says_so_and_keeps_the_recording(tmp_path: Path, monkeypatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A recording a full disk stopped, recovered on that disk: "error: [Errno 28] No space left on device"
    said neither where nor what to do."""
    import errno

    from recordings import recorder

    rec = Recorder(tmp_path, sample_name="cut", config=RecorderConfig(min_free_bytes=1, sync_interval_s=0.0))
    for i in range(3):
        rec.write(make_frame(i, i / 30))
    abandon(rec)
    replace = recorder.replace_atomically

    def full(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(recorder, "replace_atomically", full)
    assert main(["recover", str(tmp_path)]) == 2
    said = capsys.readouterr().err
    assert f"error: {tmp_path / 'cut.skeleton'}: no space left on its disk (" in said
    assert "free some space and recover again; the .partial folders are kept for that" in said
    assert (tmp_path / "cut.partial").is_dir()
    monkeypatch.setattr(recorder, "replace_atomically", replace)  # room again: recovered whole
    assert main(["recover", str(tmp_path)]) == 0
    assert "recovered cut.skeleton: 3 frames" in capsys.readouterr().out


def test_info_and_list_give_a_clip_one_duration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A night's clip (15 fps): info said 40.07 s (first to last frame), list 40.13 s (to the end of the
    last frame, as `label --to end` counts it)."""
    with Recorder(tmp_path, sample_name="night", config=RecorderConfig(min_free_bytes=1)) as rec:
        for i in range(31):
            rec.write(make_frame(i % 20, i / 15))
    assert main(["info", str(rec.files.skeleton)]) == 0
    assert "duration 2.07 s, 31 frames, 15.0 fps" in capsys.readouterr().out
    assert main(["list", str(tmp_path)]) == 0
    assert "night      31     2.07" in capsys.readouterr().out


def test_view_renders_to_pngs_and_video(xef_file: Path, tmp_path: Path) -> None:
    assert main(["view", str(xef_file), "--out", str(tmp_path / "png"), "--width", "480"]) == 0
    pngs = sorted((tmp_path / "png").glob("*.png"))
    assert len(pngs) == 4
    image = cv2.imread(str(pngs[1]))
    assert image.shape == (270, 480, 3)
    # The skeleton is drawn: body colours appear over the red / blue halves.
    assert ((image[:, :, 1] > 150) & (image[:, :, 2] > 150)).sum() > 50
    assert (
        main(["view", str(xef_file), "--out", str(tmp_path / "v.avi"), "--max-frames", "2", "--no-color"])
        == 0
    )
    capture = cv2.VideoCapture(str(tmp_path / "v.avi"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 2


def test_view_out_avi_is_written_by_the_recorders_writer_to_any_path(xef_file: Path, tmp_path: Path,
                                                                    monkeypatch, capsys) -> None:
    # OpenCV's writer on Windows writes only paths in the system's code page (or under a garbled name).
    from recordings.ntu_video import RgbVideo

    monkeypatch.setattr(cv2, "VideoWriter", lambda *args: pytest.fail("OpenCV's writer was used"))
    out = tmp_path / "Ausgabe ü" / "fall.avi"
    assert main(["view", str(xef_file), "--out", str(out), "--max-frames", "3", "--width", "320"]) == 0
    with RgbVideo(out) as video:
        assert (len(video), video.width, video.height) == (3, 320, 180)
    # At AVI 1.0's 4 GiB (here made smaller) it stops, said, with what was written playable.
    from recordings import __main__ as cli

    frame_bytes = (out.stat().st_size - 300) / 3  # about: the header and index are about 300 bytes
    monkeypatch.setattr(cli, "MAX_AVI_BYTES", 4 * 1024**2 + 224 + int(1.5 * frame_bytes))
    assert main(["view", str(xef_file), "--out", str(out), "--width", "320", "--overwrite"]) == 2
    assert "an AVI holds at most 4 GiB, reached after " in capsys.readouterr().err
    with RgbVideo(out) as video:
        assert 0 < len(video) < 4 and len(list(video)) == len(video)


def test_view_out_into_a_folder_that_cannot_be_written_says_so(xef_file: Path, tmp_path: Path, monkeypatch,
                                                                capsys) -> None:
    # "OpenCV cannot write this video", for a folder of another account's. Root writes anywhere: a folder
    # that refuses stands in.
    from recordings import __main__ as cli

    monkeypatch.setattr(cli, "why_not_writable", lambda folder: f"{folder}: Permission denied")
    for out in (tmp_path / "v.mp4", tmp_path / "frames"):
        assert main(["view", str(xef_file), "--out", str(out), "--max-frames", "2"]) == 2
        assert f"{out}: cannot be written ({out.parent if out.suffix else out}: Permission denied)" in (
            capsys.readouterr().err)
    assert not (tmp_path / "v.mp4").exists() and not (tmp_path / "frames").exists()


def test_view_out_never_renders_into_the_recordings_own_video_nor_over_an_earlier_render(
    xef_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`view CLIP.skeleton --out CLIP_rgb.avi` rendered into the video it was reading: the take was gone.
    An earlier render was replaced without a word, and one of fewer frames left a mixture of the two."""
    assert main(["convert", str(xef_file), str(tmp_path / "clips"), "--min-free-gb", "0"]) == 0
    skeleton, video = tmp_path / "clips" / "ward3_fall.skeleton", tmp_path / "clips" / "ward3_fall_rgb.avi"
    recorded = video.read_bytes()
    for extra in ([], ["--overwrite"]):
        assert main(["view", str(skeleton), "--out", str(video), *extra]) == 2
        assert f"{video}: is the recording's own video; render to another name" in capsys.readouterr().err
        assert video.read_bytes() == recorded
    other = tmp_path / "clips" / "S001C001P001R001A121_rgb.avi"  # another clip's
    assert main(["convert", str(xef_file), str(other.parent), "--name", "S001C001P001R001A121",
                 "--min-free-gb", "0"]) == 0
    others = other.read_bytes()
    assert main(["view", str(skeleton), "--out", str(other), "--overwrite"]) == 2
    assert f"{other}: is a clip's video by its name (_rgb.avi)" in capsys.readouterr().err
    linked = tmp_path / "render.avi"  # a link to it, made for a report: replaced, not written through
    linked.symlink_to(other)
    assert main(["view", str(skeleton), "--out", str(linked), "--overwrite"]) == 2
    assert f"{linked}: is a link to {other.name}, a clip's video by its name" in capsys.readouterr().err
    dangling = tmp_path / "render3.avi"  # a link to a clip's video not there yet: it was made through it
    dangling.symlink_to(tmp_path / "clips" / "S001C001P001R002A121_rgb.avi")
    assert main(["view", str(skeleton), "--out", str(dangling)]) == 2
    assert not (tmp_path / "clips" / "S001C001P001R002A121_rgb.avi").exists()
    os.link(other, linked.with_name("render2.avi"))  # a hard link: replaced as a file of its own
    assert main(["view", str(skeleton), "--out", str(linked.with_name("render2.avi")), "--overwrite"]) == 0
    assert other.read_bytes() == others
    report = tmp_path / "report.avi"  # a render of one's own, and a link to it from elsewhere
    assert main(["view", str(skeleton), "--out", str(report), "--max-frames", "2"]) == 0
    (tmp_path / "shared.avi").symlink_to(report)
    kept = report.read_bytes()
    assert main(["view", str(skeleton), "--out", str(tmp_path / "shared.avi"), "--overwrite"]) == 0
    assert report.read_bytes() == kept and not (tmp_path / "shared.avi").is_symlink()
    assert not list(tmp_path.glob(".*.partial.*"))  # each video written beside its name, then moved

    # Stopped midway (Ctrl-C): an earlier render stays whole; a new name keeps the frames written.
    from recordings.__main__ import write_images
    from recordings.avi import RecordedAvi

    def three_then_stop():
        for i in range(3):
            yield i, np.full((48, 64, 3), 60 * i, np.uint8)
        raise KeyboardInterrupt

    for name, said in (("report.avi", "the earlier render is kept; this one stopped after 3 frame(s)"),
                       ("new.avi", "the render is incomplete, 3 frame(s) written")):
        before = (tmp_path / name).read_bytes() if (tmp_path / name).exists() else None
        with pytest.raises(KeyboardInterrupt, match=re.escape(f"{tmp_path / name}: {said}")):
            write_images(three_then_stop(), tmp_path / name, 30.0)
        if before is not None:
            assert (tmp_path / name).read_bytes() == before
        else:
            assert len(RecordedAvi(tmp_path / name)) == 3
    assert not list(tmp_path.glob(".*.partial.*"))

    def stop_at_once():
        raise KeyboardInterrupt
        yield

    for name, said in (("report.avi", "the earlier render is kept; this one stopped after 0 frame(s)"),
                       ("none.avi", "nothing written"), ("frames", "nothing written")):
        with pytest.raises(KeyboardInterrupt, match=re.escape(f"{tmp_path / name}: {said}")):
            write_images(stop_at_once(), tmp_path / name, 30.0)
    assert not (tmp_path / "none.avi").exists()
    # Closing it failing (a full disk): the error, and no hidden partial file left behind.
    import recordings.__main__ as cli

    def disk_full(path, *args, **kwargs):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(cli, "finalize_avi", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_images(iter([(0, np.zeros((48, 64, 3), np.uint8))]), tmp_path / "full.avi", 30.0)
    assert not list(tmp_path.glob(".*.partial.*")) and not (tmp_path / "full.avi").exists()
    elsewhere = tmp_path / "videos" / "fall.avi"  # the clip's video kept apart, given by --video
    elsewhere.parent.mkdir()
    video.rename(elsewhere)
    assert main(["view", str(skeleton), "--video", str(elsewhere), "--out", str(elsewhere)]) == 2
    assert elsewhere.read_bytes() == recorded
    renders = [(tmp_path / "mp4" / "r.mp4", ["r.mp4"]),
               (tmp_path / "pngs", [f"frame_{i:06d}.png" for i in range(4)]),
               (tmp_path / "jpgs" / "fall.jpg", [f"fall_{i:06d}.jpg" for i in range(4)])]
    for out, earlier in renders:
        folder = out if not out.suffix else out.parent
        assert main(["view", str(xef_file), "--out", str(out)]) == 0
        made = {p.name: p.read_bytes() for p in folder.iterdir()}
        assert sorted(made) == earlier
        capsys.readouterr()
        assert main(["view", str(xef_file), "--out", str(out), "--max-frames", "2", "--no-color"]) == 2
        assert "--overwrite replaces" in capsys.readouterr().err
        assert {p.name: p.read_bytes() for p in folder.iterdir()} == made
        (folder / f"{out.stem if out.suffix else 'frame'}_2024-holiday.png").write_bytes(b"not a render")
        assert main(["view", str(xef_file), "--out", str(out), "--max-frames", "2", "--no-color",
                     "--overwrite"]) == 0
        replaced = sorted(p.name for p in folder.iterdir() if "holiday" not in p.name)
        assert replaced == earlier[:2] if len(earlier) > 1 else replaced == earlier
        assert all(made[name] != (folder / name).read_bytes() for name in replaced)
        assert len(list(folder.glob("*holiday*"))) == 1  # a file of the user's, only named alike


def test_view_out_of_a_recording_without_frames_says_nothing_was_written(tmp_path: Path, capsys) -> None:
    """It said 'wrote 0 frames to v.avi', exit 0, and there was no v.avi."""
    empty = tmp_path / "S001C001P001R001A001.skeleton"
    empty.write_text("0\r\n")
    assert main(["view", str(empty), "--out", str(tmp_path / "v.avi")]) == 2
    assert f"{empty}: no frames to render; nothing written to" in capsys.readouterr().err


def test_view_out_with_an_image_name_writes_numbered_images(
    xef_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for suffix in (".png", ".jpg"):
        out = tmp_path / suffix[1:] / f"fall{suffix}"
        assert main(["view", str(xef_file), "--out", str(out), "--width", "320"]) == 0
        assert f"wrote 4 frames to {out.parent / ('fall_NNNNNN' + suffix)}" in capsys.readouterr().out
        written = sorted(out.parent.iterdir())
        assert [p.name for p in written] == [f"fall_{i:06d}{suffix}" for i in range(4)]
        assert cv2.imread(str(written[2])).shape == (180, 320, 3)


def test_view_out_with_another_suffix_is_refused_in_one_line(
    xef_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "fall.gif"
    assert main(["view", str(xef_file), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and str(out) in error and ".avi" in error and ".png" in error
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "notes.txt").write_text("")  # a file where a folder of the path should be
    assert main(["view", str(xef_file), "--out", str(tmp_path / "notes.txt" / "fall.mp4")]) == 2
    assert f"fall.mp4: cannot be written ({tmp_path / 'notes.txt'} is a file, not a folder)" in (
        capsys.readouterr().err)


def test_view_without_a_display_says_so_instead_of_letting_qt_abort(
    xef_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("the display variables are Linux's")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    assert main(["view", str(xef_file)]) == 2
    assert "no display to open the window on" in capsys.readouterr().err
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")  # a window nobody would see, playing until killed
    assert main(["view", str(xef_file)]) == 2
    assert "QT_QPA_PLATFORM=offscreen shows no window: write the frames with --out" in capsys.readouterr().err


@pytest.mark.parametrize(("option", "message"), [
    (["--width", "0"], "--width: must be from 16 to 7680"),
    (["--width", "1000000"], "--width: must be from 16 to 7680"),  # OpenCV tried to allocate 1.6 TB
    (["--fps", "-2"], "--fps: must be positive"),
    (["--max-frames", "-1"], "--max-frames: must be at least 1"),
])
def test_view_out_numbers_out_of_range_are_refused_before_anything_is_written(
    xef_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], option: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["view", str(xef_file), "--out", str(tmp_path / "fall.avi"), *option])
    assert stop.value.code == 2 and message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_view_out_counts_only_the_frames_really_written(
    xef_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "fall_000002.png").mkdir()  # a folder where frame 2's image should go: writing fails
    assert main(["view", str(xef_file), "--out", str(tmp_path / "fall.png")]) == 2
    captured = capsys.readouterr()
    assert "wrote" not in captured.out
    assert "Is a directory: " in captured.err
    assert "fall_000002.png' (2 frames written before it)" in captured.err


def test_3d_view_of_a_clip_does_not_decode_its_video(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from recordings import view3d  # importable without open3d (only a renderer needs it)

    with Recorder(tmp_path, sample_name="clip", config=RecorderConfig(min_free_bytes=0)) as recorder:
        for i in range(3):
            recorder.write(make_frame(i, i / 30))
    assert (tmp_path / "clip_rgb.avi").is_file()
    seen = []

    def render_images(recording, frames, config):  # what the renderer is handed; no open3d needed
        for frame in frames:
            seen.append((recording.video, frame.color))
            yield frame.index, np.zeros((9, 16, 3), np.uint8)

    monkeypatch.setattr(view3d, "render_images", render_images)
    assert main(["view", str(tmp_path / "clip.skeleton"), "--3d", "--out", str(tmp_path / "png")]) == 0
    assert seen == [(None, None)] * 3


def test_view_window_offscreen(xef_file: Path, qtbot: object) -> None:
    from PySide6 import QtCore, QtWidgets

    with open_recording(xef_file, color=False) as recording:
        assert _view_window(recording.frames(), 200.0, "test", close_at_end=True) == 4
    # The window closed itself (the last one: Qt posted a Quit) and quit (a Quit sent): the posted one was
    # left queued, and once delivered every later event loop in the process returned at once - the next
    # window's waits (tests/test_live_overlay.py, run after this) timed out with events never processed.
    QtWidgets.QApplication.processEvents()
    loop = QtCore.QEventLoop()
    QtCore.QTimer.singleShot(20, loop.quit)
    assert loop.exec() == 0  # -1: ended before it ran


def test_a_xef_is_played_without_marking_keys_and_says_how_to_mark_it(
    xef_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    # s and e did nothing on a .xef, without a word: marks are saved with a clip, which convert makes.
    import recordings.__main__ as cli

    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(cli, "why_no_display", lambda: None)
    played = []
    monkeypatch.setattr(cli, "_view_window", lambda frames, fps, title: played.append(title))
    assert main(["view", str(xef_file)]) == 0
    assert played == [f"{xef_file.name} - recordings view"]
    assert (f"played without the marking keys (marks are saved with a clip): python -m recordings convert "
            f"{xef_file} OUT makes a clip of it to mark") in capsys.readouterr().err


def test_3d_view_without_open3d_says_how_to_install(
    xef_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "open3d", None)  # importing it now fails, as where it is absent
    with pytest.raises(SystemExit, match=r'needs open3d: python -m pip install -e ".*\[viz3d\]"'):
        main(["view", str(xef_file), "--3d", "--out", str(tmp_path / "png")])


def test_3d_view_with_open3d_missing_a_system_library_names_the_package(
    xef_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    real_import = builtins.__import__

    def import_without_libusb(name: str, *args, **kwargs):
        if name == "open3d":  # what open3d raises where libusb-1.0 is absent
            raise ImportError("libusb-1.0.so.0: cannot open shared object file: No such file or directory")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", import_without_libusb)
    cannot_load = r"open3d is installed but cannot load \(libusb-1\.0\.so\.0: .*\): on Debian or Ubuntu, "
    with pytest.raises(SystemExit, match=cannot_load + r"apt-get install libusb-1\.0-0") as raised:
        main(["view", str(xef_file), "--3d", "--out", str(tmp_path / "png")])
    assert "pip install" not in str(raised.value)


def test_a_class_the_console_cannot_show_is_escaped_not_a_crash(tmp_path: Path, monkeypatch) -> None:
    """A class named 跌倒 on a Windows cp1252 console (or output piped to a file there): `list` printed its
    header, then "'charmap' codec can't encode", exit 2. And a locale that is not UTF-8, with Python's UTF-8
    mode off, hands a folder named with an é over as surrogates, which crashed OpenCV: said, before."""
    from recordings.argument_types import prepare_console

    with Recorder(tmp_path, sample_name="fall", config=RecorderConfig(min_free_bytes=1)) as rec:
        rec.write(make_frame(0, 0.0))
    assert main(["label", str(tmp_path / "fall.skeleton"), "--class", "跌倒"]) == 0
    done = subprocess.run([sys.executable, "-m", "recordings", "list", str(tmp_path)], cwd=REPO,
                          capture_output=True, timeout=60, env={**os.environ, "PYTHONIOENCODING": "cp1252"})
    assert done.returncode == 0, done.stderr
    assert b"A121 \\u8dcc\\u5012" in done.stdout
    assert prepare_console("python -m recordings", ["info", "/data/Aufnahmen Station 4/é"]) is None
    # Under a UTF-8 locale the same advice could not help: the name itself is in another encoding.
    why = prepare_console("python -m recordings", ["info", os.fsdecode(b"/data/clips_\xe9")])
    assert why == ("python -m recordings: '/data/clips_\\xe9' is not UTF-8 (a name in another encoding, "
                   "Latin-1 say): rename it (convmv -f latin1 -t utf8 --notest NAME) or reach it through a "
                   "link with a UTF-8 name")
    monkeypatch.setattr(sys, "getfilesystemencoding", lambda: "ascii")  # LANG=C with UTF-8 mode off
    why = prepare_console("python -m recordings", ["info", "/data/clips \udcc3\udca9"])
    assert why is not None and "UTF-8 locale (LANG=C.UTF-8) or with PYTHONUTF8=1" in why


def test_errors_exit_2_with_the_offset(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xef"
    bad.write_bytes(b"EVENTS2\0" + bytes(30))
    done = subprocess.run(
        [sys.executable, "-m", "recordings", "info", str(bad)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == f"error: {bad}: at byte offset 0: expected the signature b'EVENTS1\\x00', found "
        "b'EVENTS2\\x00'"
    )
    missing = json.dumps({"format": "nope"})
    (tmp_path / "x.skeleton").write_text("1\n0\n")
    (tmp_path / "x.json").write_text(missing)
    assert main(["info", str(tmp_path / "x.skeleton")]) == 2


@pytest.mark.parametrize(("argv", "message"), [
    (["--out", "BLOCKED/clips"], "is a file, not a folder"),
    (["--out", ""], "--out: empty"),  # it wrote 32 files into the current folder
    (["--jpeg-quality", "500"], "--jpeg-quality: must be from 1 to 100"),
    (["--low-light", "nan"], "--low-light: expected a finite number"),
    (["--low-light", "2"], "--low-light: must be from 0 to 1"),
])
def test_synth_refuses_what_it_cannot_make_in_one_line_before_writing(tmp_path, capsys, argv, message):
    blocked = tmp_path / "a file"
    blocked.write_text("")
    argv = [a.replace("BLOCKED", str(blocked)) for a in argv]
    out = ["--out", str(tmp_path / "clips")] if "--out" not in argv else []
    with pytest.raises(SystemExit) as stop:
        main(["synth", *out, "--clips-per-class", "1", "--seed", "1", *argv])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and message in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a file"]


def test_convert_refuses_a_source_that_does_not_exist_and_an_output_under_a_file(tmp_path, capsys):
    assert main(["convert", str(tmp_path / "room.xef"), str(tmp_path / "out")]) == 2
    assert f"error: {tmp_path / 'room.xef'}: no such file" in capsys.readouterr().err
    (tmp_path / "notes").write_text("")
    with pytest.raises(SystemExit) as stop:
        main(["convert", str(tmp_path / "room.xef"), str(tmp_path / "notes" / "out")])
    assert stop.value.code == 2 and "is a file, not a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["convert", str(tmp_path / "room.xef"), str(tmp_path), "--min-free-gb", "nan"])
    assert "--min-free-gb: expected a finite number" in capsys.readouterr().err


def test_list_names_a_clip_whose_frame_count_its_size_cannot_hold(tmp_path, capsys):
    """A header of 999999999999 frames in a 1 kB file was listed as 33333333333 s of clip and summed into
    the folder's total."""
    (tmp_path / "S001C001P001R001A001.skeleton").write_text("999999999999\n" + "0\n" * 500)
    (tmp_path / "S001C001P001R001A002.skeleton").write_text("2\n0\n0\n")
    assert main(["list", str(tmp_path)]) == 1
    said = capsys.readouterr()
    assert "a frame count of 999999999999 cannot be right for a file of 1013 bytes" in said.err
    assert "S001C001P001R001A002" in said.out and "33333333333" not in said.out


def test_convert_says_what_it_takes_when_given_an_ntu_skeleton(tmp_path, capsys):
    clip = tmp_path / "S001C001P001R001A001.skeleton"
    clip.write_text("1\n0\n")
    assert main(["convert", str(clip), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "convert takes a Kinect Studio .xef file or a PKU-MMD sequence" in err
    assert "the NTU layout already" in err and not (tmp_path / "out").exists()


def test_the_commands_take_the_names_the_others_use_for_the_same_thing(tmp_path: Path, capsys) -> None:
    """The same idea under another command's name: `prepare --labels` (live's and recordings' name for the
    label map) was refused, `prepare --data` was taken for --dataset ("invalid choice"), `recordings label
    --label` for --labels ("no such file"), `training export --out` worked only as a prefix of --output;
    and `recordings synth` printed the whole usage for a mistyped option."""
    from recordings import synthetic
    from recordings.__main__ import build_parser
    from training.__main__ import build_parser as training_parser

    args = training_parser().parse_args(["prepare", "--dataset", "clips", "--data", str(tmp_path), "--out",
                                         str(tmp_path / "cache"), "--labels", "site.txt"])
    assert (args.root, args.label_map) == (str(tmp_path), "site.txt")
    args = training_parser().parse_args(["export", "training/checkpoints/demo.pt", "--out",
                                         str(tmp_path / "demo.onnx")])
    assert args.output == tmp_path / "demo.onnx"
    args = build_parser().parse_args(["label", "clip.skeleton", "--label", "patient fell"])
    assert args.class_names == ["patient fell"]
    with pytest.raises(SystemExit):
        synthetic.build_parser().parse_args(["--out", str(tmp_path), "--bogus"])
    err = capsys.readouterr().err
    assert "(python -m recordings synth --help lists the options)" in err and "usage:" not in err
