"""`python -m recordings erase` (recordings/erase.py): a patient's erasure request -- what a room recorded
on a day, found by the clips' sidecars and erased, and what lies beyond its reach said."""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import time
from pathlib import Path

import pytest
from test_recorder import make_frame

from recordings.__main__ import main
from recordings.recorder import PARTIAL_SUFFIX, Recorder, RecorderConfig, _hold_partial


def _record(folder: Path, room: str, started_at: str | None, frames: int = 20,
            duration_s: float | None = None) -> Path:
    """A clip of `room` begun at `started_at` (ISO, with its offset; None: as recorded; a UTC one as an
    earlier version wrote it, without the "time_zone" that says it is the room's), lasting `duration_s`
    (None: as recorded); its skeleton."""
    from recordings.labels import ensure_label

    labels = ensure_label(folder / "labels.txt", "drink")[0]
    config = RecorderConfig(min_free_bytes=1)
    with Recorder(folder, label="drink", label_map=labels, config=config, room=room) as recorder:
        for i in range(frames):
            recorder.write(make_frame(i % 20, i / 10))
    sidecar = recorder.files.sidecar
    raw = json.loads(sidecar.read_text())
    if started_at is not None:
        raw["started_at"] = started_at
        if started_at.endswith("+00:00"):
            del raw["time_zone"]
    if duration_s is not None:
        raw["duration_s"] = duration_s
    sidecar.write_text(json.dumps(raw))
    return recorder.files.skeleton


def _refuse_to_remove(monkeypatch, refused: Path) -> None:
    """`refused` cannot be removed (another account's, a read-only share): Path.unlink says so for it."""
    unlink = Path.unlink

    def unlink_but(path, *args, **kwargs):
        if path == refused:
            raise PermissionError(13, "Permission denied")
        return unlink(path, *args, **kwargs)

    monkeypatch.setattr(Path, "unlink", unlink_but)


def test_a_room_s_clips_of_a_day_are_found_and_erased_and_what_is_beyond_reach_said(tmp_path, capsys,
                                                                                  berlin_time):
    """Bed 12's clips of 3 December in a folder it shares with bed 11: the tools could not tell them
    apart (no room or date in `list`) and had no way to delete one clip's files together. The day is the
    hospital's: 23:30 UTC on the 2nd is the 3rd in Berlin."""
    clips = tmp_path / "clips"
    bed12 = [_record(clips, "bed 12", "2026-12-02T23:30:00+00:00"),
             _record(clips, "bed 12", "2026-12-03T09:00:00+01:00")]
    other_day = _record(clips, "bed 12", "2026-12-04T09:00:00+01:00")
    bed11 = _record(clips, "bed 11", "2026-12-03T09:00:00+01:00")
    assert main(["export", str(clips), str(tmp_path / "export")]) == 0
    capsys.readouterr()
    # An interrupted recording of bed 12 that day (its partial folder), and one of bed 11.
    partial = clips / f"S009C001P001R001A121{PARTIAL_SUFFIX}"
    partial.mkdir()
    header = {"room": "bed 12", "started_at": "2026-12-03T10:00:00+01:00"}
    (partial / "frames.jsonl").write_text(json.dumps(header) + "\n")
    shutil.copytree(partial, clips / f"S010C001P001R001A121{PARTIAL_SUFFIX}")
    (clips / f"S010C001P001R001A121{PARTIAL_SUFFIX}" / "frames.jsonl").write_text(
        json.dumps({"room": "bed 11", "started_at": "2026-12-03T10:00:00+01:00"}) + "\n")

    # Said first, nothing erased.
    assert main(["erase", str(tmp_path), "--room", "bed 12", "--day", "2026-12-03"]) == 0
    said = capsys.readouterr().out
    assert all(skeleton.is_file() for skeleton in bed12) and partial.is_dir()
    assert "2 clip(s) and 1 interrupted recording(s) of room 'bed 12' recorded on 2026-12-03: nothing" in said

    assert main(["erase", str(tmp_path), "--room", "bed 12", "--day", "2026-12-03", "--yes"]) == 0
    said = capsys.readouterr().out
    assert not any(path.exists() for skeleton in bed12
                   for path in (skeleton, skeleton.with_suffix(".json"), skeleton.with_name(
                       skeleton.name.replace(".skeleton", "_rgb.avi"))))
    assert not partial.exists()
    assert other_day.is_file() and bed11.is_file()
    assert (clips / f"S010C001P001R001A121{PARTIAL_SUFFIX}").is_dir()  # bed 11's
    assert ("erased 2 clip(s) and 1 interrupted recording(s) of room 'bed 12' recorded on 2026-12-03: 7"
            in said)
    names = ", ".join(skeleton.name[: -len(".skeleton")] for skeleton in bed12)
    assert f"{tmp_path / 'export'}: an export holds 2 sample(s) cut from them ({names}): not erased" in said
    assert "not reached by this command: training runs' crop caches" in said
    assert main(["list", str(clips)]) == 0  # the folder is whole: its other clips listed as before
    listed = capsys.readouterr().out
    assert "2 clips" in listed
    # Each with when and where it was recorded (local time), as an erasure request names them.
    row = next(line for line in listed.splitlines() if line.startswith(bed11.name[: -len(".skeleton")]))
    assert "2026-12-03 09:00  bed 11 " in row


def test_a_clip_s_day_is_the_room_s_with_its_time_past_midnight(tmp_path, capsys, berlin_time, monkeypatch):
    """Recorded in Berlin, erased from a machine in UTC: a UTC stamp made 00:30 on 10 June the 9th there,
    and a clip begun at 23:55 was found only for the day it began, though most of it is the next."""
    clips = tmp_path / "clips"
    recorded_here = _record(clips, "bed 12", None)  # the recorder's own stamp: Berlin's time, its offset
    sidecar = json.loads(recorded_here.with_suffix(".json").read_text())
    stamp = _dt.datetime.fromisoformat(sidecar["started_at"])
    assert stamp.utcoffset() == _dt.datetime.now().astimezone().utcoffset() != _dt.timedelta(0)
    assert sidecar["time_zone"] in ("CET", "CEST")  # named: a room on UTC's +00:00 is its own time too
    shutil.rmtree(clips)
    after_midnight = _record(clips, "bed 12", "2026-06-10T00:30:00+02:00")
    into_the_day = _record(clips, "bed 12", "2026-06-09T23:55:00+02:00", duration_s=600.0)
    interrupted = clips / f"S009C001P001R001A121{PARTIAL_SUFFIX}"
    interrupted.mkdir()
    frames = interrupted / "frames.jsonl"
    frames.write_text(json.dumps({"room": "bed 12", "started_at": "2026-06-09T23:58:00+02:00",
                                  "time_zone": "CEST"}) + "\n")
    last_frame = _dt.datetime.fromisoformat("2026-06-10T00:03:00+02:00").timestamp()
    os.utime(frames, (last_frame, last_frame))
    monkeypatch.setenv("TZ", "UTC")  # the erasing machine's
    time.tzset()
    capsys.readouterr()

    assert main(["erase", str(clips), "--room", "bed 12", "--day", "2026-06-10"]) == 0
    said = capsys.readouterr().out
    assert "2 clip(s) and 1 interrupted recording(s) of room 'bed 12' recorded on 2026-06-10" in said
    assert str(after_midnight.with_suffix("")) in said and str(into_the_day.with_suffix("")) in said
    assert main(["erase", str(clips), "--room", "bed 12", "--day", "2026-06-09"]) == 0
    said = capsys.readouterr().out
    assert "1 clip(s) and 1 interrupted recording(s) of room 'bed 12' recorded on 2026-06-09" in said
    assert str(into_the_day.with_suffix("")) in said
    assert main(["list", str(clips)]) == 0
    assert "2026-06-10 00:30  bed 12 " in capsys.readouterr().out  # the room's time, not 22:30 UTC


def test_a_recording_being_written_is_left_and_said_in_the_exit_status(tmp_path, capsys):
    clips = tmp_path / "clips"
    kept = _record(clips, "bed 12", "2026-12-03T09:00:00+01:00")
    running = clips / f"S009C001P001R001A121{PARTIAL_SUFFIX}"
    running.mkdir()
    (running / "frames.jsonl").write_text(json.dumps({"room": "bed 12"}) + "\n")
    held = _hold_partial(running, create=True)  # a recorder writing it now
    try:
        assert main(["erase", str(clips), "--room", "bed 12", "--yes"]) == 1  # not all of it erased
        said = capsys.readouterr().out
        assert f"{running}: being recorded now, not erased" in said and running.is_dir() and not kept.exists()
        assert main(["erase", str(clips), "--room", "bed 12", "--yes"]) == 1  # only it: said once
        assert "nothing recorded" not in capsys.readouterr().out
    finally:
        held.close()
    assert main(["erase", str(clips), "--room", "bed 7"]) == 1  # a room's name mistyped: nothing found
    assert f"{clips}: nothing recorded of room 'bed 7' here" in capsys.readouterr().out


def test_a_clip_by_name_is_one_folder_s_and_its_files_go_depth_included(tmp_path, capsys):
    """Each folder numbers its own clips: --clip S001C001P001R001A121 over two rooms' folders listed both
    for erasure. A clip's depth goes with it, and so do the files an interrupted finishing put beside its
    partial folder."""
    bed12 = _record(tmp_path / "bed12", "bed 12", "2026-12-03T09:00:00+01:00")
    bed11 = _record(tmp_path / "bed11", "bed 11", "2026-12-03T09:00:00+01:00")
    name = bed12.name[: -len(".skeleton")]
    assert bed11.name == bed12.name
    assert main(["erase", str(tmp_path), "--clip", name, "--yes"]) == 2
    assert f"--clip {name}: clips of that name in 2 folders" in capsys.readouterr().err
    assert bed12.is_file() and bed11.is_file()
    depth = bed12.with_name(f"{name}_depth.bin")
    depth.write_bytes(b"\0" * 1000)
    assert main(["erase", str(tmp_path / "bed12"), "--clip", name, "--yes"]) == 0
    assert not bed12.exists() and not depth.exists() and bed11.is_file()
    # Killed while finishing: its partial folder, and its skeleton and video already beside it.
    partial = tmp_path / "bed11" / f"S002C001P001R001A121{PARTIAL_SUFFIX}"
    partial.mkdir()
    header = {"room": "bed 11", "started_at": "2026-12-03T10:00:00+01:00"}
    (partial / "frames.jsonl").write_text(json.dumps(header))
    for suffix in (".skeleton", "_rgb.avi"):
        partial.with_name(f"S002C001P001R001A121{suffix}").write_bytes(b"what the finishing moved")
    capsys.readouterr()
    assert main(["erase", str(tmp_path / "bed11"), "--room", "bed 11", "--day", "2026-12-03", "--yes"]) == 0
    assert sorted(p.name for p in (tmp_path / "bed11").iterdir()) == ["labels.txt", "labels.txt.lock"]
    unreadable = tmp_path / "bed11" / f"S003C001P001R001A121{PARTIAL_SUFFIX}"  # its header cut short
    unreadable.mkdir()
    (unreadable / "frames.jsonl").write_bytes(b'{"room": "bed')
    assert main(["erase", str(tmp_path / "bed11"), "--clip", "S003C001P001R001A121", "--yes"]) == 0
    assert not unreadable.exists()


def test_what_cannot_be_told_or_removed_is_said_not_passed_over(tmp_path, capsys, monkeypatch):
    clips = tmp_path / "clips"
    skeleton = _record(clips, "bed 12", "2026-12-03T09:00:00+01:00")
    sidecar = skeleton.with_suffix(".json")
    raw = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**raw, "started_at": None}))  # which day it was cannot be told
    assert main(["erase", str(clips), "--room", "bed 12", "--day", "2026-12-03", "--yes"]) == 2
    assert 'whose "started_at" (None) says no time' in capsys.readouterr().err
    sidecar.write_text("{ damaged")
    assert main(["erase", str(clips), "--room", "bed 12"]) == 2
    assert "not searched: a clip of the room could be this one" in capsys.readouterr().err
    assert skeleton.is_file()
    sidecar.write_text(json.dumps(raw))
    video = skeleton.with_name(skeleton.name.replace(".skeleton", "_rgb.avi"))
    _refuse_to_remove(monkeypatch, video)
    assert main(["erase", str(clips), "--room", "bed 12", "--yes"]) == 1
    assert f"{video}: cannot be erased (Permission denied); 0 of 3 files and folders erased before it" in (
        capsys.readouterr().err)
    monkeypatch.undo()
    assert main(["erase", str(clips), "--room", "bed 12", "--yes"]) == 0  # found again, all of it
    for options in (["--day", "2026-12-03"], [], ["--room", "bed 12", "--clip", "x"]):
        assert main(["erase", str(clips), *options]) == 2
        assert "erase: --" in capsys.readouterr().err


def test_a_retention_rule_erases_every_room_s_recordings_older_than_its_days(tmp_path, capsys):
    """"Clips are kept 30 days": erase took one room and one day, so a daily job missed every day it did
    not run. What files deleted by hand by age left (a sidecar a relabelling made newer) was found by
    nothing. Training data (a conversion of PKU-MMD) is no room's recording: left, and said."""
    clips = tmp_path / "clips"
    now = _dt.datetime.now().astimezone()
    old = (now - _dt.timedelta(days=40)).isoformat(timespec="seconds")
    recent = (now - _dt.timedelta(days=3)).isoformat(timespec="seconds")
    old_bed12, old_bed11 = _record(clips, "bed 12", old), _record(clips, "bed 11", old)
    kept = [_record(clips, "bed 12", recent), _record(clips, "bed 11", recent)]
    converted = _record(clips, "bed 12", old)  # converted 40 days ago: no room's
    raw = json.loads(converted.with_suffix(".json").read_text())
    converted.with_suffix(".json").write_text(json.dumps({**{k: v for k, v in raw.items() if k != "room"},
                                                          "source": "pkummd:0005-M.txt"}))
    written = (now - _dt.timedelta(days=35)).timestamp()
    # Deleted by hand by age: the sidecar a relabelling rewrote since is left, room, time and label in it.
    relabelled = _record(clips, "bed 11", old)
    for path in clips.glob(f"{relabelled.stem}*"):
        if path.suffix != ".json":
            path.unlink()
    interrupted = clips / f"S009C001P001R001A121{PARTIAL_SUFFIX}"
    interrupted.mkdir()
    (interrupted / "frames.jsonl").write_text(json.dumps({"room": "bed 11", "started_at": old}) + "\n")
    os.utime(interrupted / "frames.jsonl", (written, written))
    capsys.readouterr()

    assert main(["erase", str(clips), "--older-than", "30"]) == 0
    said = capsys.readouterr().out
    assert "3 clip(s) and 1 interrupted recording(s) of any room ended before" in said, said
    left = f"{relabelled.with_suffix('')}: what is left of a clip, its skeleton gone: {relabelled.stem}.json"
    assert left in said
    assert (f"1 clip(s) left as they are: made, not recorded in a room (the simulator's, conversions: "
            f"training data), or saying no recording time ({converted.with_suffix('.json')})") in said
    assert all(path.exists() for path in (old_bed12, old_bed11, converted, interrupted))
    assert main(["erase", str(clips), "--older-than", "30", "--room", "bed 11"]) == 0  # one room's
    assert "2 clip(s) and 1 interrupted recording(s) of room 'bed 11' ended before" in capsys.readouterr().out
    assert main(["erase", str(clips), "--older-than", "30", "--yes"]) == 0
    assert "erased 3 clip(s) and 1 interrupted recording(s) of any room" in capsys.readouterr().out
    assert not any(path.exists() for path in (old_bed12, old_bed11, interrupted,
                                              relabelled.with_suffix(".json")))
    assert all(path.is_file() for path in [*kept, converted])
    # A room's name mistyped in the timer's command: said, not a quiet "nothing that old"; not a failure,
    # since a room an earlier run erased every clip of has none either.
    assert main(["erase", str(clips), "--older-than", "30", "--room", "bed 9"]) == 0
    assert "no recording of room 'bed 9' at all: all erased, or is its name right?" in capsys.readouterr().out
    # The next day's run finds nothing that old: done, not a failure for the timer to report.
    assert main(["erase", str(clips), "--older-than", "30", "--yes"]) == 0
    assert "nothing recorded of any room ended before" in capsys.readouterr().out
    for options in (["--older-than", "30", "--clip", "x"], ["--older-than", "30", "--day", "2026-12-03"],
                    ["--older-than", "36501"]):
        assert main(["erase", str(clips), *options]) == 2
    with pytest.raises(SystemExit, match="2"):
        main(["erase", str(clips), "--older-than", "0"])
    assert all(path.is_file() for path in kept)


def test_what_an_erasure_stopped_midway_left_is_found_again(tmp_path, capsys, monkeypatch):
    """The sidecar goes last so that what is left can be found again by it: it was not (clips were found
    by their skeletons, the first file gone)."""
    clips = tmp_path / "clips"
    skeleton = _record(clips, "bed 12", "2026-12-03T09:00:00+01:00")
    sidecar = skeleton.with_suffix(".json")
    _refuse_to_remove(monkeypatch, sidecar)
    assert main(["erase", str(clips), "--room", "bed 12", "--day", "2026-12-03", "--yes"]) == 1
    monkeypatch.undo()
    assert not skeleton.exists() and sidecar.is_file()
    capsys.readouterr()
    assert main(["erase", str(clips), "--room", "bed 12", "--day", "2026-12-03", "--yes"]) == 0
    assert "erased 1 clip(s) and 0 interrupted recording(s) of room 'bed 12' recorded on 2026-12-03: 1 " \
        in capsys.readouterr().out
    assert not sidecar.exists()


def test_a_room_on_utc_keeps_its_day_on_a_machine_elsewhere(tmp_path, capsys, berlin_time):
    """A room on UTC (London in winter) stamps +00:00, as earlier versions did for every room: taken for
    such a stamp, its 23:30 was the next day on a machine in Berlin. Its time zone, named, says it is the
    room's own."""
    clips = tmp_path / "clips"
    skeleton = _record(clips, "bed 1", "2026-12-03T23:30:00+00:00")
    sidecar = skeleton.with_suffix(".json")
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "time_zone": "GMT"}))
    capsys.readouterr()
    assert main(["erase", str(clips), "--room", "bed 1", "--day", "2026-12-03"]) == 0
    assert "1 clip(s) and 0 interrupted recording(s) of room 'bed 1' recorded on 2026-12-03" in (
        capsys.readouterr().out)
    assert main(["list", str(clips)]) == 0
    assert "2026-12-03 23:30  bed 1 " in capsys.readouterr().out


def test_what_an_erasure_takes_is_what_it_was_asked_for_and_no_more(tmp_path, capsys):
    """A name asks for that clip alone; a clip still going on 29 days ago is not yet 30 days old; a JSON
    file that is no clip's sidecar, or one a recording being finished keeps beside its partial folder, is
    no leftover of a clip."""
    clips = tmp_path / "clips"
    named, other = _record(clips, "bed 12", None), _record(clips, "bed 12", None)
    assert main(["erase", str(clips), "--clip", named.stem, "--yes"]) == 0
    assert not named.exists() and other.is_file()

    now = _dt.datetime.now().astimezone()
    long_one = _record(clips, "bed 12", (now - _dt.timedelta(days=31)).isoformat(timespec="seconds"),
                       duration_s=2 * 86400.0)  # begun 31 days ago, ended 29 days ago
    (clips / "settings.json").write_text(json.dumps({"epochs": 3}))
    finishing = clips / f"S008C001P001R001A121{PARTIAL_SUFFIX}"  # its finishing put the sidecar beside it
    finishing.mkdir()
    (finishing / "frames.jsonl").write_text(json.dumps({"room": "bed 12", "started_at": now.isoformat()}))
    finishing.with_suffix(".json").write_text(json.dumps(
        {"room": "bed 12", "started_at": "2020-01-01T00:00:00+00:00", "skeleton": "x", "timestamps": []}))
    capsys.readouterr()
    assert main(["erase", str(clips), "--older-than", "30"]) == 0
    said = capsys.readouterr().out
    assert "nothing recorded of any room ended before" in said and "what is left" not in said, said
    assert long_one.is_file()
    # An interrupted recording whose frames file was touched years later (a copy) lasted a part at most.
    copied = clips / f"S009C001P001R001A121{PARTIAL_SUFFIX}"
    copied.mkdir()
    started = (now - _dt.timedelta(days=40)).isoformat(timespec="seconds")
    (copied / "frames.jsonl").write_text(json.dumps({"room": "bed 12", "started_at": started}) + "\n")
    assert main(["erase", str(clips), "--older-than", "30"]) == 0
    assert "0 clip(s) and 1 interrupted recording(s) of any room" in capsys.readouterr().out
    assert main(["erase", str(clips), "--room", "bed 12", "--older-than", "30", "--day", "2026-12-03"]) == 2


def test_links_are_said_and_removed_as_links_never_followed(tmp_path, capsys):
    """A room's folder moved to another disk behind a link was never searched, and the erasure said it
    was done; a clip's video that is a link had its link removed and its video kept, "erased"; a partial
    folder that is a link stopped every daily run."""
    clips, elsewhere = tmp_path / "clips", tmp_path / "elsewhere"
    moved = _record(elsewhere / "bed12", "bed 12", "2026-12-03T09:00:00+01:00")
    clips.mkdir()
    (clips / "bed12").symlink_to(elsewhere / "bed12")
    linked_video = _record(clips, "bed 12", "2026-12-03T10:00:00+01:00")
    video = linked_video.with_name(linked_video.stem + "_rgb.avi")
    kept_video = elsewhere / "video.avi"
    video.rename(kept_video)
    video.symlink_to(kept_video)
    partial_target = elsewhere / "S009C001P001R001A121.partial"
    partial_target.mkdir()
    (partial_target / "frames.jsonl").write_text(json.dumps(
        {"room": "bed 12", "started_at": "2026-12-03T11:00:00+01:00", "time_zone": "CET"}) + "\n")
    (clips / partial_target.name).symlink_to(partial_target)
    (clips / "latest").symlink_to(clips)  # a link into the folder itself: searched there, not said
    capsys.readouterr()

    assert main(["erase", str(clips), "--room", "bed 12", "--day", "2026-12-03", "--yes"]) == 1  # not all
    said = capsys.readouterr().out
    assert f"{clips / 'bed12'}: a link to {elsewhere / 'bed12'}, not searched: erase there too" in said
    assert "latest" not in said and f"{video}: a link to {kept_video}, not searched" not in said
    assert f"{video}: a link to {kept_video}: erasing it removes the link, not what it points to" in said
    assert "erased 1 clip(s) and 1 interrupted recording(s)" in said
    assert not linked_video.exists() and not video.is_symlink() and not (clips / partial_target.name).exists()
    assert kept_video.is_file() and partial_target.is_dir() and moved.is_file()  # nothing followed
    # Each alone leaves the erasure incomplete, a retention run's too: a linked folder not searched, and a
    # linked file's target.
    assert main(["erase", str(clips), "--older-than", "1"]) == 1  # nothing found here; bed12 not searched
    (clips / "bed12").unlink()
    alone = _record(clips, "bed 12", "2026-12-03T12:00:00+01:00")
    alone_video = alone.with_name(alone.stem + "_rgb.avi")
    alone_video.rename(elsewhere / "video2.avi")
    alone_video.symlink_to(elsewhere / "video2.avi")
    assert main(["erase", str(clips), "--room", "bed 12", "--day", "2026-12-03", "--yes"]) == 1
    assert not alone.exists() and (elsewhere / "video2.avi").is_file()


def test_recordings_dated_while_the_clock_was_wrong_are_left_by_an_age_rule_and_said(
        tmp_path, capsys, monkeypatch, caplog):
    """A room PC booted with a flat clock battery records in the year 2000 until it synchronises: the
    next daily `erase --older-than 30 --yes` took those clips (a fall of that morning) as 26 years old,
    and a clip dated ahead was never erased and never said. Both are left and said; a retention run on a
    clock that reads before this software existed is refused (the timer fails: someone looks)."""
    import recordings.__main__ as cli
    import recordings.recorder as recorder

    clips = tmp_path / "clips"
    now = _dt.datetime.now().astimezone()
    old = _record(clips, "bed 12", (now - _dt.timedelta(days=40)).isoformat(timespec="seconds"))
    behind = _record(clips, "bed 12", "2000-01-01T08:15:00+01:00")
    ahead = _record(clips, "bed 12", (now + _dt.timedelta(days=700)).isoformat(timespec="seconds"))
    capsys.readouterr()
    assert main(["erase", str(clips), "--older-than", "30", "--yes"]) == 0
    said = capsys.readouterr().out
    assert "erased 1 clip(s)" in said and not old.exists()
    assert ("2 recording(s) left as they are: dated before 2026-01-01 or ahead of now, recorded while the "
            "computer's clock was wrong") in said, said
    assert behind.is_file() and ahead.is_file()
    # A clip with no time at all, and training data dated 2000: each said as what it is, not as dated wrong.
    for started, source in (("sometime Tuesday", None), ("2000-01-01T08:00:00+01:00", "pkummd:0005-M.txt")):
        other = _record(clips, "bed 12", started)
        if source is not None:
            raw = json.loads(other.with_suffix(".json").read_text())
            other.with_suffix(".json").write_text(json.dumps({**raw, "source": source}))
        assert main(["erase", str(clips), "--older-than", "30"]) == 0
        said = capsys.readouterr().out
        assert f"training data), or saying no recording time ({other.with_suffix('.json')})" in said
        assert "2 recording(s) left as they are: dated before" in said
        for path in (other, other.with_suffix(".json")):
            path.unlink()
    assert main(["erase", str(clips), "--room", "bed 12", "--day", "2000-01-01"]) == 0  # asked by its day
    assert "1 clip(s) and 0 interrupted recording(s) of room 'bed 12' recorded on 2000-01-01" in (
        capsys.readouterr().out)

    monkeypatch.setattr(cli, "NOTHING_MADE_BEFORE", time.time() + 86400)  # the clock reads before it
    assert main(["erase", str(clips), "--older-than", "30", "--yes"]) == 2
    assert "before this software existed: no recording's age can be told" in capsys.readouterr().err
    assert behind.is_file() and ahead.is_file()
    monkeypatch.setattr(recorder, "NOTHING_MADE_BEFORE", time.time() + 86400)
    with caplog.at_level("WARNING", logger="recordings.recorder"):
        _record(clips, "bed 12", None)
    assert "before this software existed: the clip is dated wrong" in caplog.text


def test_a_room_is_found_however_its_accents_were_typed_and_a_wrong_name_is_told_the_rooms_there(
        tmp_path, capsys):
    """A patient's erasure typed "Zimmer 12 – Süd" with "ü" as "u" and a combining mark (as macOS writes
    names): nothing was found of the room the clips named, and they stayed. A name that matches no room
    is told the rooms there are."""
    import unicodedata

    clips = tmp_path / "clips"
    room = "Zimmer 12 – Süd"
    skeleton = _record(clips, room, None)
    day = _dt.datetime.now().astimezone().date().isoformat()
    capsys.readouterr()
    decomposed = unicodedata.normalize("NFD", room)
    assert decomposed != room
    assert main(["erase", str(clips), "--room", decomposed, "--day", day]) == 0
    assert f"1 clip(s) and 0 interrupted recording(s) of room {decomposed!r}" in capsys.readouterr().out
    typed_apart = _record(clips, decomposed, None)  # and a room typed apart at recording, asked composed
    assert main(["erase", str(clips), "--room", room, "--day", day]) == 0
    assert f"2 clip(s) and 0 interrupted recording(s) of room {room!r}" in capsys.readouterr().out
    typed_apart.unlink()
    typed_apart.with_suffix(".json").unlink()
    assert main(["erase", str(clips), "--room", "Zimmer 12", "--day", day]) == 1
    said = capsys.readouterr().out
    assert f"no recording of room 'Zimmer 12' at all: all erased, or is its name right? Rooms recorded " \
           f"here: {room!r}" in said, said
    assert skeleton.is_file()
